package transit

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// cryptOptions are the per-item inputs of encrypt and decrypt.
type cryptOptions struct {
	context []byte
	nonce   []byte
	aad     []byte
	// padding is "oaep" (default) or "pkcs1v15" for RSA keys.
	padding string
}

// encrypt seals plaintext with version ver (0 for latest) and returns the
// "vault:v<N>:<base64>" ciphertext and the version used. For AES-GCM and
// ChaCha20-Poly1305 the payload is the 12-byte nonce followed by the
// ciphertext and tag; for RSA it is the OAEP (SHA-256) or PKCS#1 v1.5 block.
func (p *policy) encrypt(rnd io.Reader, ver int, pt []byte, o cryptOptions) (string, int, error) {
	if !p.Type.encryptionSupported() {
		return "", 0, userErrorf("message encryption not supported for key type %v", p.Type)
	}
	ver, err := p.encryptionVersion("encryption", ver)
	if err != nil {
		return "", 0, err
	}
	m, err := p.version(ver)
	if err != nil {
		return "", 0, err
	}
	var raw []byte
	if p.Type.isRSA() {
		raw, err = rsaEncrypt(rnd, m.rsaPub, pt, o.padding)
	} else {
		raw, err = p.sealSymmetric(rnd, m, pt, o)
	}
	if err != nil {
		return "", 0, err
	}
	return p.versioned(ver, raw), ver, nil
}

// versioned returns versionPrefix(ver) followed by the base64 of raw,
// built in a single allocation.
func (p *policy) versioned(ver int, raw []byte) string {
	var sb strings.Builder
	if p.VersionTemplate != "" {
		prefix := p.versionPrefix(ver)
		sb.Grow(len(prefix) + base64.StdEncoding.EncodedLen(len(raw)))
		sb.WriteString(prefix)
	} else {
		var num [20]byte
		digits := strconv.AppendInt(num[:0], int64(ver), 10)
		sb.Grow(len("vault:v:") + len(digits) + base64.StdEncoding.EncodedLen(len(raw)))
		sb.WriteString("vault:v")
		sb.Write(digits)
		sb.WriteByte(':')
	}
	// Encode through a stack buffer in whole 3-byte groups, so that only
	// the last chunk is padded.
	var chunk [4 * 128]byte
	for len(raw) > 0 {
		n := min(len(raw), 3*128)
		base64.StdEncoding.Encode(chunk[:], raw[:n])
		sb.Write(chunk[:base64.StdEncoding.EncodedLen(n)])
		raw = raw[n:]
	}
	return sb.String()
}

func (p *policy) sealSymmetric(rnd io.Reader, m *material, pt []byte, o cryptOptions) ([]byte, error) {
	cv := p.convergentVersion(m)
	hmacLen := 0
	if cv > 2 {
		hmacLen = 32
		if len(o.nonce) > 0 {
			return nil, userErrorf("nonce provided when not allowed")
		}
	} else if len(o.nonce) > 0 && (!p.ConvergentEncryption || cv != 1) {
		return nil, userErrorf("nonce provided when not allowed")
	}
	aead, hmacKey, err := p.symmetricCipher(m, o.context, hmacLen)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	switch {
	case p.ConvergentEncryption && cv == 1:
		// The oldest convergent scheme takes the caller's nonce and does
		// not store it in the ciphertext.
		if len(o.nonce) != ns {
			return nil, userErrorf("base64-decoded nonce must be %d bytes long when using convergent encryption with this key", ns)
		}
		return aead.Seal(nil, o.nonce, pt, o.aad), nil
	case p.ConvergentEncryption:
		// The nonce is an HMAC of the plaintext: under version 2 keyed by
		// the context, under version 3 by a key derived with the
		// encryption key.
		if cv == 2 {
			hmacKey = o.context
		}
		mac := hmac.New(sha256.New, hmacKey)
		mac.Write(pt)
		out := make([]byte, ns, ns+len(pt)+aead.Overhead())
		copy(out, mac.Sum(nil)[:ns])
		return aead.Seal(out, out[:ns], pt, o.aad), nil
	}
	out := make([]byte, ns, ns+len(pt)+aead.Overhead())
	if _, err := io.ReadFull(rnd, out); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	return aead.Seal(out, out[:ns], pt, o.aad), nil
}

