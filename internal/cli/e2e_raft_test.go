package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// TestE2ERaftOperator drives a cluster through the operator raft
// commands: join (wrong CA, then right), list-peers, autopilot, snapshot
// save and restore, remove-peer.
func TestE2ERaftOperator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	cl := testserver.StartCluster(t, 2, testserver.Options{})
	lead := cl.Nodes[0]
	joiner := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), NodeID: "node3", NoInit: true})
	env := func(s *testserver.Server, token string) map[string]string {
		return map[string]string{"VAULT_ADDR": s.Addr, "VAULT_CACERT": s.CACertFile, "VAULT_TOKEN": token, "HOME": t.TempDir()}
	}
	e := &e2e{t: t, srv: joiner, env: env(joiner, "")}

	// The joiner's own CA does not verify the leader's API certificate.
	errOut := e.fail(2, "operator", "raft", "join", "-leader-ca-cert=@"+joiner.CACertFile, lead.Addr)
	contains(t, "join with a wrong CA", errOut, "Error joining the node to the Raft cluster", "certificate")
	if init, _ := joiner.Server.Core.Initialized(t.Context()); init {
		t.Fatal("a failed join left the node initialised")
	}
	out := e.ok("", "operator", "raft", "join", "-leader-ca-cert=@"+lead.CACertFile, lead.Addr)
	tableRow(t, out, "Joined", "true")
	code, out, _ := run(t, e.env, "", "status")
	if code != 2 {
		t.Fatalf("status of the joining node: exit %d\n%s", code, out)
	}
	tableRow(t, out, "Initialized", "true")
	tableRow(t, out, "Sealed", "true")
	out = e.ok("", "operator", "unseal", lead.UnsealKeys[0])
	tableRow(t, out, "Sealed", "false")
	cl.Adopt(joiner)
	cl.Nodes = append(cl.Nodes, joiner)
	cl.WaitVoters(3, 20*time.Second)
	tableRow(t, e.ok("", "status"), "HA Mode", "standby")

	// A node that already holds data cannot join.
	e.env = env(lead, lead.RootToken)
	contains(t, "join of an initialised node", e.fail(2, "operator", "raft", "join", "-leader-ca-cert=@"+joiner.CACertFile, joiner.Addr), "already has raft data")

	contains(t, "snapshot save without a file", e.fail(1, "operator", "raft", "snapshot", "save"), "Incorrect arguments (expected 1, got 0)")
	contains(t, "autopilot state with an argument", e.fail(1, "operator", "raft", "autopilot", "state", "x"), "Incorrect arguments (expected 0, got 1)")

	out = e.ok("", "operator", "raft", "list-peers")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "Node ") || !strings.Contains(lines[0], "Address") {
		t.Fatalf("list-peers:\n%s", out)
	}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) != 4 || f[3] != "true" || (f[0] == "node1") != (f[2] == "leader") {
			t.Fatalf("list-peers row %q", l)
		}
	}

	out = e.ok("", "operator", "raft", "autopilot", "state")
	contains(t, "autopilot state", out, "Healthy:                      true", "Leader:                       node1", "   node3\n      Name:            node3", "Status:          leader")
	tableRow(t, e.ok("", "operator", "raft", "autopilot", "get-config"), "Server Stabilization Time", "300ms")
	e.ok("", "operator", "raft", "autopilot", "set-config", "-server-stabilization-time=5s", "-max-trailing-logs=500")
	out = e.ok("", "operator", "raft", "autopilot", "get-config")
	tableRow(t, out, "Server Stabilization Time", "5s")
	tableRow(t, out, "Max Trailing Logs", "500")
	contains(t, "cleanup without quorum", e.fail(2, "operator", "raft", "autopilot", "set-config", "-cleanup-dead-servers=true"), "min_quorum must be set")

	// Snapshots through a standby (forwarded to the active node).
	standby := env(cl.Nodes[1], lead.RootToken)
	snap := filepath.Join(t.TempDir(), "raft.snap")
	e.env = standby
	e.ok("", "kv", "put", "secret/snap", "v=before")
	e.ok("", "operator", "raft", "snapshot", "save", snap)
	if fi, err := os.Stat(snap); err != nil || fi.Size() == 0 {
		t.Fatalf("snapshot file: %v", err)
	}
	e.ok("", "kv", "put", "secret/snap", "v=after")
	e.ok("", "operator", "raft", "snapshot", "restore", snap)
	contains(t, "read after restore", e.ok("", "kv", "get", "-field=v", "secret/snap"), "before")
	junk := filepath.Join(t.TempDir(), "junk.snap")
	if err := os.WriteFile(junk, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	contains(t, "restore of junk", e.fail(2, "operator", "raft", "snapshot", "restore", junk), "Error installing the snapshot", "invalid snapshot")

	e.env = env(lead, lead.RootToken)
	if out := e.ok("", "operator", "raft", "remove-peer", "node3"); out != "Peer removed successfully!\n" {
		t.Fatalf("remove-peer output %q", out)
	}
	if out := e.ok("", "operator", "raft", "list-peers"); strings.Contains(out, "node3") {
		t.Fatalf("node3 still listed:\n%s", out)
	}
	contains(t, "remove unknown peer", e.fail(2, "operator", "raft", "remove-peer", "nope"), "Error removing the peer from raft cluster")
	e.fail(1, "operator", "raft", "remove-peer")
}
