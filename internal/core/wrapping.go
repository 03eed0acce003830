package core

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/token"
)

// defaultWrapTTL is used by sys/wrapping/wrap when no wrap TTL is given.
const defaultWrapTTL = 5 * time.Minute

// wrappedResponseKey is where a wrapping token's cubbyhole keeps the
// wrapped response.
const wrappedResponseKey = "response"

func (c *Core) wrappingPaths() []*framework.Path {
	tokenField := framework.Fields{"token": {Type: framework.TypeString, Sensitive: true}}
	return []*framework.Path{
		{
			Pattern:             "wrapping/wrap",
			TakesArbitraryInput: true,
			Ops:                 framework.Ops{logical.UpdateOperation: c.handleWrap},
			Synopsis:            "Wrap the given data in a single-use response-wrapping token.",
		},
		{
			Pattern:  "wrapping/unwrap",
			Fields:   tokenField,
			Ops:      framework.Ops{logical.UpdateOperation: c.handleUnwrap},
			Synopsis: "Return the response inside a wrapping token; the token is used up.",
		},
		{
			Pattern:  "wrapping/lookup",
			Fields:   tokenField,
			Ops:      framework.Ops{logical.UpdateOperation: c.handleWrapLookup, logical.ReadOperation: c.handleWrapLookup},
			Synopsis: "Look up a wrapping token's creation path, time and TTL without using it.",
		},
		{
			Pattern:  "wrapping/rewrap",
			Fields:   tokenField,
			Ops:      framework.Ops{logical.UpdateOperation: c.handleRewrap},
			Synopsis: "Move a wrapped response to a new wrapping token with the same TTL.",
		},
	}
}

func isWrappingToken(te *token.Entry) bool {
	return te != nil && len(te.Policies) == 1 && te.Policies[0] == policy.ResponseWrappingPolicyName
}

// cubbyhole runs one operation on the cubbyhole of the token with this
// accessor.
func (c *Core) cubbyhole(ctx context.Context, op logical.Operation, accessor string, data map[string]interface{}) (*logical.Response, error) {
	rt := c.router.Get("cubbyhole/")
	if rt == nil {
		return nil, fmt.Errorf("cubbyhole is not mounted")
	}
	req := mountRequest(rt, op, wrappedResponseKey)
	req.ClientTokenAccessor, req.Data = accessor, data
	return rt.Backend.HandleRequest(ctx, req)
}

