// Package postgres is the PostgreSQL driver of the database secrets engine
// (plugin name postgresql-database-plugin). It creates users with the
// role's statements in one transaction, moves VALID UNTIL on renew,
// rotates passwords (optionally as client-side SCRAM-SHA-256 verifiers) and
// removes users with a verified revocation that falls back to a safe
// cleanup (see revoke.go).
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
)

const (
	// DefaultUsernameTemplate is Vault's default for PostgreSQL.
	DefaultUsernameTemplate = `{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}`
	// MaxUsernameLength is PostgreSQL's identifier limit (NAMEDATALEN-1).
	MaxUsernameLength = 63
	// ExpirationFormat is how {{expiration}} is rendered for VALID UNTIL.
	ExpirationFormat = "2006-01-02 15:04:05-0700"

	defaultChangePassword   = `ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}'`
	defaultChangeExpiration = `ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}'`

	userPlaceholder     = "coffer-username-placeholder"
	passwordPlaceholder = "coffer-password-placeholder"
	defaultConnTimeout  = 10 * time.Second
)

// Driver implements dbplugin.Driver for PostgreSQL.
type Driver struct {
	conn dbplugin.Pool[settings]
}

// settings are installed with the pool: the parsed configuration (for
// connections to the cluster's other databases) and whether passwords
// are sent as SCRAM-SHA-256 verifiers.
type settings struct {
	cfg   *pgx.ConnConfig
	scram bool
}

// New returns an uninitialised driver.
func New() *Driver { return &Driver{} }

// Type implements dbplugin.Driver.
func (d *Driver) Type() string { return "postgres" }

// Initialize implements dbplugin.Driver.
func (d *Driver) Initialize(ctx context.Context, req dbplugin.InitializeRequest) (dbplugin.InitializeResponse, error) {
	c := req.Config
	secrets := c.Secrets()
	if strings.TrimSpace(c.ConnectionURL) == "" {
		return dbplugin.InitializeResponse{}, errors.New("connection_url cannot be empty")
	}
	for _, v := range []string{c.Username, c.Password} {
		if strings.Contains(v, "{{username}}") || strings.Contains(v, "{{password}}") {
			return dbplugin.InitializeResponse{}, errors.New("username and/or password cannot contain the template variables")
		}
	}
	scram := false
	switch c.PasswordAuthentication {
	case "", dbplugin.PasswordAuthPassword:
	case dbplugin.PasswordAuthSCRAMSHA256:
		scram = true
	default:
		return dbplugin.InitializeResponse{}, fmt.Errorf("%q is not a valid password_authentication type; accepted values: %q, %q",
			c.PasswordAuthentication, dbplugin.PasswordAuthPassword, dbplugin.PasswordAuthSCRAMSHA256)
	}
	cfg, err := parseConfig(c)
	if err != nil {
		return dbplugin.InitializeResponse{}, fmt.Errorf("invalid connection_url: %w", dbplugin.Scrub(err, secrets...))
	}
	db := stdlib.OpenDB(*cfg)
	dbplugin.SizePool(db, c)
	if err := d.conn.Install(ctx, db, secrets, settings{cfg: cfg, scram: scram}, req.VerifyConnection); err != nil {
		return dbplugin.InitializeResponse{}, err
	}
	return dbplugin.InitializeResponse{DefaultUsernameTemplate: DefaultUsernameTemplate, MaxUsernameLength: MaxUsernameLength}, nil
}

// parseConfig turns the connection URL (URL or key/value form) into a pgx
// configuration. The credentials are set on the parsed configuration rather
// than written into the text, so they never reach a parser error message.
func parseConfig(c dbplugin.ConnectionConfig) (*pgx.ConnConfig, error) {
	raw := strings.NewReplacer("{{username}}", userPlaceholder, "{{password}}", passwordPlaceholder).Replace(c.ConnectionURL)
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	if cfg.User == userPlaceholder {
		cfg.User = c.Username
	}
	if cfg.Password == passwordPlaceholder {
		cfg.Password = c.Password
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnTimeout
	}
	return cfg, nil
}

// pool returns the connection pool and the secrets to scrub.
func (d *Driver) pool() (*sql.DB, []string, error) {
	db, secrets, _, err := d.conn.Get()
	return db, secrets, err
}

// Close implements dbplugin.Driver.
func (d *Driver) Close() error { return d.conn.Close() }

// NewUser implements dbplugin.Driver.
func (d *Driver) NewUser(ctx context.Context, req dbplugin.NewUserRequest) (dbplugin.NewUserResponse, error) {
	queries := dbplugin.ParseStatements(req.Statements, dbplugin.Postgres)
	if len(queries) == 0 {
		return dbplugin.NewUserResponse{}, &dbplugin.StatementError{Err: dbplugin.ErrEmptyStatements}
	}
	db, secrets, set, err := d.conn.Get()
	if err != nil {
		return dbplugin.NewUserResponse{}, err
	}
	pw, err := set.passwordValue(req.Password)
	if err != nil {
		return dbplugin.NewUserResponse{}, err
	}
	secrets = append(secrets, req.Password, pw)
	vals := map[string]string{
		"name":       req.Username,
		"username":   req.Username,
		"password":   quoteLiteralBody(pw),
		"expiration": req.Expiration.Format(ExpirationFormat),
	}
	if err := runTx(ctx, db, queries, vals, req.BeforeCommit); err != nil {
		return dbplugin.NewUserResponse{}, classify(err, secrets)
	}
	return dbplugin.NewUserResponse{}, nil
}

