package core

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer/internal/barrier"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/seal"
	"github.com/coffer-dev/coffer/internal/storage"
)

// sealedRootKeyPath holds the root key wrapped by an auto-unseal seal. It
// lives outside the barrier (it is what opens the barrier).
const sealedRootKeyPath = "core/sealed-root-key"

// recoveryKeyKey (inside the barrier's core/ view) holds the recovery key
// of an auto-unseal seal, to check recovery shares.
const recoveryKeyKey = "recovery-key"

// Kinds of pending seal migration.
const (
	migrateToAuto   = "to-auto"
	migrateToShamir = "to-shamir"
)

type sealedRootKey struct {
	Type       string `json:"type"`
	Ciphertext []byte `json:"ciphertext"`
}

func sealTypeOf(sc *seal.Config) string {
	if sc == nil || sc.Type == "" {
		return seal.TypeShamir
	}
	return sc.Type
}

func (c *Core) configuredSealType() string {
	if c.conf.Seal == nil {
		return seal.TypeShamir
	}
	return c.conf.Seal.Type()
}

// pendingMigration compares the stored seal with the configured one.
func (c *Core) pendingMigration(sc *seal.Config) string {
	stored := sealTypeOf(sc)
	switch {
	case stored == seal.TypeShamir && c.conf.Seal != nil:
		return migrateToAuto
	case stored != seal.TypeShamir && c.conf.Seal == nil && c.conf.MigrationSeal != nil && c.conf.MigrationSeal.Type() == stored:
		return migrateToShamir
	}
	return ""
}

func (c *Core) storeSealedRootKey(ctx context.Context, s seal.Seal, rootKey []byte) error {
	ct, err := s.Wrap(ctx, rootKey)
	if err != nil {
		return fmt.Errorf("wrap the root key with the %s seal: %w", s.Type(), err)
	}
	b, err := json.Marshal(sealedRootKey{Type: s.Type(), Ciphertext: ct})
	if err != nil {
		return err
	}
	return c.phys.Put(ctx, &storage.Entry{Key: sealedRootKeyPath, Value: b})
}

func (c *Core) unwrapRootKey(ctx context.Context, s seal.Seal) ([]byte, error) {
	e, err := c.phys.Get(ctx, sealedRootKeyPath)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, fmt.Errorf("no sealed root key is stored")
	}
	var srk sealedRootKey
	if err := json.Unmarshal(e.Value, &srk); err != nil {
		return nil, fmt.Errorf("decode the sealed root key: %w", err)
	}
	if srk.Type != s.Type() {
		return nil, fmt.Errorf("the root key is sealed by %q, not by the configured %q seal", srk.Type, s.Type())
	}
	return s.Unwrap(ctx, srk.Ciphertext)
}

func (c *Core) putRecoveryKey(ctx context.Context, key []byte) error {
	return c.barrier.View("core/").Put(ctx, &logical.StorageEntry{Key: recoveryKeyKey, Value: key})
}

func (c *Core) recoveryKey(ctx context.Context) ([]byte, error) {
	e, err := c.barrier.View("core/").Get(ctx, recoveryKeyKey)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, fmt.Errorf("no recovery key is stored")
	}
	return e.Value, nil
}

// AutoUnseal unseals the core through the configured auto-unseal seal.
// It does nothing with a Shamir seal, before init, or while a seal
// migration is pending.
func (c *Core) AutoUnseal(ctx context.Context) error {
	if c.conf.Seal == nil || !c.Sealed() {
		return nil
	}
	if c.joinPending() {
		return c.autoCompleteJoin(ctx)
	}
	sc, err := c.sealConfig(ctx)
	if err != nil || sc == nil {
		return err
	}
	if c.pendingMigration(sc) != "" {
		c.logger.Warn("seal migration pending: unseal with -migrate and the current key shares", "stored", sealTypeOf(sc), "configured", c.configuredSealType())
		return nil
	}
	if sealTypeOf(sc) != c.conf.Seal.Type() {
		return fmt.Errorf("the stored seal is %q but the configuration's seal is %q", sealTypeOf(sc), c.conf.Seal.Type())
	}
	rootKey, err := c.unwrapRootKey(ctx, c.conf.Seal)
	if err != nil {
		return err
	}
	return c.unsealWithRootKey(ctx, rootKey)
}

