package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Credential types.
const (
	iamUserCred         = "iam_user"
	assumedRoleCred     = "assumed_role"
	federationTokenCred = "federation_token"
)

var credentialTypes = []string{iamUserCred, assumedRoleCred, federationTokenCred}

const rolePrefix = "role/"

var userPathRe = regexp.MustCompile(`^\/([\x21-\x7F]{0,510}\/)?$`)

// roleEntry is a stored role. CredentialTypes holds one type, or two for a
// role upgraded from the legacy "policy" parameter (iam_user through
// creds/, federation_token through sts/).
type roleEntry struct {
	CredentialTypes          []string          `json:"credential_types"`
	PolicyArns               []string          `json:"policy_arns"`
	RoleArns                 []string          `json:"role_arns"`
	PolicyDocument           string            `json:"policy_document"`
	IAMGroups                []string          `json:"iam_groups"`
	IAMTags                  map[string]string `json:"iam_tags"`
	SessionTags              map[string]string `json:"session_tags"`
	ExternalID               string            `json:"external_id"`
	DefaultSTSTTL            time.Duration     `json:"default_sts_ttl"`
	MaxSTSTTL                time.Duration     `json:"max_sts_ttl"`
	UserPath                 string            `json:"user_path"`
	PermissionsBoundaryARN   string            `json:"permissions_boundary_arn"`
	ProhibitFlexibleCredPath bool              `json:"prohibit_flexible_cred_path,omitempty"`
	Version                  int               `json:"version"`
}

func (r *roleEntry) has(t string) bool { return slices.Contains(r.CredentialTypes, t) }

func (r *roleEntry) responseData() map[string]interface{} {
	return map[string]interface{}{
		"credential_type":          strings.Join(r.CredentialTypes, ","),
		"policy_arns":              r.PolicyArns,
		"role_arns":                r.RoleArns,
		"policy_document":          r.PolicyDocument,
		"iam_groups":               r.IAMGroups,
		"iam_tags":                 r.IAMTags,
		"session_tags":             r.SessionTags,
		"external_id":              r.ExternalID,
		"default_sts_ttl":          int64(r.DefaultSTSTTL.Seconds()),
		"max_sts_ttl":              int64(r.MaxSTSTTL.Seconds()),
		"user_path":                r.UserPath,
		"permissions_boundary_arn": r.PermissionsBoundaryARN,
	}
}

// validate checks the merged role as Vault does, naming the offending field.
func (r *roleEntry) validate() error {
	var errs []string
	add := func(format string, args ...interface{}) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if len(r.CredentialTypes) == 0 {
		add("did not supply credential_type")
	}
	for _, t := range r.CredentialTypes {
		if !slices.Contains(credentialTypes, t) {
			add("unrecognized credential_type %q: must be one of %s", t, strings.Join(credentialTypes, ", "))
		}
	}
	sts := r.has(assumedRoleCred) || r.has(federationTokenCred)
	if r.DefaultSTSTTL != 0 && !sts {
		add("default_sts_ttl parameter only valid for %s and %s credential types", assumedRoleCred, federationTokenCred)
	}
	if r.MaxSTSTTL != 0 && !sts {
		add("max_sts_ttl parameter only valid for %s and %s credential types", assumedRoleCred, federationTokenCred)
	}
	if r.MaxSTSTTL > 0 && r.DefaultSTSTTL > r.MaxSTSTTL {
		add(`"default_sts_ttl" value must be less than or equal to "max_sts_ttl" value`)
	}
	if r.UserPath != "" {
		if !r.has(iamUserCred) {
			add("user_path parameter only valid for %s credential type", iamUserCred)
		}
		if !userPathRe.MatchString(r.UserPath) {
			add("the specified value for user_path is invalid. It must match %q regexp", userPathRe.String())
		}
	}
	if r.PermissionsBoundaryARN != "" {
		if !r.has(iamUserCred) {
			add("cannot supply permissions_boundary_arn when credential_type isn't %s", iamUserCred)
		}
		if err := validatePolicyARN(r.PermissionsBoundaryARN); err != nil {
			add("invalid permissions_boundary_arn parameter: %v", err)
		}
	}
	if len(r.RoleArns) > 0 && !r.has(assumedRoleCred) {
		add("cannot supply role_arns when credential_type isn't %s", assumedRoleCred)
	}
	if len(r.SessionTags) > 0 && !r.has(assumedRoleCred) {
		add("cannot supply session_tags when credential_type isn't %s", assumedRoleCred)
	}
	if r.ExternalID != "" && !r.has(assumedRoleCred) {
		add("cannot supply external_id when credential_type isn't %s", assumedRoleCred)
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// arnParts splits "arn:partition:service:region:account:resource".
func arnParts(s string) (service, resource string, ok bool) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] == "" || p[5] == "" {
		return "", "", false
	}
	return p[2], p[5], true
}

