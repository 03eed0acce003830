package database

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const configPrefix = "config/"

// dbConfig is a stored connection configuration, shaped as Vault stores
// it: connection settings live in ConnectionDetails exactly as given.
type dbConfig struct {
	PluginName             string                 `json:"plugin_name"`
	PluginVersion          string                 `json:"plugin_version"`
	ConnectionDetails      map[string]interface{} `json:"connection_details"`
	AllowedRoles           []string               `json:"allowed_roles"`
	RootRotationStatements []string               `json:"root_credentials_rotate_statements"`
	PasswordPolicy         string                 `json:"password_policy"`
	VerifyConnection       bool                   `json:"verify_connection"`
}

// connectionFields are the settings stored in connection_details.
var connectionFields = framework.Fields{
	"connection_url": {Type: framework.TypeString, Sensitive: true,
		Description: `Connection string; {{username}} and {{password}} are replaced by the username and password fields.`},
	"username": {Type: framework.TypeString, Description: "Admin user used to manage users."},
	"password": {Type: framework.TypeString, Sensitive: true, Description: "Admin password; never returned."},
	"max_open_connections": {Type: framework.TypeInt, Default: 4,
		Description: "Maximum number of open connections to the database."},
	"max_idle_connections": {Type: framework.TypeInt,
		Description: "Maximum number of idle connections (0: same as max_open_connections)."},
	"max_connection_lifetime": {Type: framework.TypeString,
		Description: `Maximum time a connection may be reused, e.g. "30s" (0: unlimited).`},
	"password_authentication": {Type: framework.TypeString, Default: "password",
		AllowedValues: []interface{}{dbplugin.PasswordAuthPassword, dbplugin.PasswordAuthSCRAMSHA256},
		Description:   `PostgreSQL: "password" sends passwords as is; "scram-sha-256" sends a SCRAM-SHA-256 verifier computed by Coffer.`},
	"username_template": {Type: framework.TypeString, Description: "Template for generated usernames."},
	"disable_escaping":  {Type: framework.TypeBool, Description: "Do not URL-escape the username and password in connection_url."},
}

func (b *Backend) configPaths() []*framework.Path {
	fields := framework.Fields{
		"name":           {Type: framework.TypeString, Description: "Name of this database connection."},
		"plugin_name":    {Type: framework.TypeString, Description: "Database plugin: " + strings.Join(pluginNames, ", ") + "."},
		"plugin_version": {Type: framework.TypeString, Description: "Accepted for compatibility; builtin plugins have no version."},
		"verify_connection": {Type: framework.TypeBool, Default: true,
			Description: "Connect to the database to verify the configuration before storing it."},
		"allowed_roles": {Type: framework.TypeCommaStringSlice,
			Description: `Roles allowed to use this connection; "*" allows all. Empty allows none.`},
		"root_rotation_statements": {Type: framework.TypeStringSlice,
			Description: "Statements that rotate the admin password ({{username}}, {{password}})."},
		"password_policy": {Type: framework.TypeString, Description: "Password policy used to generate passwords."},
	}
	for k, v := range connectionFields {
		fields[k] = v
	}
	return []*framework.Path{{
		Pattern:  "config/?",
		Ops:      framework.Ops{logical.ListOperation: b.listConfigs},
		Synopsis: "List the configured database connections.",
	}, {
		Pattern: "config/" + framework.GenericNameRegex("name"),
		Fields:  fields,
		Ops: framework.Ops{
			logical.CreateOperation: b.writeConfig,
			logical.UpdateOperation: b.writeConfig,
			logical.ReadOperation:   b.readConfig,
			logical.DeleteOperation: b.deleteConfig,
		},
		Exists:   b.configExists,
		Synopsis: "Configure the connection to a database.",
	}, {
		Pattern:  "reset/" + framework.GenericNameRegex("name"),
		Fields:   framework.Fields{"name": {Type: framework.TypeString, Description: "Name of the connection."}},
		Ops:      framework.Ops{logical.UpdateOperation: b.resetConn},
		Synopsis: "Close the connection pool of a database and open a new one.",
	}}
}

func loadConfig(ctx context.Context, s logical.Storage, name string) (*dbConfig, error) {
	var cfg dbConfig
	ok, err := logical.GetJSON(ctx, s, configPrefix+name, &cfg)
	if err != nil || !ok {
		return nil, err
	}
	if cfg.ConnectionDetails == nil {
		cfg.ConnectionDetails = map[string]interface{}{}
	}
	return &cfg, nil
}

func (b *Backend) configExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	cfg, err := loadConfig(ctx, req.Storage, d.String("name"))
	return cfg != nil, err
}

func (b *Backend) listConfigs(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, configPrefix)
	if err != nil {
		return nil, err
	}
	return framework.ListResponse(keys), nil
}

