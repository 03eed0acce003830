package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/testserver"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coffer-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "coffer"), ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	if err := os.Symlink("coffer", filepath.Join(dir, "vault")); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type env struct {
	t    *testing.T
	vars []string
}

// run executes the CLI (as "coffer" or through the "vault" symlink).
func (e *env) run(name string, stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Env = e.vars
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (e *env) must(name string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(name, "", args...)
	if code != 0 {
		e.t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func startServer(t *testing.T, configPath string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "coffer"), "server", "-config="+configPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
	})
	return cmd, &logs
}

func waitReady(t *testing.T, e *env, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_, _, code := e.run("coffer", "", "status")
		if code == 0 || code == 2 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server did not come up; logs:\n%s", logs.String())
}

func TestBinaryWithProductionConfig(t *testing.T) {
	dir := t.TempDir()
	tlsFiles := testserver.WriteTLSFiles(t, dir)
	addr := freePort(t)
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "coffer.hcl")
	cfg := fmt.Sprintf(`
storage "raft" {
  path    = %q
  node_id = "node-1"
}
listener "tcp" {
  address         = %q
  tls_cert_file   = %q
  tls_key_file    = %q
  tls_min_version = "tls12"
}
api_addr      = "https://%s"
disable_mlock = true
ui            = true
log_level     = "info"
`, filepath.Join(dir, "data"), addr, tlsFiles.CertFile, tlsFiles.KeyFile, addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, vars: []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"VAULT_ADDR=https://" + addr, "VAULT_CACERT=" + tlsFiles.CAFile,
	}}

	srv, logs := startServer(t, cfgPath)
	waitReady(t, e, logs)

	// Sealed and uninitialised: status exits 2.
	if _, _, code := e.run("coffer", "", "status"); code != 2 {
		t.Fatalf("status before init: exit %d, want 2", code)
	}
	out := e.must("coffer", "operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json")
	var initResp struct {
		Keys      []string `json:"unseal_keys_b64"`
		RootToken string   `json:"root_token"`
	}
	if err := json.Unmarshal([]byte(out), &initResp); err != nil || len(initResp.Keys) != 3 || initResp.RootToken == "" {
		t.Fatalf("init output %q: %v", out, err)
	}
	unseal := func() {
		e.must("coffer", "operator", "unseal", initResp.Keys[0])
		e.must("vault", "operator", "unseal", initResp.Keys[2])
	}
	unseal()
	e.must("coffer", "status")
	e.must("coffer", "login", initResp.RootToken)
	if b, err := os.ReadFile(filepath.Join(home, ".vault-token")); err != nil || strings.TrimSpace(string(b)) != initResp.RootToken {
		t.Fatalf("token helper file: %q %v", b, err)
	}

	e.must("coffer", "secrets", "enable", "-path=secret", "-version=2", "kv")
	e.must("coffer", "kv", "put", "secret/app/db", "username=app", "password=s3cr3t")
	if got := strings.TrimSpace(e.must("vault", "kv", "get", "-field=password", "secret/app/db")); got != "s3cr3t" {
		t.Fatalf("kv get -field: %q", got)
	}
	var kvJSON struct {
		Data struct {
			Data map[string]string `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(e.must("vault", "kv", "get", "-format=json", "secret/app/db")), &kvJSON); err != nil || kvJSON.Data.Data["username"] != "app" {
		t.Fatalf("kv get -format=json: %+v %v", kvJSON, err)
	}
	if _, _, code := e.run("coffer", "", "kv", "get", "secret/app/missing"); code != 2 {
		t.Fatalf("kv get of a missing key: exit %d, want 2", code)
	}

	// A policy from stdin and a token limited by it.
	if _, errOut, code := e.run("coffer", `path "secret/data/app/*" { capabilities = ["read"] }`, "policy", "write", "app-read", "-"); code != 0 {
		t.Fatalf("policy write: %s", errOut)
	}
	tok := strings.TrimSpace(e.must("coffer", "token", "create", "-policy=app-read", "-ttl=1h", "-field=token"))
	limited := &env{t: t, vars: append(append([]string{}, e.vars...), "VAULT_TOKEN="+tok)}
	limited.must("coffer", "kv", "get", "secret/app/db")
	_, errOut, code := limited.run("coffer", "", "kv", "put", "secret/app/db", "x=y")
	if code != 2 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("write with read-only token: exit %d, stderr %q", code, errOut)
	}

	// SIGHUP with new certificate files: the server keeps running and serves the new certificate.
	newTLS := testserver.WriteTLSFiles(t, t.TempDir())
	for src, dst := range map[string]string{newTLS.CertFile: tlsFiles.CertFile, newTLS.KeyFile: tlsFiles.KeyFile} {
		b, _ := os.ReadFile(src)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	withNewCA := &env{t: t, vars: append(append([]string{}, e.vars...), "VAULT_CACERT="+newTLS.CAFile)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, code := withNewCA.run("coffer", "", "status"); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new certificate not served after SIGHUP; logs:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	e = withNewCA

	// SIGTERM: graceful exit 0; restart finds the data after unseal.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v\n%s", err, logs.String())
	}
	_, logs = startServer(t, cfgPath)
	waitReady(t, e, logs)
	if _, _, code := e.run("coffer", "", "status"); code != 2 {
		t.Fatalf("status after restart: exit %d, want 2 (sealed)", code)
	}
	unseal()
	if got := strings.TrimSpace(e.must("coffer", "kv", "get", "-field=username", "secret/app/db")); got != "app" {
		t.Fatalf("after restart: %q", got)
	}
}

func TestBinaryRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(cfgPath, []byte("storage \"raft\" {\n  path = \"/tmp/x\"\n}\nlistner \"tcp\" {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, vars: []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}}
	_, errOut, code := e.run("coffer", "", "server", "-config="+cfgPath)
	if code != 1 || !strings.Contains(errOut, "bad.hcl:4") || !strings.Contains(errOut, "listner") {
		t.Fatalf("bad config: exit %d, stderr %q", code, errOut)
	}
}
