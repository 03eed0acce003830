package transit

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const (
	exportEncryptionKey = "encryption-key"
	exportSigningKey    = "signing-key"
	exportHMACKey       = "hmac-key"
	exportPublicKey     = "public-key"
)

func (b *backend) pathExport() *framework.Path {
	return &framework.Path{
		Pattern: "export/" + framework.GenericNameRegex("type") + "/" + framework.GenericNameRegex("name") + framework.OptionalParamRegex("version"),
		Fields: framework.Fields{
			"type":    {Type: framework.TypeString, Description: "What to export: encryption-key, signing-key, hmac-key or public-key."},
			"name":    nameField,
			"version": {Type: framework.TypeString, Description: `Version to export, or "latest"; all versions when omitted.`},
		},
		Ops:      framework.Ops{logical.ReadOperation: b.export},
		Synopsis: "Export the versions of an exportable key.",
	}
}

func (b *backend) export(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	kind := d.String("type")
	switch kind {
	case exportEncryptionKey, exportSigningKey, exportHMACKey, exportPublicKey:
	default:
		return nil, logical.InvalidRequest("invalid export type: %s", kind)
	}
	p, release, err := b.keys.acquire(ctx, req.Storage, d.String("name"), false)
	if err != nil || p == nil {
		return nil, err
	}
	defer release()
	if !p.Exportable && kind != exportPublicKey {
		return nil, logical.InvalidRequest("private key material is not exportable")
	}
	switch {
	case kind == exportEncryptionKey && !p.Type.encryptionSupported():
		return nil, logical.InvalidRequest("encryption not supported for the key")
	case (kind == exportSigningKey || kind == exportPublicKey) && !p.Type.signingSupported():
		return nil, logical.InvalidRequest("signing not supported for the key")
	}
	keys := map[string]string{}
	versions := p.versions(p.MinDecryptionVersion)
	if v := d.String("version"); v != "" {
		ver := p.LatestVersion
		if v != "latest" {
			if ver, err = strconv.Atoi(strings.TrimPrefix(v, "v")); err != nil {
				return nil, logical.InvalidRequest("invalid key version")
			}
		}
		if ver < p.MinDecryptionVersion {
			return nil, logical.InvalidRequest("version for export is below minimum decryption version")
		}
		if _, ok := p.mat[ver]; !ok {
			return nil, logical.InvalidRequest("version does not exist or cannot be found")
		}
		versions = []int{ver}
	}
	for _, v := range versions {
		s, err := exportKey(p, p.mat[v], kind)
		if err != nil {
			return nil, err
		}
		keys[strconv.Itoa(v)] = s
	}
	return &logical.Response{Data: map[string]interface{}{"name": p.Name, "type": p.Type.String(), "keys": keys}}, nil
}

// exportKey encodes one version as Vault does: raw keys in base64, RSA
// private keys as PKCS#1 PEM, EC private keys as SEC 1 PEM, public keys as
// PKIX PEM (ed25519: base64).
func exportKey(p *policy, m *material, kind string) (string, error) {
	e := m.entry
	switch kind {
	case exportHMACKey:
		if p.Type == typeHMAC {
			return base64.StdEncoding.EncodeToString(e.Key), nil
		}
		return base64.StdEncoding.EncodeToString(e.HMACKey), nil
	case exportEncryptionKey:
		if p.Type.symmetric() {
			return base64.StdEncoding.EncodeToString(e.Key), nil
		}
		return encodeRSAPrivate(m), nil
	case exportSigningKey:
		switch {
		case p.Type.isECDSA():
			if m.ecPriv == nil {
				return "", nil
			}
			der, err := x509.MarshalECPrivateKey(m.ecPriv)
			if err != nil {
				return "", fmt.Errorf("marshal EC key: %w", err)
			}
			return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))), nil
		case p.Type == typeED25519:
			return base64.StdEncoding.EncodeToString(e.Key), nil
		}
		return encodeRSAPrivate(m), nil
	}
	switch {
	case p.Type.isECDSA():
		der, err := x509.MarshalPKIXPublicKey(m.ecPub)
		if err != nil {
			return "", fmt.Errorf("marshal EC public key: %w", err)
		}
		return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), nil
	case p.Type == typeED25519:
		return base64.StdEncoding.EncodeToString(m.edPub), nil
	}
	return encodeRSAPublic(m)
}

func encodeRSAPrivate(m *material) string {
	if m.rsa == nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(m.rsa)}))
}

