package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"
)

const pgAddr = "127.0.0.1:5432"

// pgDatabase creates a scratch PostgreSQL database and mounts the
// database engine with a role "app" whose credentials live ttl (max
// maxTTL). It skips the test when PostgreSQL or the engine is missing.
func pgDatabase(t *testing.T, e *env, ttl, maxTTL string) (dbName string) {
	t.Helper()
	ctx := t.Context()
	root, err := pgx.Connect(ctx, "postgres://postgres@"+pgAddr+"/postgres?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Skipf("PostgreSQL at %s is not reachable (%v)", pgAddr, err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	tag := hex.EncodeToString(b)
	dbName = "coffer_agent_" + tag
	if _, err := root.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		rows, _ := root.Query(ctx, "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", "%"+tag+"%")
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		_, _ = root.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
		for _, n := range names {
			_, _ = root.Exec(ctx, `DROP ROLE IF EXISTS "`+strings.ReplaceAll(n, `"`, `""`)+`"`)
		}
		_ = root.Close(ctx)
	})
	c := e.s.Client
	if err := c.Sys().Mount("database", &api.MountInput{Type: "database"}); err != nil {
		t.Skipf("the database secrets engine is not available in this build: %v", err)
	}
	if _, err := c.Logical().Write("database/config/pg", map[string]interface{}{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": "postgres://{{username}}:{{password}}@" + pgAddr + "/" + dbName + "?sslmode=disable",
		"username":       "postgres",
		"password":       "unused-with-trust",
		"allowed_roles":  "app",
		// The tag lets the cleanup find users a failed test left behind.
		"username_template": "v_{{.RoleName}}_" + tag + "_{{random 8}}",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/roles/app", map[string]interface{}{
		"db_name":             "pg",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
		"default_ttl":         ttl,
		"max_ttl":             maxTTL,
	}); err != nil {
		t.Fatal(err)
	}
	return dbName
}

// pgLogin connects as a user and runs a query.
func pgLogin(ctx context.Context, dbName, user, password string) error {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: pgAddr, Path: dbName,
		RawQuery: "sslmode=disable&connect_timeout=5"}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

func roleExists(t *testing.T, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), "postgres://postgres@"+pgAddr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

type creds struct{ user, password, lease string }

func parseCreds(t *testing.T, s string) creds {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 3 {
		t.Fatalf("rendered %q, want user:password:lease", s)
	}
	return creds{parts[0], parts[1], parts[2]}
}

