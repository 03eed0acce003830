package transit

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) pathKeysConfig() *framework.Path {
	return &framework.Path{
		Pattern: "keys/" + framework.GenericNameRegex("name") + "/config",
		Fields: framework.Fields{
			"name": nameField,
			"min_decryption_version": {Type: framework.TypeInt,
				Description: "Oldest version allowed to decrypt (and, for signing keys, to verify)."},
			"min_encryption_version": {Type: framework.TypeInt,
				Description: "Oldest version allowed to encrypt, sign or HMAC; 0 means the latest."},
			"deletion_allowed":       {Type: framework.TypeBool, Description: "Allow the key to be deleted."},
			"exportable":             {Type: framework.TypeBool, Description: "Allow export. Cannot be unset."},
			"allow_plaintext_backup": {Type: framework.TypeBool, Description: "Allow plaintext backup. Cannot be unset."},
			"auto_rotate_period": {Type: framework.TypeDurationSecond,
				Description: "Rotate the key automatically after this long; 0 disables, otherwise at least an hour."},
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.configKey},
		Synopsis: "Configure a named key.",
	}
}

func (b *backend) configKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	p, release, err := b.keys.acquire(ctx, req.Storage, name, true)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("no existing key named %s could be found", name)
	}
	defer release()

	// Work on a copy of the settings so that a rejected change leaves the
	// cached key untouched.
	next := *p
	var warning string
	if v, ok := d.GetOk("min_decryption_version"); ok {
		min := v.(int)
		if min < 0 {
			return nil, logical.InvalidRequest("min decryption version cannot be negative")
		}
		if min == 0 {
			min = 1
			warning = "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1"
		}
		if min != next.MinDecryptionVersion && min > next.LatestVersion {
			return nil, logical.InvalidRequest("cannot set min decryption version of %d, latest key version is %d", min, next.LatestVersion)
		}
		next.MinDecryptionVersion = min
	}
	if v, ok := d.GetOk("min_encryption_version"); ok {
		min := v.(int)
		if min < 0 {
			return nil, logical.InvalidRequest("min encryption version cannot be negative")
		}
		if min != next.MinEncryptionVersion && min > next.LatestVersion {
			return nil, logical.InvalidRequest("cannot set min encryption version of %d, latest key version is %d", min, next.LatestVersion)
		}
		next.MinEncryptionVersion = min
	}
	if next.MinEncryptionVersion > 0 && next.MinEncryptionVersion < next.MinDecryptionVersion {
		return nil, logical.InvalidRequest("cannot set min encryption/decryption values; min encryption version of %d must be greater than or equal to min decryption version of %d", next.MinEncryptionVersion, next.MinDecryptionVersion)
	}
	if v, ok := d.GetOk("deletion_allowed"); ok {
		next.DeletionAllowed = v.(bool)
	}
	if v, ok := d.GetOk("exportable"); ok && v.(bool) {
		next.Exportable = true
	}
	if v, ok := d.GetOk("allow_plaintext_backup"); ok && v.(bool) {
		next.AllowPlaintextBackup = true
	}
	if v, ok := d.GetOk("auto_rotate_period"); ok {
		period := time.Duration(v.(int)) * time.Second
		if period != 0 && period < time.Hour {
			return nil, logical.InvalidRequest("auto rotate period must be 0 to disable or at least an hour")
		}
		next.AutoRotatePeriod = period
	}
	if next.MinAvailableVersion > 0 {
		switch {
		case next.MinAvailableVersion > next.MinEncryptionVersion:
			return nil, logical.InvalidRequest("min encryption version should not be less than min available version")
		case next.MinAvailableVersion > next.MinDecryptionVersion:
			return nil, logical.InvalidRequest("min decryption version should not be less then min available version")
		}
	}
	if err := persist(ctx, req.Storage, &next); err != nil {
		return nil, err
	}
	*p = next
	resp, err := formatKey(p, nil)
	if err != nil {
		return nil, err
	}
	if warning != "" {
		resp.AddWarning(warning)
	}
	return resp, nil
}

