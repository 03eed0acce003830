// Package compat runs real Vault client libraries against Coffer: Python's
// hvac (Debian's python3-hvac) and the Go client's LifetimeWatcher, in the
// flow a service uses for dynamic PostgreSQL credentials.
package compat_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/testserver"
)

const pgAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// fixture is a server with AppRole, a PostgreSQL database engine and a
// consumer policy, as the operator runbook sets them up.
type fixture struct {
	s                *testserver.Server
	db               string
	roleID, secretID string
}

func setup(t *testing.T, ttl, maxTTL string) *fixture { return setupTB(t, ttl, maxTTL) }

// setupB is the fixture for benchmarks (long TTLs).
func setupB(b *testing.B) *fixture { return setupTB(b, "1h", "24h") }

func setupTB(t testing.TB, ttl, maxTTL string) *fixture {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgAdminURL)
	if err != nil {
		t.Fatalf("PostgreSQL at 127.0.0.1:5432 is needed (make test starts it): %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db := "coffer_compat_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pgAdminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	})
	dbc, err := pgx.Connect(ctx, strings.Replace(pgAdminURL, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbc.Exec(ctx, "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	dbc.Close(ctx)

	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Sys().Mount("database", &api.MountInput{Type: "database"}))
	_, err = c.Logical().Write("database/config/app-pg", map[string]interface{}{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/" + db + "?sslmode=disable",
		"username":       "postgres",
		"password":       "unused-with-trust",
		"allowed_roles":  "app-readonly",
	})
	must(err)
	_, err = c.Logical().Write("database/roles/app-readonly", map[string]interface{}{
		"db_name": "app-pg",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";`,
		"default_ttl": ttl,
		"max_ttl":     maxTTL,
	})
	must(err)
	must(c.Sys().PutPolicy("db-consumer", `
path "database/creds/app-readonly" { capabilities = ["read"] }
path "sys/leases/renew"            { capabilities = ["update"] }
path "sys/leases/revoke"           { capabilities = ["update"] }
path "auth/token/lookup-self"      { capabilities = ["read"] }
path "secret/data/app/*"           { capabilities = ["create", "update", "read"] }
path "sys/mounts"                  { capabilities = ["read"] }
`))
	must(c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}))
	_, err = c.Logical().Write("auth/approle/role/webapp", map[string]interface{}{
		"token_policies": "db-consumer", "token_ttl": "1h", "token_max_ttl": "4h",
	})
	must(err)
	rid, err := c.Logical().Read("auth/approle/role/webapp/role-id")
	must(err)
	sid, err := c.Logical().Write("auth/approle/role/webapp/secret-id", nil)
	must(err)
	return &fixture{s: s, db: db, roleID: rid.Data["role_id"].(string), secretID: sid.Data["secret_id"].(string)}
}

func TestHvacApplication(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("/usr/bin/python3 is needed (make test installs python3-hvac)")
	}
	f := setup(t, "3s", "1m")
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("/usr/bin/python3", filepath.Join(filepath.Dir(file), "hvac_app.py"))
	cmd.Env = append(os.Environ(),
		"VAULT_ADDR="+f.s.Addr, "VAULT_CACERT="+f.s.CACertFile,
		"ROLE_ID="+f.roleID, "SECRET_ID="+f.secretID, "DB_ROLE=app-readonly",
		"PG_HOST=127.0.0.1", "PG_PORT=5432", "PG_DATABASE="+f.db,
	)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hvac application failed: %v\n%s", err, out)
	}
	var got map[string]interface{}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	want := map[string]interface{}{
		"self_display_name": "approle", "self_ttl_positive": true, "lease_prefix_ok": true,
		"lease_renewable": true, "lease_duration": float64(3), "db_user_matches": true,
		"renewed_duration_ok": true, "db_login_after_renewal": true, "db_login_refused_after_revoke": true,
		"kv_value": "on", "kv_version": float64(1), "health_initialized": true, "health_sealed": false,
		"mounts_have_database": true, "leader_has_ha_enabled": true, "login_renewable": true,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %s)", k, got[k], v, out)
		}
	}
	if n, _ := got["renewals"].(float64); n < 1 {
		t.Errorf("no renewals happened: %s", out)
	}
	if errs, _ := got["renew_errors"].([]interface{}); len(errs) != 0 {
		t.Errorf("renew errors: %v", errs)
	}
	pols := fmt.Sprint(got["login_policies"])
	if !strings.Contains(pols, "db-consumer") || !strings.Contains(pols, "default") {
		t.Errorf("login policies %s", pols)
	}
}

func TestGoClientLifetimeWatcher(t *testing.T) {
	f := setup(t, "2s", "5s")
	c := f.s.NewClient("")
	secret, err := c.Logical().Write("auth/approle/login", map[string]interface{}{"role_id": f.roleID, "secret_id": f.secretID})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(secret.Auth.ClientToken)
	creds, err := c.Logical().Read("database/creds/app-readonly")
	if err != nil {
		t.Fatal(err)
	}
	user, pass := creds.Data["username"].(string), creds.Data["password"].(string)
	connURL := fmt.Sprintf("postgres://%s:%s@127.0.0.1:5432/%s?sslmode=disable", user, pass, f.db)
	conn, err := pgx.Connect(context.Background(), connURL)
	if err != nil {
		t.Fatalf("log in with the generated credentials: %v", err)
	}
	conn.Close(context.Background())

	w, err := c.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: creds})
	if err != nil {
		t.Fatal(err)
	}
	go w.Start()
	defer w.Stop()
	start := time.Now()
	renewals := 0
	for {
		select {
		case r := <-w.RenewCh():
			renewals++
			if r.Secret.LeaseID != creds.LeaseID {
				t.Fatalf("renewal for another lease: %s", r.Secret.LeaseID)
			}
		case err := <-w.DoneCh():
			if err != nil {
				t.Fatalf("watcher ended with an error: %v", err)
			}
			elapsed := time.Since(start)
			if renewals < 1 || elapsed < 3*time.Second || elapsed > 9*time.Second {
				t.Fatalf("watcher done after %v with %d renewals; want it to renew until the 5s max TTL", elapsed, renewals)
			}
			// The lease reached its max TTL and is revoked: the user cannot log in.
			deadline := time.Now().Add(10 * time.Second)
			for {
				c2, err := pgx.Connect(context.Background(), connURL)
				if err != nil {
					return
				}
				c2.Close(context.Background())
				if time.Now().After(deadline) {
					t.Fatal("database user still logs in after the lease's max TTL")
				}
				time.Sleep(200 * time.Millisecond)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("watcher did not finish")
		}
	}
}
