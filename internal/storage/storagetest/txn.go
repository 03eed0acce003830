package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/storage"
)

func putOp(key, value string) storage.Op {
	return storage.Op{Entry: &storage.Entry{Key: key, Value: []byte(value)}}
}

func deleteOp(key string) storage.Op {
	return storage.Op{Delete: true, Entry: &storage.Entry{Key: key}}
}

func txn(t *testing.T, b TransactionalBackend, ops ...storage.Op) {
	t.Helper()
	if err := b.Transaction(context.Background(), ops); err != nil {
		t.Fatalf("Transaction: %v", err)
	}
}

func testTxnPutDelete(t *testing.T, b TransactionalBackend) {
	put(t, b, "tx/old", []byte("old"))
	t.Cleanup(func() { deleteAll(t, b, []string{"tx/a", "tx/b/c"}) })
	txn(t, b, putOp("tx/a", "A"), putOp("tx/b/c", "C"), deleteOp("tx/old"), deleteOp("tx/missing"))
	assertValue(t, b, "tx/a", []byte("A"))
	assertValue(t, b, "tx/b/c", []byte("C"))
	assertMissing(t, b, "tx/old")
	mustList(t, b, "tx/", []string{"a", "b/"})
}

func testTxnOrder(t *testing.T, b TransactionalBackend) {
	tests := []struct {
		name string
		ops  []storage.Op
		want []byte // nil: the key must be missing
	}{
		{"put then put", []storage.Op{putOp("txo/k", "1"), putOp("txo/k", "2")}, []byte("2")},
		{"put then delete", []storage.Op{putOp("txo/k", "1"), deleteOp("txo/k")}, nil},
		{"delete then put", []storage.Op{deleteOp("txo/k"), putOp("txo/k", "x")}, []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { deleteAll(t, b, []string{"txo/k"}) })
			txn(t, b, tt.ops...)
			if tt.want == nil {
				assertMissing(t, b, "txo/k")
			} else {
				assertValue(t, b, "txo/k", tt.want)
			}
		})
	}
}

func testTxnEmpty(t *testing.T, b TransactionalBackend) {
	txn(t, b)
	txn(t, b, []storage.Op{}...)
	mustList(t, b, "", nil)
}

func testTxnInvalid(t *testing.T, b TransactionalBackend) {
	tests := []struct {
		name string
		ops  []storage.Op
	}{
		{"nil entry", []storage.Op{putOp("txi/a", "a"), {Entry: nil}}},
		{"nil delete entry", []storage.Op{putOp("txi/a", "a"), {Delete: true}}},
		{"empty key", []storage.Op{putOp("txi/a", "a"), putOp("", "x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { deleteAll(t, b, []string{"txi/a"}) })
			if err := b.Transaction(context.Background(), tt.ops); err == nil {
				t.Fatal("Transaction succeeded, want an error")
			}
			assertMissing(t, b, "txi/a")
		})
	}
}

// testTxnAtomicList replaces one group of keys by another in each
// transaction while a reader lists: the reader must never see both groups or
// none, and never a partly written group.
func testTxnAtomicList(t *testing.T, b TransactionalBackend) {
	const groups, perGroup = 20, 10
	groupOps := func(g int) []storage.Op {
		var ops []storage.Op
		for i := range perGroup {
			if g > 0 {
				ops = append(ops, deleteOp(fmt.Sprintf("txa/g%02d/%02d", g-1, i)))
			}
			ops = append(ops, putOp(fmt.Sprintf("txa/g%02d/%02d", g, i), "v"))
		}
		return ops
	}
	t.Cleanup(func() {
		var keys []string
		for i := range perGroup {
			keys = append(keys, fmt.Sprintf("txa/g%02d/%02d", groups-1, i))
		}
		deleteAll(t, b, keys)
	})
	txn(t, b, groupOps(0)...)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() {
		ctx := context.Background()
		for {
			select {
			case <-stop:
				return
			default:
			}
			dirs, err := b.List(ctx, "txa/")
			if err != nil {
				readErr = err
				return
			}
			if len(dirs) != 1 {
				readErr = fmt.Errorf("List(txa/) = %q, want exactly one group", dirs)
				return
			}
		}
	})
	for g := 1; g < groups; g++ {
		txn(t, b, groupOps(g)...)
	}
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	want := make([]string, perGroup)
	for i := range want {
		want[i] = fmt.Sprintf("%02d", i)
	}
	mustList(t, b, fmt.Sprintf("txa/g%02d/", groups-1), want)
}
