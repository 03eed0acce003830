package token

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPathTable(t *testing.T) {
	h := newHarness(t)
	framework.TestPaths(t, h.store.paths())
	sp := h.store.Backend().SpecialPaths()
	if !slices.Contains(sp.Root, "accessors*") || !slices.Contains(sp.Root, "revoke-orphan*") {
		t.Fatalf("root paths = %v", sp.Root)
	}
	if h.store.Backend().Type() != logical.TypeCredential {
		t.Fatal("token backend must be a credential backend")
	}
}

func TestCreateResponse(t *testing.T) {
	h := newHarness(t)
	resp := h.ok(logical.UpdateOperation, "create", h.root, map[string]interface{}{
		"policies": []interface{}{"web", "Stage"}, "meta": map[string]interface{}{"user": "armon"},
		"ttl": "1h", "display_name": "my app!",
	})
	a := resp.Auth
	if resp.Data != nil || resp.Secret != nil {
		t.Fatalf("create must answer with an auth block only: %+v", resp)
	}
	if !serviceRe.MatchString(a.ClientToken) || !accessorRe.MatchString(a.Accessor) {
		t.Fatalf("token/accessor format: %q %q", a.ClientToken, a.Accessor)
	}
	want := []string{"default", "stage", "web"}
	if !slices.Equal(a.Policies, want) || !slices.Equal(a.TokenPolicies, want) {
		t.Fatalf("policies %v / %v, want %v", a.Policies, a.TokenPolicies, want)
	}
	if a.TTL != time.Hour || !a.Renewable || a.Orphan || a.TokenType != TypeService || a.EntityID != "" {
		t.Fatalf("auth = %+v", a)
	}
	if a.Metadata["user"] != "armon" {
		t.Fatalf("metadata = %v", a.Metadata)
	}
	te := h.lookup(a.ClientToken)
	if te.DisplayName != "token-my-app" || te.Path != "auth/token/create" {
		t.Fatalf("display name %q path %q", te.DisplayName, te.Path)
	}
	if exp, ok := h.leases.registered[a.Accessor]; !ok || !exp.Equal(h.clock.now().Add(time.Hour)) {
		t.Fatalf("lease registration = %v, %v", exp, ok)
	}
}

func TestCreateDefaults(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.DefaultTTL = func() time.Duration { return 2 * time.Hour }
		o.MaxTTL = func() time.Duration { return 3 * time.Hour }
	})
	cases := []struct {
		name    string
		data    map[string]interface{}
		wantTTL time.Duration
		warn    string
	}{
		{"mount default", map[string]interface{}{"policies": "a"}, 2 * time.Hour, ""},
		{"explicit ttl", map[string]interface{}{"policies": "a", "ttl": 600}, 10 * time.Minute, ""},
		{"capped by system max", map[string]interface{}{"policies": "a", "ttl": "10h"}, 3 * time.Hour, "exceeded the effective max_ttl"},
		{"capped by explicit max", map[string]interface{}{"policies": "a", "ttl": "2h", "explicit_max_ttl": "1h"}, time.Hour, "exceeded the effective max_ttl"},
		{"root with ttl", map[string]interface{}{"ttl": "5m"}, 5 * time.Minute, ""},
		{"root without ttl", nil, 0, ""},
		{"root explicit max only", map[string]interface{}{"explicit_max_ttl": "20m"}, 20 * time.Minute, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.ok(logical.UpdateOperation, "create", h.root, tc.data)
			if resp.Auth.TTL != tc.wantTTL {
				t.Fatalf("ttl = %v, want %v", resp.Auth.TTL, tc.wantTTL)
			}
			te := h.lookup(resp.Auth.ClientToken)
			if tc.wantTTL == 0 {
				if !te.ExpireTime.IsZero() || resp.Auth.Renewable {
					t.Fatalf("non-expiring root token: expire %v renewable %v", te.ExpireTime, resp.Auth.Renewable)
				}
			} else if !te.ExpireTime.Equal(h.clock.now().Add(tc.wantTTL)) {
				t.Fatalf("expire time %v", te.ExpireTime)
			}
			joined := strings.Join(resp.Warnings, "\n")
			if (tc.warn == "") != (joined == "") || !strings.Contains(joined, tc.warn) {
				t.Fatalf("warnings %q, want %q", resp.Warnings, tc.warn)
			}
		})
	}
}

