package approle

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// roleField is one row of the role's field table. The role/<name> resource
// takes every field; each sub-path role/<name>/<sub> takes the fields that
// share that sub and is generated from the table (Vault clients call them,
// and ACLs can delegate them one by one).
type roleField struct {
	name   string
	schema *framework.FieldSchema
	// sub is the per-field sub-path; "" when there is none.
	sub string
	// legacyOf names the field this deprecated alias stands for. The alias
	// is applied only when that field is absent; given together, the alias
	// takes that field's value.
	legacyOf string
	// hidden fields are left out of the role read.
	hidden bool
	// createOnly fields can be set when the role is created, never after;
	// their sub-path is read-only.
	createOnly bool
	// get returns the value for a read, and whether to show it.
	get func(r *roleEntry) (interface{}, bool)
	// set applies a decoded value; it may return a warning for the client.
	set func(r *roleEntry, v interface{}) (string, error)
	// reset restores the default (DELETE on the sub-path); nil when the
	// sub-path has no DELETE.
	reset func(r *roleEntry)
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

func always(v interface{}) (interface{}, bool) { return v, true }

func durationOf(v interface{}) time.Duration { return time.Duration(v.(int)) * time.Second }

func cidrSetter(field string, dst func(r *roleEntry) *[]string) func(*roleEntry, interface{}) (string, error) {
	return func(r *roleEntry, v interface{}) (string, error) {
		cidrs, err := parseCIDRList(v.([]string))
		if err != nil {
			return "", logical.InvalidRequest("invalid CIDR blocks in %q: %v", field, err)
		}
		*dst(r) = cidrs
		return "", nil
	}
}

func nonNegative(field string, v interface{}) (int, error) {
	n := v.(int)
	if n < 0 {
		return 0, logical.InvalidRequest("'%s' cannot be negative", field)
	}
	return n, nil
}

func policiesOf(v interface{}) []string {
	in := v.([]string)
	out := make([]string, 0, len(in))
	for _, p := range in {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// roleFields is the role's field table, in the order fields are applied.
func roleFields() []*roleField {
	dur := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeDurationSecond, Description: desc}
	}
	list := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeCommaStringSlice, Description: desc}
	}
	return []*roleField{{
		name:   "bind_secret_id",
		schema: &framework.FieldSchema{Type: framework.TypeBool, Default: true, Description: "Require a secret_id at login. Defaults to true."},
		sub:    "bind-secret-id",
		get:    func(r *roleEntry) (interface{}, bool) { return always(r.BindSecretID) },
		set:    func(r *roleEntry, v interface{}) (string, error) { r.BindSecretID = v.(bool); return "", nil },
		reset:  func(r *roleEntry) { r.BindSecretID = true },
	}, {
		name:   "secret_id_bound_cidrs",
		schema: list("Comma-separated string or list of CIDR blocks; if set, only these addresses can log in."),
		sub:    "secret-id-bound-cidrs",
		get:    func(r *roleEntry) (interface{}, bool) { return always(orEmpty(r.SecretIDBoundCIDRs)) },
		set:    cidrSetter("secret_id_bound_cidrs", func(r *roleEntry) *[]string { return &r.SecretIDBoundCIDRs }),
		reset:  func(r *roleEntry) { r.SecretIDBoundCIDRs = nil },
	}, {
		name:     "bound_cidr_list",
		schema:   list(`Deprecated: use "secret_id_bound_cidrs".`),
		sub:      "bound-cidr-list",
		legacyOf: "secret_id_bound_cidrs",
		hidden:   true,
		get:      func(r *roleEntry) (interface{}, bool) { return always(orEmpty(r.SecretIDBoundCIDRs)) },
		set:      cidrSetter("bound_cidr_list", func(r *roleEntry) *[]string { return &r.SecretIDBoundCIDRs }),
		reset:    func(r *roleEntry) { r.SecretIDBoundCIDRs = nil },
	}, {
		name:   "secret_id_num_uses",
		schema: &framework.FieldSchema{Type: framework.TypeInt, Description: "Number of times a secret ID can be used to log in; 0 means unlimited."},
		sub:    "secret-id-num-uses",
		get:    func(r *roleEntry) (interface{}, bool) { return always(r.SecretIDNumUses) },
		set: func(r *roleEntry, v interface{}) (string, error) {
			n, err := nonNegative("secret_id_num_uses", v)
			r.SecretIDNumUses = n
			return "", err
		},
		reset: func(r *roleEntry) { r.SecretIDNumUses = 0 },
	}, {
		name:   "secret_id_ttl",
		schema: dur("Duration after which a secret ID expires; 0 means never (within the mount's max TTL)."),
		sub:    "secret-id-ttl",
		get:    func(r *roleEntry) (interface{}, bool) { return always(secs(r.SecretIDTTL)) },
		set:    func(r *roleEntry, v interface{}) (string, error) { r.SecretIDTTL = durationOf(v); return "", nil },
		reset:  func(r *roleEntry) { r.SecretIDTTL = 0 },
	}, {
		name:       "local_secret_ids",
		schema:     &framework.FieldSchema{Type: framework.TypeBool, Description: "Keep the role's secret IDs local to this cluster. Set only at creation."},
		sub:        "local-secret-ids",
		createOnly: true,
		get:        func(r *roleEntry) (interface{}, bool) { return always(r.LocalSecretIDs) },
		set:        func(r *roleEntry, v interface{}) (string, error) { r.LocalSecretIDs = v.(bool); return "", nil },
	}, {
		name:   "token_policies",
		schema: list("Comma-separated list of policies of the issued tokens."),
		sub:    "policies",
		get:    func(r *roleEntry) (interface{}, bool) { return always(orEmpty(r.TokenPolicies)) },
		set: func(r *roleEntry, v interface{}) (string, error) {
			r.TokenPolicies, r.Policies = policiesOf(v), nil
			return "", nil
		},
		reset: func(r *roleEntry) { r.TokenPolicies, r.Policies = nil, nil },
	}, {
		name:     "policies",
		schema:   list(`Deprecated: use "token_policies".`),
		sub:      "policies",
		legacyOf: "token_policies",
		get:      func(r *roleEntry) (interface{}, bool) { return r.Policies, len(r.Policies) > 0 },
		set: func(r *roleEntry, v interface{}) (string, error) {
			r.TokenPolicies = policiesOf(v)
			r.Policies = r.TokenPolicies
			return "", nil
		},
		reset: func(r *roleEntry) { r.TokenPolicies, r.Policies = nil, nil },
	}, {
		name:   "token_ttl",
		schema: dur("Initial TTL of the issued tokens, also applied on each renewal."),
		sub:    "token-ttl",
		get:    func(r *roleEntry) (interface{}, bool) { return always(secs(r.TokenTTL)) },
		set:    func(r *roleEntry, v interface{}) (string, error) { r.TokenTTL = durationOf(v); return "", nil },
		reset:  func(r *roleEntry) { r.TokenTTL = 0 },
	}, {
		name:   "token_max_ttl",
		schema: dur("Maximum lifetime of the issued tokens."),
		sub:    "token-max-ttl",
		get:    func(r *roleEntry) (interface{}, bool) { return always(secs(r.TokenMaxTTL)) },
		set:    func(r *roleEntry, v interface{}) (string, error) { r.TokenMaxTTL = durationOf(v); return "", nil },
		reset:  func(r *roleEntry) { r.TokenMaxTTL = 0 },
	}, {
		name:   "token_period",
		schema: dur("If set, issued tokens are periodic: no max lifetime, renewed to this TTL each time."),
		sub:    "period",
		get:    func(r *roleEntry) (interface{}, bool) { return always(secs(r.TokenPeriod)) },
		set: func(r *roleEntry, v interface{}) (string, error) {
			r.TokenPeriod, r.Period = durationOf(v), 0
			return "", nil
		},
		reset: func(r *roleEntry) { r.TokenPeriod, r.Period = 0, 0 },
	}, {
		name:     "period",
		schema:   dur(`Deprecated: use "token_period".`),
		sub:      "period",
		legacyOf: "token_period",
		get:      func(r *roleEntry) (interface{}, bool) { return secs(r.Period), r.Period != 0 },
		set: func(r *roleEntry, v interface{}) (string, error) {
			r.TokenPeriod = durationOf(v)
			r.Period = r.TokenPeriod
			return "", nil
		},
		reset: func(r *roleEntry) { r.TokenPeriod, r.Period = 0, 0 },
	}, {
		name:   "token_num_uses",
		schema: &framework.FieldSchema{Type: framework.TypeInt, Description: "Number of times an issued token can be used; 0 means unlimited."},
		sub:    "token-num-uses",
		get:    func(r *roleEntry) (interface{}, bool) { return always(r.TokenNumUses) },
		set: func(r *roleEntry, v interface{}) (string, error) {
			n, err := nonNegative("token_num_uses", v)
			r.TokenNumUses = n
			return "", err
		},
		reset: func(r *roleEntry) { r.TokenNumUses = 0 },
	}, {
		name:   "token_bound_cidrs",
		schema: list("Comma-separated string or list of CIDR blocks; if set, issued tokens work only from these addresses."),
		sub:    "token-bound-cidrs",
		get:    func(r *roleEntry) (interface{}, bool) { return always(orEmpty(r.TokenBoundCIDRs)) },
		set:    cidrSetter("token_bound_cidrs", func(r *roleEntry) *[]string { return &r.TokenBoundCIDRs }),
		reset:  func(r *roleEntry) { r.TokenBoundCIDRs = nil },
	}, {
		name:   "token_type",
		schema: &framework.FieldSchema{Type: framework.TypeString, Default: "default-service", Description: `Type of the issued tokens: "service", "batch" or "default".`},
		get:    func(r *roleEntry) (interface{}, bool) { return always(r.TokenType) },
		set:    setTokenType,
	}, {
		name:   "token_explicit_max_ttl",
		schema: dur("If set, issued tokens carry this hard maximum TTL, which later role or mount changes do not lift."),
		get:    func(r *roleEntry) (interface{}, bool) { return always(secs(r.TokenExplicitMaxTTL)) },
		set: func(r *roleEntry, v interface{}) (string, error) {
			r.TokenExplicitMaxTTL = durationOf(v)
			return "", nil
		},
	}, {
		name:   "token_no_default_policy",
		schema: &framework.FieldSchema{Type: framework.TypeBool, Description: "If true, the 'default' policy is not added to issued tokens."},
		get:    func(r *roleEntry) (interface{}, bool) { return always(r.TokenNoDefaultPolicy) },
		set:    func(r *roleEntry, v interface{}) (string, error) { r.TokenNoDefaultPolicy = v.(bool); return "", nil },
	}, {
		name:   "role_id",
		schema: &framework.FieldSchema{Type: framework.TypeString, Description: "Identifier of the role used to log in. Defaults to a random UUID."},
		sub:    "role-id",
		hidden: true,
		get:    func(r *roleEntry) (interface{}, bool) { return always(r.RoleID) },
		set: func(r *roleEntry, v interface{}) (string, error) {
			if v.(string) == "" {
				return "", logical.InvalidRequest("missing role_id")
			}
			r.RoleID = v.(string)
			return "", nil
		},
	}}
}

