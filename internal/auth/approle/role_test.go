package approle

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPathTable(t *testing.T) {
	b := newHarness(t).b
	framework.TestPaths(t, b.Paths)

	patterns := map[string]bool{}
	for _, p := range b.Paths {
		patterns[p.Pattern] = true
	}
	for _, sub := range []string{"policies", "token-ttl", "token-max-ttl", "secret-id-ttl", "secret-id-num-uses",
		"period", "bound-cidr-list", "secret-id-bound-cidrs", "token-bound-cidrs", "token-num-uses",
		"bind-secret-id", "local-secret-ids", "role-id", "secret-id/?", "custom-secret-id", "secret-id/lookup/?",
		"secret-id/destroy/?", "secret-id-accessor/lookup/?", "secret-id-accessor/destroy/?"} {
		if !patterns[rolePattern("/"+sub)] {
			t.Errorf("no path for role/<name>/%s", sub)
		}
	}
	for _, p := range []string{"role/?", "login", "tidy/secret-id", rolePattern("")} {
		if !patterns[p] {
			t.Errorf("no path %q", p)
		}
	}
}

func TestFactory(t *testing.T) {
	lb, err := Factory(context.Background(), &logical.BackendConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if lb.Type() != logical.TypeCredential {
		t.Fatalf("type = %v", lb.Type())
	}
	if got := lb.SpecialPaths().Unauthenticated; !reflect.DeepEqual(got, []string{"login"}) {
		t.Fatalf("unauthenticated paths = %v", got)
	}
	if _, err := Factory(context.Background(), nil); err == nil {
		t.Fatal("nil config accepted")
	}
}

func TestRoleReadDefaults(t *testing.T) {
	h := newHarness(t)
	h.createRole("App", nil)
	got := h.ok(logical.ReadOperation, "role/app", nil).Data
	want := map[string]interface{}{
		"bind_secret_id": true, "secret_id_bound_cidrs": []string{}, "secret_id_num_uses": 0, "secret_id_ttl": int64(0),
		"local_secret_ids": false, "token_policies": []string{}, "token_ttl": int64(0), "token_max_ttl": int64(0),
		"token_period": int64(0), "token_num_uses": 0, "token_bound_cidrs": []string{}, "token_type": "default",
		"token_explicit_max_ttl": int64(0), "token_no_default_policy": false,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read = %#v\nwant %#v", got, want)
	}
	// Names are case-insensitive and listed in lower case.
	keys := h.ok(logical.ListOperation, "role", nil).Data["keys"]
	if !reflect.DeepEqual(keys, []string{"app"}) {
		t.Fatalf("list = %v", keys)
	}
	if resp := h.ok(logical.ReadOperation, "role/missing", nil); resp != nil {
		t.Fatalf("missing role read = %+v", resp)
	}
}

func TestRoleWrite(t *testing.T) {
	cases := []struct {
		name  string
		first map[string]interface{} // create
		then  map[string]interface{} // optional update
		want  map[string]interface{}
		warn  string
	}{{
		name: "token fields",
		first: map[string]interface{}{
			"token_policies": "b,a", "token_ttl": "10m", "token_max_ttl": 1800, "token_num_uses": 3,
			"token_bound_cidrs": []interface{}{"10.0.0.0/8", "192.168.1.1"}, "token_type": "service",
			"token_explicit_max_ttl": "2h", "token_no_default_policy": true,
		},
		want: map[string]interface{}{
			"token_policies": []string{"b", "a"}, "token_ttl": int64(600), "token_max_ttl": int64(1800), "token_num_uses": 3,
			"token_bound_cidrs": []string{"10.0.0.0/8", "192.168.1.1"}, "token_type": "service",
			"token_explicit_max_ttl": int64(7200), "token_no_default_policy": true,
		},
	}, {
		name:  "secret id fields",
		first: map[string]interface{}{"secret_id_ttl": "1h", "secret_id_num_uses": 5, "secret_id_bound_cidrs": "10.0.0.0/8, 127.0.0.1/32", "local_secret_ids": true},
		want:  map[string]interface{}{"secret_id_ttl": int64(3600), "secret_id_num_uses": 5, "secret_id_bound_cidrs": []string{"10.0.0.0/8", "127.0.0.1/32"}, "local_secret_ids": true},
	}, {
		name:  "legacy policies and period",
		first: map[string]interface{}{"policies": "p1,p2", "period": "1h"},
		want:  map[string]interface{}{"policies": []string{"p1", "p2"}, "token_policies": []string{"p1", "p2"}, "period": int64(3600), "token_period": int64(3600)},
	}, {
		name:  "current fields drop the legacy ones",
		first: map[string]interface{}{"policies": "p1", "period": "1h"},
		then:  map[string]interface{}{"token_policies": "p2", "token_period": "2h"},
		want:  map[string]interface{}{"token_policies": []string{"p2"}, "token_period": int64(7200), "policies": nil, "period": nil},
	}, {
		name:  "both given: the current field wins",
		first: map[string]interface{}{"policies": "old", "token_policies": "new"},
		want:  map[string]interface{}{"token_policies": []string{"new"}, "policies": []string{"new"}},
	}, {
		name:  "legacy bound_cidr_list",
		first: map[string]interface{}{"bound_cidr_list": "10.0.0.0/8"},
		want:  map[string]interface{}{"secret_id_bound_cidrs": []string{"10.0.0.0/8"}},
	}, {
		name:  "update keeps other fields",
		first: map[string]interface{}{"token_ttl": 60, "secret_id_num_uses": 2},
		then:  map[string]interface{}{"token_ttl": 120},
		want:  map[string]interface{}{"token_ttl": int64(120), "secret_id_num_uses": 2},
	}, {
		name:  "default-service token type",
		first: map[string]interface{}{"token_type": "default-service"},
		want:  map[string]interface{}{"token_type": "service"},
		warn:  "default-service has no useful meaning",
	}, {
		name:  "bind_secret_id false with CIDRs",
		first: map[string]interface{}{"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"},
		want:  map[string]interface{}{"bind_secret_id": false},
	}, {
		name:  "max ttl above the mount's",
		first: map[string]interface{}{"token_max_ttl": "10000h"},
		want:  map[string]interface{}{"token_max_ttl": int64(36000000)},
		warn:  "token_max_ttl is greater than the backend mount's maximum TTL",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			resp := h.ok(logical.UpdateOperation, "role/r", tc.first)
			if tc.then != nil {
				resp = h.ok(logical.UpdateOperation, "role/r", tc.then)
			}
			var warns []string
			if resp != nil {
				warns = resp.Warnings
			}
			if tc.warn != "" && !strings.Contains(strings.Join(warns, "|"), tc.warn) {
				t.Fatalf("warnings %v lack %q", warns, tc.warn)
			}
			got := h.ok(logical.ReadOperation, "role/r", nil).Data
			for k, v := range tc.want {
				if v == nil {
					if _, ok := got[k]; ok {
						t.Errorf("%s = %#v, want absent", k, got[k])
					}
					continue
				}
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
		})
	}
}

func TestRoleWriteErrors(t *testing.T) {
	cases := []struct {
		name string
		path string
		data map[string]interface{}
		kind error
		msg  string
	}{
		{"ttl above max", "role/r", map[string]interface{}{"token_ttl": 100, "token_max_ttl": 50}, logical.ErrInvalidRequest, "'token_ttl' cannot be greater than 'token_max_ttl'"},
		{"negative num uses", "role/r", map[string]interface{}{"secret_id_num_uses": -1}, logical.ErrInvalidRequest, "'secret_id_num_uses' cannot be negative"},
		{"negative token uses", "role/r", map[string]interface{}{"token_num_uses": -2}, logical.ErrInvalidRequest, "'token_num_uses' cannot be negative"},
		{"bad token type", "role/r", map[string]interface{}{"token_type": "weird"}, logical.ErrInvalidRequest, `invalid 'token_type' value "weird"`},
		{"periodic batch", "role/r", map[string]interface{}{"token_type": "batch", "token_period": 60}, logical.ErrInvalidRequest, "periodic tokens"},
		{"limited batch", "role/r", map[string]interface{}{"token_type": "batch", "token_num_uses": 2}, logical.ErrInvalidRequest, "limited use count"},
		{"bad cidr", "role/r", map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/33"}, logical.ErrInvalidRequest, `invalid CIDR blocks in "secret_id_bound_cidrs"`},
		{"bad token cidr", "role/r", map[string]interface{}{"token_bound_cidrs": "nope"}, logical.ErrInvalidRequest, `invalid CIDR blocks in "token_bound_cidrs"`},
		{"no constraint", "role/r", map[string]interface{}{"bind_secret_id": false}, logical.ErrInvalidRequest, "at least one constraint should be enabled on the role"},
		{"period above mount max", "role/r", map[string]interface{}{"token_period": "1000h"}, logical.ErrInvalidRequest, "greater than the backend's maximum lease TTL"},
		{"bad duration", "role/r", map[string]interface{}{"token_ttl": "soon"}, logical.ErrInvalidRequest, `field "token_ttl"`},
		{"slash in name", "role/a/b", map[string]interface{}{"token_ttl": 1}, logical.ErrInvalidRequest, `invalid role name "a/b"`},
		{"bad character", "role/a$b", nil, logical.ErrInvalidRequest, `invalid role name "a$b"`},
		{"name too long", "role/" + strings.Repeat("n", maxInputLength+1), nil, logical.ErrInvalidRequest, "role_name is longer than maximum of 4096 bytes"},
		{"empty custom role_id", "role/r", map[string]interface{}{"role_id": ""}, logical.ErrInvalidRequest, "missing role_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fail(logical.UpdateOperation, tc.path, tc.data, tc.kind, tc.msg)
			if h.countPrefix(prefixRole) != 0 {
				t.Fatal("a refused role was stored")
			}
		})
	}
}

func TestRoleUpdateErrors(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", map[string]interface{}{"local_secret_ids": true})
	h.fail(logical.UpdateOperation, "role/r", map[string]interface{}{"local_secret_ids": false}, logical.ErrInvalidRequest, "local_secret_ids can only be modified during role creation")
	// An update that would leave no constraint is refused and changes nothing.
	h.fail(logical.UpdateOperation, "role/r", map[string]interface{}{"bind_secret_id": false}, logical.ErrInvalidRequest, "at least one constraint")
	if got := h.ok(logical.ReadOperation, "role/r/bind-secret-id", nil).Data["bind_secret_id"]; got != true {
		t.Fatalf("bind_secret_id = %v after a refused update", got)
	}
	// The core turns writes to missing roles into creates; a bare update
	// of a missing role is refused.
	_, err := h.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.UpdateOperation, Path: "role/ghost", Storage: h.s})
	checkErr(t, err, logical.ErrNotFound, `role name "ghost" doesn't exist`)
}

