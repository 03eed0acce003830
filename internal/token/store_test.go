package token

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

var (
	serviceRe  = regexp.MustCompile(`^hvs\.[0-9A-Za-z]{24}$`)
	batchRe    = regexp.MustCompile(`^hvb\.[0-9A-Za-z]{24}$`)
	accessorRe = regexp.MustCompile(`^[0-9A-Za-z]{24}$`)
)

func TestCreateRootAndLookup(t *testing.T) {
	h := newHarness(t)
	if !serviceRe.MatchString(h.root) || len(h.root) != 28 {
		t.Fatalf("root token %q is not hvs. + 24 base62 characters", h.root)
	}
	te := h.lookup(h.root)
	if te == nil || !te.IsRoot() || te.ID != h.root || !te.Orphan() || !te.ExpireTime.IsZero() {
		t.Fatalf("root lookup = %+v", te)
	}
	if !accessorRe.MatchString(te.Accessor) {
		t.Fatalf("accessor %q is not 24 base62 characters", te.Accessor)
	}
	if te.Path != "auth/token/root" || te.DisplayName != "root" {
		t.Fatalf("root path/display name = %q/%q", te.Path, te.DisplayName)
	}
	for _, id := range []string{"", "hvs.unknown", h.root + "x"} {
		if got := h.lookup(id); got != nil {
			t.Errorf("Lookup(%q) = %+v, want nil", id, got)
		}
	}
	// A root token never expires and is not registered with the lease manager.
	h.clock.advance(10000 * time.Hour)
	if h.lookup(h.root) == nil {
		t.Fatal("root token expired")
	}
	if len(h.leases.registered) != 0 {
		t.Fatalf("non-expiring root token registered a lease: %v", h.leases.registered)
	}
}

func TestCreateRootCustomID(t *testing.T) {
	h := newHarness(t)
	te, err := h.store.CreateRoot(h.ctx, "devroot")
	if err != nil || te.ID != "devroot" {
		t.Fatalf("CreateRoot(devroot) = %+v, %v", te, err)
	}
	if h.lookup("devroot") == nil {
		t.Fatal("custom root token not found")
	}
	_, err = h.store.CreateRoot(h.ctx, "devroot")
	wantErr(t, err, logical.ErrInvalidRequest, "duplicate ID")
	for id, msg := range map[string]string{"hvs.abc": "'hvs.' prefix", "s.abc": "'s.' prefix", "a.b": "'.'"} {
		_, err := h.store.CreateRoot(h.ctx, id)
		wantErr(t, err, logical.ErrInvalidRequest, msg)
	}
}