func setTokenType(r *roleEntry, v interface{}) (string, error) {
	switch t := v.(string); t {
	case "", "default":
		r.TokenType = "default"
	case "service", "batch":
		r.TokenType = t
	case "default-service", "default-batch":
		r.TokenType = t[len("default-"):]
		return fmt.Sprintf("%s has no useful meaning; adjusting to %s", t, r.TokenType), nil
	default:
		return "", logical.InvalidRequest("invalid 'token_type' value %q", t)
	}
	return "", nil
}

// applyFields sets the given fields on a role, current fields before their
// deprecated aliases, and returns the warnings for the client.
func applyFields(r *roleEntry, fields []*roleField, d *framework.FieldData, creating bool) ([]string, error) {
	var warns []string
	apply := func(f *roleField, v interface{}) error {
		if f.createOnly && !creating {
			return logical.InvalidRequest("%s can only be modified during role creation", f.name)
		}
		w, err := f.set(r, v)
		if w != "" {
			warns = append(warns, w)
		}
		return err
	}
	for _, legacy := range []bool{false, true} {
		for _, f := range fields {
			if (f.legacyOf != "") != legacy {
				continue
			}
			v, ok := d.GetOk(f.name)
			if !ok {
				continue
			}
			if legacy {
				if cur, given := d.GetOk(f.legacyOf); given {
					v = cur
				}
			}
			if err := apply(f, v); err != nil {
				return nil, err
			}
		}
	}
	return warns, nil
}

