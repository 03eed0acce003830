package transit

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const defaultHash = "sha2-256"

// signResult is one entry of a sign batch_results.
type signResult struct {
	Signature  string `json:"signature,omitempty"`
	KeyVersion int    `json:"key_version"`
	PublicKey  []byte `json:"publickey,omitempty"`
	Error      string `json:"error,omitempty"`
	Reference  string `json:"reference"`
}

// verifyResult is one entry of a verify batch_results.
type verifyResult struct {
	Valid     bool   `json:"valid"`
	Error     string `json:"error,omitempty"`
	Reference string `json:"reference"`
}

func signFields() framework.Fields {
	return framework.Fields{
		"name":    nameField,
		"input":   {Type: framework.TypeString, Description: "Base64 input data."},
		"context": {Type: framework.TypeString, Description: "Base64 context for key derivation; required for derived ed25519 keys."},
		"hash_algorithm": {Type: framework.TypeString, Default: defaultHash,
			Description: "Hash algorithm: sha1, sha2-224, sha2-256 (default), sha2-384, sha2-512, sha3-224, sha3-256, sha3-384, sha3-512 or none."},
		"algorithm":    {Type: framework.TypeString, Default: defaultHash, Description: `Deprecated: use "hash_algorithm".`},
		"urlalgorithm": {Type: framework.TypeString, Description: "Hash algorithm given in the URL."},
		"prehashed":    {Type: framework.TypeBool, Description: "The input is already a digest made with hash_algorithm."},
		"signature_algorithm": {Type: framework.TypeString,
			Description: "RSA signature algorithm: pss (default) or pkcs1v15."},
		"marshaling_algorithm": {Type: framework.TypeString, Default: "asn1",
			Description: "Signature encoding: asn1 (default) or jws (raw r||s for ECDSA, URL-safe base64)."},
		"salt_length": {Type: framework.TypeString, Default: "auto",
			Description: "RSA-PSS salt length: auto (default), hash, or a number of bytes."},
		"batch_input": {Type: framework.TypeSlice, Description: "List of items to process in one request."},
	}
}

func (b *backend) pathSign() *framework.Path {
	f := signFields()
	f["key_version"] = &framework.FieldSchema{Type: framework.TypeInt, Description: "Key version to sign with; 0 for the latest."}
	return &framework.Path{
		Pattern:  "sign/" + framework.GenericNameRegex("name") + framework.OptionalParamRegex("urlalgorithm"),
		Fields:   f,
		Ops:      framework.Ops{logical.UpdateOperation: b.sign},
		Synopsis: "Sign input data, or a batch of inputs, with a named key.",
	}
}

func (b *backend) pathVerify() *framework.Path {
	f := signFields()
	f["signature"] = &framework.FieldSchema{Type: framework.TypeString, Description: "Signature returned by sign."}
	f["hmac"] = &framework.FieldSchema{Type: framework.TypeString, Description: "HMAC returned by hmac."}
	return &framework.Path{
		Pattern:  "verify/" + framework.GenericNameRegex("name") + framework.OptionalParamRegex("urlalgorithm"),
		Fields:   f,
		Ops:      framework.Ops{logical.UpdateOperation: b.verify},
		Synopsis: "Verify a signature or HMAC of input data made with a named key.",
	}
}

// signingOptions reads the hash, marshaling, signature and salt options.
func signingOptions(d *framework.FieldData) (signOptions, error) {
	var o signOptions
	name := d.String("urlalgorithm")
	if name == "" {
		name = d.String("hash_algorithm")
		if _, set := d.GetOk("hash_algorithm"); !set {
			if alg, ok := d.GetOk("algorithm"); ok {
				name = alg.(string)
			}
		}
	}
	if name == "" {
		name = defaultHash
	}
	h, err := lookupHash("hash_algorithm", name)
	if err != nil {
		return o, badRequest(err)
	}
	o.hash = h
	switch m := d.String("marshaling_algorithm"); m {
	case "asn1":
	case "jws":
		o.jws = true
	default:
		return o, logical.InvalidRequest("invalid marshaling type %q", m)
	}
	o.prehashed = d.Bool("prehashed")
	o.sigAlgorithm = d.String("signature_algorithm")
	switch o.sigAlgorithm {
	case "", "pss", "pkcs1v15":
	default:
		return o, logical.InvalidRequest("invalid signature_algorithm %q; accepted values are pss and pkcs1v15", o.sigAlgorithm)
	}
	switch s := strings.ToLower(d.String("salt_length")); s {
	case "auto":
		o.saltLength = rsa.PSSSaltLengthAuto
	case "hash":
		o.saltLength = rsa.PSSSaltLengthEqualsHash
	default:
		n, err := strconv.Atoi(s)
		if err != nil {
			return o, logical.InvalidRequest("salt length neither 'auto', 'hash', nor an int: %s", s)
		}
		if n < rsa.PSSSaltLengthEqualsHash {
			return o, logical.InvalidRequest("salt length is invalid: %d", n)
		}
		o.saltLength = n
	}
	if o.hash.crypto == 0 && (!o.prehashed || o.sigAlgorithm != "pkcs1v15") {
		return o, logical.InvalidRequest("hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15")
	}
	return o, nil
}

