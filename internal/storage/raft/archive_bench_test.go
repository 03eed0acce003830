package raft

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/coffer-dev/coffer/internal/storage"
)

// fill writes n entries shaped like barrier-encrypted KV v2 data: a path
// under logical/<uuid>/ and ~200 bytes of incompressible ciphertext.
func fill(b *testing.B, be *Backend, n int) {
	b.Helper()
	const batch = 1000
	for i := 0; i < n; i += batch {
		ops := make([]storage.Op, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			v := make([]byte, 200)
			_, _ = rand.Read(v)
			ops = append(ops, storage.Op{Entry: &storage.Entry{Key: fmt.Sprintf("logical/6b1f0c1e-7c2a-4d0e-9a61-2f1f3c4d5e6f/versions/%08d", j), Value: v}})
		}
		if err := be.Transaction(context.Background(), ops); err != nil {
			b.Fatal(err)
		}
	}
}

func noSeal(sums []byte) ([]byte, error) { return sums, nil }

// BenchmarkSnapshotSave100k: an archive of 100,000 entries (size reported
// as bytes/snapshot).
func BenchmarkSnapshotSave100k(b *testing.B) {
	be := openTest(b, b.TempDir())
	fill(b, be, 100_000)
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cw := &countingWriter{w: io.Discard}
		if err := be.SaveSnapshot(context.Background(), cw, noSeal); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(size), "bytes/snapshot")
}

// BenchmarkSnapshotRestore100k: installing that archive through raft.
func BenchmarkSnapshotRestore100k(b *testing.B) {
	be := openTest(b, b.TempDir())
	fill(b, be, 100_000)
	var buf bytes.Buffer
	if err := be.SaveSnapshot(context.Background(), &buf, noSeal); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := be.RestoreSnapshot(context.Background(), bytes.NewReader(buf.Bytes()), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/snapshot")
}

// BenchmarkLeaderFailover: with the default (non-test) raft timing, the
// time from closing the leader of a 3-voter TLS cluster to the first
// successful write on a survivor.
func BenchmarkLeaderFailover(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		caCert, caKey, err := NewClusterCA("bench")
		if err != nil {
			b.Fatal(err)
		}
		var nodes []*Backend
		for j := 0; j < 3; j++ {
			n := openTest(b, b.TempDir(), func(o *Options) {
				o.NodeID, o.ClusterTLS, o.DeferBootstrap, o.FastElection = fmt.Sprintf("n%d", j), true, true, false
			})
			certify(b, n, caCert, caKey)
			nodes = append(nodes, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := nodes[0].Bootstrap(ctx); err != nil {
			b.Fatal(err)
		}
		for _, n := range nodes[1:] {
			if err := nodes[0].raft.AddVoter(raft.ServerID(n.NodeID()), raft.ServerAddress(n.LocalAddr()), 0, 10*time.Second).Error(); err != nil {
				b.Fatal(err)
			}
		}
		cancel()
		b.StartTimer()
		start := time.Now()
		nodes[0].Close()
		for done := false; !done; time.Sleep(time.Millisecond) {
			for _, n := range nodes[1:] {
				if n.Put(context.Background(), &storage.Entry{Key: "k", Value: []byte("v")}) == nil {
					done = true
					break
				}
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("no new leader within 30s")
			}
		}
		total += time.Since(start)
		b.StopTimer()
		for _, n := range nodes[1:] {
			n.Close()
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/failover")
}
