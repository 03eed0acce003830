package barrier

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
)

// View is the barrier's storage restricted to the keys under a prefix, such
// as a mount's "logical/<uuid>/". Keys given to and returned by a View are
// relative to the prefix. A View is cheap; make one per mount.
type View struct {
	b      *Barrier
	prefix string
}

// View returns the storage under prefix. The prefix normally ends in "/".
func (b *Barrier) View(prefix string) *View {
	return &View{b: b, prefix: prefix}
}

// SubView returns the storage under prefix inside this view.
func (v *View) SubView(prefix string) *View {
	return &View{b: v.b, prefix: v.prefix + prefix}
}

// Prefix returns the view's full prefix in the barrier.
func (v *View) Prefix() string { return v.prefix }

// checkKey refuses keys that could climb out of the view.
func checkKey(key string) error {
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." {
			return logical.InvalidRequest("relative paths not supported: %q", key)
		}
	}
	return nil
}

// List returns the keys directly under prefix, relative to prefix.
func (v *View) List(ctx context.Context, prefix string) ([]string, error) {
	if err := checkKey(prefix); err != nil {
		return nil, err
	}
	return v.b.List(ctx, v.prefix+prefix)
}

// Get reads key; the returned entry's Key is relative to the view.
func (v *View) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if wb := logical.WriteBatchFrom(ctx); wb != nil {
		if e, found := wb.Staged(v.b, v.prefix+key); found {
			if e != nil {
				e.Key = key
			}
			return e, nil
		}
	}
	e, err := v.b.Get(ctx, v.prefix+key)
	if e == nil || err != nil {
		return nil, err
	}
	e.Key = key
	return e, nil
}

// Put writes entry under the view's prefix; entry is not modified.
func (v *View) Put(ctx context.Context, entry *logical.StorageEntry) error {
	if err := checkKey(entry.Key); err != nil {
		return err
	}
	if wb := logical.WriteBatchFrom(ctx); wb != nil {
		return wb.Stage(v.b, v.b.transaction, logical.PutOp(v.prefix+entry.Key, entry.Value))
	}
	return v.b.Put(ctx, &logical.StorageEntry{Key: v.prefix + entry.Key, Value: entry.Value})
}

// Delete removes key from the view.
func (v *View) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if wb := logical.WriteBatchFrom(ctx); wb != nil {
		return wb.Stage(v.b, v.b.transaction, logical.DeleteOp(v.prefix+key))
	}
	return v.b.Delete(ctx, v.prefix+key)
}

// Transaction applies ops, whose keys are relative to the view, as one
// transaction (or stages them in the context's write batch).
func (v *View) Transaction(ctx context.Context, ops []logical.StorageOp) error {
	abs := make([]logical.StorageOp, len(ops))
	for i, op := range ops {
		if op.Entry == nil {
			return fmt.Errorf("transaction op %d has no entry", i)
		}
		if err := checkKey(op.Entry.Key); err != nil {
			return err
		}
		abs[i] = logical.StorageOp{Delete: op.Delete, Entry: &logical.StorageEntry{Key: v.prefix + op.Entry.Key, Value: op.Entry.Value}}
	}
	if wb := logical.WriteBatchFrom(ctx); wb != nil {
		return wb.Stage(v.b, v.b.transaction, abs...)
	}
	return v.b.transaction(ctx, abs)
}
