package server_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/barrier"
	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/storage"
	"github.com/coffer-dev/coffer/internal/storage/raft"
	"github.com/coffer-dev/coffer/internal/testserver"
)

// BenchmarkRestartWithLeases restarts a server whose raft storage holds
// many leases (1,000,000 by default; COFFER_BENCH_LEASES overrides) and
// reports the time until it answers requests, the time until every lease
// is loaded, and the process's RSS afterwards. Run with -benchtime=1x.
func BenchmarkRestartWithLeases(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("COFFER_BENCH_LEASES")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	s := testserver.Start(b, testserver.Options{DataDir: dir})
	rootKey, err := hex.DecodeString(s.UnsealKeys[0])
	if err != nil {
		b.Fatal(err)
	}
	s.Stop()
	writeSyntheticLeases(b, dir, rootKey, n)

	for i := 0; i < b.N; i++ {
		s.Stop()
		runtime.GC()
		debug.FreeOSMemory()
		rssBefore, anonBefore := rssKB(), statusKB("RssAnon:")
		var msBefore runtime.MemStats
		runtime.ReadMemStats(&msBefore)
		start := time.Now()
		s.Restart()
		if _, err := s.Client.Auth().Token().LookupSelf(); err != nil {
			b.Fatal(err)
		}
		answered := time.Since(start)
		for {
			sec, err := s.Client.Logical().Read("sys/leases/count")
			if err != nil {
				b.Fatal(err)
			}
			if c, _ := sec.Data["lease_count"].(interface{ String() string }); c != nil {
				if got, _ := strconv.Atoi(c.String()); got >= n {
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		loaded := time.Since(start)
		b.ReportMetric(float64(answered.Milliseconds()), "ms-to-answer")
		b.ReportMetric(loaded.Seconds(), "s-to-all-loaded")
		runtime.GC()
		debug.FreeOSMemory()
		grown := rssKB() - rssBefore
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap := int64(ms.HeapInuse) - int64(msBefore.HeapInuse)
		// RSS includes the pages of the storage file mapped while reading
		// the leases; the Go heap is what the server keeps per lease.
		b.ReportMetric(float64(grown)/1024, "MB-RSS-growth")
		b.ReportMetric(float64(statusKB("RssAnon:")-anonBefore)/1024, "MB-anon-RSS-growth")
		b.ReportMetric(float64(heap)/(1<<20), "MB-heap-growth")
		b.ReportMetric(float64(heap)/float64(n), "B-heap/lease")
	}
}

func writeSyntheticLeases(b *testing.B, dir string, rootKey []byte, n int) {
	ctx := context.Background()
	rb, err := raft.Open(ctx, raft.Options{Path: dir, NodeID: "node1", FastElection: true})
	if err != nil {
		b.Fatal(err)
	}
	defer rb.Close()
	br := barrier.New(rb)
	if err := br.Unseal(ctx, rootKey); err != nil {
		b.Fatal(err)
	}
	defer br.Seal()
	now := time.Now()
	const batch = 5000
	ops := make([]storage.Op, 0, batch)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("database/creds/bench/%024d", i)
		e := &lease.Entry{
			ID: id, Path: "database/creds/bench",
			Secret: &logical.Secret{
				LeaseOptions: logical.LeaseOptions{TTL: 24 * time.Hour, Renewable: true},
				InternalData: map[string]interface{}{"secret_type": "creds", "username": fmt.Sprintf("v-bench-%d", i)},
			},
			IssueTime: now, ExpireTime: now.Add(time.Hour + time.Duration(i%86400)*time.Second),
		}
		v, err := lease.EncodeEntry(e)
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, storage.Op{Entry: &storage.Entry{Key: "sys/expire/" + lease.StorageKey(id), Value: v}})
		if len(ops) == batch || i == n-1 {
			if err := br.Transaction(ctx, ops); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	// Real traffic writes leases one by one and raft snapshots every few
	// thousand log entries; take a snapshot so a restart does not replay
	// these few huge batches.
	if err := rb.Raft().Snapshot().Error(); err != nil {
		b.Fatal(err)
	}
}

func rssKB() int { return statusKB("VmRSS:") }

// statusKB reads one kB figure from /proc/self/status.
func statusKB(field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.Atoi(f[1])
				return v
			}
		}
	}
	return 0
}
