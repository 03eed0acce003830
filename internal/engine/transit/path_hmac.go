package transit

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// hmacResult is one entry of an hmac (or hmac verify) batch_results.
type hmacResult struct {
	HMAC      string `json:"hmac,omitempty"`
	Valid     bool   `json:"valid,omitempty"`
	Error     string `json:"error,omitempty"`
	Reference string `json:"reference"`
}

func (b *backend) pathHMAC() *framework.Path {
	return &framework.Path{
		Pattern: "hmac/" + framework.GenericNameRegex("name") + framework.OptionalParamRegex("urlalgorithm"),
		Fields: framework.Fields{
			"name":  nameField,
			"input": {Type: framework.TypeString, Description: "Base64 input data."},
			"algorithm": {Type: framework.TypeString, Default: defaultHash,
				Description: "Hash algorithm: sha2-224, sha2-256 (default), sha2-384, sha2-512, sha3-224, sha3-256, sha3-384 or sha3-512."},
			"urlalgorithm": {Type: framework.TypeString, Description: "Hash algorithm given in the URL."},
			"key_version":  {Type: framework.TypeInt, Description: "Key version to use; 0 for the latest."},
			"batch_input":  {Type: framework.TypeSlice, Description: "List of items to process in one request."},
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.hmac},
		Synopsis: "Generate an HMAC of input data with a named key.",
	}
}

// hmacHash resolves the hash of an HMAC; "none" has no HMAC.
func hmacHash(name string) (hashAlgorithm, error) {
	h, err := lookupHash("algorithm", name)
	if err == nil && h.newFn == nil {
		err = userErrorf("unsupported algorithm %q for HMAC", name)
	}
	return h, badRequest(err)
}

func (b *backend) hmac(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	alg := d.String("urlalgorithm")
	if alg == "" {
		alg = d.String("algorithm")
	}
	h, err := hmacHash(alg)
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

	ver := d.Int("key_version")
	switch {
	case ver == 0:
		ver = p.LatestVersion
	case p.MinEncryptionVersion > 0 && ver < p.MinEncryptionVersion:
		return nil, logical.InvalidRequest("cannot generate HMAC: version is too old (disallowed by policy)")
	}
	key, err := p.hmacKey(ver)
	if err != nil {
		return nil, badRequest(err)
	}
	var items []map[string]string
	single := d.Raw["batch_input"] == nil
	if single {
		in, ok := d.GetOk("input")
		if !ok {
			return nil, logical.InvalidRequest("missing input for HMAC")
		}
		items = []map[string]string{{"input": in.(string)}}
	} else if items, err = stringItems(d.Raw["batch_input"]); err != nil {
		return nil, err
	}
	prefix := p.versionPrefix(ver)
	results := make([]hmacResult, len(items))
	for i, it := range items {
		results[i].Reference = it["reference"]
		raw, has := it["input"]
		if !has {
			results[i].Error = "missing input for HMAC"
			continue
		}
		input, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			results[i].Error = "unable to decode input as base64: " + err.Error()
			continue
		}
		mac := hmac.New(h.newFn, key)
		mac.Write(input)
		results[i].HMAC = prefix + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	if !single {
		return &logical.Response{Data: map[string]interface{}{"batch_results": results}}, nil
	}
	if results[0].Error != "" {
		return nil, logical.InvalidRequest("%s", results[0].Error)
	}
	return &logical.Response{Data: map[string]interface{}{"hmac": results[0].HMAC}}, nil
}

// verifyHMAC checks "vault:v<N>:<base64>" HMACs for the verify path.
func (b *backend) verifyHMAC(ctx context.Context, req *logical.Request, d *framework.FieldData, items []map[string]string, single bool) (*logical.Response, error) {
	alg := d.String("urlalgorithm")
	if alg == "" {
		alg = d.String("hash_algorithm")
		if _, set := d.GetOk("hash_algorithm"); !set {
			if a, ok := d.GetOk("algorithm"); ok {
				alg = a.(string)
			}
		}
	}
	h, err := hmacHash(alg)
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

	results := make([]hmacResult, len(items))
	for i, it := range items {
		results[i].Reference = it["reference"]
		results[i].Valid, err = p.checkHMAC(h, it)
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

func (p *policy) checkHMAC(h hashAlgorithm, it map[string]string) (bool, error) {
	raw, has := it["input"]
	if !has {
		return false, userErrorf("missing input")
	}
	input, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return false, userErrorf("unable to decode input as base64: %v", err)
	}
	value, has := it["hmac"]
	if !has {
		return false, userErrorf("missing hmac")
	}
	rest, ok := strings.CutPrefix(value, "vault:v")
	if !ok {
		return false, userErrorf("invalid HMAC to verify: no prefix")
	}
	verStr, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return false, userErrorf("invalid HMAC: wrong number of fields")
	}
	ver, err := strconv.Atoi(verStr)
	if err != nil {
		return false, userErrorf("invalid HMAC: version number could not be decoded")
	}
	want, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false, userErrorf("unable to decode verification HMAC as base64: %v", err)
	}
	if ver > p.LatestVersion {
		return false, userErrorf("invalid HMAC: version is too new")
	}
	if p.MinDecryptionVersion > 0 && ver < p.MinDecryptionVersion {
		return false, userErrorf("cannot verify HMAC: version is too old (disallowed by policy)")
	}
	key, err := p.hmacKey(ver)
	if err != nil {
		return false, err
	}
	mac := hmac.New(h.newFn, key)
	mac.Write(input)
	return hmac.Equal(mac.Sum(nil), want), nil
}
