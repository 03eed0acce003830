package transit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

var nameField = &framework.FieldSchema{Type: framework.TypeString, Description: "Name of the key."}

func (b *backend) pathListKeys() *framework.Path {
	return &framework.Path{
		Pattern:  "keys/?",
		Ops:      framework.Ops{logical.ListOperation: b.listKeys},
		Synopsis: "List the named keys.",
	}
}

func (b *backend) pathKeys() *framework.Path {
	return &framework.Path{
		Pattern: "keys/" + framework.GenericNameRegex("name"),
		Fields: framework.Fields{
			"name": nameField,
			"type": {Type: framework.TypeString, Default: "aes256-gcm96",
				Description: "Key type: aes128-gcm96, aes256-gcm96 (default), chacha20-poly1305, ed25519, ecdsa-p256, ecdsa-p384, ecdsa-p521, rsa-2048, rsa-3072, rsa-4096 or hmac."},
			"derived":               {Type: framework.TypeBool, Description: "Derive a key per request from a context."},
			"convergent_encryption": {Type: framework.TypeBool, Description: "Derive nonces so that equal plaintexts and contexts give equal ciphertexts; requires derived."},
			"exportable":            {Type: framework.TypeBool, Description: "Allow the key versions to be exported. Cannot be unset."},
			"allow_plaintext_backup": {Type: framework.TypeBool,
				Description: "Allow a plaintext backup of the key. Cannot be unset."},
			"context": {Type: framework.TypeString, Query: true,
				Description: "Base64 context; when reading a derived ed25519 key, returns the public keys for it."},
			"auto_rotate_period": {Type: framework.TypeDurationSecond, Default: 0,
				Description: "Rotate the key automatically after this long; 0 disables, otherwise at least an hour."},
			"key_size": {Type: framework.TypeInt, Default: 0,
				Description: fmt.Sprintf("Key size in bytes for hmac keys, %d to %d.", hmacMinKeySize, hmacMaxKeySize)},
		},
		Ops: framework.Ops{
			logical.UpdateOperation: b.createKey,
			logical.ReadOperation:   b.readKey,
			logical.DeleteOperation: b.deleteKey,
		},
		Synopsis: "Create, read or delete a named key.",
	}
}

func (b *backend) listKeys(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := listKeys(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"keys": names}}, nil
}

func (b *backend) createKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	derived, convergent := d.Bool("derived"), d.Bool("convergent_encryption")
	period := d.Duration("auto_rotate_period")
	if period != 0 && period < time.Hour {
		return nil, logical.InvalidRequest("auto rotate period must be 0 to disable or at least an hour")
	}
	if !derived && convergent {
		return nil, logical.InvalidRequest("convergent encryption requires derivation to be enabled")
	}
	t, ok := parseKeyType(d.String("type"))
	if !ok {
		return nil, logical.InvalidRequest("unknown key type %v", d.String("type"))
	}
	p := &policy{
		Name: name, Type: t, Derived: derived, Exportable: d.Bool("exportable"),
		AllowPlaintextBackup: d.Bool("allow_plaintext_backup"), AutoRotatePeriod: period,
	}
	if size := d.Int("key_size"); size != 0 {
		if t != typeHMAC {
			return nil, logical.InvalidRequest("key_size is not valid for algorithm %v", t)
		}
		if size < hmacMinKeySize || size > hmacMaxKeySize {
			return nil, logical.InvalidRequest("invalid key_size %d", size)
		}
		p.KeySize = size
	} else if t == typeHMAC {
		p.KeySize = hmacMinKeySize
	}
	if err := checkCreate(p, convergent); err != nil {
		return nil, err
	}
	h, created, err := b.keys.create(ctx, req.Storage, p)
	if err != nil {
		return nil, badRequest(err)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.p == nil {
		return nil, fmt.Errorf("key %q was deleted while being created", name)
	}
	resp, err := formatKey(h.p, nil)
	if err != nil {
		return nil, err
	}
	if !created {
		resp.AddWarning(fmt.Sprintf("key %s already existed", name))
	}
	return resp, nil
}

// checkCreate validates derivation settings for a new key and fills in the
// derivation fields.
func checkCreate(p *policy, convergent bool) error {
	switch {
	case p.Type.symmetric():
	case p.Type == typeED25519:
		if convergent {
			return logical.InvalidRequest("convergent encryption not supported for keys of type %v", p.Type)
		}
	default:
		if p.Derived || convergent {
			return logical.InvalidRequest("key derivation and convergent encryption not supported for keys of type %v", p.Type)
		}
	}
	if p.Derived {
		p.KDF = kdfHKDFSHA256
		if convergent {
			p.ConvergentEncryption = true
			// Each version records its own scheme; -1 means "see the version".
			p.ConvergentVersion = -1
		}
	}
	return nil
}

