// Package transit is the transit secrets engine: encryption as a service.
// Named keys (AES-GCM, ChaCha20-Poly1305, RSA, ECDSA, Ed25519, HMAC) live
// in the mount's barrier-encrypted storage and never leave it unless marked
// exportable; callers encrypt, decrypt, rewrap, sign, verify, HMAC and
// generate data keys through Vault's transit API, with Vault's ciphertext
// format ("vault:v<N>:<base64>") so existing ciphertext consumers work.
package transit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Factory creates a transit backend for a mount.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	if conf == nil {
		return nil, errors.New("transit: no backend configuration")
	}
	return newBackend(conf.Logger, time.Now, rand.Reader), nil
}

// backend is the transit engine. It owns the in-memory key cache; keys are
// persisted in the storage view each request carries.
type backend struct {
	*framework.Backend
	keys *keyStore
	rand io.Reader
}

func newBackend(logger *slog.Logger, now func() time.Time, rnd io.Reader) *backend {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &backend{keys: newKeyStore(now, rnd, logger), rand: rnd}
	b.Backend = &framework.Backend{
		Help:        backendHelp,
		Paths:       b.paths(),
		BackendType: logical.TypeLogical,
	}
	return b
}

func (b *backend) paths() []*framework.Path {
	// Patterns never overlap (TestPaths checks), so the order only decides
	// how soon the hot paths are matched.
	return []*framework.Path{
		b.pathEncrypt(), b.pathDecrypt(), b.pathHMAC(), b.pathSign(), b.pathVerify(),
		b.pathRewrap(), b.pathDatakey(), b.pathRandom(), b.pathHash(),
		b.pathListKeys(), b.pathKeys(), b.pathKeysConfig(), b.pathRotate(), b.pathTrim(),
		b.pathConfigKeys(), b.pathExport(), b.pathBackup(), b.pathRestore(),
	}
}

// HandleRequest serves a request through the path table. The core's
// periodic rollback call also rotates keys whose auto_rotate_period has
// passed; keys used in between rotate on use.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if req.Operation == logical.RollbackOperation && req.Storage != nil {
		b.keys.rotateDue(ctx, req.Storage)
	}
	return b.Backend.HandleRequest(ctx, req)
}

// badRequest turns an error into a 400 when it describes bad input.
func badRequest(err error) error {
	var ue *userError
	if errors.As(err, &ue) {
		return logical.InvalidRequest("%s", ue.msg)
	}
	return err
}

// isUserError reports whether err describes bad input.
func isUserError(err error) bool {
	var ue *userError
	return errors.As(err, &ue)
}

// decodeB64 decodes an optional base64 field, naming it in the error.
func decodeB64(field, v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	out, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, userErrorf("failed to base64-decode %s: %v", field, err)
	}
	return out, nil
}

// withStatus sends resp with a non-200 status in Vault's envelope, as Vault
// does for batches in which some items failed.
func withStatus(req *logical.Request, resp *logical.Response, code int) (*logical.Response, error) {
	body, err := json.Marshal(map[string]interface{}{
		"request_id":     req.ID,
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           resp.Data,
		"wrap_info":      nil,
		"warnings":       resp.Warnings,
		"auth":           nil,
		"mount_type":     "",
	})
	if err != nil {
		return nil, fmt.Errorf("encode batch response: %w", err)
	}
	return &logical.Response{Raw: body, RawContentType: "application/json", RawStatus: code}, nil
}

// batchStatus answers a batch: 200 when every item succeeded, otherwise
// 400 for bad input (500 for internal failures), or the caller's
// partial_failure_response_code when at least one item succeeded.
func batchStatus(req *logical.Request, d *framework.FieldData, resp *logical.Response, ok, userErr, internalErr bool) (*logical.Response, error) {
	if !userErr && !internalErr {
		return resp, nil
	}
	code := http.StatusBadRequest
	if !userErr {
		code = http.StatusInternalServerError
	}
	if raw, set := d.GetOk("partial_failure_response_code"); set && ok {
		if c, _ := raw.(int); c < 1 || c > 599 {
			resp.AddWarning(fmt.Sprintf("invalid HTTP response code override from partial_failure_response_code, reverting to %d", code))
		} else {
			code = c
		}
	}
	return withStatus(req, resp, code)
}

const backendHelp = `
The transit secrets engine handles cryptographic functions on data in transit:
encryption and decryption with named keys, rewrapping, data key generation,
signing and verification, HMACs, hashing and random bytes. Keys never leave
the engine unless created exportable.
`