// TestRoleSubPaths drives every generated per-field sub-path: write, read
// back (on the sub-path and the role), delete to the default.
func TestRoleSubPaths(t *testing.T) {
	cases := []struct {
		sub      string
		write    map[string]interface{}
		read     map[string]interface{}
		roleRead map[string]interface{}
		reset    map[string]interface{}
	}{
		{"policies", map[string]interface{}{"token_policies": "x,y"}, map[string]interface{}{"token_policies": []string{"x", "y"}}, map[string]interface{}{"token_policies": []string{"x", "y"}}, map[string]interface{}{"token_policies": []string{}}},
		{"policies", map[string]interface{}{"policies": "x"}, map[string]interface{}{"token_policies": []string{"x"}, "policies": []string{"x"}}, map[string]interface{}{"policies": []string{"x"}}, map[string]interface{}{"token_policies": []string{}}},
		{"token-ttl", map[string]interface{}{"token_ttl": "5m"}, map[string]interface{}{"token_ttl": int64(300)}, map[string]interface{}{"token_ttl": int64(300)}, map[string]interface{}{"token_ttl": int64(0)}},
		{"token-max-ttl", map[string]interface{}{"token_max_ttl": "1h"}, map[string]interface{}{"token_max_ttl": int64(3600)}, map[string]interface{}{"token_max_ttl": int64(3600)}, map[string]interface{}{"token_max_ttl": int64(0)}},
		{"secret-id-ttl", map[string]interface{}{"secret_id_ttl": 90}, map[string]interface{}{"secret_id_ttl": int64(90)}, map[string]interface{}{"secret_id_ttl": int64(90)}, map[string]interface{}{"secret_id_ttl": int64(0)}},
		{"secret-id-num-uses", map[string]interface{}{"secret_id_num_uses": 7}, map[string]interface{}{"secret_id_num_uses": 7}, map[string]interface{}{"secret_id_num_uses": 7}, map[string]interface{}{"secret_id_num_uses": 0}},
		{"period", map[string]interface{}{"token_period": "30m"}, map[string]interface{}{"token_period": int64(1800)}, map[string]interface{}{"token_period": int64(1800)}, map[string]interface{}{"token_period": int64(0)}},
		{"period", map[string]interface{}{"period": "30m"}, map[string]interface{}{"token_period": int64(1800), "period": int64(1800)}, map[string]interface{}{"period": int64(1800)}, map[string]interface{}{"token_period": int64(0)}},
		{"bound-cidr-list", map[string]interface{}{"bound_cidr_list": "10.0.0.0/8"}, map[string]interface{}{"bound_cidr_list": []string{"10.0.0.0/8"}}, map[string]interface{}{"secret_id_bound_cidrs": []string{"10.0.0.0/8"}}, map[string]interface{}{"bound_cidr_list": []string{}}},
		{"secret-id-bound-cidrs", map[string]interface{}{"secret_id_bound_cidrs": []interface{}{"10.0.0.0/8"}}, map[string]interface{}{"secret_id_bound_cidrs": []string{"10.0.0.0/8"}}, map[string]interface{}{"secret_id_bound_cidrs": []string{"10.0.0.0/8"}}, map[string]interface{}{"secret_id_bound_cidrs": []string{}}},
		{"token-bound-cidrs", map[string]interface{}{"token_bound_cidrs": "127.0.0.1"}, map[string]interface{}{"token_bound_cidrs": []string{"127.0.0.1"}}, map[string]interface{}{"token_bound_cidrs": []string{"127.0.0.1"}}, map[string]interface{}{"token_bound_cidrs": []string{}}},
		{"token-num-uses", map[string]interface{}{"token_num_uses": 4}, map[string]interface{}{"token_num_uses": 4}, map[string]interface{}{"token_num_uses": 4}, map[string]interface{}{"token_num_uses": 0}},
		{"bind-secret-id", map[string]interface{}{"bind_secret_id": false, "secret_id_bound_cidrs": "x"}, nil, nil, nil}, // unknown field on the sub-path: ignored, so the constraint check fails
	}
	for _, tc := range cases {
		t.Run(tc.sub, func(t *testing.T) {
			h := newHarness(t)
			h.createRole("r", map[string]interface{}{"token_policies": "orig"})
			path := "role/r/" + tc.sub
			if tc.read == nil {
				h.fail(logical.UpdateOperation, path, tc.write, logical.ErrInvalidRequest, "at least one constraint")
				return
			}
			h.ok(logical.UpdateOperation, path, tc.write)
			if got := h.ok(logical.ReadOperation, path, nil).Data; !reflect.DeepEqual(got, tc.read) {
				t.Fatalf("read %s = %#v, want %#v", path, got, tc.read)
			}
			role := h.ok(logical.ReadOperation, "role/r", nil).Data
			for k, v := range tc.roleRead {
				if !reflect.DeepEqual(role[k], v) {
					t.Fatalf("role %s = %#v, want %#v", k, role[k], v)
				}
			}
			h.ok(logical.DeleteOperation, path, nil)
			if got := h.ok(logical.ReadOperation, path, nil).Data; !reflect.DeepEqual(got, tc.reset) {
				t.Fatalf("after delete %s = %#v, want %#v", path, got, tc.reset)
			}
		})
	}
}

