// Package mysql is the MySQL and MariaDB driver of the database secrets
// engine (plugin names mysql-database-plugin and, with Vault's legacy
// 16-character usernames, mysql-aurora-, mysql-rds- and
// mysql-legacy-database-plugin). Revocation is verified in mysql.user and
// falls back to killing the user's connections and DROP USER IF EXISTS.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
)

const (
	// DefaultUsernameTemplate is Vault's default for MySQL.
	DefaultUsernameTemplate = `{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 10) (.RoleName | truncate 10) (random 20) (unix_time) | truncate 32 }}`
	// DefaultLegacyUsernameTemplate is Vault's default for the legacy,
	// Aurora and RDS flavours, whose servers allow 16 characters.
	DefaultLegacyUsernameTemplate = `{{ printf "v-%s-%s" (.RoleName | truncate 4) (random 20) | truncate 16 }}`

	defaultRevocation     = `REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'; DROP USER '{{name}}'@'%'`
	defaultChangePassword = `ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}'`

	userPlaceholder     = "coffer-username-placeholder"
	passwordPlaceholder = "coffer-password-placeholder"
	defaultConnTimeout  = 10 * time.Second
)

// Driver implements dbplugin.Driver for MySQL and MariaDB.
type Driver struct {
	legacy bool
	conn   dbplugin.Pool[struct{}]
}

// New returns an uninitialised driver; legacy selects 16-character
// usernames.
func New(legacy bool) *Driver { return &Driver{legacy: legacy} }

// Type implements dbplugin.Driver.
func (d *Driver) Type() string { return "mysql" }

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
	raw := strings.NewReplacer("{{username}}", userPlaceholder, "{{password}}", passwordPlaceholder).Replace(c.ConnectionURL)
	cfg, err := driver.ParseDSN(raw)
	if err != nil {
		return dbplugin.InitializeResponse{}, fmt.Errorf("invalid connection_url: %w", dbplugin.Scrub(err, secrets...))
	}
	if cfg.User == userPlaceholder {
		cfg.User = c.Username
	}
	if cfg.Passwd == passwordPlaceholder {
		cfg.Passwd = c.Password
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultConnTimeout
	}
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return dbplugin.InitializeResponse{}, fmt.Errorf("invalid connection_url: %w", dbplugin.Scrub(err, secrets...))
	}
	db := sql.OpenDB(conn)
	dbplugin.SizePool(db, c)
	if err := d.conn.Install(ctx, db, secrets, struct{}{}, req.VerifyConnection); err != nil {
		return dbplugin.InitializeResponse{}, err
	}
	if d.legacy {
		return dbplugin.InitializeResponse{DefaultUsernameTemplate: DefaultLegacyUsernameTemplate, MaxUsernameLength: 16}, nil
	}
	return dbplugin.InitializeResponse{DefaultUsernameTemplate: DefaultUsernameTemplate, MaxUsernameLength: 32}, nil
}

func (d *Driver) pool() (*sql.DB, []string, error) {
	db, secrets, _, err := d.conn.Get()
	return db, secrets, err
}

// Close implements dbplugin.Driver.
func (d *Driver) Close() error { return d.conn.Close() }

// NewUser implements dbplugin.Driver. MySQL commits CREATE USER
// implicitly, so a later failing statement leaves the user in place; the
// engine removes it with DeleteUser and the role's rollback statements.
func (d *Driver) NewUser(ctx context.Context, req dbplugin.NewUserRequest) (dbplugin.NewUserResponse, error) {
	queries := dbplugin.ParseStatements(req.Statements, dbplugin.MySQL)
	if len(queries) == 0 {
		return dbplugin.NewUserResponse{}, &dbplugin.StatementError{Err: dbplugin.ErrEmptyStatements}
	}
	db, secrets, err := d.pool()
	if err != nil {
		return dbplugin.NewUserResponse{}, err
	}
	vals := map[string]string{
		"name":       req.Username,
		"username":   req.Username,
		"password":   escapeString(req.Password),
		"expiration": req.Expiration.Format("2006-01-02 15:04:05-0700"),
	}
	// CREATE USER and GRANT commit implicitly: nothing may run before the
	// caller's record is durable.
	if req.BeforeCommit != nil {
		if err := req.BeforeCommit(ctx); err != nil {
			return dbplugin.NewUserResponse{}, err
		}
	}
	if err := runTx(ctx, db, queries, vals); err != nil {
		return dbplugin.NewUserResponse{}, classify(err, append(secrets, req.Password))
	}
	return dbplugin.NewUserResponse{}, nil
}

// UpdateUser implements dbplugin.Driver. Expiration changes run only the
// role's renew statements, if any (MySQL users have no expiry by default).
func (d *Driver) UpdateUser(ctx context.Context, req dbplugin.UpdateUserRequest) (dbplugin.UpdateUserResponse, error) {
	if req.Username == "" {
		return dbplugin.UpdateUserResponse{}, errors.New("missing username")
	}
	if req.Password == nil && req.Expiration == nil {
		return dbplugin.UpdateUserResponse{}, errors.New("no changes requested")
	}
	db, secrets, err := d.pool()
	if err != nil {
		return dbplugin.UpdateUserResponse{}, err
	}
	var queries []string
	vals := map[string]string{"name": req.Username, "username": req.Username}
	if p := req.Password; p != nil {
		if p.NewPassword == "" {
			return dbplugin.UpdateUserResponse{}, errors.New("missing password")
		}
		secrets = append(secrets, p.NewPassword)
		vals["password"] = escapeString(p.NewPassword)
		q := dbplugin.ParseStatements(p.Statements, dbplugin.MySQL)
		if len(q) == 0 {
			q = []string{defaultChangePassword}
		}
		queries = append(queries, q...)
	}
	if e := req.Expiration; e != nil {
		vals["expiration"] = e.NewExpiration.Format("2006-01-02 15:04:05-0700")
		queries = append(queries, dbplugin.ParseStatements(e.Statements, dbplugin.MySQL)...)
	}
	if len(queries) == 0 {
		return dbplugin.UpdateUserResponse{}, nil
	}
	if err := runTx(ctx, db, queries, vals); err != nil {
		return dbplugin.UpdateUserResponse{}, classify(err, secrets)
	}
	return dbplugin.UpdateUserResponse{}, nil
}

// escapeString escapes a value placed inside '…' (backslash escapes on).
func escapeString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s)
}

// quoteString renders a MySQL string literal.
func quoteString(s string) string { return "'" + escapeString(s) + "'" }

func runTx(ctx context.Context, db *sql.DB, queries []string, vals map[string]string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for i, q := range queries {
		if _, err := tx.ExecContext(ctx, dbplugin.Render(q, vals)); err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	return tx.Commit()
}

// connectionErrors are server error numbers that mean the session could
// not be established or was lost, not that a statement was wrong.
var connectionErrors = map[uint16]bool{1040: true, 1045: true, 1129: true, 1130: true, 1203: true, 1226: true, 1927: true}

func classify(err error, secrets []string) error {
	err = dbplugin.Scrub(err, secrets...)
	var me *driver.MySQLError
	if errors.As(err, &me) && !connectionErrors[me.Number] {
		return &dbplugin.StatementError{Err: err}
	}
	return &dbplugin.ConnectionError{Err: err}
}

// Interface guard.
var _ dbplugin.Driver = (*Driver)(nil)
