package userpass

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestUserpass(t *testing.T) {
	ctx := context.Background()
	b, err := Factory(ctx, &logical.BackendConfig{})
	if err != nil {
		t.Fatal(err)
	}
	framework.TestPaths(t, b.(*backend).Paths)
	s := logical.NewInmemStorage()
	do := func(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
		return b.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Data: data, Storage: s})
	}
	if _, err := do(logical.CreateOperation, "users/alice", map[string]interface{}{"password": "s3cr3t!", "token_policies": "dev,ops", "token_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	keys, _ := logical.CollectKeys(ctx, s, "")
	for _, k := range keys {
		e, _ := s.Get(ctx, k)
		if strings.Contains(string(e.Value), "s3cr3t!") {
			t.Fatal("password stored in clear")
		}
	}
	resp, err := do(logical.UpdateOperation, "login/Alice", map[string]interface{}{"password": "s3cr3t!"})
	if err != nil || resp.Auth == nil || resp.Auth.Metadata["username"] != "alice" || len(resp.Auth.Policies) != 2 {
		t.Fatalf("login: %+v %v", resp, err)
	}
	for _, bad := range []map[string]interface{}{{"password": "wrong"}, {}} {
		if _, err := do(logical.UpdateOperation, "login/alice", bad); !errors.Is(err, logical.ErrInvalidRequest) || !strings.Contains(err.Error(), "invalid username or password") {
			t.Fatalf("bad login %v: %v", bad, err)
		}
	}
	if _, err := do(logical.UpdateOperation, "login/nobody", map[string]interface{}{"password": "x"}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := do(logical.UpdateOperation, "users/alice/password", map[string]interface{}{"password": "new-pass"}); err != nil {
		t.Fatal(err)
	}
	if _, err := do(logical.UpdateOperation, "login/alice", map[string]interface{}{"password": "new-pass"}); err != nil {
		t.Fatalf("login after password change: %v", err)
	}
	if _, err := do(logical.CreateOperation, "users/bob", map[string]interface{}{"password": "x", "token_ttl": "2h", "token_max_ttl": "1h"}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("ttl > max: %v", err)
	}
	if _, err := do(logical.CreateOperation, "users/carol", map[string]interface{}{"token_policies": "x"}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("user without password: %v", err)
	}
	list, err := do(logical.ListOperation, "users/", nil)
	if err != nil || len(list.Data["keys"].([]string)) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := do(logical.DeleteOperation, "users/alice", nil); err != nil {
		t.Fatal(err)
	}
	renewReq := &logical.Request{Operation: logical.RenewOperation, Storage: s, Auth: &logical.Auth{InternalData: map[string]interface{}{"username": "alice"}}}
	if _, err := b.HandleRequest(ctx, renewReq); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("renew for a deleted user: %v", err)
	}
}
