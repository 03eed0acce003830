// Package policy implements Vault-compatible ACL policies: HCL (or JSON)
// parsing, a durable store with caches, and compilation of a token's
// policies into an ACL that answers "may this operation run on this path".
package policy

import (
	"sort"
	"strings"
	"time"
)

// Capability is a bitmap of the capabilities a path rule grants.
type Capability uint32

// Capability bits. Deny overrides every other bit.
const (
	DenyCapability Capability = 1 << iota
	CreateCapability
	ReadCapability
	UpdateCapability
	DeleteCapability
	ListCapability
	SudoCapability
	PatchCapability
)

// Names of the built-in policies.
const (
	// RootPolicyName grants everything; it is not stored and cannot be
	// changed or deleted.
	RootPolicyName = "root"
	// DefaultPolicyName is attached to tokens unless they opt out; it can be
	// updated but not deleted.
	DefaultPolicyName = "default"
	// ResponseWrappingPolicyName is the fixed policy of response-wrapping
	// tokens. It is neither listed nor assignable.
	ResponseWrappingPolicyName = "response-wrapping"
)

// RootCapability is the single capability reported for root tokens.
const RootCapability = "root"

// capabilityNames maps capability names to bits, in the order used in error
// messages.
var capabilityNames = []struct {
	name string
	bit  Capability
}{
	{"create", CreateCapability},
	{"read", ReadCapability},
	{"update", UpdateCapability},
	{"patch", PatchCapability},
	{"delete", DeleteCapability},
	{"list", ListCapability},
	{"sudo", SudoCapability},
	{"deny", DenyCapability},
}

const acceptedCapabilities = "create, read, update, patch, delete, list, sudo, deny"

func capabilityBit(name string) (Capability, bool) {
	for _, c := range capabilityNames {
		if c.name == name {
			return c.bit, true
		}
	}
	return 0, false
}

// Strings returns the capability names set in c, sorted alphabetically as
// sys/capabilities reports them. A bitmap with deny set, or with nothing set,
// is reported as ["deny"].
func (c Capability) Strings() []string {
	if c&DenyCapability != 0 || c == 0 {
		return []string{"deny"}
	}
	out := make([]string, 0, len(capabilityNames))
	for _, n := range capabilityNames {
		if c&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	sort.Strings(out)
	return out
}

// Policy is a parsed ACL policy.
type Policy struct {
	// Name is the policy's name, lowercased.
	Name string
	// Raw is the policy text as written.
	Raw string
	// Paths are the path rules in the order they appear.
	Paths []*PathRules
	// Templated is true when some path uses {{identity...}} templating.
	Templated bool
}

// PathRules is one `path "<glob>" { ... }` block.
type PathRules struct {
	// Path is the path as written, minus one leading "/" (with any trailing
	// "*" kept).
	Path string
	// Line is where the block starts in the policy text (0 if unknown).
	Line int
	// Capabilities are the capability names granted, legacy `policy`
	// values expanded. A deny rule lists only "deny".
	Capabilities []string
	Permissions
	// IsPrefix is true when Path ends in "*".
	IsPrefix bool
	// HasSegmentWildcards is true when Path has a "+" segment.
	HasSegmentWildcards bool
	// Templated is true when Path holds {{...}} templating; such rules only
	// apply once the template is resolved, so an ACL skips them.
	Templated bool
}

// Permissions are the constraints a path rule places on a request.
type Permissions struct {
	Capabilities   Capability
	MinWrappingTTL time.Duration
	MaxWrappingTTL time.Duration
	// AllowedParameters and DeniedParameters map a lowercased parameter name
	// (or "*") to the permitted or forbidden values; an empty list means any
	// value. String values may hold globs ("*" at either end).
	AllowedParameters map[string][]interface{}
	DeniedParameters  map[string][]interface{}
	// RequiredParameters must all be present in the request.
	RequiredParameters []string
}

// clone returns a deep copy of p (parameter value lists are copied, the
// immutable scalar values they hold are shared).
func (p *Permissions) clone() *Permissions {
	out := *p
	out.AllowedParameters = cloneParams(p.AllowedParameters)
	out.DeniedParameters = cloneParams(p.DeniedParameters)
	if p.RequiredParameters != nil {
		out.RequiredParameters = append([]string(nil), p.RequiredParameters...)
	}
	return &out
}

func cloneParams(m map[string][]interface{}) map[string][]interface{} {
	if m == nil {
		return nil
	}
	out := make(map[string][]interface{}, len(m))
	for k, v := range m {
		out[k] = append([]interface{}{}, v...)
	}
	return out
}

// normalizeName lowercases and trims a policy name as Vault does.
func normalizeName(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}
