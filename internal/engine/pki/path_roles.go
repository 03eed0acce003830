package pki

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) rolePaths() []*framework.Path {
	fields := framework.Fields{"name": {Type: framework.TypeString, Description: "Name of the role."}}
	for name, f := range b.roles {
		fields[name] = f.schema
	}
	return []*framework.Path{{
		Pattern:  "roles/?",
		Ops:      framework.Ops{logical.ListOperation: b.listRoles},
		Synopsis: "List the roles.",
	}, {
		Pattern: "roles/" + framework.GenericNameRegex("name"),
		Fields:  fields,
		Ops: framework.Ops{
			logical.ReadOperation:   b.readRole,
			logical.UpdateOperation: b.writeRole,
			logical.PatchOperation:  b.patchRole,
			logical.DeleteOperation: b.deleteRole,
		},
		Synopsis:    "Manage the roles that decide which certificates can be issued.",
		Description: "Writing a role replaces it, with defaults for omitted fields; PATCH changes only the given fields.",
	}}
}

// getRole reads a stored role; nil when it does not exist.
func getRole(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	r := &roleEntry{}
	ok, err := logical.GetJSON(ctx, s, rolePrefix+name, r)
	if err != nil || !ok {
		return nil, err
	}
	return r, nil
}

func (b *backend) listRoles(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, rolePrefix)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return framework.ListResponse(keys), nil
}

func (b *backend) readRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := getRole(ctx, req.Storage, d.String("name"))
	if err != nil || r == nil {
		return nil, err
	}
	return &logical.Response{Data: r.responseData(b.roles)}, nil
}

func (b *backend) deleteRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if err := req.Storage.Delete(ctx, rolePrefix+d.String("name")); err != nil {
		return nil, fmt.Errorf("delete role: %w", err)
	}
	return nil, nil
}

// writeRole replaces the role: every field takes the request's value or
// its default, as Vault does.
func (b *backend) writeRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r := &roleEntry{}
	for name, f := range b.roles {
		f.set(r, d.Get(name))
	}
	_, leaseGiven := d.GetOk("generate_lease")
	return b.saveRole(ctx, req, d, r, leaseGiven && r.GenerateLease)
}

// patchRole changes only the fields present in the request.
func (b *backend) patchRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := getRole(ctx, req.Storage, d.String("name"))
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, logical.InvalidRequest("Unable to fetch role entry to patch")
	}
	for name, f := range b.roles {
		if v, ok := d.GetOk(name); ok {
			f.set(r, v)
		}
	}
	return b.saveRole(ctx, req, d, r, r.GenerateLease)
}

func (b *backend) saveRole(ctx context.Context, req *logical.Request, d *framework.FieldData, r *roleEntry, leaseAsked bool) (*logical.Response, error) {
	if oids, ok, err := jsonPolicyIdentifiers(d.Raw["policy_identifiers"]); ok {
		if err != nil {
			return nil, logical.InvalidRequest("%s", err.Error())
		}
		r.PolicyIdentifiers = oids
	}
	warnings, err := b.normalizeRole(newStore(ctx, req.Storage), r)
	if err != nil {
		return nil, err
	}
	if r.NoStore {
		r.GenerateLease = false
		if leaseAsked {
			warnings = append(warnings, "mutually exclusive values no_store=true and generate_lease=true were both specified; no_store=true takes priority")
		}
	} else if r.GenerateLease {
		warnings = append(warnings, "it is encouraged to disable generate_lease and rely on PKI's native capabilities when possible; this option can cause instance-wide issues with large numbers of issued certificates")
	}
	if err := logical.PutJSON(ctx, req.Storage, rolePrefix+d.String("name"), r); err != nil {
		return nil, fmt.Errorf("store role: %w", err)
	}
	return &logical.Response{Data: r.responseData(b.roles), Warnings: warnings}, nil
}

// normalizeRole applies defaults and checks the role as Vault's
// validateRole does; unresolvable issuers only warn.
func (b *backend) normalizeRole(st *store, r *roleEntry) ([]string, error) {
	var warnings []string
	if r.MaxTTL > 0 && r.TTL > r.MaxTTL {
		return nil, logical.InvalidRequest(`"ttl" value must be less than "max_ttl" value`)
	}
	var err error
	if r.KeyBits, r.SignatureBits, err = normalizeKeySpec(r.KeyType, r.KeyBits, r.SignatureBits); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	if _, err := parseKeyUsages(r.KeyUsage); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	if _, err := parseExtKeyUsages(r.ExtKeyUsage); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	for _, s := range r.ExtKeyUsageOIDs {
		if _, err := parseOID(s); err != nil {
			return nil, logical.InvalidRequest("%q could not be parsed as a valid oid for an extended key usage", s)
		}
	}
	if !(len(r.AllowedOtherSANs) == 1 && r.AllowedOtherSANs[0] == "*") {
		if _, err := parseOtherNames(r.AllowedOtherSANs); err != nil {
			return nil, logical.InvalidRequest("error parsing allowed_other_sans: %v", err)
		}
	}
	if _, err := policyOIDs(r.PolicyIdentifiers); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	for _, f := range []struct{ name, v string }{{"not_before", r.NotBefore}, {"not_after", r.NotAfter}} {
		if f.v != "" {
			if _, err := time.Parse(time.RFC3339, f.v); err != nil {
				return nil, logical.InvalidRequest("%s must be an RFC 3339 time: %v", f.name, err)
			}
		}
	}
	if r.CNValidations, err = checkCNValidations(r.CNValidations); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	if r.Issuer == "" {
		r.Issuer = defaultRef
	}
	if _, err := st.resolveIssuer(r.Issuer); err != nil {
		if !errors.Is(err, errRefNotFound) {
			return nil, err
		}
		if r.Issuer == defaultRef {
			warnings = append(warnings, "Issuing Certificate was set to default, but no default issuing certificate (configurable at /config/issuers) is currently set")
		} else {
			warnings = append(warnings, fmt.Sprintf("Issuing Certificate was set to %s but no issuing certificate currently has that name", r.Issuer))
		}
	}
	return warnings, nil
}

// checkCNValidations normalizes cn_validations with Vault's rules.
func checkCNValidations(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{"email", "hostname"}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, v := range in {
		v = strings.ToLower(strings.TrimSpace(v))
		switch v {
		case "disabled", "email", "hostname":
		default:
			return nil, fmt.Errorf("cn_validations value incorrect: unknown type: `%s`", v)
		}
		if seen[v] {
			return nil, fmt.Errorf("cn_validations value incorrect: `%s` specified multiple times", v)
		}
		seen[v] = true
		out = append(out, v)
	}
	if seen["disabled"] && (seen["email"] || seen["hostname"]) {
		return nil, fmt.Errorf("cn_validations value incorrect: cannot specify `disabled` along with `email` or `hostname`")
	}
	return out, nil
}
