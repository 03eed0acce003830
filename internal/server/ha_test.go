package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/testserver"
)

func kvPut(t *testing.T, c *api.Client, path string, data map[string]interface{}) {
	t.Helper()
	if _, err := c.KVv2("secret").Put(context.Background(), path, data); err != nil {
		t.Fatalf("put %s via %s: %v", path, c.Address(), err)
	}
}

func kvGet(t *testing.T, c *api.Client, path string) map[string]interface{} {
	t.Helper()
	s, err := c.KVv2("secret").Get(context.Background(), path)
	if err != nil {
		t.Fatalf("get %s via %s: %v", path, c.Address(), err)
	}
	return s.Data
}

func statusOf(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func TestClusterForwardingAndHealth(t *testing.T) {
	cl := testserver.StartCluster(t, 3, testserver.Options{})
	active := cl.Active(10 * time.Second)
	if active != cl.Nodes[0] {
		t.Fatalf("active node is %s, want the initialised node1", active.Addr)
	}
	standbys := cl.Standbys()
	if len(standbys) != 2 {
		t.Fatalf("%d standbys", len(standbys))
	}
	// Writes on a standby are forwarded; every node reads the same data.
	kvPut(t, standbys[0].Client, "ha/one", map[string]interface{}{"v": "from-standby"})
	for _, n := range cl.Nodes {
		if got := kvGet(t, n.Client, "ha/one")["v"]; got != "from-standby" {
			t.Fatalf("read via %s = %v", n.Addr, got)
		}
	}

	// sys/health: 429 on a standby unless standbyok; 200 on the active.
	for _, tt := range []struct {
		node  *testserver.Server
		query string
		want  int
	}{
		{active, "", 200},
		{standbys[0], "", 429},
		{standbys[0], "?standbyok=true", 200},
		{standbys[0], "?standbycode=299", 299},
	} {
		resp, err := tt.node.Client.CloneConfig().HttpClient.Get(tt.node.Addr + "/v1/sys/health" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("health%s on %s = %d, want %d", tt.query, tt.node.Addr, resp.StatusCode, tt.want)
		}
	}
	h, err := standbys[1].Client.Sys().HealthWithContext(context.Background())
	if err != nil || !h.Standby || !h.Initialized || h.Sealed {
		t.Fatalf("standby health = %+v, %v", h, err)
	}

	// sys/leader names the active node from everywhere.
	for _, n := range cl.Nodes {
		l, err := n.Client.Sys().Leader()
		if err != nil {
			t.Fatal(err)
		}
		if !l.HAEnabled || l.LeaderAddress != active.Addr || l.IsSelf != (n == active) || !strings.HasPrefix(l.LeaderClusterAddress, "https://127.0.0.1:") || l.RaftAppliedIndex == 0 {
			t.Fatalf("leader via %s = %+v", n.Addr, l)
		}
	}

	// Raft configuration through a standby (forwarded).
	sec, err := standbys[1].Client.Logical().Read("sys/storage/raft/configuration")
	if err != nil {
		t.Fatal(err)
	}
	servers := sec.Data["config"].(map[string]interface{})["servers"].([]interface{})
	leaders := 0
	for _, s := range servers {
		m := s.(map[string]interface{})
		if m["voter"] != true {
			t.Fatalf("server %v is not a voter", m)
		}
		if m["leader"] == true {
			leaders++
			if m["node_id"] != "node1" {
				t.Fatalf("leader is %v", m["node_id"])
			}
		}
	}
	if len(servers) != 3 || leaders != 1 {
		t.Fatalf("configuration = %v", servers)
	}

	// A bad token is refused the same way through a standby.
	bad := standbys[0].NewClient("hvs.nope")
	if _, err := bad.Logical().Read("secret/data/ha/one"); statusOf(err) != http.StatusForbidden {
		t.Fatalf("bad token via standby: %v", err)
	}

	// step-down hands the active role to another node.
	if _, err := standbys[0].Client.Logical().Write("sys/step-down", nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "another active node", 10*time.Second, func() bool {
		return !active.Server.Core.HAStatus(context.Background()).Active && cl.Active(5*time.Second) != active
	})
	next := cl.Active(5 * time.Second)
	kvPut(t, active.Client, "ha/two", map[string]interface{}{"v": "after-step-down"})

	// Removing the active node is allowed: the others elect a leader and
	// keep serving.
	sec, err = active.Client.Logical().Write("sys/storage/raft/remove-peer", map[string]interface{}{"server_id": next.Server.Core.HAStatus(context.Background()).NodeID})
	if err != nil {
		t.Fatalf("remove the active node: %v (%v)", err, sec)
	}
	var rest []*testserver.Server
	for _, n := range cl.Nodes {
		if n != next {
			rest = append(rest, n)
		}
	}
	waitUntil(t, "a leader among the remaining nodes", 10*time.Second, func() bool {
		for _, n := range rest {
			if n.Server.Core.HAStatus(context.Background()).Active {
				return true
			}
		}
		return false
	})
	waitUntil(t, "a write through the remaining nodes", 10*time.Second, func() bool {
		_, err := rest[0].Client.KVv2("secret").Put(context.Background(), "ha/three", map[string]interface{}{"v": "3"})
		return err == nil
	})
	if got := kvGet(t, rest[1].Client, "ha/two")["v"]; got != "after-step-down" {
		t.Fatalf("ha/two = %v", got)
	}
	// The removed node no longer claims to be active.
	waitUntil(t, "the removed node to step down", 10*time.Second, func() bool {
		return !next.Server.Core.HAStatus(context.Background()).Active
	})
}

// pgDB is a fresh PostgreSQL database with a table recording every
// revocation the database engine runs.
type pgDB struct {
	name  string
	admin *sql.DB
}

func newPGDB(t *testing.T) *pgDB {
	t.Helper()
	root, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	if err := root.Ping(); err != nil {
		t.Skipf("PostgreSQL at 127.0.0.1:5432 is not reachable: %v", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	p := &pgDB{name: "coffer_ha_" + hex.EncodeToString(b)}
	if _, err := root.Exec("CREATE DATABASE " + p.name); err != nil {
		t.Fatal(err)
	}
	if p.admin, err = sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/"+p.name+"?sslmode=disable"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.admin.Close()
		_, _ = root.Exec("DROP DATABASE IF EXISTS " + p.name + " WITH (FORCE)")
	})
	if _, err := p.admin.Exec("CREATE TABLE revocations (name text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pgDB) revocations(t *testing.T, user string) int {
	t.Helper()
	var n int
	if err := p.admin.QueryRow("SELECT count(*) FROM revocations WHERE name = $1", user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (p *pgDB) roleExists(t *testing.T, user string) bool {
	t.Helper()
	var n int
	if err := p.admin.QueryRow("SELECT count(*) FROM pg_roles WHERE rolname = $1", user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func waitUntil(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterFailover kills the active node: a standby takes over, writes
// continue, a database lease issued before the failover is revoked
// exactly once by the new active node, and the old node rejoins.
func TestClusterFailover(t *testing.T) {
	p := newPGDB(t)
	cl := testserver.StartCluster(t, 3, testserver.Options{
		LeaseOptions: lease.Options{BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond},
	})
	old := cl.Active(10 * time.Second)
	c := cl.Standbys()[0].Client // every call below is forwarded
	if err := c.Sys().Mount("database", &api.MountInput{Type: "database"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/config/pg", map[string]interface{}{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": "postgres://{{username}}@127.0.0.1:5432/" + p.name + "?sslmode=disable",
		"username":       "postgres", "allowed_roles": "*",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/roles/app", map[string]interface{}{
		"db_name":               "pg",
		"creation_statements":   `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
		"revocation_statements": `INSERT INTO revocations VALUES ('{{name}}'); DROP ROLE IF EXISTS "{{name}}";`,
		"default_ttl":           "3s", "max_ttl": "1h",
	}); err != nil {
		t.Fatal(err)
	}
	creds := func() (user, lease string) {
		t.Helper()
		s, err := c.Logical().Read("database/creds/app")
		if err != nil {
			t.Fatal(err)
		}
		return s.Data["username"].(string), s.LeaseID
	}
	revoked, revokedLease := creds()
	if err := c.Sys().Revoke(revokedLease); err != nil {
		t.Fatal(err)
	}
	expiring, _ := creds()
	kvPut(t, c, "failover/before", map[string]interface{}{"v": "1"})

	survivors := cl.Standbys()
	var once []*api.Client // no retries: the loop below measures
	for _, s := range survivors {
		oc := s.NewClient(s.RootToken)
		oc.SetMaxRetries(0)
		once = append(once, oc)
	}
	old.Kill()
	start := time.Now()
	var writer *api.Client
	for writer == nil {
		for _, oc := range once {
			if _, err := oc.KVv2("secret").Put(context.Background(), "failover/after", map[string]interface{}{"v": "2"}); err == nil {
				writer = oc
				break
			}
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("no successful write within 20s of killing the active node")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("failover: active node killed -> first successful write in %v", time.Since(start))
	newActive := cl.Active(10 * time.Second)
	if newActive == old {
		t.Fatal("the killed node is still active")
	}
	for _, s := range survivors {
		if got := kvGet(t, s.Client, "failover/before")["v"]; got != "1" {
			t.Fatalf("data written before the failover via %s = %v", s.Addr, got)
		}
	}

	// The old node restarts and rejoins as a standby; raft's retry
	// backoff towards a dead peer decides how soon the leader calls it.
	old.Restart()
	// The new active node restored the lease and revokes it at expiry.
	waitUntil(t, "the expiring lease to be revoked", 15*time.Second, func() bool { return !p.roleExists(t, expiring) })
	waitUntil(t, "the restarted node to follow the new leader", 20*time.Second, func() bool {
		st := old.Server.Core.HAStatus(context.Background())
		return st.Standby && st.LeaderID == newActive.Server.Core.HAStatus(context.Background()).NodeID && st.LeaderAPIAddr == newActive.Addr
	})
	if got := kvGet(t, old.Client, "failover/after")["v"]; got != "2" {
		t.Fatalf("read via the rejoined node = %v", got)
	}
	time.Sleep(500 * time.Millisecond) // room for a stray second revocation
	if n := p.revocations(t, expiring); n != 1 {
		t.Fatalf("the lease issued before the failover was revoked %d times, want once", n)
	}
	if n := p.revocations(t, revoked); n != 1 {
		t.Fatalf("the lease revoked before the failover was revoked %d times, want once", n)
	}
	if sec, err := writer.Logical().List("sys/leases/lookup/database/creds/app/"); err != nil || sec != nil {
		t.Fatalf("leases left after revocation: %v %v", sec, err)
	}
}

// TestClusterMinority stops two of three nodes: the survivor has no
// quorum, refuses writes and does not claim to be active.
func TestClusterMinority(t *testing.T) {
	cl := testserver.StartCluster(t, 3, testserver.Options{})
	kvPut(t, cl.Nodes[2].Client, "minority/before", map[string]interface{}{"v": "1"})
	lone := cl.Nodes[2]
	cl.Nodes[0].Kill()
	cl.Nodes[1].Kill()
	waitUntil(t, "the survivor to give up", 10*time.Second, func() bool {
		st := lone.Server.Core.HAStatus(context.Background())
		return !st.Active
	})
	once := lone.NewClient(lone.RootToken)
	once.SetMaxRetries(0)
	_, err := once.KVv2("secret").Put(context.Background(), "minority/after", map[string]interface{}{"v": "2"})
	if statusOf(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "node is not active") {
		t.Fatalf("write on the minority = %v, want 503 node is not active", err)
	}
	if lone.Server.Core.HAStatus(context.Background()).Active {
		t.Fatal("the minority node became active")
	}
	resp, err := lone.Client.CloneConfig().HttpClient.Get(lone.Addr + "/v1/sys/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("health of the minority node = %d, want 429", resp.StatusCode)
	}
	// With a peer back the cluster has quorum again and the write works.
	cl.Nodes[1].Restart()
	waitUntil(t, "a write with quorum back", 15*time.Second, func() bool {
		_, err := lone.Client.KVv2("secret").Put(context.Background(), "minority/after", map[string]interface{}{"v": "2"})
		return err == nil
	})
}

// TestClusterSnapshot saves a snapshot through a standby, changes data and
// restores it: later writes are gone, earlier ones back, and a token
// lease from the snapshot still expires. A snapshot of another cluster is
// refused unless forced.
func TestClusterSnapshot(t *testing.T) {
	cl := testserver.StartCluster(t, 3, testserver.Options{})
	c := cl.Standbys()[0].Client
	kvPut(t, c, "snap/kept", map[string]interface{}{"v": "before"})
	tok, err := c.Auth().Token().Create(&api.TokenCreateRequest{TTL: "4s", Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := c.Sys().RaftSnapshot(&snap); err != nil {
		t.Fatalf("snapshot save via a standby: %v", err)
	}
	kvPut(t, c, "snap/kept", map[string]interface{}{"v": "after"})
	kvPut(t, c, "snap/later", map[string]interface{}{"v": "x"})

	if err := c.Sys().RaftSnapshotRestore(bytes.NewReader(snap.Bytes()), false); err != nil {
		t.Fatalf("snapshot restore via a standby: %v", err)
	}
	for _, n := range cl.Nodes {
		if got := kvGet(t, n.Client, "snap/kept")["v"]; got != "before" {
			t.Fatalf("snap/kept via %s = %v", n.Addr, got)
		}
		if _, err := n.Client.KVv2("secret").Get(context.Background(), "snap/later"); !errors.Is(err, api.ErrSecretNotFound) {
			t.Fatalf("snap/later via %s after restore: %v", n.Addr, err)
		}
	}
	if _, err := c.Auth().Token().Lookup(tok.Auth.ClientToken); err != nil {
		t.Fatalf("the token from the snapshot is not valid after the restore: %v", err)
	}
	waitUntil(t, "the restored token lease to expire", 10*time.Second, func() bool {
		_, err := c.Auth().Token().Lookup(tok.Auth.ClientToken)
		return err != nil
	})

	// A snapshot of another cluster: refused, then forced.
	other := testserver.Start(t, testserver.Options{DataDir: t.TempDir()})
	kvPut(t, other.Client, "snap/kept", map[string]interface{}{"v": "other"})
	var foreign bytes.Buffer
	if err := other.Client.Sys().RaftSnapshot(&foreign); err != nil {
		t.Fatal(err)
	}
	err = c.Sys().RaftSnapshotRestore(bytes.NewReader(foreign.Bytes()), false)
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "snapshot-force") {
		t.Fatalf("restore of a foreign snapshot = %v, want 400 naming snapshot-force", err)
	}
	if got := kvGet(t, c, "snap/kept")["v"]; got != "before" {
		t.Fatalf("a refused restore changed data: %v", got)
	}
	active := cl.Active(5 * time.Second)
	if err := c.Sys().RaftSnapshotRestore(bytes.NewReader(foreign.Bytes()), true); err != nil {
		t.Fatalf("forced restore: %v", err)
	}
	// The active node cannot open the foreign keyring: it seals until it
	// is unsealed with the other cluster's keys.
	waitUntil(t, "the active node to seal", 5*time.Second, func() bool { return active.Server.Core.Sealed() })
	key, _ := hex.DecodeString(other.UnsealKeys[0])
	if err := active.Server.Unseal(context.Background(), [][]byte{key}); err != nil {
		t.Fatalf("unseal with the snapshot's keys: %v", err)
	}
	oc := active.NewClient(other.RootToken)
	waitUntil(t, "the forced snapshot's data", 10*time.Second, func() bool {
		s, err := oc.KVv2("secret").Get(context.Background(), "snap/kept")
		return err == nil && s.Data["v"] == "other"
	})
}

// TestClusterJoinRefusals: a wrong challenge answer, an answer without a
// challenge and unseal keys of another cluster are refused with 400s, and
// nothing is added to the cluster.
func TestClusterJoinRefusals(t *testing.T) {
	cl := testserver.StartCluster(t, 1, testserver.Options{})
	lead := cl.Nodes[0]
	anon := lead.NewClient("")
	if _, err := anon.Logical().Write("sys/storage/raft/bootstrap/challenge", map[string]interface{}{"server_id": "intruder"}); err != nil {
		t.Fatalf("challenge: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	answer := map[string]interface{}{
		"server_id": "intruder", "answer": base64.StdEncoding.EncodeToString([]byte("guess")),
		"cluster_addr": "127.0.0.1:1", "public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}
	_, err = anon.Logical().Write("sys/storage/raft/bootstrap/answer", answer)
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "invalid answer") {
		t.Fatalf("wrong answer = %v", err)
	}
	answer["server_id"] = "stranger"
	_, err = anon.Logical().Write("sys/storage/raft/bootstrap/answer", answer)
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "no join challenge is pending") {
		t.Fatalf("answer without a challenge = %v", err)
	}

	joiner := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), NodeID: "node2", NoInit: true})
	ca, err := os.ReadFile(lead.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := joiner.Client.Sys().RaftJoin(&api.RaftJoinRequest{LeaderAPIAddr: lead.Addr, LeaderCACert: string(ca)}); err != nil {
		t.Fatalf("join: %v", err)
	}
	// Another cluster's key does not open this cluster's keyring.
	wrong := hex.EncodeToString(bytes.Repeat([]byte{7}, 32))
	_, err = joiner.Client.Sys().Unseal(wrong)
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "do not open the keyring") {
		t.Fatalf("unseal with another cluster's key = %v", err)
	}
	if n := lead.Server.RaftVoters(); n != 1 {
		t.Fatalf("%d voters after refused joins", n)
	}
	cfg, err := lead.Client.Logical().Read("sys/storage/raft/configuration")
	if err != nil || len(cfg.Data["config"].(map[string]interface{})["servers"].([]interface{})) != 1 {
		t.Fatalf("configuration after refused joins: %v %v", cfg, err)
	}
	// The join is still pending: the right key completes it.
	if st, err := joiner.Client.Sys().Unseal(lead.UnsealKeys[0]); err != nil || st.Sealed {
		t.Fatalf("unseal with the cluster's key: %+v %v", st, err)
	}
	cl.Adopt(joiner)
	cl.Nodes = append(cl.Nodes, joiner)
	cl.WaitVoters(2, 20*time.Second)
}
