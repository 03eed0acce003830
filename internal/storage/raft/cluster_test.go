package raft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/storage"
)

// tlsNode opens a backend with the TLS cluster port.
func tlsNode(t *testing.T, id string, deferBootstrap bool) *Backend {
	t.Helper()
	return openTest(t, t.TempDir(), func(o *Options) {
		o.NodeID, o.ClusterTLS, o.DeferBootstrap = id, true, deferBootstrap
		if os.Getenv("RAFTLOG") != "" {
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
}

// certify signs n's key with the CA and installs the certificate.
func certify(t testing.TB, n *Backend, caCert, caKey []byte) {
	t.Helper()
	pub, err := n.ClusterPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := SignNodeCert(caCert, caKey, n.NodeID(), pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.InstallClusterCert(cert, caCert); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTLSClusterJoinAndPromote(t *testing.T) {
	caCert, caKey, err := NewClusterCA("test")
	if err != nil {
		t.Fatal(err)
	}
	leader := tlsNode(t, "n1", true)
	if ok, _ := leader.HasState(); ok {
		t.Fatal("a deferred node has raft state before Bootstrap")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := leader.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	certify(t, leader, caCert, caKey)
	mustPut(t, leader, "before", "join")

	nodes := []*Backend{tlsNode(t, "n2", true), tlsNode(t, "n3", true)}
	for _, n := range nodes {
		// Without a certificate the node cannot be reached: the leader's
		// dial fails until it is installed.
		if err := leader.AddNonvoter(ctx, n.NodeID(), n.LocalAddr()); err != nil {
			t.Fatalf("AddNonvoter: %v", err)
		}
		certify(t, n, caCert, caKey)
	}
	waitFor(t, "promotion to voters", 15*time.Second, func() bool { return leader.Voters() == 3 })
	mustPut(t, leader, "after", "join")
	for _, n := range nodes {
		waitFor(t, n.NodeID()+" to catch up", 5*time.Second, func() bool {
			return mustGet(t, n, "after") == "join" && mustGet(t, n, "before") == "join"
		})
		if id, addr := n.Leader(); id != "n1" || addr != leader.LocalAddr() {
			t.Fatalf("%s sees leader %q at %q", n.NodeID(), id, addr)
		}
	}
	st, err := leader.AutopilotState()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Healthy || st.Leader != "n1" || len(st.Voters) != 3 || st.FailureTolerance != 1 {
		t.Fatalf("autopilot state = %+v", st)
	}
	if _, err := nodes[0].AutopilotState(); !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("AutopilotState on a follower = %v, want ErrReadOnly", err)
	}

	// The forwarding transport reaches the leader's forward listener,
	// authenticated by the node certificate.
	leader.ServeForwarded(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	resp, err := (&http.Client{Transport: nodes[0].ForwardTransport()}).Get("https://" + leader.LocalAddr() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello n2" {
		t.Fatalf("forwarded body = %q", body)
	}

	// A stranger with a certificate from another CA is refused.
	otherCert, otherKey, _ := NewClusterCA("other")
	stranger := tlsNode(t, "x", true)
	certify(t, stranger, otherCert, otherKey)
	if _, err := (&http.Client{Transport: stranger.ForwardTransport()}).Get("https://" + leader.LocalAddr() + "/x"); err == nil {
		t.Fatal("a node with another cluster's certificate was served")
	}

	// Removing the leader is allowed: the others elect a new one.
	if err := leader.RemoveServer(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new leader", 10*time.Second, func() bool { return nodes[0].IsLeader() || nodes[1].IsLeader() })
	newLeader := nodes[0]
	if nodes[1].IsLeader() {
		newLeader = nodes[1]
	}
	mustPut(t, newLeader, "after", "removal")
	if err := leader.RemoveServer(ctx, "nope"); !errors.Is(err, ErrUnknownServer) {
		t.Fatalf("RemoveServer(unknown) = %v", err)
	}
}

func TestClusterTLSFilesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey, _ := NewClusterCA("test")
	b := openTest(t, dir, func(o *Options) { o.ClusterTLS = true })
	certify(t, b, caCert, caKey)
	pub, _ := b.ClusterPublicKey()
	b.Close()
	for _, name := range []string{keyFileName, certFileName, caFileName} {
		fi, err := os.Stat(filepath.Join(dir, tlsDirName, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", name, err, fi)
		}
	}
	b = openTest(t, dir, func(o *Options) { o.ClusterTLS = true })
	pub2, _ := b.ClusterPublicKey()
	cert, ca := b.ClusterCert()
	if !bytes.Equal(pub, pub2) || cert == nil || !bytes.Equal(ca, caCert) {
		t.Fatal("the cluster identity changed across a restart")
	}
}

func TestInstallRejectsForeignCert(t *testing.T) {
	caCert, caKey, _ := NewClusterCA("a")
	otherCA, _, _ := NewClusterCA("b")
	b := openTest(t, t.TempDir(), func(o *Options) { o.ClusterTLS = true })
	pub, _ := b.ClusterPublicKey()
	cert, _ := SignNodeCert(caCert, caKey, "n", pub)
	if err := b.InstallClusterCert(cert, otherCA); err == nil {
		t.Fatal("installed a certificate that does not chain to the CA")
	}
	strangerKey := tlsNode(t, "s", true)
	spub, _ := strangerKey.ClusterPublicKey()
	scert, _ := SignNodeCert(caCert, caKey, "s", spub)
	if err := b.InstallClusterCert(scert, caCert); err == nil {
		t.Fatal("installed a certificate for another key")
	}
	if _, err := SignNodeCert(caCert, caKey, "n", []byte("junk")); err == nil {
		t.Fatal("signed a junk public key")
	}
}

func TestSnapshotArchiveRoundTrip(t *testing.T) {
	b := openTest(t, t.TempDir())
	for i := range 100 {
		mustPut(t, b, fmt.Sprintf("k/%03d", i), fmt.Sprintf("v%d", i))
	}
	var buf bytes.Buffer
	seal := func(sums []byte) ([]byte, error) { return append([]byte("sealed:"), sums...), nil }
	if err := b.SaveSnapshot(context.Background(), &buf, seal); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "k/000", "changed")
	mustPut(t, b, "later", "x")

	var sawSums, sawSealed []byte
	var keyring []byte
	check := func(sums, sealed []byte, get func(string) ([]byte, bool, error)) error {
		sawSums, sawSealed = sums, sealed
		v, ok, err := get("k/050")
		if err != nil || !ok {
			return fmt.Errorf("lookup: %v %v", ok, err)
		}
		keyring = v
		return nil
	}
	if err := b.RestoreSnapshot(context.Background(), bytes.NewReader(buf.Bytes()), check); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sawSealed, append([]byte("sealed:"), sawSums...)) || string(keyring) != "v50" {
		t.Fatalf("check saw sums %q sealed %q lookup %q", sawSums, sawSealed, keyring)
	}
	if got := mustGet(t, b, "k/000"); got != "v0" {
		t.Fatalf("k/000 = %q", got)
	}
	if got := mustGet(t, b, "later"); got != "<missing>" {
		t.Fatalf("later = %q", got)
	}
	mustPut(t, b, "after", "restore")

	// A rejecting check, a damaged archive and junk leave the state alone.
	reject := func([]byte, []byte, func(string) ([]byte, bool, error)) error { return errors.New("no") }
	if err := b.RestoreSnapshot(context.Background(), bytes.NewReader(buf.Bytes()), reject); err == nil || err.Error() != "no" {
		t.Fatalf("rejected restore = %v", err)
	}
	damaged := bytes.Clone(buf.Bytes())
	damaged[len(damaged)/2] ^= 0xff
	for name, data := range map[string][]byte{"damaged": damaged, "junk": []byte("not a snapshot")} {
		if err := b.RestoreSnapshot(context.Background(), bytes.NewReader(data), nil); err == nil {
			t.Fatalf("%s restore succeeded", name)
		}
	}
	if got := mustGet(t, b, "after"); got != "restore" {
		t.Fatalf("after = %q", got)
	}
	if !strings.Contains(buf.String()[:2], "\x1f\x8b") {
		t.Fatal("the archive is not gzip")
	}
}

func TestDeadServers(t *testing.T) {
	srv := func(status string, contact time.Duration) AutopilotServer {
		return AutopilotServer{Status: status, LastContact: contact}
	}
	conf := AutopilotConfig{CleanupDeadServers: true, DeadServerLastContactThreshold: time.Minute, MinQuorum: 3}
	tests := []struct {
		name string
		st   AutopilotState
		want []string
	}{
		{"all alive", AutopilotState{Voters: []string{"a", "b", "c"}, Servers: map[string]AutopilotServer{
			"a": srv("leader", 0), "b": srv("voter", time.Second), "c": srv("voter", time.Second)}}, nil},
		{"quorum floor keeps a dead voter", AutopilotState{Voters: []string{"a", "b", "c"}, Servers: map[string]AutopilotServer{
			"a": srv("leader", 0), "b": srv("voter", time.Hour), "c": srv("voter", time.Second)}}, nil},
		{"dead voter above the floor", AutopilotState{Voters: []string{"a", "b", "c", "d"}, Servers: map[string]AutopilotServer{
			"a": srv("leader", 0), "b": srv("voter", time.Hour), "c": srv("voter", time.Second), "d": srv("voter", time.Hour)}}, []string{"b"}},
		{"dead non-voter always", AutopilotState{Voters: []string{"a"}, NonVoters: []string{"n"}, Servers: map[string]AutopilotServer{
			"a": srv("leader", 0), "n": srv("non-voter", time.Hour)}}, []string{"n"}},
		{"never the leader", AutopilotState{Voters: []string{"a", "b", "c", "d"}, Servers: map[string]AutopilotServer{
			"a": srv("leader", time.Hour), "b": srv("voter", 0), "c": srv("voter", 0), "d": srv("voter", 0)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deadServers(&tt.st, conf)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("deadServers = %v, want %v", got, tt.want)
			}
		})
	}
}