func (b *backend) pathRotate() *framework.Path {
	return &framework.Path{
		Pattern:  "keys/" + framework.GenericNameRegex("name") + "/rotate",
		Fields:   framework.Fields{"name": nameField},
		Ops:      framework.Ops{logical.UpdateOperation: b.rotateKey},
		Synopsis: "Rotate a named key: new encryptions use a new version, older versions still decrypt.",
	}
}

func (b *backend) rotateKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	p, release, err := b.keys.acquire(ctx, req.Storage, d.String("name"), true)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("key not found")
	}
	defer release()
	if err := b.keys.rotate(ctx, req.Storage, p); err != nil {
		return nil, badRequest(err)
	}
	return formatKey(p, nil)
}

func (b *backend) pathTrim() *framework.Path {
	return &framework.Path{
		Pattern: "keys/" + framework.GenericNameRegex("name") + "/trim",
		Fields: framework.Fields{
			"name": nameField,
			"min_available_version": {Type: framework.TypeInt,
				Description: "Delete every version below this one, permanently. At most the lesser of min_decryption_version and min_encryption_version."},
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.trimKey},
		Synopsis: "Permanently delete old versions of a named key.",
	}
}

func (b *backend) trimKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	p, release, err := b.keys.acquire(ctx, req.Storage, d.String("name"), true)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("invalid key name")
	}
	defer release()
	raw, ok := d.GetOk("min_available_version")
	if !ok {
		return nil, logical.InvalidRequest("missing min_available_version")
	}
	min := raw.(int)
	switch {
	case min < p.MinAvailableVersion:
		return nil, logical.InvalidRequest("minimum available version cannot be decremented")
	case p.MinEncryptionVersion == 0:
		return nil, logical.InvalidRequest("minimum available version cannot be set when minimum encryption version is not set")
	case p.MinDecryptionVersion == 0:
		return nil, logical.InvalidRequest("minimum available version cannot be set when minimum decryption version is not set")
	case min > p.MinEncryptionVersion:
		return nil, logical.InvalidRequest("minimum available version cannot be greater than minmum encryption version")
	case min > p.MinDecryptionVersion:
		return nil, logical.InvalidRequest("minimum available version cannot be greater than minimum decryption version")
	case min < 0:
		return nil, logical.InvalidRequest("minimum available version cannot be negative")
	case min == 0:
		return nil, logical.InvalidRequest("minimum available version should be positive")
	}
	next := *p
	next.MinAvailableVersion, next.ArchiveMinVersion = min, min
	next.Keys = make(map[string]*keyEntry, len(p.Keys))
	for k, e := range p.Keys {
		next.Keys[k] = e
	}
	for v := range p.mat {
		if v < min {
			delete(next.Keys, fmt.Sprint(v))
		}
	}
	if err := persist(ctx, req.Storage, &next); err != nil {
		return nil, err
	}
	*p = next
	if err := p.prepare(); err != nil {
		return nil, err
	}
	return formatKey(p, nil)
}

// config/keys holds mount-wide settings; disable_upsert stops encrypt from
// creating missing keys.
const configKeysPath = "config/keys"

type mountConfig struct {
	DisableUpsert bool `json:"disable_upsert"`
}

func (b *backend) pathConfigKeys() *framework.Path {
	return &framework.Path{
		Pattern: "config/keys",
		Fields: framework.Fields{
			"disable_upsert": {Type: framework.TypeBool,
				Description: "Stop encrypt from creating keys that do not exist."},
		},
		Ops: framework.Ops{
			logical.ReadOperation:   b.readConfigKeys,
			logical.UpdateOperation: b.writeConfigKeys,
		},
		Synopsis: "Configure settings that apply to all keys of the mount.",
	}
}

func loadMountConfig(ctx context.Context, st logical.Storage) (mountConfig, error) {
	var c mountConfig
	_, err := logical.GetJSON(ctx, st, configKeysPath, &c)
	return c, err
}

func (b *backend) readConfigKeys(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	c, err := loadMountConfig(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"disable_upsert": c.DisableUpsert}}, nil
}

func (b *backend) writeConfigKeys(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	c, err := loadMountConfig(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	if v, ok := d.GetOk("disable_upsert"); ok {
		c.DisableUpsert = v.(bool)
	}
	if err := logical.PutJSON(ctx, req.Storage, configKeysPath, c); err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"disable_upsert": c.DisableUpsert}}, nil
}