func (b *backend) readKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	context, err := decodeB64("context", d.String("context"))
	if err != nil {
		return nil, badRequest(err)
	}
	p, release, err := b.keys.acquire(ctx, req.Storage, d.String("name"), false)
	if err != nil || p == nil {
		return nil, err
	}
	defer release()
	resp, err := formatKey(p, context)
	return resp, badRequest(err)
}

func (b *backend) deleteKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	if err := b.keys.remove(ctx, req.Storage, name); err != nil {
		if isUserError(err) {
			return nil, logical.InvalidRequest("error deleting policy %s: %s", name, err)
		}
		return nil, err
	}
	return nil, nil
}

// formatKey is the body of a key read, as Vault returns it.
func formatKey(p *policy, context []byte) (*logical.Response, error) {
	data := map[string]interface{}{
		"name":                   p.Name,
		"type":                   p.Type.String(),
		"derived":                p.Derived,
		"deletion_allowed":       p.DeletionAllowed,
		"min_available_version":  p.MinAvailableVersion,
		"min_decryption_version": p.MinDecryptionVersion,
		"min_encryption_version": p.MinEncryptionVersion,
		"latest_version":         p.LatestVersion,
		"exportable":             p.Exportable,
		"allow_plaintext_backup": p.AllowPlaintextBackup,
		"supports_encryption":    p.Type.encryptionSupported(),
		"supports_decryption":    p.Type.encryptionSupported(),
		"supports_signing":       p.Type.signingSupported(),
		"supports_derivation":    p.Type.derivationSupported(),
		"auto_rotate_period":     int64(p.AutoRotatePeriod / time.Second),
		"imported_key":           p.Imported,
	}
	if p.KeySize != 0 {
		data["key_size"] = p.KeySize
	}
	if p.Imported {
		data["imported_key_allow_rotation"] = p.AllowImportedKeyRotation
	}
	if p.BackupInfo != nil {
		data["backup_info"] = map[string]interface{}{"time": p.BackupInfo.Time, "version": p.BackupInfo.Version}
	}
	if p.RestoreInfo != nil {
		data["restore_info"] = map[string]interface{}{"time": p.RestoreInfo.Time, "version": p.RestoreInfo.Version}
	}
	if p.Derived {
		data["kdf"] = "hkdf_sha256"
		data["convergent_encryption"] = p.ConvergentEncryption
		if p.ConvergentEncryption {
			data["convergent_encryption_version"] = p.ConvergentVersion
		}
	}
	switch {
	case p.Type.symmetric():
		keys := map[string]int64{}
		for _, v := range p.versions(p.MinDecryptionVersion) {
			keys[strconv.Itoa(v)] = p.mat[v].entry.DeprecatedCreationTime
		}
		data["keys"] = keys
	case p.Type.signingSupported():
		keys := map[string]map[string]interface{}{}
		for _, v := range p.versions(p.MinDecryptionVersion) {
			k, err := publicKeyInfo(p, v, context)
			if err != nil {
				return nil, err
			}
			keys[strconv.Itoa(v)] = k
		}
		data["keys"] = keys
	}
	return &logical.Response{Data: data}, nil
}

// publicKeyInfo is one entry of an asymmetric key's "keys" map.
func publicKeyInfo(p *policy, ver int, context []byte) (map[string]interface{}, error) {
	m := p.mat[ver]
	e := m.entry
	created := e.CreationTime
	if created.IsZero() {
		created = time.Unix(e.DeprecatedCreationTime, 0)
	}
	pub := e.FormattedPublicKey
	name := p.Type.String()
	switch {
	case p.Type.isECDSA():
		name = p.Type.curve().Params().Name
	case p.Type == typeED25519 && p.Derived:
		pub = ""
		if len(context) > 0 {
			k, err := p.derivedEd25519(m, context)
			if err != nil {
				return nil, err
			}
			pub = base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
		}
	case p.Type.isRSA():
		s, err := encodeRSAPublic(m)
		if err != nil {
			return nil, err
		}
		pub = s
	}
	return map[string]interface{}{
		"name":              name,
		"public_key":        pub,
		"certificate_chain": "",
		"creation_time":     created,
	}, nil
}
