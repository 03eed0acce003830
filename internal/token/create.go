package token

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

var displayNameSanitize = regexp.MustCompile(`[^a-zA-Z0-9-]`)

// nonAssignable policies belong to internal tokens only.
var nonAssignable = []string{"response-wrapping", "control-group"}

// createRequest is the decoded body of a create call.
type createRequest struct {
	policies                      []string
	meta                          map[string]string
	id, displayName, tokenType    string
	ttl, explicitMaxTTL, period   string
	numUses                       int
	renewable, noParent, noDefPol bool
	orphanPath                    bool
}

func decodeCreate(d *framework.FieldData, orphanPath bool) *createRequest {
	c := &createRequest{
		policies:       d.Strings("policies"),
		id:             d.String("id"),
		displayName:    d.String("display_name"),
		tokenType:      d.String("type"),
		ttl:            d.String("ttl"),
		explicitMaxTTL: d.String("explicit_max_ttl"),
		period:         d.String("period"),
		numUses:        d.Int("num_uses"),
		renewable:      d.Bool("renewable"),
		noParent:       d.Bool("no_parent"),
		noDefPol:       d.Bool("no_default_policy"),
		orphanPath:     orphanPath,
	}
	if c.ttl == "" {
		c.ttl = d.String("lease")
	}
	if m, ok := d.GetOk("meta"); ok {
		c.meta = m.(map[string]string)
	}
	return c
}

// handleCreate serves create, create-orphan and create/<role>.
func (s *Store) handleCreate(orphanPath bool) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		var r *role
		if _, ok := d.Schema["role_name"]; !ok {
			return s.create(ctx, req, decodeCreate(d, orphanPath), nil)
		}
		if name := d.String("role_name"); name != "" {
			var err error
			if r, err = s.role(ctx, name); err != nil {
				return nil, err
			}
			if r == nil {
				return nil, logical.InvalidRequest("unknown role %s", name)
			}
		}
		return s.create(ctx, req, decodeCreate(d, orphanPath), r)
	}
}

