package token

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestRoleCRUD(t *testing.T) {
	h := newHarness(t)
	resp := h.ok(logical.CreateOperation, "roles/nomad", h.root, map[string]interface{}{
		"allowed_policies": "dev,Ops", "orphan": true, "path_suffix": "v1",
		"token_period": "1h", "token_bound_cidrs": []interface{}{"127.0.0.1/32", "10.0.0.1"},
		"token_num_uses": 3, "allowed_entity_aliases": "web-*",
	})
	if resp != nil {
		t.Fatalf("role write answered %+v", resp)
	}
	d := h.ok(logical.ReadOperation, "roles/nomad", h.root, nil).Data
	want := map[string]interface{}{
		"name": "nomad", "orphan": true, "renewable": true, "path_suffix": "v1", "token_type": "default-service",
		"token_period": int64(3600), "token_explicit_max_ttl": int64(0), "period": int64(0), "explicit_max_ttl": int64(0),
		"token_num_uses": 3, "token_no_default_policy": false,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %#v, want %#v", k, d[k], v)
		}
	}
	if p := d["allowed_policies"].([]string); !slices.Equal(p, []string{"dev", "ops"}) {
		t.Errorf("allowed_policies = %v", p)
	}
	if p := d["disallowed_policies"].([]string); p == nil || len(p) != 0 {
		t.Errorf("disallowed_policies = %#v, want empty list", p)
	}
	if c := d["token_bound_cidrs"].([]string); !slices.Equal(c, []string{"127.0.0.1/32", "10.0.0.1"}) {
		t.Errorf("token_bound_cidrs = %v", c)
	}
	// Update keeps fields not given.
	h.ok(logical.UpdateOperation, "roles/nomad", h.root, map[string]interface{}{"renewable": false})
	d = h.ok(logical.ReadOperation, "roles/nomad", h.root, nil).Data
	if d["renewable"] != false || d["orphan"] != true || d["token_period"] != int64(3600) {
		t.Fatalf("update lost fields: %v", d)
	}
	// Legacy period is echoed and applies.
	h.ok(logical.UpdateOperation, "roles/legacy", h.root, map[string]interface{}{"period": 600})
	d = h.ok(logical.ReadOperation, "roles/legacy", h.root, nil).Data
	if d["period"] != int64(600) || d["token_period"] != int64(600) {
		t.Fatalf("legacy period: %v", d)
	}
	checked, exists, err := h.store.Backend().HandleExistenceCheck(h.ctx, &logical.Request{Operation: logical.CreateOperation, Path: "roles/nomad"})
	if err != nil || !checked || !exists {
		t.Fatalf("existence check = %v, %v", exists, err)
	}
	keys := h.ok(logical.ListOperation, "roles/", h.root, nil).Data["keys"].([]string)
	if !slices.Equal(keys, []string{"legacy", "nomad"}) {
		t.Fatalf("roles = %v", keys)
	}
	h.ok(logical.DeleteOperation, "roles/nomad", h.root, nil)
	if resp := h.ok(logical.ReadOperation, "roles/nomad", h.root, nil); resp != nil {
		t.Fatalf("deleted role still reads: %+v", resp)
	}
}

func TestRoleValidation(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name string
		data map[string]interface{}
		err  string
	}{
		{"bad token_type", map[string]interface{}{"token_type": "odd"}, `invalid 'token_type' value "odd"`},
		{"batch non-orphan", map[string]interface{}{"token_type": "batch", "renewable": false}, "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens"},
		{"batch renewable", map[string]interface{}{"token_type": "batch", "orphan": true}, "'token_type' cannot be 'batch' when role is set to generate renewable tokens"},
		{"batch periodic", map[string]interface{}{"token_type": "batch", "orphan": true, "renewable": false, "token_period": 60}, "periodic tokens"},
		{"bad cidr", map[string]interface{}{"token_bound_cidrs": "10.0.0.0/99"}, "error parsing token_bound_cidrs"},
		{"bad suffix", map[string]interface{}{"path_suffix": "a/../b"}, "parent references"},
		{"negative uses", map[string]interface{}{"token_num_uses": -2}, "'token_num_uses' cannot be negative"},
		{"ttl above max", map[string]interface{}{"token_ttl": "2h", "token_max_ttl": "1h"}, "'token_ttl' cannot be greater than 'token_max_ttl'"},
		{"negative ttl", map[string]interface{}{"token_ttl": "-1h"}, "cannot be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.do(logical.CreateOperation, "roles/r-"+tc.name[:3], h.root, tc.data)
			wantErr(t, err, logical.ErrInvalidRequest, tc.err)
		})
	}
	// A valid batch role.
	h.ok(logical.CreateOperation, "roles/batchy", h.root, map[string]interface{}{"token_type": "batch", "orphan": true, "renewable": false})
}

