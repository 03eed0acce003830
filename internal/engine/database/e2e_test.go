package database_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/testserver"
)

// e2ePG is a scratch PostgreSQL database for the end-to-end tests.
type e2ePG struct {
	t     *testing.T
	name  string
	admin *sql.DB
}

func newE2EPG(t *testing.T) *e2ePG {
	t.Helper()
	root, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Ping(); err != nil {
		t.Skipf("PostgreSQL at 127.0.0.1:5432 is not reachable (%v); run scripts/test-deps.sh", err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tag := hex.EncodeToString(b)
	p := &e2ePG{t: t, name: "coffer_test_" + tag}
	if _, err := root.Exec("CREATE DATABASE " + p.name); err != nil {
		t.Fatal(err)
	}
	p.admin, err = sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/"+p.name+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.admin.Close()
		_, _ = root.Exec("DROP DATABASE IF EXISTS " + p.name + " WITH (FORCE)")
		rows, err := root.Query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", "%"+tag+"%")
		if err == nil {
			var names []string
			for rows.Next() {
				var n string
				if rows.Scan(&n) == nil {
					names = append(names, n)
				}
			}
			_ = rows.Close()
			for _, n := range names {
				_, _ = root.Exec(`DROP ROLE IF EXISTS "` + n + `"`)
			}
		}
		_ = root.Close()
	})
	p.exec("CREATE TABLE items (id int)")
	return p
}

func (p *e2ePG) exec(q string) {
	p.t.Helper()
	if _, err := p.admin.Exec(q); err != nil {
		p.t.Fatalf("%s: %v", q, err)
	}
}

func (p *e2ePG) tag() string { return strings.TrimPrefix(p.name, "coffer_test_") }

func (p *e2ePG) exists(user string) bool {
	p.t.Helper()
	var n int
	if err := p.admin.QueryRow("SELECT count(*) FROM pg_roles WHERE rolname = $1", user).Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n > 0
}

func (p *e2ePG) validUntil(user string) time.Time {
	p.t.Helper()
	var v time.Time
	if err := p.admin.QueryRow("SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", user).Scan(&v); err != nil {
		p.t.Fatal(err)
	}
	return v
}

func (p *e2ePG) login(user, password string) error {
	cfg, err := pgx.ParseConfig("postgres://127.0.0.1:5432/" + p.name + "?sslmode=disable&connect_timeout=5")
	if err != nil {
		return err
	}
	cfg.User, cfg.Password = user, password
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	var n int
	return c.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n)
}

// setupPG mounts the engine and configures connection "pg" and role
// "app" whose statements leave the user behind on DROP ROLE (the orphan
// case), with a password policy from sys/policies/password.
func setupPG(t *testing.T, c *api.Client, p *e2ePG, ttl string) {
	t.Helper()
	if err := c.Sys().Mount("database", &api.MountInput{Type: "database"}); err != nil {
		t.Fatalf("mount: %v", err)
	}
	if _, err := c.Logical().Write("sys/policies/password/dbpw", map[string]interface{}{
		"policy": "length = 24\nrule \"charset\" {\n  charset = \"abcdefghijklmnopqrstuvwxyz0123456789\"\n}",
	}); err != nil {
		t.Fatalf("password policy: %v", err)
	}
	if _, err := c.Logical().Write("database/config/pg", map[string]interface{}{
		"plugin_name":       "postgresql-database-plugin",
		"connection_url":    "postgresql://{{username}}:{{password}}@127.0.0.1:5432/" + p.name + "?sslmode=disable",
		"username":          "postgres",
		"password":          "ignored-under-trust",
		"allowed_roles":     "app",
		"password_policy":   "dbpw",
		"username_template": `{{ printf "v-%s-` + p.tag() + `-%s" (.RoleName | truncate 6) (random 8) }}`,
	}); err != nil {
		t.Fatalf("config: %v", err)
	}
	if _, err := c.Logical().Write("database/roles/app", map[string]interface{}{
		"db_name": "pg",
		"creation_statements": []string{
			`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
			`GRANT SELECT ON items TO "{{name}}"`,
			`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{{name}}"`,
		},
		"revocation_statements": `DROP ROLE "{{name}}"`,
		"default_ttl":           ttl,
		"max_ttl":               "24h",
	}); err != nil {
		t.Fatalf("role: %v", err)
	}
}

