package database

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const rolePrefix = "role/"

// roleEntry is a dynamic role.
type roleEntry struct {
	DBName               string   `json:"db_name"`
	CreationStatements   []string `json:"creation_statements"`
	RevocationStatements []string `json:"revocation_statements"`
	RollbackStatements   []string `json:"rollback_statements"`
	RenewStatements      []string `json:"renew_statements"`
	DefaultTTL           int64    `json:"default_ttl"` // seconds
	MaxTTL               int64    `json:"max_ttl"`     // seconds
	CredentialType       string   `json:"credential_type"`
	TerminateSessions    bool     `json:"terminate_sessions"`
}

func (r *roleEntry) defaultTTL() time.Duration { return time.Duration(r.DefaultTTL) * time.Second }
func (r *roleEntry) maxTTL() time.Duration     { return time.Duration(r.MaxTTL) * time.Second }

func (b *Backend) rolePaths() []*framework.Path {
	stmt := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeStringSlice, Description: desc +
			" One string with statements separated by semicolons, a list, or a JSON array."}
	}
	return []*framework.Path{{
		Pattern:  "roles/?",
		Ops:      framework.Ops{logical.ListOperation: b.listRoles},
		Synopsis: "List the dynamic roles.",
	}, {
		Pattern: "roles/" + framework.GenericNameRegex("name"),
		Fields: framework.Fields{
			"name":                  {Type: framework.TypeString, Description: "Name of the role."},
			"db_name":               {Type: framework.TypeString, Description: "Name of the database connection this role uses."},
			"creation_statements":   stmt("Statements that create the user ({{name}}, {{password}}, {{expiration}})."),
			"revocation_statements": stmt("Statements that remove the user ({{name}}); the database's default when empty."),
			"rollback_statements":   stmt("Statements that undo a failed creation ({{name}})."),
			"renew_statements":      stmt("Statements that extend the user ({{name}}, {{expiration}})."),
			"default_ttl":           {Type: framework.TypeDurationSecond, Description: "Default lease TTL (0: the mount's)."},
			"max_ttl":               {Type: framework.TypeDurationSecond, Description: "Maximum lease TTL (0: the mount's)."},
			"credential_type": {Type: framework.TypeString, Default: "password", AllowedValues: []interface{}{"password"},
				Description: `Type of credential; "password".`},
			"credential_config": {Type: framework.TypeKVPairs, Description: "Accepted for compatibility; unused."},
			"terminate_sessions": {Type: framework.TypeBool, Default: true,
				Description: "End the user's live sessions when its lease is revoked."},
		},
		Ops: framework.Ops{
			logical.CreateOperation: b.writeRole,
			logical.UpdateOperation: b.writeRole,
			logical.ReadOperation:   b.readRole,
			logical.DeleteOperation: b.deleteRole,
		},
		Exists:   b.roleExists,
		Synopsis: "Manage the roles that generate database credentials.",
	}}
}

func loadRole(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	var r roleEntry
	ok, err := logical.GetJSON(ctx, s, rolePrefix+name, &r)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

func (b *Backend) roleExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	r, err := loadRole(ctx, req.Storage, d.String("name"))
	return r != nil, err
}

func (b *Backend) listRoles(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, rolePrefix)
	if err != nil {
		return nil, err
	}
	return framework.ListResponse(keys), nil
}

func (b *Backend) writeRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	if s, err := loadStaticRole(ctx, req.Storage, name); err != nil {
		return nil, err
	} else if s != nil {
		return nil, logical.InvalidRequest("Role and Static Role names must be unique")
	}
	r, err := loadRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &roleEntry{CredentialType: "password", TerminateSessions: true}
	}
	if v, ok := d.GetOk("db_name"); ok {
		r.DBName = v.(string)
	}
	for field, dst := range map[string]*[]string{
		"creation_statements": &r.CreationStatements, "revocation_statements": &r.RevocationStatements,
		"rollback_statements": &r.RollbackStatements, "renew_statements": &r.RenewStatements,
	} {
		if v, ok := d.GetOk(field); ok {
			*dst = removeEmpty(v.([]string))
		}
	}
	if v, ok := d.GetOk("default_ttl"); ok {
		r.DefaultTTL = int64(v.(int))
	}
	if v, ok := d.GetOk("max_ttl"); ok {
		r.MaxTTL = int64(v.(int))
	}
	if v, ok := d.GetOk("credential_type"); ok {
		r.CredentialType = v.(string)
	}
	if v, ok := d.GetOk("terminate_sessions"); ok {
		r.TerminateSessions = v.(bool)
	}
	switch {
	case r.DBName == "":
		return nil, logical.InvalidRequest("database name is required (field \"db_name\")")
	case len(r.CreationStatements) == 0:
		return nil, logical.InvalidRequest("creation_statements are required")
	case r.MaxTTL > 0 && r.DefaultTTL > r.MaxTTL:
		return nil, logical.InvalidRequest("default_ttl (%ds) cannot be greater than max_ttl (%ds)", r.DefaultTTL, r.MaxTTL)
	}
	if err := logical.PutJSON(ctx, req.Storage, rolePrefix+name, r); err != nil {
		return nil, err
	}
	if w := b.churnWarning(r.defaultTTL()); w != "" {
		return &logical.Response{Warnings: []string{w}}, nil
	}
	return nil, nil
}

// churnWarning explains what a very short default_ttl costs: every client
// that keeps credentials asks for new ones each TTL, and each is a user
// created and dropped on the database.
func (b *Backend) churnWarning(ttl time.Duration) string {
	if ttl <= 0 || b.churnWarningTTL <= 0 || ttl >= b.churnWarningTTL {
		return ""
	}
	perHour := int(time.Hour / ttl)
	return fmt.Sprintf("default_ttl %s is shorter than %s: each client that keeps credentials will create about %d database users per hour (one per TTL), each a CREATE and a DROP on the database; consider a longer default_ttl and renewing leases (mount option churn_warning_ttl sets this threshold)",
		ttl, b.churnWarningTTL, perHour)
}

func (b *Backend) readRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := loadRole(ctx, req.Storage, d.String("name"))
	if err != nil || r == nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{
		"db_name":               r.DBName,
		"creation_statements":   nonNil(r.CreationStatements),
		"revocation_statements": nonNil(r.RevocationStatements),
		"rollback_statements":   nonNil(r.RollbackStatements),
		"renew_statements":      nonNil(r.RenewStatements),
		"default_ttl":           r.DefaultTTL,
		"max_ttl":               r.MaxTTL,
		"credential_type":       r.CredentialType,
		"terminate_sessions":    r.TerminateSessions,
	}}, nil
}

func (b *Backend) deleteRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, req.Storage.Delete(ctx, rolePrefix+d.String("name"))
}

func removeEmpty(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
