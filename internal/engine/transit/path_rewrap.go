package transit

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) pathRewrap() *framework.Path {
	f := cryptFields()
	delete(f, "partial_failure_response_code")
	f["ciphertext"] = &framework.FieldSchema{Type: framework.TypeString, Description: "Ciphertext to re-encrypt with the latest (or key_version) version."}
	f["key_version"] = &framework.FieldSchema{Type: framework.TypeInt, Description: "Key version to re-encrypt with; 0 for the latest."}
	f["decrypt_padding_scheme"] = &framework.FieldSchema{Type: framework.TypeString, Description: "RSA padding of the given ciphertext: oaep (default) or pkcs1v15."}
	f["encrypt_padding_scheme"] = &framework.FieldSchema{Type: framework.TypeString, Description: "RSA padding of the new ciphertext: oaep (default) or pkcs1v15."}
	return &framework.Path{
		Pattern:  "rewrap/" + framework.GenericNameRegex("name"),
		Fields:   f,
		Ops:      framework.Ops{logical.UpdateOperation: b.rewrap},
		Synopsis: "Re-encrypt ciphertext with the latest version of a named key without revealing the plaintext.",
	}
}

func (b *backend) rewrap(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
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

	results := make([]encryptResult, len(items))
	for i := range items {
		it := &items[i]
		results[i].Reference = it.Reference
		pt, err := decryptItem(p, it)
		if err == nil {
			var o cryptOptions
			if o, err = itemOptions(p, it, it.EncryptPaddingScheme, "encrypt_padding_scheme"); err == nil {
				results[i].Ciphertext, results[i].KeyVersion, err = p.encrypt(b.rand, it.KeyVersion, pt, o)
			}
		}
		if err != nil {
			if !isUserError(err) {
				return nil, fmt.Errorf("rewrap: %w", err)
			}
			results[i].Error = err.Error()
		}
	}
	if single {
		if results[0].Error != "" {
			return nil, logical.InvalidRequest("%s", results[0].Error)
		}
		return &logical.Response{Data: map[string]interface{}{
			"ciphertext": results[0].Ciphertext, "key_version": results[0].KeyVersion,
		}}, nil
	}
	return &logical.Response{Data: map[string]interface{}{"batch_results": results}}, nil
}

func (b *backend) pathDatakey() *framework.Path {
	return &framework.Path{
		Pattern: "datakey/" + framework.GenericNameRegex("plaintext") + "/" + framework.GenericNameRegex("name"),
		Fields: framework.Fields{
			"name": nameField,
			"plaintext": {Type: framework.TypeString,
				Description: `"plaintext" returns the data key in plaintext and encrypted; "wrapped" only encrypted.`},
			"context":        {Type: framework.TypeString, Description: "Base64 context for key derivation; required for derived keys."},
			"nonce":          {Type: framework.TypeString, Description: "Base64 nonce; only for convergent keys of the oldest scheme."},
			"bits":           {Type: framework.TypeInt, Default: 256, Description: "Data key length in bits: 128, 256 (default) or 512."},
			"key_version":    {Type: framework.TypeInt, Description: "Key version to encrypt the data key with; 0 for the latest."},
			"padding_scheme": {Type: framework.TypeString, Description: "RSA padding: oaep (default) or pkcs1v15."},
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.datakey},
		Synopsis: "Generate a data key encrypted with a named key.",
	}
}

func (b *backend) datakey(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	it := singleItem(d)
	if _, err := decodeB64("context", it.Context); err != nil {
		return nil, badRequest(err)
	}
	if _, err := decodeB64("nonce", it.Nonce); err != nil {
		return nil, badRequest(err)
	}
	bits := d.Int("bits")
	if bits != 128 && bits != 256 && bits != 512 {
		return nil, logical.InvalidRequest("invalid bit length")
	}
	var withPlaintext bool
	switch d.String("plaintext") {
	case "plaintext":
		withPlaintext = true
	case "wrapped":
	default:
		return nil, logical.InvalidRequest("Invalid path, must be 'plaintext' or 'wrapped'")
	}
	p, release, err := b.keys.acquire(ctx, req.Storage, d.String("name"), false)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("encryption key not found")
	}
	defer release()

	o, err := itemOptions(p, &it, it.PaddingScheme, "padding_scheme")
	if err != nil {
		return nil, badRequest(err)
	}
	key := make([]byte, bits/8)
	if _, err := io.ReadFull(b.rand, key); err != nil {
		return nil, fmt.Errorf("generate data key: %w", err)
	}
	ct, ver, err := p.encrypt(b.rand, it.KeyVersion, key, o)
	if err != nil {
		return nil, badRequest(err)
	}
	data := map[string]interface{}{"ciphertext": ct, "key_version": ver}
	if withPlaintext {
		data["plaintext"] = base64.StdEncoding.EncodeToString(key)
	}
	return &logical.Response{Data: data}, nil
}
