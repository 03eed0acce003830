package lease

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestExpiryFires(t *testing.T) {
	m, f, s := newStarted(t, testOptions())
	ttls := []time.Duration{60 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	var es []*Entry
	for _, ttl := range ttls {
		es = append(es, mustRegister(t, m, "db/creds/ro", "tok", ttl))
	}
	long := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	waitFor(t, "expiry", func() bool {
		for _, e := range es {
			if f.revokedCount(e.ID) != 1 {
				return false
			}
		}
		return true
	})
	f.mu.Lock()
	for _, e := range es {
		if at := f.at[e.ID]; at.Before(e.ExpireTime) {
			t.Errorf("lease %s revoked at %v, before its expiry %v", e.ID, at, e.ExpireTime)
		}
	}
	f.mu.Unlock()
	for _, e := range es {
		if exists(t, s, "id/"+e.ID) || exists(t, s, tokenIndexKey("tok", e.ID)) {
			t.Errorf("expired lease %s left in storage", e.ID)
		}
	}
	if f.callCount(long.ID) != 0 || !exists(t, s, "id/"+long.ID) {
		t.Fatal("the long lease was revoked")
	}
	waitFor(t, "count", func() bool { return m.Count().Active == 1 })
}

func TestRenewPostponesExpiry(t *testing.T) {
	m, f, _ := newStarted(t, testOptions())
	e := mustRegister(t, m, "db/creds/ro", "tok", 30*time.Millisecond)
	if _, err := m.Renew(context.Background(), e.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	other := mustRegister(t, m, "db/creds/ro", "tok", 50*time.Millisecond)
	waitFor(t, "the later lease to expire", func() bool { return f.revokedCount(other.ID) == 1 })
	if f.callCount(e.ID) != 0 {
		t.Fatal("a renewed lease was revoked at its old expiry")
	}
}

func TestBackoffThenSuccess(t *testing.T) {
	m, f, s := newStarted(t, testOptions())
	f.setFail(func(_ *Entry, attempt int) error {
		if attempt <= 2 {
			return errTargetDown
		}
		return nil
	})
	e := mustRegister(t, m, "db/creds/ro", "tok", 10*time.Millisecond)
	waitFor(t, "revocation after retries", func() bool { return f.revokedCount(e.ID) == 1 })
	if n := f.callCount(e.ID); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	waitFor(t, "entry deleted", func() bool { return !exists(t, s, "id/"+e.ID) })
	waitFor(t, "count", func() bool { c := m.Count(); return c.Active == 0 && c.Irrevocable == 0 })
}

func TestIrrevocableAfterMaxAttempts(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.MaxAttempts = 3
	m, f, s := newStarted(t, opts)
	f.setFail(func(*Entry, int) error { return errTargetDown })
	e := mustRegister(t, m, "db/creds/ro", "tok", 10*time.Millisecond)
	waitFor(t, "irrevocable", func() bool {
		got, _ := m.Lookup(ctx, e.ID)
		return got != nil && got.Irrevocable
	})
	got, _ := m.Lookup(ctx, e.ID)
	if got.RevokeAttempts != 3 || !strings.Contains(got.LastError, "connection refused") {
		t.Fatalf("irrevocable entry: attempts %d, error %q", got.RevokeAttempts, got.LastError)
	}
	waitFor(t, "counted irrevocable", func() bool {
		c := m.Count()
		return c.Irrevocable == 1 && c.Active == 0 && c.IrrevocableByMount["db/"] == 1
	})
	// No more automatic attempts: wait well past several backoff periods.
	time.Sleep(5 * opts.BackoffMax)
	if n := f.callCount(e.ID); n != 3 {
		t.Fatalf("%d attempts after giving up, want 3", n)
	}
	if _, err := m.Renew(ctx, e.ID, 0); err != ErrIrrevocable {
		t.Fatalf("renew of an irrevocable lease: %v", err)
	}
	// An explicit revoke still works once the target is back.
	f.setFail(nil)
	if err := m.Revoke(ctx, e.ID, true); err != nil {
		t.Fatal(err)
	}
	if exists(t, s, "id/"+e.ID) || m.Count().Irrevocable != 0 {
		t.Fatal("explicit revoke of an irrevocable lease did not remove it")
	}
}

func TestIrrevocableAsyncRevokeRetriesOnce(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.MaxAttempts = 2
	m, f, s := newStarted(t, opts)
	f.setFail(func(*Entry, int) error { return errTargetDown })
	e := mustRegister(t, m, "db/creds/ro", "tok", 10*time.Millisecond)
	waitFor(t, "irrevocable", func() bool { return m.Count().Irrevocable == 1 })
	f.setFail(nil)
	if err := m.Revoke(ctx, e.ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revoked in the background", func() bool { return !exists(t, s, "id/"+e.ID) })
	if c := m.Count(); c.Irrevocable != 0 || c.Active != 0 {
		t.Fatalf("Count = %+v", c)
	}
}

func TestUnrecoverableErrorGivesUpAtOnce(t *testing.T) {
	m, f, _ := newStarted(t, testOptions())
	f.setFail(func(*Entry, int) error {
		return fmt.Errorf("route: %w", logical.ErrUnsupportedPath)
	})
	e := mustRegister(t, m, "gone/creds/ro", "tok", 10*time.Millisecond)
	waitFor(t, "irrevocable", func() bool { return m.Count().Irrevocable == 1 })
	if n := f.callCount(e.ID); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
}

// TestFailingMountDoesNotHoldOthers: one mount's target is down; another
// mount's leases are revoked meanwhile, the failing mount is probed rather
// than hammered, and its queue drains once the target is back.
func TestFailingMountDoesNotHoldOthers(t *testing.T) {
	opts := testOptions()
	opts.MaxAttempts = 100
	m, f, s := newStarted(t, opts)
	down := make(chan struct{})
	f.setFail(func(e *Entry, _ int) error {
		if strings.HasPrefix(e.ID, "bad/") {
			select {
			case <-down:
				return nil
			default:
				return errTargetDown
			}
		}
		return nil
	})
	const n = 30
	var bad, good []*Entry
	for i := 0; i < n; i++ {
		bad = append(bad, mustRegister(t, m, "bad/creds/r", "tok", 10*time.Millisecond))
	}
	for i := 0; i < n; i++ {
		good = append(good, mustRegister(t, m, "good/creds/r", "tok", 20*time.Millisecond))
	}
	waitFor(t, "the healthy mount's leases", func() bool {
		for _, e := range good {
			if f.revokedCount(e.ID) != 1 {
				return false
			}
		}
		return true
	})
	// Let the failing mount be probed a few times.
	waitFor(t, "probes", func() bool { return f.callsWithPrefix("bad/") >= opts.Workers+4 })
	before := f.callsWithPrefix("bad/")
	close(down)
	waitFor(t, "the failing mount's queue to drain", func() bool {
		for _, e := range bad {
			if f.revokedCount(e.ID) != 1 {
				return false
			}
		}
		return true
	})
	// While down, parked leases were not retried one by one: the attempts
	// are far fewer than one retry per lease per backoff period.
	if before >= 2*n {
		t.Fatalf("%d attempts on the failing mount for %d leases while it was down", before, n)
	}
	if c := m.Count(); c.Irrevocable != 0 {
		t.Fatalf("leases given up during the outage: %+v", c)
	}
	waitFor(t, "storage clean", func() bool {
		keys, _ := logical.CollectKeys(context.Background(), s, "id/")
		return len(keys) == 0
	})
}

func TestBackoffIsCappedWithJitter(t *testing.T) {
	m := New(logical.NewInmemStorage(), newFakeRevoker(), Options{BackoffBase: time.Second, BackoffMax: 10 * time.Second})
	for n := 1; n <= 12; n++ {
		want := min(time.Second<<(n-1), 10*time.Second)
		for i := 0; i < 50; i++ {
			d := m.backoff(n)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestDefaultMountOf(t *testing.T) {
	tests := map[string]string{
		"database/creds/ro/abc":   "database/",
		"auth/approle/login/abc":  "auth/approle/",
		"auth/token/create/xyz":   "auth/token/",
		"kv":                      "kv/",
		"auth/userpass":           "auth/userpass/",
		"pki/issue/web/serial/11": "pki/",
	}
	for in, want := range tests {
		if got := DefaultMountOf(in); got != want {
			t.Errorf("DefaultMountOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRestart: a new manager over the same storage revokes what expired
// while nothing ran and re-arms the timers of the rest.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	s := logical.NewInmemStorage()
	f := newFakeRevoker()
	first := New(s, f, testOptions())
	first.Start(ctx)
	soon := mustRegister(t, first, "db/creds/ro", "tok", 30*time.Millisecond)
	later := mustRegister(t, first, "db/creds/ro", "tok", 150*time.Millisecond)
	long := mustRegister(t, first, "db/creds/ro", "tok", time.Hour)
	gaveUp := mustRegister(t, first, "db/creds/ro", "tok", time.Hour)
	e, _ := first.Lookup(ctx, gaveUp.ID)
	e.Irrevocable = true
	if err := first.persist(ctx, e); err != nil {
		t.Fatal(err)
	}
	first.Stop()
	time.Sleep(50 * time.Millisecond) // "soon" expires while down
	if f.callCount(soon.ID) != 0 {
		t.Fatal("revoked by a stopped manager")
	}

	second := New(s, f, testOptions())
	// Before Start, operations read storage on demand.
	if got, err := second.Lookup(ctx, long.ID); err != nil || got == nil {
		t.Fatalf("Lookup before restore: %v %v", got, err)
	}
	second.Start(ctx)
	defer second.Stop()
	<-second.Restored()
	waitFor(t, "the lease that expired while down", func() bool { return f.revokedCount(soon.ID) == 1 })
	waitFor(t, "the re-armed timer", func() bool { return f.revokedCount(later.ID) == 1 })
	if f.callCount(long.ID) != 0 || f.callCount(gaveUp.ID) != 0 {
		t.Fatal("a live or irrevocable lease was revoked after restart")
	}
	waitFor(t, "counts", func() bool {
		c := second.Count()
		return c.Active == 1 && c.Irrevocable == 1
	})
}

func TestRestoreSkipsLeasesRevokedMeanwhile(t *testing.T) {
	ctx := context.Background()
	s := logical.NewInmemStorage()
	f := newFakeRevoker()
	m := New(s, f, testOptions())
	var ids []string
	for i := 0; i < 3000; i++ {
		ids = append(ids, mustRegister(t, m, fmt.Sprintf("m%d/creds/r", i%3), "tok", time.Hour).ID)
	}
	second := New(s, f, testOptions())
	second.Start(ctx)
	defer second.Stop()
	// Revoke while the restore runs; none may come back.
	for _, id := range ids[:500] {
		if err := second.Revoke(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	<-second.Restored()
	if c := second.Count(); c.Active != 2500 {
		t.Fatalf("Count after restore = %+v, want 2500 active", c)
	}
}

// TestHangingMountLeavesAWorker: while one target hangs, it cannot take the
// whole pool; another mount's leases are still revoked.
func TestHangingMountLeavesAWorker(t *testing.T) {
	opts := testOptions()
	m, f, _ := newStarted(t, opts)
	release := make(chan struct{})
	f.setFail(func(e *Entry, _ int) error {
		if strings.HasPrefix(e.ID, "slow/") {
			<-release
		}
		return nil
	})
	var slow []*Entry
	for i := 0; i < 2*opts.Workers; i++ {
		slow = append(slow, mustRegister(t, m, "slow/creds/r", "tok", 5*time.Millisecond))
	}
	waitFor(t, "the slow target to occupy its workers", func() bool { return f.callsWithPrefix("slow/") == opts.Workers-1 })
	fast := mustRegister(t, m, "fast/creds/r", "tok", 5*time.Millisecond)
	waitFor(t, "the other mount's lease", func() bool { return f.revokedCount(fast.ID) == 1 })
	if n := f.callsWithPrefix("slow/"); n != opts.Workers-1 {
		t.Fatalf("%d slow revocations started, want %d", n, opts.Workers-1)
	}
	close(release)
	waitFor(t, "the slow mount", func() bool {
		for _, e := range slow {
			if f.revokedCount(e.ID) != 1 {
				return false
			}
		}
		return true
	})
}
