package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
)

// DeleteUser implements dbplugin.Driver. It runs the revocation statements
// (or Vault's default revocation), ends the user's sessions when asked,
// and verifies in pg_roles that the role is gone. When the statements
// failed or left the role behind (typically DROP ROLE refused because of
// owned objects or ALTER DEFAULT PRIVILEGES grants) it runs fallback and
// verifies again.
func (d *Driver) DeleteUser(ctx context.Context, req dbplugin.DeleteUserRequest) (dbplugin.DeleteUserResponse, error) {
	var resp dbplugin.DeleteUserResponse
	if req.Username == "" {
		return resp, errors.New("missing username")
	}
	db, secrets, err := d.pool()
	if err != nil {
		return resp, err
	}
	oid, exists, err := roleOID(ctx, db, req.Username)
	if err != nil {
		return resp, classify(err, secrets)
	}
	if !exists {
		return resp, nil
	}
	if req.TerminateSessions {
		// Before the statements, so no open transaction of the user holds
		// locks they need; again after, for logins in between.
		resp.SessionsTerminated += terminate(ctx, db, "usename = $1", req.Username)
	}
	var stmtErr error
	if len(req.Statements) == 0 {
		stmtErr = defaultRevoke(ctx, db, req.Username)
	} else {
		vals := map[string]string{"name": req.Username, "username": req.Username}
		stmtErr = runTx(ctx, db, dbplugin.ParseStatements(req.Statements, dbplugin.Postgres), vals, nil)
	}
	if req.TerminateSessions {
		// pg_stat_activity keeps the role's oid after DROP ROLE.
		resp.SessionsTerminated += terminate(ctx, db, "usesysid::bigint = $1", oid)
	}
	still, err := roleExists(ctx, db, req.Username)
	if err != nil {
		return resp, classify(err, secrets)
	}
	if !still {
		return resp, nil
	}
	resp.Fallback = true
	resp.Reason = "revocation statements left the role in place"
	if stmtErr != nil {
		resp.Reason = "revocation statements failed: " + classify(stmtErr, secrets).Error()
	}
	n, ferr := d.fallback(ctx, db, req.Username, oid)
	resp.SessionsTerminated += n
	still, err = roleExists(ctx, db, req.Username)
	if err != nil {
		return resp, classify(err, secrets)
	}
	if still {
		if ferr != nil {
			ferr = classify(ferr, secrets)
		}
		return resp, &dbplugin.UserExistsError{Username: req.Username, Err: ferr}
	}
	return resp, nil
}