func (s *Store) create(ctx context.Context, req *logical.Request, c *createRequest, r *role) (*logical.Response, error) {
	parent, err := s.Lookup(ctx, req.ClientToken)
	if err != nil {
		return nil, fmt.Errorf("parent token lookup failed: %w", err)
	}
	if parent == nil {
		return nil, logical.InvalidRequest("parent token lookup failed: no parent found")
	}
	if parent.Type == TypeBatch {
		return nil, logical.InvalidRequest("batch tokens cannot create more tokens")
	}
	if parent.NumUses > 0 {
		return nil, logical.InvalidRequest("restricted use token cannot generate child tokens")
	}
	sudo := s.isSudo(ctx, parent, req)
	resp := &logical.Response{}

	te := &Entry{
		Parent:      req.ClientToken,
		Path:        "auth/token/" + req.Path,
		Meta:        c.meta,
		DisplayName: "token",
		NumUses:     c.numUses,
		Type:        TypeService,
	}
	typ, err := tokenTypeFor(c, r)
	if err != nil {
		return nil, err
	}
	te.Type = typ
	renewable := c.renewable
	if typ == TypeBatch {
		renewable = false
	}
	if te.NumUses < 0 {
		return nil, logical.InvalidRequest("number of uses cannot be negative")
	}
	var backendMax time.Duration
	if r != nil {
		te.Role = r.Name
		if !r.Renewable {
			renewable = false
		}
		if r.TokenNumUses > 0 && (te.NumUses == 0 || r.TokenNumUses < te.NumUses) {
			te.NumUses = r.TokenNumUses
		}
		if r.PathSuffix != "" {
			te.Path += "/" + r.PathSuffix
		}
		backendMax = r.TokenMaxTTL
	}
	if c.displayName != "" {
		te.DisplayName = strings.TrimSuffix(displayNameSanitize.ReplaceAllString("token-"+c.displayName, "-"), "-")
	}
	if c.id != "" {
		if !sudo {
			return nil, logical.InvalidRequest("root or sudo privileges required to specify token id")
		}
		te.ID = c.id
	}

	policies, err := childPolicies(c, r, parent, sudo)
	if err != nil {
		return nil, err
	}
	te.Policies = policies
	for _, p := range te.Policies {
		if slices.Contains(nonAssignable, p) {
			return nil, logical.InvalidRequest("cannot assign policy %q", p)
		}
	}
	if te.IsRoot() {
		if !parent.IsRoot() {
			return nil, logical.InvalidRequest("root tokens may not be created without parent token being root")
		}
		if te.Type == TypeBatch {
			return nil, logical.InvalidRequest("batch tokens cannot be root tokens")
		}
	}

	switch {
	case r != nil:
		if r.Orphan {
			te.Parent = ""
		}
		te.BoundCIDRs = r.TokenBoundCIDRs
	case c.noParent:
		if !sudo {
			return nil, logical.InvalidRequest("root or sudo privileges required to create orphan token")
		}
		te.Parent = ""
	case c.orphanPath:
		te.Parent = ""
	}
	if te.Parent != "" {
		te.EntityID = parent.EntityID
		if r == nil {
			te.BoundCIDRs = parent.BoundCIDRs
		}
	}

	explicitMax, err := parseDuration("explicit_max_ttl", c.explicitMaxTTL)
	if err != nil {
		return nil, err
	}
	period, err := parseDuration("period", c.period)
	if err != nil {
		return nil, err
	}
	if period > 0 && !sudo {
		return nil, logical.InvalidRequest("root or sudo privileges required to create periodic token")
	}
	ttl, err := parseDuration("ttl", c.ttl)
	if err != nil {
		return nil, err
	}
	if r != nil && te.Type != TypeBatch {
		explicitMax = lesser(resp, "Explicit max TTL", explicitMax, r.TokenExplicitMaxTTL)
		period = lesser(resp, "Period", period, r.TokenPeriod)
		if ttl == 0 {
			ttl = r.TokenTTL
		}
	}
	if period > 0 || ttl > 0 || !te.IsRoot() {
		got, warns, err := calculateTTL(ttlParams{
			sysDefault: s.sysDefault(), sysMax: s.sysMax(),
			backendTTL: ttl, backendMax: backendMax, period: period, explicitMax: explicitMax,
			now: s.now(),
		})
		if err != nil {
			return nil, err
		}
		resp.Warnings = append(resp.Warnings, warns...)
		ttl = got
	}
	if ttl == 0 && explicitMax > 0 {
		ttl = explicitMax
	}
	if ttl == 0 {
		if !parent.ExpireTime.IsZero() {
			return nil, logical.InvalidRequest("expiring root tokens cannot create non-expiring root tokens")
		}
		renewable = false
		te.BoundCIDRs = nil
	}
	te.TTL, te.Period, te.ExplicitMaxTTL, te.Renewable, te.maxTTL = ttl, period, explicitMax, renewable, backendMax

	if err := s.Create(ctx, te); err != nil {
		return nil, err
	}
	resp.Auth = authFor(te)
	return resp, nil
}

// lesser combines a request value with a role value: the role's applies
// when the request gives none, otherwise the lesser wins (with a warning).
func lesser(resp *logical.Response, what string, req, role time.Duration) time.Duration {
	switch {
	case role == 0:
		return req
	case req == 0:
		return role
	}
	v := min(req, role)
	resp.AddWarning(fmt.Sprintf("%s specified both during creation call and in role; using the lesser value of %d seconds", what, int64(v.Seconds())))
	return v
}

