package cli

import (
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// TestE2EOperatorLifecycle initialises, unseals, seals, generates a root
// token and rekeys a fresh server through the CLI.
func TestE2EOperatorLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	srv := testserver.Start(t, testserver.Options{NoInit: true})
	e := &e2e{t: t, srv: srv, env: map[string]string{
		"VAULT_ADDR":   srv.Addr,
		"VAULT_CACERT": srv.CACertFile,
		"HOME":         t.TempDir(),
	}}

	if code, out, _ := run(t, e.env, "", "operator", "init", "-status"); code != 2 || out != "Vault is not initialized\n" {
		t.Fatalf("init -status before init: exit %d %q", code, out)
	}
	initOut := e.json(2, "operator", "init", "-key-shares=3", "-key-threshold=2")
	keys := jsonStrings(initOut["unseal_keys_b64"])
	root, _ := initOut["root_token"].(string)
	if len(keys) != 3 || len(jsonStrings(initOut["unseal_keys_hex"])) != 3 || root == "" || initOut["unseal_threshold"] != float64(2) {
		t.Fatalf("init json = %v", initOut)
	}
	e.env["VAULT_TOKEN"] = root
	if code, out, _ := run(t, e.env, "", "operator", "init", "-status"); code != 0 || out != "Vault is initialized\n" {
		t.Fatalf("init -status after init: exit %d %q", code, out)
	}

	unseal := func() {
		t.Helper()
		out := e.ok("", "operator", "unseal", keys[0])
		tableRow(t, out, "Sealed", "true")
		tableRow(t, out, "Unseal Progress", "1/2")
		// The second key is read from stdin, as when prompted.
		out = e.ok(keys[1]+"\n", "operator", "unseal")
		tableRow(t, out, "Sealed", "false")
	}
	code, out, _ := run(t, e.env, "", "status")
	if code != 2 {
		t.Fatalf("status of sealed server: exit %d", code)
	}
	tableRow(t, out, "Sealed", "true")
	unseal()
	if code, _, errOut := run(t, e.env, "", "status"); code != 0 {
		t.Fatalf("status after unseal: exit %d %s", code, errOut)
	}

	if out := e.ok("", "operator", "seal"); out != "Success! Vault is sealed.\n" {
		t.Fatalf("seal output %q", out)
	}
	contains(t, "read while sealed", e.fail(2, "read", "sys/mounts"), "Vault is sealed")
	out = e.ok("", "operator", "unseal", "-reset")
	tableRow(t, out, "Unseal Progress", "0/2")
	unseal()

	// Generate a new root token with an OTP.
	otp := e.ok("", "operator", "generate-root", "-generate-otp")
	if otp == "" || strings.Contains(otp, "\n") {
		t.Fatalf("otp = %q", otp)
	}
	gen := e.json(2, "operator", "generate-root", "-init", "-otp="+otp)
	nonce, _ := gen["nonce"].(string)
	if nonce == "" || gen["started"] != true {
		t.Fatalf("generate-root -init = %v", gen)
	}
	tableRow(t, e.ok("", "operator", "generate-root", "-status"), "Started", "true")
	e.ok("", "operator", "generate-root", "-nonce="+nonce, keys[0])
	done := e.json(2, "operator", "generate-root", "-nonce="+nonce, keys[1])
	encoded, _ := done["encoded_token"].(string)
	if encoded == "" {
		encoded, _ = done["encoded_root_token"].(string)
	}
	if done["complete"] != true || encoded == "" {
		t.Fatalf("generate-root completion = %v", done)
	}
	newRoot := e.ok("", "operator", "generate-root", "-decode="+encoded, "-otp="+otp)
	if !strings.HasPrefix(newRoot, "hvs.") {
		t.Fatalf("decoded root token = %q", newRoot)
	}
	e.env["VAULT_TOKEN"] = newRoot
	if got := e.ok("", "token", "lookup", "-field=policies"); got != "[root]" {
		t.Fatalf("new root token policies = %q", got)
	}

	// Rekey to 2-of-4 shares and unseal with the new keys.
	rk := e.json(2, "operator", "rekey", "-init", "-key-shares=4", "-key-threshold=2")
	rnonce, _ := rk["nonce"].(string)
	if rnonce == "" {
		t.Fatalf("rekey -init = %v", rk)
	}
	tableRow(t, e.ok("", "operator", "rekey", "-status"), "Rekey Progress", "0/2")
	e.ok("", "operator", "rekey", "-nonce="+rnonce, keys[0])
	out = e.ok("", "operator", "rekey", "-nonce="+rnonce, keys[1])
	var newKeys []string
	for _, line := range strings.Split(out, "\n") {
		if k, ok := strings.CutPrefix(line, "Key "); ok {
			_, v, _ := strings.Cut(k, ": ")
			newKeys = append(newKeys, v)
		}
	}
	if len(newKeys) != 4 {
		t.Fatalf("rekey output:\n%s", out)
	}
	contains(t, "rekey", out, "Operation nonce: "+rnonce, "rekeyed with 4 key shares and a key threshold of 2")
	e.ok("", "operator", "seal")
	keys = newKeys
	unseal()
}

func jsonStrings(v interface{}) []string {
	raw, _ := v.([]interface{})
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
