package userpass_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func TestE2EUserpassLogin(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if err := c.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().PutPolicy("dev", `path "secret/data/dev/*" { capabilities = ["read", "create", "update"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("auth/userpass/users/alice", map[string]interface{}{"password": "correct horse", "token_policies": "dev", "token_ttl": "30m"}); err != nil {
		t.Fatal(err)
	}
	anon := s.NewClient("")
	sec, err := anon.Logical().Write("auth/userpass/login/alice", map[string]interface{}{"password": "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Auth == nil || !slices.Contains(sec.Auth.Policies, "dev") || sec.Auth.LeaseDuration != 1800 {
		t.Fatalf("login auth: %+v", sec.Auth)
	}
	u := s.NewClient(sec.Auth.ClientToken)
	self, err := u.Auth().Token().LookupSelf()
	if err != nil || self.Data["display_name"] != "userpass-alice" {
		t.Fatalf("lookup-self: %+v %v", self, err)
	}
	if _, err := u.KVv2("secret").Put(t.Context(), "dev/x", map[string]interface{}{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	_, err = anon.Logical().Write("auth/userpass/login/alice", map[string]interface{}{"password": "wrong"})
	var re *api.ResponseError
	if err == nil || !strings.Contains(err.Error(), "invalid username or password") {
		t.Fatalf("wrong password: %v", err)
	} else if ok := errorsAs(err, &re); ok && re.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong password status %d", re.StatusCode)
	}
	if _, err := u.Auth().Token().RenewSelf(0); err != nil {
		t.Fatalf("renew: %v", err)
	}
}
