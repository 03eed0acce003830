package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// TestJQQueries runs the operator queries from the audit documentation
// against a log written through the broker.
func TestJQQueries(t *testing.T) {
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Skip("jq not installed")
	}
	ctx := context.Background()
	b := NewBroker(logical.NewInmemStorage(), nil)
	defer b.Close()
	log := filepath.Join(t.TempDir(), "audit.log")
	if err := b.Enable(ctx, "file", "file", "", map[string]string{"file_path": log}, false); err != nil {
		t.Fatal(err)
	}
	both := func(in *LogInput) {
		t.Helper()
		if err := b.LogRequest(ctx, in); err != nil {
			t.Fatal(err)
		}
		if err := b.LogResponse(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// Workload: 3 creds reads by approle, 1 by "token-ops", one denied
	// creds read (approle), one KV write (token-ops), one login.
	for i := 0; i < 3; i++ {
		both(credsInput())
	}
	ops := credsInput()
	ops.Auth.DisplayName = "token-ops"
	both(ops)
	denied := deniedInput()
	denied.Time = testTime.Add(time.Minute)
	both(denied)
	kv := kvWriteInput()
	kv.Auth.DisplayName = "token-ops"
	both(kv)
	both(loginInput())

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(jq, append(args, log)...)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("jq %v: %v: %s", args, err, stderr.String())
		}
		return out.String()
	}

	// 1. Responses to database credential reads: 3 + 1 + the denied one.
	// As first written, the query pipes the result of "and" (a boolean)
	// into startswith, because "|" binds loosest in jq; that fails on any
	// audit log. The intended query groups the path test.
	literal := exec.Command(jq, "-c", `select(.type=="response" and .request.path | startswith("database/creds/"))`, log)
	if msg, err := literal.CombinedOutput(); err == nil || !strings.Contains(string(msg), "startswith() requires string inputs") {
		t.Errorf("ungrouped query: err %v, output %s", err, msg)
	}
	out := run("-c", `select(.type=="response" and (.request.path | startswith("database/creds/")))`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("creds responses: got %d, want 5:\n%s", len(lines), out)
	}
	leases := 0
	for _, l := range lines {
		m := decode(t, []byte(l))
		if m["type"] != "response" {
			t.Errorf("non-response selected: %s", l)
		}
		if r, ok := m["response"].(map[string]interface{}); ok {
			if s, ok := r["secret"].(map[string]interface{}); ok && strings.HasPrefix(s["lease_id"].(string), "database/creds/app-readonly/") {
				leases++
			}
		}
	}
	if leases != 4 {
		t.Errorf("creds responses with a lease: %d, want 4", leases)
	}

	// 2. Errors with time, path and remote address: the denied request
	// and its response.
	out = run("-c", `select(.error != null and .error != "") | {time, path: .request.path, error, remote: .request.remote_address}`)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("errors: got %d lines, want 2:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var got struct{ Time, Path, Error, Remote string }
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatal(err)
		}
		want := struct{ Time, Path, Error, Remote string }{"2025-03-14T09:27:53.589793Z", "database/creds/admin", "permission denied", "10.1.2.3"}
		if got != want {
			t.Errorf("error line %+v, want %+v", got, want)
		}
	}

	// 3. Requests per display name (the login has none).
	out = run("-r", `select(.type=="request" and .auth.display_name) | .auth.display_name`)
	counts := map[string]int{}
	for _, n := range strings.Fields(out) {
		counts[n]++
	}
	if len(counts) != 2 || counts["approle"] != 4 || counts["token-ops"] != 2 {
		t.Errorf("requests per display name: %v, want approle 4, token-ops 2", counts)
	}
}
