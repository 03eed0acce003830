package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func TestPasswordPolicies(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	l := s.Client.Logical()
	policy := `length = 12
rule "charset" {
  charset = "abcdef"
  min-chars = 2
}
rule "charset" {
  charset = "0123"
  min-chars = 2
}`
	if _, err := l.Write("sys/policies/password/short", map[string]interface{}{"policy": policy}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Read("sys/policies/password/short")
	if err != nil || got.Data["policy"] != policy {
		t.Fatalf("read back: %v %v", got, err)
	}
	gen, err := l.Read("sys/policies/password/short/generate")
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := gen.Data["password"].(string)
	if len(pw) != 12 || strings.Trim(pw, "abcdef0123") != "" {
		t.Fatalf("generated %q", pw)
	}
	list, err := l.List("sys/policies/password")
	if err != nil || list == nil || len(list.Data["keys"].([]interface{})) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	_, err = l.Write("sys/policies/password/bad", map[string]interface{}{"policy": "length = 2\nrule \"charset\" { charset = \"a\" }"})
	mustStatus(t, err, http.StatusBadRequest, "between 4 and 100")
	_, err = l.Read("sys/policies/password/missing/generate")
	mustStatus(t, err, http.StatusBadRequest, "no password policy")
	if _, err := l.Delete("sys/policies/password/short"); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Read("sys/policies/password/short"); got != nil {
		t.Fatal("policy still readable after delete")
	}
}