func TestCreateRules(t *testing.T) {
	h := newHarness(t)
	parent := h.create(h.root, map[string]interface{}{"policies": "a,b"})
	sudoParent := h.create(h.root, map[string]interface{}{"policies": "a"})
	h.sudo[sudoParent.Accessor] = true
	limited := h.create(h.root, map[string]interface{}{"policies": "a", "num_uses": 3})
	batch := h.create(h.root, map[string]interface{}{"policies": "a", "type": "batch"})
	expiringRoot := h.create(h.root, map[string]interface{}{"ttl": "1h"})

	cases := []struct {
		name   string
		caller string
		path   string
		data   map[string]interface{}
		err    string // "" = success
		kind   error  // error kind when err != ""
		check  func(*logical.Auth) string
	}{
		{name: "inherits parent policies", caller: parent.ClientToken, check: policies("a", "b", "default")},
		{name: "subset", caller: parent.ClientToken, data: map[string]interface{}{"policies": "a"}, check: policies("a", "default")},
		{name: "not a subset", caller: parent.ClientToken, data: map[string]interface{}{"policies": "a,c"}, err: "child policies must be subset of parent"},
		{name: "root from non-root", caller: parent.ClientToken, data: map[string]interface{}{"policies": "root"}, err: "child policies must be subset of parent"},
		{name: "sudo may escalate but not to root", caller: sudoParent.ClientToken, data: map[string]interface{}{"policies": "root"}, err: "root tokens may not be created without parent token being root"},
		{name: "sudo any policies", caller: sudoParent.ClientToken, data: map[string]interface{}{"policies": "z"}, check: policies("default", "z")},
		{name: "no default policy", caller: parent.ClientToken, data: map[string]interface{}{"policies": "a", "no_default_policy": true}, check: policies("a")},
		{name: "non-assignable", caller: h.root, data: map[string]interface{}{"policies": "response-wrapping"}, err: `cannot assign policy "response-wrapping"`},
		{name: "orphan needs sudo", caller: parent.ClientToken, data: map[string]interface{}{"no_parent": true}, err: "root or sudo privileges required to create orphan token"},
		{name: "orphan with sudo", caller: sudoParent.ClientToken, data: map[string]interface{}{"no_parent": true}, check: orphan(true)},
		{name: "create-orphan path", caller: parent.ClientToken, path: "create-orphan", check: orphan(true)},
		{name: "child is not orphan", caller: parent.ClientToken, check: orphan(false)},
		{name: "id needs sudo", caller: parent.ClientToken, data: map[string]interface{}{"id": "abc"}, err: "root or sudo privileges required to specify token id"},
		{name: "id with root", caller: h.root, data: map[string]interface{}{"id": "abc"}, check: func(a *logical.Auth) string { return cond(a.ClientToken == "abc", "id not used") }},
		{name: "id with dot", caller: h.root, data: map[string]interface{}{"id": "a.b"}, err: "custom token ID cannot have a '.' in the value"},
		{name: "period needs sudo", caller: parent.ClientToken, data: map[string]interface{}{"period": "1h"}, err: "root or sudo privileges required to create periodic token"},
		{name: "negative ttl", caller: h.root, data: map[string]interface{}{"ttl": "-5s"}, err: "ttl must be positive"},
		{name: "garbage ttl", caller: h.root, data: map[string]interface{}{"ttl": "soon"}, err: `invalid ttl "soon"`},
		{name: "negative explicit max", caller: h.root, data: map[string]interface{}{"explicit_max_ttl": -1}, err: "explicit_max_ttl must be positive"},
		{name: "negative period", caller: h.root, data: map[string]interface{}{"period": "-1m"}, err: "period must be positive"},
		{name: "negative num_uses", caller: h.root, data: map[string]interface{}{"num_uses": -1}, err: "number of uses cannot be negative"},
		{name: "bad type", caller: h.root, data: map[string]interface{}{"type": "weird"}, err: "invalid 'token_type' value"},
		{name: "batch with period", caller: h.root, data: map[string]interface{}{"type": "batch", "period": "1h"}, err: `batch tokens cannot have "period" set`},
		{name: "batch root", caller: h.root, data: map[string]interface{}{"type": "batch"}, err: "batch tokens cannot be root tokens"},
		{name: "unknown role", caller: h.root, path: "create/nope", err: "unknown role nope"},
		{name: "unknown role in body", caller: h.root, data: map[string]interface{}{"role_name": "nope"}, err: "unknown role nope"},
		{name: "limited-use parent", caller: limited.ClientToken, err: "restricted use token cannot generate child tokens"},
		{name: "batch parent", caller: batch.ClientToken, err: "batch tokens cannot create more tokens"},
		{name: "unknown parent", caller: "hvs.bogus", err: "no parent found"},
		{name: "expiring root cannot mint eternal root", caller: expiringRoot.ClientToken, err: "expiring root tokens cannot create non-expiring root tokens"},
		{name: "renewable false", caller: h.root, data: map[string]interface{}{"policies": "a", "renewable": false}, check: func(a *logical.Auth) string { return cond(!a.Renewable, "renewable") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "create"
			}
			resp, err := h.do(logical.UpdateOperation, path, tc.caller, tc.data)
			if tc.err != "" {
				kind := tc.kind
				if kind == nil {
					kind = logical.ErrInvalidRequest
				}
				wantErr(t, err, kind, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(resp.Auth); msg != "" {
				t.Fatalf("%s: %+v", msg, resp.Auth)
			}
		})
	}
}

func policies(want ...string) func(*logical.Auth) string {
	return func(a *logical.Auth) string {
		return cond(slices.Equal(a.Policies, want), "policies should be "+strings.Join(want, ","))
	}
}

func orphan(want bool) func(*logical.Auth) string {
	return func(a *logical.Auth) string { return cond(a.Orphan == want, "orphan flag") }
}

func cond(ok bool, msg string) string {
	if ok {
		return ""
	}
	return msg
}

func TestLookupResponse(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, map[string]interface{}{"policies": "a", "ttl": "1h", "explicit_max_ttl": "2h", "meta": "k=v", "num_uses": 5})
	h.clock.advance(10 * time.Minute)
	want := []string{"accessor", "creation_time", "creation_ttl", "display_name", "entity_id", "expire_time",
		"explicit_max_ttl", "id", "issue_time", "meta", "num_uses", "orphan", "path", "policies", "renewable", "ttl", "type"}
	for _, tc := range []struct {
		op     logical.Operation
		path   string
		caller string
		data   map[string]interface{}
		id     string
	}{
		{logical.ReadOperation, "lookup-self", a.ClientToken, nil, a.ClientToken},
		{logical.UpdateOperation, "lookup", h.root, map[string]interface{}{"token": a.ClientToken}, a.ClientToken},
		{logical.ReadOperation, "lookup", h.root, map[string]interface{}{"token": a.ClientToken}, a.ClientToken},
		{logical.UpdateOperation, "lookup-accessor", h.root, map[string]interface{}{"accessor": a.Accessor}, ""},
	} {
		resp := h.ok(tc.op, tc.path, tc.caller, tc.data)
		keys := make([]string, 0, len(resp.Data))
		for k := range resp.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("%s keys = %v\nwant %v", tc.path, keys, want)
		}
		d := resp.Data
		checks := map[string][2]interface{}{
			"id":               {d["id"], tc.id},
			"accessor":         {d["accessor"], a.Accessor},
			"creation_time":    {d["creation_time"], h.clock.now().Add(-10 * time.Minute).Unix()},
			"creation_ttl":     {d["creation_ttl"], int64(3600)},
			"ttl":              {d["ttl"], int64(3000)},
			"explicit_max_ttl": {d["explicit_max_ttl"], int64(7200)},
			"expire_time":      {d["expire_time"], h.clock.now().Add(50 * time.Minute).Format(time.RFC3339Nano)},
			"issue_time":       {d["issue_time"], h.clock.now().Add(-10 * time.Minute).Format(time.RFC3339Nano)},
			"num_uses":         {d["num_uses"], 5},
			"orphan":           {d["orphan"], false},
			"path":             {d["path"], "auth/token/create"},
			"renewable":        {d["renewable"], true},
			"type":             {d["type"], "service"},
			"display_name":     {d["display_name"], "token"},
			"entity_id":        {d["entity_id"], ""},
		}
		for k, c := range checks {
			if c[0] != c[1] {
				t.Errorf("%s: %s = %#v, want %#v", tc.path, k, c[0], c[1])
			}
		}
		if m := d["meta"].(map[string]string); m["k"] != "v" {
			t.Errorf("meta = %v", m)
		}
		if p := d["policies"].([]string); !slices.Equal(p, []string{"a", "default"}) {
			t.Errorf("policies = %v", p)
		}
	}
	// Root token: no expiry.
	d := h.ok(logical.ReadOperation, "lookup-self", h.root, nil).Data
	if d["expire_time"] != nil || d["ttl"] != int64(0) || d["renewable"] != false || d["orphan"] != true {
		t.Fatalf("root lookup = %v", d)
	}
	// Errors.
	_, err := h.do(logical.UpdateOperation, "lookup", h.root, map[string]interface{}{"token": "hvs.nope"})
	wantErr(t, err, logical.ErrPermissionDenied, "bad token")
	_, err = h.do(logical.UpdateOperation, "lookup-accessor", h.root, map[string]interface{}{"accessor": "nope"})
	wantErr(t, err, logical.ErrInvalidRequest, "invalid accessor")
	_, err = h.do(logical.UpdateOperation, "lookup-accessor", h.root, nil)
	wantErr(t, err, logical.ErrInvalidRequest, "missing accessor")
}

