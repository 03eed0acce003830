// Package inmem is an in-memory storage.Backend for tests and dev mode.
package inmem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/coffer-dev/coffer/internal/storage"
)

// Backend keeps entries in a map. It is safe for concurrent use; its zero
// value is not, use New.
type Backend struct {
	mu   sync.RWMutex
	data map[string][]byte
}

// New returns an empty backend.
func New() *Backend {
	return &Backend{data: make(map[string][]byte)}
}

// Get returns a copy of the stored entry, or nil, nil if key is missing.
func (b *Backend) Get(ctx context.Context, key string) (*storage.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.RLock()
	v, ok := b.data[key]
	b.mu.RUnlock()
	if !ok {
		return nil, nil
	}
	return &storage.Entry{Key: key, Value: clone(v)}, nil
}

// Put stores a copy of entry's value.
func (b *Backend) Put(ctx context.Context, entry *storage.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validate(storage.Op{Entry: entry}); err != nil {
		return err
	}
	v := clone(entry.Value)
	b.mu.Lock()
	b.data[entry.Key] = v
	b.mu.Unlock()
	return nil
}

// Delete removes key; a missing key is not an error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.data, key)
	b.mu.Unlock()
	return nil
}

// List returns the keys directly under prefix, relative to it and sorted;
// deeper keys appear once as their first path element with a trailing "/".
func (b *Backend) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	seen := make(map[string]struct{})
	b.mu.RLock()
	for k := range b.data {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = struct{}{}
	}
	b.mu.RUnlock()
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// Transaction applies ops in order, all or none: invalid ops are rejected
// before anything is written.
func (b *Backend) Transaction(ctx context.Context, ops []storage.Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	values := make([][]byte, len(ops))
	for i, op := range ops {
		if err := validate(op); err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
		if !op.Delete {
			values[i] = clone(op.Entry.Value)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, op := range ops {
		if op.Delete {
			delete(b.data, op.Entry.Key)
		} else {
			b.data[op.Entry.Key] = values[i]
		}
	}
	return nil
}

func validate(op storage.Op) error {
	switch {
	case op.Entry == nil:
		return errors.New("storage entry is nil")
	case op.Entry.Key == "":
		return errors.New("storage key is empty")
	}
	return nil
}

// clone copies v and never returns nil, so an empty value reads back as an
// empty, non-nil slice.
func clone(v []byte) []byte {
	return append(make([]byte, 0, len(v)), v...)
}

var (
	_ storage.Backend       = (*Backend)(nil)
	_ storage.Transactional = (*Backend)(nil)
)
