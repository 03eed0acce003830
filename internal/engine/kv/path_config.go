package kv

import (
	"context"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *versioned) pathConfig() *framework.Path {
	return &framework.Path{
		Pattern: "config",
		Fields: framework.Fields{
			"max_versions": {Type: framework.TypeInt,
				Description: "The number of versions to keep for each key. Defaults to 10."},
			"cas_required": {Type: framework.TypeBool,
				Description: "If true, every write must carry the cas option."},
			"delete_version_after": {Type: framework.TypeSignedDurationSecond,
				Description: "If set, the time after which a version is deleted. A negative duration disables it for all keys; zero clears the setting."},
		},
		Ops: framework.Ops{
			logical.ReadOperation:   b.readConfig,
			logical.UpdateOperation: b.writeConfig,
		},
		Synopsis: "Configure settings applied to every key of the mount.",
	}
}

func (b *versioned) readConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	c, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{
		"max_versions":         c.MaxVersions,
		"cas_required":         c.CasRequired,
		"delete_version_after": c.DeleteVersionAfter.String(),
	}}, nil
}

func (b *versioned) writeConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	maxRaw, maxOK := d.GetOk("max_versions")
	casRaw, casOK := d.GetOk("cas_required")
	dvaRaw, dvaOK := d.GetOk("delete_version_after")
	if !maxOK && !casOK && !dvaOK {
		return nil, nil
	}
	c, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	if maxOK {
		n, err := maxVersions(maxRaw.(int))
		if err != nil {
			return nil, err
		}
		c.MaxVersions = n
	}
	if casOK {
		c.CasRequired = casRaw.(bool)
	}
	if dvaOK {
		switch secs := dvaRaw.(int); {
		case secs < 0:
			c.DeleteVersionAfter = deleteVersionAfterDisabled
		default:
			c.DeleteVersionAfter = time.Duration(secs) * time.Second
		}
	}
	return nil, b.putConfig(ctx, req.Storage, c)
}

// maxVersions checks a max_versions value.
func maxVersions(n int) (uint32, error) {
	if n < 0 || n > 1<<31 {
		return 0, logical.InvalidRequest("max_versions must be between 0 and %d", 1<<31)
	}
	return uint32(n), nil
}
