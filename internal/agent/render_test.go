package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "sub", "dir", "f")
	if _, err := writeAtomic(dest, []byte("x"), 0, false, false); err == nil {
		t.Fatal("wrote into a missing directory with create_dest_dirs = false")
	}
	changed, err := writeAtomic(dest, []byte("one"), 0, true, false)
	if err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != DefaultTemplatePerms {
		t.Errorf("new file mode %o, want %o", fi.Mode().Perm(), DefaultTemplatePerms)
	}
	// An operator's chmod survives re-renders without perms.
	if err := os.Chmod(dest, 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := writeAtomic(dest, []byte("one"), 0, true, false); err != nil || changed {
		t.Fatalf("same content rewritten: %v %v", changed, err)
	}
	if changed, err := writeAtomic(dest, []byte("two"), 0, true, true); err != nil || !changed {
		t.Fatalf("second write: %v %v", changed, err)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after a re-render %o, want the existing 600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(dest + ".bak"); string(b) != "one" {
		t.Errorf("backup = %q, want the previous content", b)
	}
	// perms wins, also when the content is unchanged.
	if _, err := writeAtomic(dest, []byte("two"), 0o640, true, false); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o640 {
		t.Errorf("perms not applied: %o", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(dest))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if b, _ := os.ReadFile(dest); string(b) != "two" {
		t.Errorf("content %q", b)
	}
}

func TestRenderBackoff(t *testing.T) {
	for failures, want := range map[int]time.Duration{1: 250 * time.Millisecond, 2: 500 * time.Millisecond, 3: time.Second, 9: time.Minute, 50: time.Minute} {
		if got := renderBackoff(failures); got != want {
			t.Errorf("renderBackoff(%d) = %s, want %s", failures, got, want)
		}
	}
}

func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	out := &syncBuffer{}
	r := &renderer{stdout: out, stderr: out, logger: discardLogger()}
	ctx := context.Background()
	if err := r.runCommand(ctx, &Template{ShellCommand: "echo shell $((1+2))"}); err != nil {
		t.Fatal(err)
	}
	if err := r.runCommand(ctx, &Template{Command: []string{"/bin/echo", "$((1+2))"}}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "shell 3\n$((1+2))\n" {
		t.Errorf("output %q: a string runs in a shell, a list runs directly", got)
	}
	start := time.Now()
	err := r.runCommand(ctx, &Template{ShellCommand: "sleep 5", CommandTimeout: 100 * time.Millisecond})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("timeout not applied: %v after %s", err, time.Since(start))
	}
	if err := r.runCommand(ctx, &Template{Command: []string{filepath.Join(dir, "missing")}}); err == nil {
		t.Error("a missing command did not fail")
	}
}
