// Package cubbyhole is per-token private storage: each token sees only its
// own cubbyhole, and the data is gone when the token is.
package cubbyhole

import (
	"context"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

type backend struct{ *framework.Backend }

// Factory creates the cubbyhole backend.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := &backend{}
	b.Backend = &framework.Backend{
		Help:        "The cubbyhole backend reads and writes arbitrary secrets to a storage area private to the calling token.",
		BackendType: logical.TypeLogical,
		Paths: []*framework.Path{{
			Pattern:             framework.MatchAllRegex("path"),
			Fields:              framework.Fields{"path": {Type: framework.TypeString}},
			TakesArbitraryInput: true,
			Ops: framework.Ops{
				logical.ReadOperation:   b.read,
				logical.UpdateOperation: b.write,
				logical.DeleteOperation: b.delete,
				logical.ListOperation:   b.list,
			},
			Exists:   b.exists,
			Synopsis: "Pass-through secret storage to a token-specific cubbyhole.",
		}},
	}
	return b, nil
}

// prefix is the storage prefix of the caller's cubbyhole, derived from the
// token's accessor (no token ends up in a storage key), so the core can
// clear it when the token is revoked.
func prefix(req *logical.Request) (string, error) {
	if req.ClientTokenAccessor == "" {
		return "", logical.InvalidRequest("client token empty")
	}
	return logical.CubbyholePrefix(req.ClientTokenAccessor), nil
}

func (b *backend) exists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	p, err := prefix(req)
	if err != nil {
		return false, err
	}
	e, err := req.Storage.Get(ctx, p+req.Path)
	return e != nil, err
}

func (b *backend) read(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	p, err := prefix(req)
	if err != nil {
		return nil, err
	}
	var data map[string]interface{}
	ok, err := logical.GetJSON(ctx, req.Storage, p+req.Path, &data)
	if err != nil || !ok {
		return nil, err
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) write(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	p, err := prefix(req)
	if err != nil {
		return nil, err
	}
	if req.Path == "" || strings.HasSuffix(req.Path, "/") {
		return nil, logical.InvalidRequest("missing path: write to cubbyhole/<name>")
	}
	if len(req.Data) == 0 {
		return nil, logical.InvalidRequest("missing data fields")
	}
	return nil, logical.PutJSON(ctx, req.Storage, p+req.Path, req.Data)
}

func (b *backend) delete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	p, err := prefix(req)
	if err != nil {
		return nil, err
	}
	return nil, req.Storage.Delete(ctx, p+req.Path)
}

func (b *backend) list(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	p, err := prefix(req)
	if err != nil {
		return nil, err
	}
	path := req.Path
	if path != "" && !strings.HasSuffix(path, "/") {
		path += "/"
	}
	keys, err := req.Storage.List(ctx, p+path)
	if err != nil {
		return nil, err
	}
	return framework.ListResponse(keys), nil
}
