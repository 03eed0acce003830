package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// ACL is the compiled, immutable form of a set of policies. It is safe for
// concurrent use.
type ACL struct {
	root      bool
	exact     map[string]*Permissions
	prefix    radixNode
	wildcards []*wcRule // highest priority first
}

// Result is the outcome of an ACL check.
type Result struct {
	// Allowed is true when the operation may proceed.
	Allowed bool
	// IsRoot is true for the root policy.
	IsRoot bool
	// Sudo is true when the matching rule grants sudo; the caller requires
	// it for root-protected paths.
	Sudo bool
	// Capabilities are the capabilities of the matching rule.
	Capabilities Capability
	// DeniedParameter names the request parameter that caused a denial.
	DeniedParameter string
	// Reason explains a denial (for logs and audit, not for clients).
	Reason string
}

// NewACL compiles policies into an ACL. Rules for the same path in several
// policies are merged as Vault merges them: capabilities are unioned, deny
// wins, parameter constraints are combined and the smaller wrapping TTL
// bounds are kept. Nil policies are ignored; the root policy makes the ACL
// allow everything. Templated paths are skipped.
func NewACL(policies ...*Policy) (*ACL, error) {
	a := &ACL{}
	exact := map[string]*Permissions{}
	prefix := map[string]*Permissions{}
	wild := map[string]*Permissions{}
	for _, p := range policies {
		if p == nil {
			continue
		}
		if p.Name == RootPolicyName {
			a.root = true
			continue
		}
		for _, pr := range p.Paths {
			if pr.Templated {
				continue
			}
			var m map[string]*Permissions
			key := pr.Path
			switch {
			case pr.HasSegmentWildcards:
				m = wild
			case pr.IsPrefix:
				m, key = prefix, strings.TrimSuffix(key, "*")
			default:
				m = exact
			}
			mergeInto(m, key, &pr.Permissions)
		}
	}
	a.exact = exact
	for k, v := range prefix {
		a.prefix.insert(k, v)
	}
	for k, v := range wild {
		a.wildcards = append(a.wildcards, newWCRule(k, v))
	}
	sortWCRules(a.wildcards)
	return a, nil
}

// mergeInto adds perms for key to m, merging with an existing entry.
func mergeInto(m map[string]*Permissions, key string, perms *Permissions) {
	existing, ok := m[key]
	if !ok {
		m[key] = perms.clone()
		return
	}
	switch {
	case existing.Capabilities&DenyCapability != 0:
		return
	case perms.Capabilities&DenyCapability != 0:
		*existing = Permissions{Capabilities: DenyCapability}
		return
	}
	existing.Capabilities |= perms.Capabilities
	// Keep the smaller non-zero bound of each wrapping TTL.
	if perms.MaxWrappingTTL > 0 && (existing.MaxWrappingTTL == 0 || perms.MaxWrappingTTL < existing.MaxWrappingTTL) {
		existing.MaxWrappingTTL = perms.MaxWrappingTTL
	}
	if perms.MinWrappingTTL > 0 && (existing.MinWrappingTTL == 0 || perms.MinWrappingTTL < existing.MinWrappingTTL) {
		existing.MinWrappingTTL = perms.MinWrappingTTL
	}
	existing.AllowedParameters = mergeParams(existing.AllowedParameters, perms.AllowedParameters)
	existing.DeniedParameters = mergeParams(existing.DeniedParameters, perms.DeniedParameters)
	for _, r := range perms.RequiredParameters {
		if !containsString(existing.RequiredParameters, r) {
			existing.RequiredParameters = append(existing.RequiredParameters, r)
		}
	}
}

// mergeParams combines parameter maps: value lists are concatenated, and an
// empty list (any value) on either side wins.
func mergeParams(dst, src map[string][]interface{}) map[string][]interface{} {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		return cloneParams(src)
	}
	for k, v := range src {
		cur, ok := dst[k]
		if len(v) == 0 || (ok && len(cur) == 0) {
			dst[k] = []interface{}{}
			continue
		}
		dst[k] = append(append([]interface{}{}, v...), cur...)
	}
	return dst
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// IsRoot reports whether the ACL comes from the root policy.
func (a *ACL) IsRoot() bool { return a.root }

