package raft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/coffer-dev/coffer/internal/storage"
	"github.com/coffer-dev/coffer/internal/storage/storagetest"
)

// openTest opens a backend in dir with short timeouts and closes it when
// the test ends.
func openTest(t testing.TB, dir string, opts ...func(*Options)) *Backend {
	t.Helper()
	o := Options{Path: dir, FastElection: true}
	for _, fn := range opts {
		fn(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mustPut(t testing.TB, b *Backend, key, value string) {
	t.Helper()
	if err := b.Put(context.Background(), &storage.Entry{Key: key, Value: []byte(value)}); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t testing.TB, b *Backend, key string) string {
	t.Helper()
	e, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if e == nil {
		return "<missing>"
	}
	return string(e.Value)
}

func TestConformance(t *testing.T) {
	storagetest.ExerciseTransactional(t, openTest(t, t.TempDir()))
}

func TestOpenIsLeaderQuickly(t *testing.T) {
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			start := time.Now()
			b := openTest(t, t.TempDir(), func(o *Options) { o.FastElection = fast })
			if took := time.Since(start); took > 750*time.Millisecond {
				t.Errorf("Open took %v, want well under a second", took)
			}
			if !b.IsLeader() {
				t.Fatal("not leader after Open")
			}
			mustPut(t, b, "k", "v")
			// The cluster timeouts are back to normal once leader.
			want := clusterTiming.heartbeat
			if fast {
				want = fastTiming.heartbeat
			}
			if got := b.Raft().ReloadableConfig().HeartbeatTimeout; got != want {
				t.Fatalf("heartbeat timeout = %v, want %v", got, want)
			}
		})
	}
}

func TestOpenLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	b := openTest(t, dir)
	for _, p := range []string{"", "raft", "raft/snapshots", "raft/log"} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if p != "raft/snapshots" && fi.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", p, fi.Mode().Perm())
		}
	}
	for _, p := range []string{"vault.db", "raft/raft.db", "node-id"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	id, err := os.ReadFile(filepath.Join(dir, "node-id"))
	if err != nil || strings.TrimSpace(string(id)) != b.NodeID() || b.NodeID() == "" {
		t.Fatalf("node-id file = %q, %v; NodeID() = %q", id, err, b.NodeID())
	}
	if !strings.HasPrefix(b.LocalAddr(), "127.0.0.1:") || strings.HasSuffix(b.LocalAddr(), ":0") {
		t.Fatalf("LocalAddr() = %q", b.LocalAddr())
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	id := b.NodeID()
	mustPut(t, b, "a/b", "one")
	mustPut(t, b, "a/c", "two")
	mustPut(t, b, "gone", "x")
	if err := b.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.Put(context.Background(), &storage.Entry{Key: "k", Value: nil}); err == nil {
		t.Fatal("Put after Close succeeded")
	}

	for round := range 2 {
		b = openTest(t, dir)
		if b.NodeID() != id {
			t.Fatalf("node ID changed from %q to %q", id, b.NodeID())
		}
		if got := mustGet(t, b, "a/b"); got != "one" {
			t.Fatalf("round %d: a/b = %q", round, got)
		}
		if got := mustGet(t, b, "gone"); got != "<missing>" {
			t.Fatalf("round %d: gone = %q", round, got)
		}
		mustPut(t, b, fmt.Sprintf("round/%d", round), "r")
		keys, err := b.List(context.Background(), "round/")
		if err != nil || len(keys) != round+1 {
			t.Fatalf("round %d: List = %q, %v", round, keys, err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfiguredNodeID(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, func(o *Options) { o.NodeID = "node-a" })
	if b.NodeID() != "node-a" {
		t.Fatalf("NodeID() = %q", b.NodeID())
	}
	f := b.Raft().GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	servers := f.Configuration().Servers
	if len(servers) != 1 || servers[0].ID != "node-a" || string(servers[0].Address) != b.LocalAddr() {
		t.Fatalf("configuration = %+v", servers)
	}
}

// TestRestartUpdatesAddress checks that a single node whose transport port
// changed records its new address.
func TestRestartUpdatesAddress(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	first := b.LocalAddr()
	b.Close()
	b = openTest(t, dir)
	if b.LocalAddr() == first {
		t.Skip("the transport got the same port again")
	}
	f := b.Raft().GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	servers := f.Configuration().Servers
	if len(servers) != 1 || string(servers[0].Address) != b.LocalAddr() {
		t.Fatalf("configuration = %+v, want address %s", servers, b.LocalAddr())
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tests := []struct {
		name string
		opts Options
	}{
		{"no path", Options{}},
		{"path in use", Options{Path: dir}},
		{"bad cluster addr", Options{Path: t.TempDir(), ClusterAddr: "127.0.0.1:notaport"}},
		{"unadvertisable cluster addr", Options{Path: t.TempDir(), ClusterAddr: "0.0.0.0:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Open(ctx, tt.opts)
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded, want an error")
			}
		})
	}
}

func TestSnapshotRestoreOnStart(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	for i := range 50 {
		mustPut(t, b, fmt.Sprintf("snap/%02d", i), fmt.Sprintf("v%d", i))
	}
	if err := b.Raft().Snapshot().Error(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	mustPut(t, b, "after", "snapshot")
	if err := b.Delete(context.Background(), "snap/00"); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// Losing vault.db leaves it behind the snapshot, so raft restores the
	// snapshot and then replays the later log entries.
	if err := os.Remove(filepath.Join(dir, "vault.db")); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir)
	if got := mustGet(t, b, "snap/01"); got != "v1" {
		t.Fatalf("snap/01 = %q", got)
	}
	if got := mustGet(t, b, "after"); got != "snapshot" {
		t.Fatalf("after = %q", got)
	}
	if got := mustGet(t, b, "snap/00"); got != "<missing>" {
		t.Fatalf("snap/00 = %q, want it deleted", got)
	}
	keys, err := b.List(context.Background(), "snap/")
	if err != nil || len(keys) != 49 {
		t.Fatalf("List = %d keys, %v", len(keys), err)
	}
}

func TestUserSnapshotRestore(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustPut(t, b, "kept", "old")
	if err := b.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	f := b.Raft().Snapshot()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	_, err = saved.ReadFrom(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}

	mustPut(t, b, "kept", "new")
	mustPut(t, b, "later", "x")
	if err := b.Raft().Restore(meta, &saved, 5*time.Second); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := mustGet(t, b, "kept"); got != "old" {
		t.Fatalf("kept = %q, want old", got)
	}
	if got := mustGet(t, b, "later"); got != "<missing>" {
		t.Fatalf("later = %q, want missing", got)
	}
	mustPut(t, b, "after-restore", "y")
	if got := mustGet(t, b, "after-restore"); got != "y" {
		t.Fatalf("after-restore = %q", got)
	}
}

func TestFollower(t *testing.T) {
	leader := openTest(t, t.TempDir(), func(o *Options) { o.NodeID = "leader" })
	follower := openTest(t, t.TempDir(), func(o *Options) {
		o.NodeID = "follower"
		o.RetryJoin = []RetryJoin{{LeaderAPIAddr: "https://127.0.0.1:8200"}}
	})
	if follower.IsLeader() {
		t.Fatal("a joining node became leader on its own")
	}
	if got := follower.RetryJoin(); len(got) != 1 || got[0].LeaderAPIAddr != "https://127.0.0.1:8200" {
		t.Fatalf("RetryJoin() = %+v", got)
	}
	mustPut(t, leader, "before", "join")
	err := leader.Raft().AddVoter(raft.ServerID(follower.NodeID()), raft.ServerAddress(follower.LocalAddr()), 0, 5*time.Second).Error()
	if err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	mustPut(t, leader, "after", "join")

	deadline := time.Now().Add(5 * time.Second)
	for mustGet(t, follower, "after") != "join" || mustGet(t, follower, "before") != "join" {
		if time.Now().After(deadline) {
			t.Fatal("follower did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	err = follower.Put(context.Background(), &storage.Entry{Key: "x", Value: []byte("y")})
	if !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("Put on follower = %v, want ErrReadOnly", err)
	}
	err = follower.Transaction(context.Background(), []storage.Op{{Delete: true, Entry: &storage.Entry{Key: "after"}}})
	if !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("Transaction on follower = %v, want ErrReadOnly", err)
	}
}

func TestLeaderCh(t *testing.T) {
	b := openTest(t, t.TempDir())
	select {
	case v := <-b.LeaderCh():
		if !v {
			t.Fatal("LeaderCh delivered false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no leadership notification")
	}
}

func TestContextCanceled(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Put(ctx, &storage.Entry{Key: "k", Value: []byte("v")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get = %v, want context.Canceled", err)
	}
	if got := mustGet(t, b, "k"); got != "<missing>" {
		t.Fatalf("k = %q after a canceled Put", got)
	}
}

func TestLogsNoValues(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
	dir := t.TempDir()
	b := openTest(t, dir, func(o *Options) { o.Logger = logger })
	mustPut(t, b, "secret/key", "s3cr3t-value")
	if err := b.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if !strings.Contains(buf.String(), "entering leader state") {
		t.Fatalf("raft's logs did not reach slog:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "s3cr3t-value") {
		t.Fatal("a stored value was logged")
	}
}

func TestSnapshotTuningApplied(t *testing.T) {
	b := openTest(t, t.TempDir(), func(o *Options) {
		o.TrailingLogs, o.SnapshotThreshold, o.SnapshotInterval = 123, 456, 7*time.Second
	})
	c := b.raft.ReloadableConfig()
	if c.TrailingLogs != 123 || c.SnapshotThreshold != 456 || c.SnapshotInterval != 7*time.Second {
		t.Fatalf("raft config = %+v", c)
	}
	d := openTest(t, t.TempDir()).raft.ReloadableConfig()
	if d.TrailingLogs != 10000 || d.SnapshotThreshold != 8192 || d.SnapshotInterval != 120*time.Second {
		t.Fatalf("default raft config = %+v", d)
	}
}

// TestUncleanStopRebuildsState: vault.db is written without fsync, so a
// node that did not stop cleanly (no marker) must not trust it. Here the
// file is even garbage; the state comes back from the raft log. After a
// clean stop the file is kept as it is.
func TestUncleanStopRebuildsState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "vault.db")
	b := openTest(t, dir)
	if _, err := os.Stat(state + cleanMarker); !os.IsNotExist(err) {
		t.Fatalf("clean marker present while running: %v", err)
	}
	for i := range 20 {
		mustPut(t, b, fmt.Sprintf("k/%02d", i), fmt.Sprintf("v%d", i))
	}
	if err := b.Delete(context.Background(), "k/00"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state + cleanMarker); err != nil {
		t.Fatalf("no clean marker after Close: %v", err)
	}

	// A clean stop keeps the state file.
	before, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir)
	after, err := os.Stat(state)
	if err != nil || !os.SameFile(before, after) {
		t.Fatalf("state file replaced after a clean stop (%v)", err)
	}
	if got := mustGet(t, b, "k/05"); got != "v5" {
		t.Fatalf("k/05 = %q", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// An abrupt stop: no marker, and a torn file.
	if err := os.Remove(state + cleanMarker); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte("torn page"), 0o600); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir)
	if got := mustGet(t, b, "k/19"); got != "v19" {
		t.Fatalf("k/19 = %q after rebuilding", got)
	}
	if got := mustGet(t, b, "k/00"); got != "<missing>" {
		t.Fatalf("k/00 = %q, want it deleted", got)
	}
	keys, err := b.List(context.Background(), "k/")
	if err != nil || len(keys) != 19 {
		t.Fatalf("List = %d keys, %v", len(keys), err)
	}
}