// migrateToAuto completes a shamir -> auto-unseal migration: the old
// unseal shares become recovery shares, and the root key is replaced and
// wrapped by the new seal (so the old shares no longer open the barrier).
func (c *Core) migrateToAuto(ctx context.Context, sc *seal.Config, oldRoot []byte) error {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if err := c.barrier.Unseal(ctx, oldRoot); err != nil {
		if errors.Is(err, barrier.ErrInvalidKey) {
			return logical.InvalidRequest("seal migration failed: the key shares do not reconstruct this server's root key; progress was reset")
		}
		return err
	}
	newRoot, err := c.barrier.GenerateKey()
	if err == nil {
		err = c.storeSealedRootKey(ctx, c.conf.Seal, newRoot)
	}
	if err == nil {
		err = c.putRecoveryKey(ctx, oldRoot)
	}
	if err == nil {
		err = c.barrier.SetRootKey(ctx, newRoot)
	}
	if err == nil {
		err = c.putSealConfig(ctx, &seal.Config{Type: c.conf.Seal.Type(), SecretShares: 1, SecretThreshold: 1, StoredShares: 1,
			RecoveryShares: sc.SecretShares, RecoveryThreshold: sc.SecretThreshold})
	}
	if err != nil {
		c.barrier.Seal()
		return fmt.Errorf("seal migration to %s: %w", c.conf.Seal.Type(), err)
	}
	c.setRootKey(newRoot)
	if err := c.activateAfterUnseal(ctx); err != nil {
		c.preSeal()
		c.barrier.Seal()
		c.forgetRootKey()
		return fmt.Errorf("post-unseal setup: %w", err)
	}
	c.sealed = false
	c.logger.Info("seal migrated; the unseal key shares are now recovery shares", "from", seal.TypeShamir, "to", c.conf.Seal.Type())
	return nil
}

// migrateToShamir completes an auto-unseal -> shamir migration: the
// recovery shares become the unseal shares.
func (c *Core) migrateToShamir(ctx context.Context, sc *seal.Config, recovery []byte) error {
	rootKey, err := c.unwrapRootKey(ctx, c.conf.MigrationSeal)
	if err != nil {
		return fmt.Errorf("seal migration: %w", err)
	}
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if err := c.barrier.Unseal(ctx, rootKey); err != nil {
		return err
	}
	stored, err := c.recoveryKey(ctx)
	if err != nil || subtle.ConstantTimeCompare(stored, recovery) != 1 {
		c.barrier.Seal()
		return logical.InvalidRequest("seal migration failed: the recovery shares do not reconstruct the recovery key; progress was reset")
	}
	if err := c.barrier.SetRootKey(ctx, recovery); err != nil {
		c.barrier.Seal()
		return err
	}
	if err := c.putSealConfig(ctx, &seal.Config{Type: seal.TypeShamir, SecretShares: sc.RecoveryShares, SecretThreshold: sc.RecoveryThreshold}); err != nil {
		c.barrier.Seal()
		return err
	}
	_ = c.phys.Delete(ctx, sealedRootKeyPath)
	_ = c.barrier.View("core/").Delete(ctx, recoveryKeyKey)
	c.setRootKey(recovery)
	if err := c.activateAfterUnseal(ctx); err != nil {
		c.preSeal()
		c.barrier.Seal()
		c.forgetRootKey()
		return fmt.Errorf("post-unseal setup: %w", err)
	}
	c.sealed = false
	c.logger.Info("seal migrated; the recovery shares are now unseal shares", "from", c.conf.MigrationSeal.Type(), "to", seal.TypeShamir)
	return nil
}
