// Package dbplugin is the contract between the database secrets engine and
// its drivers: a six-method Driver interface in the shape of Vault's
// dbplugin v5, the request and response types it exchanges, and helpers
// every SQL driver shares (statement splitting and rendering, error
// scrubbing). It imports only the standard library, so drivers and the
// engine can both depend on it without depending on each other.
package dbplugin

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Driver manages users on one database server. One Driver value serves one
// connection configuration; the engine creates it, calls Initialize once,
// and Close when the configuration changes or the mount goes away. All
// methods are safe for concurrent use.
type Driver interface {
	// Initialize validates the configuration and prepares a connection
	// pool; with VerifyConnection it also connects and pings.
	Initialize(ctx context.Context, req InitializeRequest) (InitializeResponse, error)
	// NewUser runs the creation statements for a user whose name and
	// password the engine chose.
	NewUser(ctx context.Context, req NewUserRequest) (NewUserResponse, error)
	// UpdateUser changes a user's password and/or expiration.
	UpdateUser(ctx context.Context, req UpdateUserRequest) (UpdateUserResponse, error)
	// DeleteUser removes a user and verifies it is gone. When the
	// statements fail or leave the user behind it runs a safe fallback
	// cleanup and says so in the response. It returns an error only when
	// the user still exists afterwards or the server cannot be reached.
	DeleteUser(ctx context.Context, req DeleteUserRequest) (DeleteUserResponse, error)
	// Type names the driver ("postgres", "mysql").
	Type() string
	// Close releases the connection pool.
	Close() error
}

// Password authentication modes (PostgreSQL).
const (
	PasswordAuthPassword    = "password"
	PasswordAuthSCRAMSHA256 = "scram-sha-256"
)

// ConnectionConfig is a connection's settings as configured on the engine.
type ConnectionConfig struct {
	// ConnectionURL may contain {{username}} and {{password}}, which are
	// replaced by Username and Password.
	ConnectionURL         string
	Username              string
	Password              string
	MaxOpenConnections    int
	MaxIdleConnections    int
	MaxConnectionLifetime time.Duration
	// PasswordAuthentication is PasswordAuthPassword (send the password as
	// is) or PasswordAuthSCRAMSHA256 (send a SCRAM-SHA-256 verifier
	// computed here, so the server never sees the plaintext).
	PasswordAuthentication string
	// DisableEscaping inserts Username and Password into the URL without
	// URL escaping.
	DisableEscaping bool
}

// Secrets returns the values that must never appear in an error or log.
func (c ConnectionConfig) Secrets() []string {
	if c.Password == "" {
		return nil
	}
	return []string{c.Password}
}

// InitializeRequest configures a driver.
type InitializeRequest struct {
	Config           ConnectionConfig
	VerifyConnection bool
}

// InitializeResponse tells the engine how to name users for this server.
type InitializeResponse struct {
	// DefaultUsernameTemplate is used when the configuration has none.
	DefaultUsernameTemplate string
	// MaxUsernameLength is the server's limit; longer names are truncated.
	MaxUsernameLength int
}

// NewUserRequest asks for one user to be created.
type NewUserRequest struct {
	Username   string
	Password   string
	Expiration time.Time
	// Statements are the role's creation statements, before splitting
	// and rendering.
	Statements []string
	// BeforeCommit, when set, must return nil before anything the driver
	// does can outlive a crash of the server: before COMMIT where the
	// statements run in a transaction (PostgreSQL), before the first
	// statement where they commit on their own (MySQL DDL). An error
	// aborts the creation. The engine uses it to make its write-ahead
	// record durable while the statements are already running.
	BeforeCommit func(ctx context.Context) error
}

// NewUserResponse is empty; the engine already knows the credentials.
type NewUserResponse struct{}

// ChangePassword sets a new password with the given statements (the
// driver's default when empty).
type ChangePassword struct {
	NewPassword string
	Statements  []string
}

// ChangeExpiration moves a user's expiry with the given statements (the
// driver's default when empty).
type ChangeExpiration struct {
	NewExpiration time.Time
	Statements    []string
}

// UpdateUserRequest changes a user; at least one change must be set.
type UpdateUserRequest struct {
	Username   string
	Password   *ChangePassword
	Expiration *ChangeExpiration
}

// UpdateUserResponse is empty.
type UpdateUserResponse struct{}

// DeleteUserRequest asks for a user to be removed.
type DeleteUserRequest struct {
	Username string
	// Statements are the role's revocation (or rollback) statements; the
	// driver's default revocation runs when empty.
	Statements []string
	// TerminateSessions ends the user's live sessions as well.
	TerminateSessions bool
}

// DeleteUserResponse reports how a user was removed.
type DeleteUserResponse struct {
	// Fallback is true when the statements failed or left the user in
	// place and the driver's safe cleanup removed it.
	Fallback bool
	// Reason says why the fallback ran (scrubbed of secrets).
	Reason string
	// SessionsTerminated counts the live sessions that were ended.
	SessionsTerminated int
}

// ErrEmptyStatements is returned by NewUser without creation statements.
var ErrEmptyStatements = errors.New("empty creation statements")

// StatementError is a statement the database rejected: the input was at
// fault, not the connection. The engine reports it as a bad request.
type StatementError struct {
	Err error
}

func (e *StatementError) Error() string { return e.Err.Error() }
func (e *StatementError) Unwrap() error { return e.Err }

// ConnectionError is a failure to reach or log in to the database.
type ConnectionError struct {
	Err error
}

func (e *ConnectionError) Error() string { return e.Err.Error() }
func (e *ConnectionError) Unwrap() error { return e.Err }

// UserExistsError is returned by DeleteUser when the user survived both
// its statements and the fallback.
type UserExistsError struct {
	Username string
	Err      error
}

func (e *UserExistsError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("user %q still exists after revocation", e.Username)
	}
	return fmt.Sprintf("user %q still exists after revocation: %v", e.Username, e.Err)
}
func (e *UserExistsError) Unwrap() error { return e.Err }
