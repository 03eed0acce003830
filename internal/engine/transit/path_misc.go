package transit

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// maxRandomBytes caps one random request, as Vault does.
const maxRandomBytes = 128 * 1024

func (b *backend) pathRandom() *framework.Path {
	return &framework.Path{
		Pattern: "random(/" + framework.GenericNameRegex("source") + ")?" + framework.OptionalParamRegex("urlbytes"),
		Fields: framework.Fields{
			"urlbytes": {Type: framework.TypeString, Description: "Number of bytes, given in the URL."},
			"bytes":    {Type: framework.TypeInt, Default: 32, Description: "Number of bytes to return (default 32)."},
			"format":   {Type: framework.TypeString, Default: "base64", Description: "Output encoding: base64 (default) or hex."},
			"source": {Type: framework.TypeString, Default: "platform",
				Description: "Entropy source: platform (default) or all; seal needs entropy augmentation, which Coffer does not have."},
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.random},
		Synopsis: "Generate random bytes.",
	}
}

func (b *backend) random(_ context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	source, urlBytes := d.String("source"), d.String("urlbytes")
	n := d.Int("bytes")
	if _, set := d.Raw["source"]; set && urlBytes == "" && source != "platform" && source != "seal" && source != "all" {
		// random/<bytes>: the single URL segment is the byte count.
		v, err := strconv.Atoi(source)
		if err != nil {
			return nil, logical.InvalidRequest("error parsing url-set byte count: %v", err)
		}
		n, source = v, "platform"
	} else if urlBytes != "" {
		v, err := strconv.Atoi(urlBytes)
		if err != nil {
			return nil, logical.InvalidRequest("error parsing url-set byte count: %v", err)
		}
		n = v
	}
	if n < 1 {
		return nil, logical.InvalidRequest(`"bytes" cannot be less than 1`)
	}
	if n > maxRandomBytes {
		return nil, logical.InvalidRequest(`"bytes" should be less than %d`, maxRandomBytes)
	}
	format := d.String("format")
	if format != "hex" && format != "base64" {
		return nil, logical.InvalidRequest("unsupported encoding format %q; must be \"hex\" or \"base64\"", format)
	}
	switch source {
	case "", "platform", "all":
	case "seal":
		return nil, logical.InvalidRequest("no secondary entropy source available")
	default:
		return nil, logical.InvalidRequest("unsupported entropy source %q; must be \"platform\" or \"seal\", or \"all\"", source)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(b.rand, buf); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	out := base64.StdEncoding.EncodeToString(buf)
	if format == "hex" {
		out = hex.EncodeToString(buf)
	}
	return &logical.Response{Data: map[string]interface{}{"random_bytes": out}}, nil
}

func (b *backend) pathHash() *framework.Path {
	return &framework.Path{
		Pattern: "hash" + framework.OptionalParamRegex("urlalgorithm"),
		Fields: framework.Fields{
			"input": {Type: framework.TypeString, Description: "Base64 input data."},
			"format": {Type: framework.TypeString, Default: "hex",
				Description: "Output encoding: hex (default) or base64."},
			"algorithm": {Type: framework.TypeString, Default: defaultHash,
				Description: "Hash algorithm: sha2-224, sha2-256 (default), sha2-384, sha2-512, sha3-224, sha3-256, sha3-384 or sha3-512."},
			"urlalgorithm": {Type: framework.TypeString, Description: "Hash algorithm given in the URL."},
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.hash},
		Synopsis: "Hash input data.",
	}
}

func (b *backend) hash(_ context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	in, ok := d.GetOk("input")
	if !ok {
		return nil, logical.InvalidRequest("input missing")
	}
	alg := d.String("urlalgorithm")
	if alg == "" {
		alg = d.String("algorithm")
	}
	input, err := base64.StdEncoding.DecodeString(in.(string))
	if err != nil {
		return nil, logical.InvalidRequest("unable to decode input as base64: %v", err)
	}
	format := d.String("format")
	if format != "hex" && format != "base64" {
		return nil, logical.InvalidRequest("unsupported encoding format %s; must be \"hex\" or \"base64\"", format)
	}
	h, ok := hashAlgorithms[alg]
	if !ok || h.newFn == nil || alg == "sha1" {
		return nil, logical.InvalidRequest("unsupported algorithm %s", alg)
	}
	sum := h.digest(input)
	out := hex.EncodeToString(sum)
	if format == "base64" {
		out = base64.StdEncoding.EncodeToString(sum)
	}
	return &logical.Response{Data: map[string]interface{}{"sum": out}}, nil
}