// clearCubbyhole deletes a revoked token's cubbyhole.
func (c *Core) clearCubbyhole(ctx context.Context, accessor string) error {
	rt := c.router.Get("cubbyhole/")
	if rt == nil || accessor == "" {
		return nil
	}
	p := logical.CubbyholePrefix(accessor)
	keys, err := logical.CollectKeys(ctx, rt.Storage, p)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := rt.Storage.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// storeWrapped creates a wrapping token holding body (the JSON envelope).
func (c *Core) storeWrapped(ctx context.Context, creationPath string, ttl time.Duration, body []byte) (*token.Entry, error) {
	if ttl > c.conf.MaxLeaseTTL {
		ttl = c.conf.MaxLeaseTTL
	}
	te := &token.Entry{
		Policies: []string{policy.ResponseWrappingPolicyName}, Path: creationPath, TTL: ttl,
		ExplicitMaxTTL: ttl, NumUses: 1, Type: token.TypeService, DisplayName: "response-wrapping",
	}
	if err := c.tokens.Create(ctx, te); err != nil {
		return nil, fmt.Errorf("create wrapping token: %w", err)
	}
	if _, err := c.cubbyhole(ctx, logical.UpdateOperation, te.Accessor, map[string]interface{}{"response": string(body)}); err != nil {
		_ = c.tokens.Revoke(ctx, te.ID)
		return nil, fmt.Errorf("store wrapped response: %w", err)
	}
	return te, nil
}

// wrapResponse replaces a response with a wrapping token holding it.
func (c *Core) wrapResponse(ctx context.Context, req *logical.Request, resp *logical.Response) (*logical.Response, error) {
	body, err := json.Marshal(logical.ToHTTP(req.ID, req.MountType, resp))
	if err != nil {
		return nil, err
	}
	te, err := c.storeWrapped(ctx, req.Path, req.WrapTTL, body)
	if err != nil {
		return nil, err
	}
	wi := &logical.WrapInfo{Token: te.ID, Accessor: te.Accessor, TTL: te.TTL, CreationTime: te.CreationTime, CreationPath: req.Path}
	if resp.Auth != nil {
		wi.WrappedAccessor = resp.Auth.Accessor
	}
	return &logical.Response{WrapInfo: wi}, nil
}

func (c *Core) handleWrap(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if req.WrapTTL == 0 {
		req.WrapTTL = defaultWrapTTL
	}
	if len(req.Data) == 0 {
		return nil, logical.InvalidRequest("no data to wrap: send the key/value pairs to wrap as the JSON body")
	}
	return &logical.Response{Data: req.Data}, nil
}

// wrappingToken resolves the wrapping token named by the "token" field.
func (c *Core) wrappingToken(ctx context.Context, d *framework.FieldData) (string, *token.Entry, error) {
	id := d.String("token")
	if id == "" {
		return "", nil, logical.InvalidRequest("missing \"token\": the wrapping token")
	}
	te, err := c.tokens.Lookup(ctx, id)
	if err != nil {
		return "", nil, err
	}
	if !isWrappingToken(te) {
		return "", nil, logical.InvalidRequest("wrapping token is not valid or does not exist")
	}
	return id, te, nil
}

func (c *Core) readWrapped(ctx context.Context, accessor string) ([]byte, error) {
	resp, err := c.cubbyhole(ctx, logical.ReadOperation, accessor, nil)
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Data["response"] == nil {
		return nil, logical.InvalidRequest("wrapping token is not valid or does not exist")
	}
	s, _ := resp.Data["response"].(string)
	return []byte(s), nil
}

func (c *Core) handleUnwrap(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	var id, accessor string
	if d.String("token") == "" {
		// The caller is the wrapping token itself, on its single use; the
		// pipeline revokes it once this request is done.
		if len(req.Policies) != 1 || req.Policies[0] != policy.ResponseWrappingPolicyName {
			return nil, logical.InvalidRequest("wrapping token is not valid or does not exist")
		}
		id, accessor = req.ClientToken, req.ClientTokenAccessor
	} else {
		wid, te, err := c.wrappingToken(ctx, d)
		if err != nil {
			return nil, err
		}
		id, accessor = wid, te.Accessor
	}
	body, err := c.readWrapped(ctx, accessor)
	if err != nil {
		return nil, err
	}
	if _, err := c.cubbyhole(ctx, logical.DeleteOperation, accessor, nil); err != nil {
		return nil, err
	}
	if id != req.ClientToken {
		if err := c.tokens.Revoke(ctx, id); err != nil {
			return nil, err
		}
	}
	return &logical.Response{Raw: body, RawContentType: "application/json", RawStatus: 200}, nil
}

func (c *Core) handleWrapLookup(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.String("token")
	if id == "" {
		return nil, logical.InvalidRequest("missing \"token\"")
	}
	te, err := c.tokens.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if !isWrappingToken(te) {
		return nil, logical.InvalidRequest("wrapping token is not valid or does not exist")
	}
	return &logical.Response{Data: map[string]interface{}{
		"creation_path": te.Path,
		"creation_time": te.CreationTime.UTC().Format(time.RFC3339Nano),
		"creation_ttl":  int64(te.TTL / time.Second),
	}}, nil
}

func (c *Core) handleRewrap(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id, te, err := c.wrappingToken(ctx, d)
	if err != nil {
		return nil, err
	}
	body, err := c.readWrapped(ctx, te.Accessor)
	if err != nil {
		return nil, err
	}
	nte, err := c.storeWrapped(ctx, te.Path, te.TTL, body)
	if err != nil {
		return nil, err
	}
	if err := c.tokens.Revoke(ctx, id); err != nil {
		return nil, err
	}
	req.WrapTTL = 0 // the new token is the answer; do not wrap it again
	return &logical.Response{WrapInfo: &logical.WrapInfo{
		Token: nte.ID, Accessor: nte.Accessor, TTL: nte.TTL, CreationTime: nte.CreationTime, CreationPath: te.Path,
	}}, nil
}
