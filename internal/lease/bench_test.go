package lease

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// discardStorage accepts writes and keeps nothing, so that memory
// measurements see only the manager.
type discardStorage struct{}

func (discardStorage) List(context.Context, string) ([]string, error) { return nil, nil }
func (discardStorage) Get(context.Context, string) (*logical.StorageEntry, error) {
	return nil, nil
}
func (discardStorage) Put(context.Context, *logical.StorageEntry) error { return nil }
func (discardStorage) Delete(context.Context, string) error             { return nil }

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryPerLease registers 100,000 leases and measures what the manager
// keeps in memory for them (the target is at most 1.5 KB per lease).
func TestMemoryPerLease(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 leases")
	}
	const n = 100_000
	ctx := context.Background()
	before := heapAlloc()
	m := New(discardStorage{}, newFakeRevoker(), Options{})
	for i := 0; i < n; i++ {
		path := []string{"database/creds/readonly", "aws/creds/deploy", "pki/issue/web"}[i%3]
		if _, err := m.Register(ctx, path, "hvs.CAESIJxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", secret(time.Hour+time.Duration(i)*time.Millisecond, true)); err != nil {
			t.Fatal(err)
		}
	}
	after := heapAlloc()
	runtime.KeepAlive(m)
	per := float64(after-before) / n
	t.Logf("manager memory: %.0f bytes per live lease (%d leases, %.1f MB)", per, n, float64(after-before)/(1<<20))
	if c := m.Count(); c.Active != n {
		t.Fatalf("Count = %d", c.Active)
	}
	if per > 1536 {
		t.Fatalf("%.0f bytes per lease, budget is 1536", per)
	}
}

func BenchmarkRegister(b *testing.B) {
	ctx := context.Background()
	m := New(logical.NewInmemStorage(), newFakeRevoker(), Options{})
	m.Start(ctx)
	defer m.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Register(ctx, "database/creds/readonly", "hvs.parent", secret(time.Hour, true)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenew(b *testing.B) {
	ctx := context.Background()
	m := New(logical.NewInmemStorage(), newFakeRevoker(), Options{})
	m.Start(ctx)
	defer m.Stop()
	e, err := m.Register(ctx, "database/creds/readonly", "hvs.parent", secret(time.Hour, true))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Renew(ctx, e.ID, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// restoreFixture is built once: 1,000,000 lease entries in an in-memory
// storage, spread over a few mounts, none expired.
var restoreFixture struct {
	once sync.Once
	s    *logical.InmemStorage
	n    int
}

func restoreStorage(b *testing.B) (*logical.InmemStorage, int) {
	restoreFixture.once.Do(func() {
		const n = 1_000_000
		ctx := context.Background()
		s := logical.NewInmemStorage()
		paths := []string{"database/creds/readonly", "database/creds/readwrite", "aws/creds/deploy", "pki/issue/web"}
		now := time.Now()
		for i := 0; i < n; i++ {
			path := paths[i%len(paths)]
			suffix, err := randomID(leaseIDLength)
			if err != nil {
				b.Fatal(err)
			}
			sec := secret(time.Hour, true)
			sec.InternalData["username"] = fmt.Sprintf("v-token-readonly-%08d", i)
			e := Entry{ID: path + "/" + suffix, Path: path, Secret: sec, ClientToken: "hvs.parent",
				IssueTime: now, ExpireTime: now.Add(time.Hour + time.Duration(i%86400)*time.Second)}
			raw, err := encodeEntry(&e)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Put(ctx, &logical.StorageEntry{Key: idPrefix + e.ID, Value: raw}); err != nil {
				b.Fatal(err)
			}
		}
		restoreFixture.s, restoreFixture.n = s, n
	})
	return restoreFixture.s, restoreFixture.n
}

// sortedStorage serves List from a sorted key index, as a B-tree backed
// store (bbolt under raft) does, instead of scanning every key per call.
// It is read-only: it wraps the restore fixture.
type sortedStorage struct {
	*logical.InmemStorage
	keys []string
}

func newSortedStorage(ctx context.Context, s *logical.InmemStorage) (*sortedStorage, error) {
	keys, err := logical.CollectKeys(ctx, s, "")
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return &sortedStorage{InmemStorage: s, keys: keys}, nil
}

func (s *sortedStorage) List(_ context.Context, prefix string) ([]string, error) {
	var out []string
	i := sort.SearchStrings(s.keys, prefix)
	for i < len(s.keys) && strings.HasPrefix(s.keys[i], prefix) {
		rest := s.keys[i][len(prefix):]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			out = append(out, rest)
			i++
			continue
		}
		folder := rest[:j+1]
		out = append(out, folder)
		// Skip the folder: '0' sorts right after '/'.
		i = sort.SearchStrings(s.keys, prefix+rest[:j]+"0")
	}
	return out, nil
}

// BenchmarkRestore starts a manager over 1,000,000 persisted leases and
// reports how long Start takes to return, how long until every lease is
// loaded, and the manager's memory per lease. "inmem" lists with
// logical.InmemStorage (a scan of every key per folder); "sorted" lists
// from a sorted index as a B-tree store does.
func BenchmarkRestore(b *testing.B) {
	s, n := restoreStorage(b)
	sorted, err := newSortedStorage(context.Background(), s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("inmem", func(b *testing.B) { benchRestore(b, s, n) })
	b.Run("sorted", func(b *testing.B) { benchRestore(b, sorted, n) })
}

func benchRestore(b *testing.B, s logical.Storage, n int) {
	var startNs, loadNs, bytes float64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		before := heapAlloc()
		b.StartTimer()
		m := New(s, newFakeRevoker(), Options{})
		t0 := time.Now()
		m.Start(context.Background())
		startNs += float64(time.Since(t0).Nanoseconds())
		<-m.Restored()
		loadNs += float64(time.Since(t0).Nanoseconds())
		b.StopTimer()
		if c := m.Count(); c.Active != n {
			b.Fatalf("restored %d of %d", c.Active, n)
		}
		bytes += float64(heapAlloc()-before) / float64(n)
		m.Stop()
		b.StartTimer()
	}
	b.ReportMetric(startNs/float64(b.N), "start-ns")
	b.ReportMetric(loadNs/float64(b.N)/1e6, "all-loaded-ms")
	b.ReportMetric(bytes/float64(b.N), "bytes/lease")
}
