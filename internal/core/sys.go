package core

import (
	"context"
	"sort"
	"strings"

	"github.com/coffer-dev/coffer/internal/audit"
	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/token"
)

// newSystemBackend builds the backend mounted at sys/.
func (c *Core) newSystemBackend() logical.Backend {
	var paths []*framework.Path
	paths = append(paths, c.mountPaths()...)
	paths = append(paths, c.policyPaths()...)
	paths = append(paths, c.miscPaths()...)
	paths = append(paths, c.passwordPolicyPaths()...)
	paths = append(paths, c.wrappingPaths()...)
	paths = append(paths, c.quotaPaths()...)
	paths = append(paths, c.metricsPaths()...)
	paths = append(paths, lease.Paths(c.leases)...)
	paths = append(paths, audit.Paths(c.audit)...)
	paths = append(paths, c.raftPaths()...)
	return &framework.Backend{
		Help:        "The system backend is built into the server and cannot be remounted or disabled. It configures the server itself.",
		Paths:       paths,
		BackendType: logical.TypeLogical,
		PathsSpecial: &logical.Paths{
			Root: []string{
				"auth/*", "remount", "audit", "audit/*", "raw", "raw/*", "rotate", "rotate/*",
				"revoke-prefix/*", "revoke-force/*", "leases/revoke-prefix/*", "leases/revoke-force/*",
				"leases/lookup/*", "leases", "storage/raft/snapshot", "storage/raft/snapshot-force",
				"config/auditing/*", "plugins/catalog/*", "internal/inspect/*", "step-down",
			},
			Unauthenticated: []string{
				"wrapping/lookup", "wrapping/pubkey", "internal/ui/mounts", "internal/ui/mounts/*",
				"internal/specs/openapi", "storage/raft/bootstrap/challenge", "storage/raft/bootstrap/answer",
			},
		},
	}
}

func (c *Core) miscPaths() []*framework.Path {
	return []*framework.Path{
		{
			Pattern:  "key-status",
			Ops:      framework.Ops{logical.ReadOperation: c.handleKeyStatus},
			Synopsis: "Provides information about the backend encryption key.",
		},
		{
			Pattern:  "rotate",
			Ops:      framework.Ops{logical.UpdateOperation: c.handleRotate},
			Synopsis: "Rotates the backend encryption key used to persist data.",
		},
		{
			Pattern: "capabilities",
			Fields: framework.Fields{
				"token": {Type: framework.TypeString, Sensitive: true},
				"path":  {Type: framework.TypeCommaStringSlice},
				"paths": {Type: framework.TypeCommaStringSlice},
			},
			Ops:      framework.Ops{logical.UpdateOperation: c.handleCapabilities},
			Synopsis: "Fetches the capabilities of the given token on the given path.",
		},
		{
			Pattern: "capabilities-self",
			Fields: framework.Fields{
				"path":  {Type: framework.TypeCommaStringSlice},
				"paths": {Type: framework.TypeCommaStringSlice},
			},
			Ops:      framework.Ops{logical.UpdateOperation: c.handleCapabilities},
			Synopsis: "Fetches the capabilities of the caller's token on the given path.",
		},
		{
			Pattern: "capabilities-accessor",
			Fields: framework.Fields{
				"accessor": {Type: framework.TypeString},
				"path":     {Type: framework.TypeCommaStringSlice},
				"paths":    {Type: framework.TypeCommaStringSlice},
			},
			Ops:      framework.Ops{logical.UpdateOperation: c.handleCapabilities},
			Synopsis: "Fetches the capabilities of the token behind the accessor on the given path.",
		},
	}
}

func (c *Core) handleKeyStatus(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	ks := c.barrier.KeyStatus()
	return &logical.Response{Data: map[string]interface{}{
		"term":         ks.Term,
		"install_time": ks.InstallTime.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"),
		"encryptions":  ks.Encryptions,
	}}, nil
}

func (c *Core) handleRotate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	term, err := c.barrier.Rotate(ctx)
	if err != nil {
		return nil, err
	}
	c.logger.Info("rotated barrier key", "term", term)
	return nil, nil
}

func (c *Core) handleCapabilities(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	paths := append(d.Strings("path"), d.Strings("paths")...)
	if len(paths) == 0 {
		return nil, logical.InvalidRequest("missing paths: give \"path\" or \"paths\"")
	}
	var te *token.Entry
	var err error
	switch req.Path {
	case "capabilities":
		tok := d.String("token")
		if tok == "" {
			return nil, logical.InvalidRequest("missing token")
		}
		te, err = c.tokens.Lookup(ctx, tok)
	case "capabilities-accessor":
		acc := d.String("accessor")
		if acc == "" {
			return nil, logical.InvalidRequest("missing accessor")
		}
		te, err = c.tokens.LookupAccessor(ctx, acc)
	default:
		te, err = c.tokens.Lookup(ctx, req.ClientToken)
	}
	if err != nil {
		return nil, err
	}
	if te == nil {
		return nil, logical.InvalidRequest("invalid token")
	}
	acl, err := c.policies.ACL(ctx, te.Policies...)
	if err != nil {
		return nil, err
	}
	data := map[string]interface{}{}
	var all []string
	for _, p := range paths {
		p = strings.TrimPrefix(p, "/")
		caps := acl.Capabilities(p)
		data[p] = caps
		all = append(all, caps...)
	}
	if len(paths) == 1 {
		sort.Strings(all)
		data["capabilities"] = all
	}
	return &logical.Response{Data: data}, nil
}
