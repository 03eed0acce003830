package testserver

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
)

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Cluster is a raft cluster of test servers on loopback ports, sharing
// one set of unseal keys and one root token.
type Cluster struct {
	Nodes []*Server
	t     testing.TB
}

// StartCluster starts n nodes: the first is initialised, the others join
// it through retry_join and are unsealed with its keys. It returns once
// every node is unsealed and a voter. opts applies to every node
// (DataDir, NodeID, ClusterAddr and RetryJoin are set per node).
func StartCluster(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	first := opts
	first.DataDir, first.NodeID, first.ClusterAddr, first.RetryJoin = t.TempDir(), "node1", "", nil
	lead := Start(t, first)
	lead.retry = true
	lead.Client = lead.NewClient(lead.RootToken)
	c.Nodes = append(c.Nodes, lead)
	for i := 2; i <= n; i++ {
		c.Nodes = append(c.Nodes, c.StartJoiner(fmt.Sprintf("node%d", i), opts))
	}
	c.WaitVoters(n, 20*time.Second)
	return c
}

// StartJoiner starts a node that joins the cluster through retry_join
// and unseals it with the cluster's keys.
func (c *Cluster) StartJoiner(nodeID string, opts Options) *Server {
	c.t.Helper()
	lead := c.Nodes[0]
	opts.DataDir, opts.NodeID, opts.ClusterAddr = c.t.TempDir(), nodeID, ""
	opts.RetryJoin = []*config.RetryJoin{{LeaderAPIAddr: lead.Addr, LeaderCACertFile: lead.CACertFile}}
	s := Start(c.t, opts)
	c.Adopt(s)
	// The join is pending once the leader has answered the challenge.
	deadline := time.Now().Add(15 * time.Second)
	for {
		init, err := s.Server.Core.Initialized(context.Background())
		if err == nil && init {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: no join challenge after 15s", nodeID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a := s.cfg.ActiveSeal(); a != nil && a.Type != config.SealShamir {
		// An auto-unseal node completes the join by itself.
		s.WaitUnsealed(20 * time.Second)
		return s
	}
	if err := s.Server.Unseal(context.Background(), s.keys[:s.opts.Threshold]); err != nil {
		c.t.Fatalf("%s: unseal to complete the join: %v", nodeID, err)
	}
	return s
}

// Adopt gives a node the cluster's keys and root token (for a node that
// joined by other means).
func (c *Cluster) Adopt(s *Server) {
	lead := c.Nodes[0]
	s.retry = true
	s.SetKeys(lead.keys, lead.opts.Threshold, lead.RootToken)
	s.UnsealKeys = lead.UnsealKeys
	s.Client = s.NewClient(lead.RootToken)
}

// Active returns the active node, waiting up to d for one.
func (c *Cluster) Active(d time.Duration) *Server {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, s := range c.Nodes {
			if s.Server == nil {
				continue
			}
			if st := s.Server.Core.HAStatus(context.Background()); st.Active {
				return s
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no active node after %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Standbys returns the running nodes other than the active one.
func (c *Cluster) Standbys() []*Server {
	active := c.Active(10 * time.Second)
	var out []*Server
	for _, s := range c.Nodes {
		if s != active && s.Server != nil {
			out = append(out, s)
		}
	}
	return out
}

// WaitVoters waits until the active node's raft configuration has n
// voters and every running node is unsealed.
func (c *Cluster) WaitVoters(n int, d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		active := c.Active(d)
		voters := active.Server.RaftVoters()
		unsealed := true
		for _, s := range c.Nodes {
			unsealed = unsealed && (s.Server == nil || !s.Server.Core.Sealed())
		}
		if voters == n && unsealed {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster has %d voters (want %d), all unsealed: %v, after %v", voters, n, unsealed, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
