// Package storage defines the physical storage contract under the barrier.
// Values stored here are opaque bytes (ciphertext, except the sealed keyring).
package storage

import (
	"context"
	"errors"
)

// Entry is one key/value pair.
type Entry struct {
	Key   string
	Value []byte
}

// Backend is a physical store. Keys are slash-separated paths.
type Backend interface {
	// Get returns nil, nil when the key does not exist.
	Get(ctx context.Context, key string) (*Entry, error)
	Put(ctx context.Context, entry *Entry) error
	// Delete of a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys directly under prefix, sorted; keys that have
	// children below the prefix are returned once, with a trailing "/".
	List(ctx context.Context, prefix string) ([]string, error)
}

// Op is one operation of a transaction.
type Op struct {
	Delete bool
	Entry  *Entry
}

// Transactional backends apply several puts and deletes atomically: after a
// crash either all or none of them are visible.
type Transactional interface {
	Transaction(ctx context.Context, ops []Op) error
}

// ErrReadOnly is returned by writes on a node that cannot accept them (a
// raft follower).
var ErrReadOnly = errors.New("storage is read-only on this node")
