package approle

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// roleEntry is a role as stored under role/<name>.
type roleEntry struct {
	Name   string `json:"name"`
	RoleID string `json:"role_id"`

	BindSecretID       bool          `json:"bind_secret_id"`
	SecretIDBoundCIDRs []string      `json:"secret_id_bound_cidrs,omitempty"`
	SecretIDNumUses    int           `json:"secret_id_num_uses"`
	SecretIDTTL        time.Duration `json:"secret_id_ttl"`
	LocalSecretIDs     bool          `json:"local_secret_ids"`

	TokenPolicies        []string      `json:"token_policies,omitempty"`
	TokenTTL             time.Duration `json:"token_ttl"`
	TokenMaxTTL          time.Duration `json:"token_max_ttl"`
	TokenExplicitMaxTTL  time.Duration `json:"token_explicit_max_ttl"`
	TokenPeriod          time.Duration `json:"token_period"`
	TokenNumUses         int           `json:"token_num_uses"`
	TokenBoundCIDRs      []string      `json:"token_bound_cidrs,omitempty"`
	TokenType            string        `json:"token_type"`
	TokenNoDefaultPolicy bool          `json:"token_no_default_policy"`

	// Policies and Period keep the deprecated "policies" and "period"
	// while a client still sets them, so reads show them back as Vault does.
	Policies []string      `json:"policies,omitempty"`
	Period   time.Duration `json:"period,omitempty"`
}

// roleNameField is the path capture that names a role.
var roleNameField = &framework.FieldSchema{
	Type:        framework.TypeString,
	Description: fmt.Sprintf("Name of the role. Must be less than %d bytes.", maxInputLength),
}

func rolePattern(suffix string) string {
	return "role/" + framework.GenericNameRegex("role_name") + suffix
}

// roleName returns the role named by the request, lower-cased as Vault
// stores role names.
func roleName(d *framework.FieldData) (string, error) {
	name := strings.ToLower(d.String("role_name"))
	switch {
	case name == "":
		return "", logical.InvalidRequest("missing role_name")
	case len(name) > maxInputLength:
		return "", logical.InvalidRequest("role_name is longer than maximum of %d bytes", maxInputLength)
	}
	return name, nil
}

func errNoRole(name string) error {
	return logical.Errorf(logical.ErrNotFound, "role %q does not exist", name)
}

// rolePaths lists the role resource, the role list, and the per-field
// sub-paths generated from the field table.
func (b *backend) rolePaths() []*framework.Path {
	fields := framework.Fields{"role_name": roleNameField}
	for _, f := range b.fields {
		fields[f.name] = f.schema
	}
	paths := []*framework.Path{{
		Pattern:  "role/?",
		Ops:      framework.Ops{logical.ListOperation: b.listRoles},
		Synopsis: "Lists all the roles registered with the method.",
	}, {
		Pattern: rolePattern(""),
		Fields:  fields,
		Ops: framework.Ops{
			logical.CreateOperation: b.writeRole,
			logical.UpdateOperation: b.writeRole,
			logical.ReadOperation:   b.readRole,
			logical.DeleteOperation: b.deleteRole,
		},
		Exists:   b.roleExists,
		Synopsis: "Create, read, update or delete a role.",
		Description: `A role sets the terms of the tokens issued through it (token_*), the terms
of the secret IDs issued for it (secret_id_*), and the CIDR blocks logins and
tokens are bound to. Its fields can also be managed one at a time through the
role/<role_name>/<field> sub-paths.`,
	}}
	return append(paths, b.fieldPaths()...)
}

func (b *backend) roleExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	name, err := roleName(d)
	if err != nil {
		return false, err
	}
	r, err := b.role(ctx, req.Storage, name)
	return r != nil, err
}

func (b *backend) listRoles(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, prefixRole)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return framework.ListResponse(keys), nil
}

// writeRole creates a role (CreateOperation) or changes the fields given
// (UpdateOperation).
func (b *backend) writeRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
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
	creating := r == nil
	if creating {
		if req.Operation != logical.CreateOperation {
			return nil, logical.Errorf(logical.ErrNotFound, "role name %q doesn't exist", name)
		}
		r = &roleEntry{Name: name, BindSecretID: true, TokenType: "default"}
	}
	prevRoleID := r.RoleID
	warns, err := applyFields(r, b.fields, d, creating)
	if err != nil {
		return nil, err
	}
	if creating && r.RoleID == "" {
		if r.RoleID, err = b.newUUID(); err != nil {
			return nil, err
		}
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

func (b *backend) readRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name, err := roleName(d)
	if err != nil {
		return nil, err
	}
	r, err := b.lockedRole(ctx, req.Storage, name)
	if err != nil || r == nil {
		return nil, err
	}
	data := map[string]interface{}{}
	for _, f := range b.fields {
		if f.hidden {
			continue
		}
		if v, ok := f.get(r); ok {
			data[f.name] = v
		}
	}
	resp := &logical.Response{Data: data}
	if checkConstraints(r) != nil {
		resp.AddWarning("Role does not have any constraints set on it. Updates to this role will require a constraint to be set")
	}
	return resp, nil
}

