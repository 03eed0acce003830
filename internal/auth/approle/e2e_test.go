package approle_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// TestEndToEnd drives AppRole through a real server with the vault/api
// client: enable, role with a policy, role-id and secret-id, login, use
// the token, renew it, and check what it may not do.
func TestEndToEnd(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatalf("enable approle: %v", err)
	}
	if err := c.Sys().PutPolicy("app-read", `path "secret/data/app/*" { capabilities = ["read"] }`); err != nil {
		t.Fatalf("put policy: %v", err)
	}
	if _, err := c.Logical().Write("secret/data/app/config", map[string]interface{}{"data": map[string]interface{}{"db": "pg"}}); err != nil {
		t.Fatalf("write secret: %v", err)
	}
	if _, err := c.Logical().Write("auth/approle/role/web", map[string]interface{}{
		"token_policies": "app-read", "token_ttl": "20m", "token_max_ttl": "1h", "secret_id_num_uses": 5,
	}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	role, err := c.Logical().Read("auth/approle/role/web")
	if err != nil || role == nil || role.Data["token_ttl"] != json.Number("1200") || role.Data["bind_secret_id"] != true {
		t.Fatalf("read role = %+v, %v", role, err)
	}
	list, err := c.Logical().List("auth/approle/role")
	if err != nil || list == nil || len(list.Data["keys"].([]interface{})) != 1 {
		t.Fatalf("list roles = %+v, %v", list, err)
	}

	ridResp, err := c.Logical().Read("auth/approle/role/web/role-id")
	if err != nil || ridResp == nil {
		t.Fatalf("read role-id: %v", err)
	}
	roleID := ridResp.Data["role_id"].(string)
	sidResp, err := c.Logical().Write("auth/approle/role/web/secret-id", map[string]interface{}{"metadata": `{"host":"web-1"}`})
	if err != nil || sidResp == nil {
		t.Fatalf("generate secret-id: %v", err)
	}
	secretID := sidResp.Data["secret_id"].(string)
	if sidResp.Data["secret_id_num_uses"] != json.Number("5") || sidResp.Data["secret_id_accessor"] == "" {
		t.Fatalf("secret-id response = %v", sidResp.Data)
	}

	anon := s.NewClient("")
	login, err := anon.Logical().Write("auth/approle/login", map[string]interface{}{"role_id": roleID, "secret_id": secretID})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	a := login.Auth
	if a == nil || a.ClientToken == "" || a.Accessor == "" || !a.Renewable || a.LeaseDuration != 1200 {
		t.Fatalf("login auth = %+v", a)
	}
	if strings.Join(a.TokenPolicies, ",") != "app-read,default" || a.Metadata["role_name"] != "web" || a.Metadata["host"] != "web-1" {
		t.Fatalf("login policies %v metadata %v", a.TokenPolicies, a.Metadata)
	}

	app := s.NewClient(a.ClientToken)
	self, err := app.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatalf("lookup-self: %v", err)
	}
	if self.Data["display_name"] != "approle" || self.Data["path"] != "auth/approle/login" {
		t.Fatalf("lookup-self = %v", self.Data)
	}
	if meta, _ := self.Data["meta"].(map[string]interface{}); meta["role_name"] != "web" {
		t.Fatalf("lookup-self meta = %v", self.Data["meta"])
	}
	sec, err := app.Logical().Read("secret/data/app/config")
	if err != nil || sec == nil {
		t.Fatalf("read allowed secret: %v", err)
	}

	// Renewal goes back to the role: an increment is capped by its
	// token_max_ttl (1h from issue).
	renewed, err := app.Logical().Write("auth/token/renew-self", map[string]interface{}{"increment": "3h"})
	if err != nil || renewed.Auth == nil || renewed.Auth.LeaseDuration < 3590 || renewed.Auth.LeaseDuration > 3600 {
		t.Fatalf("renew-self = %+v, %v", renewed, err)
	}

	for _, path := range []string{"secret/data/other", "auth/approle/role/web", "sys/policy/app-read"} {
		_, err := app.Logical().Read(path)
		if re, ok := err.(*api.ResponseError); !ok || re.StatusCode != 403 {
			t.Errorf("read %s with the approle token: %v, want 403", path, err)
		}
	}
	if _, err := app.Logical().Write("auth/approle/role/web/secret-id", nil); err == nil {
		t.Error("approle token generated a secret ID")
	}

	// Vault's answer to bad credentials, over HTTP.
	_, err = anon.Logical().Write("auth/approle/login", map[string]interface{}{"role_id": roleID, "secret_id": "wrong"})
	if re, ok := err.(*api.ResponseError); !ok || re.StatusCode != 400 || len(re.Errors) != 1 || re.Errors[0] != "invalid role or secret ID" {
		t.Fatalf("bad secret_id: %v", err)
	}
	// A role name with a slash is a bad request.
	_, err = c.Logical().Write("auth/approle/role/a/b", map[string]interface{}{"token_ttl": 60})
	if re, ok := err.(*api.ResponseError); !ok || re.StatusCode != 400 {
		t.Fatalf("role name with a slash: %v", err)
	}
	// Malformed metadata names the field.
	_, err = c.Logical().Write("auth/approle/role/web/secret-id", map[string]interface{}{"metadata": "{oops"})
	if re, ok := err.(*api.ResponseError); !ok || re.StatusCode != 400 || !strings.Contains(re.Error(), "metadata") {
		t.Fatalf("malformed metadata: %v", err)
	}
	// The test server's clients come from 127.0.0.1: a role bound
	// elsewhere refuses them.
	if _, err := c.Logical().Write("auth/approle/role/far", map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	farID, _ := c.Logical().Read("auth/approle/role/far/role-id")
	farSecret, _ := c.Logical().Write("auth/approle/role/far/secret-id", nil)
	_, err = anon.Logical().Write("auth/approle/login", map[string]interface{}{"role_id": farID.Data["role_id"], "secret_id": farSecret.Data["secret_id"]})
	if re, ok := err.(*api.ResponseError); !ok || re.StatusCode != 400 || !strings.Contains(re.Error(), "unauthorized by CIDR restrictions on the role") {
		t.Fatalf("login from outside the role's CIDRs: %v", err)
	}

	// A role without secret IDs, bound to the loopback addresses, logs in
	// with its role_id alone.
	if _, err := c.Logical().Write("auth/approle/role/local", map[string]interface{}{
		"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8", "token_bound_cidrs": "127.0.0.1/32",
	}); err != nil {
		t.Fatal(err)
	}
	localID, _ := c.Logical().Read("auth/approle/role/local/role-id")
	local, err := anon.Logical().Write("auth/approle/login", map[string]interface{}{"role_id": localID.Data["role_id"]})
	if err != nil || local.Auth == nil || local.Auth.ClientToken == "" {
		t.Fatalf("role_id-only login: %+v, %v", local, err)
	}
	if _, err := s.NewClient(local.Auth.ClientToken).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("CIDR-bound token used from its CIDR: %v", err)
	}

	// Tidy answers over HTTP.
	tidy, err := c.Logical().Write("auth/approle/tidy/secret-id", nil)
	if err != nil || tidy == nil || len(tidy.Warnings) == 0 {
		t.Fatalf("tidy = %+v, %v", tidy, err)
	}

	// Once the role is gone its tokens no longer renew.
	if _, err := c.Logical().Delete("auth/approle/role/web"); err != nil {
		t.Fatal(err)
	}
	_, err = app.Logical().Write("auth/token/renew-self", nil)
	if re, ok := err.(*api.ResponseError); !ok || re.StatusCode != 400 || !strings.Contains(re.Error(), `role "web" does not exist during renewal`) {
		t.Fatalf("renew after the role was deleted: %v", err)
	}
}
