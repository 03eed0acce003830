package token

import (
	"context"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const backendHelp = `
The token auth method is always mounted at auth/token/. It creates, looks
up, renews and revokes tokens, and manages token roles.
`

// Backend returns the auth/token/ backend. It keeps its data in the view
// given to NewStore and ignores req.Storage.
func (s *Store) Backend() logical.Backend { return s.backend }

func (s *Store) newBackend() *framework.Backend {
	return &framework.Backend{
		Help:  backendHelp,
		Paths: s.paths(),
		PathsSpecial: &logical.Paths{
			Root: []string{"revoke-orphan*", "accessors*"},
		},
		BackendType: logical.TypeCredential,
		AuthRenew:   s.authRenew,
	}
}

func createFields(withRole bool) framework.Fields {
	str := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeString, Description: desc}
	}
	f := framework.Fields{
		"id":                {Type: framework.TypeString, Sensitive: true, Description: "Value for the token (root or sudo only)."},
		"policies":          {Type: framework.TypeCommaStringSlice, Description: "Policies of the token."},
		"meta":              {Type: framework.TypeKVPairs, Description: "Metadata (key=value) of the token."},
		"no_parent":         {Type: framework.TypeBool, Description: "Create an orphan token (root or sudo only)."},
		"no_default_policy": {Type: framework.TypeBool, Description: `Do not add the "default" policy.`},
		"renewable":         {Type: framework.TypeBool, Default: true, Description: "Whether the token may be renewed."},
		"num_uses":          {Type: framework.TypeInt, Description: "Max number of uses (0: unlimited)."},
		"display_name":      str("Display name of the token."),
		"ttl":               str("TTL of the token."),
		"lease":             str("Deprecated: use ttl."),
		"explicit_max_ttl":  str("Hard max lifetime of the token."),
		"period":            str("Renewal period; makes the token periodic (root or sudo only)."),
		"type":              str(`Token type: "service" or "batch".`),
		"entity_alias":      str("Entity alias to attach (accepted, unused)."),
	}
	if withRole {
		f["role_name"] = str("Name of the token role to create the token against.")
	}
	return f
}

func tokenField(desc string) framework.Fields {
	return framework.Fields{"token": {Type: framework.TypeString, Sensitive: true, Query: true, Description: desc}}
}

func accessorField(withIncrement bool) framework.Fields {
	f := framework.Fields{"accessor": {Type: framework.TypeString, Description: "Accessor of the token."}}
	if withIncrement {
		f["increment"] = incrementField()
	}
	return f
}

func incrementField() *framework.FieldSchema {
	return &framework.FieldSchema{Type: framework.TypeDurationSecond, Description: "Requested extension of the token's lease."}
}

