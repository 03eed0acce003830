// Package seal describes how the barrier's root key is protected: the
// persisted seal configuration, and the interface of auto-unseal seals that
// wrap the root key with an external key service. The Shamir key splitting
// used by the default seal lives in the shamir sub-package.
package seal

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Seal types, as reported in sys/seal-status "type".
const (
	TypeShamir  = "shamir"
	TypeAWSKMS  = "awskms"
	TypeTransit = "transit"
)

// ConfigPath is where the core stores the seal Config, as plain JSON in the
// physical backend, outside the barrier: it must be readable while sealed.
const ConfigPath = "core/seal-config"

// Seal is an auto-unseal mechanism: an external key service that encrypts
// the root key so the server can unseal itself on start.
type Seal interface {
	// Type is one of the Type* constants.
	Type() string
	// Wrap encrypts plaintext with the external key.
	Wrap(ctx context.Context, plaintext []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned.
	Unwrap(ctx context.Context, ciphertext []byte) ([]byte, error)
}

// maxShares is the largest number of key shares: Shamir shares use distinct
// non-zero x coordinates in GF(2^8).
const maxShares = 255

// Config is the seal configuration chosen at initialisation and changed by
// rekey. Secret* describe the unseal key shares (for auto-unseal seals the
// core sets them to 1 of 1, with the key stored); Recovery* describe the
// recovery key shares of an auto-unseal seal.
type Config struct {
	Type            string `json:"type"`
	SecretShares    int    `json:"secret_shares"`
	SecretThreshold int    `json:"secret_threshold"`
	// StoredShares is 1 when the root key is kept in storage wrapped by the
	// seal (auto-unseal), 0 when only the key holders have it.
	StoredShares int `json:"stored_shares"`
	// PGPKeys are base64-encoded public keys, one per share; when set, each
	// share is returned encrypted to its key.
	PGPKeys []string `json:"pgp_keys,omitempty"`
	// Nonce identifies a rekey operation in progress.
	Nonce string `json:"nonce,omitempty"`
	// Backup asks that PGP-encrypted shares of a rekey be kept for recovery.
	Backup            bool `json:"backup,omitempty"`
	RecoveryShares    int  `json:"recovery_shares,omitempty"`
	RecoveryThreshold int  `json:"recovery_threshold,omitempty"`
}

// Validate checks the configuration. Its errors wrap
// logical.ErrInvalidRequest and carry Vault's wording, e.g. "invalid seal
// configuration: threshold cannot be larger than shares".
func (c *Config) Validate() error {
	typ := c.Type
	if typ == "" {
		typ = TypeShamir
	}
	switch typ {
	case TypeShamir, TypeAWSKMS, TypeTransit:
	default:
		return logical.InvalidRequest("invalid seal configuration: unknown seal type %q", c.Type)
	}

	if msg := checkShares(c.SecretShares, c.SecretThreshold); msg != "" {
		return logical.InvalidRequest("invalid seal configuration: %s", msg)
	}
	if c.StoredShares < 0 {
		return logical.InvalidRequest("invalid seal configuration: stored keys cannot be negative")
	}
	if c.StoredShares > 1 {
		return logical.InvalidRequest("invalid seal configuration: stored keys cannot be larger than 1")
	}
	if len(c.PGPKeys) > 0 && len(c.PGPKeys) != c.SecretShares {
		return logical.InvalidRequest("invalid seal configuration: count mismatch between number of provided PGP keys and number of shares")
	}
	for _, k := range c.PGPKeys {
		if _, err := base64.StdEncoding.DecodeString(k); err != nil {
			return logical.InvalidRequest("invalid seal configuration: error decoding given PGP key: %v", err)
		}
	}

	if typ == TypeShamir {
		// Recovery keys exist only for auto-unseal seals.
		var params []string
		if c.RecoveryShares != 0 {
			params = append(params, "recovery_shares")
		}
		if c.RecoveryThreshold != 0 {
			params = append(params, "recovery_threshold")
		}
		if len(params) > 0 {
			return logical.InvalidRequest("parameters %s not applicable to seal type %s", strings.Join(params, ","), TypeShamir)
		}
		return nil
	}
	// An auto-unseal seal may have no recovery keys at all (0 of 0).
	if c.RecoveryShares == 0 && c.RecoveryThreshold == 0 {
		return nil
	}
	if msg := checkShares(c.RecoveryShares, c.RecoveryThreshold); msg != "" {
		return logical.InvalidRequest("invalid recovery configuration: %s", msg)
	}
	return nil
}

// checkShares returns what is wrong with a shares/threshold pair, or "".
func checkShares(shares, threshold int) string {
	switch {
	case shares < 1:
		return "shares must be at least one"
	case threshold < 1:
		return "threshold must be at least one"
	case shares > 1 && threshold == 1:
		return "threshold must be greater than one for multiple shares"
	case shares > maxShares:
		return "shares must be less than 256"
	case threshold > maxShares:
		return "threshold must be less than 256"
	case threshold > shares:
		return "threshold cannot be larger than shares"
	}
	return ""
}