func TestRenew(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, map[string]interface{}{"policies": "a", "ttl": "1h", "explicit_max_ttl": "2h"})
	h.clock.advance(30 * time.Minute)
	resp := h.ok(logical.UpdateOperation, "renew-self", a.ClientToken, map[string]interface{}{"increment": "1h"})
	if resp.Auth.TTL != time.Hour || resp.Auth.ClientToken != a.ClientToken || len(resp.Warnings) != 0 {
		t.Fatalf("renew = %+v %v", resp.Auth, resp.Warnings)
	}
	if exp := h.leases.registered[a.Accessor]; !exp.Equal(h.clock.now().Add(time.Hour)) {
		t.Fatalf("lease not updated on renew: %v", exp)
	}
	// Within the hour, the cached lookup must see the new expiry.
	h.clock.advance(59 * time.Minute)
	if h.lookup(a.ClientToken) == nil {
		t.Fatal("renewed token expired early")
	}
	resp = h.ok(logical.UpdateOperation, "renew", h.root, map[string]interface{}{"token": a.ClientToken, "increment": 3600})
	if resp.Auth.TTL != 31*time.Minute || !strings.Contains(strings.Join(resp.Warnings, ""), "exceeded the effective max_ttl") {
		t.Fatalf("renew near explicit max = %v %v", resp.Auth.TTL, resp.Warnings)
	}
	resp = h.ok(logical.UpdateOperation, "renew-accessor", h.root, map[string]interface{}{"accessor": a.Accessor})
	if resp.Auth.ClientToken != "" || resp.Auth.Accessor != a.Accessor {
		t.Fatalf("renew-accessor must hide the token: %+v", resp.Auth)
	}
	h.clock.advance(31 * time.Minute)
	_, err := h.do(logical.UpdateOperation, "renew", h.root, map[string]interface{}{"token": a.ClientToken})
	wantErr(t, err, logical.ErrInvalidRequest, "token not found")

	// Not renewable, root without TTL, batch, missing token.
	nr := h.create(h.root, map[string]interface{}{"policies": "a", "renewable": false})
	_, err = h.do(logical.UpdateOperation, "renew-self", nr.ClientToken, nil)
	wantErr(t, err, logical.ErrInvalidRequest, "lease is not renewable")
	_, err = h.do(logical.UpdateOperation, "renew-self", h.root, nil)
	wantErr(t, err, logical.ErrInvalidRequest, "lease is not renewable")
	b := h.create(h.root, map[string]interface{}{"policies": "a", "type": "batch"})
	_, err = h.do(logical.UpdateOperation, "renew", h.root, map[string]interface{}{"token": b.ClientToken})
	wantErr(t, err, logical.ErrInvalidRequest, "batch tokens cannot be renewed")
	_, err = h.do(logical.UpdateOperation, "renew", h.root, nil)
	wantErr(t, err, logical.ErrInvalidRequest, "missing token ID")
}

