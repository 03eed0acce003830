package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

func TestAppRoleAutoAuthWritesSinkAndReauthenticatesAfterRevoke(t *testing.T) {
	e := newEnv(t, "1h")
	sink := filepath.Join(e.dir, "token")
	proxyConf := `
api_proxy { use_auto_auth_token = true }
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
`
	a, _ := startAgent(t, e.vaultBlock()+e.approleBlock(sink)+proxyConf, Options{})

	first := waitForFile(t, sink, 10*time.Second, nil)
	fi, err := os.Stat(sink)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("sink mode = %o, want 600", fi.Mode().Perm())
	}
	self, err := e.s.NewClient(first).Auth().Token().LookupSelf()
	if err != nil {
		t.Fatalf("the sink token does not work: %v", err)
	}
	if pols, _ := self.TokenPolicies(); !strings.Contains(strings.Join(pols, ","), "agent") {
		t.Errorf("token policies = %v, want agent", pols)
	}

	// Revoke the token. The LifetimeWatcher of a 1h token would not
	// notice for 40 minutes; the agent learns it from the refusal of a
	// request made with its token through the proxy, and the sink gets a
	// new, working token.
	if err := e.s.Client.Auth().Token().RevokeTree(first); err != nil {
		t.Fatal(err)
	}
	pc := proxyClient(t, "http://"+a.Addrs()[0], "")
	if _, err := pc.Auth().Token().LookupSelf(); err == nil {
		t.Fatal("lookup-self with a revoked token succeeded")
	}
	second := waitForFile(t, sink, 10*time.Second, func(s string) bool { return s != first })
	if _, err := e.s.NewClient(second).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("the new sink token does not work: %v", err)
	}
	// And the proxy now uses it.
	waitFor(t, 5*time.Second, "proxy to use the new token", func() bool {
		_, err := pc.Auth().Token().LookupSelf()
		return err == nil
	})
}

func TestAutoAuthReauthenticatesWhenTokenExpires(t *testing.T) {
	e := newEnv(t, "2s")
	sink := filepath.Join(e.dir, "token")
	startAgent(t, e.vaultBlock()+e.approleBlock(sink), Options{})
	first := waitForFile(t, sink, 10*time.Second, nil)
	// A 2s token with a 1h max is renewed, not replaced: it stays.
	time.Sleep(2500 * time.Millisecond)
	if b, _ := os.ReadFile(sink); string(b) != first {
		t.Fatalf("the token was replaced although it could be renewed")
	}
	if _, err := e.s.NewClient(first).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("renewed token no longer works after its first TTL: %v", err)
	}
	// Revoked: the next renewal fails and the agent logs in again.
	if err := e.s.Client.Auth().Token().RevokeTree(first); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, sink, 6*time.Second, func(s string) bool { return s != first })
}

func TestMissingRoleIDFile(t *testing.T) {
	e := newEnv(t, "")
	if err := os.Remove(e.roleIDFile); err != nil {
		t.Fatal(err)
	}
	text := e.vaultBlock() + strings.Replace(e.approleBlock(filepath.Join(e.dir, "token")),
		`min_backoff = "100ms"`, "exit_on_err = true\n    min_backoff = \"100ms\"", 1)
	_, errc := startAgent(t, text, Options{})
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "role_id_file_path "+e.roleIDFile) ||
			!errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Run error = %v, want one naming role_id_file_path %s and file not found", err, e.roleIDFile)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop on a missing role ID file with exit_on_err")
	}
}

func TestMissingRoleIDFileRetriesUntilItAppears(t *testing.T) {
	e := newEnv(t, "")
	roleID, _ := os.ReadFile(e.roleIDFile)
	_ = os.Remove(e.roleIDFile)
	sink := filepath.Join(e.dir, "token")
	startAgent(t, e.vaultBlock()+e.approleBlock(sink), Options{})
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(sink); err == nil {
		t.Fatal("a token was written without a role ID")
	}
	writeFile(t, e.roleIDFile, string(roleID))
	waitForFile(t, sink, 5*time.Second, nil)
}

