package raft

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/coffer-dev/coffer/internal/storage"
)

// Get reads key from the local state; it returns nil, nil if key is
// missing. On a follower the value may lag the leader's.
func (b *Backend) Get(ctx context.Context, key string) (*storage.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := b.fsm.get(key)
	if err != nil {
		return nil, fmt.Errorf("raft storage: get: %w", err)
	}
	return e, nil
}

// List returns the keys directly under prefix, relative to it and sorted;
// deeper keys appear once as their first path element with a trailing "/".
func (b *Backend) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keys, err := b.fsm.list(prefix)
	if err != nil {
		return nil, fmt.Errorf("raft storage: list: %w", err)
	}
	return keys, nil
}

// Put replicates entry and returns once it is applied on this node.
func (b *Backend) Put(ctx context.Context, entry *storage.Entry) error {
	return b.apply(ctx, []storage.Op{{Entry: entry}})
}

// Delete replicates the removal of key; a missing key is not an error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	return b.apply(ctx, []storage.Op{{Delete: true, Entry: &storage.Entry{Key: key}}})
}

// Transaction replicates ops as one raft entry, applied in order in one
// bbolt transaction. Invalid ops are rejected before anything is written.
func (b *Backend) Transaction(ctx context.Context, ops []storage.Op) error {
	if len(ops) == 0 {
		return ctx.Err()
	}
	return b.apply(ctx, ops)
}

// apply commits ops through raft and waits until they are applied. If ctx
// ends first it returns ctx's error, and the write may still happen.
func (b *Backend) apply(ctx context.Context, ops []storage.Op) error {
	data, err := encodeCommand(ops)
	if err != nil {
		return fmt.Errorf("raft storage: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.raft.State() != raft.Leader {
		return fmt.Errorf("%w: node %s is not the raft leader", storage.ErrReadOnly, b.nodeID)
	}
	f := b.raft.Apply(data, timeoutOf(ctx))
	if ctx.Done() == nil {
		err = f.Error()
	} else {
		done := make(chan error, 1)
		go func() { done <- f.Error() }()
		select {
		case err = <-done:
		case <-ctx.Done():
			return fmt.Errorf("raft storage: waiting for commit: %w", ctx.Err())
		}
	}
	if err != nil {
		return applyError(err)
	}
	if err, ok := f.Response().(error); ok {
		return fmt.Errorf("raft storage: %w", err)
	}
	return nil
}

func applyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader),
		errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", storage.ErrReadOnly, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	}
	return fmt.Errorf("raft storage: %w", err)
}

var (
	_ storage.Backend       = (*Backend)(nil)
	_ storage.Transactional = (*Backend)(nil)
)
