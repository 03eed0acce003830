package raft

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/storage"
)

// TestConcurrentPutsAreBatched checks that concurrent writers share bbolt
// transactions instead of committing one each.
func TestConcurrentPutsAreBatched(t *testing.T) {
	b := openTest(t, t.TempDir())
	const writers, perWriter = 32, 20
	before := b.fsm.batches.Load()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := b.Put(context.Background(), &storage.Entry{Key: fmt.Sprintf("w%d/%d", w, i), Value: []byte("v")}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	batches := b.fsm.batches.Load() - before
	if batches == 0 || batches >= writers*perWriter/2 {
		t.Fatalf("%d puts took %d bbolt transactions, want them batched", writers*perWriter, batches)
	}
	t.Logf("%d puts in %d transactions", writers*perWriter, batches)
}

func BenchmarkPut(b *testing.B) {
	be := openTest(b, b.TempDir())
	value := bytes.Repeat([]byte("v"), 256)
	var n atomic.Int64
	before := be.fsm.batches.Load()
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := fmt.Sprintf("bench/%d", n.Add(1))
			if err := be.Put(ctx, &storage.Entry{Key: key, Value: value}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if batches := be.fsm.batches.Load() - before; batches > 0 {
		b.ReportMetric(float64(n.Load())/float64(batches), "puts/txn")
	}
}

func BenchmarkGet(b *testing.B) {
	be := openTest(b, b.TempDir())
	const keys = 10_000
	ops := make([]storage.Op, 0, keys)
	for i := range keys {
		ops = append(ops, storage.Op{Entry: &storage.Entry{Key: fmt.Sprintf("bench/%05d", i), Value: bytes.Repeat([]byte("v"), 256)}})
	}
	if err := be.Transaction(context.Background(), ops); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := fmt.Sprintf("bench/%05d", rand.IntN(keys))
			if e, err := be.Get(ctx, key); err != nil || e == nil {
				b.Errorf("Get(%q) = %v, %v", key, e, err)
				return
			}
		}
	})
}
