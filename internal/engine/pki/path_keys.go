package pki

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) keyPaths() []*framework.Path {
	keyRef := framework.Fields{
		"key_ref":  str(`Key ID, name, or "default".`),
		"key_name": str("New name of the key."),
	}
	return []*framework.Path{{
		Pattern:  "keys/?",
		Ops:      framework.Ops{logical.ListOperation: b.listKeys},
		Synopsis: "List the keys held by the mount.",
	}, {
		Pattern: "key/" + framework.GenericNameRegex("key_ref"),
		Fields:  keyRef,
		Ops: framework.Ops{
			logical.ReadOperation:   b.readKey,
			logical.UpdateOperation: b.renameKey,
			logical.DeleteOperation: b.deleteKey,
		},
		Synopsis: "Read, rename or delete a key.",
	}, {
		Pattern: "keys/generate/" + framework.GenericNameRegex("exported"),
		Fields: merge(caFields(), framework.Fields{
			"exported": str(`"internal", "exported" or "kms".`),
		}),
		Ops:      framework.Ops{logical.UpdateOperation: b.generateKeyPath},
		Synopsis: "Generate a key without a certificate.",
	}, {
		Pattern: "keys/import",
		Fields: framework.Fields{
			"pem_bundle": str("PEM private key."),
			"key_name":   str("Name of the key."),
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.importKeyPath},
		Synopsis: "Import a private key.",
	}, {
		Pattern:  "config/keys",
		Fields:   framework.Fields{"default": str("Key to use when none is named.")},
		Ops:      framework.Ops{logical.ReadOperation: b.readKeysConfig, logical.UpdateOperation: b.writeKeysConfig},
		Synopsis: "Read or set the default key.",
	}}
}

func (b *backend) listKeys(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := newStore(ctx, req.Storage).allKeys()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(keys))
	info := map[string]interface{}{}
	for _, k := range keys {
		ids = append(ids, k.ID)
		info[k.ID] = map[string]interface{}{"key_name": k.Name}
	}
	return framework.ListResponseWithInfo(ids, info), nil
}

func (b *backend) keyByRef(st *store, ref string) (*keyEntry, error) {
	id, err := st.resolveKey(ref)
	if err != nil {
		return nil, refError(err)
	}
	k, err := st.key(id)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, logical.InvalidRequest("unable to find PKI key for reference: %s", ref)
	}
	return k, nil
}

func keyData(k *keyEntry) (map[string]interface{}, error) {
	s, err := k.signer()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(s.Public())
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(skid))
	for i, c := range skid {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return map[string]interface{}{
		"key_id": k.ID, "key_name": k.Name, "key_type": k.Type, "subject_key_id": strings.Join(parts, ":"),
	}, nil
}

func (b *backend) readKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	k, err := b.keyByRef(newStore(ctx, req.Storage), d.String("key_ref"))
	if err != nil {
		return nil, err
	}
	data, err := keyData(k)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) renameKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	k, err := b.keyByRef(st, d.String("key_ref"))
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(d.String("key_name"))
	if err := checkName("key", name, k.ID, st.resolveKey); err != nil {
		return nil, err
	}
	k.Name = name
	if err := st.put(keyPrefix+k.ID, k); err != nil {
		return nil, err
	}
	data, err := keyData(k)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) deleteKey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	id, err := st.resolveKey(d.String("key_ref"))
	if err != nil {
		return nil, nil // deleting an unknown key succeeds, as in Vault
	}
	issuers, err := st.allIssuers()
	if err != nil {
		return nil, err
	}
	for _, e := range issuers {
		if e.KeyID == id {
			return nil, logical.InvalidRequest("unable to delete key %s: it is in use by issuer %s", id, e.ID)
		}
	}
	if err := req.Storage.Delete(ctx, keyPrefix+id); err != nil {
		return nil, fmt.Errorf("delete key: %w", err)
	}
	cfg, err := st.keysConfig()
	if err != nil {
		return nil, err
	}
	resp := &logical.Response{}
	if cfg.DefaultKeyID == id {
		cfg.DefaultKeyID = ""
		if err := st.put(keysConfigPath, cfg); err != nil {
			return nil, err
		}
		resp.AddWarning(fmt.Sprintf("Deleted key %s; this was configured as the default key. Operations without an explicit key will not work until a new default is configured.", id))
	}
	return resp, nil
}

func (b *backend) generateKeyPath(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if d.String("exported") == "existing" {
		return nil, logical.InvalidRequest(`the "exported" path parameter must be "internal", "exported" or "kms"`)
	}
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	name := strings.TrimSpace(d.String("key_name"))
	if err := checkName("key", name, "", st.resolveKey); err != nil {
		return nil, err
	}
	k, exported, err := b.caKey(st, d)
	if err != nil {
		return nil, err
	}
	e, _, err := st.importKey(k, name)
	if err != nil {
		return nil, err
	}
	data := map[string]interface{}{"key_id": e.ID, "key_name": e.Name, "key_type": e.Type}
	if exported {
		data["private_key"] = e.PrivateKey
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) importKeyPath(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	name := strings.TrimSpace(d.String("key_name"))
	if err := checkName("key", name, "", st.resolveKey); err != nil {
		return nil, err
	}
	bundle, err := parsePEMBundle(d.String("pem_bundle"))
	if err != nil {
		return nil, err
	}
	if len(bundle.keys) != 1 || len(bundle.certs) != 0 {
		return nil, logical.InvalidRequest("expected exactly one private key in pem_bundle, found %d keys and %d certificates", len(bundle.keys), len(bundle.certs))
	}
	e, existing, err := st.importKey(bundle.keys[0], name)
	if err != nil {
		return nil, err
	}
	resp := &logical.Response{Data: map[string]interface{}{"key_id": e.ID, "key_name": e.Name, "key_type": e.Type}}
	if existing {
		resp.AddWarning("Key already imported; use /key/:key_ref to rename it.")
	}
	return resp, nil
}

func (b *backend) readKeysConfig(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	cfg, err := newStore(ctx, req.Storage).keysConfig()
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"default": cfg.DefaultKeyID}}, nil
}

func (b *backend) writeKeysConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	k, err := b.keyByRef(st, d.String("default"))
	if err != nil {
		return nil, err
	}
	cfg := &keysConfig{DefaultKeyID: k.ID}
	if err := st.put(keysConfigPath, cfg); err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"default": cfg.DefaultKeyID}}, nil
}
