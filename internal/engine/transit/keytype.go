package transit

import (
	"crypto"
	"crypto/elliptic"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"fmt"
	"hash"
)

// keyType is the algorithm of a named key. The numbering is the one Vault
// stores in its policies, so that backups move between Vault and Coffer.
type keyType int

const (
	typeAES256GCM96 keyType = iota
	typeECDSAP256
	typeED25519
	typeRSA2048
	typeRSA4096
	typeChaCha20Poly1305
	typeECDSAP384
	typeECDSAP521
	typeAES128GCM96
	typeRSA3072
	typeHMAC
)

var keyTypeNames = map[keyType]string{
	typeAES128GCM96:      "aes128-gcm96",
	typeAES256GCM96:      "aes256-gcm96",
	typeChaCha20Poly1305: "chacha20-poly1305",
	typeECDSAP256:        "ecdsa-p256",
	typeECDSAP384:        "ecdsa-p384",
	typeECDSAP521:        "ecdsa-p521",
	typeED25519:          "ed25519",
	typeRSA2048:          "rsa-2048",
	typeRSA3072:          "rsa-3072",
	typeRSA4096:          "rsa-4096",
	typeHMAC:             "hmac",
}

func (t keyType) String() string {
	if n, ok := keyTypeNames[t]; ok {
		return n
	}
	return "[unknown]"
}

// parseKeyType maps an API name such as "aes256-gcm96" to its type.
func parseKeyType(name string) (keyType, bool) {
	for t, n := range keyTypeNames {
		if n == name {
			return t, true
		}
	}
	return 0, false
}

func (t keyType) symmetric() bool {
	return t == typeAES128GCM96 || t == typeAES256GCM96 || t == typeChaCha20Poly1305
}

func (t keyType) isECDSA() bool {
	return t == typeECDSAP256 || t == typeECDSAP384 || t == typeECDSAP521
}

func (t keyType) isRSA() bool {
	return t == typeRSA2048 || t == typeRSA3072 || t == typeRSA4096
}

func (t keyType) encryptionSupported() bool { return t.symmetric() || t.isRSA() }

func (t keyType) signingSupported() bool {
	return t.isECDSA() || t.isRSA() || t == typeED25519
}

// hashSignatureInput tells the key types that sign a digest of the input.
func (t keyType) hashSignatureInput() bool { return t.isECDSA() || t.isRSA() }

func (t keyType) derivationSupported() bool { return t.symmetric() || t == typeED25519 }

func (t keyType) associatedDataSupported() bool { return t.symmetric() }

// symmetricKeySize is the length of an encryption key in bytes.
func (t keyType) symmetricKeySize() int {
	if t == typeAES128GCM96 {
		return 16
	}
	return 32
}

func (t keyType) curve() elliptic.Curve {
	switch t {
	case typeECDSAP384:
		return elliptic.P384()
	case typeECDSAP521:
		return elliptic.P521()
	}
	return elliptic.P256()
}

func (t keyType) rsaBits() int {
	switch t {
	case typeRSA3072:
		return 3072
	case typeRSA4096:
		return 4096
	}
	return 2048
}

// hashAlgorithm is one of the names the API accepts for hash_algorithm,
// algorithm and the URL suffixes of hash, hmac, sign and verify.
type hashAlgorithm struct {
	name   string
	newFn  func() hash.Hash // nil for "none"
	crypto crypto.Hash      // 0 for "none"
}

var hashAlgorithms = map[string]hashAlgorithm{
	"none":     {name: "none"},
	"sha1":     {"sha1", sha1.New, crypto.SHA1},
	"sha2-224": {"sha2-224", sha256.New224, crypto.SHA224},
	"sha2-256": {"sha2-256", sha256.New, crypto.SHA256},
	"sha2-384": {"sha2-384", sha512.New384, crypto.SHA384},
	"sha2-512": {"sha2-512", sha512.New, crypto.SHA512},
	"sha3-224": {"sha3-224", func() hash.Hash { return sha3.New224() }, crypto.SHA3_224},
	"sha3-256": {"sha3-256", func() hash.Hash { return sha3.New256() }, crypto.SHA3_256},
	"sha3-384": {"sha3-384", func() hash.Hash { return sha3.New384() }, crypto.SHA3_384},
	"sha3-512": {"sha3-512", func() hash.Hash { return sha3.New512() }, crypto.SHA3_512},
}

// lookupHash returns the named algorithm, or a 400 naming the field.
func lookupHash(field, name string) (hashAlgorithm, error) {
	h, ok := hashAlgorithms[name]
	if !ok {
		return hashAlgorithm{}, userErrorf("invalid %s %q; accepted values are sha1, sha2-224, sha2-256, sha2-384, sha2-512, sha3-224, sha3-256, sha3-384, sha3-512 and none", field, name)
	}
	return h, nil
}

// digest hashes input with h; "none" returns the input unchanged.
func (h hashAlgorithm) digest(input []byte) []byte {
	if h.newFn == nil {
		return input
	}
	hf := h.newFn()
	hf.Write(input)
	return hf.Sum(nil)
}

// userError is a problem with the caller's input: a 400, and in a batch a
// per-item error.
type userError struct{ msg string }

func (e *userError) Error() string { return e.msg }

func userErrorf(format string, args ...interface{}) error {
	return &userError{msg: fmt.Sprintf(format, args...)}
}
