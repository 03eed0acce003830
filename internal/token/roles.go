package token

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

var pathSuffixRe = regexp.MustCompile(`^\w[\w.-]*\w$|^\w$`)

// role is a token role stored under roles/<name>.
type role struct {
	Name                   string        `json:"name"`
	AllowedPolicies        []string      `json:"allowed_policies"`
	DisallowedPolicies     []string      `json:"disallowed_policies"`
	AllowedPoliciesGlob    []string      `json:"allowed_policies_glob"`
	DisallowedPoliciesGlob []string      `json:"disallowed_policies_glob"`
	AllowedEntityAliases   []string      `json:"allowed_entity_aliases"`
	Orphan                 bool          `json:"orphan"`
	Renewable              bool          `json:"renewable"`
	PathSuffix             string        `json:"path_suffix"`
	TokenType              string        `json:"token_type"`
	TokenTTL               time.Duration `json:"token_ttl"`
	TokenMaxTTL            time.Duration `json:"token_max_ttl"`
	TokenPeriod            time.Duration `json:"token_period"`
	TokenExplicitMaxTTL    time.Duration `json:"token_explicit_max_ttl"`
	TokenBoundCIDRs        []string      `json:"token_bound_cidrs"`
	TokenNoDefaultPolicy   bool          `json:"token_no_default_policy"`
	TokenNumUses           int           `json:"token_num_uses"`
	// Legacy fields, echoed on read as they were written.
	Period         time.Duration `json:"period"`
	ExplicitMaxTTL time.Duration `json:"explicit_max_ttl"`
	BoundCIDRs     []string      `json:"bound_cidrs"`
}

func (r *role) restrictsPolicies() bool {
	return len(r.AllowedPolicies) > 0 || len(r.DisallowedPolicies) > 0 ||
		len(r.AllowedPoliciesGlob) > 0 || len(r.DisallowedPoliciesGlob) > 0
}

func (s *Store) role(ctx context.Context, name string) (*role, error) {
	var r role
	ok, err := logical.GetJSON(ctx, s.view, rolesPrefix+name, &r)
	if err != nil || !ok {
		return nil, err
	}
	if r.TokenType == "" || r.TokenType == "default" {
		r.TokenType = "default-service"
	}
	return &r, nil
}

func roleFields() framework.Fields {
	dur := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeDurationSecond, Description: desc}
	}
	list := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeCommaStringSlice, Description: desc}
	}
	return framework.Fields{
		"role_name":                {Type: framework.TypeString, Description: "Name of the role."},
		"allowed_policies":         list("Policies tokens of this role may have, instead of a subset of the parent's."),
		"disallowed_policies":      list("Policies tokens of this role may not have."),
		"allowed_policies_glob":    list("Glob patterns of allowed policies."),
		"disallowed_policies_glob": list("Glob patterns of disallowed policies."),
		"allowed_entity_aliases":   list("Entity aliases allowed at token creation (accepted, unused)."),
		"orphan":                   {Type: framework.TypeBool, Description: "Create orphan tokens."},
		"renewable":                {Type: framework.TypeBool, Default: true, Description: "Whether tokens may be renewed."},
		"path_suffix":              {Type: framework.TypeString, Description: "Suffix appended to the token path."},
		"token_type":               {Type: framework.TypeString, Description: `"service", "batch", "default-service" or "default-batch".`},
		"token_ttl":                dur("Default TTL of tokens of this role."),
		"token_max_ttl":            dur("Max TTL of tokens of this role."),
		"token_period":             dur("Period of tokens of this role (makes them periodic)."),
		"token_explicit_max_ttl":   dur("Hard max lifetime of tokens of this role."),
		"token_bound_cidrs":        list("CIDRs tokens of this role may be used from."),
		"token_no_default_policy":  {Type: framework.TypeBool, Description: `Do not add the "default" policy.`},
		"token_num_uses":           {Type: framework.TypeInt, Description: "Max uses of tokens of this role (0: unlimited)."},
		"period":                   dur("Deprecated: use token_period."),
		"explicit_max_ttl":         dur("Deprecated: use token_explicit_max_ttl."),
		"bound_cidrs":              list("Deprecated: use token_bound_cidrs."),
	}
}

func (s *Store) roleExists(ctx context.Context, _ *logical.Request, d *framework.FieldData) (bool, error) {
	r, err := s.role(ctx, d.String("role_name"))
	return r != nil, err
}

