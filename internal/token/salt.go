package token

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

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
// under a random key kept in the view. The HMAC is computed by hand over
// stack buffers (it is on every request's path); it equals crypto/hmac's.
type salter struct {
	ipad, opad [sha256.BlockSize]byte
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
	return newSalter(key), nil
}

func newSalter(key []byte) *salter {
	s := &salter{}
	copy(s.ipad[:], key)
	copy(s.opad[:], key)
	for i := range s.ipad {
		s.ipad[i] ^= 0x36
		s.opad[i] ^= 0x5c
	}
	return s
}

// digest is the HMAC of a token ID or accessor; it keys the cache.
type digest [sha256.Size]byte

// sum returns HMAC-SHA256(key, v).
func (s *salter) sum(v string) digest {
	var inner digest
	var buf [sha256.BlockSize + 192]byte
	if len(v) <= len(buf)-sha256.BlockSize {
		copy(buf[:], s.ipad[:])
		n := copy(buf[sha256.BlockSize:], v)
		inner = sha256.Sum256(buf[:sha256.BlockSize+n])
	} else {
		inner = sha256.Sum256(append(s.ipad[:len(s.ipad):len(s.ipad)], v...))
	}
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], s.opad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:])
}

// salt returns the storage form of a token ID or accessor.
func (s *salter) salt(v string) string {
	d := s.sum(v)
	return hex.EncodeToString(d[:])
}

// digestOf parses the storage form back; a malformed key gives the zero
// digest, which names nothing.
func digestOf(salted string) digest {
	var d digest
	if hex.DecodedLen(len(salted)) == len(d) {
		_, _ = hex.Decode(d[:], []byte(salted))
	}
	return d
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
