package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		check func(t *testing.T, p *Policy)
	}{
		{
			name: "capabilities and prefix",
			rules: `
path "secret/*" {
  capabilities = ["read", "list", "read"]
}`,
			check: func(t *testing.T, p *Policy) {
				pr := p.Paths[0]
				if pr.Path != "secret/*" || !pr.IsPrefix || pr.HasSegmentWildcards || pr.Line != 2 {
					t.Fatalf("path rule = %+v", pr)
				}
				if want := []string{"read", "list"}; !reflect.DeepEqual(pr.Capabilities, want) {
					t.Fatalf("capabilities = %v, want %v", pr.Capabilities, want)
				}
				if pr.Permissions.Capabilities != ReadCapability|ListCapability {
					t.Fatalf("bitmap = %b", pr.Permissions.Capabilities)
				}
			},
		},
		{
			name:  "leading slash stripped",
			rules: `path "/secret/foo" { capabilities = ["read"] }`,
			check: func(t *testing.T, p *Policy) {
				if p.Paths[0].Path != "secret/foo" || p.Paths[0].IsPrefix {
					t.Fatalf("path rule = %+v", p.Paths[0])
				}
			},
		},
		{
			name:  "deny drops everything else",
			rules: `path "a" { capabilities = ["read", "deny"] allowed_parameters = { "x" = [] } }`,
			check: func(t *testing.T, p *Policy) {
				pr := p.Paths[0]
				if !reflect.DeepEqual(pr.Capabilities, []string{"deny"}) || pr.Permissions.Capabilities != DenyCapability || pr.AllowedParameters != nil {
					t.Fatalf("path rule = %+v", pr)
				}
			},
		},
		{
			name:  "legacy write policy",
			rules: `path "a" { policy = "write" }`,
			check: func(t *testing.T, p *Policy) {
				want := CreateCapability | ReadCapability | UpdateCapability | DeleteCapability | ListCapability
				if p.Paths[0].Permissions.Capabilities != want {
					t.Fatalf("bitmap = %b, want %b", p.Paths[0].Permissions.Capabilities, want)
				}
			},
		},
		{
			name:  "legacy sudo policy",
			rules: `path "a" { policy = "sudo" }`,
			check: func(t *testing.T, p *Policy) {
				if p.Paths[0].Permissions.Capabilities&SudoCapability == 0 {
					t.Fatal("sudo missing")
				}
			},
		},
		{
			name: "parameters and wrapping",
			rules: `
path "secret/foo" {
  capabilities = ["create"]
  allowed_parameters = {
    "Color" = ["red", "blue*"]
    "ttl"   = [10, 1.5, true]
    "*"     = []
  }
  denied_parameters = {
    "admin" = []
  }
  required_parameters = ["color"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
  comment = "shared"
}`,
			check: func(t *testing.T, p *Policy) {
				pr := p.Paths[0]
				wantAllowed := map[string][]interface{}{
					"color": {"red", "blue*"}, "ttl": {int64(10), 1.5, true}, "*": {},
				}
				if !reflect.DeepEqual(pr.AllowedParameters, wantAllowed) {
					t.Fatalf("allowed = %#v", pr.AllowedParameters)
				}
				if !reflect.DeepEqual(pr.DeniedParameters, map[string][]interface{}{"admin": {}}) {
					t.Fatalf("denied = %#v", pr.DeniedParameters)
				}
				if !reflect.DeepEqual(pr.RequiredParameters, []string{"color"}) {
					t.Fatalf("required = %#v", pr.RequiredParameters)
				}
				if pr.MinWrappingTTL != time.Minute || pr.MaxWrappingTTL != time.Hour {
					t.Fatalf("wrapping = %s..%s", pr.MinWrappingTTL, pr.MaxWrappingTTL)
				}
			},
		},
		{
			name:  "segment wildcards",
			rules: `path "secret/+/teamb" { capabilities = ["read"] } path "+/x/*" { capabilities = ["read"] }`,
			check: func(t *testing.T, p *Policy) {
				if !p.Paths[0].HasSegmentWildcards || p.Paths[0].IsPrefix {
					t.Fatalf("rule 0 = %+v", p.Paths[0])
				}
				if !p.Paths[1].HasSegmentWildcards || !p.Paths[1].IsPrefix {
					t.Fatalf("rule 1 = %+v", p.Paths[1])
				}
			},
		},
		{
			name: "JSON form",
			rules: `{"path": {"secret/*": {"capabilities": ["read"], "allowed_parameters": {"a": []}},
			                "sys/mounts": {"policy": "read"}}}`,
			check: func(t *testing.T, p *Policy) {
				if len(p.Paths) != 2 || p.Paths[0].Path != "secret/*" || p.Paths[1].Path != "sys/mounts" {
					t.Fatalf("paths = %+v %+v", p.Paths[0], p.Paths[1])
				}
				if p.Paths[1].Permissions.Capabilities != ReadCapability|ListCapability {
					t.Fatalf("bitmap = %b", p.Paths[1].Permissions.Capabilities)
				}
			},
		},
		{
			name:  "path as attribute map",
			rules: `path = { "a/b" = { capabilities = ["read"] } }`,
			check: func(t *testing.T, p *Policy) {
				if len(p.Paths) != 1 || p.Paths[0].Path != "a/b" {
					t.Fatalf("paths = %+v", p.Paths)
				}
			},
		},
		{
			name:  "templated path",
			rules: `path "identity/entity/id/{{identity.entity.id}}" { capabilities = ["read"] }`,
			check: func(t *testing.T, p *Policy) {
				if !p.Templated || !p.Paths[0].Templated {
					t.Fatal("templated not detected")
				}
			},
		},
		{
			name:  "name key and empty policy",
			rules: `name = "ignored"`,
			check: func(t *testing.T, p *Policy) {
				if len(p.Paths) != 0 || p.Name != "mypol" {
					t.Fatalf("policy = %+v", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("MyPol", tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			if p.Raw != tt.rules {
				t.Fatal("raw text not kept")
			}
			tt.check(t, p)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		want  string
	}{
		{"bad capability", "path \"secret/*\" {\n  capabilities = [\n    \"reed\"]\n}",
			`failed to parse policy: line 3: invalid capability "reed" on path "secret/*"; accepted: create, read, update, patch, delete, list, sudo, deny`},
		{"unknown path key", "path \"a\" {\n  capabilties = [\"read\"]\n}",
			`failed to parse policy: line 2: unknown key "capabilties" on path "a"`},
		{"unknown top-level key", "\n\npaths \"a\" {}", `failed to parse policy: line 3: unknown key "paths"; accepted: path, name`},
		{"glob in middle", `path "secret/*/foo" { capabilities = ["read"] }`,
			`line 1: invalid glob in path "secret/*/foo": "*" is only allowed as the last character`},
		{"plus star", `path "secret/+*" { capabilities = ["read"] }`, `"+*" is not allowed`},
		{"partial plus segment", `path "secret/a+/b" { capabilities = ["read"] }`, `"+" must be a whole path segment`},
		{"min above max", "path \"a\" {\n capabilities = [\"read\"]\n min_wrapping_ttl = \"2h\"\n max_wrapping_ttl = \"1h\"\n}",
			`line 1: min_wrapping_ttl (2h0m0s) on path "a" is greater than max_wrapping_ttl (1h0m0s)`},
		{"bad ttl", `path "a" { max_wrapping_ttl = "soon" }`, `max_wrapping_ttl on path "a": invalid duration "soon"`},
		{"negative ttl", `path "a" { min_wrapping_ttl = -5 }`, `min_wrapping_ttl on path "a": must not be negative`},
		{"bad legacy policy", `path "a" { policy = "admin" }`, `invalid policy "admin" on path "a"`},
		{"capabilities not a list", `path "a" { capabilities = "read" }`, `capabilities on path "a" must be a list of strings`},
		{"capability not a string", `path "a" { capabilities = [1] }`, `capabilities on path "a" must be a list of strings`},
		{"syntax error", "path \"a\" {\n  capabilities = [\"read\"\n", `failed to parse policy: line `},
		{"duplicate key", "path \"a\" {\n capabilities = [\"read\"]\n capabilities = [\"list\"]\n}", `already set`},
		{"duplicate key json", `{"path": {"a": {"capabilities": ["read"], "capabilities": ["list"]}}}`, `duplicate key "capabilities" on path "a"`},
		{"wildcard param name", `path "a" { allowed_parameters = { "foo*" = [] } }`, `parameter "foo*": "*" must be the whole parameter name`},
		{"pointer param name", `path "a" { denied_parameters = { "/a/b" = [] } }`, `JSON pointer parameter names are not supported`},
		{"nested param value", `path "a" { allowed_parameters = { "x" = [["a"]] } }`, `values must be a list of strings, numbers or booleans`},
		{"required wildcard", `path "a" { required_parameters = ["*"] }`, `wildcards are not allowed here`},
		{"control group", `path "a" { control_group = { ttl = "1h" } }`, `"control_group" on path "a" is not supported`},
		{"mfa", `path "a" { mfa_methods = ["x"] }`, `"mfa_methods" on path "a" is not supported`},
		{"path without block", `path = "b"`, `"path" must be followed by a quoted path and a block`},
		{"path with two labels", `path "a" "b" { capabilities = ["read"] }`, `"path" takes exactly one quoted path`},
		{"path block not object", `{"path": {"a": "read"}}`, `path "a" must be followed by a block`},
		{"bad template", `path "x/{{foo}}" { capabilities = ["read"] }`, `invalid templating in path "x/{{foo}}"`},
		{"name not string", `name = 3`, `"name" must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p", tt.rules)
			if err == nil {
				t.Fatalf("no error for %q", tt.rules)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestBuiltinPolicies(t *testing.T) {
	d := DefaultPolicy()
	if d.Name != DefaultPolicyName || len(d.Paths) < 15 {
		t.Fatalf("default policy = %d paths", len(d.Paths))
	}
	w := ResponseWrappingPolicy()
	if len(w.Paths) != 2 {
		t.Fatalf("response-wrapping policy = %+v", w.Paths)
	}
	if r := RootPolicy(); r.Name != RootPolicyName || len(r.Paths) != 0 {
		t.Fatalf("root policy = %+v", r)
	}
}

func TestCapabilityStrings(t *testing.T) {
	tests := []struct {
		c    Capability
		want []string
	}{
		{0, []string{"deny"}},
		{DenyCapability | ReadCapability, []string{"deny"}},
		{ReadCapability | CreateCapability, []string{"create", "read"}},
		{SudoCapability | ListCapability | PatchCapability | UpdateCapability | DeleteCapability,
			[]string{"delete", "list", "patch", "sudo", "update"}},
	}
	for _, tt := range tests {
		if got := tt.c.Strings(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%b.Strings() = %v, want %v", tt.c, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "hcl",
			in:   "# keep me\npath \"a/*\" {\ncapabilities=[\"read\",\"list\"]\n}\n\n\n\npath \"b\" { policy = \"write\" }",
			want: "# keep me\npath \"a/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n\npath \"b\" {\n  policy = \"write\"\n}\n",
		},
		{
			name: "json",
			in:   `{"path": {"a": {"capabilities": ["read"]}}}`,
			want: "path \"a\" {\n  capabilities = [\"read\"]\n}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Format(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Format = %q, want %q", got, tt.want)
			}
			if _, err := Parse("x", got); err != nil {
				t.Fatalf("formatted text does not parse: %v", err)
			}
		})
	}
	if _, err := Format(`path "a" { capabilities = ["reed"] }`); err == nil || !strings.Contains(err.Error(), `invalid capability "reed"`) {
		t.Fatalf("Format of invalid policy: %v", err)
	}
}
