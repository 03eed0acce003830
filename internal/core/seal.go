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
	"github.com/coffer-dev/coffer/internal/seal/shamir"
	"github.com/coffer-dev/coffer/internal/storage"
)

const sealConfigPath = "core/seal-config"

// InitRequest is the body of sys/init.
type InitRequest struct {
	SecretShares    int
	SecretThreshold int
	// RecoveryShares and RecoveryThreshold apply to auto-unseal seals
	// (default 5 and 3).
	RecoveryShares, RecoveryThreshold int
	// RootTokenID sets the root token's ID (dev mode); "" generates one.
	RootTokenID string
}

// InitResult carries the unseal key shares and the initial root token.
type InitResult struct {
	Keys         [][]byte
	RecoveryKeys [][]byte
	RootToken    string
}

type unsealProgress struct {
	nonce string
	keys  [][]byte
}

// SealStatus is the body of sys/seal-status.
type SealStatus struct {
	Type        string
	Initialized bool
	Sealed      bool
	Threshold   int
	Shares      int
	Progress    int
	Nonce       string
	ClusterName string
	ClusterID   string
	StorageType string
	// RecoverySeal is true for auto-unseal seals (shares are recovery shares).
	RecoverySeal bool
	// Migration is true while a seal migration waits for unseal -migrate.
	Migration bool
}

func (c *Core) sealConfig(ctx context.Context) (*seal.Config, error) {
	e, err := c.phys.Get(ctx, sealConfigPath)
	if err != nil {
		return nil, fmt.Errorf("read seal configuration: %w", err)
	}
	if e == nil {
		return nil, nil
	}
	var sc seal.Config
	if err := json.Unmarshal(e.Value, &sc); err != nil {
		return nil, fmt.Errorf("decode seal configuration: %w", err)
	}
	return &sc, nil
}

func (c *Core) putSealConfig(ctx context.Context, sc *seal.Config) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	// Entries read before the write has landed must not be used after it.
	c.sealGen.Add(1)
	defer c.sealGen.Add(1)
	return c.phys.Put(ctx, &storage.Entry{Key: sealConfigPath, Value: b})
}

// The seal configuration changes only at init, rekey and seal migration,
// and each of them writes it through putSealConfig on the node that is,
// or is about to become, the active node. seal-status and health ask for
// it on every call, so the active node keeps it in memory. An entry is
// used only while the node is active in the same activation (activeCtx:
// every unseal, step-up and snapshot restore makes a new one), in the same
// raft term (no other node can have led, and written, in between) and
// while no write of the configuration has started since it was read.
// Standbys and sealed nodes always read storage: they do not see the
// writes that the raft log brings them.
type sealCacheEntry struct {
	epoch context.Context
	term  uint64
	gen   uint64
	// sc is nil when no configuration is stored; it is shared by every
	// reader and never modified.
	sc *seal.Config
}

// activeEpoch returns the context of the current activation, or nil when
// the node is not the active node.
func (c *Core) activeEpoch() context.Context {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed || c.ha.standby || c.activeCtx == nil || c.activeCtx.Err() != nil {
		return nil
	}
	return c.activeCtx
}

// raftTerm is the node's current raft term (0 without a cluster).
func (c *Core) raftTerm() uint64 {
	if c.conf.Raft == nil {
		return 0
	}
	if r := c.conf.Raft.Raft(); r != nil {
		return r.CurrentTerm()
	}
	return 0
}

// cachedSealConfig returns the seal configuration remembered during this
// activation; ok is false when there is none or it may be stale.
func (c *Core) cachedSealConfig() (sc *seal.Config, ok bool) {
	e := c.sealCache.Load()
	if e == nil || e.gen != c.sealGen.Load() || e.term != c.raftTerm() {
		return nil, false
	}
	if epoch := c.activeEpoch(); epoch == nil || epoch != e.epoch {
		return nil, false
	}
	return e.sc, true
}

