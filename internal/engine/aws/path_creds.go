package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// defaultSTSTTL is the lifetime of STS credentials when neither the
// request nor the role names one.
const defaultSTSTTL = time.Hour

// maxSessionNameLength is AWS's limit on a role session name.
const maxSessionNameLength = 64

func (b *backend) credsPath(prefix string) *framework.Path {
	return &framework.Path{
		Pattern: prefix + framework.GenericNameWithAtRegex("name"),
		Fields: framework.Fields{
			"name":              {Type: framework.TypeString, Description: "Name of the role."},
			"role_arn":          {Type: framework.TypeString, Description: "ARN of the role to assume when credential_type is assumed_role."},
			"ttl":               {Type: framework.TypeDurationSecond, Default: 3600, Description: "Lifetime of STS credentials; capped by the role's max_sts_ttl."},
			"role_session_name": {Type: framework.TypeString, Description: "Session name for AssumeRole; at most 64 characters."},
		},
		Ops: framework.Ops{
			logical.ReadOperation:   b.issueCreds,
			logical.UpdateOperation: b.issueCreds,
		},
		Synopsis:    "Generate AWS credentials from a role.",
		Description: "iam_user roles create an IAM user with an access key, deleted when the lease is revoked. STS roles return temporary credentials whose lease matches their expiry and cannot be renewed or revoked early.",
	}
}

// credentialType picks the role's type for the path, enforcing the rules
// of roles upgraded from legacy parameters.
func credentialType(r *roleEntry, path string) (string, error) {
	viaCreds := strings.HasPrefix(path, "creds/")
	var t string
	switch {
	case len(r.CredentialTypes) == 1:
		t = r.CredentialTypes[0]
	case len(r.CredentialTypes) > 1:
		t = federationTokenCred
		if viaCreds {
			t = iamUserCred
		}
		if !r.has(t) {
			return "", logical.InvalidRequest("requested credential type %q not in allowed credential types %v", t, r.CredentialTypes)
		}
	default:
		return "", logical.InvalidRequest("role has no credential_type")
	}
	if r.ProhibitFlexibleCredPath {
		if t == iamUserCred && !viaCreds {
			return "", logical.InvalidRequest("attempted to retrieve %s credentials through the sts path; this is not allowed for legacy roles", iamUserCred)
		}
		if t != iamUserCred && viaCreds {
			return "", logical.InvalidRequest("attempted to retrieve %s credentials through the creds path; this is not allowed for legacy roles", t)
		}
	}
	return t, nil
}

