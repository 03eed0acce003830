package approle_test

import (
	"slices"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func TestE2ENoDefaultPolicy(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("auth/approle/role/bare", map[string]interface{}{
		"token_policies": "app", "token_no_default_policy": true,
	}); err != nil {
		t.Fatal(err)
	}
	rid, err := c.Logical().Read("auth/approle/role/bare/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := c.Logical().Write("auth/approle/role/bare/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	login, err := s.NewClient("").Logical().Write("auth/approle/login", map[string]interface{}{
		"role_id": rid.Data["role_id"], "secret_id": sid.Data["secret_id"],
	})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(login.Auth.Policies, "default") || !slices.Contains(login.Auth.Policies, "app") {
		t.Fatalf("policies %v: want app without default", login.Auth.Policies)
	}
}
