package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/coffer-dev/coffer/internal/logical"
)

// StoragePrefix is where ACL policies live in the storage given to NewStore.
const StoragePrefix = "sys/policy/"

// Cache bounds; when exceeded the cache is simply emptied.
const (
	maxCachedPolicies = 8192
	maxCachedACLs     = 8192
)

// storedPolicy is the persisted form of a policy.
type storedPolicy struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Raw     string `json:"raw"`
}

// Store keeps ACL policies in storage and caches parsed policies and
// compiled ACLs. It is safe for concurrent use. Policies and ACLs it returns
// are shared and must not be modified.
type Store struct {
	storage logical.Storage

	mu sync.RWMutex
	// gen is bumped by every write, so a load that raced with a write does
	// not cache stale data.
	gen uint64
	// policies caches parsed policies by name; a nil value records that
	// the policy does not exist.
	policies map[string]*Policy
	// acls caches compiled ACLs by the NUL-joined policy names, both as the
	// caller passed them and normalized (lowercased, sorted, deduplicated).
	acls map[string]*ACL
}

// NewStore returns a Store over s (normally the system barrier view).
func NewStore(s logical.Storage) *Store {
	return &Store{storage: s, policies: map[string]*Policy{}, acls: map[string]*ACL{}}
}

// Get returns the named policy, or nil when it does not exist. "root"
// returns the (empty) root policy; "default" returns the built-in default
// policy until it is overwritten.
func (s *Store) Get(ctx context.Context, name string) (*Policy, error) {
	return s.get(ctx, normalizeName(name))
}

