package barrier

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// TestWriteBatchAcrossViews stages writes of two views in one batch: they
// are visible through the batch's context only, reach the physical backend
// as one encrypted transaction on Commit, and AfterCommit runs after that.
func TestWriteBatchAcrossViews(t *testing.T) {
	ctx := context.Background()
	phys := &txBackend{mapBackend: newMapBackend()}
	b := New(phys)
	root, _ := b.GenerateKey()
	if err := b.Initialize(ctx, root); err != nil {
		t.Fatal(err)
	}
	if err := b.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	tokens, leases := b.View("sys/token/"), b.View("sys/expire/")
	mustPut(t, tokens, "old", "to be deleted")
	phys.txs = nil

	bctx, batch := logical.WithWriteBatch(ctx)
	if err := tokens.Put(bctx, &logical.StorageEntry{Key: "id/a", Value: []byte("token secret")}); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Delete(bctx, "old"); err != nil {
		t.Fatal(err)
	}
	if err := leases.Transaction(bctx, []logical.StorageOp{logical.PutOp("id/l", []byte("lease secret"))}); err != nil {
		t.Fatal(err)
	}
	committed := false
	logical.AfterCommit(bctx, func() { committed = true })

	if e, err := tokens.Get(bctx, "id/a"); err != nil || e == nil || string(e.Value) != "token secret" || e.Key != "id/a" {
		t.Fatalf("staged read = %+v, %v", e, err)
	}
	if e, err := tokens.Get(bctx, "old"); err != nil || e != nil {
		t.Fatalf("staged delete read = %+v, %v", e, err)
	}
	if e, _ := tokens.Get(ctx, "id/a"); e != nil {
		t.Fatal("staged write visible without the batch")
	}
	if mustGet(t, tokens, "old") != "to be deleted" {
		t.Fatal("staged delete applied before Commit")
	}
	if committed || len(phys.txs) != 0 {
		t.Fatal("something happened before Commit")
	}

	if err := batch.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !committed {
		t.Fatal("AfterCommit function did not run")
	}
	if len(phys.txs) != 1 || len(phys.txs[0]) != 3 {
		t.Fatalf("backend saw %d transactions, want 1 of 3 ops", len(phys.txs))
	}
	for _, op := range phys.txs[0] {
		if bytes.Contains(op.Entry.Value, []byte("secret")) {
			t.Fatalf("plaintext reached the backend under %q", op.Entry.Key)
		}
	}
	if mustGet(t, b, "sys/token/id/a") != "token secret" || mustGet(t, b, "sys/expire/id/l") != "lease secret" {
		t.Fatal("committed values wrong")
	}
	if e, _ := tokens.Get(ctx, "old"); e != nil {
		t.Fatal("committed delete not applied")
	}
	if err := batch.Commit(ctx); !errors.Is(err, logical.ErrBatchSettled) {
		t.Fatalf("second Commit = %v", err)
	}
	if err := tokens.Put(bctx, &logical.StorageEntry{Key: "late"}); !errors.Is(err, logical.ErrBatchSettled) {
		t.Fatalf("Put into a committed batch = %v", err)
	}
}

func TestWriteBatchDiscard(t *testing.T) {
	ctx := context.Background()
	b, phys, _ := unsealed(t)
	v := b.View("v/")
	bctx, batch := logical.WithWriteBatch(ctx)
	mustPut(t, v, "keep", "x")
	if err := v.Put(bctx, &logical.StorageEntry{Key: "k", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	ran := false
	logical.AfterCommit(bctx, func() { ran = true })
	batch.Discard()
	if ran {
		t.Fatal("AfterCommit ran for a discarded batch")
	}
	if _, ok := phys.m["v/k"]; ok {
		t.Fatal("discarded write reached the backend")
	}
	if err := batch.Commit(ctx); !errors.Is(err, logical.ErrBatchSettled) {
		t.Fatalf("Commit after Discard = %v", err)
	}
	// Without a batch AfterCommit runs at once.
	logical.AfterCommit(ctx, func() { ran = true })
	if !ran {
		t.Fatal("AfterCommit without a batch did not run")
	}
}

// TestWriteBatchOneStore refuses ops of two barriers in one batch, and a
// failing commit runs no AfterCommit function.
func TestWriteBatchOneStore(t *testing.T) {
	ctx := context.Background()
	b1, _, _ := unsealed(t)
	b2, _, _ := unsealed(t)
	bctx, batch := logical.WithWriteBatch(ctx)
	mustPut(t, b1.View("a/"), "seed", "x")
	if err := b1.View("a/").Put(bctx, &logical.StorageEntry{Key: "k", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := b2.View("a/").Put(bctx, &logical.StorageEntry{Key: "k", Value: []byte("x")}); err == nil {
		t.Fatal("a second barrier joined the batch")
	}
	ran := false
	logical.AfterCommit(bctx, func() { ran = true })
	b1.Seal()
	if err := batch.Commit(ctx); !errors.Is(err, ErrSealed) {
		t.Fatalf("Commit on a sealed barrier = %v", err)
	}
	if ran {
		t.Fatal("AfterCommit ran after a failed commit")
	}
}

func TestViewTransactionChecksKeys(t *testing.T) {
	ctx := context.Background()
	b, phys, _ := unsealed(t)
	v := b.View("v/")
	if err := v.Transaction(ctx, []logical.StorageOp{logical.PutOp("ok", []byte("1")), logical.PutOp("../escape", []byte("2"))}); err == nil {
		t.Fatal("a key climbing out of the view was accepted")
	}
	if _, ok := phys.m["v/ok"]; ok {
		t.Fatal("a refused transaction wrote its first op")
	}
	if err := v.Transaction(ctx, []logical.StorageOp{{}}); err == nil {
		t.Fatal("op without an entry accepted")
	}
	if err := v.Transaction(ctx, []logical.StorageOp{logical.PutOp("a", []byte("1")), logical.PutOp("b", []byte("2")), logical.DeleteOp("a")}); err != nil {
		t.Fatal(err)
	}
	if mustGet(t, v, "b") != "2" {
		t.Fatal("transaction put missing")
	}
	if e, _ := v.Get(ctx, "a"); e != nil {
		t.Fatal("later delete in the transaction not applied")
	}
}
