package raft

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// AutopilotConfig tunes how the leader manages the cluster's members.
type AutopilotConfig struct {
	// CleanupDeadServers removes servers that have not been heard from
	// for DeadServerLastContactThreshold, keeping at least MinQuorum voters.
	CleanupDeadServers             bool
	LastContactThreshold           time.Duration
	DeadServerLastContactThreshold time.Duration
	MaxTrailingLogs                uint64
	MinQuorum                      uint
	// ServerStabilizationTime is how long a new server must stay healthy
	// before it is promoted to voter.
	ServerStabilizationTime time.Duration
	DisableUpgradeMigration bool
}

// DefaultAutopilotConfig is the configuration before any is set; with
// fast raft timing (tests) new servers are promoted sooner.
func DefaultAutopilotConfig(fast bool) AutopilotConfig {
	c := AutopilotConfig{
		LastContactThreshold:           10 * time.Second,
		DeadServerLastContactThreshold: 24 * time.Hour,
		MaxTrailingLogs:                1000,
		ServerStabilizationTime:        10 * time.Second,
	}
	if fast {
		c.LastContactThreshold = 2 * time.Second
		c.ServerStabilizationTime = 300 * time.Millisecond
	}
	return c
}

// AutopilotServer is one server as the leader sees it.
type AutopilotServer struct {
	ID, Name, Address string
	// NodeStatus is "alive" or "failed" (not heard from within
	// LastContactThreshold).
	NodeStatus string
	// Status is "leader", "voter" or "non-voter".
	Status      string
	LastContact time.Duration
	LastTerm    uint64
	LastIndex   uint64
	Healthy     bool
	StableSince time.Time
	Version     string
}

// AutopilotState is the cluster's health as the leader sees it.
type AutopilotState struct {
	Healthy          bool
	FailureTolerance int
	Leader           string
	Voters           []string
	NonVoters        []string
	Servers          map[string]AutopilotServer
}

// follower is what the leader last heard from a node's heartbeat.
type follower struct {
	lastContact  time.Time
	appliedIndex uint64
	term         uint64
	version      string
	healthySince time.Time
}

// autopilot promotes healthy non-voters and, when asked, removes dead
// servers. It acts only while this node is the leader.
type autopilot struct {
	b *Backend

	mu          sync.Mutex
	conf        AutopilotConfig
	followers   map[string]*follower
	leaderSince time.Time
	wasLeader   bool
}

func newAutopilot(b *Backend) *autopilot {
	return &autopilot{b: b, conf: DefaultAutopilotConfig(b.fast), followers: map[string]*follower{}}
}

func (b *Backend) interval() time.Duration {
	if b.fast {
		return 50 * time.Millisecond
	}
	return time.Second
}

// SetAutopilotConfig replaces the autopilot configuration.
func (b *Backend) SetAutopilotConfig(c AutopilotConfig) {
	b.pilot.mu.Lock()
	b.pilot.conf = c
	b.pilot.mu.Unlock()
}

// AutopilotConfig returns the autopilot configuration in effect.
func (b *Backend) AutopilotConfig() AutopilotConfig {
	if b.pilot == nil {
		return DefaultAutopilotConfig(b.fast)
	}
	b.pilot.mu.Lock()
	defer b.pilot.mu.Unlock()
	return b.pilot.conf
}

// joined starts tracking a server the leader just added.
func (a *autopilot) joined(id string) {
	if a == nil {
		return
	}
	a.mu.Lock()
	if _, ok := a.followers[id]; !ok {
		a.followers[id] = &follower{lastContact: time.Now()}
	}
	a.mu.Unlock()
}

func (a *autopilot) heard(id string, applied, term uint64, version string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.followers[id]
	if f == nil {
		f = &follower{}
		a.followers[id] = f
	}
	f.lastContact, f.appliedIndex, f.term, f.version = time.Now(), applied, term, version
}

func (a *autopilot) run(ctx context.Context) {
	t := time.NewTicker(a.b.interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.tick(ctx); err != nil && ctx.Err() == nil {
			a.b.logger.Warn("autopilot", "error", err)
		}
	}
}

func (a *autopilot) tick(ctx context.Context) error {
	leader := a.b.IsLeader()
	a.mu.Lock()
	if leader && !a.wasLeader {
		// Followers heard by an earlier leader are unknown here: count
		// from now.
		a.leaderSince = time.Now()
		a.followers = map[string]*follower{}
	}
	a.wasLeader = leader
	a.mu.Unlock()
	if !leader {
		return nil
	}
	st, err := a.b.AutopilotState()
	if err != nil {
		return err
	}
	conf := a.b.AutopilotConfig()
	for _, id := range st.NonVoters {
		s := st.Servers[id]
		if s.Healthy && !s.StableSince.IsZero() && time.Since(s.StableSince) >= conf.ServerStabilizationTime {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := a.b.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(s.Address), 0, timeoutOf(cctx)).Error()
			cancel()
			if err != nil {
				return fmt.Errorf("promote %s to voter: %w", id, err)
			}
			a.b.logger.Info("promoted a healthy server to voter", "server_id", id)
		}
	}
	if conf.CleanupDeadServers {
		for _, id := range deadServers(st, conf) {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := a.b.raft.RemoveServer(raft.ServerID(id), 0, timeoutOf(cctx)).Error()
			cancel()
			if err != nil {
				return fmt.Errorf("remove dead server %s: %w", id, err)
			}
			a.b.logger.Warn("removed a dead server from the raft configuration", "server_id", id)
		}
	}
	return nil
}