func TestDatabaseCredentialsRerenderedBeforeLeaseEnds(t *testing.T) {
	e := newEnv(t, "")
	dbName := pgDatabase(t, e, "3s", "6s")
	dest := filepath.Join(e.dir, "db.creds")
	text := e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + fmt.Sprintf(`
template {
  destination = %q
  perms       = 0600
  contents    = "{{ with secret \"database/creds/app\" }}{{ .Data.username }}:{{ .Data.password }}:{{ .LeaseID }}{{ end }}"
}
`, dest)
	startAgent(t, text, Options{})

	first := parseCreds(t, waitForFile(t, dest, 10*time.Second, nil))
	if err := pgLogin(t.Context(), dbName, first.user, first.password); err != nil {
		t.Fatalf("logging in with the rendered credentials: %v", err)
	}
	lease1, err := e.s.Client.Sys().Lookup(first.lease)
	if err != nil {
		t.Fatal(err)
	}
	expire1, err := time.Parse(time.RFC3339Nano, lease1.Data["expire_time"].(string))
	if err != nil {
		t.Fatal(err)
	}

	// Renewed at ~2s, capped by max_ttl=6s at ~4s, replaced at ~5.3s.
	// Poll tightly to time the rotation.
	var second creds
	var seen time.Time
	deadline := time.Now().Add(12 * time.Second)
	for {
		b, _ := os.ReadFile(dest)
		if len(b) > 0 && !strings.HasPrefix(string(b), first.user+":") {
			seen = time.Now()
			second = parseCreds(t, string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the credentials were not re-rendered within 12s")
		}
		time.Sleep(time.Millisecond)
	}
	end := leaseEnd(t, e.s.Client, first.lease, expire1)
	issued := leaseIssueTime(t, e.s.Client, second.lease)
	t.Logf("rotation: new lease issued -> new file seen on disk: %s; new file on disk %s before the old lease ended",
		seen.Sub(issued).Round(100*time.Microsecond), end.Sub(seen).Round(time.Millisecond))
	if !seen.Before(end) {
		t.Errorf("new credentials written at %s, after the old lease ended at %s", seen, end)
	}
	if second.lease == first.lease || second.user == first.user {
		t.Fatalf("credentials did not change: %+v", second)
	}
	if err := pgLogin(t.Context(), dbName, second.user, second.password); err != nil {
		t.Fatalf("logging in with the new credentials: %v", err)
	}
	// The old user goes when its lease ends.
	waitFor(t, 8*time.Second, "the old database user to be dropped", func() bool { return !roleExists(t, first.user) })
	if err := pgLogin(t.Context(), dbName, first.user, first.password); err == nil {
		t.Error("the old credentials still log in after their lease ended")
	}
	if !roleExists(t, second.user) {
		t.Error("the current user was dropped")
	}
}

// leaseEnd is a lease's final expiry: its lookup's expire_time while it
// lives, or last when it is already gone.
func leaseEnd(t *testing.T, c *api.Client, id string, last time.Time) time.Time {
	t.Helper()
	s, err := c.Sys().Lookup(id)
	if err != nil || s == nil {
		return last
	}
	if v, ok := s.Data["expire_time"].(string); ok {
		if tm, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return tm
		}
	}
	return last
}

func leaseIssueTime(t *testing.T, c *api.Client, id string) time.Time {
	t.Helper()
	s, err := c.Sys().Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := time.Parse(time.RFC3339Nano, s.Data["issue_time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestProxyCacheSharesDatabaseLease(t *testing.T) {
	e := newEnv(t, "")
	pgDatabase(t, e, "1h", "2h")
	text := e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + `
cache {}
api_proxy { use_auto_auth_token = true }
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
`
	a, _ := startAgent(t, text, Options{})
	addr := "http://" + a.Addrs()[0]
	app1, app2 := proxyClient(t, addr, ""), proxyClient(t, addr, "")
	s1, err := app1.Logical().Read("database/creds/app")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := app2.Logical().Read("database/creds/app")
	if err != nil {
		t.Fatal(err)
	}
	if s1.LeaseID == "" || s1.LeaseID != s2.LeaseID || s1.Data["username"] != s2.Data["username"] {
		t.Fatalf("two clients got different credentials: %s %v / %s %v", s1.LeaseID, s1.Data["username"], s2.LeaseID, s2.Data["username"])
	}
	if n := countLeases(t, e.s.Client); n != 1 {
		t.Errorf("server holds %d leases for database/creds/app, want 1", n)
	}
	// Revoking through the proxy evicts: the next read is a new lease.
	if err := app1.Sys().Revoke(s1.LeaseID); err != nil {
		t.Fatal(err)
	}
	s3, err := app2.Logical().Read("database/creds/app")
	if err != nil {
		t.Fatal(err)
	}
	if s3.LeaseID == s1.LeaseID {
		t.Fatal("the proxy served a revoked lease from its cache")
	}
	// A client with its own token is not served the agent's response.
	own := proxyClient(t, addr, e.s.RootToken)
	s4, err := own.Logical().Read("database/creds/app")
	if err != nil {
		t.Fatal(err)
	}
	if s4.LeaseID == s3.LeaseID {
		t.Fatal("a request with another token got the cached lease")
	}
}

func countLeases(t *testing.T, c *api.Client) int {
	t.Helper()
	s, err := c.Logical().List("sys/leases/lookup/database/creds/app/")
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return 0
	}
	keys, _ := s.Data["keys"].([]interface{})
	return len(keys)
}
