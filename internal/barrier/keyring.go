package barrier

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Layout of every value the barrier writes:
//
//	term (4 bytes, big endian) | version (1 byte) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//
// The additional data is the full physical path of the value, so ciphertext
// moved to another key no longer decrypts. The sealed keyring uses the same
// layout with term 0, meaning "encrypted by the root key".
const (
	keySize      = 32
	termSize     = 4
	versionSize  = 1
	nonceSize    = 12
	headerSize   = termSize + versionSize + nonceSize
	entryVersion = 1
	rootKeyTerm  = 0
)

// termKey is the data encryption key of one term.
type termKey struct {
	term        uint32
	key         []byte
	installTime time.Time
	aead        cipher.AEAD
}

func newTermKey(term uint32, key []byte, installTime time.Time) (*termKey, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &termKey{term: term, key: key, installTime: installTime, aead: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("key must be %d bytes, got %d", keySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("create cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("create GCM: %w", err)
	}
	return aead, nil
}

// keyring holds the keys of every term; the active one encrypts new
// writes, all of them decrypt. A keyring is never changed once in use:
// rotation builds a new one that shares the older terms' keys.
type keyring struct {
	active uint32
	keys   map[uint32]*termKey
}

func (k *keyring) activeKey() *termKey { return k.keys[k.active] }

// withTerm returns a copy of k with tk added and made active.
func (k *keyring) withTerm(tk *termKey) *keyring {
	keys := maps.Clone(k.keys)
	keys[tk.term] = tk
	return &keyring{active: tk.term, keys: keys}
}

// zero overwrites the raw key bytes. The expanded AES key schedules inside
// the cipher objects cannot be reached and are left to the garbage collector.
func (k *keyring) zero() {
	for _, tk := range k.keys {
		clear(tk.key)
	}
}

// keyringJSON is the persisted form of a keyring, before encryption.
type keyringJSON struct {
	ActiveTerm uint32        `json:"active_term"`
	Keys       []termKeyJSON `json:"keys"`
}

type termKeyJSON struct {
	Term        uint32    `json:"term"`
	Value       []byte    `json:"value"`
	InstallTime time.Time `json:"install_time"`
}

func (k *keyring) marshal() ([]byte, error) {
	out := keyringJSON{ActiveTerm: k.active, Keys: make([]termKeyJSON, 0, len(k.keys))}
	for _, term := range slices.Sorted(maps.Keys(k.keys)) {
		tk := k.keys[term]
		out.Keys = append(out.Keys, termKeyJSON{Term: tk.term, Value: tk.key, InstallTime: tk.installTime})
	}
	return json.Marshal(out)
}

func parseKeyring(data []byte) (_ *keyring, err error) {
	var in keyringJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("decode keyring: %w", err)
	}
	defer func() {
		if err != nil {
			for _, k := range in.Keys {
				clear(k.Value)
			}
		}
	}()
	kr := &keyring{active: in.ActiveTerm, keys: make(map[uint32]*termKey, len(in.Keys))}
	for _, k := range in.Keys {
		if k.Term == rootKeyTerm {
			return nil, errors.New("decode keyring: term 0 is reserved")
		}
		if _, dup := kr.keys[k.Term]; dup {
			return nil, fmt.Errorf("decode keyring: term %d appears twice", k.Term)
		}
		tk, err := newTermKey(k.Term, k.Value, k.InstallTime)
		if err != nil {
			return nil, fmt.Errorf("decode keyring term %d: %w", k.Term, err)
		}
		kr.keys[k.Term] = tk
	}
	if kr.activeKey() == nil {
		return nil, fmt.Errorf("decode keyring: no key for active term %d", in.ActiveTerm)
	}
	return kr, nil
}

// encrypt seals plaintext under aead, tagging it with term and binding it
// to path.
func encrypt(aead cipher.AEAD, term uint32, path string, plaintext []byte) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plaintext)+aead.Overhead())
	binary.BigEndian.PutUint32(out, term)
	out[termSize] = entryVersion
	nonce := out[termSize+versionSize : headerSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, []byte(path)), nil
}

// termOf returns the key term a stored value was encrypted with.
func termOf(data []byte) (uint32, error) {
	if len(data) < headerSize {
		return 0, fmt.Errorf("%w: value too short (%d bytes)", ErrDecrypt, len(data))
	}
	if data[termSize] != entryVersion {
		return 0, fmt.Errorf("%w: unknown format version %d", ErrDecrypt, data[termSize])
	}
	return binary.BigEndian.Uint32(data), nil
}

// decrypt opens a value written by encrypt at the same path.
func decrypt(aead cipher.AEAD, path string, data []byte) ([]byte, error) {
	if len(data) < headerSize+aead.Overhead() {
		return nil, fmt.Errorf("%w: value too short (%d bytes)", ErrDecrypt, len(data))
	}
	nonce := data[termSize+versionSize : headerSize]
	plaintext, err := aead.Open(nil, nonce, data[headerSize:], []byte(path))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	return plaintext, nil
}

// decryptEntry opens a stored value with the key of the term it names.
func (k *keyring) decryptEntry(path string, data []byte) ([]byte, error) {
	term, err := termOf(data)
	if err != nil {
		return nil, err
	}
	tk, ok := k.keys[term]
	if !ok {
		return nil, fmt.Errorf("%w: no key for term %d", ErrDecrypt, term)
	}
	return decrypt(tk.aead, path, data)
}
