package core

import (
	"context"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/router"
)

func (c *Core) mountPaths() []*framework.Path {
	enableFields := framework.Fields{
		"path":                    {Type: framework.TypeString},
		"type":                    {Type: framework.TypeString},
		"description":             {Type: framework.TypeString},
		"config":                  {Type: framework.TypeMap},
		"options":                 {Type: framework.TypeKVPairs},
		"local":                   {Type: framework.TypeBool},
		"seal_wrap":               {Type: framework.TypeBool},
		"plugin_name":             {Type: framework.TypeString},
		"external_entropy_access": {Type: framework.TypeBool},
		"plugin_version":          {Type: framework.TypeString},
		// tune fields, accepted on <path>/tune
		"default_lease_ttl":            {Type: framework.TypeString},
		"max_lease_ttl":                {Type: framework.TypeString},
		"listing_visibility":           {Type: framework.TypeString},
		"force_no_cache":               {Type: framework.TypeBool},
		"audit_non_hmac_request_keys":  {Type: framework.TypeCommaStringSlice},
		"audit_non_hmac_response_keys": {Type: framework.TypeCommaStringSlice},
		"passthrough_request_headers":  {Type: framework.TypeCommaStringSlice},
		"allowed_response_headers":     {Type: framework.TypeCommaStringSlice},
		"token_type":                   {Type: framework.TypeString},
	}
	mk := func(table, prefix string) []*framework.Path {
		return []*framework.Path{
			{
				Pattern:  prefix,
				Ops:      framework.Ops{logical.ReadOperation: c.listMounts(table)},
				Synopsis: "List the currently mounted " + map[string]string{router.TableMounts: "secrets engines", router.TableAuth: "auth methods"}[table] + ".",
			},
			{
				Pattern: prefix + "/(?P<path>.+)",
				Fields:  enableFields,
				Ops: framework.Ops{
					logical.ReadOperation:   c.readMount(table),
					logical.UpdateOperation: c.writeMount(table),
					logical.DeleteOperation: c.deleteMount(table),
				},
				Synopsis: "Enable, read, tune or disable a mount.",
			},
		}
	}
	paths := append(mk(router.TableMounts, "mounts"), mk(router.TableAuth, "auth")...)
	paths = append(paths, &framework.Path{
		Pattern: "remount",
		Fields: framework.Fields{
			"from": {Type: framework.TypeString},
			"to":   {Type: framework.TypeString},
		},
		Ops:      framework.Ops{logical.UpdateOperation: c.handleRemount},
		Synopsis: "Move the mount point of an already-mounted backend.",
	}, &framework.Path{
		Pattern:  "remount/status/(?P<migration_id>.+)",
		Fields:   framework.Fields{"migration_id": {Type: framework.TypeString}},
		Ops:      framework.Ops{logical.ReadOperation: c.handleRemountStatus},
		Synopsis: "Status of a mount move.",
	})
	return paths
}

func mountInfo(e *router.MountEntry) map[string]interface{} {
	opts := map[string]interface{}{}
	for k, v := range e.Options {
		opts[k] = v
	}
	var options interface{} = opts
	if len(opts) == 0 {
		options = nil
	}
	return map[string]interface{}{
		"type":        e.Type,
		"description": e.Description,
		"accessor":    e.Accessor,
		"uuid":        e.UUID,
		"config": map[string]interface{}{
			"default_lease_ttl": int64(e.Config.DefaultLeaseTTL / time.Second),
			"max_lease_ttl":     int64(e.Config.MaxLeaseTTL / time.Second),
			"force_no_cache":    e.Config.ForceNoCache,
		},
		"options":                 options,
		"local":                   e.Local,
		"seal_wrap":               e.SealWrap,
		"external_entropy_access": false,
		"plugin_version":          "",
		"running_plugin_version":  "v" + "0.1.0+builtin.coffer",
		"running_sha256":          "",
	}
}

func (c *Core) listMounts(table string) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		data := map[string]interface{}{}
		for _, e := range c.Mounts(table) {
			data[e.Path] = mountInfo(e)
		}
		return &logical.Response{Data: data}, nil
	}
}

func splitTune(p string) (string, bool) {
	p = strings.TrimSuffix(p, "/")
	if strings.HasSuffix(p, "/tune") {
		return strings.TrimSuffix(p, "/tune") + "/", true
	}
	return p + "/", false
}

func routePathFor(table, p string) string {
	if table == router.TableAuth {
		return "auth/" + p
	}
	return p
}