func TestNoRawTokenInStorage(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "roles/r", h.root, map[string]interface{}{"allowed_policies": "a"})
	child := h.create(h.root, map[string]interface{}{"policies": "a,b"})
	grandchild := h.create(child.ClientToken, map[string]interface{}{"policies": "a"})
	batch := h.create(h.root, map[string]interface{}{"type": "batch", "policies": "a"})
	fromRole := h.ok(logical.UpdateOperation, "create/r", h.root, nil).Auth
	custom := h.create(h.root, map[string]interface{}{"id": "my-custom-token-value"})
	login, err := h.store.CreateFromAuth(h.ctx, "auth/approle/login", &logical.Auth{Policies: []string{"a"}, LeaseOptions: logical.LeaseOptions{Renewable: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{h.root, child.ClientToken, grandchild.ClientToken, batch.ClientToken, fromRole.ClientToken, custom.ClientToken, login.ID}
	keys, err := logical.CollectKeys(h.ctx, h.storage, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 3*len(secrets) {
		t.Fatalf("only %d storage keys for %d tokens", len(keys), len(secrets))
	}
	for _, k := range keys {
		e, err := h.storage.Get(h.ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			// Also the random part alone, in case a prefix is stripped.
			for _, needle := range []string{sec, strings.TrimPrefix(strings.TrimPrefix(sec, "hvs."), "hvb.")} {
				if strings.Contains(k, needle) || bytes.Contains(e.Value, []byte(needle)) {
					t.Errorf("storage key %q holds raw token %q", k, sec)
				}
			}
		}
	}
	// Every token still works after the scan (the keys are the HMAC form).
	for _, sec := range secrets {
		if h.lookup(sec) == nil {
			t.Errorf("token %q not found", sec)
		}
	}
}

func TestExpiredTokenInvisible(t *testing.T) {
	for _, cached := range []bool{true, false} {
		h := newHarness(t, func(o *Options) {
			if !cached {
				o.CacheSize = -1
			}
		})
		a := h.create(h.root, map[string]interface{}{"ttl": "1h"})
		if h.lookup(a.ClientToken) == nil {
			t.Fatal("fresh token not found")
		}
		h.clock.advance(59 * time.Minute)
		if h.lookup(a.ClientToken) == nil {
			t.Fatal("token gone before its expiry")
		}
		h.clock.advance(time.Minute)
		if te := h.lookup(a.ClientToken); te != nil {
			t.Fatalf("cached=%v: expired token still looks up: %+v", cached, te)
		}
		_, err := h.do(logical.ReadOperation, "lookup-self", a.ClientToken, nil)
		wantErr(t, err, logical.ErrPermissionDenied, "bad token")
		if te, _ := h.store.LookupAccessor(h.ctx, a.Accessor); te != nil {
			t.Fatal("expired token found by accessor")
		}
	}
}

func TestRevokeTree(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, nil)
	b := h.create(a.ClientToken, nil)
	c := h.create(b.ClientToken, nil)
	d := h.create(a.ClientToken, nil)
	other := h.create(h.root, nil)
	// Warm the cache so revocation must invalidate it.
	for _, tok := range []string{a.ClientToken, b.ClientToken, c.ClientToken, d.ClientToken} {
		if h.lookup(tok) == nil {
			t.Fatal("token missing before revoke")
		}
	}
	if err := h.store.Revoke(h.ctx, a.ClientToken); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{a.ClientToken, b.ClientToken, c.ClientToken, d.ClientToken} {
		if h.lookup(tok) != nil {
			t.Errorf("token %s survived its ancestor's revocation", tok)
		}
	}
	if h.lookup(other.ClientToken) == nil || h.lookup(h.root) == nil {
		t.Fatal("unrelated tokens were revoked")
	}
	got := h.leases.revokedAccessors()
	slices.Sort(got)
	want := []string{a.Accessor, b.Accessor, c.Accessor, d.Accessor}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("RevokeByToken accessors = %v, want %v", got, want)
	}
	order := h.leases.revokedAccessors()
	pos := func(acc string) int { return slices.Index(order, acc) }
	if pos(c.Accessor) > pos(b.Accessor) || pos(b.Accessor) > pos(a.Accessor) || pos(d.Accessor) > pos(a.Accessor) {
		t.Fatalf("children must be revoked before parents, order %v", order)
	}
	if h.leases.revokedIDs[pos(a.Accessor)] != a.ClientToken {
		t.Fatal("the token revoked by ID should carry its ID to the lease manager")
	}
	// Nothing of the revoked tokens is left in storage.
	keys, _ := logical.CollectKeys(h.ctx, h.storage, parentPrefix)
	if len(keys) != 1 { // root -> other
		t.Fatalf("parent index after revoke = %v, want only the unrelated child", keys)
	}
	for _, acc := range want {
		if salted, _ := h.store.accessorToken(h.ctx, acc); salted != "" {
			t.Fatalf("accessor %s left behind", acc)
		}
	}
	// Revoking an unknown token is not an error.
	if err := h.store.Revoke(h.ctx, "hvs.nothing"); err != nil {
		t.Fatal(err)
	}
}

func TestRevokeOrphanKeepsChildren(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, nil)
	b := h.create(a.ClientToken, nil)
	c := h.create(b.ClientToken, nil)
	if err := h.store.RevokeOrphan(h.ctx, a.ClientToken); err != nil {
		t.Fatal(err)
	}
	if h.lookup(a.ClientToken) != nil {
		t.Fatal("revoked token still valid")
	}
	bt := h.lookup(b.ClientToken)
	if bt == nil || !bt.Orphan() {
		t.Fatalf("child after revoke-orphan = %+v, want a valid orphan", bt)
	}
	// The grandchild is still b's child: revoking b takes it along.
	if err := h.store.Revoke(h.ctx, b.ClientToken); err != nil {
		t.Fatal(err)
	}
	if h.lookup(c.ClientToken) != nil {
		t.Fatal("grandchild survived revocation of its parent")
	}
}