func TestRoleSubPathErrors(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", nil)
	h.fail(logical.UpdateOperation, "role/r/token-ttl", nil, logical.ErrInvalidRequest, "missing token_ttl")
	h.fail(logical.UpdateOperation, "role/r/policies", map[string]interface{}{}, logical.ErrInvalidRequest, "missing token_policies")
	h.fail(logical.UpdateOperation, "role/ghost/token-ttl", map[string]interface{}{"token_ttl": 5}, logical.ErrNotFound, `role "ghost" does not exist`)
	h.fail(logical.UpdateOperation, "role/r/local-secret-ids", map[string]interface{}{"local_secret_ids": true}, logical.ErrUnsupportedOperation, "unsupported operation")
	h.fail(logical.DeleteOperation, "role/r/role-id", nil, logical.ErrUnsupportedOperation, "unsupported operation")
	h.ok(logical.UpdateOperation, "role/r/token-max-ttl", map[string]interface{}{"token_max_ttl": 60})
	h.fail(logical.UpdateOperation, "role/r/token-ttl", map[string]interface{}{"token_ttl": 61}, logical.ErrInvalidRequest, "'token_ttl' cannot be greater than 'token_max_ttl'")
	if got := h.ok(logical.ReadOperation, "role/r/local-secret-ids", nil).Data; !reflect.DeepEqual(got, map[string]interface{}{"local_secret_ids": false}) {
		t.Fatalf("local-secret-ids = %v", got)
	}
	if resp := h.ok(logical.ReadOperation, "role/ghost/token-ttl", nil); resp != nil {
		t.Fatalf("sub-path read of a missing role = %+v", resp)
	}
}

