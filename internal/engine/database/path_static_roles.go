package database

import (
	"context"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const staticRolePrefix = "static-role/"

// minRotationPeriod is Vault's lower bound for rotation_period.
const minRotationPeriod = 5 * time.Second

// staticRole is a database user whose password the engine rotates.
type staticRole struct {
	DBName             string    `json:"db_name"`
	Username           string    `json:"username"`
	RotationPeriod     int64     `json:"rotation_period"` // seconds
	RotationStatements []string  `json:"rotation_statements"`
	CredentialType     string    `json:"credential_type"`
	Password           string    `json:"password"`
	LastVaultRotation  time.Time `json:"last_vault_rotation"`
}

func (r *staticRole) period() time.Duration { return time.Duration(r.RotationPeriod) * time.Second }

// nextRotation is when the password is due for rotation.
func (r *staticRole) nextRotation() time.Time { return r.LastVaultRotation.Add(r.period()) }

func (b *Backend) staticPaths() []*framework.Path {
	name := framework.Fields{"name": {Type: framework.TypeString, Description: "Name of the static role."}}
	return []*framework.Path{{
		Pattern:  "static-roles/?",
		Ops:      framework.Ops{logical.ListOperation: b.listStaticRoles},
		Synopsis: "List the static roles.",
	}, {
		Pattern: "static-roles/" + framework.GenericNameRegex("name"),
		Fields: framework.Fields{
			"name":     {Type: framework.TypeString, Description: "Name of the static role."},
			"db_name":  {Type: framework.TypeString, Description: "Name of the database connection."},
			"username": {Type: framework.TypeString, Description: "Existing database user whose password is managed."},
			"rotation_period": {Type: framework.TypeDurationSecond,
				Description: "How often the password is rotated (at least 5s)."},
			"rotation_statements": {Type: framework.TypeStringSlice,
				Description: "Statements that set the password ({{name}}, {{password}}); the database's default when empty."},
			"credential_type": {Type: framework.TypeString, Default: "password", AllowedValues: []interface{}{"password"},
				Description: `Type of credential; "password".`},
			"credential_config": {Type: framework.TypeKVPairs, Description: "Accepted for compatibility; unused."},
		},
		Ops: framework.Ops{
			logical.CreateOperation: b.writeStaticRole,
			logical.UpdateOperation: b.writeStaticRole,
			logical.ReadOperation:   b.readStaticRole,
			logical.DeleteOperation: b.deleteStaticRole,
		},
		Exists:   b.staticRoleExists,
		Synopsis: "Manage static roles: existing users whose passwords are rotated.",
	}, {
		Pattern:  "static-creds/" + framework.GenericNameRegex("name"),
		Fields:   name,
		Ops:      framework.Ops{logical.ReadOperation: b.readStaticCreds},
		Synopsis: "Read the current credentials of a static role.",
	}, {
		Pattern:  "rotate-role/" + framework.GenericNameRegex("name"),
		Fields:   name,
		Ops:      framework.Ops{logical.UpdateOperation: b.rotateRole},
		Synopsis: "Rotate the password of a static role now.",
	}}
}

func loadStaticRole(ctx context.Context, s logical.Storage, name string) (*staticRole, error) {
	var r staticRole
	ok, err := logical.GetJSON(ctx, s, staticRolePrefix+name, &r)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

func (b *Backend) staticRoleExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	r, err := loadStaticRole(ctx, req.Storage, d.String("name"))
	return r != nil, err
}

func (b *Backend) listStaticRoles(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, staticRolePrefix)
	if err != nil {
		return nil, err
	}
	return framework.ListResponse(keys), nil
}

func (b *Backend) writeStaticRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	if r, err := loadRole(ctx, req.Storage, name); err != nil {
		return nil, err
	} else if r != nil {
		return nil, logical.InvalidRequest("Role and Static Role names must be unique")
	}
	lock := b.staticLock(name)
	lock.Lock()
	defer lock.Unlock()
	r, err := loadStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	create := r == nil
	if create {
		r = &staticRole{CredentialType: "password"}
	}
	if v, ok := d.GetOk("db_name"); ok {
		r.DBName = v.(string)
	}
	if r.DBName == "" {
		return nil, logical.InvalidRequest("database name is a required field (\"db_name\")")
	}
	username := d.String("username")
	switch {
	case create && username == "":
		return nil, logical.InvalidRequest("username is a required field to create a static account")
	case !create && username != "" && username != r.Username:
		return nil, logical.InvalidRequest("cannot update static account username")
	case create:
		r.Username = username
	}
	if v, ok := d.GetOk("rotation_period"); ok {
		p := time.Duration(v.(int)) * time.Second
		if p < minRotationPeriod {
			return nil, logical.InvalidRequest("rotation_period must be %d seconds or more", int(minRotationPeriod/time.Second))
		}
		r.RotationPeriod = int64(v.(int))
	} else if create {
		return nil, logical.InvalidRequest("rotation_period is required to create static accounts")
	}
	if v, ok := d.GetOk("rotation_statements"); ok {
		r.RotationStatements = removeEmpty(v.([]string))
	}
	if v, ok := d.GetOk("credential_type"); ok {
		r.CredentialType = v.(string)
	}
	if create {
		// As Vault: take over the account by rotating its password now.
		if err := b.rotateStatic(ctx, req.Storage, name, r); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return nil, logical.PutJSON(ctx, req.Storage, staticRolePrefix+name, r)
}

func (b *Backend) readStaticRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := loadStaticRole(ctx, req.Storage, d.String("name"))
	if err != nil || r == nil {
		return nil, err
	}
	data := map[string]interface{}{
		"db_name":             r.DBName,
		"username":            r.Username,
		"rotation_period":     r.RotationPeriod,
		"rotation_statements": nonNil(r.RotationStatements),
		"credential_type":     r.CredentialType,
	}
	if !r.LastVaultRotation.IsZero() {
		data["last_vault_rotation"] = r.LastVaultRotation
	}
	return &logical.Response{Data: data}, nil
}

func (b *Backend) deleteStaticRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	lock := b.staticLock(name)
	lock.Lock()
	defer lock.Unlock()
	return nil, req.Storage.Delete(ctx, staticRolePrefix+name)
}

func (b *Backend) readStaticCreds(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	r, err := loadStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, logical.InvalidRequest("unknown role: %s", name)
	}
	conn, err := b.getConn(ctx, req.Storage, r.DBName)
	if err != nil {
		return nil, err
	}
	if !roleAllowed(conn.cfg.AllowedRoles, name) {
		return nil, logical.InvalidRequest("%q is not an allowed role", name)
	}
	if !b.now().Before(r.nextRotation()) {
		// Engines own no timers: a read past the period rotates first.
		if r, err = b.rotateIfDue(ctx, req.Storage, name); err != nil {
			return nil, err
		}
		if r == nil {
			return nil, logical.InvalidRequest("unknown role: %s", name)
		}
	}
	ttl := r.nextRotation().Sub(b.now()).Round(time.Second)
	if ttl < 0 {
		ttl = 0
	}
	return &logical.Response{Data: map[string]interface{}{
		"username":            r.Username,
		"password":            r.Password,
		"last_vault_rotation": r.LastVaultRotation,
		"rotation_period":     r.RotationPeriod,
		"ttl":                 int64(ttl / time.Second),
	}}, nil
}

func (b *Backend) rotateRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	lock := b.staticLock(name)
	lock.Lock()
	defer lock.Unlock()
	r, err := loadStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, logical.InvalidRequest("no static role found for role name")
	}
	return nil, b.rotateStatic(ctx, req.Storage, name, r)
}
