package core

import (
	"context"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/quota"
)

func (c *Core) quotaPaths() []*framework.Path {
	fields := framework.Fields{
		"name":           {Type: framework.TypeString},
		"path":           {Type: framework.TypeString, Description: "A mount, a path prefix inside a mount, or empty for all requests."},
		"role":           {Type: framework.TypeString, Description: "Login role the quota applies to (auth mounts only)."},
		"rate":           {Type: framework.TypeFloat},
		"interval":       {Type: framework.TypeDurationSecond},
		"block_interval": {Type: framework.TypeDurationSecond},
		"max_leases":     {Type: framework.TypeInt},
		"inheritable":    {Type: framework.TypeBool},
		"type":           {Type: framework.TypeString},
	}
	var paths []*framework.Path
	for _, typ := range []string{quota.TypeRateLimit, quota.TypeLeaseCount} {
		typ := typ
		paths = append(paths, &framework.Path{
			Pattern:  "quotas/" + typ + "/?",
			Ops:      framework.Ops{logical.ListOperation: c.listQuotas(typ)},
			Synopsis: "List " + typ + " quotas.",
		}, &framework.Path{
			Pattern: "quotas/" + typ + "/(?P<name>[^/]+)",
			Fields:  fields,
			Ops: framework.Ops{
				logical.ReadOperation:   c.readQuota(typ),
				logical.UpdateOperation: c.writeQuota(typ),
				logical.DeleteOperation: c.deleteQuota(typ),
			},
			Synopsis: "Create, read, update or delete a " + typ + " quota.",
		})
	}
	paths = append(paths, &framework.Path{
		Pattern: "quotas/config",
		Fields: framework.Fields{
			"rate_limit_exempt_paths":            {Type: framework.TypeStringSlice},
			"enable_rate_limit_audit_logging":    {Type: framework.TypeBool},
			"enable_rate_limit_response_headers": {Type: framework.TypeBool},
		},
		Ops:      framework.Ops{logical.ReadOperation: c.readQuotaConfig, logical.UpdateOperation: c.writeQuotaConfig},
		Synopsis: "Configure quota behaviour.",
	})
	return paths
}

func (c *Core) listQuotas(typ string) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		return framework.ListResponse(c.quotas.List(typ)), nil
	}
}

func (c *Core) readQuota(typ string) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		q := c.quotas.Get(typ, d.String("name"))
		if q == nil {
			return nil, nil
		}
		data := map[string]interface{}{
			"name": q.Name, "type": q.Type, "path": q.Path, "role": q.Role, "inheritable": q.Inheritable,
		}
		if typ == quota.TypeRateLimit {
			data["rate"] = q.Rate
			data["interval"] = int64(q.Interval / time.Second)
			data["block_interval"] = int64(q.BlockInterval / time.Second)
		} else {
			data["max_leases"] = q.MaxLeases
			data["counter"] = c.quotas.Count(q.Name)
		}
		return &logical.Response{Data: data}, nil
	}
}

func (c *Core) writeQuota(typ string) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		name := d.String("name")
		q := c.quotas.Get(typ, name)
		if q == nil {
			q = &quota.Quota{Name: name, Type: typ}
		}
		if v, ok := d.GetOk("path"); ok {
			q.Path = v.(string)
		}
		if v, ok := d.GetOk("role"); ok {
			q.Role = v.(string)
		}
		if v, ok := d.GetOk("inheritable"); ok {
			q.Inheritable = v.(bool)
		}
		if typ == quota.TypeRateLimit {
			if v, ok := d.GetOk("rate"); ok {
				q.Rate = v.(float64)
			}
			if v, ok := d.GetOk("interval"); ok {
				q.Interval = time.Duration(v.(int)) * time.Second
			}
			if v, ok := d.GetOk("block_interval"); ok {
				q.BlockInterval = time.Duration(v.(int)) * time.Second
			}
		} else if v, ok := d.GetOk("max_leases"); ok {
			q.MaxLeases = v.(int)
		}
		if q.Path != "" {
			if rt, _ := c.router.Match(q.Path); rt == nil {
				return nil, logical.InvalidRequest("invalid quota path %q: no mount serves it", q.Path)
			}
		}
		return nil, c.quotas.Set(ctx, q)
	}
}

func (c *Core) deleteQuota(typ string) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		return nil, c.quotas.Delete(ctx, typ, d.String("name"))
	}
}

func (c *Core) readQuotaConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	cfg := c.quotas.GetConfig()
	exempt := cfg.RateLimitExemptPaths
	if exempt == nil {
		exempt = []string{}
	}
	return &logical.Response{Data: map[string]interface{}{
		"rate_limit_exempt_paths":            exempt,
		"enable_rate_limit_audit_logging":    cfg.EnableRateLimitAuditLogging,
		"enable_rate_limit_response_headers": cfg.EnableRateLimitResponseHeaders,
	}}, nil
}

func (c *Core) writeQuotaConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	cfg := c.quotas.GetConfig()
	if v, ok := d.GetOk("rate_limit_exempt_paths"); ok {
		cfg.RateLimitExemptPaths = v.([]string)
	}
	if v, ok := d.GetOk("enable_rate_limit_audit_logging"); ok {
		cfg.EnableRateLimitAuditLogging = v.(bool)
	}
	if v, ok := d.GetOk("enable_rate_limit_response_headers"); ok {
		cfg.EnableRateLimitResponseHeaders = v.(bool)
	}
	return nil, c.quotas.SetConfig(ctx, cfg)
}
