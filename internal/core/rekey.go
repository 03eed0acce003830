package core

import (
	"context"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/seal"
)

type rekeyState struct {
	shareAttempt
	shares    int
	threshold int
}

// RekeyStatus is the body of sys/rekey/init and /update.
type RekeyStatus struct {
	Started  bool
	Nonce    string
	T, N     int
	Progress int
	Required int
	Complete bool
	Keys     [][]byte
}

// RekeyStatusNow reports the current rekey attempt.
func (c *Core) RekeyStatusNow(ctx context.Context) (*RekeyStatus, error) {
	sc, err := c.sealConfig(ctx)
	if err != nil {
		return nil, err
	}
	st := &RekeyStatus{}
	if sc != nil {
		_, st.Required = keyShares(sc)
	}
	c.unsealLock.Lock()
	defer c.unsealLock.Unlock()
	if r := c.rekey; r != nil {
		st.Started, st.Nonce, st.T, st.N, st.Progress = true, r.nonce, r.threshold, r.shares, len(r.keys)
	}
	return st, nil
}

// RekeyInit starts a rekey to a new share count and threshold.
func (c *Core) RekeyInit(ctx context.Context, shares, threshold int, pgpKeys []string, backup bool) (*RekeyStatus, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	if len(pgpKeys) > 0 || backup {
		return nil, logical.InvalidRequest("pgp_keys and backup are not supported by this server; rekey without them to receive the new key shares in plain form")
	}
	sc := &seal.Config{Type: seal.TypeShamir, SecretShares: shares, SecretThreshold: threshold}
	if err := sc.Validate(); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	c.unsealLock.Lock()
	if c.rekey != nil {
		c.unsealLock.Unlock()
		return nil, logical.InvalidRequest("rekey already in progress; cancel it first (DELETE sys/rekey/init)")
	}
	c.rekey = &rekeyState{shareAttempt: shareAttempt{nonce: randomUUID()}, shares: shares, threshold: threshold}
	c.unsealLock.Unlock()
	return c.RekeyStatusNow(ctx)
}

// RekeyCancel discards the current rekey attempt.
func (c *Core) RekeyCancel() {
	c.unsealLock.Lock()
	c.rekey = nil
	c.unsealLock.Unlock()
}

// RekeyUpdate adds a current key share; with the threshold reached the
// root key is replaced and the new shares are returned.
func (c *Core) RekeyUpdate(ctx context.Context, key []byte, nonce string) (*RekeyStatus, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	sc, err := c.sealConfig(ctx)
	if err != nil {
		return nil, err
	}
	c.unsealLock.Lock()
	r := c.rekey
	if r == nil {
		c.unsealLock.Unlock()
		return nil, logical.InvalidRequest("no rekey in progress; start one with sys/rekey/init")
	}
	keys, err := r.add(c, sc, key, nonce, "sys/rekey/init")
	if err != nil || keys == nil {
		c.unsealLock.Unlock()
		if err != nil {
			return nil, err
		}
		return c.RekeyStatusNow(ctx)
	}
	c.rekey = nil
	c.unsealLock.Unlock()

	if _, err := c.combine(ctx, keys, sc); err != nil {
		return nil, err
	}
	newKey, err := c.barrier.GenerateKey()
	if err != nil {
		return nil, err
	}
	shares, err := splitKey(newKey, r.shares, r.threshold)
	if err != nil {
		return nil, err
	}
	nsc := *sc
	if sealTypeOf(sc) != seal.TypeShamir {
		// With an auto-unseal seal the recovery key is what is rekeyed.
		if err := c.putRecoveryKey(ctx, newKey); err != nil {
			return nil, err
		}
		nsc.RecoveryShares, nsc.RecoveryThreshold = r.shares, r.threshold
	} else {
		if err := c.barrier.SetRootKey(ctx, newKey); err != nil {
			return nil, err
		}
		c.rootKeyChanged(ctx, newKey)
		nsc.SecretShares, nsc.SecretThreshold = r.shares, r.threshold
	}
	if err := c.putSealConfig(ctx, &nsc); err != nil {
		return nil, err
	}
	c.logger.Info("key shares replaced", "seal", sealTypeOf(sc), "shares", r.shares, "threshold", r.threshold)
	return &RekeyStatus{Started: true, Nonce: r.nonce, T: r.threshold, N: r.shares, Progress: len(r.keys), Required: thresholdOf(sc), Complete: true, Keys: shares}, nil
}

// SealWithToken seals the server if the token may update sys/seal with sudo.
func (c *Core) SealWithToken(ctx context.Context, tok string) error {
	if c.Sealed() {
		return nil
	}
	c.stateLock.RLock()
	if tok == "" {
		c.stateLock.RUnlock()
		return logical.ErrPermissionDenied
	}
	te, err := c.tokens.Lookup(ctx, tok)
	if err != nil || te == nil {
		c.stateLock.RUnlock()
		return ErrInvalidTokenDenied
	}
	acl, err := c.policies.ACL(ctx, te.Policies...)
	if err != nil {
		c.stateLock.RUnlock()
		return err
	}
	res := acl.AllowOperation(logical.UpdateOperation, "sys/seal", nil, 0)
	c.stateLock.RUnlock()
	if !res.Allowed || !(res.IsRoot || res.Sudo) {
		return logical.ErrPermissionDenied
	}
	return c.Seal(ctx)
}
