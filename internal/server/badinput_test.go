package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// raw sends a request and returns status and decoded "errors".
func raw(t *testing.T, s *testserver.Server, method, path, body string) (int, []string) {
	t.Helper()
	req, err := http.NewRequest(method, s.Addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", s.RootToken)
	resp, err := s.Client.CloneConfig().HttpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out.Errors
}

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if _, err := c.KVv2("secret").Put(t.Context(), "keep", map[string]interface{}{"v": "original"}); err != nil {
		t.Fatal(err)
	}
	big := `{"data":{"v":"` + strings.Repeat("x", 33<<20) + `"}}`
	cases := []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"malformed JSON", "POST", "/v1/secret/data/keep", `{"data": {"v": `, 400, "failed to parse JSON input"},
		{"JSON array body", "POST", "/v1/secret/data/keep", `[1,2]`, 400, "must be a JSON object"},
		{"trailing garbage", "POST", "/v1/secret/data/keep", `{"data":{"v":"x"}} extra`, 400, "failed to parse JSON input"},
		{"wrong type for cas", "POST", "/v1/secret/data/keep", `{"data":{"v":"x"},"options":{"cas":"abc"}}`, 400, "check-and-set"},
		{"wrong type for data", "POST", "/v1/secret/data/keep", `{"data":"not-a-map"}`, 400, ""},
		{"stale cas", "POST", "/v1/secret/data/keep", `{"data":{"v":"x"},"options":{"cas":7}}`, 400, "check-and-set"},
		{"unknown mount", "GET", "/v1/nosuchmount/foo", ``, 404, "no handler for route"},
		{"path traversal", "GET", "/v1/secret/../sys/mounts", ``, 400, "not allowed"},
		{"encoded traversal", "POST", "/v1/secret/data/%2e%2e/keep", `{"data":{"v":"x"}}`, 400, "not allowed"},
		{"double slash", "POST", "/v1/secret/data//keep", `{"data":{"v":"x"}}`, 400, "empty path segments"},
		{"oversized body", "POST", "/v1/secret/data/keep", big, 413, "too large"},
		{"invalid HCL policy", "PUT", "/v1/sys/policies/acl/bad", `{"policy":"path \"secret/*\" { capabilities = [\"reed\"] }"}`, 400, "invalid capability"},
		{"policy not HCL at all", "PUT", "/v1/sys/policies/acl/bad", `{"policy":"path {{{"}`, 400, ""},
		{"mount without type", "POST", "/v1/sys/mounts/newmount", `{}`, 400, "type"},
		{"bad ttl in mount", "POST", "/v1/sys/mounts/newmount", `{"type":"kv","config":{"default_lease_ttl":"forever"}}`, 400, "default_lease_ttl"},
		{"unsupported method", "OPTIONS", "/v1/secret/data/keep", ``, 405, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, errs := raw(t, s, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (errors %v)", status, tc.status, errs)
			}
			if status >= 400 && len(errs) == 0 && tc.status != 404 {
				t.Fatalf("no errors in a %d response", status)
			}
			if tc.contains != "" && !strings.Contains(strings.Join(errs, " "), tc.contains) {
				t.Fatalf("errors %v do not mention %q", errs, tc.contains)
			}
		})
	}
	// Nothing changed.
	v, err := c.KVv2("secret").Get(t.Context(), "keep")
	if err != nil || v.Data["v"] != "original" || v.VersionMetadata.Version != 1 {
		t.Fatalf("secret changed by bad input: %+v %v", v, err)
	}
	pols, _ := c.Sys().ListPolicies()
	for _, p := range pols {
		if p == "bad" {
			t.Fatal("invalid policy was stored")
		}
	}
	mounts, _ := c.Sys().ListMounts()
	if _, ok := mounts["newmount/"]; ok {
		t.Fatal("invalid mount was created")
	}
}