func (b *Backend) writeConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	cfg, err := loadConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &dbConfig{ConnectionDetails: map[string]interface{}{}, AllowedRoles: []string{}, RootRotationStatements: []string{}}
	}
	if v, ok := d.GetOk("plugin_name"); ok {
		cfg.PluginName = v.(string)
	}
	if _, ok := newDriver(cfg.PluginName); !ok {
		return nil, unknownPlugin(cfg.PluginName)
	}
	if v, ok := d.GetOk("allowed_roles"); ok {
		cfg.AllowedRoles = v.([]string)
	}
	if v, ok := d.GetOk("root_rotation_statements"); ok {
		cfg.RootRotationStatements = v.([]string)
	}
	if v, ok := d.GetOk("password_policy"); ok {
		cfg.PasswordPolicy = v.(string)
	}
	cfg.VerifyConnection = d.Bool("verify_connection")
	for k := range connectionFields {
		if v, ok := d.GetOk(k); ok {
			cfg.ConnectionDetails[k] = v
		}
	}
	cc, err := cfg.connectionConfig()
	if err != nil {
		return nil, logical.InvalidRequest("%v", err)
	}
	if strings.TrimSpace(cc.ConnectionURL) == "" {
		return nil, logical.InvalidRequest("connection_url cannot be empty")
	}
	conn, err := openConn(ctx, name, cfg, cfg.VerifyConnection)
	if err != nil {
		return nil, logical.InvalidRequest("error creating database object: %v", dbplugin.Scrub(err, cc.Secrets()...))
	}
	if err := logical.PutJSON(ctx, req.Storage, configPrefix+name, cfg); err != nil {
		conn.close()
		return nil, err
	}
	b.putConn(name, conn)
	if u, err := url.Parse(cc.ConnectionURL); err == nil {
		if _, ok := u.User.Password(); ok {
			return &logical.Response{Warnings: []string{"Password found in connection_url, use a templated url to enable root rotation and prevent read access to password information."}}, nil
		}
	}
	return nil, nil
}

func (b *Backend) readConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	cfg, err := loadConfig(ctx, req.Storage, d.String("name"))
	if err != nil || cfg == nil {
		return nil, err
	}
	details := make(map[string]interface{}, len(cfg.ConnectionDetails))
	for k, v := range cfg.ConnectionDetails {
		if k == "password" {
			continue
		}
		details[k] = v
	}
	if s, ok := details["connection_url"].(string); ok {
		if u, err := url.Parse(s); err == nil {
			details["connection_url"] = u.Redacted()
		}
	}
	return &logical.Response{Data: map[string]interface{}{
		"plugin_name":                        cfg.PluginName,
		"plugin_version":                     cfg.PluginVersion,
		"connection_details":                 details,
		"allowed_roles":                      nonNil(cfg.AllowedRoles),
		"root_credentials_rotate_statements": nonNil(cfg.RootRotationStatements),
		"password_policy":                    cfg.PasswordPolicy,
		"verify_connection":                  cfg.VerifyConnection,
		"skip_static_role_import_rotation":   false,
	}}, nil
}

func (b *Backend) deleteConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	if err := req.Storage.Delete(ctx, configPrefix+name); err != nil {
		return nil, err
	}
	b.putConn(name, nil)
	return nil, nil
}

func (b *Backend) resetConn(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	cfg, err := loadConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, logical.InvalidRequest("database configuration %q does not exist", name)
	}
	b.putConn(name, nil)
	conn, err := openConn(ctx, name, cfg, true)
	if err != nil {
		cc, _ := cfg.connectionConfig()
		return nil, fmt.Errorf("reset %q: %w", name, dbplugin.Scrub(err, cc.Secrets()...))
	}
	b.putConn(name, conn)
	return nil, nil
}

// connectionConfig decodes ConnectionDetails for a driver.
func (c *dbConfig) connectionConfig() (dbplugin.ConnectionConfig, error) {
	cc := dbplugin.ConnectionConfig{
		ConnectionURL:          c.detailString("connection_url"),
		Username:               c.detailString("username"),
		Password:               c.detailString("password"),
		PasswordAuthentication: c.detailString("password_authentication"),
	}
	var err error
	if cc.MaxOpenConnections, err = c.detailInt("max_open_connections", 4); err != nil {
		return cc, err
	}
	if cc.MaxIdleConnections, err = c.detailInt("max_idle_connections", 0); err != nil {
		return cc, err
	}
	if s := c.detailString("max_connection_lifetime"); s != "" {
		if cc.MaxConnectionLifetime, err = framework.ParseDurationSecond(s); err != nil {
			return cc, fmt.Errorf("invalid max_connection_lifetime: %w", err)
		}
	}
	if v, ok := c.ConnectionDetails["disable_escaping"].(bool); ok {
		cc.DisableEscaping = v
	}
	if cc.MaxOpenConnections < 0 || cc.MaxIdleConnections < 0 {
		return cc, errors.New("max_open_connections and max_idle_connections cannot be negative")
	}
	return cc, nil
}

func (c *dbConfig) detailString(k string) string {
	switch v := c.ConnectionDetails[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func (c *dbConfig) detailInt(k string, def int) (int, error) {
	switch v := c.ConnectionDetails[k].(type) {
	case nil:
		return def, nil
	case int:
		return v, nil
	case float64:
		return int(v), nil
	case json.Number:
		n, err := v.Int64()
		return int(n), err
	case string:
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%s must be an integer", k)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s must be an integer", k)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