func TestRenewDefaultIncrement(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxTTL = func() time.Duration { return 3 * time.Hour } })
	a := h.create(h.root, map[string]interface{}{"policies": "a", "ttl": "1h"})
	for i, want := range []time.Duration{time.Hour, time.Hour, 30 * time.Minute} {
		h.clock.advance(50 * time.Minute)
		resp := h.ok(logical.UpdateOperation, "renew-self", a.ClientToken, nil)
		if resp.Auth.TTL != want {
			t.Fatalf("renewal %d ttl = %v, want %v (system max 3h from creation)", i, resp.Auth.TTL, want)
		}
	}
}

func TestPeriodicToken(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxTTL = func() time.Duration { return 2 * time.Hour } })
	a := h.create(h.root, map[string]interface{}{"policies": "a", "period": "1h", "ttl": "5m"})
	if a.TTL != time.Hour || a.Period != time.Hour {
		t.Fatalf("periodic create ttl %v period %v", a.TTL, a.Period)
	}
	if d := h.ok(logical.ReadOperation, "lookup-self", a.ClientToken, nil).Data; d["period"] != int64(3600) {
		t.Fatalf("lookup period = %v", d["period"])
	}
	// Renewals go on well past the 2h system max, each for the period,
	// whatever increment is asked for.
	for range 6 {
		h.clock.advance(50 * time.Minute)
		resp := h.ok(logical.UpdateOperation, "renew-self", a.ClientToken, map[string]interface{}{"increment": "10h"})
		if resp.Auth.TTL != time.Hour {
			t.Fatalf("periodic renew ttl = %v", resp.Auth.TTL)
		}
	}
	// A period above the max is capped to it.
	big := h.create(h.root, map[string]interface{}{"policies": "a", "period": "5h"})
	if big.TTL != 2*time.Hour {
		t.Fatalf("period capped ttl = %v", big.TTL)
	}
	// explicit_max_ttl still bounds a periodic token.
	em := h.create(h.root, map[string]interface{}{"policies": "a", "period": "1h", "explicit_max_ttl": "90m"})
	h.clock.advance(50 * time.Minute)
	if got := h.ok(logical.UpdateOperation, "renew-self", em.ClientToken, nil).Auth.TTL; got != 40*time.Minute {
		t.Fatalf("periodic renew under explicit max = %v, want 40m", got)
	}
	h.clock.advance(41 * time.Minute)
	if h.lookup(em.ClientToken) != nil {
		t.Fatal("periodic token outlived its explicit max TTL")
	}
}