func TestRoleIDs(t *testing.T) {
	h := newHarness(t)
	h.createRole("a", map[string]interface{}{"role_id": "custom-a"})
	h.createRole("b", nil)
	if got := h.roleID("a"); got != "custom-a" {
		t.Fatalf("role_id = %q", got)
	}
	generated := h.roleID("b")
	if len(generated) != 36 || generated[14] != '4' {
		t.Fatalf("generated role_id %q is not a v4 UUID", generated)
	}
	// A role_id belongs to one role only.
	h.fail(logical.UpdateOperation, "role/b/role-id", map[string]interface{}{"role_id": "custom-a"}, logical.ErrInvalidRequest, "role_id already in use")
	h.fail(logical.UpdateOperation, "role/c", map[string]interface{}{"role_id": "custom-a"}, logical.ErrInvalidRequest, "role_id already in use")

	// Changing a role_id moves the index: the old one stops working.
	sid, _ := h.secretID("a", nil)
	h.mustLogin("custom-a", sid)
	h.ok(logical.UpdateOperation, "role/a/role-id", map[string]interface{}{"role_id": "renamed"})
	if _, err := h.login("custom-a", sid, testRemote); err == nil {
		t.Fatal("old role_id still logs in")
	}
	h.mustLogin("renamed", sid)
	if n := h.countPrefix(prefixRoleID); n != 2 {
		t.Fatalf("%d role_id index entries, want 2", n)
	}
	// The freed role_id can be taken by another role.
	h.ok(logical.UpdateOperation, "role/b/role-id", map[string]interface{}{"role_id": "custom-a"})
	h.fail(logical.UpdateOperation, "role/b/role-id", map[string]interface{}{"role_id": ""}, logical.ErrInvalidRequest, "missing role_id")
}

func TestRoleDelete(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", nil)
	h.createRole("keep", nil)
	rid := h.roleID("r")
	sid, _ := h.secretID("r", nil)
	h.secretID("r", nil)
	h.secretID("keep", nil)
	h.ok(logical.DeleteOperation, "role/r", nil)
	if resp := h.ok(logical.ReadOperation, "role/r", nil); resp != nil {
		t.Fatalf("deleted role reads %+v", resp)
	}
	if _, err := h.login(rid, sid, testRemote); err == nil {
		t.Fatal("login with a deleted role's credentials")
	}
	if n, m := h.countPrefix(prefixSecretID), h.countPrefix(prefixAccessor); n != 1 || m != 1 {
		t.Fatalf("%d secret IDs and %d accessors left, want the other role's 1 and 1", n, m)
	}
	if n := h.countPrefix(prefixRoleID); n != 1 {
		t.Fatalf("%d role_id index entries left", n)
	}
	// Deleting again is fine; re-creating gives a fresh role_id.
	h.ok(logical.DeleteOperation, "role/r", nil)
	h.createRole("r", nil)
	if h.roleID("r") == rid {
		t.Fatal("re-created role kept the old role_id")
	}
}
