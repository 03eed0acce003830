package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
)

// DeleteUser implements dbplugin.Driver. It runs the revocation statements
// (Vault's default: revoke everything and DROP USER for host '%'), kills
// the user's connections when asked (DROP USER leaves them open), and
// verifies in mysql.user that no account of that name remains. Otherwise
// it falls back to killing every connection of the user and dropping each
// remaining account with DROP USER IF EXISTS.
func (d *Driver) DeleteUser(ctx context.Context, req dbplugin.DeleteUserRequest) (dbplugin.DeleteUserResponse, error) {
	var resp dbplugin.DeleteUserResponse
	if req.Username == "" {
		return resp, errors.New("missing username")
	}
	db, secrets, err := d.pool()
	if err != nil {
		return resp, err
	}
	hosts, err := userHosts(ctx, db, req.Username)
	if err != nil {
		return resp, classify(err, secrets)
	}
	if len(hosts) == 0 {
		return resp, nil
	}
	if req.TerminateSessions {
		resp.SessionsTerminated += kill(ctx, db, req.Username)
	}
	stmts := dbplugin.ParseStatements(req.Statements, dbplugin.MySQL)
	if len(stmts) == 0 {
		stmts = dbplugin.ParseStatements([]string{defaultRevocation}, dbplugin.MySQL)
	}
	vals := map[string]string{"name": req.Username, "username": req.Username}
	stmtErr := runTx(ctx, db, stmts, vals)
	if req.TerminateSessions {
		resp.SessionsTerminated += kill(ctx, db, req.Username)
	}
	hosts, err = userHosts(ctx, db, req.Username)
	if err != nil {
		return resp, classify(err, secrets)
	}
	if len(hosts) == 0 {
		return resp, nil
	}
	resp.Fallback = true
	resp.Reason = "revocation statements left the user in place"
	if stmtErr != nil {
		resp.Reason = "revocation statements failed: " + classify(stmtErr, secrets).Error()
	}
	resp.SessionsTerminated += kill(ctx, db, req.Username)
	var ferr error
	for _, h := range hosts {
		q := fmt.Sprintf("DROP USER IF EXISTS %s@%s", quoteString(req.Username), quoteString(h))
		if _, err := db.ExecContext(ctx, q); err != nil {
			ferr = err
		}
	}
	hosts, err = userHosts(ctx, db, req.Username)
	if err != nil {
		return resp, classify(err, secrets)
	}
	if len(hosts) > 0 {
		if ferr != nil {
			ferr = classify(ferr, secrets)
		}
		return resp, &dbplugin.UserExistsError{Username: req.Username, Err: ferr}
	}
	return resp, nil
}

// userHosts lists the hosts of every account with this user name.
func userHosts(ctx context.Context, db *sql.DB, name string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = ?", name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// kill ends the user's connections and reports how many it ended.
// Failures (a connection that ended meanwhile, a missing privilege) only
// mean fewer connections ended.
func kill(ctx context.Context, db *sql.DB, name string) int {
	rows, err := db.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()", name)
	if err != nil {
		return 0
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	_ = rows.Close()
	n := 0
	for _, id := range ids {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
			n++
		}
	}
	return n
}
