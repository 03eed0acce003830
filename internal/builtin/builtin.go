// Package builtin is the one explicit table of secrets engines and auth
// methods compiled into the server. Adding an engine is one line here.
package builtin

import (
	"github.com/coffer-dev/coffer/internal/auth/approle"
	"github.com/coffer-dev/coffer/internal/auth/userpass"
	"github.com/coffer-dev/coffer/internal/engine/aws"
	"github.com/coffer-dev/coffer/internal/engine/cubbyhole"
	"github.com/coffer-dev/coffer/internal/engine/database"
	"github.com/coffer-dev/coffer/internal/engine/kv"
	"github.com/coffer-dev/coffer/internal/engine/pki"
	"github.com/coffer-dev/coffer/internal/engine/transit"
	"github.com/coffer-dev/coffer/internal/logical"
)

// Engines returns the secrets engines by mount type.
func Engines() map[string]logical.Factory {
	return map[string]logical.Factory{
		"aws":       aws.Factory,
		"kv":        kv.Factory,
		"cubbyhole": cubbyhole.Factory,
		"database":  database.Factory,
		"pki":       pki.Factory,
		"transit":   transit.Factory,
	}
}

// AuthMethods returns the auth methods by mount type.
func AuthMethods() map[string]logical.Factory {
	return map[string]logical.Factory{
		"approle":  approle.Factory,
		"userpass": userpass.Factory,
	}
}