// fieldPaths generates the role/<name>/<sub> paths from the field table.
func (b *backend) fieldPaths() []*framework.Path {
	var subs []string
	groups := map[string][]*roleField{}
	for _, f := range b.fields {
		if f.sub == "" {
			continue
		}
		if _, ok := groups[f.sub]; !ok {
			subs = append(subs, f.sub)
		}
		groups[f.sub] = append(groups[f.sub], f)
	}
	paths := make([]*framework.Path, 0, len(subs))
	for _, sub := range subs {
		group := groups[sub]
		p := &framework.Path{
			Pattern:  rolePattern("/" + sub),
			Fields:   framework.Fields{"role_name": roleNameField},
			Ops:      framework.Ops{logical.ReadOperation: b.readFields(group)},
			Synopsis: fmt.Sprintf("Read or change the role's %q.", group[0].name),
		}
		for _, f := range group {
			p.Fields[f.name] = f.schema
		}
		if !group[0].createOnly {
			p.Ops[logical.UpdateOperation] = b.updateFields(group)
		}
		if group[0].reset != nil {
			p.Ops[logical.DeleteOperation] = b.resetFields(group)
		}
		paths = append(paths, p)
	}
	return paths
}

func (b *backend) readFields(group []*roleField) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		name, err := roleName(d)
		if err != nil {
			return nil, err
		}
		r, err := b.lockedRole(ctx, req.Storage, name)
		if err != nil || r == nil {
			return nil, err
		}
		resp := &logical.Response{Data: map[string]interface{}{}}
		for _, f := range group {
			if v, ok := f.get(r); ok {
				resp.Data[f.name] = v
			}
			if f.legacyOf != "" && len(group) == 1 {
				resp.AddWarning(fmt.Sprintf("The %q field is deprecated and will be removed. Please use %q instead.", f.name, f.legacyOf))
			}
		}
		return resp, nil
	}
}

