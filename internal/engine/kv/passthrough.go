package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// passthrough is KV version 1: each path holds one JSON object, stored as
// is under the same key in the mount's storage view.
type passthrough struct {
	*framework.Backend
}

func newPassthrough() *passthrough {
	b := &passthrough{}
	b.Backend = &framework.Backend{
		Help:        passthroughHelp,
		BackendType: logical.TypeLogical,
		Paths:       b.paths(),
	}
	return b
}

func (b *passthrough) paths() []*framework.Path {
	return []*framework.Path{{
		Pattern: framework.MatchAllRegex("path"),
		Fields: framework.Fields{
			"path": {Type: framework.TypeString, Description: "Location of the secret."},
		},
		Ops: framework.Ops{
			logical.ReadOperation:   b.read,
			logical.UpdateOperation: b.write,
			logical.DeleteOperation: b.delete,
			logical.ListOperation:   b.list,
		},
		Exists:              b.exists,
		TakesArbitraryInput: true,
		Synopsis:            "Pass-through secret storage: read and write arbitrary JSON objects.",
		Description:         passthroughPathHelp,
	}}
}

func (b *passthrough) exists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	e, err := req.Storage.Get(ctx, d.String("path"))
	if err != nil {
		return false, fmt.Errorf("existence check: %w", err)
	}
	return e != nil, nil
}

func (b *passthrough) read(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	e, err := req.Storage.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	if e == nil {
		return nil, nil
	}
	data, err := decodeObject(e.Value)
	if err != nil {
		return nil, fmt.Errorf("decode %q: %w", key, err)
	}
	return &logical.Response{Data: data}, nil
}

func (b *passthrough) write(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	if key == "" {
		return nil, logical.InvalidRequest("missing path")
	}
	if len(req.Data) == 0 {
		return nil, logical.InvalidRequest("missing data fields")
	}
	buf, err := json.Marshal(req.Data)
	if err != nil {
		return nil, logical.InvalidRequest("cannot encode data as JSON: %v", err)
	}
	if err := req.Storage.Put(ctx, &logical.StorageEntry{Key: key, Value: buf}); err != nil {
		return nil, fmt.Errorf("write %q: %w", key, err)
	}
	return nil, nil
}

func (b *passthrough) delete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	if err := req.Storage.Delete(ctx, key); err != nil {
		return nil, fmt.Errorf("delete %q: %w", key, err)
	}
	return nil, nil
}

func (b *passthrough) list(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	prefix := d.String("path")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	keys, err := req.Storage.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	return framework.ListResponse(keys), nil
}

// decodeObject decodes a stored JSON object, keeping numbers exact.
func decodeObject(raw []byte) (map[string]interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]interface{}
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if out == nil {
		out = map[string]interface{}{}
	}
	return out, nil
}

const passthroughHelp = `
The kv backend reads and writes arbitrary secrets to the backend. The secrets
are encrypted by the server's barrier before they reach storage.

A "ttl" key in a secret's data is kept with the data and reported to readers
as the lease duration: a hint to re-read the secret before it runs out. It
does not expire or revoke anything.
`

const passthroughPathHelp = `
Writing replaces the whole object at the path. Reading a path that was never
written returns nothing (404). Listing a folder returns the keys below it;
sub-folders end in "/".
`

// Interface guard.
var _ logical.Backend = (*passthrough)(nil)