func (b *backend) issueCreds(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	roleName := d.String("name")
	role, err := b.readRole(ctx, req.Storage, roleName)
	if err != nil {
		return nil, fmt.Errorf("error retrieving role: %w", err)
	}
	if role == nil {
		return nil, logical.InvalidRequest("Role %q not found", roleName)
	}
	t, err := credentialType(role, req.Path)
	if err != nil {
		return nil, err
	}
	rc, err := readRootConfig(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	tmpl := defaultUsernameTemplate
	if rc != nil && rc.UsernameTemplate != "" {
		tmpl = rc.UsernameTemplate
	}
	if t == iamUserCred {
		return b.createIAMUser(ctx, req, tmpl, roleName, role)
	}

	ttl, warning := b.stsTTL(d, role)
	var resp *logical.Response
	switch t {
	case assumedRoleCred:
		roleARN := d.String("role_arn")
		switch {
		case roleARN == "":
			if len(role.RoleArns) != 1 {
				return nil, logical.InvalidRequest("did not supply a role_arn parameter and unable to determine one")
			}
			roleARN = role.RoleArns[0]
		case !slices.Contains(role.RoleArns, roleARN):
			return nil, logical.InvalidRequest("role_arn %q not in allowed role arns for Vault role %q", roleARN, roleName)
		}
		resp, err = b.assumeRole(ctx, req, tmpl, roleName, roleARN, d.String("role_session_name"), role, ttl)
	case federationTokenCred:
		resp, err = b.federationToken(ctx, req, tmpl, role, ttl)
	default:
		return nil, logical.InvalidRequest("unknown credential_type: %q", t)
	}
	if resp != nil && warning != "" {
		resp.AddWarning(warning)
	}
	return resp, err
}

// stsTTL is the requested ttl, else the role's default_sts_ttl, else one
// hour; capped by max_sts_ttl (else the mount's max TTL) with a warning.
func (b *backend) stsTTL(d *framework.FieldData, role *roleEntry) (time.Duration, string) {
	var ttl time.Duration
	if v, ok := d.GetOk("ttl"); ok {
		ttl = time.Duration(v.(int)) * time.Second
	} else if role.DefaultSTSTTL > 0 {
		ttl = role.DefaultSTSTTL
	} else {
		ttl = defaultSTSTTL
	}
	limit, name := role.MaxSTSTTL, "max_sts_ttl"
	if limit <= 0 {
		_, limit = b.sysTTLs()
		name = "the mount's max TTL"
	}
	if limit > 0 && ttl > limit {
		return limit, fmt.Sprintf("requested ttl of %s exceeds %s of %s; the credentials were issued for %s", ttl, name, limit, limit)
	}
	return ttl, ""
}

// stsPolicies combines the role's policy document and ARNs with those of
// its IAM groups, as Vault does for STS credentials.
func (b *backend) stsPolicies(ctx context.Context, req *logical.Request, role *roleEntry) (string, []string, error) {
	policy, arns := role.PolicyDocument, append([]string(nil), role.PolicyArns...)
	if len(role.IAMGroups) == 0 {
		return policy, arns, nil
	}
	client, err := b.iamClient(ctx, req.Storage)
	if err != nil {
		return "", nil, err
	}
	docs, groupARNs, err := groupPolicies(ctx, client, role.IAMGroups)
	if err != nil {
		return "", nil, logical.InvalidRequest("error reading the policies of iam_groups: %v", err)
	}
	if len(docs) > 0 {
		if policy, err = combinePolicyDocuments(append(docs, policy)...); err != nil {
			return "", nil, logical.InvalidRequest("%v", err)
		}
	}
	return policy, append(arns, groupARNs...), nil
}

func policyDescriptors(arns []string) []ststypes.PolicyDescriptorType {
	out := make([]ststypes.PolicyDescriptorType, len(arns))
	for i, a := range arns {
		out[i] = ststypes.PolicyDescriptorType{Arn: aws.String(a)}
	}
	return out
}

func (b *backend) assumeRole(ctx context.Context, req *logical.Request, tmpl, roleName, roleARN, sessionName string, role *roleEntry, ttl time.Duration) (*logical.Response, error) {
	policy, arns, err := b.stsPolicies(ctx, req, role)
	if err != nil {
		return nil, err
	}
	if sessionName == "" {
		if sessionName, err = generateUsername(tmpl, usernameData{Type: "IAM", DisplayName: normalizeName(req.DisplayName), PolicyName: normalizeName(roleName)}); err != nil {
			return nil, err
		}
	} else {
		sessionName = normalizeName(sessionName)
	}
	if len(sessionName) > maxSessionNameLength {
		sessionName = sessionName[:maxSessionNameLength]
	}
	client, err := b.stsClient(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String(sessionName), DurationSeconds: aws.Int32(int32(ttl / time.Second))}
	if policy != "" {
		in.Policy = aws.String(policy)
	}
	if len(arns) > 0 {
		in.PolicyArns = policyDescriptors(arns)
	}
	for _, k := range sortedKeys(role.SessionTags) {
		in.Tags = append(in.Tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(role.SessionTags[k])})
	}
	if role.ExternalID != "" {
		in.ExternalId = aws.String(role.ExternalID)
	}
	out, err := client.AssumeRole(ctx, in)
	if err != nil {
		return nil, logical.InvalidRequest("Error assuming role: %v", err)
	}
	data := b.stsData(out.Credentials)
	if out.AssumedRoleUser != nil {
		data["arn"] = aws.ToString(out.AssumedRoleUser.Arn)
	}
	return b.stsResponse(data, out.Credentials, sessionName, roleARN), nil
}

func (b *backend) federationToken(ctx context.Context, req *logical.Request, tmpl string, role *roleEntry, ttl time.Duration) (*logical.Response, error) {
	policy, arns, err := b.stsPolicies(ctx, req, role)
	if err != nil {
		return nil, err
	}
	// Without a policy the token would carry all of the engine's own
	// permissions.
	if policy == "" && len(arns) == 0 {
		return nil, logical.InvalidRequest("must specify at least one of policy_arns or policy_document with %s credential_type", federationTokenCred)
	}
	name, err := generateUsername(tmpl, usernameData{Type: "STS"})
	if err != nil {
		return nil, err
	}
	client, err := b.stsClient(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	in := &sts.GetFederationTokenInput{Name: aws.String(name), DurationSeconds: aws.Int32(int32(ttl / time.Second))}
	if policy != "" {
		in.Policy = aws.String(policy)
	}
	if len(arns) > 0 {
		in.PolicyArns = policyDescriptors(arns)
	}
	out, err := client.GetFederationToken(ctx, in)
	if err != nil {
		return nil, logical.InvalidRequest("Error generating STS keys: %v", err)
	}
	return b.stsResponse(b.stsData(out.Credentials), out.Credentials, name, policy), nil
}

func (b *backend) stsData(c *ststypes.Credentials) map[string]interface{} {
	if c == nil {
		return map[string]interface{}{}
	}
	return map[string]interface{}{
		"access_key":     aws.ToString(c.AccessKeyId),
		"secret_key":     aws.ToString(c.SecretAccessKey),
		"security_token": aws.ToString(c.SessionToken),
	}
}

// stsResponse wraps STS credentials in a non-renewable lease that ends
// when they expire.
func (b *backend) stsResponse(data map[string]interface{}, c *ststypes.Credentials, name, policy string) *logical.Response {
	ttl := time.Duration(0)
	if c != nil && c.Expiration != nil {
		ttl = c.Expiration.Sub(b.now()).Truncate(time.Second)
	}
	if ttl < time.Second {
		ttl = time.Second
	}
	data["ttl"] = int64(ttl / time.Second)
	resp := b.secret().Response(data, map[string]interface{}{"username": name, "policy": policy, "is_sts": true})
	resp.Secret.TTL = ttl
	resp.Secret.Renewable = false
	return resp
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
