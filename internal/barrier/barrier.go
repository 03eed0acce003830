// Package barrier is the encryption layer between the core and physical
// storage. Every value written through it is encrypted with AES-256-GCM
// under the active key of a keyring; the keyring itself is stored at
// core/keyring, encrypted with the root key that unsealing recovers.
//
// The keyring is split into terms: Rotate adds a new key that encrypts
// all new writes, while older terms stay available to decrypt older data.
package barrier

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/storage"
)

// KeyringPath is where the keyring is stored, encrypted by the root key.
const KeyringPath = "core/keyring"

var (
	// ErrSealed is returned by every operation that needs the keys while
	// the barrier is sealed. It is logical.ErrSealed, which the HTTP layer
	// turns into 503 "Vault is sealed".
	ErrSealed = logical.ErrSealed
	// ErrInvalidKey is returned by Unseal when the root key does not open
	// the keyring.
	ErrInvalidKey error = &logical.CodedError{Kind: logical.ErrInvalidRequest, Msg: "Unseal failed, invalid key"}
	// ErrNotInitialized is returned by Unseal when there is no keyring.
	ErrNotInitialized error = &logical.CodedError{Kind: logical.ErrInvalidRequest, Msg: "Vault is not initialized"}
	// ErrAlreadyInitialized is returned by Initialize when a keyring exists.
	ErrAlreadyInitialized error = &logical.CodedError{Kind: logical.ErrInvalidRequest, Msg: "Vault is already initialized"}
	// ErrDecrypt is wrapped by errors for stored values that cannot be
	// decrypted: not written by the barrier, moved from another path,
	// tampered with, or from an unknown key term.
	ErrDecrypt = errors.New("failed to decrypt stored value")
)

// KeyStatus describes the active encryption key.
type KeyStatus struct {
	Term        uint32
	InstallTime time.Time
	// Encryptions counts values encrypted with the active key since it was
	// installed or, if later, since this process unsealed.
	Encryptions int64
}

// Barrier encrypts a physical backend. It starts sealed; it is safe for
// concurrent use.
type Barrier struct {
	phys storage.Backend

	// mu guards the fields below. Storage operations hold it for reading
	// for their whole duration, so Seal waits for them to finish.
	mu      sync.RWMutex
	sealed  bool
	rootKey []byte
	keys    *keyring

	encryptions atomic.Int64
}

var (
	_ logical.Storage = (*Barrier)(nil)
	_ logical.Storage = (*View)(nil)
)

// New returns a sealed barrier over phys.
func New(phys storage.Backend) *Barrier {
	return &Barrier{phys: phys, sealed: true}
}

// Initialized reports whether a keyring exists in storage.
func (b *Barrier) Initialized(ctx context.Context) (bool, error) {
	e, err := b.phys.Get(ctx, KeyringPath)
	if err != nil {
		return false, fmt.Errorf("check for keyring: %w", err)
	}
	return e != nil, nil
}

// Initialize creates the keyring with a first key (term 1) and stores it
// encrypted with rootKey, which must be 32 bytes. The barrier stays sealed;
// call Unseal with the same key to use it.
func (b *Barrier) Initialize(ctx context.Context, rootKey []byte) error {
	if len(rootKey) != keySize {
		return fmt.Errorf("root key must be %d bytes, got %d", keySize, len(rootKey))
	}
	b.mu.Lock()
	defer b.mu.Unlock()

	ok, err := b.Initialized(ctx)
	if err != nil {
		return err
	}
	if ok {
		return ErrAlreadyInitialized
	}
	key, err := b.GenerateKey()
	if err != nil {
		return err
	}
	tk, err := newTermKey(1, key, time.Now().UTC())
	if err != nil {
		return err
	}
	kr := &keyring{active: 1, keys: map[uint32]*termKey{1: tk}}
	defer kr.zero()
	return b.writeKeyring(ctx, rootKey, kr)
}

// Unseal opens the keyring with rootKey. It returns ErrInvalidKey, and the
// barrier stays sealed, when the key is wrong. Unsealing an unsealed
// barrier does nothing.
func (b *Barrier) Unseal(ctx context.Context, rootKey []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.sealed {
		return nil
	}
	kr, err := b.readKeyring(ctx, rootKey)
	if err != nil {
		return err
	}
	b.rootKey = append([]byte(nil), rootKey...)
	b.keys = kr
	b.encryptions.Store(0)
	b.sealed = false
	return nil
}

// Seal forgets the keys; every storage operation fails with ErrSealed
// until the next Unseal. It waits for operations in progress.
func (b *Barrier) Seal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keys != nil {
		b.keys.zero()
		b.keys = nil
	}
	clear(b.rootKey)
	b.rootKey = nil
	b.sealed = true
}

