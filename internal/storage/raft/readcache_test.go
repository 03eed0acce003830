package raft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/coffer-dev/coffer/internal/storage"
)

// Reads served from the cache follow every apply.
func TestGetAfterApply(t *testing.T) {
	f := newTestFSM(t)
	f.ApplyBatch([]*raft.Log{commandLog(t, 1, putOp("a", "1"), putOp("b", "1"))})
	for range 3 {
		if got := fsmValue(t, f, "a"); got != "1" {
			t.Fatalf("a = %q, want 1", got)
		}
	}
	if c := f.cache.Load(); c == nil || len(c.entries) == 0 {
		t.Fatal("repeated reads were not cached")
	}
	f.ApplyBatch([]*raft.Log{commandLog(t, 2, putOp("a", "2"))})
	if got := fsmValue(t, f, "a"); got != "2" {
		t.Fatalf("a after a write = %q, want 2", got)
	}
	f.ApplyBatch([]*raft.Log{{Index: 3, Type: raft.LogConfiguration}})
	f.ApplyBatch([]*raft.Log{commandLog(t, 4, storage.Op{Delete: true, Entry: &storage.Entry{Key: "a"}})})
	if got := fsmValue(t, f, "a"); got != "<missing>" {
		t.Fatalf("a after delete = %q", got)
	}
	if got := fsmValue(t, f, "b"); got != "1" {
		t.Fatalf("b = %q, want 1", got)
	}
	// Callers get their own copy.
	e, err := f.get("b")
	if err != nil {
		t.Fatal(err)
	}
	e.Value[0] = 'X'
	if got := fsmValue(t, f, "b"); got != "1" {
		t.Fatalf("b after a caller changed its copy = %q", got)
	}
	if err := f.ApplyBatch([]*raft.Log{commandLog(t, 5, putOp("empty", ""))})[0]; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if e, err := f.get("empty"); err != nil || e == nil || e.Value == nil || len(e.Value) != 0 {
			t.Fatalf("empty = %#v, %v", e, err)
		}
	}
}

// commitOnly writes like ApplyBatch's transaction but leaves f.applied
// behind, as it is for a moment between an apply's commit and its end.
func commitOnly(t *testing.T, f *fsm, index uint64, key, value string) {
	t.Helper()
	err := f.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(dataBucket).Put([]byte(key), []byte(value)); err != nil {
			return err
		}
		return tx.Bucket(metaBucket).Put(appliedKey, binary.BigEndian.AppendUint64(nil, index))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Once any read has seen a newer state, no read answers from an older one.
func TestNoOlderStateAfterNewerSeen(t *testing.T) {
	for _, tc := range []struct {
		name string
		see  func(f *fsm)
	}{
		{"get", func(f *fsm) { _, _ = f.get("other") }},
		{"list", func(f *fsm) { _, _ = f.list("") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFSM(t)
			f.ApplyBatch([]*raft.Log{commandLog(t, 1, putOp("a", "old"), putOp("b", "old"))})
			fsmValue(t, f, "a")
			fsmValue(t, f, "b")
			commitOnly(t, f, 2, "a", "new")
			commitOnly(t, f, 2, "b", "new")
			tc.see(f)
			for _, k := range []string{"a", "b"} {
				if got := fsmValue(t, f, k); got != "new" {
					t.Fatalf("%s = %q after a read saw the newer state", k, got)
				}
			}
		})
	}
}

// A restore replaces the state the cache was filled from.
func TestGetAfterRestore(t *testing.T) {
	src := newTestFSM(t)
	src.ApplyBatch([]*raft.Log{commandLog(t, 1, putOp("a", "from snapshot"))})
	data := snapshotOf(t, src)

	f := newTestFSM(t)
	f.ApplyBatch([]*raft.Log{commandLog(t, 7, putOp("a", "before restore"), putOp("gone", "x"))})
	fsmValue(t, f, "a")
	fsmValue(t, f, "gone")
	if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if got := fsmValue(t, f, "a"); got != "from snapshot" {
		t.Fatalf("a after restore = %q", got)
	}
	if got := fsmValue(t, f, "gone"); got != "<missing>" {
		t.Fatalf("gone after restore = %q", got)
	}
	// Applies after the restore count from the snapshot's index again.
	f.ApplyBatch([]*raft.Log{commandLog(t, 7, putOp("a", "after restore"))})
	if got := fsmValue(t, f, "a"); got != "after restore" {
		t.Fatalf("a after an apply that follows the restore = %q", got)
	}
}

func TestReadCacheBounded(t *testing.T) {
	c := &readCache{}
	v := make([]byte, 60<<10)
	for i := range 200 {
		c.store(1, fmt.Sprintf("k%d", i), v)
		if c.bytes > readCacheBytes {
			t.Fatalf("after %d entries the cache holds %d bytes", i+1, c.bytes)
		}
	}
	total := 0
	for _, e := range c.entries {
		total += len(e)
	}
	if total != c.bytes {
		t.Fatalf("cache counts %d bytes, holds %d", c.bytes, total)
	}
	c.store(1, "huge", make([]byte, readCacheEntryBytes+1))
	if _, ok := c.lookup(1, "huge"); ok {
		t.Fatal("oversized value cached")
	}
	// An older state is never stored over a newer one.
	c.store(2, "x", []byte("new"))
	c.store(1, "x", []byte("old"))
	if got, ok := c.lookup(2, "x"); !ok || string(got) != "new" {
		t.Fatalf("x = %q, %v", got, ok)
	}
	if _, ok := c.lookup(3, "x"); ok {
		t.Fatal("entry used after a newer index was applied")
	}
}

// Concurrent readers never see a value older than one read before it:
// a and b are written together, so b read after a is at least as new.
func TestConcurrentGetsMonotonic(t *testing.T) {
	f := newTestFSM(t)
	f.ApplyBatch([]*raft.Log{commandLog(t, 1, putOp("a", "1"), putOp("b", "1"))})
	const writes = 300
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			last := 0
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				var a, b int
				for _, p := range []struct {
					key string
					v   *int
				}{{"a", &a}, {"b", &b}} {
					e, err := f.get(p.key)
					if err != nil || e == nil {
						errs <- fmt.Errorf("get %s: %v, %v", p.key, e, err)
						return
					}
					fmt.Sscan(string(e.Value), p.v)
				}
				if a < last || b < a {
					errs <- fmt.Errorf("read a=%d then b=%d after having read %d", a, b, last)
					return
				}
				last = b
			}
		}()
	}
	for i := 2; i <= writes; i++ {
		v := fmt.Sprint(i)
		f.ApplyBatch([]*raft.Log{commandLog(t, uint64(i), putOp("a", v), putOp("b", v))})
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := fsmValue(t, f, "b"); got != fmt.Sprint(writes) {
		t.Fatalf("b = %s, want %d", got, writes)
	}
}