// UpdateUser implements dbplugin.Driver.
func (d *Driver) UpdateUser(ctx context.Context, req dbplugin.UpdateUserRequest) (dbplugin.UpdateUserResponse, error) {
	if req.Username == "" {
		return dbplugin.UpdateUserResponse{}, errors.New("missing username")
	}
	if req.Password == nil && req.Expiration == nil {
		return dbplugin.UpdateUserResponse{}, errors.New("no changes requested")
	}
	db, secrets, set, err := d.conn.Get()
	if err != nil {
		return dbplugin.UpdateUserResponse{}, err
	}
	var queries []string
	vals := map[string]string{"name": req.Username, "username": req.Username}
	if p := req.Password; p != nil {
		if p.NewPassword == "" {
			return dbplugin.UpdateUserResponse{}, errors.New("missing password")
		}
		pw, err := set.passwordValue(p.NewPassword)
		if err != nil {
			return dbplugin.UpdateUserResponse{}, err
		}
		secrets = append(secrets, p.NewPassword, pw)
		vals["password"] = quoteLiteralBody(pw)
		queries = append(queries, orDefault(p.Statements, defaultChangePassword)...)
	}
	if e := req.Expiration; e != nil {
		vals["expiration"] = e.NewExpiration.Format(ExpirationFormat)
		queries = append(queries, orDefault(e.Statements, defaultChangeExpiration)...)
	}
	if err := runTx(ctx, db, queries, vals, nil); err != nil {
		return dbplugin.UpdateUserResponse{}, classify(err, secrets)
	}
	return dbplugin.UpdateUserResponse{}, nil
}

// passwordValue is what {{password}} becomes: the password itself, or its
// SCRAM-SHA-256 verifier, as the pool's settings say.
func (set settings) passwordValue(pw string) (string, error) {
	if !set.scram {
		return pw, nil
	}
	v, err := SCRAMVerifier(pw, nil)
	if err != nil {
		return "", fmt.Errorf("unable to compute the scram-sha-256 verifier: %w", err)
	}
	return v, nil
}

func orDefault(stmts []string, def string) []string {
	q := dbplugin.ParseStatements(stmts, dbplugin.Postgres)
	if len(q) == 0 {
		return []string{def}
	}
	return q
}

// quoteLiteralBody escapes a value placed inside '…'.
func quoteLiteralBody(s string) string { return strings.ReplaceAll(s, "'", "''") }

// runTx renders and runs queries in one transaction, retrying it when
// PostgreSQL reports a concurrent catalog update: concurrent GRANTs or
// REVOKEs on one object fail with "tuple concurrently updated" instead of
// waiting, which is common when many users are created at once.
func runTx(ctx context.Context, db *sql.DB, queries []string, vals map[string]string, beforeCommit func(context.Context) error) error {
	// After a conflict, retries queue on an advisory lock so that they
	// stop colliding with each other.
	locked := false
	return retry(ctx, func() error {
		err := runTxOnce(ctx, db, queries, vals, locked, beforeCommit)
		locked = true
		return err
	})
}

// exec runs one statement outside a transaction, with the same retries.
func exec(ctx context.Context, db *sql.DB, q string) error {
	return retry(ctx, func() error {
		_, err := db.ExecContext(ctx, q)
		return err
	})
}

const (
	maxAttempts  = 30
	firstBackoff = time.Millisecond
	maxBackoff   = 50 * time.Millisecond
)

func retry(ctx context.Context, fn func() error) error {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= maxAttempts || !retryable(err) {
			return err
		}
		// Full jitter keeps colliding writers apart.
		t := time.NewTimer(time.Duration(rand.Int64N(int64(backoff)) + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryable reports conflicts that succeed when simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01": // serialization failure, deadlock
		return true
	case "XX000":
		return strings.Contains(pe.Message, "tuple concurrently")
	}
	return false
}

func runTxOnce(ctx context.Context, db *sql.DB, queries []string, vals map[string]string, lock bool, beforeCommit func(context.Context) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if lock {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7301946250183716)"); err != nil {
			return err
		}
	}
	for i, q := range queries {
		if _, err := tx.ExecContext(ctx, dbplugin.Render(q, vals)); err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	if beforeCommit != nil {
		// Its errors are not PostgreSQL's, so retry does not repeat them.
		if err := beforeCommit(ctx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// classify scrubs err and tells a rejected statement from a connection
// problem.
func classify(err error, secrets []string) error {
	err = dbplugin.Scrub(err, secrets...)
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return &dbplugin.ConnectionError{Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch code := pe.Code + "  "; code[:2] {
		case "08", "28", "53", "57", "58":
			return &dbplugin.ConnectionError{Err: err}
		}
		return &dbplugin.StatementError{Err: err}
	}
	return &dbplugin.ConnectionError{Err: err}
}

// Interface guard.
var _ dbplugin.Driver = (*Driver)(nil)