// Sealed reports whether the barrier is sealed.
func (b *Barrier) Sealed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.sealed
}

// Rotate adds a new key term and makes it the one new writes use. Values
// written under older terms remain readable. It returns the new term.
func (b *Barrier) Rotate(ctx context.Context) (uint32, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sealed {
		return 0, ErrSealed
	}
	if b.keys.active == math.MaxUint32 {
		return 0, errors.New("rotate: key term limit reached")
	}
	key, err := b.GenerateKey()
	if err != nil {
		return 0, err
	}
	tk, err := newTermKey(b.keys.active+1, key, time.Now().UTC())
	if err != nil {
		return 0, err
	}
	kr := b.keys.withTerm(tk)
	if err := b.writeKeyring(ctx, b.rootKey, kr); err != nil {
		clear(key)
		return 0, fmt.Errorf("rotate: %w", err)
	}
	b.keys = kr
	b.encryptions.Store(0)
	return tk.term, nil
}

// KeyStatus describes the active key; it is the zero value while sealed.
func (b *Barrier) KeyStatus() KeyStatus {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return KeyStatus{}
	}
	tk := b.keys.activeKey()
	return KeyStatus{Term: tk.term, InstallTime: tk.installTime, Encryptions: b.encryptions.Load()}
}

// SetRootKey stores the keyring encrypted with a new root key (rekey).
// The data keys do not change.
func (b *Barrier) SetRootKey(ctx context.Context, newRootKey []byte) error {
	if len(newRootKey) != keySize {
		return fmt.Errorf("root key must be %d bytes, got %d", keySize, len(newRootKey))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sealed {
		return ErrSealed
	}
	if err := b.writeKeyring(ctx, newRootKey, b.keys); err != nil {
		return fmt.Errorf("set root key: %w", err)
	}
	clear(b.rootKey)
	b.rootKey = append([]byte(nil), newRootKey...)
	return nil
}

// GenerateKey returns 32 random bytes, suitable as a root key.
func (b *Barrier) GenerateKey() ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

// ReloadKeyring reads the keyring from storage again, picking up terms
// added by another node. It fails with an error wrapping ErrInvalidKey if
// the stored keyring is now sealed by a different root key.
func (b *Barrier) ReloadKeyring(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sealed {
		return ErrSealed
	}
	kr, err := b.readKeyring(ctx, b.rootKey)
	if err != nil {
		return fmt.Errorf("reload keyring: %w", err)
	}
	if kr.active != b.keys.active {
		b.encryptions.Store(0)
	}
	b.keys.zero()
	b.keys = kr
	return nil
}

// writeKeyring stores kr encrypted with rootKey.
func (b *Barrier) writeKeyring(ctx context.Context, rootKey []byte, kr *keyring) error {
	aead, err := newAEAD(rootKey)
	if err != nil {
		return err
	}
	plaintext, err := kr.marshal()
	if err != nil {
		return fmt.Errorf("encode keyring: %w", err)
	}
	defer clear(plaintext)
	value, err := encrypt(aead, rootKeyTerm, KeyringPath, plaintext)
	if err != nil {
		return err
	}
	if err := b.phys.Put(ctx, &storage.Entry{Key: KeyringPath, Value: value}); err != nil {
		return fmt.Errorf("store keyring: %w", err)
	}
	return nil
}

// readKeyring loads the keyring and opens it with rootKey.
func (b *Barrier) readKeyring(ctx context.Context, rootKey []byte) (*keyring, error) {
	e, err := b.phys.Get(ctx, KeyringPath)
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	if e == nil {
		return nil, ErrNotInitialized
	}
	aead, err := newAEAD(rootKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	term, err := termOf(e.Value)
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	if term != rootKeyTerm {
		return nil, fmt.Errorf("read keyring: %w: unexpected key term %d", ErrDecrypt, term)
	}
	plaintext, err := decrypt(aead, KeyringPath, e.Value)
	if err != nil {
		// GCM cannot tell a wrong key from a damaged value.
		return nil, ErrInvalidKey
	}
	defer clear(plaintext)
	return parseKeyring(plaintext)
}

// VerifyRootKey reports whether rootKey opens the stored keyring, without
// changing the barrier's state. It returns an error wrapping ErrInvalidKey
// when it does not.
func (b *Barrier) VerifyRootKey(ctx context.Context, rootKey []byte) error {
	kr, err := b.readKeyring(ctx, rootKey)
	if err != nil {
		return err
	}
	kr.zero()
	return nil
}
