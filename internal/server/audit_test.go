package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func readAuditLines(t *testing.T, path string) []map[string]interface{} {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]interface{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]interface{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v\n%s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestFileAuditDevice(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir()})
	c := s.Client
	logPath := filepath.Join(t.TempDir(), "audit.log")
	if err := c.Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": logPath}}); err != nil {
		t.Fatal(err)
	}
	audits, err := c.Sys().ListAudit()
	if err != nil || audits["file/"] == nil || audits["file/"].Options["file_path"] != logPath {
		t.Fatalf("audit list: %+v %v", audits, err)
	}
	if _, err := c.KVv2("secret").Put(t.Context(), "app", map[string]interface{}{"password": "hunter2"}); err != nil {
		t.Fatal(err)
	}
	limited, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, DisplayName: "app-client"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.NewClient(limited.Auth.ClientToken).KVv2("secret").Get(t.Context(), "app")
	mustStatus(t, err, http.StatusForbidden, "permission denied")

	// 50 parallel clients: every line whole.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.KVv2("secret").Get(t.Context(), "app"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	lines := readAuditLines(t, logPath)
	var sawWrite, sawDenied bool
	reads := 0
	for _, l := range lines {
		blob, _ := json.Marshal(l)
		for _, secret := range []string{"hunter2", s.RootToken, limited.Auth.ClientToken} {
			if strings.Contains(string(blob), secret) {
				t.Fatalf("audit log contains a secret in clear: %s", blob)
			}
		}
		req, _ := l["request"].(map[string]interface{})
		if l["type"] == "request" && req["path"] == "secret/data/app" && (req["operation"] == "create" || req["operation"] == "update") {
			sawWrite = true
			if tok, _ := req["client_token"].(string); !strings.HasPrefix(tok, "hmac-sha256:") {
				t.Errorf("client_token not HMAC'd: %v", tok)
			}
			hash, err := c.Sys().AuditHash("file", s.RootToken)
			if err != nil || hash != req["client_token"] {
				t.Errorf("audit-hash %q does not reproduce the logged %q (%v)", hash, req["client_token"], err)
			}
		}
		if l["type"] == "response" && l["error"] == "permission denied" {
			auth, _ := l["auth"].(map[string]interface{})
			if auth["display_name"] == "token-app-client" {
				sawDenied = true
			}
		}
		if l["type"] == "response" && req["path"] == "secret/data/app" && req["operation"] == "read" {
			reads++
		}
	}
	if !sawWrite || !sawDenied || reads < 50 {
		t.Fatalf("write=%v denied=%v reads=%d in %d lines", sawWrite, sawDenied, reads, len(lines))
	}

	// The operator's jq queries work on the log.
	if _, err := exec.LookPath("jq"); err == nil {
		out, err := exec.Command("jq", "-r", `select(.error != null and .error != "") | .request.path`, logPath).Output()
		if err != nil || !strings.Contains(string(out), "secret/data/app") {
			t.Fatalf("jq errors query: %q %v", out, err)
		}
		out, err = exec.Command("sh", "-c", `jq -r 'select(.type=="request" and .auth.display_name) | .auth.display_name' "$0" | sort | uniq -c`, logPath).Output()
		if err != nil || !strings.Contains(string(out), "token-app-client") {
			t.Fatalf("jq display_name query: %q %v", out, err)
		}
	}

	// Devices survive a restart.
	s.Restart()
	before := len(readAuditLines(t, logPath))
	if _, err := s.Client.KVv2("secret").Get(t.Context(), "app"); err != nil {
		t.Fatal(err)
	}
	if after := len(readAuditLines(t, logPath)); after != before+2 {
		t.Fatalf("lines after restart: %d -> %d, want +2", before, after)
	}
}

func TestAuditFailsClosed(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if err := c.Sys().EnableAuditWithOptions("full", &api.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": "/dev/full"}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.KVv2("secret").Put(t.Context(), "x", map[string]interface{}{"a": "b"})
	mustStatus(t, err, http.StatusInternalServerError, "audit")
	// Nothing was written: the request was refused before it ran.
	if err := c.Sys().DisableAudit("full"); err == nil {
		t.Fatal("disabling through an unauditable server should fail too")
	}
}
