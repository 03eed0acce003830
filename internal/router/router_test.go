package router

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

type stub struct{ paths *logical.Paths }

func (s stub) HandleRequest(context.Context, *logical.Request) (*logical.Response, error) {
	return nil, nil
}
func (s stub) HandleExistenceCheck(context.Context, *logical.Request) (bool, bool, error) {
	return false, false, nil
}
func (s stub) SpecialPaths() *logical.Paths { return s.paths }
func (s stub) Type() logical.BackendType    { return logical.TypeLogical }
func (s stub) Cleanup(context.Context)      {}

func TestLongestPrefixAndNesting(t *testing.T) {
	r := New()
	mount := func(table, p string) error {
		return r.Mount(&MountEntry{Table: table, Path: p, Type: "kv"}, stub{}, logical.NewInmemStorage())
	}
	if err := mount(TableMounts, "secret/"); err != nil {
		t.Fatal(err)
	}
	if err := mount(TableMounts, "team/a/"); err != nil {
		t.Fatal(err)
	}
	if err := mount(TableAuth, "approle/"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"secret/nested/", "team/"} {
		if err := mount(TableMounts, bad); err == nil {
			t.Errorf("nested mount %q accepted", bad)
		}
	}
	cases := []struct{ path, mount, rel string }{
		{"secret/data/x", "secret/", "data/x"},
		{"secret", "secret/", ""},
		{"team/a/b/c", "team/a/", "b/c"},
		{"auth/approle/login", "auth/approle/", "login"},
		{"secretive/x", "", ""},
		{"team/b", "", ""},
	}
	for _, c := range cases {
		rt, rel := r.Match(c.path)
		got := ""
		if rt != nil {
			got = rt.Entry.RoutePath()
		}
		if got != c.mount || rel != c.rel {
			t.Errorf("Match(%q) = %q, %q; want %q, %q", c.path, got, rel, c.mount, c.rel)
		}
	}
}

func TestSpecialPaths(t *testing.T) {
	r := New()
	paths := &logical.Paths{
		Unauthenticated: []string{"login", "ca", "cert/*", "issuer/+/pem", "issuer/+/crl*"},
		Root:            []string{"config/*"},
	}
	if err := r.Mount(&MountEntry{Table: TableMounts, Path: "pki/", Type: "pki"}, stub{paths}, logical.NewInmemStorage()); err != nil {
		t.Fatal(err)
	}
	rt, _ := r.Match("pki/ca")
	for p, want := range map[string]bool{
		"login": true, "ca": true, "ca/pem": false, "cert/abc": true, "issuer/default/pem": true,
		"issuer/default/der": false, "issuer/x/y/pem": false, "issuer/default/crl/delta": true, "issuer/default/crl": true,
	} {
		if got := rt.IsUnauthenticated(p); got != want {
			t.Errorf("IsUnauthenticated(%q) = %v, want %v", p, got, want)
		}
	}
	if !rt.IsRootPath("config/urls") || rt.IsRootPath("roles/x") {
		t.Error("root paths")
	}
}

func TestValidateMountPath(t *testing.T) {
	for in, want := range map[string]string{"secret": "secret/", "/a/b/": "a/b/"} {
		if got, err := ValidateMountPath(in); err != nil || got != want {
			t.Errorf("ValidateMountPath(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "a/../b", "a//b", "a b", "x*"} {
		if _, err := ValidateMountPath(bad); err == nil {
			t.Errorf("ValidateMountPath(%q) accepted", bad)
		}
	}
}