// symmetricCipher returns the AEAD for a version and, for convergent
// version 3 keys, the derived nonce HMAC key (extra bytes > 0).
func (p *policy) symmetricCipher(m *material, context []byte, extra int) (cipher.AEAD, []byte, error) {
	if !p.Derived {
		if m.aead == nil {
			return nil, nil, fmt.Errorf("key version has no cipher")
		}
		return m.aead, nil, nil
	}
	n := p.Type.symmetricKeySize()
	key, err := p.deriveKey(m, context, n+extra)
	if err != nil {
		return nil, nil, err
	}
	aead, err := newAEAD(p.Type, key[:n])
	if err != nil {
		return nil, nil, err
	}
	return aead, key[n:], nil
}

// parseCiphertext splits "vault:v<N>:<base64>" into its version and the
// decoded payload, checking the version against the key's limits.
func (p *policy) parseCiphertext(value string) (int, []byte, error) {
	ver, payload, err := p.splitVersioned("ciphertext", value)
	if err != nil {
		return 0, nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return 0, nil, userErrorf("invalid ciphertext: could not decode base64")
	}
	return ver, raw, nil
}

// decrypt opens a ciphertext produced by encrypt.
func (p *policy) decrypt(value string, o cryptOptions) ([]byte, int, error) {
	if !p.Type.encryptionSupported() {
		return nil, 0, userErrorf("message decryption not supported for key type %v", p.Type)
	}
	if p.ConvergentEncryption && p.ConvergentVersion == 1 && len(o.nonce) == 0 {
		return nil, 0, userErrorf("invalid convergent nonce supplied")
	}
	ver, raw, err := p.parseCiphertext(value)
	if err != nil {
		return nil, 0, err
	}
	m, err := p.version(ver)
	if err != nil {
		return nil, 0, err
	}
	if p.Type.isRSA() {
		pt, err := rsaDecrypt(m, raw, o.padding)
		return pt, ver, err
	}
	aead, _, err := p.symmetricCipher(m, o.context, 0)
	if err != nil {
		return nil, 0, err
	}
	nonce, ct := o.nonce, raw
	if !(p.ConvergentEncryption && p.convergentVersion(m) == 1) {
		ns := aead.NonceSize()
		if len(raw) < ns {
			return nil, 0, userErrorf("invalid ciphertext length")
		}
		nonce, ct = raw[:ns], raw[ns:]
	}
	pt, err := aead.Open(nil, nonce, ct, o.aad)
	if err != nil {
		return nil, 0, userErrorf("%s", err.Error())
	}
	return pt, ver, nil
}

func rsaEncrypt(rnd io.Reader, pub *rsa.PublicKey, pt []byte, padding string) ([]byte, error) {
	var out []byte
	var err error
	if padding == "pkcs1v15" {
		out, err = rsa.EncryptPKCS1v15(rnd, pub, pt)
	} else {
		out, err = rsa.EncryptOAEP(sha256.New(), rnd, pub, pt, nil)
	}
	if err != nil {
		return nil, userErrorf("failed to RSA encrypt the plaintext: %v", err)
	}
	return out, nil
}

func rsaDecrypt(m *material, ct []byte, padding string) ([]byte, error) {
	if m.rsa == nil {
		return nil, userErrorf("cannot decrypt ciphertext, key version does not have a private counterpart")
	}
	var out []byte
	var err error
	if padding == "pkcs1v15" {
		out, err = rsa.DecryptPKCS1v15(nil, m.rsa, ct)
	} else {
		out, err = rsa.DecryptOAEP(sha256.New(), nil, m.rsa, ct, nil)
	}
	if err != nil {
		return nil, userErrorf("failed to RSA decrypt the ciphertext: %v", err)
	}
	return out, nil
}

// parsePadding validates padding_scheme for a key type.
func parsePadding(field string, t keyType, v string) (string, error) {
	if v != "oaep" && v != "pkcs1v15" {
		return "", userErrorf("%s invalid: unsupported padding scheme %q; accepted values are oaep and pkcs1v15", field, v)
	}
	if !t.isRSA() {
		return "", userErrorf("%s invalid: unsupported key type %s for padding scheme", field, t)
	}
	return v, nil
}

// hmacKey returns the HMAC key of a version.
func (p *policy) hmacKey(ver int) ([]byte, error) {
	if ver > p.LatestVersion {
		return nil, userErrorf("key version does not exist; latest key version is %d", p.LatestVersion)
	}
	m, err := p.version(ver)
	if err != nil {
		return nil, err
	}
	if p.Type == typeHMAC {
		return m.entry.Key, nil
	}
	if len(m.entry.HMACKey) == 0 {
		return nil, userErrorf("no HMAC key exists for that key version")
	}
	return m.entry.HMACKey, nil
}
