package raft

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/storage"
)

func compactions(b *Backend) int {
	c := &b.fsm.compact
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// TestStateFileRewrite fills the state file, deletes most of it and takes
// a snapshot: the file is rewritten without its free pages while writers
// keep going, and every write made before, during and after is there,
// also after a restart.
func TestStateFileRewrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	b := openTest(t, dir)
	b.fsm.compact.minFree = 1 << 20
	// Writes between the copy and the swap reach the new file only by
	// being recorded and replayed.
	b.fsm.compact.copied = func() {
		mustPut(t, b, "during/a", "2")
		if err := b.Delete(context.Background(), "keep/b"); err != nil {
			t.Error(err)
		}
	}
	ctx := context.Background()
	big := strings.Repeat("v", 64<<10)
	for i := 0; i < 16; i++ {
		ops := make([]storage.Op, 0, 16)
		for j := 0; j < 16; j++ {
			ops = append(ops, storage.Op{Entry: &storage.Entry{Key: fmt.Sprintf("bulk/%d-%d", i, j), Value: []byte(big)}})
		}
		if err := b.Transaction(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, b, "keep/a", "1")
	mustPut(t, b, "keep/b", "1")
	for i := 0; i < 16; i++ {
		ops := make([]storage.Op, 0, 16)
		for j := 0; j < 16; j++ {
			ops = append(ops, storage.Op{Delete: true, Entry: &storage.Entry{Key: fmt.Sprintf("bulk/%d-%d", i, j)}})
		}
		if err := b.Transaction(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	before := fi.Size()
	if before < 16<<20 {
		t.Fatalf("state file is %d bytes after writing 16 MB", before)
	}

	// Writers run across the rewrite; their last values must survive it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	last := make([]int, 4)
	for w := range last {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := b.Put(ctx, &storage.Entry{Key: fmt.Sprintf("live/%d", w), Value: []byte(fmt.Sprint(n))}); err != nil {
					t.Error(err)
					return
				}
				if n%3 == 0 {
					if err := b.Delete(ctx, fmt.Sprintf("live/%d-gone", w)); err != nil {
						t.Error(err)
						return
					}
				} else {
					mustPut(t, b, fmt.Sprintf("live/%d-gone", w), "x")
				}
				last[w] = n
			}
		}()
	}
	if err := b.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for compactions(b) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the state file was not rewritten within 10s of a snapshot")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // more writes after the swap
	close(stop)
	wg.Wait()

	fi, err = os.Stat(filepath.Join(dir, "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > before/4 {
		t.Fatalf("state file is %d bytes after the rewrite, was %d", fi.Size(), before)
	}
	check := func(b *Backend) {
		t.Helper()
		if got := mustGet(t, b, "keep/a"); got != "1" {
			t.Fatalf("keep/a = %q", got)
		}
		if got := mustGet(t, b, "during/a"); got != "2" {
			t.Fatalf("during/a, written between copy and swap, = %q", got)
		}
		if got := mustGet(t, b, "keep/b"); got != "<missing>" {
			t.Fatalf("keep/b, deleted between copy and swap, = %q", got)
		}
		if got := mustGet(t, b, "bulk/3-3"); got != "<missing>" {
			t.Fatalf("deleted bulk/3-3 = %q", got[:min(len(got), 10)])
		}
		for w, n := range last {
			if got := mustGet(t, b, fmt.Sprintf("live/%d", w)); got != fmt.Sprint(n) {
				t.Fatalf("live/%d = %q, want %d", w, got, n)
			}
			want := "x"
			if n%3 == 0 {
				want = "<missing>"
			}
			if got := mustGet(t, b, fmt.Sprintf("live/%d-gone", w)); got != want {
				t.Fatalf("live/%d-gone = %q, want %q (last write %d)", w, got, want, n)
			}
		}
		keys, err := b.List(ctx, "bulk/")
		if err != nil || len(keys) != 0 {
			t.Fatalf("List(bulk/) = %v, %v", keys, err)
		}
	}
	check(b)
	if _, err := os.Stat(filepath.Join(dir, "vault.db"+compactSuffix)); !os.IsNotExist(err) {
		t.Fatalf("the rewrite's copy is still there: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	check(openTest(t, dir))
}
