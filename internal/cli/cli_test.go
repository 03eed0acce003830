package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// run runs a command line with the given environment and stdin.
func run(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = t.TempDir()
	}
	code := runWith(append([]string{"vault"}, args...), strings.NewReader(stdin), &out, &errb, envMap(env))
	return code, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring
		stderr     string // substring
		stdoutFull string
	}{
		{name: "no args", args: nil, code: 127, stderr: "Usage: vault <command> [args]"},
		{name: "top help", args: []string{"-h"}, code: 0, stderr: "Common commands:"},
		{name: "version", args: []string{"version"}, code: 0, stdoutFull: "Coffer v0.1.0 (Vault API 1.17.0)\n"},
		{name: "version flag", args: []string{"--version"}, code: 0, stdoutFull: "Coffer v0.1.0 (Vault API 1.17.0)\n"},
		{name: "unknown", args: []string{"frobnicate"}, code: 127, stderr: "Unknown command: frobnicate"},
		{name: "group", args: []string{"kv"}, code: 1, stderr: "Usage: vault kv <subcommand>"},
		{name: "group help", args: []string{"operator", "-h"}, code: 0, stderr: "generate-root"},
		{name: "nested group", args: []string{"kv", "metadata"}, code: 1, stderr: "    delete"},
		{name: "leaf help", args: []string{"kv", "put", "-h"}, code: 0, stderr: "Usage: vault kv put [options] KEY [DATA]"},
		{name: "leaf help after args", args: []string{"write", "secret/x", "--help"}, code: 0, stderr: "Usage: vault write"},
		{name: "bad flag", args: []string{"read", "-bogus", "x"}, code: 1, stderr: "flag provided but not defined: -bogus"},
		{name: "missing args", args: []string{"read"}, code: 1, stderr: "Not enough arguments (expected at least 1, got 0)"},
		{name: "too many args", args: []string{"status", "x"}, code: 1, stderr: "Too many arguments (expected 0, got 1)"},
		{name: "write without data", args: []string{"write", "secret/x"}, code: 1, stderr: "Must supply data or use -force"},
		{name: "bad format", args: []string{"read", "-format=xml", "secret/x"}, code: 1, stderr: "Invalid output format: xml"},
		{name: "token revoke no args", args: []string{"token", "revoke"}, code: 1, stderr: "Not enough arguments (expected 1 or -self, got 0)"},
		{name: "lease revoke force", args: []string{"lease", "revoke", "-force", "x"}, code: 1, stderr: "Specifying -force requires also specifying -prefix"},
		{name: "kv undelete no versions", args: []string{"kv", "undelete", "secret/x"}, code: 1, stderr: `use the "-versions" flag`},
		{name: "kv rollback no version", args: []string{"kv", "rollback", "secret/x"}, code: 1, stderr: "Version flag must be specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, map[string]string{"VAULT_ADDR": "http://127.0.0.1:1"}, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if tt.stdoutFull != "" && out != tt.stdoutFull {
				t.Errorf("stdout = %q, want %q", out, tt.stdoutFull)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errOut)
			}
		})
	}
}

func TestHelpGolden(t *testing.T) {
	_, _, errOut := run(t, nil, "", "-h")
	golden(t, "help_top.golden", errOut)
	_, _, errOut = run(t, nil, "", "kv", "-h")
	golden(t, "help_kv.golden", errOut)
}