// deleteRole removes a role with every secret ID issued for it.
func (b *backend) deleteRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name, err := roleName(d)
	if err != nil {
		return nil, err
	}
	lock := b.roleLocks.get(name)
	lock.Lock()
	defer lock.Unlock()
	r, err := b.role(ctx, req.Storage, name)
	if err != nil || r == nil {
		return nil, err
	}
	if err := b.flushSecretIDs(ctx, req.Storage, r); err != nil {
		return nil, fmt.Errorf("invalidate the secret IDs of role %q: %w", name, err)
	}
	b.roleIDMu.Lock()
	defer b.roleIDMu.Unlock()
	idKey, err := b.hmac(ctx, req.Storage, "role_id", r.RoleID)
	if err != nil {
		return nil, err
	}
	if err := req.Storage.Delete(ctx, prefixRoleID+idKey); err != nil {
		return nil, fmt.Errorf("delete role_id index of role %q: %w", name, err)
	}
	if err := req.Storage.Delete(ctx, prefixRole+name); err != nil {
		return nil, fmt.Errorf("delete role %q: %w", name, err)
	}
	return nil, nil
}

// role reads a role; nil when it does not exist. The caller holds the
// role's lock when it goes on to change the role.
func (b *backend) role(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	var r roleEntry
	found, err := logical.GetJSON(ctx, s, prefixRole+strings.ToLower(name), &r)
	if err != nil || !found {
		return nil, err
	}
	return &r, nil
}

// lockedRole reads a role under its read lock.
func (b *backend) lockedRole(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	lock := b.roleLocks.get(name)
	lock.RLock()
	defer lock.RUnlock()
	return b.role(ctx, s, name)
}

// roleByRoleID finds the role a role_id belongs to, or nil.
func (b *backend) roleByRoleID(ctx context.Context, s logical.Storage, roleID string) (*roleEntry, error) {
	if len(roleID) > maxInputLength {
		return nil, nil
	}
	idKey, err := b.hmac(ctx, s, "role_id", roleID)
	if err != nil {
		return nil, err
	}
	var idx struct {
		Name string `json:"name"`
	}
	found, err := logical.GetJSON(ctx, s, prefixRoleID+idKey, &idx)
	if err != nil || !found {
		return nil, err
	}
	r, err := b.lockedRole(ctx, s, idx.Name)
	if err != nil || r == nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(r.RoleID), []byte(roleID)) != 1 {
		return nil, nil
	}
	return r, nil
}

// saveRole validates and stores a role and keeps the role_id index in step;
// prevRoleID is the role's role_id before this change ("" for a new role).
// It returns warnings for the client. The caller holds the role's lock.
func (b *backend) saveRole(ctx context.Context, s logical.Storage, r *roleEntry, prevRoleID string) ([]string, error) {
	warns, err := b.validateRole(r)
	if err != nil {
		return nil, err
	}
	b.roleIDMu.Lock()
	defer b.roleIDMu.Unlock()
	keys, err := b.hmacs(ctx, s, "role_id", r.RoleID, prevRoleID)
	if err != nil {
		return nil, err
	}
	newKey, prevKey := keys[0], keys[1]
	var idx struct {
		Name string `json:"name"`
	}
	found, err := logical.GetJSON(ctx, s, prefixRoleID+newKey, &idx)
	if err != nil {
		return nil, fmt.Errorf("read role_id index: %w", err)
	}
	if found && idx.Name != r.Name {
		// The index may be left over from a change that could not remove
		// it; it counts only while its role still has this role_id.
		owner, err := b.role(ctx, s, idx.Name)
		if err != nil {
			return nil, err
		}
		if owner != nil && owner.RoleID == r.RoleID {
			return nil, logical.InvalidRequest("role_id already in use")
		}
		found = false
	}
	if err := logical.PutJSON(ctx, s, prefixRole+r.Name, r); err != nil {
		return nil, fmt.Errorf("store role %q: %w", r.Name, err)
	}
	if !found {
		idx.Name = r.Name
		if err := logical.PutJSON(ctx, s, prefixRoleID+newKey, &idx); err != nil {
			return nil, fmt.Errorf("store role_id index of role %q: %w", r.Name, err)
		}
	}
	if prevRoleID != "" && prevRoleID != r.RoleID {
		// The change is made; a stale index no longer matches the role
		// and is replaced when its role_id is next claimed.
		if err := s.Delete(ctx, prefixRoleID+prevKey); err != nil {
			b.logger.Warn("could not delete the previous role_id index", "role", r.Name, "error", err)
		}
	}
	return warns, nil
}

// validateRole checks a role as a whole after its fields were applied.
func (b *backend) validateRole(r *roleEntry) ([]string, error) {
	if r.RoleID == "" {
		return nil, logical.InvalidRequest("invalid role_id supplied, or failed to generate a role_id")
	}
	if r.TokenTTL > 0 && r.TokenMaxTTL > 0 && r.TokenTTL > r.TokenMaxTTL {
		return nil, logical.InvalidRequest("'token_ttl' cannot be greater than 'token_max_ttl'")
	}
	if r.TokenType == "batch" {
		if r.TokenPeriod != 0 {
			return nil, logical.InvalidRequest("'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens")
		}
		if r.TokenNumUses != 0 {
			return nil, logical.InvalidRequest("'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count")
		}
	}
	if err := checkConstraints(r); err != nil {
		return nil, err
	}
	var warns []string
	if _, sysMax := b.sysTTLs(); sysMax > 0 {
		if r.TokenPeriod > sysMax {
			return nil, logical.InvalidRequest("period of %q is greater than the backend's maximum lease TTL of %q", r.TokenPeriod.String(), sysMax.String())
		}
		if r.TokenMaxTTL > sysMax {
			warns = append(warns, "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated")
		}
	}
	return warns, nil
}

// checkConstraints requires a role to bind its logins somehow: to a secret
// ID or to CIDR blocks.
func checkConstraints(r *roleEntry) error {
	if r.BindSecretID || len(r.SecretIDBoundCIDRs) > 0 || len(r.TokenBoundCIDRs) > 0 {
		return nil
	}
	return logical.InvalidRequest("at least one constraint should be enabled on the role")
}
