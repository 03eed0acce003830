package compat_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"
)

// TestCrashAfterUserCreation kills the server (SIGKILL) after it created a
// PostgreSQL user but before it answered; after restart and unseal the
// user's lease is there (it was stored before the user could be committed)
// and revoking it drops the user: no user survives a crash without a lease.
func TestCrashAfterUserCreation(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgAdminURL)
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db := "coffer_crash_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })

	bin := t.TempDir()
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "coffer"), "./cmd/coffer")
	build.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := t.TempDir()
	// The cluster port gets an address of its own: the default, the API
	// port plus one, may be another test's.
	var addrs [2]string
	var held [2]net.Listener
	for i := range held {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held[i], addrs[i] = l, l.Addr().String()
	}
	held[0].Close()
	held[1].Close()
	addr := addrs[0]
	cfg := fmt.Sprintf("storage \"raft\" {\n path = %q\n node_id = \"n1\"\n}\nlistener \"tcp\" {\n address = %q\n cluster_address = %q\n tls_disable = true\n}\ndisable_mlock = true\n", filepath.Join(work, "data"), addr, addrs[1])
	cfgPath := filepath.Join(work, "c.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pauseFile := filepath.Join(work, "paused-user")
	start := func(pause bool) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, "coffer"), "server", "-config="+cfgPath)
		cmd.Env = append(os.Environ(), "HOME="+work)
		if pause {
			cmd.Env = append(cmd.Env, "COFFER_TEST_DB_PAUSE_AFTER_CREATE="+pauseFile)
		}
		logf, _ := os.OpenFile(filepath.Join(work, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return cmd
	}
	conf := api.DefaultConfig()
	conf.Address = "http://" + addr
	conf.MaxRetries = 0
	c, _ := api.NewClient(conf)
	waitUp := func(srv *exec.Cmd) {
		var err error
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, err = c.Sys().SealStatus(); err == nil {
				return
			}
			if time.Now().After(deadline) {
				break
			}
		}
		// SIGQUIT makes a server that is still running write its
		// goroutines' stacks to the log, showing where it stands.
		_ = srv.Process.Signal(syscall.SIGQUIT)
		time.Sleep(time.Second)
		b, _ := os.ReadFile(filepath.Join(work, "server.log"))
		t.Fatalf("server at %s did not answer within 20s (last error: %v); its log, with its goroutines if it was still running:\n%s", addr, err, b)
	}

	srv := start(true)
	waitUp(srv)
	init, err := c.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sys().Unseal(init.Keys[0]); err != nil {
		t.Fatal(err)
	}
	c.SetToken(init.RootToken)
	if err := c.Sys().Mount("database", &api.MountInput{Type: "database"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/config/pg", map[string]interface{}{
		"plugin_name": "postgresql-database-plugin", "allowed_roles": "r",
		"connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/" + db + "?sslmode=disable",
		"username":       "postgres", "password": "x",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/roles/r", map[string]interface{}{
		"db_name": "pg", "default_ttl": "1h",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
	}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = c.Logical().Read("database/creds/r") }() // blocks in the pause
	var user string
	for deadline := time.Now().Add(15 * time.Second); user == ""; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(pauseFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			user = strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatal("the creds request never reached the pause after user creation")
		}
	}
	exists := func() bool {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", user).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !exists() {
		t.Fatalf("user %s should exist while the request is paused", user)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = srv.Process.Wait()

	waitUp(start(false))
	// The state file is written without fsync, so after SIGKILL it is
	// rebuilt from the raft log: the write-ahead record must come back
	// from there.
	if b, _ := os.ReadFile(filepath.Join(work, "server.log")); !strings.Contains(string(b), "rebuilding it from the raft snapshot and log") {
		t.Fatalf("the state file was not rebuilt after SIGKILL:\n%s", b)
	}
	if _, err := c.Sys().Unseal(init.Keys[0]); err != nil {
		t.Fatal(err)
	}
	leases, err := c.Logical().List("sys/leases/lookup/database/creds/r/")
	if err != nil || leases == nil {
		b, _ := os.ReadFile(filepath.Join(work, "server.log"))
		t.Fatalf("no lease for user %s after the restart (%v):\n%s", user, err, b)
	}
	keys, _ := leases.Data["keys"].([]interface{})
	if len(keys) != 1 {
		t.Fatalf("leases after the restart: %v, want the paused request's one", leases.Data)
	}
	if !exists() {
		t.Fatalf("user %s, committed before the crash, is gone although its lease is not revoked", user)
	}
	if err := c.Sys().Revoke(fmt.Sprintf("database/creds/r/%v", keys[0])); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); exists(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(work, "server.log"))
			t.Fatalf("user %s still exists 20s after its lease was revoked:\n%s", user, b)
		}
	}
}
