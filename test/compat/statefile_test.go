package compat_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// TestStateFileShrinksAfterBurst writes about 80 MB of secrets through the
// API, deletes them and saves a snapshot, as an operator would after a
// burst: the raft state file is rewritten without the space they took,
// while the secrets that stay are still readable.
func TestStateFileShrinksAfterBurst(t *testing.T) {
	dir := t.TempDir()
	s := testserver.Start(t, testserver.Options{DataDir: dir})
	c := s.Client
	if err := c.Sys().Mount("burst", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("burst/keep", map[string]interface{}{"v": "kept"}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 1<<20)
	const n = 80
	for i := range n {
		if _, err := c.Logical().Write(fmt.Sprintf("burst/k%d", i), map[string]interface{}{"v": big}); err != nil {
			t.Fatal(err)
		}
	}
	stateFile := filepath.Join(dir, "vault.db")
	size := func() int64 {
		fi, err := os.Stat(stateFile)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	peak := size()
	if peak < 64<<20 {
		t.Fatalf("state file is %d bytes after writing %d MB", peak, n)
	}
	for i := range n {
		if _, err := c.Logical().Delete(fmt.Sprintf("burst/k%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Sys().RaftSnapshot(io.Discard); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); size() > peak/4; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("state file still %d bytes 30s after the secrets were deleted (peak %d)", size(), peak)
		}
	}
	sec, err := c.Logical().Read("burst/keep")
	if err != nil || sec == nil || sec.Data["v"] != "kept" {
		t.Fatalf("burst/keep after the rewrite: %v, %v", sec, err)
	}
	if _, err := c.Logical().Write("burst/after", map[string]interface{}{"v": "new"}); err != nil {
		t.Fatal(err)
	}
	if sec, err := c.Logical().Read("burst/k3"); err != nil || sec != nil {
		t.Fatalf("deleted burst/k3 after the rewrite: %v, %v", sec, err)
	}
}