func TestCreateAgainstRole(t *testing.T) {
	h := newHarness(t)
	parent := h.create(h.root, map[string]interface{}{"policies": "base"})
	h.ok(logical.CreateOperation, "roles/app", h.root, map[string]interface{}{
		"allowed_policies": "dev,ops", "disallowed_policies": "ops", "orphan": true, "path_suffix": "v2",
		"token_explicit_max_ttl": "2h", "token_ttl": "30m", "token_num_uses": 4,
	})
	h.ok(logical.CreateOperation, "roles/globby", h.root, map[string]interface{}{
		"allowed_policies_glob": "team-*", "disallowed_policies_glob": "team-secret*", "token_no_default_policy": true,
	})
	h.ok(logical.CreateOperation, "roles/batchy", h.root, map[string]interface{}{"token_type": "batch", "orphan": true, "renewable": false})
	h.ok(logical.CreateOperation, "roles/plain", h.root, map[string]interface{}{"renewable": false})

	cases := []struct {
		name   string
		role   string
		caller string
		data   map[string]interface{}
		err    string
		check  func(t *testing.T, a *logical.Auth, te *Entry)
	}{
		{name: "role grants policies the parent lacks", role: "app", caller: parent.ClientToken, data: map[string]interface{}{"policies": "dev"},
			check: func(t *testing.T, a *logical.Auth, te *Entry) {
				if !slices.Equal(a.Policies, []string{"default", "dev"}) || !a.Orphan || te.Path != "auth/token/create/app/v2" || te.Role != "app" {
					t.Fatalf("auth %+v entry %+v", a, te)
				}
				if a.TTL != 30*time.Minute || te.ExplicitMaxTTL != 2*time.Hour || te.NumUses != 4 {
					t.Fatalf("ttl %v explicit max %v uses %d", a.TTL, te.ExplicitMaxTTL, te.NumUses)
				}
			}},
		{name: "allowed set is the default", role: "app", caller: parent.ClientToken,
			err: `token policy "ops" is disallowed by this role`},
		{name: "outside allowed", role: "app", caller: parent.ClientToken, data: map[string]interface{}{"policies": "prod"},
			err: "must be subset of the role's allowed policies"},
		{name: "lesser explicit max wins", role: "app", caller: parent.ClientToken, data: map[string]interface{}{"policies": "dev", "explicit_max_ttl": "1h", "ttl": "3h"},
			check: func(t *testing.T, a *logical.Auth, te *Entry) {
				if te.ExplicitMaxTTL != time.Hour || a.TTL != time.Hour {
					t.Fatalf("explicit max %v ttl %v", te.ExplicitMaxTTL, a.TTL)
				}
			}},
		{name: "glob allowed", role: "globby", caller: h.root, data: map[string]interface{}{"policies": "team-a,team-b"},
			check: func(t *testing.T, a *logical.Auth, _ *Entry) {
				if !slices.Equal(a.Policies, []string{"team-a", "team-b"}) {
					t.Fatalf("policies %v", a.Policies)
				}
			}},
		{name: "glob disallowed", role: "globby", caller: h.root, data: map[string]interface{}{"policies": "team-secret-x"},
			err: `token policy "team-secret-x" is disallowed by this role`},
		{name: "batch role", role: "batchy", caller: parent.ClientToken,
			check: func(t *testing.T, a *logical.Auth, te *Entry) {
				if te.Type != TypeBatch || !batchRe.MatchString(a.ClientToken) || !a.Orphan {
					t.Fatalf("batch role token %+v", te)
				}
			}},
		{name: "role without policy lists inherits and is not renewable", role: "plain", caller: parent.ClientToken,
			check: func(t *testing.T, a *logical.Auth, te *Entry) {
				if !slices.Equal(a.Policies, []string{"base", "default"}) || a.Renewable || a.Orphan {
					t.Fatalf("auth %+v", a)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.do(logical.UpdateOperation, "create/"+tc.role, tc.caller, tc.data)
			if tc.err != "" {
				wantErr(t, err, logical.ErrInvalidRequest, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, resp.Auth, h.lookup(resp.Auth.ClientToken))
		})
	}

	// role_name in the body of create works like the path form.
	resp := h.ok(logical.UpdateOperation, "create", parent.ClientToken, map[string]interface{}{"role_name": "app", "policies": "dev"})
	if te := h.lookup(resp.Auth.ClientToken); te.Role != "app" {
		t.Fatalf("role_name in body ignored: %+v", te)
	}
	// Renewal refuses once the role is gone.
	p := h.ok(logical.UpdateOperation, "create/globby", h.root, map[string]interface{}{"policies": "team-a"}).Auth
	h.ok(logical.DeleteOperation, "roles/globby", h.root, nil)
	_, err := h.do(logical.UpdateOperation, "renew-self", p.ClientToken, nil)
	wantErr(t, err, logical.ErrInvalidRequest, `original token role "globby" could not be found`)
}

func TestRenewThroughAuthMethod(t *testing.T) {
	var calls int
	refuse := false
	h := newHarness(t, func(o *Options) {
		o.RenewAuth = func(_ context.Context, te *Entry, auth *logical.Auth) (*logical.Auth, error) {
			calls++
			if refuse {
				return nil, logical.InvalidRequest("role no longer exists")
			}
			if te.Path != "auth/approle/login" || auth.Accessor != te.Accessor {
				t.Errorf("RenewAuth got %q / %+v", te.Path, auth)
			}
			return &logical.Auth{LeaseOptions: logical.LeaseOptions{TTL: 20 * time.Minute, MaxTTL: time.Hour}}, nil
		}
	})
	te, err := h.store.CreateFromAuth(h.ctx, "auth/approle/login", &logical.Auth{
		Policies: []string{"a"}, LeaseOptions: logical.LeaseOptions{TTL: 10 * time.Minute, Renewable: true},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// At 5, 20 and 35 minutes the method's 20m applies; at 50 its 1h max
	// from creation leaves 10m.
	for i, want := range []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute, 10 * time.Minute} {
		h.clock.advance(5 * time.Minute)
		if i > 0 {
			h.clock.advance(10 * time.Minute)
		}
		if got := h.ok(logical.UpdateOperation, "renew-self", te.ID, nil).Auth.TTL; got != want {
			t.Fatalf("renewal %d ttl = %v, want %v", i, got, want)
		}
	}
	refuse = true
	_, err = h.do(logical.UpdateOperation, "renew-self", te.ID, nil)
	wantErr(t, err, logical.ErrInvalidRequest, "role no longer exists")
	if calls != 5 {
		t.Fatalf("RenewAuth called %d times", calls)
	}
}
