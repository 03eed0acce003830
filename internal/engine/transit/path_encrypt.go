package transit

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// encryptResult is one entry of an encrypt or rewrap batch_results.
type encryptResult struct {
	Ciphertext string `json:"ciphertext,omitempty"`
	KeyVersion int    `json:"key_version,omitempty"`
	Error      string `json:"error,omitempty"`
	Reference  string `json:"reference"`
}

// decryptResult is one entry of a decrypt batch_results.
type decryptResult struct {
	Plaintext string `json:"plaintext"`
	Error     string `json:"error,omitempty"`
	Reference string `json:"reference"`
}

func cryptFields() framework.Fields {
	return framework.Fields{
		"name":            nameField,
		"context":         {Type: framework.TypeString, Description: "Base64 context for key derivation; required for derived keys."},
		"nonce":           {Type: framework.TypeString, Description: "Base64 nonce; only for convergent keys of the oldest scheme."},
		"associated_data": {Type: framework.TypeString, Description: "Base64 associated data authenticated with AEAD key types."},
		"batch_input":     {Type: framework.TypeSlice, Description: "List of items to process in one request; other item fields are then ignored."},
		"partial_failure_response_code": {Type: framework.TypeInt,
			Description: "HTTP status to return when some batch items fail and others succeed (default 400)."},
	}
}

func (b *backend) pathEncrypt() *framework.Path {
	f := cryptFields()
	f["plaintext"] = &framework.FieldSchema{Type: framework.TypeString, Sensitive: true, Description: "Base64 plaintext to encrypt."}
	f["key_version"] = &framework.FieldSchema{Type: framework.TypeInt, Description: "Key version to encrypt with; 0 for the latest."}
	f["padding_scheme"] = &framework.FieldSchema{Type: framework.TypeString, Description: "RSA padding: oaep (default) or pkcs1v15."}
	f["type"] = &framework.FieldSchema{Type: framework.TypeString, Default: "aes256-gcm96", Description: "Type of the key created when it does not exist."}
	f["convergent_encryption"] = &framework.FieldSchema{Type: framework.TypeBool, Description: "Make the key created when it does not exist convergent."}
	return &framework.Path{
		Pattern: "encrypt/" + framework.GenericNameRegex("name"),
		Fields:  f,
		Ops: framework.Ops{
			logical.CreateOperation: b.encrypt,
			logical.UpdateOperation: b.encrypt,
		},
		Exists:   b.keyExists,
		Synopsis: "Encrypt a plaintext, or a batch of them, with a named key.",
	}
}

// keyExists lets the core tell create (the key is made on first encrypt)
// from update.
func (b *backend) keyExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	h, err := b.keys.handle(ctx, req.Storage, d.String("name"))
	return h != nil, err
}

// singleItem makes the request's own fields into a one-item batch. Fields
// a path does not declare read as empty.
func singleItem(d *framework.FieldData) batchItem {
	// given reports whether a declared field must be decoded: it was sent
	// or has a default. Most requests send none of these fields, so this
	// spares the decoding of each.
	given := func(k string) bool {
		s, ok := d.Schema[k]
		if !ok {
			return false
		}
		_, sent := d.Raw[k]
		return sent || s.Default != nil
	}
	str := func(k string) string {
		if !given(k) {
			return ""
		}
		return d.String(k)
	}
	it := batchItem{
		Context: str("context"), Nonce: str("nonce"), AssociatedData: str("associated_data"),
		PaddingScheme:        str("padding_scheme"),
		EncryptPaddingScheme: str("encrypt_padding_scheme"),
		DecryptPaddingScheme: str("decrypt_padding_scheme"),
	}
	if given("key_version") {
		it.KeyVersion = d.Int("key_version")
	}
	return it
}

