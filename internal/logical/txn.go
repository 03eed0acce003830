package logical

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// StorageOp is one put or delete of a transaction. A delete uses only
// Entry.Key.
type StorageOp struct {
	Delete bool
	Entry  *StorageEntry
}

// PutOp returns the op that writes value under key.
func PutOp(key string, value []byte) StorageOp {
	return StorageOp{Entry: &StorageEntry{Key: key, Value: value}}
}

// DeleteOp returns the op that removes key.
func DeleteOp(key string) StorageOp {
	return StorageOp{Delete: true, Entry: &StorageEntry{Key: key}}
}

// TransactionalStorage applies several puts and deletes at once: after a
// crash either all of them or none are visible, and on replicated storage
// they cost one commit.
type TransactionalStorage interface {
	Transaction(ctx context.Context, ops []StorageOp) error
}

// Transaction applies ops, in order, as one transaction when s supports it
// and one at a time otherwise (a failure then leaves the earlier ops
// applied).
func Transaction(ctx context.Context, s Storage, ops []StorageOp) error {
	if len(ops) == 0 {
		return nil
	}
	if t, ok := s.(TransactionalStorage); ok {
		return t.Transaction(ctx, ops)
	}
	for _, op := range ops {
		var err error
		if op.Delete {
			err = s.Delete(ctx, op.Entry.Key)
		} else {
			err = s.Put(ctx, op.Entry)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// A WriteBatch collects the puts and deletes that batch-aware storage (the
// barrier's views) receives under a context made by WithWriteBatch, and
// applies them as one transaction on Commit. Until then reads through the
// same context see the staged values; List does not. Functions that must
// act only once the writes are durable register with AfterCommit.
//
// A batch spans one underlying store: every view staging into it must
// share the owner given to Stage.
type WriteBatch struct {
	mu      sync.Mutex
	owner   any
	commit  func(context.Context, []StorageOp) error
	ops     []StorageOp
	staged  map[string]StorageOp
	after   []func()
	settled bool
}

type writeBatchKey struct{}

// WithWriteBatch returns a context whose batch-aware writes are staged in
// the returned batch instead of being applied.
func WithWriteBatch(ctx context.Context) (context.Context, *WriteBatch) {
	wb := &WriteBatch{staged: map[string]StorageOp{}}
	return context.WithValue(ctx, writeBatchKey{}, wb), wb
}

// WithoutWriteBatch returns a context whose writes apply at once even if
// ctx carries a batch; calls into engines (revocation, say) use it.
func WithoutWriteBatch(ctx context.Context) context.Context {
	if WriteBatchFrom(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, writeBatchKey{}, (*WriteBatch)(nil))
}

// WriteBatchFrom returns the context's batch, or nil.
func WriteBatchFrom(ctx context.Context) *WriteBatch {
	wb, _ := ctx.Value(writeBatchKey{}).(*WriteBatch)
	return wb
}

// ErrBatchSettled is returned when a batch is used after Commit or Discard.
var ErrBatchSettled = errors.New("write batch already committed or discarded")

// Stage adds ops, whose keys are those of owner's store. commit applies
// the whole batch to that store; the first Stage call fixes owner and
// commit.
func (w *WriteBatch) Stage(owner any, commit func(context.Context, []StorageOp) error, ops ...StorageOp) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.settled {
		return ErrBatchSettled
	}
	if w.owner == nil {
		w.owner, w.commit = owner, commit
	} else if w.owner != owner {
		return fmt.Errorf("write batch: ops for two different stores")
	}
	for _, op := range ops {
		if op.Entry == nil {
			return errors.New("write batch: op without an entry")
		}
	}
	for _, op := range ops {
		w.ops = append(w.ops, op)
		w.staged[op.Entry.Key] = op
	}
	return nil
}

// Staged reports the value staged for key in owner's store: found is
// false when nothing is staged; a staged delete is found with a nil entry.
func (w *WriteBatch) Staged(owner any, key string) (e *StorageEntry, found bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.owner != owner {
		return nil, false
	}
	op, ok := w.staged[key]
	if !ok {
		return nil, false
	}
	if op.Delete {
		return nil, true
	}
	return &StorageEntry{Key: key, Value: append([]byte(nil), op.Entry.Value...)}, true
}

// AfterCommit runs fn once the context's batch is committed, or at once
// when ctx carries none. A discarded or failed batch never runs it.
func AfterCommit(ctx context.Context, fn func()) {
	if w := WriteBatchFrom(ctx); w != nil {
		w.mu.Lock()
		if !w.settled {
			w.after = append(w.after, fn)
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
	fn()
}

// Commit applies the staged ops as one transaction and then runs the
// AfterCommit functions. A batch commits once; an empty one is a no-op.
func (w *WriteBatch) Commit(ctx context.Context) error {
	w.mu.Lock()
	if w.settled {
		w.mu.Unlock()
		return ErrBatchSettled
	}
	w.settled = true
	ops, commit, after := w.ops, w.commit, w.after
	w.ops, w.after, w.staged = nil, nil, nil
	w.mu.Unlock()
	if len(ops) > 0 {
		if err := commit(ctx, ops); err != nil {
			return err
		}
	}
	for _, fn := range after {
		fn()
	}
	return nil
}

// Discard drops the staged ops; it is a no-op after Commit.
func (w *WriteBatch) Discard() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.settled = true
	w.ops, w.after, w.staged = nil, nil, nil
}
