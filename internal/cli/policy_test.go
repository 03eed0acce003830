package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyFmt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.hcl")
	if err := os.WriteFile(path, []byte("path \"secret/*\" {\ncapabilities=[\"read\",\"list\"]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, "", "policy", "fmt", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "Success! Formatted policy: "+path+"\n" {
		t.Fatalf("stdout = %q", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "  capabilities = [\"read\", \"list\"]") {
		t.Fatalf("formatted policy:\n%s", b)
	}

	bad := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(bad, []byte("path \"x\" { capabilities = [\"fly\"] }"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, nil, "", "policy", "fmt", bad); code != 1 || errOut == "" {
		t.Fatalf("invalid policy: exit %d stderr %q", code, errOut)
	}
	if code, _, errOut := run(t, nil, "", "policy", "fmt", filepath.Join(dir, "missing.hcl")); code != 1 || !strings.Contains(errOut, "Error reading source file") {
		t.Fatalf("missing file: exit %d stderr %q", code, errOut)
	}
}
