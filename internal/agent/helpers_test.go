package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// agentPolicy is what the test role's tokens may do.
const agentPolicy = `
path "secret/*"          { capabilities = ["read", "list"] }
path "database/creds/*"  { capabilities = ["read"] }
path "auth/token/create" { capabilities = ["update"] }
path "sys/leases/renew"  { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
`

// env is a test server with an AppRole role whose credentials are in
// files under dir.
type env struct {
	t            *testing.T
	s            *testserver.Server
	dir          string
	roleIDFile   string
	secretIDFile string
}

// newEnv starts a server, enables AppRole and writes a role "agent" with
// the given token TTL (0: the default).
func newEnv(t *testing.T, tokenTTL string) *env {
	t.Helper()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().PutPolicy("agent", agentPolicy); err != nil {
		t.Fatal(err)
	}
	role := map[string]interface{}{"token_policies": "agent"}
	if tokenTTL != "" {
		role["token_ttl"] = tokenTTL
		role["token_max_ttl"] = "1h"
	}
	if _, err := c.Logical().Write("auth/approle/role/agent", role); err != nil {
		t.Fatal(err)
	}
	r, err := c.Logical().Read("auth/approle/role/agent/role-id")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &env{t: t, s: s, dir: dir, roleIDFile: filepath.Join(dir, "role-id"), secretIDFile: filepath.Join(dir, "secret-id")}
	writeFile(t, e.roleIDFile, r.Data["role_id"].(string))
	e.newSecretID()
	return e
}

// newSecretID writes a fresh secret ID to the secret ID file.
func (e *env) newSecretID() {
	e.t.Helper()
	r, err := e.s.Client.Logical().Write("auth/approle/role/agent/secret-id", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	writeFile(e.t, e.secretIDFile, r.Data["secret_id"].(string))
}

// vaultBlock is the agent's connection to the test server.
func (e *env) vaultBlock() string {
	return fmt.Sprintf("vault {\n  address = %q\n  ca_cert = %q\n}\n", e.s.Addr, e.s.CACertFile)
}

// approleBlock is auto_auth with the test role and a file sink.
func (e *env) approleBlock(sink string) string {
	return fmt.Sprintf(`
auto_auth {
  method "approle" {
    min_backoff = "100ms"
    max_backoff = "500ms"
    config {
      role_id_file_path   = %q
      secret_id_file_path = %q
      remove_secret_id_file_after_reading = false
    }
  }
  sink "file" {
    config {
      path = %q
      mode = 0600
    }
  }
}
`, e.roleIDFile, e.secretIDFile, sink)
}

// startAgent parses text as the configuration and runs the agent until
// the test ends. The returned channel yields Run's result.
func (e *env) startAgent(text string, opts Options) (*Agent, <-chan error) {
	e.t.Helper()
	a, errc := startAgent(e.t, text, opts)
	return a, errc
}

func startAgent(t *testing.T, text string, opts Options) (*Agent, <-chan error) {
	t.Helper()
	cfg, err := ParseConfig("agent.hcl", text)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	a, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		errc <- a.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("agent did not stop within 15s")
		}
	})
	return a, errc
}

// testLogger logs to the test output when COFFER_TEST_LOG is set.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("COFFER_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(&tlogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct {
	mu sync.Mutex
	t  *testing.T
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readWhenPresent returns a file's content once it exists and is not
// empty ("" if it never does within timeout).
func waitForFile(t testing.TB, path string, timeout time.Duration, cond func(string) bool) string {
	t.Helper()
	var got string
	waitFor(t, timeout, "file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			return false
		}
		got = string(b)
		return cond == nil || cond(got)
	})
	return got
}

// syncBuffer is a goroutine-safe output buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proxyClient is a vault/api client that talks to the agent's proxy.
func proxyClient(t testing.TB, addr, token string) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = addr
	conf.MaxRetries = 0
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func renameFile(from, to string) error { return os.Rename(from, to) }