func TestRevokeAccessor(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, nil)
	b := h.create(a.ClientToken, nil)
	if err := h.store.RevokeAccessor(h.ctx, a.Accessor); err != nil {
		t.Fatal(err)
	}
	if h.lookup(a.ClientToken) != nil || h.lookup(b.ClientToken) != nil {
		t.Fatal("RevokeAccessor left tokens behind")
	}
	if err := h.store.RevokeAccessor(h.ctx, "unknown"); err != nil {
		t.Fatal(err)
	}
}

func TestUseToken(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, map[string]interface{}{"num_uses": 2})
	te := h.lookup(a.ClientToken)
	if te.NumUses != 2 {
		t.Fatalf("num_uses = %d", te.NumUses)
	}
	te, err := h.store.UseToken(h.ctx, te)
	if err != nil || te == nil || te.NumUses != 1 {
		t.Fatalf("first use = %+v, %v", te, err)
	}
	if err := h.store.RevokeAfterUse(h.ctx, te); err != nil || h.lookup(a.ClientToken) == nil {
		t.Fatal("token revoked while it has a use left")
	}
	te, err = h.store.UseToken(h.ctx, h.lookup(a.ClientToken))
	if err != nil || te == nil || te.NumUses != revocationPending {
		t.Fatalf("last use = %+v, %v", te, err)
	}
	if h.lookup(a.ClientToken) != nil {
		t.Fatal("used-up token still looks up")
	}
	// The request on the last use may still look itself up.
	resp := h.ok(logical.ReadOperation, "lookup-self", a.ClientToken, nil)
	if resp.Data["id"] != a.ClientToken {
		t.Fatalf("lookup-self on last use = %v", resp.Data)
	}
	again, err := h.store.UseToken(h.ctx, te)
	if err != nil || again != nil {
		t.Fatalf("use after exhaustion = %+v, %v; want nil", again, err)
	}
	if err := h.store.RevokeAfterUse(h.ctx, te); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(h.leases.revokedAccessors(), a.Accessor) {
		t.Fatal("used-up token not revoked through the lease manager")
	}
	if salted, _ := h.store.accessorToken(h.ctx, a.Accessor); salted != "" {
		t.Fatal("used-up token left in storage")
	}
	// Unlimited tokens pass through untouched.
	root := h.lookup(h.root)
	if got, err := h.store.UseToken(h.ctx, root); err != nil || got != root {
		t.Fatalf("UseToken(unlimited) = %+v, %v", got, err)
	}
}

func TestLeaseRegistrationFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	h.leases.registerErr = errors.New("lease store down")
	before, _ := logical.CollectKeys(h.ctx, h.storage, "")
	_, err := h.do(logical.UpdateOperation, "create", h.root, map[string]interface{}{"ttl": "1h"})
	if err == nil || !strings.Contains(err.Error(), "lease store down") {
		t.Fatalf("create with failing lease manager: %v", err)
	}
	after, _ := logical.CollectKeys(h.ctx, h.storage, "")
	if !slices.Equal(before, after) {
		t.Fatalf("failed create left storage changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestCreateFromAuth(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.DefaultTTL = func() time.Duration { return time.Hour }
		o.MaxTTL = func() time.Duration { return 4 * time.Hour }
	})
	cases := []struct {
		name     string
		auth     logical.Auth
		path     string
		wantTTL  time.Duration
		wantPol  []string
		wantName string
		wantType string
		wantErr  string
	}{
		{name: "defaults", path: "auth/approle/login", auth: logical.Auth{Policies: []string{"App"}},
			wantTTL: time.Hour, wantPol: []string{"app", "default"}, wantName: "approle", wantType: TypeService},
		{name: "method ttl", path: "auth/userpass/login/alice", auth: logical.Auth{DisplayName: "alice", Policies: []string{"a"}, LeaseOptions: logical.LeaseOptions{TTL: 2 * time.Hour}},
			wantTTL: 2 * time.Hour, wantPol: []string{"a", "default"}, wantName: "userpass-alice", wantType: TypeService},
		{name: "method max caps", path: "auth/approle/login", auth: logical.Auth{LeaseOptions: logical.LeaseOptions{TTL: 3 * time.Hour, MaxTTL: 30 * time.Minute}},
			wantTTL: 30 * time.Minute, wantPol: []string{"default"}, wantName: "approle", wantType: TypeService},
		{name: "system max caps", path: "auth/approle/login", auth: logical.Auth{LeaseOptions: logical.LeaseOptions{TTL: 9 * time.Hour}},
			wantTTL: 4 * time.Hour, wantPol: []string{"default"}, wantName: "approle", wantType: TypeService},
		{name: "batch", path: "auth/approle/login", auth: logical.Auth{TokenType: "default-batch"},
			wantTTL: time.Hour, wantPol: []string{"default"}, wantName: "approle", wantType: TypeBatch},
		{name: "bad type", path: "auth/approle/login", auth: logical.Auth{TokenType: "odd"}, wantErr: "invalid token type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth
			te, err := h.store.CreateFromAuth(h.ctx, tc.path, &auth, nil)
			if tc.wantErr != "" {
				wantErr(t, err, logical.ErrInvalidRequest, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if auth.ClientToken == "" || auth.ClientToken != te.ID || auth.Accessor != te.Accessor || !auth.Orphan {
				t.Fatalf("auth not filled in: %+v", auth)
			}
			if auth.TTL != tc.wantTTL || te.ExpireTime != h.clock.now().Add(tc.wantTTL) {
				t.Fatalf("ttl = %v, expire %v; want %v", auth.TTL, te.ExpireTime, tc.wantTTL)
			}
			if !slices.Equal(te.Policies, tc.wantPol) || !slices.Equal(auth.TokenPolicies, tc.wantPol) {
				t.Fatalf("policies = %v / %v, want %v", te.Policies, auth.TokenPolicies, tc.wantPol)
			}
			if te.DisplayName != tc.wantName || te.Type != tc.wantType || auth.TokenType != tc.wantType || te.Path != tc.path {
				t.Fatalf("entry = %+v", te)
			}
			wantPrefix := ServicePrefix
			if tc.wantType == TypeBatch {
				wantPrefix = BatchPrefix
			}
			if !strings.HasPrefix(te.ID, wantPrefix) {
				t.Fatalf("token %q lacks prefix %q", te.ID, wantPrefix)
			}
			if _, ok := h.leases.registered[te.Accessor]; !ok {
				t.Fatal("login token lease not registered")
			}
			if got := h.lookup(te.ID); got == nil || got.Path != tc.path {
				t.Fatalf("lookup of login token = %+v", got)
			}
		})
	}
}

func TestCreateFromAuthWithParent(t *testing.T) {
	h := newHarness(t)
	parent := h.lookup(h.root)
	te, err := h.store.CreateFromAuth(h.ctx, "auth/approle/login", &logical.Auth{}, parent)
	if err != nil {
		t.Fatal(err)
	}
	if te.Orphan() {
		t.Fatal("token with a parent reported as orphan")
	}
	if err := h.store.Revoke(h.ctx, h.root); err != nil {
		t.Fatal(err)
	}
	if h.lookup(te.ID) != nil {
		t.Fatal("child login token survived its parent")
	}
}

func TestStoreReopens(t *testing.T) {
	h := newHarness(t)
	a := h.create(h.root, map[string]interface{}{"policies": "x"})
	// A second store over the same view (a restart) finds the same tokens.
	s2, err := NewStore(context.Background(), h.storage, h.leases, Options{Now: h.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	te, err := s2.Lookup(h.ctx, a.ClientToken)
	if err != nil || te == nil || !slices.Equal(te.Policies, []string{"default", "x"}) {
		t.Fatalf("lookup after reopen = %+v, %v", te, err)
	}
}

func TestCacheBounded(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.CacheSize = cacheShards })
	var toks []string
	for range 100 {
		toks = append(toks, h.create(h.root, map[string]interface{}{"policies": "a"}).ClientToken)
	}
	for _, tok := range toks {
		if h.lookup(tok) == nil {
			t.Fatal("token missing")
		}
	}
	if n := h.store.cache.len(); n == 0 || n > 2*cacheShards {
		t.Fatalf("cache holds %d entries, want 1..%d", n, 2*cacheShards)
	}
	// A cached entry handed out cannot be changed through the copy.
	te := h.lookup(toks[len(toks)-1])
	te.Policies = append(te.Policies, "root")
	te.NumUses = 99
	again := h.lookup(toks[len(toks)-1])
	if !slices.Equal(again.Policies, []string{"a", "default"}) || again.NumUses != 0 {
		t.Fatalf("cache entry mutated through a returned copy: %+v", again)
	}
}
