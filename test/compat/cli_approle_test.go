package compat_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCLIAppRoleLogin: `vault login -method=approle`, then reading database
// credentials and managing their lease with the resulting token, and a
// refusal elsewhere.
func TestCLIAppRoleLogin(t *testing.T) {
	f := setup(t, "1h", "2h")
	bin := t.TempDir()
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "coffer"), "./cmd/coffer")
	build.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Symlink("coffer", filepath.Join(bin, "vault")); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "VAULT_ADDR=" + f.s.Addr, "VAULT_CACERT=" + f.s.CACertFile}
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(filepath.Join(bin, "vault"), args...)
		cmd.Env = env
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return out.String(), errb.String(), code
	}
	out, errOut, code := run("login", "-method=approle", "role_id="+f.roleID, "secret_id="+f.secretID)
	if code != 0 || !strings.Contains(out, "Success!") || !strings.Contains(out, "db-consumer") {
		t.Fatalf("login: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run("read", "-format=json", "database/creds/app-readonly")
	if code != 0 {
		t.Fatalf("read creds: exit %d %s", code, errOut)
	}
	var creds struct {
		LeaseID string                    `json:"lease_id"`
		Data    struct{ Username string } `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &creds); err != nil || creds.LeaseID == "" || creds.Data.Username == "" {
		t.Fatalf("creds output %q: %v", out, err)
	}
	if _, errOut, code := run("lease", "renew", creds.LeaseID); code != 0 {
		t.Fatalf("lease renew: %s", errOut)
	}
	// The policy grants the exact path sys/leases/revoke (as the runbook's
	// does): `lease revoke ID` addresses sys/leases/revoke/ID and is refused,
	// as with Vault; the body form is allowed.
	if _, errOut, code := run("lease", "revoke", creds.LeaseID); code != 2 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("lease revoke ID: exit %d %s", code, errOut)
	}
	if _, errOut, code := run("write", "sys/leases/revoke", "lease_id="+creds.LeaseID); code != 0 {
		t.Fatalf("write sys/leases/revoke: %s", errOut)
	}
	if _, _, code := run("lease", "renew", creds.LeaseID); code != 2 {
		t.Fatalf("renew after revoke: exit %d, want 2", code)
	}
	_, errOut, code = run("policy", "list")
	if code != 2 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("policy list with the app token: exit %d %s", code, errOut)
	}
	_, errOut, code = run("read", "database/creds/other-role")
	if code != 2 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("another role: exit %d %s", code, errOut)
	}
}
