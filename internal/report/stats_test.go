package report

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)} }

func openStats(t *testing.T, view logical.Storage, c *clock) *Stats {
	t.Helper()
	s, err := NewStats(context.Background(), view, c.now)
	if err != nil {
		t.Fatalf("NewStats: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func TestStatsWindowSums(t *testing.T) {
	c := newClock()
	s := openStats(t, logical.NewInmemStorage(), c)
	for i := 0; i < 3; i++ {
		s.CredentialIssued("database/creds/app", time.Hour)
	}
	s.CredentialIssued("database/creds/app", 2*time.Hour)
	s.CredentialIssued("pki/issue/web", 72*time.Hour)
	s.Renewed()
	s.Revoked()
	c.add(2 * time.Hour)
	s.Expired()
	s.Expired()
	s.MarkedIrrevocable()
	s.OrphanCleaned()
	s.AuthFailed()
	s.AuthFailed()
	s.AuthFailed()
	s.PolicyViolation()

	w := s.Window(24 * time.Hour)
	want := Window{
		Duration: 24 * time.Hour,
		Since:    time.Date(2025, 2, 28, 14, 0, 0, 0, time.UTC),
		Renewed:  1, Revoked: 1, Expired: 2, Irrevocable: 1, OrphansCleaned: 1, AuthFailures: 3, PolicyViolations: 1,
	}
	creds := w.Credentials
	w.Credentials = nil
	if fmt.Sprint(w) != fmt.Sprint(want) {
		t.Errorf("window\n got %+v\nwant %+v", w, want)
	}
	if len(creds) != 2 {
		t.Fatalf("credentials %+v", creds)
	}
	if creds[0].Path != "database/creds/app" || creds[0].Count != 4 || creds[0].AvgTTL() != 75*time.Minute {
		t.Errorf("database creds %+v avg %v", creds[0], creds[0].AvgTTL())
	}
	if creds[1].Path != "pki/issue/web" || creds[1].Count != 1 || creds[1].AvgTTL() != 72*time.Hour {
		t.Errorf("pki creds %+v", creds[1])
	}

	// The last hour holds only what happened in it.
	last := s.Window(time.Minute)
	if last.Expired != 2 || last.Renewed != 0 || len(last.Credentials) != 0 {
		t.Errorf("last hour %+v", last)
	}
}

func TestStatsOldBucketsLeaveTheWindow(t *testing.T) {
	c := newClock()
	view := logical.NewInmemStorage()
	s := openStats(t, view, c)
	s.CredentialIssued("aws/creds/s3", time.Hour) // 12:30, day 1
	s.Revoked()
	c.add(23 * time.Hour) // 11:30, day 2: the 12:00 hour of day 1 still overlaps
	s.CredentialIssued("aws/creds/s3", time.Hour)
	if w := s.Window(24 * time.Hour); w.Revoked != 1 || len(w.Credentials) != 1 || w.Credentials[0].Count != 2 {
		t.Errorf("after 23h: %+v", w)
	}
	c.add(90 * time.Minute) // 13:00, day 2: the first hour ended 25h ago
	w := s.Window(24 * time.Hour)
	if w.Revoked != 0 || len(w.Credentials) != 1 || w.Credentials[0].Count != 1 {
		t.Errorf("after 24.5h: %+v", w)
	}
	if w48 := s.Window(48 * time.Hour); w48.Revoked != 1 || w48.Credentials[0].Count != 2 {
		t.Errorf("48h window: %+v", w48)
	}

	// Past KeepHours the bucket is deleted from storage on flush.
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys, _ := view.List(context.Background(), bucketPrefix); len(keys) != 2 {
		t.Fatalf("stored buckets %v, want 2", keys)
	}
	c.add(48 * time.Hour)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys, _ := view.List(context.Background(), bucketPrefix); len(keys) != 0 {
		t.Errorf("buckets older than %d hours kept: %v", KeepHours, keys)
	}
	if w := s.Window(48 * time.Hour); len(w.Credentials) != 0 || w.Revoked != 0 {
		t.Errorf("expired buckets still counted: %+v", w)
	}
}

func TestStatsPersistAcrossRestart(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	view := logical.NewInmemStorage()
	s, err := NewStats(ctx, view, c.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		s.CredentialIssued("database/creds/app", time.Hour)
	}
	s.Renewed()
	c.add(time.Hour)
	s.Expired()
	s.AuthFailed()
	s.RootRotated("database/prod")
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	before := s.Window(24 * time.Hour)

	c.add(10 * time.Minute)
	s2 := openStats(t, view, c)
	after := s2.Window(24 * time.Hour)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after restart\n got %+v\nwant %+v", after, before)
	}
	if after.Credentials[0].Count != 5 || after.Renewed != 1 || after.Expired != 1 || after.AuthFailures != 1 {
		t.Errorf("restored counts %+v", after)
	}
	rot := s2.RootRotations()
	if len(rot) != 1 || rot[0].Name != "database/prod" || !rot[0].Time.Equal(time.Date(2025, 3, 1, 13, 30, 0, 0, time.UTC)) {
		t.Errorf("root rotations %+v", rot)
	}
	// Counting continues in the restored bucket.
	s2.Expired()
	if w := s2.Window(24 * time.Hour); w.Expired != 2 {
		t.Errorf("expired after restart = %d, want 2", w.Expired)
	}
}

func TestStatsUnflushedEventsAreLostOnCrash(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	view := logical.NewInmemStorage()
	s, err := NewStats(ctx, view, c.now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	s.Revoked()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.Revoked() // never flushed: the process "crashes" here
	s2 := openStats(t, view, c)
	if w := s2.Window(24 * time.Hour); w.Revoked != 1 {
		t.Errorf("revoked after crash = %d, want the flushed 1", w.Revoked)
	}
}

func TestStatsLoadDropsStaleBuckets(t *testing.T) {
	ctx := context.Background()
	view := logical.NewInmemStorage()
	old := time.Date(2025, 2, 20, 9, 0, 0, 0, time.UTC)
	if err := logical.PutJSON(ctx, view, bucketKey(old.Unix()), &bucket{Revoked: 9}); err != nil {
		t.Fatal(err)
	}
	if err := view.Put(ctx, &logical.StorageEntry{Key: bucketPrefix + "garbage", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	s := openStats(t, view, newClock())
	if w := s.Window(48 * time.Hour); w.Revoked != 0 {
		t.Errorf("stale bucket counted: %+v", w)
	}
	if e, _ := view.Get(ctx, bucketKey(old.Unix())); e != nil {
		t.Error("stale bucket not deleted on load")
	}
}

func TestStatsLoadFailsOnCorruptBucket(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	view := logical.NewInmemStorage()
	if err := view.Put(ctx, &logical.StorageEntry{Key: bucketKey(hourOf(c.now())), Value: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStats(ctx, view, c.now); err == nil {
		t.Error("corrupt bucket accepted")
	}
}

// failingStorage fails Put while fail is set.
type failingStorage struct {
	*logical.InmemStorage
	mu   sync.Mutex
	fail bool
}

var errDiskFull = errors.New("disk full")

func (f *failingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return errDiskFull
	}
	return f.InmemStorage.Put(ctx, e)
}

func TestStatsFailedFlushRetries(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	view := &failingStorage{InmemStorage: logical.NewInmemStorage(), fail: true}
	s := openStats(t, view, c)
	s.PolicyViolation()
	s.RootRotated("aws/config/root")
	if err := s.Flush(ctx); !errors.Is(err, errDiskFull) {
		t.Fatalf("Flush = %v, want disk full", err)
	}
	view.mu.Lock()
	view.fail = false
	view.mu.Unlock()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := openStats(t, view.InmemStorage, c)
	if w := s2.Window(time.Hour); w.PolicyViolations != 1 {
		t.Errorf("policy violations after retry = %d", w.PolicyViolations)
	}
	if r := s2.RootRotations(); len(r) != 1 {
		t.Errorf("rotations after retry %+v", r)
	}
}

func TestStatsPathLimit(t *testing.T) {
	s := openStats(t, logical.NewInmemStorage(), newClock())
	for i := 0; i < maxPaths+5; i++ {
		s.CredentialIssued(fmt.Sprintf("pki/issue/r%04d", i), time.Minute)
	}
	s.CredentialIssued("pki/issue/r0000", time.Minute)
	w := s.Window(time.Hour)
	if len(w.Credentials) != maxPaths+1 {
		t.Fatalf("%d paths, want %d", len(w.Credentials), maxPaths+1)
	}
	var other, first int64
	for _, p := range w.Credentials {
		switch p.Path {
		case OtherPaths:
			other = p.Count
		case "pki/issue/r0000":
			first = p.Count
		}
	}
	if other != 5 || first != 2 {
		t.Errorf("other %d, first %d", other, first)
	}
}

func TestStatsConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openStats(t, logical.NewInmemStorage(), newClock())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.CredentialIssued("database/creds/app", time.Hour)
				s.Renewed()
			}
		}()
	}
	for i := 0; i < 10; i++ {
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		s.Window(24 * time.Hour)
	}
	wg.Wait()
	if w := s.Window(24 * time.Hour); w.Renewed != 4000 || w.Credentials[0].Count != 4000 {
		t.Errorf("counts %+v", w)
	}
}

func TestStatsCloseTwiceAndNil(t *testing.T) {
	ctx := context.Background()
	s, err := NewStats(ctx, logical.NewInmemStorage(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var n *Stats
	n.CredentialIssued("x", time.Second)
	n.Renewed()
	n.RootRotated("x")
	if err := n.Flush(ctx); err != nil {
		t.Error(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Error(err)
	}
	if w := n.Window(24 * time.Hour); w.Duration != 24*time.Hour || w.Renewed != 0 {
		t.Errorf("nil window %+v", w)
	}
	if n.RootRotations() != nil {
		t.Error("nil rotations")
	}
}

func TestRootRotationName(t *testing.T) {
	tests := []struct {
		typ, mount, path string
		op               logical.Operation
		want             string
		ok               bool
	}{
		{"database", "database/", "rotate-root/prod", logical.UpdateOperation, "database/prod", true},
		{"database", "db/", "rotate-root/prod", logical.CreateOperation, "db/prod", true},
		{"database", "database/", "rotate-root/prod", logical.ReadOperation, "", false},
		{"database", "database/", "rotate-role/app", logical.UpdateOperation, "", false},
		{"database", "database/", "rotate-root/", logical.UpdateOperation, "", false},
		{"aws", "aws/", "config/rotate-root", logical.UpdateOperation, "aws/config/root", true},
		{"aws", "aws/", "config/root", logical.UpdateOperation, "", false},
		{"kv", "secret/", "rotate-root/x", logical.UpdateOperation, "", false},
	}
	for _, tc := range tests {
		got, ok := RootRotationName(tc.typ, tc.mount, tc.path, tc.op)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RootRotationName(%q, %q, %q, %s) = %q, %v", tc.typ, tc.mount, tc.path, tc.op, got, ok)
		}
	}
}