func roleOID(ctx context.Context, db *sql.DB, name string) (int64, bool, error) {
	var oid int64
	err := db.QueryRowContext(ctx, "SELECT oid::bigint FROM pg_roles WHERE rolname = $1", name).Scan(&oid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return oid, err == nil, err
}

func roleExists(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var one int
	err := db.QueryRowContext(ctx, "SELECT 1 FROM pg_roles WHERE rolname = $1", name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// terminate ends the sessions matching where (one placeholder, $1) other
// than this one and reports how many it ended. Failures (for example a
// missing pg_signal_backend membership) only mean fewer sessions ended.
func terminate(ctx context.Context, db *sql.DB, where string, arg interface{}) int {
	var n int
	q := "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND " + where
	if err := db.QueryRowContext(ctx, q, arg).Scan(&n); err != nil {
		return 0
	}
	return n
}

// defaultRevoke is Vault's default revocation: revoke what the role was
// granted, then drop it. It does not stop at the first error, to remove as
// much access as possible.
func defaultRevoke(ctx context.Context, db *sql.DB, name string) error {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT n.nspname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
		WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)`, name)
	if err != nil {
		return err
	}
	var schemas []string
	for rows.Next() {
		var s string
		if rows.Scan(&s) == nil && s != "public" {
			schemas = append(schemas, s)
		}
	}
	rerr := rows.Err()
	_ = rows.Close()
	if rerr != nil {
		return rerr
	}
	u := dbplugin.QuoteIdentifier(name)
	var stmts []string
	for _, s := range append(schemas, "public") {
		q := dbplugin.QuoteIdentifier(s)
		stmts = append(stmts,
			fmt.Sprintf("REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA %s FROM %s", q, u),
			fmt.Sprintf("REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA %s FROM %s", q, u),
			fmt.Sprintf("REVOKE USAGE ON SCHEMA %s FROM %s", q, u))
	}
	var dbname string
	if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbname); err != nil {
		return err
	}
	stmts = append(stmts, fmt.Sprintf("REVOKE CONNECT ON DATABASE %s FROM %s", dbplugin.QuoteIdentifier(dbname), u))
	// Fast path: everything in one transaction (one commit).
	if err := runTx(ctx, db, append(stmts, "DROP ROLE IF EXISTS "+u), nil, nil); err == nil {
		return nil
	}
	// Otherwise one statement at a time, removing as much as possible.
	var last error
	for _, q := range stmts {
		if err := exec(ctx, db, q); err != nil {
			last = fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := exec(ctx, db, "DROP ROLE IF EXISTS "+u); err != nil {
		return err
	}
	return last
}

// fallback removes a role that its statements left behind: it ends the
// role's sessions, and in every database where the role owns objects or
// holds privileges (the configured one first) reassigns what it owns to
// the connecting admin, revokes its default privileges and drops what
// remains; then drops the role. It returns the sessions ended and the last
// error seen; the caller verifies the outcome.
func (d *Driver) fallback(ctx context.Context, db *sql.DB, name string, oid int64) (int, error) {
	n := terminate(ctx, db, "usesysid::bigint = $1", oid)
	var last error
	if err := cleanupOwned(ctx, db, name, oid); err != nil {
		last = err
	}
	others, err := otherDatabases(ctx, db, oid)
	if err != nil {
		last = err
	}
	for _, dbname := range others {
		if err := d.cleanupIn(ctx, dbname, name, oid); err != nil {
			last = fmt.Errorf("database %q: %w", dbname, err)
		}
	}
	if err := exec(ctx, db, "DROP ROLE IF EXISTS "+dbplugin.QuoteIdentifier(name)); err != nil {
		last = err
	}
	return n, last
}

// execQuerier is what cleanupOwned needs from *sql.DB or a pgx connection.
type execQuerier interface {
	exec(ctx context.Context, q string, args ...interface{}) error
	strings(ctx context.Context, q string, args ...interface{}) ([][3]string, error)
}

// cleanupOwned runs the per-database cleanup on the pool's database.
func cleanupOwned(ctx context.Context, db *sql.DB, name string, oid int64) error {
	return cleanup(ctx, sqlDB{db}, name, oid)
}

// cleanupIn runs the per-database cleanup in another database of the
// cluster over a short-lived connection with the same credentials.
func (d *Driver) cleanupIn(ctx context.Context, dbname, name string, oid int64) error {
	_, _, set, err := d.conn.Get()
	if err != nil {
		return err
	}
	cfg := set.cfg.Copy()
	cfg.Database = dbname
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	return cleanup(ctx, pgxConn{conn}, name, oid)
}

func cleanup(ctx context.Context, c execQuerier, name string, oid int64) error {
	u := dbplugin.QuoteIdentifier(name)
	var last error
	if err := c.exec(ctx, "REASSIGN OWNED BY "+u+" TO CURRENT_USER"); err != nil {
		last = err
	}
	// DROP OWNED also revokes default privileges, but do it explicitly
	// first so they go even if dropping some object fails.
	acls, err := c.strings(ctx, `SELECT pg_get_userbyid(d.defaclrole), COALESCE(n.nspname, ''), d.defaclobjtype::text
		FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
		WHERE a.grantee::bigint = $1`, oid)
	if err != nil {
		last = err
	}
	for _, a := range acls {
		kind, ok := map[string]string{"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}[a[2]]
		if !ok {
			continue
		}
		q := "ALTER DEFAULT PRIVILEGES FOR ROLE " + dbplugin.QuoteIdentifier(a[0])
		if a[1] != "" {
			q += " IN SCHEMA " + dbplugin.QuoteIdentifier(a[1])
		}
		if err := c.exec(ctx, q+" REVOKE ALL ON "+kind+" FROM "+u); err != nil {
			last = err
		}
	}
	if err := c.exec(ctx, "DROP OWNED BY "+u); err != nil {
		last = err
	}
	return last
}

// otherDatabases lists the databases (other than the current one) that
// accept connections and in which the role owns objects or holds
// privileges, from the shared dependency catalog.
func otherDatabases(ctx context.Context, db *sql.DB, oid int64) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
		WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid::bigint = $1
		AND d.datallowconn AND d.datname <> current_database() ORDER BY 1`, oid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

type sqlDB struct{ db *sql.DB }

func (s sqlDB) exec(ctx context.Context, q string, args ...interface{}) error {
	return retry(ctx, func() error {
		_, err := s.db.ExecContext(ctx, q, args...)
		return err
	})
}

func (s sqlDB) strings(ctx context.Context, q string, args ...interface{}) ([][3]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][3]string
	for rows.Next() {
		var r [3]string
		if err := rows.Scan(&r[0], &r[1], &r[2]); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type pgxConn struct{ c *pgx.Conn }

func (p pgxConn) exec(ctx context.Context, q string, args ...interface{}) error {
	return retry(ctx, func() error {
		_, err := p.c.Exec(ctx, q, args...)
		return err
	})
}

func (p pgxConn) strings(ctx context.Context, q string, args ...interface{}) ([][3]string, error) {
	rows, err := p.c.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][3]string
	for rows.Next() {
		var r [3]string
		if err := rows.Scan(&r[0], &r[1], &r[2]); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
