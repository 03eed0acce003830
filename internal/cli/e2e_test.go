package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// e2e drives the CLI against a real in-process server over TLS.
type e2e struct {
	t   *testing.T
	srv *testserver.Server
	env map[string]string
}

func startE2E(t *testing.T) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a server")
	}
	srv := testserver.Start(t, testserver.Options{})
	return &e2e{t: t, srv: srv, env: map[string]string{
		"VAULT_ADDR":   srv.Addr,
		"VAULT_TOKEN":  srv.RootToken,
		"VAULT_CACERT": srv.CACertFile,
		"HOME":         t.TempDir(),
	}}
}

// ok runs a command that must succeed and returns its stdout.
func (e *e2e) ok(stdin string, args ...string) string {
	e.t.Helper()
	code, out, errOut := run(e.t, e.env, stdin, args...)
	if code != 0 {
		e.t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fail runs a command that must exit with code and returns its stderr.
func (e *e2e) fail(code int, args ...string) string {
	e.t.Helper()
	got, out, errOut := run(e.t, e.env, "", args...)
	if got != code {
		e.t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errOut)
	}
	return errOut
}

// json runs a command with -format=json inserted after the command words
// and decodes its output.
func (e *e2e) json(words int, args ...string) map[string]interface{} {
	e.t.Helper()
	full := append(append(append([]string{}, args[:words]...), "-format=json"), args[words:]...)
	out := e.ok("", full...)
	var v map[string]interface{}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		e.t.Fatalf("%s: output is not a JSON object: %v\n%s", strings.Join(full, " "), err, out)
	}
	return v
}

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s output lacks %q:\n%s", what, w, out)
		}
	}
}

// tableRow checks that a Key/Value table has the row key -> value.
func tableRow(t *testing.T, out, key, value string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "    ")
		if ok && k == key && strings.TrimSpace(v) == value {
			return
		}
	}
	t.Errorf("table lacks row %s = %s:\n%s", key, value, out)
}

