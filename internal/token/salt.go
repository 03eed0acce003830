package token

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/coffer-dev/coffer/internal/logical"
)

const (
	saltKey    = "salt"
	saltLength = 32
	base62     = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// randomLength is the length of the random part of tokens and accessors.
	randomLength = 24
)

// salter turns token IDs and accessors into storage keys: hex HMAC-SHA256
// under a random key kept in the view.
type salter struct {
	pool sync.Pool
}

func loadSalter(ctx context.Context, view logical.Storage, rnd io.Reader) (*salter, error) {
	e, err := view.Get(ctx, saltKey)
	if err != nil {
		return nil, fmt.Errorf("read token salt: %w", err)
	}
	var key []byte
	if e != nil && len(e.Value) == saltLength {
		key = e.Value
	} else {
		key = make([]byte, saltLength)
		if _, err := io.ReadFull(rnd, key); err != nil {
			return nil, fmt.Errorf("generate token salt: %w", err)
		}
		if err := view.Put(ctx, &logical.StorageEntry{Key: saltKey, Value: key}); err != nil {
			return nil, fmt.Errorf("store token salt: %w", err)
		}
	}
	s := &salter{}
	s.pool.New = func() interface{} { return hmac.New(sha256.New, key) }
	return s, nil
}

// salt returns the storage form of a token ID or accessor.
func (s *salter) salt(v string) string {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, v)
	var sum [sha256.Size]byte
	out := hex.EncodeToString(h.Sum(sum[:0]))
	s.pool.Put(h)
	return out
}

// randomString returns n random base62 characters.
func randomString(rnd io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting larger bytes keeps the result uniform.
			if b >= 248 {
				continue
			}
			out = append(out, base62[b%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}
