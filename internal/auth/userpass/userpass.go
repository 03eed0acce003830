// Package userpass is the username and password auth method. Passwords
// are stored only as bcrypt hashes.
package userpass

import (
	"context"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

type backend struct {
	*framework.Backend
	// dummyHash keeps the time of a login for an unknown user close to
	// that of a known one.
	dummyHash []byte
}

type user struct {
	PasswordHash   []byte        `json:"password_hash"`
	TokenPolicies  []string      `json:"token_policies"`
	TokenTTL       time.Duration `json:"token_ttl"`
	TokenMaxTTL    time.Duration `json:"token_max_ttl"`
	TokenPeriod    time.Duration `json:"token_period"`
	TokenNumUses   int           `json:"token_num_uses"`
	TokenBoundCIDR []string      `json:"token_bound_cidrs"`
	TokenType      string        `json:"token_type"`
	NoDefault      bool          `json:"token_no_default_policy"`
}

// Factory creates the userpass auth method.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("dummy password for timing"), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	b := &backend{dummyHash: dummy}
	userFields := framework.Fields{
		"username":                {Type: framework.TypeString},
		"password":                {Type: framework.TypeString, Sensitive: true},
		"token_policies":          {Type: framework.TypeCommaStringSlice},
		"policies":                {Type: framework.TypeCommaStringSlice, Description: "Legacy name of token_policies."},
		"token_ttl":               {Type: framework.TypeDurationSecond},
		"token_max_ttl":           {Type: framework.TypeDurationSecond},
		"token_period":            {Type: framework.TypeDurationSecond},
		"token_num_uses":          {Type: framework.TypeInt},
		"token_bound_cidrs":       {Type: framework.TypeCommaStringSlice},
		"token_type":              {Type: framework.TypeString},
		"token_no_default_policy": {Type: framework.TypeBool},
	}
	b.Backend = &framework.Backend{
		Help:         "The userpass auth method lets users log in with a username and password.",
		BackendType:  logical.TypeCredential,
		PathsSpecial: &logical.Paths{Unauthenticated: []string{"login/*"}},
		AuthRenew:    b.renew,
		Paths: []*framework.Path{
			{
				Pattern:  "users/?",
				Ops:      framework.Ops{logical.ListOperation: b.listUsers},
				Synopsis: "List users.",
			},
			{
				Pattern: "users/" + framework.GenericNameRegex("username"),
				Fields:  userFields,
				Ops: framework.Ops{
					logical.ReadOperation:   b.readUser,
					logical.CreateOperation: b.writeUser,
					logical.UpdateOperation: b.writeUser,
					logical.DeleteOperation: b.deleteUser,
				},
				Exists:   b.userExists,
				Synopsis: "Manage a user.",
			},
			{
				Pattern:  "users/" + framework.GenericNameRegex("username") + "/password",
				Fields:   framework.Fields{"username": {Type: framework.TypeString}, "password": {Type: framework.TypeString, Sensitive: true}},
				Ops:      framework.Ops{logical.UpdateOperation: b.writePassword},
				Synopsis: "Change a user's password.",
			},
			{
				Pattern:  "users/" + framework.GenericNameRegex("username") + "/policies",
				Fields:   framework.Fields{"username": {Type: framework.TypeString}, "token_policies": {Type: framework.TypeCommaStringSlice}, "policies": {Type: framework.TypeCommaStringSlice}},
				Ops:      framework.Ops{logical.UpdateOperation: b.writePolicies},
				Synopsis: "Change a user's policies.",
			},
			{
				Pattern:  "login/" + framework.GenericNameRegex("username"),
				Fields:   framework.Fields{"username": {Type: framework.TypeString}, "password": {Type: framework.TypeString, Sensitive: true}},
				Ops:      framework.Ops{logical.UpdateOperation: b.login},
				Synopsis: "Log in with a username and password.",
			},
		},
	}
	return b, nil
}

func userKey(name string) string { return "user/" + strings.ToLower(name) }

func (b *backend) load(ctx context.Context, s logical.Storage, name string) (*user, error) {
	var u user
	ok, err := logical.GetJSON(ctx, s, userKey(name), &u)
	if err != nil || !ok {
		return nil, err
	}
	return &u, nil
}

func (b *backend) userExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	u, err := b.load(ctx, req.Storage, d.String("username"))
	return u != nil, err
}

func (b *backend) listUsers(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, "user/")
	if err != nil {
		return nil, err
	}
	return framework.ListResponse(keys), nil
}

func (b *backend) readUser(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	u, err := b.load(ctx, req.Storage, d.String("username"))
	if err != nil || u == nil {
		return nil, err
	}
	cidrs := u.TokenBoundCIDR
	if cidrs == nil {
		cidrs = []string{}
	}
	return &logical.Response{Data: map[string]interface{}{
		"token_policies": u.TokenPolicies, "policies": u.TokenPolicies,
		"token_ttl": int64(u.TokenTTL / time.Second), "token_max_ttl": int64(u.TokenMaxTTL / time.Second),
		"token_period": int64(u.TokenPeriod / time.Second), "token_num_uses": u.TokenNumUses,
		"token_bound_cidrs": cidrs, "token_type": typeOr(u.TokenType), "token_no_default_policy": u.NoDefault,
	}}, nil
}