func TestRevokeEndpoints(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, map[string]interface{}{"policies": "a"})
	b := h.create(a.ClientToken, nil)
	if resp := h.ok(logical.UpdateOperation, "revoke", h.root, map[string]interface{}{"token": a.ClientToken}); resp != nil {
		t.Fatalf("revoke answered %+v, want no content", resp)
	}
	if h.lookup(a.ClientToken) != nil || h.lookup(b.ClientToken) != nil {
		t.Fatal("revoke left the token or its child")
	}
	// Unknown tokens: no error (as Vault).
	h.ok(logical.UpdateOperation, "revoke", h.root, map[string]interface{}{"token": "hvs.gone"})

	c := h.create(h.root, map[string]interface{}{"policies": "a"})
	h.ok(logical.UpdateOperation, "revoke-self", c.ClientToken, nil)
	if h.lookup(c.ClientToken) != nil {
		t.Fatal("revoke-self left the token")
	}

	d := h.create(h.root, map[string]interface{}{"policies": "a"})
	h.ok(logical.UpdateOperation, "revoke-accessor", h.root, map[string]interface{}{"accessor": d.Accessor})
	if h.lookup(d.ClientToken) != nil {
		t.Fatal("revoke-accessor left the token")
	}
	resp := h.ok(logical.UpdateOperation, "revoke-accessor", h.root, map[string]interface{}{"accessor": d.Accessor})
	if resp == nil || len(resp.Warnings) != 1 || resp.Warnings[0] != "No token found with this accessor" {
		t.Fatalf("revoke of unknown accessor = %+v", resp)
	}

	e := h.create(h.root, map[string]interface{}{"policies": "a"})
	f := h.create(e.ClientToken, nil)
	_, err := h.do(logical.UpdateOperation, "revoke-orphan", e.ClientToken, map[string]interface{}{"token": e.ClientToken})
	wantErr(t, err, logical.ErrInvalidRequest, "root or sudo privileges required to revoke and orphan")
	_, err = h.do(logical.UpdateOperation, "revoke-orphan", h.root, map[string]interface{}{"token": "hvs.gone"})
	wantErr(t, err, logical.ErrInvalidRequest, "token to revoke not found")
	h.ok(logical.UpdateOperation, "revoke-orphan", h.root, map[string]interface{}{"token": e.ClientToken})
	ft := h.lookup(f.ClientToken)
	if h.lookup(e.ClientToken) != nil || ft == nil || !ft.Orphan() {
		t.Fatalf("revoke-orphan: parent %v child %+v", h.lookup(e.ClientToken), ft)
	}
	if d := h.ok(logical.ReadOperation, "lookup-self", f.ClientToken, nil).Data; d["orphan"] != true {
		t.Fatal("orphaned child does not report orphan")
	}

	g := h.create(h.root, map[string]interface{}{"policies": "a", "type": "batch"})
	_, err = h.do(logical.UpdateOperation, "revoke", h.root, map[string]interface{}{"token": g.ClientToken})
	wantErr(t, err, logical.ErrInvalidRequest, "batch tokens cannot be revoked")
	_, err = h.do(logical.UpdateOperation, "revoke", h.root, nil)
	wantErr(t, err, logical.ErrInvalidRequest, "missing token ID")
}

