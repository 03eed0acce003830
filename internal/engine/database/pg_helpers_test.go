package database

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/logical"
)

// pgHarness is an engine with a PostgreSQL connection "pg" to a scratch
// database holding a table "items"; the admin is the trusted postgres user.
func pgHarness(t testing.TB) (*harness, *testDB) {
	t.Helper()
	d := newPGDB(t)
	d.exec("CREATE TABLE items (id int)")
	d.exec("INSERT INTO items VALUES (1)")
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{
		"plugin_name":       "postgresql-database-plugin",
		"connection_url":    d.pgURL(),
		"username":          "postgres",
		"password":          "ignored-under-trust",
		"allowed_roles":     "*",
		"username_template": d.usernameTemplate(),
	})
	return h, d
}

// inScram makes a creation statement put the user in coffer_scram when
// the SCRAM setup exists, so that its password is really checked.
func (d *testDB) inScram() string {
	if d.scram {
		return " IN ROLE coffer_scram"
	}
	return ""
}

// pgLogin connects to the scratch database as user.
func (d *testDB) pgLogin(user, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("postgres://" + pgServer + "/" + d.name + "?sslmode=disable&connect_timeout=5")
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = user, password
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d.t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, nil
}

// mustLogin logs in and proves the session works.
func (d *testDB) mustLogin(user, password string) *pgx.Conn {
	d.t.Helper()
	c, err := d.pgLogin(user, password)
	if err != nil {
		d.t.Fatalf("login as %s: %v", user, err)
	}
	var one int
	if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		d.t.Fatalf("query as %s: %v", user, err)
	}
	return c
}

// validUntil reads a role's VALID UNTIL.
func (d *testDB) validUntil(user string) time.Time {
	d.t.Helper()
	var v *time.Time
	if err := d.admin.QueryRow("SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", user).Scan(&v); err != nil {
		d.t.Fatal(err)
	}
	if v == nil {
		return time.Time{}
	}
	return *v
}

// rolpassword reads a role's stored password verifier.
func (d *testDB) rolpassword(user string) string {
	d.t.Helper()
	var v *string
	if err := d.admin.QueryRow("SELECT rolpassword FROM pg_authid WHERE rolname = $1", user).Scan(&v); err != nil {
		d.t.Fatal(err)
	}
	if v == nil {
		return ""
	}
	return *v
}

func near(a, b time.Time, tol time.Duration) bool {
	d := a.Sub(b)
	return d < tol && d > -tol
}