// activeSealConfig returns the stored seal configuration, from memory when
// the node is active and has read it before in this activation.
func (c *Core) activeSealConfig(ctx context.Context) (*seal.Config, error) {
	if sc, ok := c.cachedSealConfig(); ok {
		return sc, nil
	}
	gen, term, epoch := c.sealGen.Load(), c.raftTerm(), c.activeEpoch()
	sc, err := c.sealConfig(ctx)
	if err != nil || epoch == nil {
		return sc, err
	}
	c.sealCache.Store(&sealCacheEntry{epoch: epoch, term: term, gen: gen, sc: sc})
	return sc, nil
}

// SealStatus reports the seal state.
func (c *Core) SealStatus(ctx context.Context) (*SealStatus, error) {
	st := &SealStatus{Type: seal.TypeShamir, ClusterName: c.conf.ClusterName, StorageType: c.conf.StorageType}
	c.stateLock.RLock()
	st.Sealed, st.ClusterID = c.sealed, c.clusterID
	c.stateLock.RUnlock()
	sc, cached := c.cachedSealConfig()
	if !cached {
		init, err := c.Initialized(ctx)
		if err != nil {
			return nil, err
		}
		if !init {
			st.ClusterID = ""
			return st, nil
		}
		if c.joinPending() {
			sc, err = c.sealConfigOrJoin(ctx)
		} else {
			sc, err = c.activeSealConfig(ctx)
		}
		if err != nil {
			return nil, err
		}
	}
	st.Initialized = true
	if sc != nil {
		st.Threshold, st.Shares = sc.SecretThreshold, sc.SecretShares
		if sc.Type != "" {
			st.Type = sc.Type
		}
		if st.Type != seal.TypeShamir {
			st.RecoverySeal = true
			st.Threshold, st.Shares = sc.RecoveryThreshold, sc.RecoveryShares
		}
		st.Migration = c.pendingMigration(sc) != ""
	}
	c.unsealLock.Lock()
	if c.unseal != nil {
		st.Progress, st.Nonce = len(c.unseal.keys), c.unseal.nonce
	}
	c.unsealLock.Unlock()
	return st, nil
}

// Initialize creates the barrier's keyring, splits the root key into
// shares (or, with an auto-unseal seal, wraps it with the seal and splits
// a recovery key instead) and creates the initial root token. With a
// Shamir seal the core stays sealed; with an auto-unseal seal it unseals.
func (c *Core) Initialize(ctx context.Context, req InitRequest) (*InitResult, error) {
	res, err := c.initialize(ctx, req)
	if err != nil || c.conf.Seal == nil {
		return res, err
	}
	if err := c.AutoUnseal(ctx); err != nil {
		return nil, fmt.Errorf("initialized, but the auto-unseal that follows failed: %w", err)
	}
	return res, nil
}