// lookup finds the permissions that apply to path for op.
func (a *ACL) lookup(op logical.Operation, path string) *Permissions {
	for len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	if p, ok := a.exact[path]; ok {
		return p
	}
	isList := op == logical.ListOperation
	trimmed := strings.TrimSuffix(path, "/")
	if isList && len(trimmed) != len(path) {
		if p, ok := a.exact[trimmed]; ok {
			return p
		}
		// A list of "foo/" first tries rules that match "foo" itself.
		if p := a.matchNonExact(trimmed); p != nil {
			return p
		}
	}
	return a.matchNonExact(path)
}

// capabilityFor maps an operation to the capability it needs.
func capabilityFor(op logical.Operation) (Capability, bool) {
	switch op {
	case logical.ReadOperation:
		return ReadCapability, true
	case logical.ListOperation:
		return ListCapability, true
	case logical.UpdateOperation:
		return UpdateCapability, true
	case logical.CreateOperation:
		return CreateCapability, true
	case logical.DeleteOperation:
		return DeleteCapability, true
	case logical.PatchOperation:
		return PatchCapability, true
	case logical.RenewOperation, logical.RevokeOperation, logical.RollbackOperation:
		return UpdateCapability, true
	}
	return 0, false
}

// AllowOperation checks whether op on path (relative to the API root, e.g.
// "secret/data/foo") is allowed with the given request parameters and
// response-wrapping TTL (0 when the response is not wrapped).
func (a *ACL) AllowOperation(op logical.Operation, path string, data map[string]interface{}, wrapTTL time.Duration) Result {
	if a.root {
		return Result{Allowed: true, IsRoot: true, Sudo: true, Capabilities: ^Capability(0) &^ DenyCapability}
	}
	if op == logical.HelpOperation {
		return Result{Allowed: true}
	}
	perms := a.lookup(op, path)
	if perms == nil {
		return Result{Reason: "no policy grants access to this path"}
	}
	caps := perms.Capabilities
	res := Result{Sudo: caps&SudoCapability != 0, Capabilities: caps}
	if caps&DenyCapability != 0 {
		res.Sudo = false
		res.Reason = "path is explicitly denied"
		return res
	}
	need, ok := capabilityFor(op)
	if !ok {
		res.Reason = fmt.Sprintf("unsupported operation %q", op)
		return res
	}
	if caps&need == 0 {
		res.Reason = fmt.Sprintf("%q capability not granted on this path", need.names()[0])
		return res
	}
	if reason := checkWrapping(perms, wrapTTL); reason != "" {
		res.Reason = reason
		return res
	}
	switch op {
	case logical.ReadOperation, logical.UpdateOperation, logical.CreateOperation, logical.PatchOperation:
		if param, reason := checkParameters(perms, data); reason != "" {
			res.DeniedParameter, res.Reason = param, reason
			return res
		}
	}
	res.Allowed = true
	return res
}

func checkWrapping(perms *Permissions, wrapTTL time.Duration) string {
	if perms.MaxWrappingTTL > 0 && (wrapTTL <= 0 || wrapTTL > perms.MaxWrappingTTL) {
		if wrapTTL <= 0 {
			return fmt.Sprintf("response wrapping is required on this path (max_wrapping_ttl %s)", perms.MaxWrappingTTL)
		}
		return fmt.Sprintf("wrap TTL %s exceeds max_wrapping_ttl %s", wrapTTL, perms.MaxWrappingTTL)
	}
	if perms.MinWrappingTTL > 0 && (wrapTTL <= 0 || wrapTTL < perms.MinWrappingTTL) {
		if wrapTTL <= 0 {
			return fmt.Sprintf("response wrapping is required on this path (min_wrapping_ttl %s)", perms.MinWrappingTTL)
		}
		return fmt.Sprintf("wrap TTL %s is below min_wrapping_ttl %s", wrapTTL, perms.MinWrappingTTL)
	}
	// Merging policies can produce bounds that no TTL satisfies.
	if perms.MinWrappingTTL > 0 && perms.MaxWrappingTTL > 0 && perms.MaxWrappingTTL < perms.MinWrappingTTL {
		return "merged min_wrapping_ttl exceeds max_wrapping_ttl"
	}
	return ""
}

// Capabilities returns the capabilities the ACL grants on path, as
// sys/capabilities reports them: sorted names, ["root"] for root, ["deny"]
// when nothing is granted.
func (a *ACL) Capabilities(path string) []string {
	if a.root {
		return []string{RootCapability}
	}
	perms := a.lookup(logical.ListOperation, path)
	if perms == nil {
		return []string{"deny"}
	}
	return perms.Capabilities.Strings()
}