func encodeRSAPublic(m *material) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(m.rsaPub)
	if err != nil {
		return "", fmt.Errorf("marshal RSA public key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// backupData is Vault's backup format: the policy and its archived keys,
// JSON-encoded, then base64-encoded.
type backupData struct {
	Policy       *policy       `json:"policy"`
	ArchivedKeys *archivedKeys `json:"archived_keys"`
}

// archivedKeys lists versions from the policy's min_available_version on;
// index i is version i+min_available_version (index 0 is empty when that
// is 0).
type archivedKeys struct {
	Keys []keyEntry `json:"keys"`
}

func (b *backend) pathBackup() *framework.Path {
	return &framework.Path{
		Pattern:  "backup/" + framework.GenericNameRegex("name"),
		Fields:   framework.Fields{"name": nameField},
		Ops:      framework.Ops{logical.ReadOperation: b.backup},
		Synopsis: "Back up a named key in plaintext (requires exportable and allow_plaintext_backup).",
	}
}

func (b *backend) backup(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	p, release, err := b.keys.acquire(ctx, req.Storage, name, true)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("key %q not found", name)
	}
	defer release()
	if !p.Exportable {
		return nil, logical.InvalidRequest("exporting is disallowed on the policy")
	}
	if !p.AllowPlaintextBackup {
		return nil, logical.InvalidRequest("plaintext backup is disallowed on the policy")
	}
	next := *p
	next.BackupInfo = &versionInfo{Time: b.keys.now(), Version: p.LatestVersion}
	if err := persist(ctx, req.Storage, &next); err != nil {
		return nil, fmt.Errorf("failed to persist policy with backup info: %w", err)
	}
	*p = next

	// Vault's layout: the policy carries the versions that still decrypt,
	// the archive every available version.
	out := next
	out.Keys = map[string]*keyEntry{}
	for _, v := range p.versions(p.MinDecryptionVersion) {
		out.Keys[strconv.Itoa(v)] = p.mat[v].entry
	}
	out.ArchiveVersion, out.ArchiveMinVersion = p.LatestVersion, p.MinAvailableVersion
	arch := &archivedKeys{Keys: make([]keyEntry, p.LatestVersion-p.MinAvailableVersion+1)}
	for v, m := range p.mat {
		arch.Keys[v-p.MinAvailableVersion] = *m.entry
	}
	raw, err := json.Marshal(backupData{Policy: &out, ArchivedKeys: arch})
	if err != nil {
		return nil, fmt.Errorf("encode backup: %w", err)
	}
	return &logical.Response{Data: map[string]interface{}{"backup": base64.StdEncoding.EncodeToString(raw)}}, nil
}

func (b *backend) pathRestore() *framework.Path {
	return &framework.Path{
		Pattern: "restore" + framework.OptionalParamRegex("name"),
		Fields: framework.Fields{
			"name":   {Type: framework.TypeString, Description: "Name to restore the key under; the backup's name when omitted."},
			"backup": {Type: framework.TypeString, Sensitive: true, Description: "Backup returned by backup/<name>."},
			"force":  {Type: framework.TypeBool, Description: "Overwrite a key of the same name."},
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.restore},
		Synopsis: "Restore a key from a backup.",
	}
}

func (b *backend) restore(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	backup := d.String("backup")
	if backup == "" {
		return nil, logical.InvalidRequest("'backup' must be supplied")
	}
	name := d.String("name")
	if strings.Contains(name, "/") {
		return nil, logical.InvalidRequest("key names cannot contain slashes")
	}
	p, err := decodeBackup(backup)
	if err != nil {
		return nil, badRequest(err)
	}
	if name != "" {
		p.Name = name
	}
	if p.Name == "" || strings.Contains(p.Name, "/") {
		return nil, logical.InvalidRequest("backup data does not contain a valid key name")
	}
	p.RestoreInfo = &versionInfo{Time: b.keys.now(), Version: p.LatestVersion}
	if err := b.keys.replace(ctx, req.Storage, p, d.Bool("force")); err != nil {
		return nil, badRequest(err)
	}
	return nil, nil
}

// decodeBackup parses a backup (Coffer's or Vault's) into a ready policy.
func decodeBackup(backup string) (*policy, error) {
	raw, err := base64.StdEncoding.DecodeString(backup)
	if err != nil {
		return nil, userErrorf("failed to base64-decode backup: %v", err)
	}
	var bd backupData
	if err := json.Unmarshal(raw, &bd); err != nil {
		return nil, userErrorf("failed to decode backup: %v", err)
	}
	p := bd.Policy
	if p == nil {
		return nil, userErrorf("backup data does not contain a valid policy")
	}
	if p.Keys == nil {
		p.Keys = map[string]*keyEntry{}
	}
	if bd.ArchivedKeys != nil {
		for i := range bd.ArchivedKeys.Keys {
			v := i + p.MinAvailableVersion
			if k := strconv.Itoa(v); v >= 1 && v <= p.LatestVersion && p.Keys[k] == nil {
				e := bd.ArchivedKeys.Keys[i]
				p.Keys[k] = &e
			}
		}
	}
	if p.MinDecryptionVersion == 0 {
		p.MinDecryptionVersion = 1
	}
	if p.MinAvailableVersion < 0 || p.LatestVersion < max(1, p.MinAvailableVersion) {
		return nil, userErrorf("backup data has invalid key versions")
	}
	lo := max(1, p.MinAvailableVersion)
	for k := range p.Keys {
		if v, err := strconv.Atoi(k); err != nil || v < lo || v > p.LatestVersion {
			return nil, userErrorf("backup data has invalid key version %q", k)
		}
	}
	if len(p.Keys) != p.LatestVersion-lo+1 {
		return nil, userErrorf("backup data is missing key versions")
	}
	if p.Derived && p.KDF != kdfHKDFSHA256 {
		return nil, userErrorf("backup uses key derivation mode %d, which is not supported", p.KDF)
	}
	p.ArchiveVersion = p.LatestVersion
	if err := p.prepare(); err != nil {
		return nil, userErrorf("invalid backup: %v", err)
	}
	for _, e := range p.Keys {
		if e.CreationTime.IsZero() {
			e.CreationTime = time.Unix(e.DeprecatedCreationTime, 0)
		}
	}
	return p, nil
}
