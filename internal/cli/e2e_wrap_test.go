package cli

import (
	"strings"
	"testing"
)

func TestE2EWrapAndUnwrap(t *testing.T) {
	e := startE2E(t)
	e.ok("", "kv", "put", "secret/wrapme", "password=hunter2")
	tok := strings.TrimSpace(e.ok("", "kv", "get", "-wrap-ttl=60s", "-field=wrapping_token", "secret/wrapme"))
	if !strings.HasPrefix(tok, "hvs.") {
		t.Fatalf("wrapping token %q", tok)
	}
	out := e.ok("", "unwrap", "-format=json", tok)
	if !strings.Contains(out, "hunter2") {
		t.Fatalf("unwrap output: %s", out)
	}
	// Single use.
	errOut := e.fail(2, "unwrap", tok)
	if !strings.Contains(errOut, "not valid") {
		t.Fatalf("second unwrap: %s", errOut)
	}
	// The wrapping token as the client token; writes can be wrapped too.
	wrapped := strings.TrimSpace(e.ok("", "write", "-wrap-ttl=2m", "-field=wrapping_token", "-f", "auth/token/create", "policies=default"))
	e.env["VAULT_TOKEN"] = wrapped
	out = e.ok("", "unwrap", "-field=token")
	if !strings.HasPrefix(strings.TrimSpace(out), "hvs.") {
		t.Fatalf("unwrapped token: %q", out)
	}
}
