package agent

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// proxyConfig is auto-auth plus a plain-HTTP proxy with the given
// use_auto_auth_token value and optional cache.
func (e *env) proxyConfig(useToken string, cache bool) string {
	text := e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + fmt.Sprintf(`
api_proxy { use_auto_auth_token = %s }
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
`, useToken)
	if cache {
		text += "cache {}\n"
	}
	return text
}

func policiesOf(t *testing.T, c *api.Client) string {
	t.Helper()
	s, err := c.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.TokenPolicies()
	return strings.Join(p, ",")
}

func TestProxyInjectsTokenOnlyWhenMissing(t *testing.T) {
	e := newEnv(t, "")
	a, _ := startAgent(t, e.proxyConfig("true", false), Options{})
	addr := "http://" + a.Addrs()[0]
	if got := policiesOf(t, proxyClient(t, addr, "")); !strings.Contains(got, "agent") {
		t.Errorf("without a token the proxy used policies %q, want the agent's", got)
	}
	if got := policiesOf(t, proxyClient(t, addr, e.s.RootToken)); got != "root" {
		t.Errorf("with the root token the proxy used policies %q, want root", got)
	}
}

func TestProxyForceReplacesClientToken(t *testing.T) {
	e := newEnv(t, "")
	a, _ := startAgent(t, e.proxyConfig(`"force"`, false), Options{})
	addr := "http://" + a.Addrs()[0]
	if got := policiesOf(t, proxyClient(t, addr, "hvs.not-a-real-token")); !strings.Contains(got, "agent") {
		t.Errorf("force mode used policies %q, want the agent's", got)
	}
}

func TestProxyCachesTokenCreationAndEvictsOnRevoke(t *testing.T) {
	e := newEnv(t, "")
	a, _ := startAgent(t, e.proxyConfig("true", true), Options{})
	addr := "http://" + a.Addrs()[0]
	req := &api.TokenCreateRequest{Policies: []string{"default"}, TTL: "10m"}
	c1, c2 := proxyClient(t, addr, ""), proxyClient(t, addr, "")
	t1, err := c1.Auth().Token().Create(req)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c2.Auth().Token().Create(req)
	if err != nil {
		t.Fatal(err)
	}
	if t1.Auth.ClientToken != t2.Auth.ClientToken {
		t.Fatal("the same token creation through the cache returned two tokens")
	}
	// Another body is another request.
	t3, err := c1.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, TTL: "11m"})
	if err != nil {
		t.Fatal(err)
	}
	if t3.Auth.ClientToken == t1.Auth.ClientToken {
		t.Fatal("a different request was served from the cache")
	}
	// Revoking the token through the proxy evicts the cached creation.
	if err := proxyClient(t, addr, t1.Auth.ClientToken).Auth().Token().RevokeSelf(""); err != nil {
		t.Fatal(err)
	}
	t4, err := c2.Auth().Token().Create(req)
	if err != nil {
		t.Fatal(err)
	}
	if t4.Auth.ClientToken == t1.Auth.ClientToken {
		t.Fatal("the proxy served a revoked token from its cache")
	}
	if _, err := e.s.NewClient(t4.Auth.ClientToken).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("the new token does not work: %v", err)
	}

	// cache-clear empties the cache.
	r, err := http.Post(addr+"/agent/v1/cache-clear", "application/json", strings.NewReader(`{"type":"all"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("cache-clear status %d", r.StatusCode)
	}
	t5, err := c1.Auth().Token().Create(req)
	if err != nil {
		t.Fatal(err)
	}
	if t5.Auth.ClientToken == t4.Auth.ClientToken {
		t.Fatal("cache-clear did not clear")
	}
}

func TestProxyTLSListenerAndRequestHeader(t *testing.T) {
	e := newEnv(t, "")
	text := e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + fmt.Sprintf(`
api_proxy { use_auto_auth_token = true }
listener "tcp" {
  address                = "127.0.0.1:0"
  tls_cert_file          = %q
  tls_key_file           = %q
  require_request_header = true
}
`, e.s.TLS.CertFile, e.s.TLS.KeyFile)
	a, _ := startAgent(t, text, Options{})
	conf := api.DefaultConfig()
	conf.Address = "https://" + a.Addrs()[0]
	conf.MaxRetries = 0
	if err := conf.ConfigureTLS(&api.TLSConfig{CACert: e.s.CACertFile}); err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	// vault/api sends X-Vault-Request: true.
	if got := policiesOf(t, c); !strings.Contains(got, "agent") {
		t.Errorf("policies %q", got)
	}
	hc := conf.HttpClient
	resp, err := hc.Get(conf.Address + "/v1/auth/token/lookup-self")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("request without X-Vault-Request: status %d, want 412", resp.StatusCode)
	}
}

func TestProxyWaitsForFirstToken(t *testing.T) {
	e := newEnv(t, "")
	roleID := e.roleIDFile
	moved := roleID + ".later"
	if err := renameFile(roleID, moved); err != nil {
		t.Fatal(err)
	}
	a, _ := startAgent(t, e.proxyConfig("true", false), Options{})
	addr := "http://" + a.Addrs()[0]
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = renameFile(moved, roleID)
	}()
	start := time.Now()
	if got := policiesOf(t, proxyClient(t, addr, "")); !strings.Contains(got, "agent") {
		t.Errorf("policies %q", got)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Error("the request was answered before the agent had a token")
	}
}
