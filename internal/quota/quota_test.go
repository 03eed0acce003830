package quota

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestRateLimitExactUnderConcurrency(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(logical.NewInmemStorage(), nil, func() time.Time { return now })
	ctx := context.Background()
	if err := m.Set(ctx, &Quota{Name: "global", Type: TypeRateLimit, Rate: 100, Interval: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, &Quota{Name: "creds", Type: TypeRateLimit, Path: "database/creds/ro", Rate: 10, Interval: time.Minute}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.AllowRate("database/creds/ro", "", "127.0.0.1")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if errors.Is(err, logical.ErrRateLimited) {
				refused++
			}
		}()
	}
	wg.Wait()
	if ok != 10 || refused != 40 {
		t.Fatalf("ok=%d refused=%d, want 10/40", ok, refused)
	}
	// Another client has its own allowance; the global quota covers other paths.
	if _, err := m.AllowRate("database/creds/ro", "", "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	if res, err := m.AllowRate("secret/data/x", "", "127.0.0.1"); err != nil || res.Limit != 100 {
		t.Fatalf("global quota: %+v %v", res, err)
	}
	// The next window refills.
	now = now.Add(time.Minute)
	if _, err := m.AllowRate("database/creds/ro", "", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if v := m.Violations(); v.RateLimit != 40 {
		t.Fatalf("violations %+v", v)
	}
}

func TestBlockIntervalAndExemptPaths(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(logical.NewInmemStorage(), nil, func() time.Time { return now })
	ctx := context.Background()
	if err := m.Set(ctx, &Quota{Name: "q", Type: TypeRateLimit, Path: "kv/", Rate: 1, Interval: time.Second, BlockInterval: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AllowRate("kv/a", "", "c"); err != nil {
		t.Fatal(err)
	}
	res, err := m.AllowRate("kv/a", "", "c")
	if err == nil || res.RetryAfter != time.Minute {
		t.Fatalf("over the rate: %+v %v", res, err)
	}
	now = now.Add(10 * time.Second) // a new window, but still blocked
	if _, err := m.AllowRate("kv/a", "", "c"); err == nil {
		t.Fatal("blocked client allowed before block_interval ended")
	}
	if err := m.SetConfig(ctx, Config{RateLimitExemptPaths: []string{"kv/open"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AllowRate("kv/open/x", "", "c"); err != nil {
		t.Fatalf("exempt path refused: %v", err)
	}
}

func TestLeaseCountReservations(t *testing.T) {
	store := logical.NewInmemStorage()
	counter := func(ctx context.Context, prefix string) (int, error) { return 2, nil }
	m := New(store, counter, nil)
	ctx := context.Background()
	if err := m.Set(ctx, &Quota{Name: "ro", Type: TypeLeaseCount, Path: "database/creds/ro", MaxLeases: 5}); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, &Quota{Name: "db", Type: TypeLeaseCount, Path: "database/", MaxLeases: 100}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := m.Reserve("database/creds/ro", "")
			if err != nil {
				if !errors.Is(err, logical.ErrLeaseCountExceeded) {
					t.Error(err)
				}
				return
			}
			r.Commit()
			mu.Lock()
			granted++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if granted != 3 || m.Count("ro") != 5 || m.Count("db") != 5 {
		t.Fatalf("granted=%d ro=%d db=%d, want 3/5/5", granted, m.Count("ro"), m.Count("db"))
	}
	// A released reservation does not count; an ended lease frees a slot.
	m.LeaseEnded("database/creds/ro/abc")
	r, err := m.Reserve("database/creds/ro", "")
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	if m.Count("ro") != 4 {
		t.Fatalf("count after release %d", m.Count("ro"))
	}
	// Reload from storage recounts through the counter.
	m2 := New(store, func(ctx context.Context, p string) (int, error) { return 4, nil }, nil)
	if err := m2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if m2.Count("ro") != 4 || len(m2.List(TypeLeaseCount)) != 2 {
		t.Fatalf("after load: %d %v", m2.Count("ro"), m2.List(TypeLeaseCount))
	}
}

func TestQuotaValidation(t *testing.T) {
	m := New(logical.NewInmemStorage(), nil, nil)
	ctx := context.Background()
	bad := []*Quota{
		{Name: "a", Type: TypeRateLimit, Rate: 0},
		{Name: "a", Type: TypeRateLimit, Rate: 1, Interval: time.Millisecond},
		{Name: "a", Type: TypeLeaseCount, MaxLeases: -1},
		{Name: "a/b", Type: TypeLeaseCount, MaxLeases: 1},
		{Name: "a", Type: "other"},
		{Name: "a", Type: TypeRateLimit, Rate: 1, Path: "secret/", Role: "web"},
	}
	for _, q := range bad {
		if err := m.Set(ctx, q); !errors.Is(err, logical.ErrInvalidRequest) {
			t.Errorf("Set(%+v) = %v, want a 400", q, err)
		}
	}
}
