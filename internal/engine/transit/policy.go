package transit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	// kdfHKDFSHA256 is Vault's KDF mode 1: HKDF-SHA256 with the key version
	// as secret, no salt and the request context as info. Mode 0 (an early
	// NIST counter-mode KDF) is not supported.
	kdfHKDFSHA256 = 1

	// convergentVersionCurrent derives the nonce from an HMAC key that is
	// itself derived together with the encryption key.
	convergentVersionCurrent = 3

	hmacMinKeySize = 32
	hmacMaxKeySize = 512

	errTooOld = "ciphertext or signature version is disallowed by policy (too old)"
)

// keyEntry is one version of a key, in the JSON layout of Vault's transit
// policies, so that backups move between Coffer and Vault unchanged.
type keyEntry struct {
	Key                    []byte          `json:"key"`
	HMACKey                []byte          `json:"hmac_key"`
	CreationTime           time.Time       `json:"time"`
	ECX                    *big.Int        `json:"ec_x"`
	ECY                    *big.Int        `json:"ec_y"`
	ECD                    *big.Int        `json:"ec_d"`
	RSAKey                 *rsa.PrivateKey `json:"rsa_key"`
	RSAPublicKey           *rsa.PublicKey  `json:"rsa_public_key"`
	FormattedPublicKey     string          `json:"public_key"`
	ConvergentVersion      int             `json:"convergent_version"`
	DeprecatedCreationTime int64           `json:"creation_time"`
	CertificateChain       [][]byte        `json:"certificate_chain"`
}

// versionInfo records when a key was backed up or restored.
type versionInfo struct {
	Time    time.Time `json:"time"`
	Version int       `json:"version"`
}

// policy is a named key with all its versions and settings. Coffer keeps
// every available version (from min_available_version on) in Keys; the
// JSON field names are Vault's.
type policy struct {
	Name                     string               `json:"name"`
	KeySize                  int                  `json:"key_size,omitempty"`
	Keys                     map[string]*keyEntry `json:"keys"`
	Derived                  bool                 `json:"derived"`
	KDF                      int                  `json:"kdf"`
	ConvergentEncryption     bool                 `json:"convergent_encryption"`
	Exportable               bool                 `json:"exportable"`
	MinDecryptionVersion     int                  `json:"min_decryption_version"`
	MinEncryptionVersion     int                  `json:"min_encryption_version"`
	LatestVersion            int                  `json:"latest_version"`
	ArchiveVersion           int                  `json:"archive_version"`
	ArchiveMinVersion        int                  `json:"archive_min_version"`
	MinAvailableVersion      int                  `json:"min_available_version"`
	DeletionAllowed          bool                 `json:"deletion_allowed"`
	ConvergentVersion        int                  `json:"convergent_version"`
	Type                     keyType              `json:"type"`
	BackupInfo               *versionInfo         `json:"backup_info"`
	RestoreInfo              *versionInfo         `json:"restore_info"`
	AllowPlaintextBackup     bool                 `json:"allow_plaintext_backup"`
	VersionTemplate          string               `json:"version_template"`
	StoragePrefix            string               `json:"storage_prefix"`
	AutoRotatePeriod         time.Duration        `json:"auto_rotate_period"`
	Imported                 bool                 `json:"Imported"`
	AllowImportedKeyRotation bool                 `json:"AllowImportedKeyRotation"`

	// mat holds each version parsed and ready to use; rebuilt by prepare.
	mat map[int]*material
}

// material is a key version parsed once for speed: a ready AEAD for
// non-derived symmetric keys, parsed asymmetric keys otherwise.
type material struct {
	entry  *keyEntry
	aead   cipher.AEAD
	ecPriv *ecdsa.PrivateKey
	ecPub  *ecdsa.PublicKey
	edPriv ed25519.PrivateKey
	edPub  ed25519.PublicKey
	rsa    *rsa.PrivateKey
	rsaPub *rsa.PublicKey
}