// inputItems returns batch_input, or the single request as one item.
func inputItems(d *framework.FieldData, fields ...string) ([]map[string]string, bool, error) {
	if raw := d.Raw["batch_input"]; raw != nil {
		items, err := stringItems(raw)
		return items, false, err
	}
	it := map[string]string{}
	for _, f := range fields {
		if v, ok := d.GetOk(f); ok {
			it[f] = v.(string)
		}
	}
	return []map[string]string{it}, true, nil
}

func (b *backend) sign(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	o, err := signingOptions(d)
	if err != nil {
		return nil, err
	}
	items, single, err := inputItems(d, "input", "context")
	if err != nil {
		return nil, err
	}
	if single {
		// A missing input signs the empty string, as Vault does.
		items[0]["input"] = d.String("input")
	}
	p, release, err := b.keys.acquire(ctx, req.Storage, d.String("name"), false)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("signing key not found")
	}
	defer release()
	if !p.Type.signingSupported() {
		return nil, logical.InvalidRequest("key type %v does not support signing", p.Type)
	}
	ver := d.Int("key_version")
	results := make([]signResult, len(items))
	for i, it := range items {
		results[i].Reference = it["reference"]
		raw, has := it["input"]
		if !has {
			results[i].Error = "missing input"
			continue
		}
		input, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			results[i].Error = "unable to decode input as base64: " + err.Error()
			continue
		}
		context, err := decodeB64("context", it["context"])
		if err == nil {
			results[i].Signature, results[i].PublicKey, results[i].KeyVersion, err = p.sign(b.rand, ver, context, input, o)
		}
		if err != nil {
			results[i].Error = err.Error()
		}
	}
	if !single {
		return &logical.Response{Data: map[string]interface{}{"batch_results": results}}, nil
	}
	if results[0].Error != "" {
		return nil, logical.InvalidRequest("%s", results[0].Error)
	}
	data := map[string]interface{}{"signature": results[0].Signature, "key_version": results[0].KeyVersion}
	if len(results[0].PublicKey) > 0 {
		data["public_key"] = results[0].PublicKey
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) verify(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	items, single, err := inputItems(d, "input", "context", "signature", "hmac")
	if err != nil {
		return nil, err
	}
	if single {
		items[0]["input"] = d.String("input")
	}
	var sigs, hmacs, missing bool
	for _, it := range items {
		_, s := it["signature"]
		_, h := it["hmac"]
		sigs, hmacs, missing = sigs || s, hmacs || h, missing || (!s && !h)
		if s && h && single {
			return nil, logical.InvalidRequest("provide one of 'signature' or 'hmac'")
		}
	}
	switch {
	case single && !sigs && !hmacs:
		return nil, logical.InvalidRequest("missing 'signature' or 'hmac' were given to verify")
	case sigs && hmacs:
		return nil, logical.InvalidRequest("elements of batch_input must all provide either 'signature' or 'hmac'")
	case missing && sigs:
		return nil, logical.InvalidRequest("some elements of batch_input are missing 'signature'")
	case missing && hmacs:
		return nil, logical.InvalidRequest("some elements of batch_input are missing 'hmac'")
	case !sigs && !hmacs:
		return nil, logical.InvalidRequest("no batch_input elements have 'signature' or 'hmac'")
	case hmacs:
		return b.verifyHMAC(ctx, req, d, items, single)
	}
	o, err := signingOptions(d)
	if err != nil {
		return nil, err
	}
	p, release, err := b.keys.acquire(ctx, req.Storage, d.String("name"), false)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("signature verification key not found")
	}
	defer release()
	if !p.Type.signingSupported() {
		return nil, logical.InvalidRequest("key type %v does not support verification", p.Type)
	}
	results := make([]verifyResult, len(items))
	for i, it := range items {
		results[i].Reference = it["reference"]
		raw, has := it["input"]
		if !has {
			results[i].Error = "missing input"
			continue
		}
		input, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			results[i].Error = "unable to decode input as base64: " + err.Error()
			continue
		}
		context, err := decodeB64("context", it["context"])
		if err == nil {
			results[i].Valid, err = p.verify(context, input, it["signature"], o)
		}
		if err != nil {
			results[i].Error = err.Error()
		}
	}
	if !single {
		return &logical.Response{Data: map[string]interface{}{"batch_results": results}}, nil
	}
	if results[0].Error != "" {
		return nil, logical.InvalidRequest("%s", results[0].Error)
	}
	return &logical.Response{Data: map[string]interface{}{"valid": results[0].Valid}}, nil
}