func validatePolicyARN(s string) error {
	service, resource, ok := arnParts(s)
	if !ok {
		return fmt.Errorf("%q is not an ARN", s)
	}
	if service != "iam" {
		return fmt.Errorf("expected a service of iam but got %s", service)
	}
	if !strings.HasPrefix(resource, "policy/") {
		return fmt.Errorf("expected a resource type of policy but got %s", resource)
	}
	return nil
}

// compactPolicy validates a JSON policy document and compacts it.
func compactPolicy(field, doc string) (string, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(doc)); err != nil {
		return "", logical.InvalidRequest("cannot parse %s: not valid JSON: %v", field, err)
	}
	var obj map[string]interface{}
	if err := json.Unmarshal(buf.Bytes(), &obj); err != nil {
		return "", logical.InvalidRequest("cannot parse %s: a policy document must be a JSON object", field)
	}
	return buf.String(), nil
}

// legacyRole turns the legacy "policy" (a JSON document) or "arn" (a role
// or managed policy ARN) parameter into a role, as Vault upgrades them.
func legacyRole(value string) (*roleEntry, error) {
	if strings.HasPrefix(value, "arn:") {
		_, resource, ok := arnParts(value)
		if !ok {
			return nil, fmt.Errorf("unable to parse supplied data: %q", value)
		}
		switch strings.SplitN(resource, "/", 2)[0] {
		case "role":
			return &roleEntry{CredentialTypes: []string{assumedRoleCred}, RoleArns: []string{value}, ProhibitFlexibleCredPath: true, Version: 1}, nil
		case "policy":
			return &roleEntry{CredentialTypes: []string{iamUserCred}, PolicyArns: []string{value}, ProhibitFlexibleCredPath: true, Version: 1}, nil
		}
		return nil, fmt.Errorf("unable to parse supplied data: %q", value)
	}
	doc, err := compactPolicy("policy", value)
	if err != nil {
		return nil, fmt.Errorf("unable to parse supplied data: %q", value)
	}
	return &roleEntry{CredentialTypes: []string{iamUserCred, federationTokenCred}, PolicyDocument: doc, ProhibitFlexibleCredPath: true, Version: 1}, nil
}

func (b *backend) readRole(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	var r roleEntry
	ok, err := logical.GetJSON(ctx, s, rolePrefix+name, &r)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

func (b *backend) rolesListPath() *framework.Path {
	return &framework.Path{
		Pattern:  "roles/?",
		Ops:      framework.Ops{logical.ListOperation: b.listRoles},
		Synopsis: "List the existing roles in this backend.",
	}
}

func roleFields() framework.Fields {
	return framework.Fields{
		"name":                     {Type: framework.TypeString, Description: "Name of the role."},
		"credential_type":          {Type: framework.TypeString, Description: "Type of credential to retrieve: iam_user, assumed_role or federation_token."},
		"role_arns":                {Type: framework.TypeCommaStringSlice, Description: "ARNs of AWS roles allowed to be assumed (assumed_role)."},
		"policy_arns":              {Type: framework.TypeCommaStringSlice, Description: "ARNs of managed policies: attached to IAM users, or passed as PolicyArns to STS."},
		"policy_document":          {Type: framework.TypeString, Description: "JSON IAM policy document: the inline policy of IAM users, or the session policy of STS credentials."},
		"iam_groups":               {Type: framework.TypeCommaStringSlice, Description: "IAM groups the users join; for STS, their policies are combined into the session policy."},
		"iam_tags":                 {Type: framework.TypeKVPairs, Description: "Tags set on generated IAM users, as key=value pairs or a map."},
		"session_tags":             {Type: framework.TypeKVPairs, Description: "Session tags passed to AssumeRole (assumed_role)."},
		"external_id":              {Type: framework.TypeString, Description: "External ID passed to AssumeRole (assumed_role)."},
		"default_sts_ttl":          {Type: framework.TypeDurationSecond, Description: "Default TTL of STS credentials when none is requested."},
		"max_sts_ttl":              {Type: framework.TypeDurationSecond, Description: "Maximum TTL of STS credentials; longer requests are capped."},
		"user_path":                {Type: framework.TypeString, Default: "/", Description: "Path of generated IAM users (iam_user)."},
		"permissions_boundary_arn": {Type: framework.TypeString, Description: "ARN of a policy set as permissions boundary of IAM users (iam_user)."},
		"policy":                   {Type: framework.TypeString, Description: "Deprecated: use policy_document."},
		"arn":                      {Type: framework.TypeString, Description: "Deprecated: use role_arns or policy_arns."},
	}
}

func (b *backend) rolePath() *framework.Path {
	return &framework.Path{
		Pattern: "roles/" + framework.GenericNameWithAtRegex("name"),
		Fields:  roleFields(),
		Ops: framework.Ops{
			logical.ReadOperation:   b.readRoleOp,
			logical.UpdateOperation: b.writeRole,
			logical.DeleteOperation: b.deleteRole,
		},
		Synopsis:    "Read, write and delete the roles credentials are generated for.",
		Description: "A role names the credential type and the IAM policies of the credentials; read creds/<role> or write sts/<role> to get credentials.",
	}
}

func (b *backend) listRoles(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, rolePrefix)
	if err != nil {
		return nil, err
	}
	return framework.ListResponse(keys), nil
}