func (b *backend) encrypt(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	rawBatch := d.Raw["batch_input"]
	if rawBatch == nil {
		return b.encryptOne(ctx, req, d)
	}
	items, err := decodeBatch(rawBatch, "plaintext")
	if err != nil {
		return nil, err
	}
	if err := contextConsistent(items); err != nil {
		return nil, err
	}
	p, release, created, err := b.encryptionKey(ctx, req, d, d.String("name"), items[0].Context != "")
	if err != nil {
		return nil, err
	}
	defer release()

	results := make([]encryptResult, len(items))
	var ok, userErr, internalErr bool
	for i := range items {
		ct, ver, err := b.encryptItem(p, &items[i])
		switch {
		case err == nil:
			ok = true
			results[i] = encryptResult{Ciphertext: ct, KeyVersion: ver}
		case isUserError(err):
			userErr = true
			results[i].Error = err.Error()
		default:
			internalErr = true
			results[i].Error = err.Error()
		}
		results[i].Reference = items[i].Reference
	}
	resp := &logical.Response{Data: map[string]interface{}{"batch_results": results}}
	addUpsertWarning(req, resp, created)
	return batchStatus(req, d, resp, ok, userErr, internalErr)
}

// encryptOne serves an encrypt request without batch_input, the common
// case, without the batch bookkeeping.
func (b *backend) encryptOne(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	pt, ok := d.GetOk("plaintext")
	if !ok {
		return nil, logical.InvalidRequest("missing plaintext to encrypt")
	}
	it := singleItem(d)
	it.Plaintext = pt.(string)
	p, release, created, err := b.encryptionKey(ctx, req, d, d.String("name"), it.Context != "")
	if err != nil {
		return nil, err
	}
	defer release()
	ct, ver, err := b.encryptItem(p, &it)
	if err != nil {
		if isUserError(err) {
			return nil, logical.InvalidRequest("%s", err.Error())
		}
		return nil, fmt.Errorf("encrypt: %s", err.Error())
	}
	resp := &logical.Response{Data: map[string]interface{}{"ciphertext": ct, "key_version": ver}}
	addUpsertWarning(req, resp, created)
	return resp, nil
}

// addUpsertWarning tells a caller who asked to create the key (create
// capability, missing key at the existence check) that someone else
// created it in between.
func addUpsertWarning(req *logical.Request, resp *logical.Response, created bool) {
	if req.Operation == logical.CreateOperation && !created {
		resp.AddWarning("Attempted creation of the key during the encrypt operation, but it was created beforehand")
	}
}

// encryptionKey returns the named key read-locked, creating it first on a
// create operation (unless config/keys disables upsert).
func (b *backend) encryptionKey(ctx context.Context, req *logical.Request, d *framework.FieldData, name string, derived bool) (*policy, func(), bool, error) {
	created := false
	if req.Operation == logical.CreateOperation {
		convergent := d.Bool("convergent_encryption")
		if convergent && !derived {
			return nil, nil, false, logical.InvalidRequest("convergent encryption requires derivation to be enabled, so context is required")
		}
		cfg, err := loadMountConfig(ctx, req.Storage)
		if err != nil {
			return nil, nil, false, err
		}
		if !cfg.DisableUpsert {
			t, ok := parseKeyType(d.String("type"))
			switch {
			case ok && t.isECDSA():
				return nil, nil, false, logical.InvalidRequest("key type %v not supported for this operation", d.String("type"))
			case !ok || !t.encryptionSupported():
				return nil, nil, false, logical.InvalidRequest("unknown key type %v", d.String("type"))
			}
			np := &policy{Name: name, Type: t, Derived: derived}
			if err := checkCreate(np, convergent); err != nil {
				return nil, nil, false, err
			}
			if _, created, err = b.keys.create(ctx, req.Storage, np); err != nil {
				return nil, nil, false, badRequest(err)
			}
		}
	}
	p, release, err := b.keys.acquire(ctx, req.Storage, name, false)
	if err != nil {
		return nil, nil, false, err
	}
	if p == nil {
		return nil, nil, false, logical.InvalidRequest("encryption key not found")
	}
	return p, release, created, nil
}

// itemOptions decodes an item's base64 fields and checks them against the
// key; paddingField names the padding parameter in errors.
func itemOptions(p *policy, it *batchItem, padding, paddingField string) (cryptOptions, error) {
	var o cryptOptions
	var err error
	if o.context, err = decodeB64("context", it.Context); err != nil {
		return o, err
	}
	if o.nonce, err = decodeB64("nonce", it.Nonce); err != nil {
		return o, err
	}
	if len(o.nonce) > 0 && !(p.Type.symmetric() && p.ConvergentEncryption && p.ConvergentVersion == 1) {
		return o, userErrorf("provided nonce not allowed for this key")
	}
	if it.AssociatedData != "" {
		if !p.Type.associatedDataSupported() {
			return o, userErrorf("associated_data provided for non-AEAD cipher suite %v", p.Type)
		}
		if o.aad, err = decodeB64("associated_data", it.AssociatedData); err != nil {
			return o, err
		}
	}
	if padding != "" {
		if o.padding, err = parsePadding(paddingField, p.Type, padding); err != nil {
			return o, err
		}
	}
	return o, nil
}