func (s *Store) paths() []*framework.Path {
	upd := logical.UpdateOperation
	renewFields := tokenField("Token to renew.")
	renewFields["increment"] = incrementField()
	return []*framework.Path{
		{Pattern: "create", Fields: createFields(true), Ops: framework.Ops{upd: s.handleCreate(false)},
			Synopsis: "Create a token, a child of the calling token."},
		{Pattern: "create-orphan", Fields: createFields(false), Ops: framework.Ops{upd: s.handleCreate(true)},
			Synopsis: "Create a token with no parent."},
		{Pattern: "create/" + framework.GenericNameRegex("role_name"), Fields: createFields(true), Ops: framework.Ops{upd: s.handleCreate(false)},
			Synopsis: "Create a token against a role."},
		{Pattern: "lookup", Fields: tokenField("Token to look up."),
			Ops:      framework.Ops{logical.ReadOperation: s.handleLookup, upd: s.handleLookup},
			Synopsis: "Look up a token's properties."},
		{Pattern: "lookup-self", Fields: tokenField("Unused."),
			Ops:      framework.Ops{logical.ReadOperation: s.handleLookupSelf, upd: s.handleLookupSelf},
			Synopsis: "Look up the calling token's properties."},
		{Pattern: "lookup-accessor", Fields: accessorField(false), Ops: framework.Ops{upd: s.handleLookupAccessor},
			Synopsis: "Look up a token's properties by its accessor."},
		{Pattern: "renew", Fields: renewFields, Ops: framework.Ops{upd: s.handleRenew},
			Synopsis: "Renew a token's lease."},
		{Pattern: "renew-self", Fields: renewFields, Ops: framework.Ops{upd: s.handleRenewSelf},
			Synopsis: "Renew the calling token's lease."},
		{Pattern: "renew-accessor", Fields: accessorField(true), Ops: framework.Ops{upd: s.handleRenewAccessor},
			Synopsis: "Renew a token's lease by its accessor."},
		{Pattern: "revoke", Fields: tokenField("Token to revoke."), Ops: framework.Ops{upd: s.handleRevoke},
			Synopsis: "Revoke a token and all its children."},
		{Pattern: "revoke-self", Ops: framework.Ops{upd: s.handleRevokeSelf},
			Synopsis: "Revoke the calling token and all its children."},
		{Pattern: "revoke-accessor", Fields: accessorField(false), Ops: framework.Ops{upd: s.handleRevokeAccessor},
			Synopsis: "Revoke a token and all its children by its accessor."},
		{Pattern: "revoke-orphan", Fields: tokenField("Token to revoke."), Ops: framework.Ops{upd: s.handleRevokeOrphan},
			Synopsis: "Revoke a token, leaving its children as orphans (sudo)."},
		{Pattern: "accessors/?", Ops: framework.Ops{logical.ListOperation: s.handleAccessors},
			Synopsis: "List token accessors (sudo)."},
		{Pattern: "roles/?", Ops: framework.Ops{logical.ListOperation: s.roleList},
			Synopsis: "List token roles."},
		{Pattern: "roles/" + framework.GenericNameRegex("role_name"), Fields: roleFields(),
			Ops: framework.Ops{
				logical.ReadOperation:   s.roleRead,
				logical.CreateOperation: s.roleWrite,
				upd:                     s.roleWrite,
				logical.DeleteOperation: s.roleDelete,
			},
			Exists:   s.roleExists,
			Synopsis: "Manage a token role."},
		{Pattern: "tidy", Ops: framework.Ops{upd: s.handleTidy},
			Synopsis: "Clean up token store entries left behind."},
	}
}

// lookupData is the body of the lookup endpoints.
func (s *Store) lookupData(te *Entry) map[string]interface{} {
	data := map[string]interface{}{
		"id":               te.ID,
		"accessor":         te.Accessor,
		"policies":         te.Policies,
		"path":             te.Path,
		"meta":             te.Meta,
		"display_name":     te.DisplayName,
		"num_uses":         te.NumUses,
		"orphan":           te.Orphan(),
		"creation_time":    te.CreationTime.Unix(),
		"creation_ttl":     int64(te.TTL.Seconds()),
		"expire_time":      nil,
		"ttl":              int64(0),
		"explicit_max_ttl": int64(te.ExplicitMaxTTL.Seconds()),
		"entity_id":        te.EntityID,
		"type":             te.Type,
		"issue_time":       te.CreationTime.Format(time.RFC3339Nano),
		"renewable":        te.Renewable && !te.ExpireTime.IsZero(),
	}
	if !te.ExpireTime.IsZero() {
		data["expire_time"] = te.ExpireTime.Format(time.RFC3339Nano)
		data["ttl"] = max(int64(te.ExpireTime.Sub(s.now()).Round(time.Second).Seconds()), 0)
	}
	if te.Role != "" {
		data["role"] = te.Role
	}
	if te.Period != 0 {
		data["period"] = int64(te.Period.Seconds())
	}
	if len(te.BoundCIDRs) > 0 {
		data["bound_cidrs"] = te.BoundCIDRs
	}
	return data
}

func (s *Store) handleLookup(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.String("token")
	if id == "" {
		id = req.ClientToken
	}
	return s.lookupResponse(ctx, id)
}

func (s *Store) handleLookupSelf(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	return s.lookupResponse(ctx, req.ClientToken)
}

func (s *Store) lookupResponse(ctx context.Context, id string) (*logical.Response, error) {
	if id == "" {
		return nil, logical.InvalidRequest("missing token ID")
	}
	te, err := s.lookupTainted(ctx, id)
	if err != nil {
		return nil, err
	}
	if te == nil {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "bad token")
	}
	return &logical.Response{Data: s.lookupData(te)}, nil
}

func (s *Store) handleLookupAccessor(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	te, err := s.byAccessor(ctx, d)
	if err != nil {
		return nil, err
	}
	data := s.lookupData(te)
	data["id"] = ""
	return &logical.Response{Data: data}, nil
}

