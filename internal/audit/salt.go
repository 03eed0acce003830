package audit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// hmacPrefix identifies the hash function in a hashed value.
const hmacPrefix = "hmac-sha256:"

// Salt is an audit device's HMAC key. Values are hashed as
// "hmac-sha256:" + hex(HMAC-SHA256(key, value)), so the same salt always
// gives the same hash and sys/audit-hash can reproduce a logged value.
type Salt struct {
	key  string
	pool sync.Pool
}

// NewSalt returns a salt for the given key.
func NewSalt(key string) *Salt {
	s := &Salt{key: key}
	s.pool.New = func() interface{} { return hmac.New(sha256.New, []byte(key)) }
	return s
}

// GenerateSalt returns a salt with a fresh random key (a UUID string).
func GenerateSalt() (*Salt, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("generate salt: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	key := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	return NewSalt(key), nil
}

// Key returns the salt's key, for persisting.
func (s *Salt) Key() string { return s.key }

// HMAC returns the identified HMAC of v: "hmac-sha256:<hex>".
func (s *Salt) HMAC(v string) string {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(v))
	var sum [sha256.Size]byte
	out := make([]byte, len(hmacPrefix)+2*sha256.Size)
	copy(out, hmacPrefix)
	hex.Encode(out[len(hmacPrefix):], h.Sum(sum[:0]))
	s.pool.Put(h)
	return string(out)
}
