package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func mustACL(t testing.TB, rules ...string) *ACL {
	t.Helper()
	var ps []*Policy
	for i, r := range rules {
		p, err := Parse("p"+string(rune('a'+i)), r)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	acl, err := NewACL(ps...)
	if err != nil {
		t.Fatal(err)
	}
	return acl
}

type opCase struct {
	op      logical.Operation
	path    string
	allowed bool
	sudo    bool
}

func runOpCases(t *testing.T, acl *ACL, cases []opCase) {
	t.Helper()
	for _, c := range cases {
		res := acl.AllowOperation(c.op, c.path, nil, 0)
		if res.Allowed != c.allowed || res.Sudo != c.sudo {
			t.Errorf("%s %q: allowed=%v sudo=%v (reason %q), want allowed=%v sudo=%v",
				c.op, c.path, res.Allowed, res.Sudo, res.Reason, c.allowed, c.sudo)
		}
	}
}

// The paths and expectations follow the examples in Vault's policy
// documentation.
const docsPolicy = `
path "secret/foo" { capabilities = ["read"] }
path "secret/bar/*" { capabilities = ["read"] }
path "secret/zip-*" { capabilities = ["read"] }
path "secret/+/teamb" { capabilities = ["update"] }
path "secret/+/+/foo/*" { capabilities = ["create"] }
path "secret/*" { capabilities = ["list"] }
path "1/2/*" { capabilities = ["create"] }
path "1/2/+" { capabilities = ["read"] }
path "1/2/+/+" { capabilities = ["update"] }
path "a/+/c" { capabilities = ["read"] }
path "a/b/*" { capabilities = ["delete"] }
path "x/+/ab*" { capabilities = ["read"] }
path "x/+/a*" { capabilities = ["delete"] }
path "sys/mounts/*" { capabilities = ["create", "read", "update", "sudo"] }
`

func TestACLMatchingPrecedence(t *testing.T) {
	acl := mustACL(t, docsPolicy)
	runOpCases(t, acl, []opCase{
		// Exact paths match only themselves.
		{logical.ReadOperation, "secret/foo", true, false},
		{logical.ReadOperation, "secret/food", false, false},
		{logical.ListOperation, "secret/food", true, false},
		{logical.ReadOperation, "secret/foo/bar", false, false},
		// Prefixes.
		{logical.ReadOperation, "secret/bar/zip", true, false},
		{logical.ReadOperation, "secret/bar/zip/zap", true, false},
		{logical.ReadOperation, "secret/bars/zip", false, false},
		{logical.ReadOperation, "secret/zip-zap", true, false},
		{logical.ReadOperation, "secret/zip-zap/zong", true, false},
		{logical.ReadOperation, "secret/zip/zap", false, false},
		// "+" matches exactly one segment and beats a glob at the same spot.
		{logical.UpdateOperation, "secret/foo/teamb", true, false},
		{logical.UpdateOperation, "secret/bar/teamb", false, false}, // secret/bar/* is longer
		{logical.UpdateOperation, "secret/foo/bar/teamb", false, false},
		// Same first wildcard, both globs: fewer "+" segments win.
		{logical.CreateOperation, "secret/a/b/foo/bar", false, false},
		{logical.ListOperation, "secret/a/b/foo/bar", true, false},
		// Not ending in "*" beats ending in "*"; more "+" segments lose.
		{logical.ReadOperation, "1/2/3", true, false},
		{logical.CreateOperation, "1/2/3", false, false},
		{logical.UpdateOperation, "1/2/3/4", true, false},
		{logical.CreateOperation, "1/2/3/4/5", true, false},
		// A wildcard occurring earlier loses.
		{logical.DeleteOperation, "a/b/c", true, false},
		{logical.ReadOperation, "a/b/c", false, false},
		{logical.ReadOperation, "a/z/c", true, false},
		// Shorter loses.
		{logical.ReadOperation, "x/y/abc", true, false},
		{logical.DeleteOperation, "x/y/ac", true, false},
		// Sudo is reported; leading slashes are ignored.
		{logical.UpdateOperation, "/sys/mounts/secret", true, true},
		{logical.DeleteOperation, "sys/mounts/secret", false, true},
		// Nothing matches.
		{logical.ReadOperation, "other/path", false, false},
		// Help is always allowed.
		{logical.HelpOperation, "other/path", true, false},
	})
}

func TestLowerPriority(t *testing.T) {
	tests := []struct {
		a, b string
		want bool // a loses to b
	}{
		{"foo/+/bar", "foo/b*", true}, // first wildcard earlier
		{"foo/bar/+/baz", "foo/+/bar/baz", false},
		{"foo/+/ba*", "foo/+/bar", true}, // ends in *
		{"foo/+/+/baz", "foo/bar/+/baz", true},
		{"foo/+/+/baz", "foo/+/bar/baz", true},  // more + segments
		{"foo/+/bar/b*", "foo/+/bar/ba*", true}, // shorter
		{"foo/+/a", "foo/+/b", true},            // lexicographically smaller
		{"foo/+/b", "foo/+/a", false},
	}
	cand := func(p string) candidate {
		if !strings.Contains(p, "+") {
			prefix := strings.TrimSuffix(p, "*")
			return candidate{firstWC: len(prefix), isPrefix: true, path: prefix}
		}
		return newWCRule(p, nil).candidate()
	}
	for _, tt := range tests {
		if got := lowerPriority(cand(tt.a), cand(tt.b)); got != tt.want {
			t.Errorf("lowerPriority(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestACLSegmentWildcards(t *testing.T) {
	acl := mustACL(t, `
path "+/kv/+" { capabilities = ["read"] }
path "team/+/data/*" { capabilities = ["create"] }
path "+" { capabilities = ["list"] }
`)
	runOpCases(t, acl, []opCase{
		{logical.ReadOperation, "a/kv/b", true, false},
		{logical.ReadOperation, "a/kv/b/c", false, false},
		{logical.ReadOperation, "a/kv", false, false},
		{logical.CreateOperation, "team/x/data/y/z", true, false},
		{logical.CreateOperation, "team/x/data/", true, false},
		{logical.CreateOperation, "team/x/datas/y", false, false},
		{logical.CreateOperation, "team/x/y/data/z", false, false},
		{logical.ListOperation, "anything", true, false},
		{logical.ListOperation, "anything/", true, false}, // trailing slash trimmed for list
		{logical.ListOperation, "two/segments", false, false},
	})
}

func TestACLListTrailingSlash(t *testing.T) {
	acl := mustACL(t, `
path "secret/metadata" { capabilities = ["list"] }
path "kv/*" { capabilities = ["list"] }
`)
	runOpCases(t, acl, []opCase{
		{logical.ListOperation, "secret/metadata/", true, false},
		{logical.ReadOperation, "secret/metadata/", false, false},
		{logical.ListOperation, "kv/", true, false},
		{logical.ListOperation, "kv/a/", true, false},
	})
}

func TestACLDenyWinsAndMerge(t *testing.T) {
	acl := mustACL(t,
		`path "secret/*" { capabilities = ["read", "list"] }
		 path "secret/x" { capabilities = ["read"] allowed_parameters = { "a" = ["1"] } required_parameters = ["a"] min_wrapping_ttl = "5m" max_wrapping_ttl = "2h" }
		 path "secret/y" { capabilities = ["read"] allowed_parameters = { "a" = [] } }
		 path "shared/+" { capabilities = ["read"] }`,
		`path "secret/*" { capabilities = ["update"] }
		 path "secret/super" { capabilities = ["deny"] }
		 path "secret/x" { capabilities = ["update"] allowed_parameters = { "a" = ["2"] } required_parameters = ["b", "a"] min_wrapping_ttl = "1m" max_wrapping_ttl = "1h" }
		 path "secret/y" { capabilities = ["update"] allowed_parameters = { "a" = ["only"] } }
		 path "shared/+" { capabilities = ["deny"] }`,
		`path "secret/super" { capabilities = ["read", "sudo"] }
		 path "shared/+" { capabilities = ["list"] }`,
	)
	if got := acl.Capabilities("secret/any"); !reflect.DeepEqual(got, []string{"list", "read", "update"}) {
		t.Fatalf("union = %v", got)
	}
	if got := acl.Capabilities("secret/super"); !reflect.DeepEqual(got, []string{"deny"}) {
		t.Fatalf("deny did not win: %v", got)
	}
	if res := acl.AllowOperation(logical.ReadOperation, "secret/super", nil, 0); res.Allowed || res.Sudo {
		t.Fatalf("denied path allowed: %+v", res)
	}
	if got := acl.Capabilities("shared/x"); !reflect.DeepEqual(got, []string{"deny"}) {
		t.Fatalf("deny on + path did not win: %v", got)
	}

	x := acl.exact["secret/x"]
	if x.Capabilities != ReadCapability|UpdateCapability {
		t.Fatalf("merged bitmap = %b", x.Capabilities)
	}
	if !reflect.DeepEqual(x.AllowedParameters["a"], []interface{}{"2", "1"}) {
		t.Fatalf("merged allowed = %#v", x.AllowedParameters)
	}
	if !reflect.DeepEqual(x.RequiredParameters, []string{"a", "b"}) {
		t.Fatalf("merged required = %#v", x.RequiredParameters)
	}
	if x.MinWrappingTTL != time.Minute || x.MaxWrappingTTL != time.Hour {
		t.Fatalf("merged wrapping = %s..%s", x.MinWrappingTTL, x.MaxWrappingTTL)
	}
	y := acl.exact["secret/y"]
	if len(y.AllowedParameters["a"]) != 0 {
		t.Fatalf("empty list should win: %#v", y.AllowedParameters)
	}
	if res := acl.AllowOperation(logical.UpdateOperation, "secret/y", map[string]interface{}{"a": "any"}, 0); !res.Allowed {
		t.Fatalf("merged any-value parameter denied: %+v", res)
	}
	// Merging must not modify the parsed policies.
	p, _ := Parse("p", `path "secret/x" { capabilities = ["read"] allowed_parameters = { "a" = ["1"] } }`)
	_, _ = NewACL(p, p)
	if !reflect.DeepEqual(p.Paths[0].AllowedParameters["a"], []interface{}{"1"}) {
		t.Fatalf("policy modified by merge: %#v", p.Paths[0].AllowedParameters)
	}
}

func TestACLParameters(t *testing.T) {
	acl := mustACL(t, `
path "allow" {
  capabilities = ["create", "update", "read", "delete"]
  allowed_parameters = { "color" = ["red", "blue*"], "size" = [], "tags" = ["a", "b"], "ttl" = [10] }
}
path "allowstar" {
  capabilities = ["update"]
  allowed_parameters = { "*" = [], "color" = ["red"] }
}
path "deny" {
  capabilities = ["update"]
  denied_parameters = { "admin" = [], "env" = ["prod*"] }
}
path "denyall" {
  capabilities = ["update"]
  denied_parameters = { "*" = [] }
}
path "required" {
  capabilities = ["update"]
  required_parameters = ["name"]
}
`)
	type m = map[string]interface{}
	tests := []struct {
		op     logical.Operation
		path   string
		data   m
		ok     bool
		denied string
	}{
		{logical.UpdateOperation, "allow", m{"color": "red"}, true, ""},
		{logical.UpdateOperation, "allow", m{"COLOR": "bluegreen"}, true, ""},
		{logical.UpdateOperation, "allow", m{"color": "green"}, false, "color"},
		{logical.UpdateOperation, "allow", m{"size": "xl"}, true, ""},
		{logical.UpdateOperation, "allow", m{"other": 1}, false, "other"},
		{logical.UpdateOperation, "allow", m{}, true, ""},
		{logical.UpdateOperation, "allow", m{"tags": []interface{}{"a", "b"}}, true, ""},
		{logical.UpdateOperation, "allow", m{"tags": []interface{}{"a", "c"}}, false, "tags"},
		{logical.UpdateOperation, "allow", m{"tags": "b, a"}, true, ""},
		{logical.UpdateOperation, "allow", m{"ttl": json.Number("10")}, true, ""},
		{logical.UpdateOperation, "allow", m{"ttl": "10"}, true, ""},
		{logical.UpdateOperation, "allow", m{"ttl": float64(10)}, true, ""},
		{logical.UpdateOperation, "allow", m{"ttl": 11}, false, "ttl"},
		{logical.ReadOperation, "allow", m{"other": 1}, false, "other"},
		{logical.DeleteOperation, "allow", m{"other": 1}, true, ""}, // delete carries no checked parameters
		{logical.UpdateOperation, "allowstar", m{"other": 1}, true, ""},
		{logical.UpdateOperation, "allowstar", m{"color": "green"}, false, "color"},
		{logical.UpdateOperation, "deny", m{"admin": false}, false, "admin"},
		{logical.UpdateOperation, "deny", m{"x": 1}, true, ""},
		{logical.UpdateOperation, "deny", m{"env": "production"}, false, "env"},
		{logical.UpdateOperation, "deny", m{"env": "dev"}, true, ""},
		{logical.UpdateOperation, "deny", m{"env": []interface{}{"dev", "prod"}}, false, "env"},
		{logical.UpdateOperation, "deny", m{"env": "dev,prod"}, false, "env"},
		{logical.UpdateOperation, "denyall", m{"x": 1}, false, "x"},
		{logical.UpdateOperation, "denyall", m{}, true, ""},
		{logical.UpdateOperation, "required", m{}, false, "name"},
		{logical.UpdateOperation, "required", m{"Name": "x"}, true, ""},
	}
	for _, tt := range tests {
		res := acl.AllowOperation(tt.op, tt.path, tt.data, 0)
		if res.Allowed != tt.ok || res.DeniedParameter != tt.denied {
			t.Errorf("%s %s %v: allowed=%v denied=%q (%s), want allowed=%v denied=%q",
				tt.op, tt.path, tt.data, res.Allowed, res.DeniedParameter, res.Reason, tt.ok, tt.denied)
		}
		if !res.Allowed && res.Reason == "" {
			t.Errorf("%s %s %v: denial without reason", tt.op, tt.path, tt.data)
		}
	}
}

func TestACLWrapping(t *testing.T) {
	acl := mustACL(t, `
path "wrapped" { capabilities = ["read"] min_wrapping_ttl = "1m" max_wrapping_ttl = "1h" }
path "maxonly" { capabilities = ["read"] max_wrapping_ttl = "10m" }
`)
	tests := []struct {
		path string
		ttl  time.Duration
		ok   bool
	}{
		{"wrapped", 0, false},
		{"wrapped", 30 * time.Second, false},
		{"wrapped", 5 * time.Minute, true},
		{"wrapped", 2 * time.Hour, false},
		{"maxonly", 0, false},
		{"maxonly", time.Minute, true},
		{"maxonly", 11 * time.Minute, false},
	}
	for _, tt := range tests {
		res := acl.AllowOperation(logical.ReadOperation, tt.path, nil, tt.ttl)
		if res.Allowed != tt.ok {
			t.Errorf("%s wrap %s: allowed=%v (%s), want %v", tt.path, tt.ttl, res.Allowed, res.Reason, tt.ok)
		}
	}
}

func TestACLOperationsToCapabilities(t *testing.T) {
	acl := mustACL(t, `path "u" { capabilities = ["update"] } path "p" { capabilities = ["patch"] }`)
	runOpCases(t, acl, []opCase{
		{logical.UpdateOperation, "u", true, false},
		{logical.CreateOperation, "u", false, false},
		{logical.RenewOperation, "u", true, false},
		{logical.RevokeOperation, "u", true, false},
		{logical.PatchOperation, "u", false, false},
		{logical.PatchOperation, "p", true, false},
		{logical.UpdateOperation, "p", false, false},
		{logical.Operation("bogus"), "u", false, false},
	})
}

func TestACLRoot(t *testing.T) {
	acl, err := NewACL(RootPolicy(), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	res := acl.AllowOperation(logical.DeleteOperation, "sys/seal", map[string]interface{}{"x": 1}, 0)
	if !res.Allowed || !res.IsRoot || !res.Sudo || !acl.IsRoot() {
		t.Fatalf("root result = %+v", res)
	}
	if got := acl.Capabilities("any/path"); !reflect.DeepEqual(got, []string{"root"}) {
		t.Fatalf("root capabilities = %v", got)
	}
}

func TestACLDefaultPolicy(t *testing.T) {
	acl, err := NewACL(DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	runOpCases(t, acl, []opCase{
		{logical.ReadOperation, "auth/token/lookup-self", true, false},
		{logical.UpdateOperation, "auth/token/lookup-self", false, false},
		{logical.UpdateOperation, "auth/token/renew-self", true, false},
		{logical.UpdateOperation, "auth/token/revoke-self", true, false},
		{logical.UpdateOperation, "sys/capabilities-self", true, false},
		{logical.ReadOperation, "sys/internal/ui/resultant-acl", true, false},
		{logical.UpdateOperation, "sys/leases/renew", true, false},
		{logical.UpdateOperation, "sys/renew", true, false},
		{logical.UpdateOperation, "sys/leases/lookup", true, false},
		{logical.CreateOperation, "cubbyhole/foo", true, false},
		{logical.ListOperation, "cubbyhole/", true, false},
		{logical.UpdateOperation, "sys/wrapping/unwrap", true, false},
		{logical.UpdateOperation, "sys/tools/hash/sha2-256", true, false},
		{logical.UpdateOperation, "sys/control-group/request", true, false},
		{logical.ReadOperation, "identity/oidc/provider/default/authorize", true, false},
		{logical.ReadOperation, "sys/mounts", false, false},
		{logical.ReadOperation, "secret/data/foo", false, false},
	})
	if got := acl.Capabilities("cubbyhole/x"); !reflect.DeepEqual(got, []string{"create", "delete", "list", "read", "update"}) {
		t.Fatalf("cubbyhole capabilities = %v", got)
	}
}

func TestACLTemplatedPathsSkipped(t *testing.T) {
	acl := mustACL(t, `path "identity/entity/id/{{identity.entity.id}}" { capabilities = ["read"] }`)
	if acl.AllowOperation(logical.ReadOperation, "identity/entity/id/abc", nil, 0).Allowed {
		t.Fatal("templated path matched without an entity")
	}
}

func TestACLCapabilities(t *testing.T) {
	acl := mustACL(t, `
path "dev/*" { capabilities = ["sudo", "read", "list", "update", "delete", "create"] }
path "stage/aws/*" { capabilities = ["read", "update", "sudo", "list"] }
path "app" { capabilities = ["read", "create"] }
path "none" { capabilities = [] }
`)
	tests := []struct {
		path string
		want []string
	}{
		{"dev", []string{"deny"}},
		{"dev/", []string{"create", "delete", "list", "read", "sudo", "update"}},
		{"stage/aws/test", []string{"list", "read", "sudo", "update"}},
		{"app", []string{"create", "read"}},
		{"app/", []string{"create", "read"}},
		{"none", []string{"deny"}},
		{"elsewhere", []string{"deny"}},
	}
	for _, tt := range tests {
		if got := acl.Capabilities(tt.path); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Capabilities(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
