package approle

import (
	"context"
	"crypto/hmac"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) loginPath() *framework.Path {
	return &framework.Path{
		Pattern: "login",
		Fields: framework.Fields{
			"role_id":   {Type: framework.TypeString, Description: "The role_id of the role. Always required."},
			"secret_id": {Type: framework.TypeString, Sensitive: true, Description: "A secret ID of the role; required when the role has bind_secret_id."},
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.login},
		Synopsis: "Log in with a role_id and secret_id and receive a token.",
		Description: `role_id is always required. When the role has bind_secret_id (the default),
secret_id is required too. The client's address must lie in the role's
secret_id_bound_cidrs, the secret ID's cidr_list and the token CIDR blocks,
where they are set.`,
	}
}

// login checks the credentials and returns the auth block the core turns
// into a token.
func (b *backend) login(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	roleID := strings.TrimSpace(d.String("role_id"))
	if roleID == "" {
		return nil, logical.InvalidRequest("missing role_id")
	}
	r, err := b.roleByRoleID(ctx, req.Storage, roleID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errInvalidCredentials
	}
	ip, hasIP := remoteIP(req)
	metadata := map[string]string{}
	tokenCIDRs := r.TokenBoundCIDRs
	if r.BindSecretID {
		secretID := strings.TrimSpace(d.String("secret_id"))
		if secretID == "" {
			return nil, logical.InvalidRequest("missing secret_id")
		}
		e, err := b.consumeSecretID(ctx, req.Storage, r, secretID, func(e *secretIDEntry) error {
			return checkAddress(r, e, ip, hasIP)
		})
		if err != nil {
			return nil, err
		}
		maps.Copy(metadata, e.Metadata)
		if len(e.TokenBoundCIDRs) > 0 {
			tokenCIDRs = e.TokenBoundCIDRs
		}
	} else if err := checkAddress(r, nil, ip, hasIP); err != nil {
		return nil, err
	}
	metadata["role_name"] = r.Name
	return &logical.Response{Auth: &logical.Auth{
		LeaseOptions:    logical.LeaseOptions{TTL: r.TokenTTL, MaxTTL: r.TokenMaxTTL, Renewable: true},
		InternalData:    map[string]interface{}{"role_name": r.Name, "role_id": r.RoleID},
		Policies:        slices.Clone(r.TokenPolicies),
		TokenPolicies:   slices.Clone(r.TokenPolicies),
		Metadata:        metadata,
		Period:          r.TokenPeriod,
		ExplicitMaxTTL:  r.TokenExplicitMaxTTL,
		NumUses:         r.TokenNumUses,
		BoundCIDRs:      slices.Clone(tokenCIDRs),
		TokenType:       r.TokenType,
		NoDefaultPolicy: r.TokenNoDefaultPolicy,
	}}, nil
}

// checkAddress applies a login's CIDR bindings to the client's address:
// the secret ID's cidr_list, the role's secret_id_bound_cidrs, and the
// CIDR blocks the token will be bound to (the secret ID's, else the
// role's), since a token that cannot be used from here is no login.
func checkAddress(r *roleEntry, e *secretIDEntry, ip netip.Addr, hasIP bool) error {
	tokenCIDRs := r.TokenBoundCIDRs
	var secretCIDRs []string
	if e != nil {
		secretCIDRs = e.CIDRList
		if len(e.TokenBoundCIDRs) > 0 {
			tokenCIDRs = e.TokenBoundCIDRs
		}
	}
	if len(secretCIDRs)+len(r.SecretIDBoundCIDRs)+len(tokenCIDRs) == 0 {
		return nil
	}
	if !hasIP {
		return logical.Errorf(logical.ErrPermissionDenied, "failed to get connection information")
	}
	if len(secretCIDRs) > 0 && !addrIn(ip, secretCIDRs) {
		return logical.InvalidRequest("source address %q unauthorized by CIDR restrictions on the secret ID", ip.String())
	}
	if len(r.SecretIDBoundCIDRs) > 0 && !addrIn(ip, r.SecretIDBoundCIDRs) {
		return logical.InvalidRequest("source address %q unauthorized by CIDR restrictions on the role", ip.String())
	}
	if len(tokenCIDRs) > 0 && !addrIn(ip, tokenCIDRs) {
		return logical.ErrPermissionDenied
	}
	return nil
}