// newAEAD returns the AEAD cipher of a symmetric key type.
func newAEAD(t keyType, key []byte) (cipher.AEAD, error) {
	if t == typeChaCha20Poly1305 {
		return chacha20poly1305.New(key)
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// prepare parses every version into p.mat. It is called after loading,
// creating, rotating, trimming or restoring, under the key's write lock.
func (p *policy) prepare() error {
	p.mat = make(map[int]*material, len(p.Keys))
	for k, e := range p.Keys {
		ver, err := strconv.Atoi(k)
		if err != nil || e == nil {
			return fmt.Errorf("key %q: invalid version %q", p.Name, k)
		}
		m, err := p.parseEntry(e)
		if err != nil {
			return fmt.Errorf("key %q version %d: %w", p.Name, ver, err)
		}
		p.mat[ver] = m
	}
	return nil
}

func (p *policy) parseEntry(e *keyEntry) (*material, error) {
	m := &material{entry: e}
	switch t := p.Type; {
	case t.symmetric():
		if len(e.Key) != t.symmetricKeySize() {
			return nil, fmt.Errorf("invalid %s key length %d", t, len(e.Key))
		}
		if !p.Derived {
			a, err := newAEAD(t, e.Key)
			if err != nil {
				return nil, err
			}
			m.aead = a
		}
	case t.isECDSA():
		if e.ECX == nil || e.ECY == nil {
			return nil, fmt.Errorf("missing public key")
		}
		m.ecPub = &ecdsa.PublicKey{Curve: t.curve(), X: e.ECX, Y: e.ECY}
		if e.ECD != nil {
			m.ecPriv = &ecdsa.PrivateKey{PublicKey: *m.ecPub, D: e.ECD}
		}
	case t == typeED25519:
		if len(e.Key) == ed25519.PrivateKeySize {
			m.edPriv = ed25519.PrivateKey(e.Key)
			m.edPub = m.edPriv.Public().(ed25519.PublicKey)
		} else if pub, err := base64.StdEncoding.DecodeString(e.FormattedPublicKey); err == nil && len(pub) == ed25519.PublicKeySize {
			m.edPub = pub
		} else {
			return nil, fmt.Errorf("missing ed25519 key")
		}
	case t.isRSA():
		if e.RSAKey != nil {
			e.RSAKey.Precompute()
			m.rsa = e.RSAKey
			m.rsaPub = &e.RSAKey.PublicKey
		} else if e.RSAPublicKey != nil {
			m.rsaPub = e.RSAPublicKey
		} else {
			return nil, fmt.Errorf("missing RSA key")
		}
	case t == typeHMAC:
		if len(e.Key) == 0 {
			return nil, fmt.Errorf("missing HMAC key")
		}
	default:
		return nil, fmt.Errorf("unsupported key type %d", int(t))
	}
	return m, nil
}

// generateEntry makes a new key version.
func (p *policy) generateEntry(rnd io.Reader, now time.Time) (*keyEntry, error) {
	e := &keyEntry{CreationTime: now, DeprecatedCreationTime: now.Unix()}
	e.HMACKey = make([]byte, 32)
	if _, err := io.ReadFull(rnd, e.HMACKey); err != nil {
		return nil, fmt.Errorf("generate HMAC key: %w", err)
	}
	switch t := p.Type; {
	case t.symmetric() || t == typeHMAC:
		n := t.symmetricKeySize()
		if t == typeHMAC {
			n = p.KeySize
		}
		e.Key = make([]byte, n)
		if _, err := io.ReadFull(rnd, e.Key); err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		if t == typeHMAC {
			e.HMACKey = e.Key
		}
	case t.isECDSA():
		k, err := ecdsa.GenerateKey(t.curve(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate ECDSA key: %w", err)
		}
		e.ECD, e.ECX, e.ECY = k.D, k.X, k.Y
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("marshal public key: %w", err)
		}
		e.FormattedPublicKey = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	case t == typeED25519:
		pub, priv, err := ed25519.GenerateKey(rnd)
		if err != nil {
			return nil, fmt.Errorf("generate ed25519 key: %w", err)
		}
		e.Key = priv
		e.FormattedPublicKey = base64.StdEncoding.EncodeToString(pub)
	case t.isRSA():
		k, err := rsa.GenerateKey(rnd, t.rsaBits())
		if err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
		e.RSAKey = k
		e.RSAPublicKey = &k.PublicKey
	default:
		return nil, fmt.Errorf("unsupported key type %s", t)
	}
	if p.ConvergentEncryption && (p.ConvergentVersion == -1 || p.ConvergentVersion > 1) {
		e.ConvergentVersion = convergentVersionCurrent
	}
	return e, nil
}

// rotate adds a new latest version. The caller persists the policy.
func (p *policy) rotate(rnd io.Reader, now time.Time) error {
	if p.Imported && !p.AllowImportedKeyRotation {
		return userErrorf("imported key %s does not allow rotation", p.Name)
	}
	e, err := p.generateEntry(rnd, now)
	if err != nil {
		return err
	}
	m, err := p.parseEntry(e)
	if err != nil {
		return err
	}
	if p.Keys == nil {
		p.Keys = map[string]*keyEntry{}
	}
	if p.mat == nil {
		p.mat = map[int]*material{}
	}
	p.LatestVersion++
	p.Keys[strconv.Itoa(p.LatestVersion)] = e
	p.mat[p.LatestVersion] = m
	p.ArchiveVersion = p.LatestVersion
	if p.MinDecryptionVersion == 0 {
		p.MinDecryptionVersion = 1
	}
	p.Imported = false
	return nil
}

// dueForRotation reports whether auto_rotate_period has passed since the
// latest version was created.
func (p *policy) dueForRotation(now time.Time) bool {
	if p.AutoRotatePeriod <= 0 || (p.Imported && !p.AllowImportedKeyRotation) {
		return false
	}
	m := p.mat[p.LatestVersion]
	return m != nil && !now.Before(m.entry.CreationTime.Add(p.AutoRotatePeriod))
}

// version returns the parsed material of a key version.
func (p *policy) version(ver int) (*material, error) {
	m, ok := p.mat[ver]
	if !ok {
		return nil, userErrorf("no such key version")
	}
	return m, nil
}

// versions lists the versions at or above min, in order.
func (p *policy) versions(min int) []int {
	out := make([]int, 0, len(p.mat))
	for v := range p.mat {
		if v >= min {
			out = append(out, v)
		}
	}
	sort.Ints(out)
	return out
}

// deriveKey derives n bytes for a version from the request context.
func (p *policy) deriveKey(m *material, context []byte, n int) ([]byte, error) {
	if !p.Type.derivationSupported() {
		return nil, userErrorf("derivation not supported for key type %v", p.Type)
	}
	if len(context) == 0 {
		return nil, userErrorf("missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key")
	}
	if p.KDF != kdfHKDFSHA256 {
		return nil, userErrorf("key derivation mode %d is not supported; re-create the key", p.KDF)
	}
	return hkdf.Key(sha256.New, m.entry.Key, nil, string(context), n)
}

// derivedEd25519 is the ed25519 key of a derived key for a context.
func (p *policy) derivedEd25519(m *material, context []byte) (ed25519.PrivateKey, error) {
	seed, err := p.deriveKey(m, context, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// convergentVersion is the convergent scheme of a version (0 when the key
// is not convergent).
func (p *policy) convergentVersion(m *material) int {
	if !p.ConvergentEncryption {
		return 0
	}
	v := p.ConvergentVersion
	if v == 0 {
		v = 1
	}
	if m != nil && m.entry.ConvergentVersion != 0 {
		v = m.entry.ConvergentVersion
	}
	return v
}

// versionPrefix is the "vault:v<N>:" prefix of ciphertexts and signatures.
func (p *policy) versionPrefix(ver int) string {
	if p.VersionTemplate == "" {
		return "vault:v" + strconv.Itoa(ver) + ":"
	}
	return strings.ReplaceAll(p.VersionTemplate, "{{version}}", strconv.Itoa(ver))
}

// splitVersioned parses "<prefix><version><delim><payload>" as produced by
// versionPrefix; what names the value in errors ("ciphertext", "signature").
func (p *policy) splitVersioned(what, value string) (int, string, error) {
	head, delim := "vault:v", ":"
	if p.VersionTemplate != "" {
		parts := strings.Split(p.VersionTemplate, "{{version}}")
		if len(parts) != 2 {
			return 0, "", fmt.Errorf("error parsing version template")
		}
		head, delim = parts[0], parts[1]
	}
	rest, ok := strings.CutPrefix(value, head)
	if !ok {
		return 0, "", userErrorf("invalid %s: no prefix", what)
	}
	verStr, payload, ok := strings.Cut(rest, delim)
	if !ok {
		return 0, "", userErrorf("invalid %s: wrong number of fields", what)
	}
	ver, err := strconv.Atoi(verStr)
	if err != nil {
		return 0, "", userErrorf("invalid %s: version number could not be decoded", what)
	}
	if ver == 0 {
		// The first releases numbered versions from zero.
		ver = 1
	}
	if ver > p.LatestVersion {
		return 0, "", userErrorf("invalid %s: version is too new", what)
	}
	if p.MinDecryptionVersion > 0 && ver < p.MinDecryptionVersion {
		return 0, "", userErrorf(errTooOld)
	}
	return ver, payload, nil
}

// encryptionVersion resolves key_version for encrypt, sign and HMAC.
func (p *policy) encryptionVersion(what string, ver int) (int, error) {
	switch {
	case ver == 0:
		return p.LatestVersion, nil
	case ver < 0:
		return 0, userErrorf("requested version for %s is negative", what)
	case ver > p.LatestVersion:
		return 0, userErrorf("requested version for %s is higher than the latest key version", what)
	case p.MinEncryptionVersion > 0 && ver < p.MinEncryptionVersion:
		return 0, userErrorf("requested version for %s is less than the minimum encryption key version", what)
	}
	return ver, nil
}