func (c *Core) readMount(table string) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		p, tune := splitTune(d.String("path"))
		rt := c.router.Get(routePathFor(table, p))
		if rt == nil || rt.Entry.Table != table {
			if tune {
				return nil, logical.InvalidRequest("cannot fetch sysview for path %q", p)
			}
			return nil, logical.InvalidRequest("No secret engine mount at %s", p)
		}
		e := rt.Entry.Clone()
		if !tune {
			return &logical.Response{Data: mountInfo(e)}, nil
		}
		t := c.entryTTLs(e)
		data := map[string]interface{}{
			"default_lease_ttl": int64(t.def / time.Second),
			"max_lease_ttl":     int64(t.max / time.Second),
			"force_no_cache":    e.Config.ForceNoCache,
			"description":       e.Description,
		}
		if len(e.Options) > 0 {
			data["options"] = e.Options
		}
		if table == router.TableAuth {
			data["token_type"] = "default-service"
		}
		return &logical.Response{Data: data}, nil
	}
}

// parseTTLField parses a TTL given as seconds or a duration string;
// "system" and "" mean "use the system value" (0).
func parseTTLField(name string, v interface{}) (time.Duration, error) {
	if s, ok := v.(string); ok && (s == "" || s == "system") {
		return 0, nil
	}
	d, err := framework.ParseDurationSecond(v)
	if err != nil {
		return 0, logical.InvalidRequest("invalid %s %v: %v; give seconds or a duration such as \"1h\"", name, v, err)
	}
	if d < 0 {
		return 0, logical.InvalidRequest("invalid %s %v: cannot be negative", name, v)
	}
	return d, nil
}

func (c *Core) writeMount(table string) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		p, tune := splitTune(d.String("path"))
		if tune {
			return nil, c.tune(ctx, table, p, d)
		}
		e := &router.MountEntry{
			Table:       table,
			Path:        p,
			Type:        d.String("type"),
			Description: d.String("description"),
			Options:     d.KVPairs("options"),
			Local:       d.Bool("local"),
			SealWrap:    d.Bool("seal_wrap"),
		}
		if e.Type == "" {
			e.Type = d.String("plugin_name")
		}
		if len(e.Options) == 0 {
			e.Options = nil
		}
		if cfg := d.Map("config"); cfg != nil {
			for k, v := range cfg {
				var err error
				switch k {
				case "default_lease_ttl":
					e.Config.DefaultLeaseTTL, err = parseTTLField(k, v)
				case "max_lease_ttl":
					e.Config.MaxLeaseTTL, err = parseTTLField(k, v)
				case "force_no_cache":
					e.Config.ForceNoCache, _ = v.(bool)
				case "listing_visibility":
					e.Config.ListingVisibility, _ = v.(string)
				}
				if err != nil {
					return nil, err
				}
			}
		}
		return nil, c.EnableMount(ctx, e)
	}
}

func (c *Core) tune(ctx context.Context, table, p string, d *framework.FieldData) error {
	return c.TuneMount(ctx, routePathFor(table, p), func(e *router.MountEntry) error {
		if v, ok := d.GetOk("default_lease_ttl"); ok && v != "" {
			ttl, err := parseTTLField("default_lease_ttl", v)
			if err != nil {
				return err
			}
			e.Config.DefaultLeaseTTL = ttl
		}
		if v, ok := d.GetOk("max_lease_ttl"); ok && v != "" {
			ttl, err := parseTTLField("max_lease_ttl", v)
			if err != nil {
				return err
			}
			e.Config.MaxLeaseTTL = ttl
		}
		if v, ok := d.GetOk("description"); ok {
			e.Description = v.(string)
		}
		if v, ok := d.GetOk("listing_visibility"); ok {
			e.Config.ListingVisibility = v.(string)
		}
		if v, ok := d.GetOk("options"); ok {
			opts := v.(map[string]string)
			if e.Options == nil {
				e.Options = map[string]string{}
			}
			for k, val := range opts {
				if k == "version" && e.Type == "kv" && e.Options["version"] == "2" && val == "1" {
					return logical.InvalidRequest("cannot downgrade a KV mount from version 2 to version 1")
				}
				e.Options[k] = val
			}
		}
		return nil
	})
}

func (c *Core) deleteMount(table string) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		p, tune := splitTune(d.String("path"))
		if tune {
			return nil, logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation")
		}
		return nil, c.DisableMount(ctx, table, p)
	}
}

func (c *Core) handleRemount(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	from, to := d.String("from"), d.String("to")
	if from == "" || to == "" {
		return nil, logical.InvalidRequest("both \"from\" and \"to\" are required")
	}
	if err := c.Remount(ctx, from, to); err != nil {
		return nil, err
	}
	id := randomUUID()
	c.migrations.Store(id, map[string]interface{}{
		"source_mount": strings.TrimSuffix(from, "/") + "/", "target_mount": strings.TrimSuffix(to, "/") + "/", "status": "success",
	})
	return &logical.Response{Data: map[string]interface{}{"migration_id": id}}, nil
}

func (c *Core) handleRemountStatus(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.String("migration_id")
	info, ok := c.migrations.Load(id)
	if !ok {
		return nil, nil
	}
	return &logical.Response{Data: map[string]interface{}{"migration_id": id, "migration_info": info}}, nil
}