// deadServers lists the servers to remove: those not heard from for the
// dead-server threshold, non-voters first, and voters only while at least
// MinQuorum voters remain. The leader is never listed.
func deadServers(st *AutopilotState, conf AutopilotConfig) []string {
	var dead []string
	voters := len(st.Voters)
	for _, group := range [][]string{st.NonVoters, st.Voters} {
		for _, id := range group {
			s := st.Servers[id]
			if s.Status == "leader" || s.LastContact < conf.DeadServerLastContactThreshold {
				continue
			}
			if s.Status == "voter" {
				if uint(voters-1) < conf.MinQuorum || voters-1 < 1 {
					continue
				}
				voters--
			}
			dead = append(dead, id)
		}
	}
	return dead
}

// AutopilotState reports every server's health. Only the leader knows it;
// other nodes get storage.ErrReadOnly.
func (b *Backend) AutopilotState() (*AutopilotState, error) {
	if !b.IsLeader() || b.pilot == nil {
		return nil, applyError(raft.ErrNotLeader)
	}
	cfg, err := b.Configuration()
	if err != nil {
		return nil, err
	}
	conf := b.AutopilotConfig()
	now := time.Now()
	lastIndex, term := b.raft.LastIndex(), b.raft.CurrentTerm()
	st := &AutopilotState{Servers: map[string]AutopilotServer{}}
	a := b.pilot
	a.mu.Lock()
	defer a.mu.Unlock()
	healthyVoters := 0
	st.Healthy = true
	for _, s := range cfg.Servers {
		srv := AutopilotServer{ID: s.ID, Name: s.ID, Address: s.Address, Status: "non-voter", Version: b.version}
		if s.Voter {
			srv.Status = "voter"
		}
		if s.ID == b.nodeID {
			srv.Status, srv.LastTerm, srv.LastIndex, srv.Healthy = "leader", term, lastIndex, true
			srv.StableSince = a.leaderSince
			st.Leader = s.ID
		} else {
			f := a.followers[s.ID]
			if f == nil {
				f = &follower{lastContact: a.leaderSince}
				a.followers[s.ID] = f
			}
			srv.LastContact = now.Sub(f.lastContact)
			srv.LastTerm, srv.LastIndex, srv.Version = f.term, f.appliedIndex, f.version
			srv.Healthy = srv.LastContact < conf.LastContactThreshold && f.term == term &&
				lastIndex <= f.appliedIndex+conf.MaxTrailingLogs
			switch {
			case !srv.Healthy:
				f.healthySince = time.Time{}
			case f.healthySince.IsZero():
				f.healthySince = now
			}
			srv.StableSince = f.healthySince
		}
		srv.NodeStatus = "alive"
		if srv.LastContact >= conf.LastContactThreshold {
			srv.NodeStatus = "failed"
		}
		if s.Voter {
			st.Voters = append(st.Voters, s.ID)
			if srv.Healthy {
				healthyVoters++
			}
		} else {
			st.NonVoters = append(st.NonVoters, s.ID)
		}
		st.Healthy = st.Healthy && srv.Healthy
		st.Servers[s.ID] = srv
	}
	sort.Strings(st.Voters)
	sort.Strings(st.NonVoters)
	st.FailureTolerance = max(healthyVoters-(len(st.Voters)/2+1), 0)
	return st, nil
}

// echo is a node's heartbeat to the leader over the cluster port.
type echo struct {
	NodeID       string `json:"node_id"`
	AppliedIndex uint64 `json:"applied_index"`
	Term         uint64 `json:"term"`
	Version      string `json:"version"`
}

// echoPath is served by ClusterHandler on the cluster port.
const echoPath = "/cluster/v1/echo"

// echoLoop sends heartbeats to the leader, which autopilot uses to judge
// this node's health.
func (b *Backend) echoLoop(ctx context.Context) {
	client := &http.Client{Transport: b.forwardRT, Timeout: 5 * time.Second}
	t := time.NewTicker(b.interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if cert, _ := b.tls.current(); cert == nil || b.IsLeader() {
			continue
		}
		_, addr := b.Leader()
		if addr == "" {
			continue
		}
		body, _ := json.Marshal(echo{NodeID: b.nodeID, AppliedIndex: b.raft.AppliedIndex(), Term: b.raft.CurrentTerm(), Version: b.version})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+echoPath, bytes.NewReader(body))
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			b.logger.Debug("heartbeat to the leader failed", "leader", addr, "error", err)
			continue
		}
		resp.Body.Close()
	}
}

// ClusterHandler serves the cluster-internal endpoints (heartbeats) for
// requests that arrived on the cluster port; it must not be exposed on an
// API listener.
func (b *Backend) ClusterHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+echoPath, func(w http.ResponseWriter, r *http.Request) {
		var e echo
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&e); err != nil {
			http.Error(w, "bad heartbeat", http.StatusBadRequest)
			return
		}
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != e.NodeID {
			http.Error(w, "heartbeat from an unauthenticated node", http.StatusForbidden)
			return
		}
		if b.pilot != nil && b.IsLeader() {
			b.pilot.heard(e.NodeID, e.AppliedIndex, e.Term, e.Version)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