func TestSecretIDFileRemovedAfterReading(t *testing.T) {
	e := newEnv(t, "")
	sink := filepath.Join(e.dir, "token")
	text := strings.Replace(e.approleBlock(sink), "remove_secret_id_file_after_reading = false", "", 1)
	startAgent(t, e.vaultBlock()+text, Options{})
	waitForFile(t, sink, 10*time.Second, nil)
	if _, err := os.Stat(e.secretIDFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("secret ID file still present (err %v); the default removes it after reading", err)
	}
}

func TestExitAfterAuth(t *testing.T) {
	e := newEnv(t, "")
	sink := filepath.Join(e.dir, "token")
	if _, err := e.s.Client.KVv2("secret").Put(t.Context(), "app", map[string]interface{}{"password": "pw"}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(e.dir, "rendered")
	tmpl := "template {\n  destination = \"" + dest + "\"\n  contents = \"{{ with secret \\\"secret/data/app\\\" }}{{ .Data.data.password }}{{ end }}\"\n}\n"
	cfg, err := ParseConfig("agent.hcl", e.vaultBlock()+e.approleBlock(sink)+tmpl)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{ExitAfterAuth: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run returned only because of the timeout")
	}
	b, err := os.ReadFile(sink)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.NewClient(string(b)).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("sink token: %v", err)
	}
	if b, err := os.ReadFile(dest); err != nil || string(b) != "pw" {
		t.Fatalf("the template was not rendered once before exiting: %q %v", b, err)
	}
}

func TestTokenFileMethod(t *testing.T) {
	e := newEnv(t, "")
	sec, err := e.s.Client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"agent"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(e.dir, "vault-token")
	writeFile(t, tokFile, sec.Auth.ClientToken+"\n")
	sink := filepath.Join(e.dir, "token")
	text := e.vaultBlock() + `
auto_auth {
  method {
    type = "token_file"
    config = { token_file_path = "` + tokFile + `" }
  }
  sink "file" { config = { path = "` + sink + `" } }
}`
	startAgent(t, text, Options{})
	got := waitForFile(t, sink, 10*time.Second, nil)
	if got != sec.Auth.ClientToken {
		t.Fatalf("sink = %q, want the token from the file", got)
	}
	if fi, _ := os.Stat(sink); fi.Mode().Perm() != DefaultSinkMode {
		t.Errorf("sink mode = %o, want the default %o", fi.Mode().Perm(), DefaultSinkMode)
	}
}

func TestWrappedSecretID(t *testing.T) {
	e := newEnv(t, "")
	wrapping, err := e.s.Client.Clone()
	if err != nil {
		t.Fatal(err)
	}
	wrapping.SetToken(e.s.RootToken)
	wrapping.SetWrappingLookupFunc(func(string, string) string { return "5m" })
	newWrapped := func() {
		s, err := wrapping.Logical().Write("auth/approle/role/agent/secret-id", nil)
		if err != nil || s.WrapInfo == nil {
			t.Fatalf("wrapped secret ID: %v %+v", err, s)
		}
		writeFile(t, e.secretIDFile, s.WrapInfo.Token)
	}
	config := func(path, sink string, exitOnErr bool) string {
		text := strings.Replace(e.approleBlock(sink), "remove_secret_id_file_after_reading = false",
			"secret_id_response_wrapping_path = \""+path+"\"", 1)
		if exitOnErr {
			text = strings.Replace(text, `min_backoff = "100ms"`, "exit_on_err = true\n    min_backoff = \"100ms\"", 1)
		}
		return e.vaultBlock() + text
	}

	newWrapped()
	sink := filepath.Join(e.dir, "token")
	startAgent(t, config("auth/approle/role/agent/secret-id", sink, false), Options{})
	tok := waitForFile(t, sink, 10*time.Second, nil)
	if _, err := e.s.NewClient(tok).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("token from a wrapped secret ID: %v", err)
	}

	// A wrapping token created elsewhere is refused before it is unwrapped.
	newWrapped()
	_, errc := startAgent(t, config("auth/approle/role/other/secret-id", filepath.Join(e.dir, "token2"), true), Options{})
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), `not at secret_id_response_wrapping_path "auth/approle/role/other/secret-id"`) {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a wrapping token from another path was accepted")
	}
}
