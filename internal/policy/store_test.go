package policy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// countingStorage counts Get calls to observe caching.
type countingStorage struct {
	*logical.InmemStorage
	mu   sync.Mutex
	gets int
}

func (c *countingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.InmemStorage.Get(ctx, key)
}

func (c *countingStorage) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets
}

func newTestStore() (*Store, *countingStorage) {
	cs := &countingStorage{InmemStorage: logical.NewInmemStorage()}
	return NewStore(cs), cs
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, storage := newTestStore()
	rules := `path "secret/*" { capabilities = ["read"] }`
	if err := s.Set(ctx, " Dev-Team ", rules); err != nil {
		t.Fatal(err)
	}
	if e, _ := storage.InmemStorage.Get(ctx, "sys/policy/dev-team"); e == nil {
		t.Fatal("policy not stored under sys/policy/dev-team")
	}

	// A fresh store reads it back from storage.
	s2 := NewStore(storage)
	p, err := s2.Get(ctx, "DEV-TEAM")
	if err != nil || p == nil {
		t.Fatalf("Get = %v, %v", p, err)
	}
	if p.Name != "dev-team" || p.Raw != rules || len(p.Paths) != 1 {
		t.Fatalf("policy = %+v", p)
	}
	if p, err := s2.Get(ctx, "missing"); p != nil || err != nil {
		t.Fatalf("missing policy = %v, %v", p, err)
	}

	names, err := s2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"default", "dev-team", "root"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("List = %v, want %v", names, want)
	}

	if err := s2.Delete(ctx, "dev-team"); err != nil {
		t.Fatal(err)
	}
	if p, _ := s2.Get(ctx, "dev-team"); p != nil {
		t.Fatal("deleted policy still returned")
	}
	if err := s2.Delete(ctx, "never-existed"); err != nil {
		t.Fatalf("deleting a missing policy: %v", err)
	}
	names, _ = s2.List(ctx)
	if want := []string{"default", "root"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("List after delete = %v, want %v", names, want)
	}
}

func TestStoreFixedPolicies(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore()
	tests := []struct {
		name string
		fn   func() error
		want string
	}{
		{"set root", func() error { return s.Set(ctx, "root", `path "a" { capabilities = ["read"] }`) }, `cannot update "root" policy`},
		{"set Root", func() error { return s.Set(ctx, "Root", `path "a" { capabilities = ["read"] }`) }, `cannot update "root" policy`},
		{"set response-wrapping", func() error {
			return s.Set(ctx, "response-wrapping", `path "a" { capabilities = ["read"] }`)
		}, `cannot update "response-wrapping" policy`},
		{"delete root", func() error { return s.Delete(ctx, "root") }, `cannot delete "root" policy`},
		{"delete default", func() error { return s.Delete(ctx, "default") }, `cannot delete default policy`},
		{"invalid rules", func() error { return s.Set(ctx, "bad", `path "a" { capabilities = ["reed"] }`) },
			`failed to parse policy: line 1: invalid capability "reed" on path "a"`},
		{"empty rules", func() error { return s.Set(ctx, "empty", "  ") }, `'policy' parameter not supplied or empty`},
		{"empty name", func() error { return s.Set(ctx, " ", `path "a" {}`) }, `policy name must be provided`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("error %v is not an invalid request", err)
			}
		})
	}

	// Root exists but has no rules; default falls back to the built-in text.
	root, _ := s.Get(ctx, "root")
	if root == nil || root.Raw != "" {
		t.Fatalf("root = %+v", root)
	}
	def, _ := s.Get(ctx, "default")
	if def == nil || def.Raw != DefaultPolicyRules {
		t.Fatal("default policy missing")
	}
	// Default can be replaced.
	custom := `path "auth/token/lookup-self" { capabilities = ["read"] }`
	if err := s.Set(ctx, "default", custom); err != nil {
		t.Fatal(err)
	}
	if def, _ := s.Get(ctx, "default"); def.Raw != custom {
		t.Fatal("default policy not updated")
	}
	acl, err := s.ACL(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if acl.AllowOperation(logical.UpdateOperation, "auth/token/renew-self", nil, 0).Allowed {
		t.Fatal("ACL still uses the built-in default policy")
	}
}

func TestStoreACLCache(t *testing.T) {
	ctx := context.Background()
	s, storage := newTestStore()
	if err := s.Set(ctx, "a", `path "secret/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "b", `path "kv/*" { capabilities = ["list"] }`); err != nil {
		t.Fatal(err)
	}

	acl1, err := s.ACL(ctx, "b", "a", "default", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if !acl1.AllowOperation(logical.ReadOperation, "secret/x", nil, 0).Allowed ||
		!acl1.AllowOperation(logical.ListOperation, "kv/", nil, 0).Allowed ||
		!acl1.AllowOperation(logical.ReadOperation, "auth/token/lookup-self", nil, 0).Allowed {
		t.Fatal("ACL lacks rules of its policies")
	}
	before := storage.count()
	acl2, _ := s.ACL(ctx, "b", "a", "default", "missing")
	acl3, _ := s.ACL(ctx, "A", "missing", "default", "b", "a")
	if acl2 != acl1 || acl3 != acl1 {
		t.Fatal("ACL not served from cache")
	}
	if storage.count() != before {
		t.Fatalf("cached ACL read storage %d times", storage.count()-before)
	}

	// A write invalidates cached ACLs.
	if err := s.Set(ctx, "a", `path "secret/*" { capabilities = ["deny"] }`); err != nil {
		t.Fatal(err)
	}
	acl4, _ := s.ACL(ctx, "b", "a", "default", "missing")
	if acl4 == acl1 || acl4.AllowOperation(logical.ReadOperation, "secret/x", nil, 0).Allowed {
		t.Fatal("ACL not rebuilt after Set")
	}
	if err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	acl5, _ := s.ACL(ctx, "b", "a", "default", "missing")
	if acl5.AllowOperation(logical.ListOperation, "kv/", nil, 0).Allowed {
		t.Fatal("ACL not rebuilt after Delete")
	}

	// Creating a policy that was cached as missing takes effect.
	if err := s.Set(ctx, "missing", `path "new/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	acl6, _ := s.ACL(ctx, "b", "a", "default", "missing")
	if !acl6.AllowOperation(logical.ReadOperation, "new/x", nil, 0).Allowed {
		t.Fatal("newly created policy not applied")
	}

	// Invalidate forces a reload from storage.
	before = storage.count()
	s.Invalidate()
	if _, err := s.ACL(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if storage.count() == before {
		t.Fatal("Invalidate did not drop the cache")
	}

	// Root short-circuits.
	rootACL, _ := s.ACL(ctx, "root")
	if !rootACL.IsRoot() {
		t.Fatal("root ACL is not root")
	}
}

func TestStoreConcurrentACL(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore()
	if err := s.Set(ctx, "a", `path "secret/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if i == 0 && j%50 == 0 {
					if err := s.Set(ctx, "b", `path "kv/*" { capabilities = ["read"] }`); err != nil {
						t.Error(err)
					}
				}
				acl, err := s.ACL(ctx, "a", "b", "default")
				if err != nil {
					t.Error(err)
					return
				}
				if !acl.AllowOperation(logical.ReadOperation, "secret/x", nil, 0).Allowed {
					t.Error("policy a lost")
					return
				}
			}
		}(i)
	}
	wg.Wait()
}