func (b *backend) encryptItem(p *policy, it *batchItem) (string, int, error) {
	pt, err := base64.StdEncoding.DecodeString(it.Plaintext)
	if err != nil {
		return "", 0, userErrorf("failed to base64-decode plaintext: %v", err)
	}
	o, err := itemOptions(p, it, it.PaddingScheme, "padding_scheme")
	if err != nil {
		return "", 0, err
	}
	return p.encrypt(b.rand, it.KeyVersion, pt, o)
}

func (b *backend) pathDecrypt() *framework.Path {
	f := cryptFields()
	f["ciphertext"] = &framework.FieldSchema{Type: framework.TypeString, Description: "Ciphertext to decrypt, as encrypt returned it."}
	f["padding_scheme"] = &framework.FieldSchema{Type: framework.TypeString, Description: "RSA padding: oaep (default) or pkcs1v15."}
	return &framework.Path{
		Pattern:  "decrypt/" + framework.GenericNameRegex("name"),
		Fields:   f,
		Ops:      framework.Ops{logical.UpdateOperation: b.decrypt},
		Synopsis: "Decrypt a ciphertext, or a batch of them, with a named key.",
	}
}

func (b *backend) decrypt(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	items, single, err := ciphertextItems(d)
	if err != nil {
		return nil, err
	}
	p, release, err := b.keys.acquire(ctx, req.Storage, d.String("name"), false)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("encryption key not found")
	}
	defer release()

	results := make([]decryptResult, len(items))
	var ok, userErr, internalErr bool
	for i := range items {
		pt, err := decryptItem(p, &items[i])
		switch {
		case err == nil:
			ok = true
			results[i].Plaintext = base64.StdEncoding.EncodeToString(pt)
		case isUserError(err):
			userErr = true
			results[i].Error = err.Error()
		default:
			internalErr = true
			results[i].Error = err.Error()
		}
		results[i].Reference = items[i].Reference
	}
	if single {
		if results[0].Error != "" {
			if internalErr {
				return nil, fmt.Errorf("decrypt: %s", results[0].Error)
			}
			return nil, logical.InvalidRequest("%s", results[0].Error)
		}
		return &logical.Response{Data: map[string]interface{}{"plaintext": results[0].Plaintext}}, nil
	}
	resp := &logical.Response{Data: map[string]interface{}{"batch_results": results}}
	return batchStatus(req, d, resp, ok, userErr, internalErr)
}

// ciphertextItems reads the ciphertext(s) of decrypt and rewrap.
func ciphertextItems(d *framework.FieldData) ([]batchItem, bool, error) {
	var items []batchItem
	if raw := d.Raw["batch_input"]; raw != nil {
		var err error
		if items, err = decodeBatch(raw, "ciphertext"); err != nil {
			return nil, false, err
		}
	} else {
		ct := d.String("ciphertext")
		if ct == "" {
			return nil, false, logical.InvalidRequest("missing ciphertext to decrypt")
		}
		it := singleItem(d)
		it.Ciphertext = ct
		items = []batchItem{it}
	}
	return items, d.Raw["batch_input"] == nil, contextConsistent(items)
}

// decryptItem opens one ciphertext; the padding comes from padding_scheme
// (decrypt) or decrypt_padding_scheme (rewrap).
func decryptItem(p *policy, it *batchItem) ([]byte, error) {
	if it.Ciphertext == "" {
		return nil, userErrorf("missing ciphertext to decrypt")
	}
	padding, field := it.PaddingScheme, "padding_scheme"
	if it.DecryptPaddingScheme != "" {
		padding, field = it.DecryptPaddingScheme, "decrypt_padding_scheme"
	}
	o, err := itemOptions(p, it, padding, field)
	if err != nil {
		return nil, err
	}
	pt, _, err := p.decrypt(it.Ciphertext, o)
	return pt, err
}
