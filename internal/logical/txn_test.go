package logical

import (
	"context"
	"errors"
	"testing"
)

type failingPuts struct {
	*InmemStorage
	failKey string
}

func (f failingPuts) Put(ctx context.Context, e *StorageEntry) error {
	if e.Key == f.failKey {
		return errors.New("disk full")
	}
	return f.InmemStorage.Put(ctx, e)
}

// TestTransactionFallback applies ops one at a time, in order, on storage
// without transactions, and stops at the first failure.
func TestTransactionFallback(t *testing.T) {
	ctx := context.Background()
	s := failingPuts{InmemStorage: NewInmemStorage(), failKey: "bad"}
	if err := Transaction(ctx, s, []StorageOp{PutOp("a", []byte("1")), DeleteOp("a"), PutOp("b", []byte("2"))}); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(ctx, "a"); e != nil {
		t.Fatal("delete after put not applied in order")
	}
	if e, _ := s.Get(ctx, "b"); e == nil || string(e.Value) != "2" {
		t.Fatalf("b = %v", e)
	}
	err := Transaction(ctx, s, []StorageOp{PutOp("c", []byte("3")), PutOp("bad", nil), PutOp("d", []byte("4"))})
	if err == nil {
		t.Fatal("failing put not reported")
	}
	if e, _ := s.Get(ctx, "d"); e != nil {
		t.Fatal("ops after the failure were applied")
	}
	if err := Transaction(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
}

// TestStagedValuesAreCopies keeps a caller from changing a staged value
// through what Staged returned, and shows the last op on a key wins.
func TestStagedValuesAreCopies(t *testing.T) {
	ctx, wb := WithWriteBatch(context.Background())
	if WriteBatchFrom(ctx) != wb || WriteBatchFrom(context.Background()) != nil {
		t.Fatal("WriteBatchFrom does not find the batch")
	}
	owner := new(int)
	var applied []StorageOp
	commit := func(_ context.Context, ops []StorageOp) error { applied = ops; return nil }
	if err := wb.Stage(owner, commit, PutOp("k", []byte("v1")), PutOp("k", []byte("v2"))); err != nil {
		t.Fatal(err)
	}
	e, found := wb.Staged(owner, "k")
	if !found || string(e.Value) != "v2" {
		t.Fatalf("Staged = %v, %v", e, found)
	}
	e.Value[0] = 'X'
	if e, _ := wb.Staged(owner, "k"); string(e.Value) != "v2" {
		t.Fatal("staged value changed through a returned entry")
	}
	if _, found := wb.Staged(new(int), "k"); found {
		t.Fatal("another store sees the staged value")
	}
	if err := wb.Stage(owner, commit, StorageOp{}); err == nil {
		t.Fatal("op without an entry staged")
	}
	if err := wb.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 2 || string(applied[1].Entry.Value) != "v2" {
		t.Fatalf("committed %v", applied)
	}
}

func TestWithoutWriteBatch(t *testing.T) {
	ctx, wb := WithWriteBatch(context.Background())
	if WriteBatchFrom(WithoutWriteBatch(ctx)) != nil {
		t.Fatal("WithoutWriteBatch kept the batch")
	}
	plain := context.Background()
	if WithoutWriteBatch(plain) != plain {
		t.Fatal("WithoutWriteBatch wrapped a context without a batch")
	}
	ran := false
	AfterCommit(WithoutWriteBatch(ctx), func() { ran = true })
	if !ran {
		t.Fatal("AfterCommit without a batch did not run at once")
	}
	wb.Discard()
}
