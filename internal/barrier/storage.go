package barrier

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/storage"
)

// checkWritable refuses writes that would replace the sealed keyring.
func checkWritable(key string) error {
	if key == KeyringPath {
		return fmt.Errorf("%w: %s is reserved for the keyring", logical.ErrPermissionDenied, key)
	}
	return nil
}

// encryptLocked encrypts value for key with the active term. The caller
// holds b.mu for reading and has checked that the barrier is unsealed.
func (b *Barrier) encryptLocked(key string, value []byte) ([]byte, error) {
	tk := b.keys.activeKey()
	ct, err := encrypt(tk.aead, tk.term, key, value)
	if err != nil {
		return nil, fmt.Errorf("encrypt %q: %w", key, err)
	}
	b.encryptions.Add(1)
	return ct, nil
}

// Get reads and decrypts key. It returns nil, nil when the key does not
// exist, and an error wrapping ErrDecrypt when the stored value was not
// written by the barrier at this path.
func (b *Barrier) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return nil, ErrSealed
	}
	e, err := b.phys.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	if e == nil {
		return nil, nil
	}
	plaintext, err := b.keys.decryptEntry(key, e.Value)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	return &logical.StorageEntry{Key: key, Value: plaintext}, nil
}

// Put encrypts entry.Value with the active key and stores it at entry.Key.
func (b *Barrier) Put(ctx context.Context, entry *logical.StorageEntry) error {
	if err := checkWritable(entry.Key); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return ErrSealed
	}
	ct, err := b.encryptLocked(entry.Key, entry.Value)
	if err != nil {
		return err
	}
	if err := b.phys.Put(ctx, &storage.Entry{Key: entry.Key, Value: ct}); err != nil {
		return fmt.Errorf("write %q: %w", entry.Key, err)
	}
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (b *Barrier) Delete(ctx context.Context, key string) error {
	if err := checkWritable(key); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return ErrSealed
	}
	if err := b.phys.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// List returns the keys directly under prefix; sub-folders end in "/".
// Keys are not secret, but listing still requires an unsealed barrier.
func (b *Barrier) List(ctx context.Context, prefix string) ([]string, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return nil, ErrSealed
	}
	keys, err := b.phys.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	return keys, nil
}

// transaction is Transaction for logical ops, as views and write batches
// use it.
func (b *Barrier) transaction(ctx context.Context, ops []logical.StorageOp) error {
	phys := make([]storage.Op, len(ops))
	for i, op := range ops {
		phys[i] = storage.Op{Delete: op.Delete, Entry: &storage.Entry{Key: op.Entry.Key, Value: op.Entry.Value}}
	}
	return b.Transaction(ctx, phys)
}

// Transaction encrypts the puts of ops and applies them all. A physical
// backend that implements storage.Transactional applies them atomically;
// on any other backend they are applied in order and a failure leaves the
// earlier ones in place.
func (b *Barrier) Transaction(ctx context.Context, ops []storage.Op) error {
	for i, op := range ops {
		if op.Entry == nil {
			return fmt.Errorf("transaction op %d has no entry", i)
		}
		if err := checkWritable(op.Entry.Key); err != nil {
			return err
		}
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return ErrSealed
	}
	encrypted := make([]storage.Op, len(ops))
	for i, op := range ops {
		if op.Delete {
			encrypted[i] = storage.Op{Delete: true, Entry: &storage.Entry{Key: op.Entry.Key}}
			continue
		}
		ct, err := b.encryptLocked(op.Entry.Key, op.Entry.Value)
		if err != nil {
			return err
		}
		encrypted[i] = storage.Op{Entry: &storage.Entry{Key: op.Entry.Key, Value: ct}}
	}

	if tx, ok := b.phys.(storage.Transactional); ok {
		if err := tx.Transaction(ctx, encrypted); err != nil {
			return fmt.Errorf("transaction: %w", err)
		}
		return nil
	}
	for _, op := range encrypted {
		var err error
		if op.Delete {
			err = b.phys.Delete(ctx, op.Entry.Key)
		} else {
			err = b.phys.Put(ctx, op.Entry)
		}
		if err != nil {
			return fmt.Errorf("transaction on %q: %w", op.Entry.Key, err)
		}
	}
	return nil
}