func typeOr(t string) string {
	if t == "" {
		return "default"
	}
	return t
}

func hashPassword(pw string) ([]byte, error) {
	if pw == "" {
		return nil, logical.InvalidRequest("missing password")
	}
	return bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
}

func (b *backend) writeUser(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("username")
	u, err := b.load(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if u == nil {
		if req.Operation == logical.UpdateOperation && d.String("password") == "" {
			return nil, logical.InvalidRequest("missing password: a new user needs one")
		}
		u = &user{}
	}
	if pw, ok := d.GetOk("password"); ok {
		if u.PasswordHash, err = hashPassword(pw.(string)); err != nil {
			return nil, err
		}
	} else if u.PasswordHash == nil {
		return nil, logical.InvalidRequest("missing password: a new user needs one")
	}
	if v, ok := d.GetOk("token_policies"); ok {
		u.TokenPolicies = v.([]string)
	} else if v, ok := d.GetOk("policies"); ok {
		u.TokenPolicies = v.([]string)
	}
	if v, ok := d.GetOk("token_ttl"); ok {
		u.TokenTTL = time.Duration(v.(int)) * time.Second
	}
	if v, ok := d.GetOk("token_max_ttl"); ok {
		u.TokenMaxTTL = time.Duration(v.(int)) * time.Second
	}
	if u.TokenMaxTTL > 0 && u.TokenTTL > u.TokenMaxTTL {
		return nil, logical.InvalidRequest("token_ttl (%s) cannot be greater than token_max_ttl (%s)", u.TokenTTL, u.TokenMaxTTL)
	}
	if v, ok := d.GetOk("token_period"); ok {
		u.TokenPeriod = time.Duration(v.(int)) * time.Second
	}
	if v, ok := d.GetOk("token_num_uses"); ok {
		if v.(int) < 0 {
			return nil, logical.InvalidRequest("token_num_uses cannot be negative")
		}
		u.TokenNumUses = v.(int)
	}
	if v, ok := d.GetOk("token_bound_cidrs"); ok {
		u.TokenBoundCIDR = v.([]string)
	}
	if v, ok := d.GetOk("token_type"); ok {
		switch v.(string) {
		case "", "default", "service", "batch", "default-service", "default-batch":
			u.TokenType = v.(string)
		default:
			return nil, logical.InvalidRequest("invalid token_type %q; accepted: default, service, batch", v)
		}
	}
	if v, ok := d.GetOk("token_no_default_policy"); ok {
		u.NoDefault = v.(bool)
	}
	return nil, logical.PutJSON(ctx, req.Storage, userKey(name), u)
}

func (b *backend) deleteUser(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, req.Storage.Delete(ctx, userKey(d.String("username")))
}

func (b *backend) writePassword(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	u, err := b.load(ctx, req.Storage, d.String("username"))
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, logical.InvalidRequest("username does not exist")
	}
	if u.PasswordHash, err = hashPassword(d.String("password")); err != nil {
		return nil, err
	}
	return nil, logical.PutJSON(ctx, req.Storage, userKey(d.String("username")), u)
}

func (b *backend) writePolicies(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	u, err := b.load(ctx, req.Storage, d.String("username"))
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, logical.InvalidRequest("username does not exist")
	}
	u.TokenPolicies = d.Strings("token_policies")
	if len(u.TokenPolicies) == 0 {
		u.TokenPolicies = d.Strings("policies")
	}
	return nil, logical.PutJSON(ctx, req.Storage, userKey(d.String("username")), u)
}

func (b *backend) login(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := strings.ToLower(d.String("username"))
	u, err := b.load(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	hash := b.dummyHash
	if u != nil {
		hash = u.PasswordHash
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(d.String("password"))) == nil
	// bcrypt compares in constant time; an unknown user costs the same.
	if u == nil || !match {
		return nil, logical.InvalidRequest("invalid username or password")
	}
	tt := u.TokenType
	if tt == "default" || tt == "default-service" {
		tt = ""
	} else if tt == "default-batch" {
		tt = "batch"
	}
	return &logical.Response{Auth: &logical.Auth{
		LeaseOptions:    logical.LeaseOptions{TTL: u.TokenTTL, MaxTTL: u.TokenMaxTTL, Renewable: true},
		InternalData:    map[string]interface{}{"username": name},
		DisplayName:     name,
		Policies:        u.TokenPolicies,
		TokenPolicies:   u.TokenPolicies,
		Metadata:        map[string]string{"username": name},
		Period:          u.TokenPeriod,
		NumUses:         u.TokenNumUses,
		BoundCIDRs:      u.TokenBoundCIDR,
		TokenType:       tt,
		NoDefaultPolicy: u.NoDefault,
	}}, nil
}

// renew approves a token renewal while the user still exists, with the
// user's current TTLs.
func (b *backend) renew(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name, _ := req.Auth.InternalData["username"].(string)
	u, err := b.load(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, logical.InvalidRequest("user %q no longer exists; the token cannot be renewed", name)
	}
	a := *req.Auth
	a.TTL, a.MaxTTL, a.Period = u.TokenTTL, u.TokenMaxTTL, u.TokenPeriod
	return &logical.Response{Auth: &a}, nil
}