// changeRole runs fn on a role under its lock and saves the result.
func (b *backend) changeRole(ctx context.Context, req *logical.Request, d *framework.FieldData, fn func(r *roleEntry) ([]string, error)) (*logical.Response, error) {
	name, err := roleName(d)
	if err != nil {
		return nil, err
	}
	lock := b.roleLocks.get(name)
	lock.Lock()
	defer lock.Unlock()
	r, err := b.role(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errNoRole(name)
	}
	prevRoleID := r.RoleID
	warns, err := fn(r)
	if err != nil {
		return nil, err
	}
	more, err := b.saveRole(ctx, req.Storage, r, prevRoleID)
	if err != nil {
		return nil, err
	}
	if warns = append(warns, more...); len(warns) > 0 {
		return &logical.Response{Warnings: warns}, nil
	}
	return nil, nil
}

func (b *backend) updateFields(group []*roleField) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		given := false
		for _, f := range group {
			if _, ok := d.GetOk(f.name); ok {
				given = true
			}
		}
		if !given {
			return nil, logical.InvalidRequest("missing %s", group[0].name)
		}
		return b.changeRole(ctx, req, d, func(r *roleEntry) ([]string, error) {
			return applyFields(r, group, d, false)
		})
	}
}

func (b *backend) resetFields(group []*roleField) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		return b.changeRole(ctx, req, d, func(r *roleEntry) ([]string, error) {
			for _, f := range group {
				if f.reset != nil {
					f.reset(r)
				}
			}
			return nil, nil
		})
	}
}