// tokenTypeFor resolves the token type from the request and the role.
func tokenTypeFor(c *createRequest, r *role) (string, error) {
	typ := c.tokenType
	if r != nil {
		switch r.TokenType {
		case "", "default", "default-service":
		case "default-batch":
			if typ == "" {
				typ = TypeBatch
			}
		case TypeService, TypeBatch:
			typ = r.TokenType
		default:
			return "", logical.InvalidRequest("role being used for token creation contains invalid token type %q", r.TokenType)
		}
	}
	switch typ {
	case "", TypeService:
		return TypeService, nil
	case TypeBatch:
		for _, f := range []struct{ name, v string }{{"explicit_max_ttl", c.explicitMaxTTL}, {"period", c.period}} {
			if f.v == "" {
				continue
			}
			if d, err := framework.ParseDurationSecond(f.v); err != nil {
				return "", logical.InvalidRequest("%q value could not be parsed", f.name)
			} else if d != 0 {
				return "", logical.InvalidRequest("batch tokens cannot have %q set", f.name)
			}
		}
		if c.numUses != 0 {
			return "", logical.InvalidRequest("batch tokens cannot have %q set", "num_uses")
		}
		return TypeBatch, nil
	}
	return "", logical.InvalidRequest("invalid 'token_type' value")
}

// childPolicies applies Vault's policy rules for a token created by parent.
func childPolicies(c *createRequest, r *role, parent *Entry, sudo bool) ([]string, error) {
	policies := c.policies
	addDefault := false
	switch {
	case r != nil && r.restrictsPolicies():
		localDefault := !c.noDefPol && !r.TokenNoDefaultPolicy &&
			!slices.Contains(r.DisallowedPolicies, "default") && !anyGlob(r.DisallowedPoliciesGlob, "default")
		var final []string
		if len(policies) > 0 {
			final = sanitizePolicies(policies, localDefault)
		}
		if len(r.AllowedPolicies) > 0 || len(r.AllowedPoliciesGlob) > 0 {
			allowed := sanitizePolicies(r.AllowedPolicies, localDefault)
			if len(final) == 0 {
				final = allowed
			} else {
				for _, p := range final {
					if !slices.Contains(allowed, p) && !anyGlob(r.AllowedPoliciesGlob, p) {
						return nil, logical.InvalidRequest("token policies (%q) must be subset of the role's allowed policies (%q) or glob policies (%q)", final, allowed, r.AllowedPoliciesGlob)
					}
				}
			}
		} else if len(final) == 0 {
			final = sanitizePolicies(parent.Policies, localDefault)
		}
		for _, p := range final {
			if slices.Contains(r.DisallowedPolicies, p) || anyGlob(r.DisallowedPoliciesGlob, p) {
				return nil, logical.InvalidRequest("token policy %q is disallowed by this role", p)
			}
		}
		policies = final
	case len(policies) == 0:
		// Inherit the parent's policies; "default" only if it has it.
		policies = sanitizePolicies(parent.Policies, false)
	case !sudo:
		if !subset(sanitizePolicies(parent.Policies, false), sanitizePolicies(policies, false)) {
			return nil, logical.InvalidRequest("child policies must be subset of parent")
		}
		addDefault = !c.noDefPol && slices.Contains(parent.Policies, "default")
	default:
		addDefault = !c.noDefPol
	}
	out := sanitizePolicies(policies, addDefault)
	if c.noDefPol || (r != nil && r.TokenNoDefaultPolicy) {
		out = slices.DeleteFunc(out, func(p string) bool { return p == "default" })
	}
	return out, nil
}

func (s *Store) isSudo(ctx context.Context, te *Entry, req *logical.Request) bool {
	if te.IsRoot() {
		return true
	}
	if s.opts.HasSudo == nil {
		return false
	}
	mount := req.MountPoint
	if mount == "" {
		mount = "auth/token/"
	}
	return s.opts.HasSudo(ctx, te, mount+req.Path)
}