func (c *Core) initialize(ctx context.Context, req InitRequest) (*InitResult, error) {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	init, err := c.barrier.Initialized(ctx)
	if err != nil {
		return nil, err
	}
	if init || c.joinPending() {
		return nil, logical.InvalidRequest("Vault is already initialized")
	}
	if err := c.bootstrapRaft(ctx); err != nil {
		return nil, err
	}
	auto := c.conf.Seal != nil
	sc := &seal.Config{Type: seal.TypeShamir, SecretShares: req.SecretShares, SecretThreshold: req.SecretThreshold}
	if auto {
		if req.RecoveryShares == 0 && req.RecoveryThreshold == 0 {
			req.RecoveryShares, req.RecoveryThreshold = 5, 3
		}
		sc = &seal.Config{Type: c.conf.Seal.Type(), SecretShares: 1, SecretThreshold: 1, StoredShares: 1,
			RecoveryShares: req.RecoveryShares, RecoveryThreshold: req.RecoveryThreshold}
	} else if req.RecoveryShares > 0 || req.RecoveryThreshold > 0 {
		return nil, logical.InvalidRequest("parameters recovery_shares,recovery_threshold not applicable to seal type shamir")
	}
	if err := sc.Validate(); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	rootKey, err := c.barrier.GenerateKey()
	if err != nil {
		return nil, err
	}
	res := &InitResult{}
	var recoveryKey []byte
	if auto {
		if err := c.storeSealedRootKey(ctx, c.conf.Seal, rootKey); err != nil {
			return nil, err
		}
		if recoveryKey, err = c.barrier.GenerateKey(); err != nil {
			return nil, err
		}
		if res.RecoveryKeys, err = splitKey(recoveryKey, sc.RecoveryShares, sc.RecoveryThreshold); err != nil {
			return nil, err
		}
	} else if res.Keys, err = splitKey(rootKey, sc.SecretShares, sc.SecretThreshold); err != nil {
		return nil, err
	}
	if err := c.barrier.Initialize(ctx, rootKey); err != nil {
		return nil, fmt.Errorf("initialize barrier: %w", err)
	}
	if err := c.putSealConfig(ctx, sc); err != nil {
		return nil, err
	}
	if err := c.barrier.Unseal(ctx, rootKey); err != nil {
		return nil, fmt.Errorf("unseal barrier after init: %w", err)
	}
	defer c.barrier.Seal()
	if recoveryKey != nil {
		if err := c.putRecoveryKey(ctx, recoveryKey); err != nil {
			return nil, err
		}
	}
	if err := c.setupStores(ctx); err != nil {
		return nil, err
	}
	defer c.teardownStores()
	if err := c.persistClusterID(ctx); err != nil {
		return nil, err
	}
	if err := c.initCluster(ctx, rootKey); err != nil {
		return nil, err
	}
	te, err := c.tokens.CreateRoot(ctx, req.RootTokenID)
	if err != nil {
		return nil, fmt.Errorf("create root token: %w", err)
	}
	res.RootToken = te.ID
	c.logger.Info("server initialized", "seal", sc.Type, "shares", sc.SecretShares, "threshold", sc.SecretThreshold,
		"recovery_shares", sc.RecoveryShares, "recovery_threshold", sc.RecoveryThreshold)
	return res, nil
}

func splitKey(key []byte, shares, threshold int) ([][]byte, error) {
	if shares == 1 {
		return [][]byte{append([]byte(nil), key...)}, nil
	}
	out, err := shamir.Split(key, shares, threshold)
	if err != nil {
		return nil, fmt.Errorf("split key: %w", err)
	}
	return out, nil
}

func (c *Core) persistClusterID(ctx context.Context) error {
	var id struct{ ID string }
	ok, err := logical.GetJSON(ctx, c.barrier.View("core/"), "cluster", &id)
	if err != nil {
		return err
	}
	if !ok {
		id.ID = randomUUID()
		if err := logical.PutJSON(ctx, c.barrier.View("core/"), "cluster", id); err != nil {
			return err
		}
	}
	c.clusterID = id.ID
	return nil
}

// Unseal adds one key share. It returns whether the core is now unsealed.
// A wrong set of shares resets progress and returns a 400 error.
func (c *Core) Unseal(ctx context.Context, key []byte) (bool, error) {
	return c.UnsealMigrate(ctx, key, false)
}

