package core

import (
	"context"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/router"
)

func (c *Core) policyPaths() []*framework.Path {
	nameFields := framework.Fields{
		"name":   {Type: framework.TypeString},
		"policy": {Type: framework.TypeString},
		"rules":  {Type: framework.TypeString},
	}
	return []*framework.Path{
		{
			Pattern:  "policy",
			Ops:      framework.Ops{logical.ReadOperation: c.listPolicies(true), logical.ListOperation: c.listPolicies(true)},
			Synopsis: "List the configured access control policies.",
		},
		{
			Pattern: "policy/(?P<name>.+)",
			Fields:  nameFields,
			Ops: framework.Ops{
				logical.ReadOperation:   c.readPolicy(true),
				logical.UpdateOperation: c.writePolicy,
				logical.DeleteOperation: c.deletePolicy,
			},
			Synopsis: "Read, write or delete an access control policy (legacy path).",
		},
		{
			Pattern:  "policies/acl/?",
			Ops:      framework.Ops{logical.ListOperation: c.listPolicies(false)},
			Synopsis: "List the configured access control policies.",
		},
		{
			Pattern: "policies/acl/(?P<name>.+)",
			Fields:  nameFields,
			Ops: framework.Ops{
				logical.ReadOperation:   c.readPolicy(false),
				logical.UpdateOperation: c.writePolicy,
				logical.DeleteOperation: c.deletePolicy,
			},
			Synopsis: "Read, write or delete an access control policy.",
		},
		{
			Pattern:  "internal/ui/mounts",
			Ops:      framework.Ops{logical.ReadOperation: c.uiMounts},
			Synopsis: "Lists mounts visible to the caller.",
		},
		{
			Pattern:  "internal/ui/mounts/(?P<path>.+)",
			Fields:   framework.Fields{"path": {Type: framework.TypeString}},
			Ops:      framework.Ops{logical.ReadOperation: c.uiMount},
			Synopsis: "Describes the mount serving a path.",
		},
	}
}

func (c *Core) listPolicies(legacy bool) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		names, err := c.policies.List(ctx)
		if err != nil {
			return nil, err
		}
		resp := framework.ListResponse(names)
		if legacy {
			resp.Data["policies"] = names
		}
		return resp, nil
	}
}

func (c *Core) readPolicy(legacy bool) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		name := strings.ToLower(d.String("name"))
		p, err := c.policies.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, nil
		}
		data := map[string]interface{}{"name": name}
		if legacy {
			data["rules"] = p.Raw
		} else {
			data["policy"] = p.Raw
		}
		return &logical.Response{Data: data}, nil
	}
}

func (c *Core) writePolicy(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	rules := d.String("policy")
	if rules == "" {
		rules = d.String("rules")
	}
	if strings.TrimSpace(rules) == "" {
		return nil, logical.InvalidRequest("'policy' parameter not supplied or empty")
	}
	return nil, c.policies.Set(ctx, d.String("name"), rules)
}

func (c *Core) deletePolicy(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, c.policies.Delete(ctx, d.String("name"))
}

func (c *Core) uiMounts(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	secret, auth := map[string]interface{}{}, map[string]interface{}{}
	for _, e := range c.Mounts(router.TableMounts) {
		secret[e.Path] = mountInfo(e)
	}
	for _, e := range c.Mounts(router.TableAuth) {
		auth[e.Path] = mountInfo(e)
	}
	return &logical.Response{Data: map[string]interface{}{"secret": secret, "auth": auth}}, nil
}

func (c *Core) uiMount(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	p := strings.TrimPrefix(d.String("path"), "/")
	rt, _ := c.router.Match(p)
	if rt == nil {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "permission denied")
	}
	if req.ClientToken == "" {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "permission denied")
	}
	info := mountInfo(rt.Entry.Clone())
	info["path"] = rt.Entry.RoutePath()
	return &logical.Response{Data: info}, nil
}
