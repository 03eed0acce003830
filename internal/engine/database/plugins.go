package database

import (
	"strings"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/engine/database/mysql"
	"github.com/coffer-dev/coffer/internal/engine/database/postgres"
	"github.com/coffer-dev/coffer/internal/logical"
)

// pluginNames are the accepted plugin_name values, in the order listed in
// error messages.
var pluginNames = []string{
	"postgresql-database-plugin",
	"mysql-database-plugin",
	"mysql-aurora-database-plugin",
	"mysql-rds-database-plugin",
	"mysql-legacy-database-plugin",
}

// newDriver returns a fresh driver for a plugin name.
func newDriver(plugin string) (dbplugin.Driver, bool) {
	switch plugin {
	case "postgresql-database-plugin":
		return postgres.New(), true
	case "mysql-database-plugin":
		return mysql.New(false), true
	case "mysql-aurora-database-plugin", "mysql-rds-database-plugin", "mysql-legacy-database-plugin":
		// Vault gives these flavours the legacy 16-character usernames.
		return mysql.New(true), true
	}
	return nil, false
}

func unknownPlugin(name string) error {
	if name == "" {
		return logical.InvalidRequest("plugin_name is required; accepted values: %s", strings.Join(pluginNames, ", "))
	}
	return logical.InvalidRequest("unsupported plugin_name %q; accepted values: %s", name, strings.Join(pluginNames, ", "))
}
