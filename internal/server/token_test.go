package server_test

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func TestPoliciesGovernAccess(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if _, err := c.KVv2("secret").Put(t.Context(), "app/config", map[string]interface{}{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("secret").Put(t.Context(), "other/config", map[string]interface{}{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	err := c.Sys().PutPolicy("app", `
path "secret/data/app/*" { capabilities = ["read", "update", "create"] }
path "secret/data/app/locked" { capabilities = ["deny"] }
path "secret/metadata/+/config" { capabilities = ["list", "read"] }
path "sys/policies/acl/*" { capabilities = ["read"] }
`)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"app"}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Auth.LeaseDuration != 600 || !tok.Auth.Renewable {
		t.Fatalf("token auth block: %+v", tok.Auth)
	}
	u := s.NewClient(tok.Auth.ClientToken)
	if _, err := u.KVv2("secret").Get(t.Context(), "app/config"); err != nil {
		t.Fatalf("allowed read: %v", err)
	}
	if _, err := u.KVv2("secret").Put(t.Context(), "app/new", map[string]interface{}{"a": 1}); err != nil {
		t.Fatalf("allowed create: %v", err)
	}
	_, err = u.KVv2("secret").Get(t.Context(), "other/config")
	mustStatus(t, err, http.StatusForbidden, "permission denied")
	_, err = u.KVv2("secret").Put(t.Context(), "app/locked", map[string]interface{}{"a": 1})
	mustStatus(t, err, http.StatusForbidden, "permission denied")
	if _, err := u.KVv2("secret").GetMetadata(t.Context(), "other/config"); err != nil {
		t.Fatalf("+ wildcard read: %v", err)
	}
	_, err = u.Sys().ListMounts()
	mustStatus(t, err, http.StatusForbidden, "permission denied")

	caps, err := c.Sys().CapabilitiesAccessor(tok.Auth.Accessor, "secret/data/app/x")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(caps)
	if want := []string{"create", "read", "update"}; !equal(caps, want) {
		t.Fatalf("capabilities-accessor = %v, want %v", caps, want)
	}
	self, err := u.Sys().CapabilitiesSelf("secret/data/app/locked")
	if err != nil || !equal(self, []string{"deny"}) {
		t.Fatalf("capabilities-self on denied path = %v %v", self, err)
	}

	// A token unknown to the server.
	_, err = s.NewClient("hvs.notarealtoken000000000000").KVv2("secret").Get(t.Context(), "app/config")
	mustStatus(t, err, http.StatusForbidden, "invalid token")
	// No token at all.
	_, err = s.NewClient("").KVv2("secret").Get(t.Context(), "app/config")
	mustStatus(t, err, http.StatusForbidden, "permission denied")
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTokenLifecycle(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir()})
	c := s.Client
	if err := c.Sys().PutPolicy("tokens", `path "auth/token/create" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	parent, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default", "tokens"}, TTL: "1h", DisplayName: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	pc := s.NewClient(parent.Auth.ClientToken)
	child, err := pc.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pc.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"root"}})
	mustStatus(t, err, http.StatusBadRequest, "subset")

	look, err := c.Auth().Token().Lookup(child.Auth.ClientToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"accessor", "creation_time", "creation_ttl", "display_name", "expire_time", "explicit_max_ttl", "id", "issue_time", "meta", "num_uses", "orphan", "path", "policies", "renewable", "ttl", "type"} {
		if _, ok := look.Data[f]; !ok {
			t.Errorf("lookup lacks field %q", f)
		}
	}
	if look.Data["display_name"] != "token" {
		t.Logf("child display_name = %v", look.Data["display_name"])
	}
	if s, _ := c.Auth().Token().Lookup(parent.Auth.ClientToken); s.Data["display_name"] != "token-ci" {
		t.Errorf("parent display_name = %v, want token-ci", s.Data["display_name"])
	}

	// Renew.
	ren, err := pc.Auth().Token().RenewSelf(3600)
	if err != nil || ren.Auth == nil || ren.Auth.LeaseDuration < 3590 {
		t.Fatalf("renew-self: %+v %v", ren, err)
	}

	// Revoking the parent revokes the child, also after a restart.
	s.Restart()
	c = s.Client
	if err := c.Auth().Token().RevokeTree(parent.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	_, err = s.NewClient(child.Auth.ClientToken).Auth().Token().LookupSelf()
	mustStatus(t, err, http.StatusForbidden, "permission denied")

	// Limited uses.
	lim, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, NumUses: 2})
	if err != nil {
		t.Fatal(err)
	}
	lc := s.NewClient(lim.Auth.ClientToken)
	for i := 0; i < 2; i++ {
		if _, err := lc.Auth().Token().LookupSelf(); err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
	}
	_, err = lc.Auth().Token().LookupSelf()
	mustStatus(t, err, http.StatusForbidden, "permission denied")

	// Orphans and accessors.
	orph, err := c.Auth().Token().CreateOrphan(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil || !orph.Auth.Orphan {
		t.Fatalf("orphan: %+v %v", orph, err)
	}
	if err := c.Auth().Token().RevokeAccessor(orph.Auth.Accessor); err != nil {
		t.Fatal(err)
	}
	_, err = s.NewClient(orph.Auth.ClientToken).Auth().Token().LookupSelf()
	mustStatus(t, err, http.StatusForbidden, "permission denied")
}

func TestTokenExpiresWithItsLease(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	tok, err := s.Client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, TTL: "2s"})
	if err != nil {
		t.Fatal(err)
	}
	u := s.NewClient(tok.Auth.ClientToken)
	if _, err := u.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Client.Auth().Token().LookupAccessor(tok.Auth.Accessor)
		if err != nil {
			break // the token (and its accessor) are gone
		}
		if time.Now().After(deadline) {
			t.Fatal("token still present 10s after its 2s TTL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = u.Auth().Token().LookupSelf()
	mustStatus(t, err, http.StatusForbidden, "permission denied")
	n, err := s.Client.Logical().List("sys/leases/lookup/auth/token/create/")
	if err != nil {
		t.Fatal(err)
	}
	if n != nil {
		t.Fatalf("token lease still listed after expiry: %v", n.Data)
	}
}