func (s *Store) get(ctx context.Context, name string) (*Policy, error) {
	s.mu.RLock()
	p, ok := s.policies[name]
	gen := s.gen
	s.mu.RUnlock()
	if ok {
		return p, nil
	}
	p, err := s.load(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen {
		if len(s.policies) >= maxCachedPolicies {
			s.policies = map[string]*Policy{}
		}
		s.policies[name] = p
	}
	s.mu.Unlock()
	return p, nil
}

func (s *Store) load(ctx context.Context, name string) (*Policy, error) {
	switch name {
	case RootPolicyName:
		return RootPolicy(), nil
	case ResponseWrappingPolicyName:
		return ResponseWrappingPolicy(), nil
	}
	var sp storedPolicy
	found, err := logical.GetJSON(ctx, s.storage, StoragePrefix+name, &sp)
	if err != nil {
		return nil, fmt.Errorf("read policy %q: %w", name, err)
	}
	if !found {
		if name == DefaultPolicyName {
			return DefaultPolicy(), nil
		}
		return nil, nil
	}
	p, err := Parse(name, sp.Raw)
	if err != nil {
		return nil, fmt.Errorf("stored policy %q: %w", name, err)
	}
	return p, nil
}

// Set parses rules and stores them as the named policy. Names are
// lowercased. Invalid rules and attempts to change a fixed policy are
// logical.ErrInvalidRequest errors.
func (s *Store) Set(ctx context.Context, name, rules string) error {
	name = normalizeName(name)
	switch {
	case name == "":
		return logical.InvalidRequest("policy name must be provided")
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return logical.InvalidRequest("policy name %q contains control characters", name)
	case name == RootPolicyName, name == ResponseWrappingPolicyName:
		return logical.InvalidRequest("cannot update %q policy", name)
	case strings.TrimSpace(rules) == "":
		return logical.InvalidRequest("'policy' parameter not supplied or empty")
	}
	p, err := Parse(name, rules)
	if err != nil {
		return logical.InvalidRequest("%s", err.Error())
	}
	if err := logical.PutJSON(ctx, s.storage, StoragePrefix+name, &storedPolicy{Version: 1, Name: name, Raw: rules}); err != nil {
		return fmt.Errorf("store policy %q: %w", name, err)
	}
	s.mu.Lock()
	s.invalidateLocked()
	s.policies[name] = p
	s.mu.Unlock()
	return nil
}

// Delete removes the named policy. Deleting a policy that does not exist is
// not an error; "root" and "default" cannot be deleted.
func (s *Store) Delete(ctx context.Context, name string) error {
	name = normalizeName(name)
	switch name {
	case RootPolicyName, ResponseWrappingPolicyName:
		return logical.InvalidRequest("cannot delete %q policy", name)
	case DefaultPolicyName:
		return logical.InvalidRequest("cannot delete default policy")
	}
	if err := s.storage.Delete(ctx, StoragePrefix+name); err != nil {
		return fmt.Errorf("delete policy %q: %w", name, err)
	}
	s.mu.Lock()
	s.invalidateLocked()
	s.policies[name] = nil
	s.mu.Unlock()
	return nil
}

// List returns the names of the ACL policies as sys/policy lists them: the
// stored policies and "default", sorted, followed by "root".
func (s *Store) List(ctx context.Context) ([]string, error) {
	keys, err := logical.CollectKeys(ctx, s.storage, StoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	names := make([]string, 0, len(keys)+2)
	hasDefault := false
	for _, k := range keys {
		n := strings.TrimPrefix(k, StoragePrefix)
		switch n {
		case RootPolicyName, ResponseWrappingPolicyName:
			continue
		case DefaultPolicyName:
			hasDefault = true
		}
		names = append(names, n)
	}
	if !hasDefault {
		names = append(names, DefaultPolicyName)
	}
	sort.Strings(names)
	return append(names, RootPolicyName), nil
}

// Invalidate drops every cached policy and ACL, for when storage changed
// underneath the store (e.g. replicated writes on a standby).
func (s *Store) Invalidate() {
	s.mu.Lock()
	s.invalidateLocked()
	s.mu.Unlock()
}

func (s *Store) invalidateLocked() {
	s.gen++
	s.policies = map[string]*Policy{}
	s.acls = map[string]*ACL{}
}

// ACL returns the compiled ACL of the named policies. Unknown policy names
// are ignored. Results are cached until the next write, so repeated calls
// with the same names cost a map lookup.
func (s *Store) ACL(ctx context.Context, names ...string) (*ACL, error) {
	var buf [256]byte
	raw, rawOK := rawKey(buf[:0], names)
	s.mu.RLock()
	acl, ok := s.acls[string(raw)]
	gen := s.gen
	s.mu.RUnlock()
	if ok && rawOK {
		return acl, nil
	}

	norm := normalizeNames(names)
	key := string(joinNames(nil, norm))
	s.mu.RLock()
	acl, ok = s.acls[key]
	s.mu.RUnlock()
	if !ok {
		policies := make([]*Policy, 0, len(norm))
		for _, n := range norm {
			p, err := s.get(ctx, n)
			if err != nil {
				return nil, fmt.Errorf("get policy %q: %w", n, err)
			}
			policies = append(policies, p)
		}
		var err error
		if acl, err = NewACL(policies...); err != nil {
			return nil, fmt.Errorf("build ACL: %w", err)
		}
	}

	s.mu.Lock()
	if s.gen == gen {
		if len(s.acls) >= maxCachedACLs {
			s.acls = map[string]*ACL{}
		}
		s.acls[key] = acl
		if rawOK {
			s.acls[string(raw)] = acl
		}
	}
	s.mu.Unlock()
	return acl, nil
}

// rawKey joins names as given; names holding the separator cannot be keyed
// unambiguously, so they disable the fast path.
func rawKey(dst []byte, names []string) ([]byte, bool) {
	for _, n := range names {
		if strings.IndexByte(n, 0) >= 0 {
			return nil, false
		}
	}
	return joinNames(dst, names), true
}

func joinNames(dst []byte, names []string) []byte {
	for i, n := range names {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, n...)
	}
	return dst
}

func normalizeNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n = normalizeName(n); n != "" && strings.IndexByte(n, 0) < 0 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	dedup := out[:0]
	for i, n := range out {
		if i == 0 || n != out[i-1] {
			dedup = append(dedup, n)
		}
	}
	return dedup
}