// consumeSecretID validates a secret ID of role r, runs check on it, and
// uses it up by one login, all under the secret ID's lock so that
// concurrent logins never exceed its num_uses. It returns the entry as it
// was before the use.
func (b *backend) consumeSecretID(ctx context.Context, s logical.Storage, r *roleEntry, secretID string, check func(*secretIDEntry) error) (*secretIDEntry, error) {
	if len(secretID) > maxInputLength {
		return nil, errInvalidCredentials
	}
	roleHMAC, secretHMAC, err := b.secretIDKeys(ctx, s, r.Name, secretID)
	if err != nil {
		return nil, err
	}
	ref := &secretIDEntry{RoleHMAC: roleHMAC, SecretIDHMAC: secretHMAC}
	lock := b.secretLocks.get(secretHMAC)

	// Unlimited secret IDs are only read: a shared lock is enough.
	lock.RLock()
	e, err := b.validSecretID(ctx, s, r, ref)
	if err == nil && e.NumUses == 0 {
		err = check(e)
		lock.RUnlock()
		return e, err
	}
	lock.RUnlock()
	if err != nil && err != errExpired {
		return nil, err
	}

	lock.Lock()
	defer lock.Unlock()
	e, err = b.validSecretID(ctx, s, r, ref)
	if err == errExpired {
		if derr := b.deleteSecretIDLocked(ctx, s, ref, ""); derr != nil {
			b.logger.Warn("could not delete an expired secret ID", "error", derr)
		}
		return nil, errInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if err := check(e); err != nil {
		return nil, err
	}
	switch e.NumUses {
	case 0:
	case 1:
		if err := b.deleteSecretIDLocked(ctx, s, ref, ""); err != nil {
			return nil, fmt.Errorf("use up secret ID: %w", err)
		}
	default:
		used := *e
		used.NumUses--
		used.LastUpdatedTime = b.now()
		if err := logical.PutJSON(ctx, s, used.key(), &used); err != nil {
			return nil, fmt.Errorf("update secret ID use count: %w", err)
		}
	}
	return e, nil
}

// errExpired marks a secret ID found past its expiration time.
var errExpired = logical.InvalidRequest("secret ID expired")

// validSecretID loads a secret ID and checks that it is live. The caller
// holds the secret ID's lock.
func (b *backend) validSecretID(ctx context.Context, s logical.Storage, r *roleEntry, ref *secretIDEntry) (*secretIDEntry, error) {
	var e secretIDEntry
	found, err := logical.GetJSON(ctx, s, ref.key(), &e)
	if err != nil {
		return nil, err
	}
	if !found || !hmac.Equal([]byte(e.SecretIDHMAC), []byte(ref.SecretIDHMAC)) || !hmac.Equal([]byte(e.RoleHMAC), []byte(ref.RoleHMAC)) {
		return nil, errInvalidCredentials
	}
	if e.expired(b.now()) {
		return nil, errExpired
	}
	accKey, err := b.hmac(ctx, s, "accessor", e.Accessor)
	if err != nil {
		return nil, err
	}
	acc, err := s.Get(ctx, prefixAccessor+accKey)
	if err != nil {
		return nil, fmt.Errorf("read secret ID accessor: %w", err)
	}
	if acc == nil {
		// A secret ID whose accessor is gone was being destroyed.
		return nil, errInvalidCredentials
	}
	if !subsetOf(r.SecretIDBoundCIDRs, e.CIDRList) {
		return nil, logical.InvalidRequest("failed to verify subset relationship between CIDR blocks on the role %q and CIDR blocks on the secret ID %q", r.SecretIDBoundCIDRs, e.CIDRList)
	}
	return &e, nil
}

// renewAuth approves the renewal of a token issued by this method: the
// role must still exist, and its current token_ttl, token_max_ttl and
// token_period set the new terms.
func (b *backend) renewAuth(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	if req.Auth == nil {
		return nil, logical.InvalidRequest("request has no auth to renew")
	}
	name, _ := req.Auth.InternalData["role_name"].(string)
	if name == "" {
		return nil, logical.InvalidRequest("failed to fetch role_name during renewal")
	}
	r, err := b.lockedRole(ctx, req.Storage, name)
	if err != nil {
		return nil, fmt.Errorf("validate role %q during renewal: %w", name, err)
	}
	if r == nil {
		return nil, logical.InvalidRequest("role %q does not exist during renewal", name)
	}
	a := *req.Auth
	a.MaxTTL, a.Period = r.TokenMaxTTL, r.TokenPeriod
	resp := &logical.Response{Auth: &a}
	if a.Period > 0 {
		a.TTL = a.Period
		return resp, nil
	}
	sysDefault, sysMax := b.sysTTLs()
	ttl, warns, err := framework.CalculateTTL(sysDefault, sysMax, req.Auth.Increment, r.TokenTTL, r.TokenMaxTTL, req.Auth.IssueTime, b.now())
	if err != nil {
		return nil, err
	}
	a.TTL, resp.Warnings = ttl, warns
	return resp, nil
}

// resolveRole names the role of a login request (by its role_id), for
// role-based quotas. Unknown role IDs resolve to no role.
func (b *backend) resolveRole(ctx context.Context, req *logical.Request) (string, error) {
	if req.Path != "login" {
		return "", nil
	}
	roleID, _ := req.Data["role_id"].(string)
	if roleID == "" {
		return "", nil
	}
	r, err := b.roleByRoleID(ctx, req.Storage, roleID)
	if err != nil || r == nil {
		return "", err
	}
	return r.Name, nil
}
