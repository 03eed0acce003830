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
	// RootTokenID sets the root token's ID (dev mode); "" generates one.
	RootTokenID string
}

// InitResult carries the unseal key shares and the initial root token.
type InitResult struct {
	Keys      [][]byte
	RootToken string
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
	return c.phys.Put(ctx, &storage.Entry{Key: sealConfigPath, Value: b})
}

// SealStatus reports the seal state.
func (c *Core) SealStatus(ctx context.Context) (*SealStatus, error) {
	st := &SealStatus{Type: seal.TypeShamir, Sealed: c.Sealed(), ClusterName: c.conf.ClusterName, StorageType: c.conf.StorageType}
	init, err := c.Initialized(ctx)
	if err != nil {
		return nil, err
	}
	st.Initialized = init
	if !init {
		return st, nil
	}
	sc, err := c.sealConfig(ctx)
	if err != nil {
		return nil, err
	}
	if sc != nil {
		st.Threshold, st.Shares = sc.SecretThreshold, sc.SecretShares
		if sc.Type != "" {
			st.Type = sc.Type
		}
	}
	c.unsealLock.Lock()
	if c.unseal != nil {
		st.Progress, st.Nonce = len(c.unseal.keys), c.unseal.nonce
	}
	c.unsealLock.Unlock()
	st.ClusterID = c.ClusterID()
	return st, nil
}

// Initialize creates the barrier's keyring, splits the root key into
// shares and creates the initial root token. The core stays sealed.
func (c *Core) Initialize(ctx context.Context, req InitRequest) (*InitResult, error) {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	init, err := c.barrier.Initialized(ctx)
	if err != nil {
		return nil, err
	}
	if init {
		return nil, logical.InvalidRequest("Vault is already initialized")
	}
	sc := &seal.Config{Type: seal.TypeShamir, SecretShares: req.SecretShares, SecretThreshold: req.SecretThreshold}
	if err := sc.Validate(); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	rootKey, err := c.barrier.GenerateKey()
	if err != nil {
		return nil, err
	}
	var shares [][]byte
	if sc.SecretShares == 1 {
		shares = [][]byte{append([]byte(nil), rootKey...)}
	} else if shares, err = shamir.Split(rootKey, sc.SecretShares, sc.SecretThreshold); err != nil {
		return nil, fmt.Errorf("split root key: %w", err)
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
	if err := c.setupStores(ctx); err != nil {
		return nil, err
	}
	defer c.teardownStores()
	if err := c.persistClusterID(ctx); err != nil {
		return nil, err
	}
	te, err := c.tokens.CreateRoot(ctx, req.RootTokenID)
	if err != nil {
		return nil, fmt.Errorf("create root token: %w", err)
	}
	c.logger.Info("server initialized", "shares", sc.SecretShares, "threshold", sc.SecretThreshold)
	return &InitResult{Keys: shares, RootToken: te.ID}, nil
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
	if !c.Sealed() {
		return true, nil
	}
	sc, err := c.sealConfig(ctx)
	if err != nil {
		return false, err
	}
	if sc == nil {
		return false, logical.InvalidRequest("Vault is not initialized")
	}
	if len(key) == 0 {
		return false, logical.InvalidRequest("missing unseal key")
	}
	wantLen := 33
	if sc.SecretShares == 1 {
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
			return false, logical.InvalidRequest("this unseal key share was already provided in the current attempt; provide a different share (progress %d/%d)", len(c.unseal.keys), sc.SecretThreshold)
		}
	}
	c.unseal.keys = append(c.unseal.keys, append([]byte(nil), key...))
	if len(c.unseal.keys) < sc.SecretThreshold {
		c.unsealLock.Unlock()
		return false, nil
	}
	keys := c.unseal.keys
	c.unseal = nil
	c.unsealLock.Unlock()

	rootKey := keys[0]
	if sc.SecretShares > 1 {
		if rootKey, err = shamir.Combine(keys); err != nil {
			return false, logical.InvalidRequest("unseal failed: %v; progress was reset", err)
		}
	}
	if err := c.unsealWithRootKey(ctx, rootKey); err != nil {
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
	if err := c.postUnseal(ctx); err != nil {
		c.preSeal()
		c.barrier.Seal()
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
	c.sealed = true
	c.logger.Info("server sealed")
	return nil
}

// Shutdown seals the core and waits for background work.
func (c *Core) Shutdown(ctx context.Context) error {
	err := c.Seal(ctx)
	c.bgWG.Wait()
	return err
}