// byAccessor resolves the "accessor" field to a valid token.
func (s *Store) byAccessor(ctx context.Context, d *framework.FieldData) (*Entry, error) {
	acc := d.String("accessor")
	if acc == "" {
		return nil, logical.InvalidRequest("missing accessor")
	}
	te, err := s.LookupAccessor(ctx, acc)
	if err != nil {
		return nil, err
	}
	if te == nil {
		return nil, logical.InvalidRequest("invalid accessor")
	}
	return te, nil
}

func (s *Store) handleRenew(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return s.renewByID(ctx, d.String("token"), d.Duration("increment"))
}

func (s *Store) handleRenewSelf(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return s.renewByID(ctx, req.ClientToken, d.Duration("increment"))
}

func (s *Store) renewByID(ctx context.Context, id string, increment time.Duration) (*logical.Response, error) {
	if id == "" {
		return nil, logical.InvalidRequest("missing token ID")
	}
	te, err := s.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if te == nil {
		return nil, logical.InvalidRequest("token not found")
	}
	return s.Renew(ctx, te, increment)
}

func (s *Store) handleRenewAccessor(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	te, err := s.byAccessor(ctx, d)
	if err != nil {
		return nil, err
	}
	resp, err := s.Renew(ctx, te, d.Duration("increment"))
	if resp != nil && resp.Auth != nil {
		resp.Auth.ClientToken = ""
	}
	return resp, err
}

// authRenew serves a renew request carrying req.Auth (from the lease
// manager), naming the token by ClientToken or Accessor.
func (s *Store) authRenew(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	var te *Entry
	var err error
	if req.Auth.ClientToken != "" {
		te, err = s.Lookup(ctx, req.Auth.ClientToken)
	} else {
		te, err = s.LookupAccessor(ctx, req.Auth.Accessor)
	}
	if err != nil {
		return nil, err
	}
	if te == nil {
		return nil, logical.InvalidRequest("token not found")
	}
	return s.Renew(ctx, te, req.Auth.Increment)
}

func (s *Store) handleRevoke(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.String("token")
	if id == "" {
		return nil, logical.InvalidRequest("missing token ID")
	}
	te, err := s.Lookup(ctx, id)
	if err != nil || te == nil {
		return nil, err
	}
	return nil, s.revokeChecked(ctx, te)
}

func (s *Store) handleRevokeSelf(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	te, err := s.lookupTainted(ctx, req.ClientToken)
	if err != nil || te == nil {
		return nil, err
	}
	return nil, s.revokeChecked(ctx, te)
}

func (s *Store) revokeChecked(ctx context.Context, te *Entry) error {
	if te.Type == TypeBatch {
		return logical.InvalidRequest("batch tokens cannot be revoked")
	}
	return s.revokeTree(ctx, s.saltedOf(te), te.ID)
}

func (s *Store) handleRevokeAccessor(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	acc := d.String("accessor")
	if acc == "" {
		return nil, logical.InvalidRequest("missing accessor")
	}
	salted, err := s.accessorToken(ctx, acc)
	if err != nil {
		return nil, err
	}
	if salted == "" {
		resp := &logical.Response{}
		resp.AddWarning("No token found with this accessor")
		return resp, nil
	}
	te, err := s.LookupAccessor(ctx, acc)
	if err != nil {
		return nil, err
	}
	if te == nil {
		return nil, logical.InvalidRequest("token not found")
	}
	return nil, s.revokeChecked(ctx, te)
}

func (s *Store) handleRevokeOrphan(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.String("token")
	if id == "" {
		return nil, logical.InvalidRequest("missing token ID")
	}
	caller, err := s.lookupTainted(ctx, req.ClientToken)
	if err != nil {
		return nil, err
	}
	if caller == nil || !s.isSudo(ctx, caller, req) {
		return nil, logical.InvalidRequest("root or sudo privileges required to revoke and orphan")
	}
	te, err := s.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if te == nil {
		return nil, logical.InvalidRequest("token to revoke not found")
	}
	if te.Type == TypeBatch {
		return nil, logical.InvalidRequest("batch tokens cannot be revoked")
	}
	return nil, s.RevokeOrphan(ctx, id)
}
