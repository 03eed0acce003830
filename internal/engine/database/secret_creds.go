package database

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// secretCredsType is the lease type of dynamic users.
const secretCredsType = "creds"

func (b *Backend) secretCreds() *framework.Secret {
	return &framework.Secret{
		Type: secretCredsType,
		Fields: framework.Fields{
			"username": {Type: framework.TypeString, Description: "Database username."},
			"password": {Type: framework.TypeString, Description: "Database password."},
		},
		Renew:  b.renewCreds,
		Revoke: b.revokeCreds,
	}
}

// renewCreds extends a lease within the role's max TTL and moves the
// user's expiry on the database (PostgreSQL VALID UNTIL).
func (b *Backend) renewCreds(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	in := req.Secret.InternalData
	username, _ := in["username"].(string)
	roleName, _ := in["role"].(string)
	if username == "" || roleName == "" {
		return nil, errors.New(`secret is missing the "username" or "role" internal data`)
	}
	role, err := loadRole(ctx, req.Storage, roleName)
	if err != nil {
		return nil, err
	}
	if role == nil {
		return nil, fmt.Errorf("error during renew: could not find role with name %q", roleName)
	}
	dbName, _ := in["db_name"].(string)
	if dbName == "" {
		dbName = role.DBName
	}
	now := b.now()
	ttl, warnings, err := framework.CalculateTTL(b.system.DefaultLeaseTTL(), b.system.MaxLeaseTTL(), req.Secret.Increment,
		role.defaultTTL(), role.maxTTL(), req.Secret.IssueTime, now)
	if err != nil {
		return nil, err
	}
	if ttl > 0 {
		conn, err := b.getConn(ctx, req.Storage, dbName)
		if err != nil {
			return nil, err
		}
		conn.mu.RLock()
		_, err = conn.driver.UpdateUser(ctx, dbplugin.UpdateUserRequest{
			Username: username,
			Expiration: &dbplugin.ChangeExpiration{
				NewExpiration: now.Add(ttl + expirationBuffer), Statements: role.RenewStatements,
			},
		})
		conn.mu.RUnlock()
		if err != nil {
			return nil, fmt.Errorf("renew user %q on database %q: %w", username, dbName, conn.scrub(err))
		}
	}
	s := *req.Secret
	s.TTL = ttl
	s.MaxTTL = role.maxTTL()
	return &logical.Response{Secret: &s, Warnings: warnings}, nil
}

// revokeCreds removes a dynamic user. It uses the role's current
// statements, or those stored with the lease when the role is gone.
func (b *Backend) revokeCreds(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	in := req.Secret.InternalData
	username, _ := in["username"].(string)
	roleName, _ := in["role"].(string)
	if username == "" {
		return nil, errors.New(`secret is missing the "username" internal data`)
	}
	dbName, _ := in["db_name"].(string)
	stmts := toStrings(in["revocation_statements"])
	terminate := true
	if v, ok := in["terminate_sessions"].(bool); ok {
		terminate = v
	}
	role, err := loadRole(ctx, req.Storage, roleName)
	if err != nil {
		return nil, err
	}
	if role != nil {
		if dbName == "" {
			dbName = role.DBName
		}
		stmts, terminate = role.RevocationStatements, role.TerminateSessions
	}
	if dbName == "" {
		return nil, fmt.Errorf("error during revoke: could not find role with name %q or embedded db_name", roleName)
	}
	fallback, err := b.removeUser(ctx, req.Storage, dbName, roleName, username, stmts, terminate)
	if err != nil {
		return nil, err
	}
	b.stats.credsRevoked.Add(1)
	if fallback {
		// Tell the server the fallback cleanup ran (metrics and the report).
		return &logical.Response{Data: map[string]interface{}{"fallback_cleanup": true}}, nil
	}
	return nil, nil
}

// removeUser deletes a user through its driver, verified, and accounts
// for the outcome: a fallback is logged, counted and reported; an error
// (the user survived or the database is unreachable) is returned so the
// caller retries.
func (b *Backend) removeUser(ctx context.Context, s logical.Storage, dbName, role, username string, stmts []string, terminate bool) (bool, error) {
	conn, err := b.getConn(ctx, s, dbName)
	if err != nil {
		b.stats.failures.Add(1)
		return false, fmt.Errorf("revoke user %q: %w", username, err)
	}
	conn.mu.RLock()
	resp, err := conn.driver.DeleteUser(ctx, dbplugin.DeleteUserRequest{Username: username, Statements: stmts, TerminateSessions: terminate})
	conn.mu.RUnlock()
	b.stats.sessions.Add(uint64(resp.SessionsTerminated))
	if resp.Fallback {
		b.stats.fallbacks.Add(1)
		b.logger.Warn("revocation statements did not remove the user; the fallback cleanup did",
			"db", dbName, "role", role, "username", username, "reason", resp.Reason, "ok", err == nil)
	}
	if err != nil {
		b.stats.failures.Add(1)
		err = conn.scrub(err)
		b.logger.Error("database user revocation failed; it will be retried", "db", dbName, "role", role, "username", username, "error", err)
		return resp.Fallback, fmt.Errorf("revoke user %q on database %q: %w", username, dbName, err)
	}
	return resp.Fallback, nil
}

// toStrings reads a []string stored in lease internal data, which comes
// back from JSON as []interface{}.
func toStrings(v interface{}) []string {
	switch s := v.(type) {
	case []string:
		return s
	case []interface{}:
		out := make([]string, 0, len(s))
		for _, e := range s {
			if str, ok := e.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}
