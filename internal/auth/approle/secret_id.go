package approle

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// secretIDEntry is a secret ID as stored under
// secret_id/<hmac of role name>/<hmac of secret ID>. The secret ID itself
// is not stored.
type secretIDEntry struct {
	SecretIDHMAC    string            `json:"secret_id_hmac"`
	RoleHMAC        string            `json:"role_hmac"`
	Accessor        string            `json:"secret_id_accessor"`
	NumUses         int               `json:"secret_id_num_uses"`
	TTL             time.Duration     `json:"secret_id_ttl"`
	CreationTime    time.Time         `json:"creation_time"`
	ExpirationTime  time.Time         `json:"expiration_time"`
	LastUpdatedTime time.Time         `json:"last_updated_time"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	CIDRList        []string          `json:"cidr_list,omitempty"`
	TokenBoundCIDRs []string          `json:"token_bound_cidrs,omitempty"`
}

// accessorEntry, under accessor/<hmac of accessor>, says where the secret
// ID of an accessor lives.
type accessorEntry struct {
	SecretIDHMAC string `json:"secret_id_hmac"`
	RoleHMAC     string `json:"role_hmac"`
}

func (e *secretIDEntry) key() string { return prefixSecretID + e.RoleHMAC + "/" + e.SecretIDHMAC }

func (e *secretIDEntry) expired(now time.Time) bool {
	return !e.ExpirationTime.IsZero() && !now.Before(e.ExpirationTime)
}

func (e *secretIDEntry) responseData() map[string]interface{} {
	meta := e.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return map[string]interface{}{
		"secret_id_accessor": e.Accessor,
		"secret_id_num_uses": e.NumUses,
		"secret_id_ttl":      secs(e.TTL),
		"creation_time":      formatTime(e.CreationTime),
		"expiration_time":    formatTime(e.ExpirationTime),
		"last_updated_time":  formatTime(e.LastUpdatedTime),
		"metadata":           meta,
		"cidr_list":          orEmpty(e.CIDRList),
		"token_bound_cidrs":  orEmpty(e.TokenBoundCIDRs),
	}
}

func (b *backend) secretIDPaths() []*framework.Path {
	issue := framework.Fields{
		"role_name": roleNameField,
		"metadata": {Type: framework.TypeString, Description: `Metadata for the secret ID, as a JSON object of strings
(or "k1=v1,k2=v2"). It is set on the tokens issued with it.`},
		"cidr_list":         {Type: framework.TypeCommaStringSlice, Description: "CIDR blocks the secret ID can be used from; within the role's secret_id_bound_cidrs."},
		"token_bound_cidrs": {Type: framework.TypeCommaStringSlice, Description: "CIDR blocks the issued tokens can be used from; within the role's token_bound_cidrs."},
		"num_uses":          {Type: framework.TypeInt, Description: "Number of logins the secret ID allows; 0 is unlimited. Not above the role's secret_id_num_uses."},
		"ttl":               {Type: framework.TypeDurationSecond, Description: "Lifetime of the secret ID; 0 is unlimited. Not above the role's secret_id_ttl."},
	}
	custom := framework.Fields{"secret_id": {Type: framework.TypeString, Sensitive: true, Description: "The secret ID to register."}}
	for k, v := range issue {
		custom[k] = v
	}
	bySecret := framework.Fields{"role_name": roleNameField, "secret_id": {Type: framework.TypeString, Sensitive: true, Description: "A secret ID of the role."}}
	byAccessor := framework.Fields{"role_name": roleNameField, "secret_id_accessor": {Type: framework.TypeString, Description: "The accessor of a secret ID of the role."}}
	return []*framework.Path{{
		Pattern:  rolePattern("/secret-id/?"),
		Fields:   issue,
		Ops:      framework.Ops{logical.UpdateOperation: b.generateSecretID, logical.ListOperation: b.listSecretIDs},
		Synopsis: "Generate a secret ID for the role (POST) or list the accessors of its secret IDs (LIST).",
	}, {
		Pattern:  rolePattern("/custom-secret-id"),
		Fields:   custom,
		Ops:      framework.Ops{logical.UpdateOperation: b.customSecretID},
		Synopsis: "Register a secret ID of the caller's choosing for the role.",
	}, {
		Pattern:  rolePattern("/secret-id/lookup/?"),
		Fields:   bySecret,
		Ops:      framework.Ops{logical.UpdateOperation: b.lookupSecretID},
		Synopsis: "Read the properties of a secret ID.",
	}, {
		Pattern:  rolePattern("/secret-id/destroy/?"),
		Fields:   bySecret,
		Ops:      framework.Ops{logical.UpdateOperation: b.destroySecretID, logical.DeleteOperation: b.destroySecretID},
		Synopsis: "Invalidate a secret ID.",
	}, {
		Pattern:  rolePattern("/secret-id-accessor/lookup/?"),
		Fields:   byAccessor,
		Ops:      framework.Ops{logical.UpdateOperation: b.lookupAccessor},
		Synopsis: "Read the properties of a secret ID by its accessor.",
	}, {
		Pattern:  rolePattern("/secret-id-accessor/destroy/?"),
		Fields:   byAccessor,
		Ops:      framework.Ops{logical.UpdateOperation: b.destroyAccessor, logical.DeleteOperation: b.destroyAccessor},
		Synopsis: "Invalidate a secret ID by its accessor.",
	}}
}

func (b *backend) generateSecretID(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id, err := b.newUUID()
	if err != nil {
		return nil, err
	}
	return b.issueSecretID(ctx, req, d, id)
}

func (b *backend) customSecretID(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.String("secret_id")
	if len(id) > maxInputLength {
		return nil, logical.InvalidRequest("secret_id is longer than maximum of %d bytes", maxInputLength)
	}
	return b.issueSecretID(ctx, req, d, id)
}

// issueSecretID registers secretID for the role with the request's terms.
func (b *backend) issueSecretID(ctx context.Context, req *logical.Request, d *framework.FieldData, secretID string) (*logical.Response, error) {
	name, err := roleName(d)
	if err != nil {
		return nil, err
	}
	if secretID == "" {
		return nil, logical.InvalidRequest("missing secret_id")
	}
	lock := b.roleLocks.get(name)
	lock.RLock()
	defer lock.RUnlock()
	r, err := b.role(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errNoRole(name)
	}
	if !r.BindSecretID {
		return nil, logical.InvalidRequest("bind_secret_id is not set on the role")
	}
	e, err := secretIDTerms(r, d)
	if err != nil {
		return nil, err
	}
	if e.RoleHMAC, e.SecretIDHMAC, err = b.secretIDKeys(ctx, req.Storage, name, secretID); err != nil {
		return nil, err
	}
	if e.Accessor, err = b.newUUID(); err != nil {
		return nil, err
	}
	now := b.now()
	e.CreationTime, e.LastUpdatedTime = now, now
	ttl := b.capSecretIDTTL(e.TTL)
	if ttl > 0 {
		e.ExpirationTime = now.Add(ttl)
	}

	slock := b.secretLocks.get(e.SecretIDHMAC)
	slock.Lock()
	defer slock.Unlock()
	existing, err := req.Storage.Get(ctx, e.key())
	if err != nil {
		return nil, fmt.Errorf("read secret ID: %w", err)
	}
	if existing != nil {
		return nil, logical.InvalidRequest("SecretID is already registered")
	}
	accKey, err := b.hmac(ctx, req.Storage, "accessor", e.Accessor)
	if err != nil {
		return nil, err
	}
	// The accessor goes first: a secret ID without one is treated as
	// invalid, never the other way round.
	if err := logical.PutJSON(ctx, req.Storage, prefixAccessor+accKey, &accessorEntry{SecretIDHMAC: e.SecretIDHMAC, RoleHMAC: e.RoleHMAC}); err != nil {
		return nil, fmt.Errorf("store secret ID accessor: %w", err)
	}
	if err := logical.PutJSON(ctx, req.Storage, e.key(), e); err != nil {
		return nil, fmt.Errorf("store secret ID: %w", err)
	}
	return &logical.Response{Data: map[string]interface{}{
		"secret_id":          secretID,
		"secret_id_accessor": e.Accessor,
		"secret_id_ttl":      secs(ttl),
		"secret_id_num_uses": e.NumUses,
	}}, nil
}

// secretIDTerms checks a secret ID request against its role and returns
// the new entry's terms.
func secretIDTerms(r *roleEntry, d *framework.FieldData) (*secretIDEntry, error) {
	e := &secretIDEntry{NumUses: r.SecretIDNumUses, TTL: r.SecretIDTTL}
	var err error
	if e.CIDRList, err = parseCIDRList(d.Strings("cidr_list")); err != nil {
		return nil, logical.InvalidRequest("failed to validate CIDR blocks in \"cidr_list\": %v", err)
	}
	if !subsetOf(r.SecretIDBoundCIDRs, e.CIDRList) {
		return nil, logical.InvalidRequest("failed to verify subset relationship between CIDR blocks on the role %q and CIDR blocks on the secret ID %q", r.SecretIDBoundCIDRs, e.CIDRList)
	}
	if e.TokenBoundCIDRs, err = parseCIDRList(d.Strings("token_bound_cidrs")); err != nil {
		return nil, logical.InvalidRequest("failed to validate token CIDR blocks in \"token_bound_cidrs\": %v", err)
	}
	if !subsetOf(r.TokenBoundCIDRs, e.TokenBoundCIDRs) {
		return nil, logical.InvalidRequest("failed to verify subset relationship between CIDR blocks on the role %q and CIDR blocks on the secret ID %q", r.TokenBoundCIDRs, e.TokenBoundCIDRs)
	}
	if v, ok := d.GetOk("num_uses"); ok {
		n := v.(int)
		if n < 0 {
			return nil, logical.InvalidRequest("num_uses cannot be negative")
		}
		if r.SecretIDNumUses > 0 && (n == 0 || n > r.SecretIDNumUses) {
			return nil, logical.InvalidRequest("num_uses cannot be higher than the role's secret_id_num_uses")
		}
		e.NumUses = n
	}
	if v, ok := d.GetOk("ttl"); ok {
		ttl := durationOf(v)
		if r.SecretIDTTL > 0 && (ttl == 0 || ttl > r.SecretIDTTL) {
			return nil, logical.InvalidRequest("ttl cannot be longer than the role's secret_id_ttl")
		}
		e.TTL = ttl
	}
	if e.Metadata, err = parseMetadata(d.String("metadata")); err != nil {
		return nil, logical.InvalidRequest("failed to parse metadata: %v", err)
	}
	return e, nil
}

// secretIDKeys returns the HMACs that locate a role's secret ID in storage.
func (b *backend) secretIDKeys(ctx context.Context, s logical.Storage, role, secretID string) (roleHMAC, secretHMAC string, err error) {
	if roleHMAC, err = b.hmac(ctx, s, "role", role); err != nil {
		return "", "", err
	}
	if secretHMAC, err = b.hmac(ctx, s, "secret_id", secretID); err != nil {
		return "", "", err
	}
	return roleHMAC, secretHMAC, nil
}

// capSecretIDTTL bounds a secret ID's lifetime by the mount's max TTL.
func (b *backend) capSecretIDTTL(ttl time.Duration) time.Duration {
	_, sysMax := b.sysTTLs()
	if sysMax > 0 && (ttl < 0 || ttl > sysMax) {
		return sysMax
	}
	return ttl
}

// parseMetadata reads secret ID metadata as Vault accepts it: a JSON object
// of strings, the same base64-encoded, or "k1=v1,k2=v2".
func parseMetadata(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	raw := s
	if !strings.HasPrefix(s, "{") && !strings.Contains(s, "=") {
		if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
			raw = string(dec)
		}
	}
	if strings.HasPrefix(strings.TrimSpace(raw), "{") {
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			sv, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("value of key %q is not a string", k)
			}
			out[k] = sv
		}
		return out, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(raw, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is neither a JSON object nor key=value pairs", s)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func (b *backend) listSecretIDs(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name, err := roleName(d)
	if err != nil {
		return nil, err
	}
	r, err := b.lockedRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errNoRole(name)
	}
	roleHMAC, err := b.hmac(ctx, req.Storage, "role", name)
	if err != nil {
		return nil, err
	}
	prefix := prefixSecretID + roleHMAC + "/"
	keys, err := req.Storage.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list secret IDs: %w", err)
	}
	accessors := make([]string, 0, len(keys))
	for _, k := range keys {
		var e secretIDEntry
		found, err := logical.GetJSON(ctx, req.Storage, prefix+k, &e)
		if err != nil {
			return nil, err
		}
		if found {
			accessors = append(accessors, e.Accessor)
		}
	}
	sort.Strings(accessors)
	return framework.ListResponse(accessors), nil
}

// secretIDRef resolves a request's role and secret_id to the storage
// location of the secret ID. The role must exist.
func (b *backend) secretIDRef(ctx context.Context, req *logical.Request, d *framework.FieldData) (*secretIDEntry, error) {
	name, err := roleName(d)
	if err != nil {
		return nil, err
	}
	secretID := d.String("secret_id")
	if secretID == "" {
		return nil, logical.InvalidRequest("missing secret_id")
	}
	r, err := b.lockedRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errNoRole(name)
	}
	roleHMAC, secretHMAC, err := b.secretIDKeys(ctx, req.Storage, name, secretID)
	if err != nil {
		return nil, err
	}
	return &secretIDEntry{RoleHMAC: roleHMAC, SecretIDHMAC: secretHMAC}, nil
}

// accessorRef resolves a request's role and secret_id_accessor to the
// storage location of the secret ID; nil when the accessor is unknown or
// belongs to another role.
func (b *backend) accessorRef(ctx context.Context, req *logical.Request, d *framework.FieldData) (*secretIDEntry, string, error) {
	name, err := roleName(d)
	if err != nil {
		return nil, "", err
	}
	accessor := d.String("secret_id_accessor")
	if accessor == "" {
		return nil, "", logical.InvalidRequest("missing secret_id_accessor")
	}
	r, err := b.lockedRole(ctx, req.Storage, name)
	if err != nil {
		return nil, "", err
	}
	if r == nil {
		return nil, "", errNoRole(name)
	}
	roleHMAC, err := b.hmac(ctx, req.Storage, "role", name)
	if err != nil {
		return nil, "", err
	}
	accKey, err := b.hmac(ctx, req.Storage, "accessor", accessor)
	if err != nil {
		return nil, "", err
	}
	var acc accessorEntry
	found, err := logical.GetJSON(ctx, req.Storage, prefixAccessor+accKey, &acc)
	if err != nil {
		return nil, "", err
	}
	if !found || acc.RoleHMAC != roleHMAC {
		return nil, "", logical.Errorf(logical.ErrNotFound, "failed to find accessor entry for secret_id_accessor: %q", accessor)
	}
	return &secretIDEntry{RoleHMAC: roleHMAC, SecretIDHMAC: acc.SecretIDHMAC}, accKey, nil
}

func (b *backend) lookupSecretID(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	ref, err := b.secretIDRef(ctx, req, d)
	if err != nil {
		return nil, err
	}
	return b.readSecretID(ctx, req.Storage, ref)
}

func (b *backend) lookupAccessor(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	ref, _, err := b.accessorRef(ctx, req, d)
	if err != nil {
		return nil, err
	}
	return b.readSecretID(ctx, req.Storage, ref)
}

func (b *backend) readSecretID(ctx context.Context, s logical.Storage, ref *secretIDEntry) (*logical.Response, error) {
	lock := b.secretLocks.get(ref.SecretIDHMAC)
	lock.RLock()
	defer lock.RUnlock()
	var e secretIDEntry
	found, err := logical.GetJSON(ctx, s, ref.key(), &e)
	if err != nil || !found {
		return nil, err
	}
	return &logical.Response{Data: e.responseData()}, nil
}

func (b *backend) destroySecretID(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	ref, err := b.secretIDRef(ctx, req, d)
	if err != nil {
		return nil, err
	}
	return nil, b.deleteSecretID(ctx, req.Storage, ref, "")
}

func (b *backend) destroyAccessor(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	ref, accKey, err := b.accessorRef(ctx, req, d)
	if err != nil {
		return nil, err
	}
	return nil, b.deleteSecretID(ctx, req.Storage, ref, accKey)
}

// deleteSecretID removes a secret ID and its accessor under the secret ID's
// lock. accKey, when known, is deleted even if the secret ID is gone.
func (b *backend) deleteSecretID(ctx context.Context, s logical.Storage, ref *secretIDEntry, accKey string) error {
	lock := b.secretLocks.get(ref.SecretIDHMAC)
	lock.Lock()
	defer lock.Unlock()
	return b.deleteSecretIDLocked(ctx, s, ref, accKey)
}

func (b *backend) deleteSecretIDLocked(ctx context.Context, s logical.Storage, ref *secretIDEntry, accKey string) error {
	var e secretIDEntry
	found, err := logical.GetJSON(ctx, s, ref.key(), &e)
	if err != nil {
		return err
	}
	if found && accKey == "" {
		if accKey, err = b.hmac(ctx, s, "accessor", e.Accessor); err != nil {
			return err
		}
	}
	if accKey != "" {
		if err := s.Delete(ctx, prefixAccessor+accKey); err != nil {
			return fmt.Errorf("delete secret ID accessor: %w", err)
		}
	}
	if found {
		if err := s.Delete(ctx, ref.key()); err != nil {
			return fmt.Errorf("delete secret ID: %w", err)
		}
	}
	return nil
}

// flushSecretIDs deletes every secret ID of a role. The caller holds the
// role's write lock.
func (b *backend) flushSecretIDs(ctx context.Context, s logical.Storage, r *roleEntry) error {
	roleHMAC, err := b.hmac(ctx, s, "role", r.Name)
	if err != nil {
		return err
	}
	keys, err := s.List(ctx, prefixSecretID+roleHMAC+"/")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.deleteSecretID(ctx, s, &secretIDEntry{RoleHMAC: roleHMAC, SecretIDHMAC: k}, ""); err != nil {
			return err
		}
	}
	return nil
}