func dig(v interface{}, keys ...string) interface{} {
	for _, k := range keys {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestE2EStatus(t *testing.T) {
	e := startE2E(t)
	out := e.ok("", "status")
	tableRow(t, out, "Initialized", "true")
	tableRow(t, out, "Sealed", "false")
	tableRow(t, out, "Version", "1.17.0+coffer.0.1.0")
	contains(t, "status", out, "Seal Type", "Storage Type", "HA Enabled")
	st := e.json(1, "status")
	if st["sealed"] != false || st["initialized"] != true {
		t.Errorf("status json = %v", st)
	}
	contains(t, "key-status", e.ok("", "operator", "key-status"), "Key Term", "Install Time")
	contains(t, "rotate", e.ok("", "operator", "rotate"), "Success! Rotated key", "Key Term")
}

func TestE2EKVv1(t *testing.T) {
	e := startE2E(t)
	contains(t, "enable", e.ok("", "secrets", "enable", "-path=kv1", "kv"), "Success! Enabled the kv secrets engine at: kv1/")
	if out := e.ok("", "write", "kv1/app", "user=alice", "pass=s3cret"); out != "Success! Data written to: kv1/app\n" {
		t.Fatalf("write output %q", out)
	}
	out := e.ok("", "read", "kv1/app")
	contains(t, "read", out, "Key", "refresh_interval", "pass", "s3cret", "user", "alice")
	if got := e.ok("", "read", "-field=user", "kv1/app"); got != "alice" {
		t.Errorf("-field=user = %q", got)
	}
	if v := e.json(1, "read", "kv1/app"); dig(v, "data", "pass") != "s3cret" {
		t.Errorf("read json = %v", v)
	}
	e.ok(`{"user":"bob","n":3}`, "write", "kv1/other", "-")
	if v := e.json(1, "read", "kv1/other"); dig(v, "data", "user") != "bob" || dig(v, "data", "n") != float64(3) {
		t.Errorf("stdin body read back as %v", v)
	}
	contains(t, "list", e.ok("", "list", "kv1/"), "Keys\n----\napp\nother")
	contains(t, "kv get v1", e.ok("", "kv", "get", "kv1/app"), "==== Data ====", "alice")
	if out := e.ok("", "delete", "kv1/app"); out != "Success! Data deleted (if it existed) at: kv1/app\n" {
		t.Fatalf("delete output %q", out)
	}
	contains(t, "read missing", e.fail(2, "read", "kv1/app"), "No value found at kv1/app")
}

func TestE2EKVv2(t *testing.T) {
	e := startE2E(t)
	out := e.ok("", "kv", "put", "secret/app", "user=alice")
	contains(t, "kv put", out, "Secret Path", "secret/data/app")
	tableRow(t, out, "version", "1")
	out = e.ok("", "kv", "get", "secret/app")
	contains(t, "kv get", out, "Secret Path =\nsecret/data/app\n", "=== Metadata ===", "Data ====", "user    alice")

	tableRow(t, e.ok("", "kv", "patch", "secret/app", "pass=s3cret"), "version", "2")
	if got := e.ok("", "kv", "get", "-field=pass", "secret/app"); got != "s3cret" {
		t.Errorf("kv get -field=pass = %q", got)
	}
	if got := e.ok("", "kv", "get", "-mount=secret", "-field=user", "app"); got != "alice" {
		t.Errorf("kv get -mount -field = %q", got)
	}
	v1 := e.json(2, "kv", "get", "-version=1", "secret/app")
	if dig(v1, "data", "data", "user") != "alice" || dig(v1, "data", "data", "pass") != nil {
		t.Errorf("version 1 = %v", v1)
	}
	contains(t, "kv put cas", e.fail(2, "kv", "put", "-cas=1", "secret/app", "x=y"), "Error writing data to secret/data/app")

	e.ok("", "kv", "metadata", "put", "-max-versions=5", "-custom-metadata=owner=ops", "secret/app")
	md := e.ok("", "kv", "metadata", "get", "secret/app")
	contains(t, "metadata get", md, "Metadata Path", "secret/metadata/app", "max_versions", "5", "Version 1", "Version 2", "owner:ops")
	mdj := e.json(3, "kv", "metadata", "get", "secret/app")
	if dig(mdj, "data", "max_versions") != float64(5) {
		t.Errorf("metadata json = %v", mdj)
	}

	contains(t, "kv list", e.ok("", "kv", "list", "secret/"), "Keys", "app")
	e.ok("", "kv", "delete", "secret/app")
	contains(t, "get deleted", e.ok("", "kv", "get", "-format=json", "secret/app"), "deletion_time")
	e.ok("", "kv", "undelete", "-versions=2", "secret/app")
	if got := e.ok("", "kv", "get", "-field=pass", "secret/app"); got != "s3cret" {
		t.Errorf("after undelete = %q", got)
	}
	e.ok("", "kv", "destroy", "-versions=1", "secret/app")
	e.ok("", "kv", "rollback", "-version=2", "secret/app")
	v3 := e.json(2, "kv", "get", "secret/app")
	if dig(v3, "data", "metadata", "version") != float64(3) || dig(v3, "data", "data", "pass") != "s3cret" {
		t.Errorf("after rollback = %v", v3)
	}
	contains(t, "metadata delete", e.ok("", "kv", "metadata", "delete", "secret/app"), "Success! Data deleted")
	e.fail(2, "kv", "get", "secret/app")
}

func TestE2ETokens(t *testing.T) {
	e := startE2E(t)
	created := e.json(2, "token", "create", "-policy=default", "-ttl=1h", "-metadata=team=ops", "-display-name=ci")
	token, _ := dig(created, "auth", "client_token").(string)
	accessor, _ := dig(created, "auth", "accessor").(string)
	if !strings.HasPrefix(token, "hvs.") || accessor == "" {
		t.Fatalf("token create json = %v", created)
	}
	out := e.ok("", "token", "create", "-policy=default", "-ttl=1h")
	contains(t, "token create", out, "token ", "token_accessor")
	tableRow(t, out, "token_duration", "1h")
	tableRow(t, out, "token_policies", `["default"]`)
	other := e.ok("", "token", "create", "-field=token", "-policy=default")
	if !strings.HasPrefix(other, "hvs.") || strings.Contains(other, "\n") {
		t.Errorf("-field=token = %q", other)
	}

	contains(t, "token lookup", e.ok("", "token", "lookup", token), "accessor", accessor, "display_name", "token-ci", "policies")
	if got := e.ok("", "token", "lookup", "-accessor", "-field=display_name", accessor); got != "token-ci" {
		t.Errorf("lookup by accessor = %q", got)
	}
	contains(t, "token renew", e.ok("", "token", "renew", "-increment=30m", token), "token_duration")
	contains(t, "capabilities", e.ok("", "token", "capabilities", "secret/data/x"), "root")

	if out := e.ok("", "token", "revoke", token); out != "Success! Revoked token (if it existed)\n" {
		t.Errorf("revoke output %q", out)
	}
	e.fail(2, "token", "lookup", token)
	e.ok("", "token", "revoke", "-accessor", mustLookupAccessor(t, e, other))
	e.fail(2, "token", "lookup", other)
}

func mustLookupAccessor(t *testing.T, e *e2e, token string) string {
	t.Helper()
	v := e.json(2, "token", "lookup", token)
	acc, _ := dig(v, "data", "accessor").(string)
	if acc == "" {
		t.Fatalf("lookup = %v", v)
	}
	return acc
}

func TestE2EPolicies(t *testing.T) {
	e := startE2E(t)
	rules := "path \"secret/data/app\" {\n  capabilities = [\"read\"]\n}\n"
	if out := e.ok(rules, "policy", "write", "app-reader", "-"); out != "Success! Uploaded policy: app-reader\n" {
		t.Fatalf("policy write output %q", out)
	}
	if out := e.ok("", "policy", "read", "app-reader"); out != strings.TrimSpace(rules)+"\n" {
		t.Errorf("policy read = %q", out)
	}
	if v := e.json(2, "policy", "read", "app-reader"); v["policy"] != rules {
		t.Errorf("policy read json = %v", v)
	}
	contains(t, "policy list", e.ok("", "policy", "list"), "app-reader\n", "default\n", "root\n")

	// A token with the policy can read but not write.
	tok := e.ok("", "token", "create", "-field=token", "-policy=app-reader")
	e.ok("", "kv", "put", "secret/app", "k=v")
	limited := map[string]string{"VAULT_ADDR": e.env["VAULT_ADDR"], "VAULT_CACERT": e.env["VAULT_CACERT"], "VAULT_TOKEN": tok, "HOME": t.TempDir()}
	code, out, errOut := run(t, limited, "", "read", "-field=data", "secret/data/app")
	if code != 0 || !strings.Contains(out, "k:v") {
		t.Errorf("limited read: exit %d out %q err %q", code, out, errOut)
	}
	code, _, errOut = run(t, limited, `{"data":{"k":"z"}}`, "write", "secret/data/app", "-")
	if code != 2 || !strings.Contains(errOut, "Code: 403") || !strings.Contains(errOut, "permission denied") {
		t.Errorf("limited write: exit %d stderr %q", code, errOut)
	}

	if out := e.ok("", "policy", "delete", "app-reader"); out != "Success! Deleted policy: app-reader\n" {
		t.Errorf("policy delete output %q", out)
	}
	e.fail(2, "policy", "read", "app-reader")
}

func TestE2EMounts(t *testing.T) {
	e := startE2E(t)
	e.ok("", "secrets", "enable", "-path=team", "-description=team secrets", "-version=2", "kv")
	contains(t, "secrets list", e.ok("", "secrets", "list"), "Path", "team/", "kv", "team secrets", "secret/", "sys/")
	contains(t, "tune", e.ok("", "secrets", "tune", "-default-lease-ttl=1h", "-max-lease-ttl=2h", "team/"), "Success! Tuned the secrets engine at: team/")
	mounts := e.json(2, "secrets", "list")
	if dig(mounts, "team/", "config", "default_lease_ttl") != float64(3600) || dig(mounts, "team/", "options", "version") != "2" {
		t.Errorf("team/ after tune = %v", mounts["team/"])
	}
	contains(t, "detailed", e.ok("", "secrets", "list", "-detailed"), "Default TTL", "3600", "7200")
	contains(t, "kv on new mount", e.ok("", "kv", "put", "team/db", "pw=x"), "Secret Path", "team/data/db")
	contains(t, "disable", e.ok("", "secrets", "disable", "team/"), "Success! Disabled the secrets engine (if it existed) at: team/")
	if strings.Contains(e.ok("", "secrets", "list"), "team/") {
		t.Error("team/ still listed after disable")
	}
	contains(t, "auth list", e.ok("", "auth", "list"), "token/", "token")
}

func TestE2ELogin(t *testing.T) {
	e := startE2E(t)
	home := t.TempDir()
	env := map[string]string{"VAULT_ADDR": e.env["VAULT_ADDR"], "VAULT_CACERT": e.env["VAULT_CACERT"], "HOME": home}
	code, out, errOut := run(t, env, "", "login", e.srv.RootToken)
	if code != 0 {
		t.Fatalf("login: exit %d %s", code, errOut)
	}
	contains(t, "login", out, "Success! You are now authenticated")
	tableRow(t, out, "token_policies", `["root"]`)
	// The stored token is used when VAULT_TOKEN is not set.
	code, out, errOut = run(t, env, "", "token", "lookup", "-field=policies")
	if code != 0 || out != "[root]" {
		t.Fatalf("lookup with stored token: exit %d out %q err %q", code, out, errOut)
	}
	code, _, errOut = run(t, env, "", "login", "hvs.bogus")
	if code != 2 || !strings.Contains(errOut, "Error authenticating") {
		t.Fatalf("bad login: exit %d %q", code, errOut)
	}
}

func TestE2EMisc(t *testing.T) {
	e := startE2E(t)
	out := e.ok("", "secrets", "move", "secret/", "moved/")
	contains(t, "secrets move", out, "Success! Finished moving secrets engine secret/ to moved/")
	contains(t, "secrets list", e.ok("", "secrets", "list"), "moved/")

	yml := e.ok("", "read", "-format=yaml", "sys/mounts/moved")
	contains(t, "yaml", yml, "data:\n  accessor: ", "  type: kv\n", "request_id: ")

	raw := e.ok("", "read", "-format=raw", "sys/seal-status")
	contains(t, "raw", raw, `"sealed":false`)
	contains(t, "raw format on write", e.fail(1, "write", "-format=raw", "secret/x", "a=b"), "does not support the -format=raw option")

	contains(t, "lease lookup", e.fail(2, "lease", "lookup", "bogus/lease"), "error looking up lease id bogus/lease")
	contains(t, "lease revoke", e.ok("", "lease", "revoke", "-prefix", "-sync", "moved/"), "Success! Revoked any leases with prefix: moved/")

	// -output-curl-string prints the request instead of sending it.
	curl := e.ok("", "kv", "put", "-output-curl-string", "moved/x", "a=b")
	contains(t, "curl", curl, "curl -X PUT", "/v1/moved/data/x")
	e.fail(2, "kv", "get", "moved/x")
}
