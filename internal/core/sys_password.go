package core

import (
	"context"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/passwordpolicy"
)

// passwordPolicyPrefix is where password policies live in the barrier.
const passwordPolicyPrefix = "sys/password_policy/"

type storedPasswordPolicy struct {
	Policy string `json:"policy"`
}

func (c *Core) passwordPolicyPaths() []*framework.Path {
	fields := framework.Fields{
		"name":   {Type: framework.TypeString},
		"policy": {Type: framework.TypeString, Description: "HCL password policy: length and rule \"charset\" blocks."},
	}
	return []*framework.Path{
		{
			Pattern:  "policies/password/?",
			Ops:      framework.Ops{logical.ListOperation: c.listPasswordPolicies},
			Synopsis: "List password policies.",
		},
		{
			Pattern:  "policies/password/(?P<name>[^/]+)/generate",
			Fields:   fields,
			Ops:      framework.Ops{logical.ReadOperation: c.generateFromPasswordPolicy},
			Synopsis: "Generate a password from a password policy.",
		},
		{
			Pattern: "policies/password/(?P<name>[^/]+)",
			Fields:  fields,
			Ops: framework.Ops{
				logical.ReadOperation:   c.readPasswordPolicy,
				logical.UpdateOperation: c.writePasswordPolicy,
				logical.DeleteOperation: c.deletePasswordPolicy,
			},
			Synopsis: "Read, write or delete a password policy.",
		},
	}
}

func (c *Core) loadPasswordPolicy(ctx context.Context, name string) (*passwordpolicy.Policy, string, error) {
	var sp storedPasswordPolicy
	ok, err := logical.GetJSON(ctx, c.barrier.View(""), passwordPolicyPrefix+name, &sp)
	if err != nil || !ok {
		return nil, "", err
	}
	p, err := passwordpolicy.Parse(sp.Policy)
	if err != nil {
		return nil, "", err
	}
	return p, sp.Policy, nil
}

func (c *Core) listPasswordPolicies(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	keys, err := c.barrier.View("").List(ctx, passwordPolicyPrefix)
	if err != nil {
		return nil, err
	}
	return framework.ListResponse(keys), nil
}

func (c *Core) readPasswordPolicy(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	_, raw, err := c.loadPasswordPolicy(ctx, d.String("name"))
	if err != nil || raw == "" {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"policy": raw}}, nil
}

func (c *Core) writePasswordPolicy(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	raw := d.String("policy")
	if strings.TrimSpace(raw) == "" {
		return nil, logical.InvalidRequest("missing policy")
	}
	p, err := passwordpolicy.Parse(raw)
	if err != nil {
		return nil, logical.InvalidRequest("invalid password policy: %v", err)
	}
	// A policy that cannot produce passwords is useless: check it now.
	if _, err := p.Generate(); err != nil {
		return nil, logical.InvalidRequest("invalid password policy: %v", err)
	}
	return nil, logical.PutJSON(ctx, c.barrier.View(""), passwordPolicyPrefix+name, storedPasswordPolicy{Policy: raw})
}

func (c *Core) deletePasswordPolicy(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, c.barrier.View("").Delete(ctx, passwordPolicyPrefix+d.String("name"))
}

func (c *Core) generateFromPasswordPolicy(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	p, _, err := c.loadPasswordPolicy(ctx, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.InvalidRequest("no password policy named %q", name)
	}
	pw, err := p.Generate()
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"password": pw}}, nil
}
