package token

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestConcurrentUses(t *testing.T) {
	h := newHarness(t)
	const uses, workers = 5, 20
	a := h.create(h.root, map[string]interface{}{"policies": "a", "num_uses": uses})
	var served atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			te, err := h.store.Lookup(h.ctx, a.ClientToken)
			if err != nil || te == nil {
				return
			}
			te, err = h.store.UseToken(h.ctx, te)
			if err != nil {
				t.Error(err)
				return
			}
			if te != nil {
				served.Add(1)
				if err := h.store.RevokeAfterUse(h.ctx, te); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if got := served.Load(); got != uses {
		t.Fatalf("%d requests served with a %d-use token", got, uses)
	}
	if h.lookup(a.ClientToken) != nil {
		t.Fatal("used-up token still valid")
	}
}

func TestConcurrentLookupAndRevoke(t *testing.T) {
	h := newHarness(t)
	toks := make([]string, 50)
	for i := range toks {
		toks[i] = h.create(h.root, map[string]interface{}{"policies": "a"}).ClientToken
	}
	var wg sync.WaitGroup
	for _, tok := range toks {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := h.store.Lookup(h.ctx, tok); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			if err := h.store.Revoke(h.ctx, tok); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, tok := range toks {
		if h.lookup(tok) != nil {
			t.Fatal("a lookup racing a revoke left a revoked token in the cache")
		}
	}
}

// BenchmarkLookup measures the per-request lookup of a cached token.
func BenchmarkLookup(b *testing.B) {
	h := newHarness(b)
	tok := h.create(h.root, map[string]interface{}{"policies": "a"}).ClientToken
	if h.lookup(tok) == nil {
		b.Fatal("token missing")
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if te, err := h.store.Lookup(h.ctx, tok); err != nil || te == nil {
				b.Fatal("lookup failed")
			}
		}
	})
}

// BenchmarkLookupUncached reads storage and decodes the entry every time.
func BenchmarkLookupUncached(b *testing.B) {
	h := newHarness(b, func(o *Options) { o.CacheSize = -1 })
	tok := h.create(h.root, map[string]interface{}{"policies": "a"}).ClientToken
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if te, err := h.store.Lookup(h.ctx, tok); err != nil || te == nil {
			b.Fatal("lookup failed")
		}
	}
}

// BenchmarkCreate measures auth/token/create end to end (in-memory storage).
func BenchmarkCreate(b *testing.B) {
	h := newHarness(b)
	data := map[string]interface{}{"policies": "a,b", "ttl": "1h"}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, err := h.do(logical.UpdateOperation, "create", h.root, data)
		if err != nil || resp.Auth == nil {
			b.Fatal(err)
		}
	}
}