// UnsealMigrate adds one key share; with migrate set the shares complete a
// pending seal migration (shamir -> auto-unseal with the unseal shares,
// auto-unseal -> shamir with the recovery shares).
func (c *Core) UnsealMigrate(ctx context.Context, key []byte, migrate bool) (bool, error) {
	if !c.Sealed() {
		return true, nil
	}
	sc, err := c.sealConfigOrJoin(ctx)
	if err != nil {
		return false, err
	}
	if sc == nil {
		return false, logical.InvalidRequest("Vault is not initialized")
	}
	mig := c.pendingMigration(sc)
	switch {
	case mig != "" && !migrate:
		return false, logical.InvalidRequest("a seal migration is pending (stored seal %q, configured seal %q): unseal with migrate=true (operator unseal -migrate)", sealTypeOf(sc), c.configuredSealType())
	case mig == "" && migrate:
		return false, logical.InvalidRequest("no seal migration is pending: the configured seal matches the stored seal %q", sealTypeOf(sc))
	case mig == "" && c.conf.Seal != nil:
		return false, logical.InvalidRequest("this server uses the %s seal and unseals itself; key shares are accepted only for a seal migration", c.conf.Seal.Type())
	}
	shares, threshold := sc.SecretShares, sc.SecretThreshold
	if mig == migrateToShamir {
		shares, threshold = sc.RecoveryShares, sc.RecoveryThreshold
	}
	if len(key) == 0 {
		return false, logical.InvalidRequest("missing unseal key")
	}
	wantLen := 33
	if shares == 1 {
		wantLen = 32
	}
	if len(key) != wantLen {
		return false, logical.InvalidRequest("invalid unseal key: decoded length is %d bytes, expected %d", len(key), wantLen)
	}
	c.unsealLock.Lock()
	if c.unseal == nil {
		c.unseal = &unsealProgress{nonce: randomUUID()}
	}
	for _, k := range c.unseal.keys {
		if subtle.ConstantTimeCompare(k, key) == 1 {
			c.unsealLock.Unlock()
			return false, logical.InvalidRequest("this unseal key share was already provided in the current attempt; provide a different share (progress %d/%d)", len(c.unseal.keys), threshold)
		}
	}
	c.unseal.keys = append(c.unseal.keys, append([]byte(nil), key...))
	if len(c.unseal.keys) < threshold {
		c.unsealLock.Unlock()
		return false, nil
	}
	keys := c.unseal.keys
	c.unseal = nil
	c.unsealLock.Unlock()

	combined := keys[0]
	if shares > 1 {
		if combined, err = shamir.Combine(keys); err != nil {
			return false, logical.InvalidRequest("unseal failed: %v; progress was reset", err)
		}
	}
	switch {
	case mig == migrateToAuto:
		err = c.migrateToAuto(ctx, sc, combined)
	case mig == migrateToShamir:
		err = c.migrateToShamir(ctx, sc, combined)
	case c.joinPending():
		err = c.completeJoin(ctx, combined)
	default:
		err = c.unsealWithRootKey(ctx, combined)
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// ResetUnseal discards the shares given so far.
func (c *Core) ResetUnseal() {
	c.unsealLock.Lock()
	c.unseal = nil
	c.unsealLock.Unlock()
}

func (c *Core) unsealWithRootKey(ctx context.Context, rootKey []byte) error {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if !c.sealed {
		return nil
	}
	if err := c.barrier.Unseal(ctx, rootKey); err != nil {
		if errors.Is(err, barrier.ErrInvalidKey) {
			return logical.InvalidRequest("unseal failed: the key shares do not reconstruct this server's root key (cipher: message authentication failed); progress was reset")
		}
		return fmt.Errorf("unseal barrier: %w", err)
	}
	c.setRootKey(rootKey)
	if err := c.activateAfterUnseal(ctx); err != nil {
		c.preSeal()
		c.barrier.Seal()
		c.forgetRootKey()
		return fmt.Errorf("post-unseal setup: %w", err)
	}
	c.sealed = false
	c.logger.Info("server unsealed")
	return nil
}

// Seal seals the core: background work stops, keys leave memory.
func (c *Core) Seal(ctx context.Context) error {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if c.sealed {
		return nil
	}
	c.preSeal()
	c.barrier.Seal()
	c.forgetRootKey()
	c.sealed = true
	c.logger.Info("server sealed")
	return nil
}

// Shutdown seals the core and waits for background work.
func (c *Core) Shutdown(ctx context.Context) error {
	c.lifeCancel()
	err := c.Seal(ctx)
	c.bgWG.Wait()
	return err
}