// authFor builds the auth block returned for a token.
func authFor(te *Entry) *logical.Auth {
	return &logical.Auth{
		LeaseOptions:   logical.LeaseOptions{TTL: te.TTL, Renewable: te.Renewable, IssueTime: te.CreationTime},
		DisplayName:    te.DisplayName,
		Policies:       te.Policies,
		TokenPolicies:  te.Policies,
		Metadata:       te.Meta,
		ClientToken:    te.ID,
		Accessor:       te.Accessor,
		Period:         te.Period,
		ExplicitMaxTTL: te.ExplicitMaxTTL,
		NumUses:        te.NumUses,
		EntityID:       te.EntityID,
		Orphan:         te.Orphan(),
		TokenType:      te.Type,
		BoundCIDRs:     te.BoundCIDRs,
	}
}

// CreateFromAuth creates the token for a login response and fills auth in
// (ClientToken, Accessor, TTL, Policies, TokenPolicies, Orphan, TokenType).
// path is the login request's path, e.g. "auth/approle/login"; the display
// name gets the mount's name as prefix ("approle", "userpass-alice").
// Policies get "default" unless they are root. auth.TTL, MaxTTL, Period and
// ExplicitMaxTTL are the method's terms, bounded by the auth/token mount's
// default and max (fold a tuned login mount's values into TTL/MaxTTL).
// Login tokens are orphans; a non-nil parent with auth.Orphan false makes
// the token its child.
func (s *Store) CreateFromAuth(ctx context.Context, path string, auth *logical.Auth, parent *Entry) (*Entry, error) {
	if auth == nil {
		return nil, errors.New("no auth to create a token from")
	}
	policies := auth.Policies
	if len(policies) == 0 {
		policies = auth.TokenPolicies
	}
	policies = sanitizePolicies(policies, !auth.NoDefaultPolicy) // "root" absorbs "default"
	te := &Entry{
		Path:         path,
		Policies:     policies,
		Meta:         auth.Metadata,
		DisplayName:  loginDisplayName(path, auth.DisplayName),
		NumUses:      auth.NumUses,
		BoundCIDRs:   auth.BoundCIDRs,
		EntityID:     auth.EntityID,
		InternalData: auth.InternalData,
		Renewable:    auth.Renewable,
		maxTTL:       auth.MaxTTL,
	}
	switch auth.TokenType {
	case "", "default", "default-service", TypeService:
		te.Type = TypeService
	case "default-batch", TypeBatch:
		te.Type = TypeBatch
		if auth.Period > 0 {
			return nil, logical.InvalidRequest("batch tokens cannot have %q set", "period")
		}
	default:
		return nil, logical.InvalidRequest("invalid token type %q", auth.TokenType)
	}
	if parent != nil && !auth.Orphan {
		if parent.ID == "" {
			return nil, errors.New("parent token entry has no ID")
		}
		te.Parent = parent.ID
	}
	ttl := auth.TTL
	if auth.Period > 0 || ttl > 0 || !te.IsRoot() {
		got, warns, err := calculateTTL(ttlParams{
			sysDefault: s.sysDefault(), sysMax: s.sysMax(),
			backendTTL: ttl, backendMax: auth.MaxTTL, period: auth.Period, explicitMax: auth.ExplicitMaxTTL,
			now: s.now(),
		})
		if err != nil {
			return nil, err
		}
		for _, w := range warns {
			s.log.Debug("login token TTL capped", "path", path, "warning", w)
		}
		ttl = got
	}
	if ttl == 0 {
		te.Renewable = false
	}
	te.TTL, te.Period, te.ExplicitMaxTTL = ttl, auth.Period, auth.ExplicitMaxTTL
	if err := s.Create(ctx, te); err != nil {
		return nil, err
	}
	filled := authFor(te)
	filled.InternalData = auth.InternalData
	filled.MaxTTL = auth.MaxTTL
	*auth = *filled
	return te, nil
}

// loginDisplayName prefixes a login's display name with its mount's name.
func loginDisplayName(path, name string) string {
	mount := strings.TrimPrefix(path, "auth/")
	if i := strings.Index(mount, "/"); i >= 0 {
		mount = mount[:i]
	}
	if mount == "" {
		return name
	}
	return strings.TrimSuffix(mount+"-"+name, "-")
}