func TestBatchTokens(t *testing.T) {
	h := newHarness(t)
	parent := h.create(h.root, map[string]interface{}{"policies": "a,b"})
	b := h.create(parent.ClientToken, map[string]interface{}{"type": "batch", "policies": "a"})
	if !batchRe.MatchString(b.ClientToken) || b.TokenType != TypeBatch || b.Renewable {
		t.Fatalf("batch auth = %+v", b)
	}
	if d := h.ok(logical.ReadOperation, "lookup-self", b.ClientToken, nil).Data; d["type"] != "batch" {
		t.Fatalf("batch lookup type = %v", d["type"])
	}
	// Revoked along with its parent.
	if err := h.store.Revoke(h.ctx, parent.ClientToken); err != nil {
		t.Fatal(err)
	}
	if h.lookup(b.ClientToken) != nil {
		t.Fatal("batch token survived its parent")
	}
}

func TestAccessorsList(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, map[string]interface{}{"policies": "a"})
	b := h.create(h.root, map[string]interface{}{"policies": "a"})
	resp := h.ok(logical.ListOperation, "accessors/", h.root, nil)
	keys := resp.Data["keys"].([]string)
	root := h.lookup(h.root)
	want := []string{a.Accessor, b.Accessor, root.Accessor}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("accessors = %v, want %v", keys, want)
	}
	h.ok(logical.UpdateOperation, "revoke", h.root, map[string]interface{}{"token": a.ClientToken})
	keys = h.ok(logical.ListOperation, "accessors", h.root, nil).Data["keys"].([]string)
	if slices.Contains(keys, a.Accessor) || len(keys) != 2 {
		t.Fatalf("accessors after revoke = %v", keys)
	}
}

func TestTidy(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, map[string]interface{}{"policies": "a"})
	b := h.create(a.ClientToken, nil)
	c := h.create(h.root, map[string]interface{}{"policies": "a", "ttl": "1m"})
	// Simulate a crash that lost a's entry but not its indexes.
	ate := h.lookup(a.ClientToken)
	if err := h.storage.Delete(h.ctx, idPrefix+ate.salted); err != nil {
		t.Fatal(err)
	}
	h.store.cache.remove(ate.salted)
	h.clock.advance(2 * time.Minute)
	resp := h.ok(logical.UpdateOperation, "tidy", h.root, nil)
	if len(resp.Warnings) != 1 {
		t.Fatalf("tidy warnings = %v", resp.Warnings)
	}
	bt := h.lookup(b.ClientToken)
	if bt == nil || !bt.Orphan() {
		t.Fatalf("child of lost parent after tidy = %+v, want a valid orphan", bt)
	}
	if salted, _ := h.store.accessorToken(h.ctx, a.Accessor); salted != "" {
		t.Fatal("tidy left the accessor of a lost token")
	}
	if !slices.Contains(h.leases.revokedAccessors(), a.Accessor) {
		t.Fatal("tidy did not revoke the leases of the lost token")
	}
	if salted, _ := h.store.accessorToken(h.ctx, c.Accessor); salted != "" {
		t.Fatal("tidy left an expired token")
	}
}
