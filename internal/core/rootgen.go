package core

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"math/big"

	"github.com/coffer-dev/coffer/internal/barrier"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/seal"
	"github.com/coffer-dev/coffer/internal/seal/shamir"
)

// OTPLength is the length of root generation one-time passwords: the
// length of a root token ("hvs." + 24 characters).
const OTPLength = 28

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// shareAttempt collects key shares for root generation or rekey.
type shareAttempt struct {
	nonce string
	keys  [][]byte
}

// add checks the attempt's nonce and adds a key share; it returns the
// shares once the threshold is reached. Called with unsealLock held.
func (a *shareAttempt) add(c *Core, sc *seal.Config, key []byte, nonce, statusPath string) ([][]byte, error) {
	if nonce != a.nonce {
		return nil, logical.InvalidRequest("incorrect nonce %q; the current attempt's nonce is shown by %s", nonce, statusPath)
	}
	if err := c.addShare(&a.keys, key, sharesOf(sc)); err != nil {
		return nil, err
	}
	if len(a.keys) < thresholdOf(sc) {
		return nil, nil
	}
	return a.keys, nil
}

type rootGenState struct {
	shareAttempt
	otp string
}

// RootGenStatus is the body of sys/generate-root/attempt and /update.
type RootGenStatus struct {
	Started      bool
	Nonce        string
	Progress     int
	Required     int
	Complete     bool
	EncodedToken string
	OTP          string
	OTPLength    int
}

func randomBase62(n int) (string, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(base62)))
	for i := range out {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		out[i] = base62[v.Int64()]
	}
	return string(out), nil
}

func (c *Core) requireUnsealed() error {
	if c.Sealed() {
		return logical.ErrSealed
	}
	return nil
}

// RootGenerationStatus reports the current root generation attempt.
func (c *Core) RootGenerationStatus(ctx context.Context) (*RootGenStatus, error) {
	sc, err := c.sealConfig(ctx)
	if err != nil {
		return nil, err
	}
	st := &RootGenStatus{OTPLength: OTPLength}
	if sc != nil {
		_, st.Required = keyShares(sc)
	}
	c.unsealLock.Lock()
	defer c.unsealLock.Unlock()
	if g := c.rootGen; g != nil {
		st.Started, st.Nonce, st.Progress = true, g.nonce, len(g.keys)
	}
	return st, nil
}

// RootGenerationInit starts an attempt. With otp empty the server creates
// the one-time password and returns it (once) in the status.
func (c *Core) RootGenerationInit(ctx context.Context, otp, pgpKey string) (*RootGenStatus, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	if pgpKey != "" {
		return nil, logical.InvalidRequest("pgp_key is not supported by this server; start the attempt without it to receive a one-time password")
	}
	generated := false
	if otp == "" {
		var err error
		if otp, err = randomBase62(OTPLength); err != nil {
			return nil, err
		}
		generated = true
	} else if len(otp) != OTPLength {
		return nil, logical.InvalidRequest("otp must be %d characters long, got %d", OTPLength, len(otp))
	}
	c.unsealLock.Lock()
	if c.rootGen != nil {
		c.unsealLock.Unlock()
		return nil, logical.InvalidRequest("root generation already in progress; cancel it first (DELETE sys/generate-root/attempt)")
	}
	c.rootGen = &rootGenState{shareAttempt: shareAttempt{nonce: randomUUID()}, otp: otp}
	c.unsealLock.Unlock()
	st, err := c.RootGenerationStatus(ctx)
	if err != nil {
		return nil, err
	}
	if generated {
		st.OTP = otp
	}
	return st, nil
}

// RootGenerationCancel discards the current attempt.
func (c *Core) RootGenerationCancel() {
	c.unsealLock.Lock()
	c.rootGen = nil
	c.unsealLock.Unlock()
}