func TestEndToEndPostgres(t *testing.T) {
	p := newE2EPG(t)
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	setupPG(t, c, p, "1h")

	cfg, err := c.Logical().Read("database/config/pg")
	if err != nil || cfg == nil {
		t.Fatalf("read config: %v", err)
	}
	details := cfg.Data["connection_details"].(map[string]interface{})
	if _, ok := details["password"]; ok || details["username"] != "postgres" || cfg.Data["plugin_name"] != "postgresql-database-plugin" {
		t.Fatalf("config read: %#v", cfg.Data)
	}

	sec, err := c.Logical().Read("database/creds/app")
	if err != nil {
		t.Fatalf("creds: %v", err)
	}
	user, pw := sec.Data["username"].(string), sec.Data["password"].(string)
	if !strings.HasPrefix(sec.LeaseID, "database/creds/app/") || sec.LeaseDuration != 3600 || !sec.Renewable {
		t.Fatalf("lease: id %q duration %d renewable %v", sec.LeaseID, sec.LeaseDuration, sec.Renewable)
	}
	if len(pw) != 24 || strings.Trim(pw, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Fatalf("password %q does not follow the password policy", pw)
	}
	if err := p.login(user, pw); err != nil {
		t.Fatalf("login: %v", err)
	}

	before := p.validUntil(user)
	renewed, err := c.Sys().Renew(sec.LeaseID, 7200)
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if renewed.LeaseDuration != 7200 {
		t.Fatalf("renewed duration %d", renewed.LeaseDuration)
	}
	if after := p.validUntil(user); after.Sub(before) < 50*time.Minute {
		t.Fatalf("VALID UNTIL moved from %v to %v", before, after)
	}

	// The role's DROP ROLE fails (default privileges depend on the
	// user); the lease still ends and the user is gone.
	if err := c.Sys().Revoke(sec.LeaseID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if p.exists(user) {
		t.Fatal("user still exists after the lease was revoked")
	}
	if err := p.login(user, pw); err == nil {
		t.Fatal("revoked credentials still log in")
	}

	// revoke-prefix removes every user of the role.
	var users []string
	for i := 0; i < 3; i++ {
		sec, err := c.Logical().Read("database/creds/app")
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, sec.Data["username"].(string))
	}
	if err := c.Sys().RevokePrefix("database/creds/app"); err != nil {
		t.Fatalf("revoke-prefix: %v", err)
	}
	waitGone(t, p, users...)

	// Bad input comes back as 400s naming the problem.
	_, err = c.Logical().Write("database/config/bad", map[string]interface{}{"plugin_name": "nope", "connection_url": "x"})
	mustStatus(t, err, 400, "accepted values: postgresql-database-plugin")
	if _, err := c.Logical().Write("database/roles/other", map[string]interface{}{"db_name": "pg", "creation_statements": "SELECT 1"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Logical().Read("database/creds/other")
	mustStatus(t, err, 400, `"other" is not an allowed role`)
}

// A short TTL: the lease manager revokes the user on expiry.
func TestEndToEndPostgresExpiry(t *testing.T) {
	p := newE2EPG(t)
	s := testserver.Start(t, testserver.Options{})
	setupPG(t, s.Client, p, "2s")
	sec, err := s.Client.Logical().Read("database/creds/app")
	if err != nil {
		t.Fatal(err)
	}
	user := sec.Data["username"].(string)
	if !p.exists(user) {
		t.Fatal("no user")
	}
	waitGone(t, p, user)
}

func waitGone(t *testing.T, p *e2ePG, users ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range users {
		for p.exists(u) {
			if time.Now().After(deadline) {
				t.Fatalf("user %s still exists", u)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func mustStatus(t *testing.T, err error, status int, substr string) {
	t.Helper()
	re, ok := err.(*api.ResponseError)
	if !ok {
		t.Fatalf("error %v (%T), want HTTP %d", err, err, status)
	}
	body := strings.Join(re.Errors, "; ")
	if re.StatusCode != status || !strings.Contains(body, substr) {
		t.Fatalf("got %d %s, want %d containing %q", re.StatusCode, body, status, substr)
	}
}

// A lease that expires while the database is unreachable is retried with
// backoff and revoked once the connection works again.
func TestEndToEndPostgresExpiryWhileUnreachable(t *testing.T) {
	p := newE2EPG(t)
	s := testserver.Start(t, testserver.Options{LeaseOptions: lease.Options{BackoffBase: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond, MaxAttempts: 1000}})
	c := s.Client
	setupPG(t, c, p, "1s")
	sec, err := c.Logical().Read("database/creds/app")
	if err != nil {
		t.Fatal(err)
	}
	user := sec.Data["username"].(string)
	good := "postgresql://{{username}}:{{password}}@127.0.0.1:5432/" + p.name + "?sslmode=disable"
	if _, err := c.Logical().Write("database/config/pg", map[string]interface{}{
		"connection_url": strings.Replace(good, ":5432/", ":1/", 1), "verify_connection": false,
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // expired; revocations are failing
	if !p.exists(user) {
		t.Fatal("the user vanished while the database was unreachable")
	}
	if _, err := c.Logical().Write("database/config/pg", map[string]interface{}{"connection_url": good}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, p, user)
}