func (b *backend) readRoleOp(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := b.readRole(ctx, req.Storage, d.String("name"))
	if err != nil || r == nil {
		return nil, err
	}
	return &logical.Response{Data: r.responseData()}, nil
}

func (b *backend) deleteRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, req.Storage.Delete(ctx, rolePrefix+d.String("name"))
}

// writeRole creates or updates a role; parameters not given keep their
// stored values.
func (b *backend) writeRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	b.roleMu.Lock()
	defer b.roleMu.Unlock()
	r, err := b.readRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &roleEntry{}
	}
	policy, arn := d.String("policy"), d.String("arn")
	legacy := policy
	switch {
	case policy != "" && arn != "":
		return nil, logical.InvalidRequest("only one of policy or arn should be provided")
	case arn != "":
		legacy = arn
	}
	if legacy != "" {
		for _, f := range []string{"credential_type", "role_arns", "policy_arns", "policy_document", "default_sts_ttl", "max_sts_ttl", "user_path", "permissions_boundary_arn"} {
			if _, ok := d.Raw[f]; ok {
				return nil, logical.InvalidRequest("cannot supply deprecated role or policy parameters with %s", f)
			}
		}
		lr, err := legacyRole(legacy)
		if err != nil {
			return nil, logical.InvalidRequest("%v", err)
		}
		if err := logical.PutJSON(ctx, req.Storage, rolePrefix+name, lr); err != nil {
			return nil, err
		}
		return &logical.Response{Warnings: []string{"Detected use of legacy role or policy parameter. Please upgrade to use the new parameters."}}, nil
	}
	if v, ok := d.GetOk("credential_type"); ok {
		r.CredentialTypes = []string{v.(string)}
	}
	if v, ok := d.GetOk("role_arns"); ok {
		r.RoleArns = v.([]string)
	}
	if v, ok := d.GetOk("policy_arns"); ok {
		r.PolicyArns = v.([]string)
	}
	if v, ok := d.GetOk("policy_document"); ok {
		doc := v.(string)
		if doc != "" {
			if doc, err = compactPolicy("policy_document", doc); err != nil {
				return nil, err
			}
		}
		r.PolicyDocument = doc
	}
	if v, ok := d.GetOk("default_sts_ttl"); ok {
		r.DefaultSTSTTL = time.Duration(v.(int)) * time.Second
	}
	if v, ok := d.GetOk("max_sts_ttl"); ok {
		r.MaxSTSTTL = time.Duration(v.(int)) * time.Second
	}
	if v, ok := d.GetOk("user_path"); ok {
		r.UserPath = v.(string)
	}
	if v, ok := d.GetOk("permissions_boundary_arn"); ok {
		r.PermissionsBoundaryARN = v.(string)
	}
	if v, ok := d.GetOk("iam_groups"); ok {
		r.IAMGroups = v.([]string)
	}
	if v, ok := d.GetOk("iam_tags"); ok {
		r.IAMTags = v.(map[string]string)
	}
	if v, ok := d.GetOk("session_tags"); ok {
		r.SessionTags = v.(map[string]string)
	}
	if v, ok := d.GetOk("external_id"); ok {
		r.ExternalID = v.(string)
	}
	r.ProhibitFlexibleCredPath = false
	if err := r.validate(); err != nil {
		return nil, logical.InvalidRequest("error(s) validating supplied role data: %v", err)
	}
	return nil, logical.PutJSON(ctx, req.Storage, rolePrefix+name, r)
}