func TestEveryCommandHasHelp(t *testing.T) {
	m := &meta{prog: "vault", env: environ{lookup: envMap(nil)}}
	for name, ctor := range commands() {
		cmd := ctor(m)
		if cmd.Synopsis() == "" {
			t.Errorf("%s: empty synopsis", name)
		}
		h := cmd.Help()
		if !strings.HasPrefix(h, "Usage: vault "+name) {
			t.Errorf("%s: help does not start with its usage line: %q", name, firstLine(h))
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestConnectionErrorIsRemote(t *testing.T) {
	code, _, errOut := run(t, map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t"}, "", "read", "secret/foo")
	if code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	if !strings.HasPrefix(errOut, "Error reading secret/foo: ") {
		t.Fatalf("stderr = %q", errOut)
	}
	code, _, _ = run(t, map[string]string{"VAULT_ADDR": "http://127.0.0.1:1"}, "", "status")
	if code != 1 {
		t.Fatalf("status exit code = %d, want 1", code)
	}
}

// fakeVault answers canned JSON for "METHOD /v1/path" keys and records the
// requests it gets.
type fakeVault struct {
	mu        sync.Mutex
	responses map[string]fakeResponse
	requests  []fakeRequest
}

type fakeResponse struct {
	status int
	body   string
}

type fakeRequest struct {
	method, path, token, query string
	body                       map[string]interface{}
}

func newFakeVault(t *testing.T, responses map[string]fakeResponse) (*fakeVault, string) {
	f := &fakeVault{responses: responses}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]interface{}
		_ = json.Unmarshal(b, &body)
		method := r.Method
		if method == http.MethodGet && r.URL.Query().Get("list") == "true" {
			method = "LIST"
		}
		f.mu.Lock()
		f.requests = append(f.requests, fakeRequest{method: method, path: r.URL.Path, token: r.Header.Get("X-Vault-Token"), query: r.URL.RawQuery, body: body})
		resp, ok := f.responses[method+" "+r.URL.Path]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[]}`))
			return
		}
		if resp.status == 0 {
			resp.status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		_, _ = w.Write([]byte(resp.body))
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeVault) last() fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

const kvV2Mount = `{"data":{"path":"secret/","type":"kv","options":{"version":"2"}}}`

func TestKVGetV2Golden(t *testing.T) {
	f, addr := newFakeVault(t, map[string]fakeResponse{
		"GET /v1/sys/internal/ui/mounts/secret/creds":   {body: kvV2Mount},
		"GET /v1/sys/internal/ui/mounts/secret":         {body: kvV2Mount},
		"GET /v1/sys/internal/ui/mounts/secret/missing": {body: kvV2Mount},
		"GET /v1/secret/data/creds": {body: `{"request_id":"r1","lease_id":"","renewable":false,"lease_duration":0,
			"data":{"data":{"passcode":"my-long-passcode"},"metadata":{"created_time":"2022-06-15T20:14:17.107852Z",
			"custom_metadata":null,"deletion_time":"","destroyed":false,"version":1}},"warnings":null}`},
	})
	env := map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": "root"}
	code, out, errOut := run(t, env, "", "kv", "get", "secret/creds")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "kv_get_v2.golden", out)
	if r := f.last(); r.path != "/v1/secret/data/creds" || r.token != "root" {
		t.Fatalf("last request %+v", r)
	}

	code, out, _ = run(t, env, "", "kv", "get", "-mount=secret", "-version=1", "-field=passcode", "creds")
	if code != 0 || out != "my-long-passcode" {
		t.Fatalf("-field: exit %d output %q", code, out)
	}
	if r := f.last(); r.query != "version=1" {
		t.Fatalf("version query = %q", r.query)
	}

	code, _, errOut = run(t, env, "", "kv", "get", "secret/missing")
	if code != 2 || !strings.Contains(errOut, "No value found at secret/data/missing") {
		t.Fatalf("missing: exit %d stderr %q", code, errOut)
	}
}

func TestKVPutV2Body(t *testing.T) {
	f, addr := newFakeVault(t, map[string]fakeResponse{
		"GET /v1/sys/internal/ui/mounts/secret/app": {body: kvV2Mount},
		"PUT /v1/secret/data/app": {body: `{"data":{"created_time":"2024-01-01T00:00:00Z","custom_metadata":null,
			"deletion_time":"","destroyed":false,"version":2}}`},
	})
	env := map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": "root"}
	code, out, errOut := run(t, env, "s3cret", "kv", "put", "-cas=1", "secret/app", "user=alice", "pass=-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "kv_put_v2.golden", out)
	body := f.last().body
	data, _ := body["data"].(map[string]interface{})
	opts, _ := body["options"].(map[string]interface{})
	if data["user"] != "alice" || data["pass"] != "s3cret" || opts["cas"] != float64(1) {
		t.Fatalf("request body = %v", body)
	}
}

func TestKVV1UsesPlainPaths(t *testing.T) {
	f, addr := newFakeVault(t, map[string]fakeResponse{
		"GET /v1/sys/internal/ui/mounts/kv/app": {body: `{"data":{"path":"kv/","type":"kv","options":null}}`},
		"GET /v1/kv/app":                        {body: `{"lease_duration":2764800,"data":{"user":"bob"}}`},
	})
	env := map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": "root"}
	code, out, errOut := run(t, env, "", "kv", "get", "kv/app")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if f.last().path != "/v1/kv/app" {
		t.Fatalf("path = %s", f.last().path)
	}
	golden(t, "kv_get_v1.golden", out)
}

func TestWriteJSONBodyFromStdin(t *testing.T) {
	f, addr := newFakeVault(t, map[string]fakeResponse{"PUT /v1/secret/cfg": {status: http.StatusNoContent}})
	env := map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": "root"}
	code, out, errOut := run(t, env, `{"n":5,"tags":["a","b"]}`, "write", "secret/cfg", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "Success! Data written to: secret/cfg\n" {
		t.Fatalf("stdout = %q", out)
	}
	body := f.last().body
	if body["n"] != float64(5) || len(body["tags"].([]interface{})) != 2 {
		t.Fatalf("body = %v", body)
	}
}

func TestOutputCurlString(t *testing.T) {
	f, addr := newFakeVault(t, nil)
	code, out, errOut := run(t, map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": "root"}, "", "write", "-output-curl-string", "secret/x", "a=b")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "curl -X PUT ") || !strings.Contains(out, `-d '{"a":"b"}' `+addr+"/v1/secret/x") {
		t.Fatalf("stdout = %q", out)
	}
	if len(f.requests) != 0 {
		t.Fatalf("request was sent: %+v", f.requests)
	}
}

func TestLoginStoresToken(t *testing.T) {
	_, addr := newFakeVault(t, map[string]fakeResponse{
		"GET /v1/auth/token/lookup-self": {body: `{"data":{"id":"hvs.root","accessor":"acc","policies":["root"],"ttl":0,"renewable":false}}`},
		"PUT /v1/auth/approle/login": {body: `{"auth":{"client_token":"hvs.approle","accessor":"a2","policies":["default","app"],
			"token_policies":["default","app"],"lease_duration":3600,"renewable":true}}`},
	})
	home := t.TempDir()
	env := map[string]string{"VAULT_ADDR": addr, "HOME": home}
	code, out, errOut := run(t, env, "", "login", "hvs.root")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "login_token.golden", out)
	b, err := os.ReadFile(filepath.Join(home, ".vault-token"))
	if err != nil || string(b) != "hvs.root" {
		t.Fatalf("token file = %q, %v", b, err)
	}

	code, out, errOut = run(t, env, "", "login", "-method=approle", "-token-only", "role_id=r", "secret_id=s")
	if code != 0 || out != "hvs.approle" {
		t.Fatalf("approle: exit %d out %q err %q", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(home, ".vault-token")); string(b) != "hvs.root" {
		t.Fatalf("-token-only overwrote the stored token: %q", b)
	}
}