func (s *Store) roleList(ctx context.Context, _ *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := s.view.List(ctx, rolesPrefix)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return framework.ListResponse(keys), nil
}

func (s *Store) roleDelete(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if err := s.view.Delete(ctx, rolesPrefix+d.String("role_name")); err != nil {
		return nil, fmt.Errorf("delete role: %w", err)
	}
	return nil, nil
}

func (s *Store) roleRead(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := s.role(ctx, d.String("role_name"))
	if err != nil || r == nil {
		return nil, err
	}
	secs := func(d time.Duration) int64 { return int64(d.Seconds()) }
	data := map[string]interface{}{
		"name":                     r.Name,
		"allowed_policies":         nonNil(r.AllowedPolicies),
		"disallowed_policies":      nonNil(r.DisallowedPolicies),
		"allowed_policies_glob":    nonNil(r.AllowedPoliciesGlob),
		"disallowed_policies_glob": nonNil(r.DisallowedPoliciesGlob),
		"allowed_entity_aliases":   r.AllowedEntityAliases,
		"orphan":                   r.Orphan,
		"renewable":                r.Renewable,
		"path_suffix":              r.PathSuffix,
		"token_type":               r.TokenType,
		"token_ttl":                secs(r.TokenTTL),
		"token_max_ttl":            secs(r.TokenMaxTTL),
		"token_period":             secs(r.TokenPeriod),
		"token_explicit_max_ttl":   secs(r.TokenExplicitMaxTTL),
		"token_no_default_policy":  r.TokenNoDefaultPolicy,
		"period":                   secs(r.Period),
		"explicit_max_ttl":         secs(r.ExplicitMaxTTL),
	}
	if len(r.TokenBoundCIDRs) > 0 {
		data["token_bound_cidrs"] = r.TokenBoundCIDRs
	}
	if len(r.BoundCIDRs) > 0 {
		data["bound_cidrs"] = r.BoundCIDRs
	}
	if r.TokenNumUses > 0 {
		data["token_num_uses"] = r.TokenNumUses
	}
	return &logical.Response{Data: data}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// roleWrite creates or updates a role. On create, absent fields take their
// defaults; on update they keep their stored values.
func (s *Store) roleWrite(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("role_name")
	r, err := s.role(ctx, name)
	if err != nil {
		return nil, err
	}
	creating := r == nil
	if creating {
		r = &role{Name: name, Renewable: true, TokenType: "default-service"}
	}
	set := func(key string, apply func(v interface{})) {
		if v, ok := d.GetOk(key); ok {
			apply(v)
		}
	}
	set("orphan", func(v interface{}) { r.Orphan = v.(bool) })
	set("renewable", func(v interface{}) { r.Renewable = v.(bool) })
	set("path_suffix", func(v interface{}) { r.PathSuffix = v.(string) })
	set("allowed_policies", func(v interface{}) { r.AllowedPolicies = sanitizePolicies(v.([]string), false) })
	set("disallowed_policies", func(v interface{}) { r.DisallowedPolicies = dedupe(v.([]string)) })
	set("allowed_policies_glob", func(v interface{}) { r.AllowedPoliciesGlob = sanitizePolicies(v.([]string), false) })
	set("disallowed_policies_glob", func(v interface{}) { r.DisallowedPoliciesGlob = dedupe(v.([]string)) })
	set("allowed_entity_aliases", func(v interface{}) { r.AllowedEntityAliases = dedupe(v.([]string)) })
	set("token_no_default_policy", func(v interface{}) { r.TokenNoDefaultPolicy = v.(bool) })
	set("token_ttl", func(v interface{}) { r.TokenTTL = seconds(v) })
	set("token_max_ttl", func(v interface{}) { r.TokenMaxTTL = seconds(v) })
	if r.PathSuffix != "" {
		if strings.Contains(r.PathSuffix, "..") {
			return nil, logical.InvalidRequest("error registering path suffix: path cannot contain parent references")
		}
		if !pathSuffixRe.MatchString(r.PathSuffix) {
			return nil, logical.InvalidRequest("given role path suffix contains invalid characters; must match %s", pathSuffixRe.String())
		}
	}
	if v, ok := d.GetOk("token_type"); ok {
		switch t := strings.ToLower(v.(string)); t {
		case TypeService, TypeBatch, "default-service", "default-batch":
			r.TokenType = t
		case "default":
			r.TokenType = "default-service"
		default:
			return nil, logical.InvalidRequest("invalid 'token_type' value %q", v)
		}
	}
	if v, ok := d.GetOk("token_num_uses"); ok {
		if v.(int) < 0 {
			return nil, logical.InvalidRequest("'token_num_uses' cannot be negative")
		}
		r.TokenNumUses = v.(int)
	}
	resp := &logical.Response{}
	legacyDuration(d, resp, "token_period", "period", &r.TokenPeriod, &r.Period)
	legacyDuration(d, resp, "token_explicit_max_ttl", "explicit_max_ttl", &r.TokenExplicitMaxTTL, &r.ExplicitMaxTTL)
	if err := legacyCIDRs(d, resp, r); err != nil {
		return nil, err
	}
	if r.TokenMaxTTL > 0 && r.TokenTTL > r.TokenMaxTTL {
		return nil, logical.InvalidRequest("'token_ttl' cannot be greater than 'token_max_ttl'")
	}
	if r.TokenExplicitMaxTTL > 0 && r.TokenExplicitMaxTTL > s.sysMax() {
		resp.AddWarning(fmt.Sprintf("Given explicit max TTL of %d is greater than system/mount allowed value of %d seconds; until this is fixed attempting to create tokens against this role will result in an error",
			int64(r.TokenExplicitMaxTTL.Seconds()), int64(s.sysMax().Seconds())))
	}
	if r.TokenType == TypeBatch {
		switch {
		case !r.Orphan:
			return nil, logical.InvalidRequest("'token_type' cannot be 'batch' when role is set to generate non-orphan tokens")
		case r.TokenPeriod != 0:
			return nil, logical.InvalidRequest("'token_type' cannot be 'batch' when role is set to generate periodic tokens")
		case r.Renewable:
			return nil, logical.InvalidRequest("'token_type' cannot be 'batch' when role is set to generate renewable tokens")
		case r.TokenExplicitMaxTTL != 0:
			return nil, logical.InvalidRequest("'token_type' cannot be 'batch' when role is set to generate tokens with an explicit max TTL")
		}
	}
	if err := logical.PutJSON(ctx, s.view, rolesPrefix+name, r); err != nil {
		return nil, fmt.Errorf("store role: %w", err)
	}
	if len(resp.Warnings) == 0 {
		return nil, nil
	}
	return resp, nil
}

func seconds(v interface{}) time.Duration { return time.Duration(v.(int)) * time.Second }

// legacyDuration sets a token_* duration, or its deprecated twin (which is
// then also remembered for read-back); the token_* name wins when both are
// given.
func legacyDuration(d *framework.FieldData, resp *logical.Response, name, legacy string, cur, old *time.Duration) {
	_, hasLegacy := d.GetOk(legacy)
	if v, ok := d.GetOk(name); ok {
		*cur = seconds(v)
		*old = 0
		if hasLegacy {
			resp.AddWarning(fmt.Sprintf("Both '%s' and deprecated '%s' value supplied, ignoring the deprecated value", name, legacy))
		}
		return
	}
	if v, ok := d.GetOk(legacy); ok {
		*old = seconds(v)
		*cur = *old
	}
}

func legacyCIDRs(d *framework.FieldData, resp *logical.Response, r *role) error {
	name, legacy := "token_bound_cidrs", "bound_cidrs"
	_, hasLegacy := d.GetOk(legacy)
	v, ok := d.GetOk(name)
	if ok && hasLegacy {
		resp.AddWarning("Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value")
	}
	if !ok {
		if v, ok = d.GetOk(legacy); !ok {
			return nil
		}
		name = legacy
	}
	cidrs, err := parseCIDRs(v.([]string))
	if err != nil {
		return logical.InvalidRequest("error parsing %s: %v", name, err)
	}
	r.TokenBoundCIDRs = cidrs
	r.BoundCIDRs = nil
	if name == legacy {
		r.BoundCIDRs = cidrs
	}
	return nil
}

// parseCIDRs validates addresses and prefixes ("10.0.0.0/8", "127.0.0.1").
func parseCIDRs(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, c := range in {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if strings.Contains(c, "/") {
			if _, err := netip.ParsePrefix(c); err != nil {
				return nil, err
			}
		} else if _, err := netip.ParseAddr(c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