// RootGenerationUpdate adds an unseal key share to the attempt; with the
// threshold reached it creates a root token and returns it encoded with
// the one-time password.
func (c *Core) RootGenerationUpdate(ctx context.Context, key []byte, nonce string) (*RootGenStatus, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	sc, err := c.sealConfig(ctx)
	if err != nil {
		return nil, err
	}
	c.unsealLock.Lock()
	g := c.rootGen
	if g == nil {
		c.unsealLock.Unlock()
		return nil, logical.InvalidRequest("no root generation in progress; start one with sys/generate-root/attempt")
	}
	keys, err := g.add(c, sc, key, nonce, "sys/generate-root/attempt")
	if err != nil || keys == nil {
		c.unsealLock.Unlock()
		if err != nil {
			return nil, err
		}
		return c.RootGenerationStatus(ctx)
	}
	otp, gnonce := g.otp, g.nonce
	c.rootGen = nil
	c.unsealLock.Unlock()

	rootKey, err := c.combine(ctx, keys, sc)
	if err != nil {
		return nil, err
	}
	for i := range rootKey {
		rootKey[i] = 0
	}
	c.stateLock.RLock()
	te, err := c.tokens.CreateRoot(ctx, "")
	c.stateLock.RUnlock()
	if err != nil {
		return nil, err
	}
	enc := make([]byte, len(te.ID))
	if len(te.ID) != len(otp) {
		return nil, logical.InvalidRequest("root token length %d does not match the one-time password length %d", len(te.ID), len(otp))
	}
	for i := range enc {
		enc[i] = te.ID[i] ^ otp[i]
	}
	c.logger.Info("root token generated from unseal key shares")
	return &RootGenStatus{
		Started: true, Nonce: gnonce, Progress: len(keys), Required: thresholdOf(sc), Complete: true,
		EncodedToken: base64.RawStdEncoding.EncodeToString(enc), OTPLength: OTPLength,
	}, nil
}

// addShare validates one key share and appends it. Called with unsealLock.
func (c *Core) addShare(keys *[][]byte, key []byte, shares int) error {
	want := 33
	if shares == 1 {
		want = 32
	}
	if len(key) != want {
		return logical.InvalidRequest("invalid key: decoded length is %d bytes, expected %d", len(key), want)
	}
	for _, k := range *keys {
		if subtle.ConstantTimeCompare(k, key) == 1 {
			return logical.InvalidRequest("this key share was already provided in the current attempt; provide a different share")
		}
	}
	*keys = append(*keys, append([]byte(nil), key...))
	return nil
}

// keyShares returns the share count and threshold of the keys that
// authorise root generation and rekey: the unseal shares with a Shamir
// seal, the recovery shares with an auto-unseal seal.
func keyShares(sc *seal.Config) (int, int) {
	if sealTypeOf(sc) != seal.TypeShamir {
		return sc.RecoveryShares, sc.RecoveryThreshold
	}
	return sc.SecretShares, sc.SecretThreshold
}

func sharesOf(sc *seal.Config) int    { n, _ := keyShares(sc); return n }
func thresholdOf(sc *seal.Config) int { _, t := keyShares(sc); return t }

// combine reconstructs the key the shares protect and verifies it: the
// root key (Shamir) or the recovery key (auto-unseal).
func (c *Core) combine(ctx context.Context, keys [][]byte, sc *seal.Config) ([]byte, error) {
	key := keys[0]
	if sharesOf(sc) > 1 {
		var err error
		if key, err = shamir.Combine(keys); err != nil {
			return nil, logical.InvalidRequest("failed to combine key shares: %v", err)
		}
	}
	if sealTypeOf(sc) != seal.TypeShamir {
		stored, err := c.recoveryKey(ctx)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(stored, key) != 1 {
			return nil, logical.InvalidRequest("the recovery key shares do not reconstruct this server's recovery key; the attempt was reset")
		}
		return key, nil
	}
	if err := c.barrier.VerifyRootKey(ctx, key); err != nil {
		if errors.Is(err, barrier.ErrInvalidKey) {
			return nil, logical.InvalidRequest("the key shares do not reconstruct this server's root key; the attempt was reset")
		}
		return nil, err
	}
	return key, nil
}
