package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/barrier"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/storage"
	raftstore "github.com/coffer-dev/coffer/internal/storage/raft"
)

// In a raft cluster the raft leader is the active node: only it mounts
// engines, runs the lease manager and serves requests. Every other
// unsealed node is a standby whose HTTP layer forwards requests to the
// active node. A loop follows raft leadership and switches the node
// between the two.

// ErrNotActive is returned by requests that reach a standby.
var ErrNotActive error = &logical.CodedError{Kind: logical.ErrStandby, Msg: "node is not active"}

// activeNodePath records the active node, outside the barrier so that
// standbys read it whatever their keyring.
const activeNodePath = "core/active-node"

// rootKeyKey (inside the barrier's core/ view) holds the root key, so
// that a standby can follow a rekey made on the active node.
const rootKeyKey = "root-key"

const (
	haInterval = 50 * time.Millisecond
	// sealedLeaderGrace is how long a sealed node stays raft leader
	// before it hands leadership to another voter.
	sealedLeaderGrace = 3 * time.Second
)

type haState struct {
	// standby is true while unsealed but not active. Guarded by stateLock.
	standby    bool
	activeTime time.Time
	// rootKey is kept while unsealed, to check snapshots and to record it
	// for standbys. Guarded by stateLock.
	rootKey []byte

	apiAddr atomic.Pointer[string]
	// restores holds snapshots staged by a request (by request ID), for
	// HandleRequest to install once the request is done.
	restores sync.Map

	// Owned by the HA loop.
	sealedLeaderSince time.Time

	joinMu   sync.Mutex
	join     *pendingJoin
	retrying bool
	// joinRun serialises answering the pending challenge.
	joinRun sync.Mutex
}

// activeNode is the active node's advertisement.
type activeNode struct {
	NodeID      string    `json:"node_id"`
	APIAddr     string    `json:"api_addr"`
	ClusterAddr string    `json:"cluster_addr"`
	ActiveTime  time.Time `json:"active_time"`
}

// HAStatus describes this node's place in the cluster.
type HAStatus struct {
	// Enabled is true with raft storage.
	Enabled bool
	// NodeID is this node's raft ID.
	NodeID string
	Sealed bool
	// Active is true on the active node; Standby on an unsealed node that
	// is not (yet) active.
	Active, Standby bool
	// LeaderID and LeaderClusterAddr (host:port) name the raft leader;
	// LeaderAPIAddr is its API address once it has become active.
	LeaderID, LeaderAPIAddr, LeaderClusterAddr string
	ActiveTime                                 time.Time
	RaftCommittedIndex, RaftAppliedIndex       uint64
}

// HAStatus reports the node's HA state.
func (c *Core) HAStatus(ctx context.Context) HAStatus {
	c.stateLock.RLock()
	st := HAStatus{Enabled: c.conf.Raft != nil, Sealed: c.sealed}
	st.Standby = !c.sealed && c.ha.standby
	st.Active = !c.sealed && !c.ha.standby
	activeTime := c.ha.activeTime
	c.stateLock.RUnlock()
	if c.conf.Raft == nil {
		return st
	}
	st.NodeID = c.conf.Raft.NodeID()
	st.LeaderID, st.LeaderClusterAddr = c.conf.Raft.Leader()
	st.RaftCommittedIndex, st.RaftAppliedIndex = c.conf.Raft.Indexes()
	if st.Active {
		st.LeaderAPIAddr, st.ActiveTime = c.APIAddr(), activeTime
		return st
	}
	if an, err := c.readActiveNode(ctx); err == nil && an != nil && an.NodeID == st.LeaderID && st.LeaderID != "" {
		st.LeaderAPIAddr, st.ActiveTime = an.APIAddr, an.ActiveTime
	}
	return st
}

// Standby reports whether this node is unsealed but not active.
func (c *Core) Standby() bool {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	return !c.sealed && c.ha.standby
}

func (c *Core) readActiveNode(ctx context.Context) (*activeNode, error) {
	e, err := c.phys.Get(ctx, activeNodePath)
	if err != nil || e == nil {
		return nil, err
	}
	var an activeNode
	if err := json.Unmarshal(e.Value, &an); err != nil {
		return nil, fmt.Errorf("decode the active node record: %w", err)
	}
	return &an, nil
}

// haLoop follows raft leadership for the life of the core.
func (c *Core) haLoop(ctx context.Context) {
	defer c.bgWG.Done()
	t := time.NewTicker(haInterval)
	defer t.Stop()
	leaderCh := c.conf.Raft.LeaderCh()
	for {
		select {
		case <-ctx.Done():
			return
		case <-leaderCh:
		case <-t.C:
		}
		c.reconcileHA(ctx)
	}
}

// reconcileHA makes the node active when it leads raft and a standby
// when it does not. A sealed leader hands leadership to another voter
// after a grace period, so the cluster gets an active node.
func (c *Core) reconcileHA(ctx context.Context) {
	r := c.conf.Raft
	leader := r.IsLeader()
	c.stateLock.RLock()
	sealed, standby := c.sealed, c.ha.standby
	c.stateLock.RUnlock()
	if !sealed || !leader {
		c.ha.sealedLeaderSince = time.Time{}
	}
	switch {
	case sealed && leader:
		if c.ha.sealedLeaderSince.IsZero() {
			c.ha.sealedLeaderSince = time.Now()
		} else if time.Since(c.ha.sealedLeaderSince) > sealedLeaderGrace && r.Voters() > 1 {
			c.ha.sealedLeaderSince = time.Now()
			c.logger.Info("sealed node holds raft leadership; handing it to another node")
			if err := r.TransferLeadership(); err != nil {
				c.logger.Warn("leadership transfer failed", "error", err)
			}
		}
	case !sealed && leader && standby:
		c.stateLock.Lock()
		if !c.sealed && c.ha.standby && r.IsLeader() {
			if err := c.becomeActive(ctx); err != nil {
				c.logger.Error("could not become the active node", "error", err)
				if errors.Is(err, barrier.ErrInvalidKey) || errors.Is(err, barrier.ErrDecrypt) {
					// The cluster's data is sealed by keys this node does
					// not hold (e.g. after a forced snapshot restore).
					c.sealAfterFailure(err)
				}
			}
		}
		c.stateLock.Unlock()
	case !sealed && !leader && !standby:
		c.stateLock.Lock()
		if !c.sealed && !c.ha.standby && !r.IsLeader() {
			c.logger.Warn("lost raft leadership; stepping down to standby")
			c.stepDown(ctx)
		}
		c.stateLock.Unlock()
	}
}

// activateAfterUnseal finishes an unseal: without HA the node becomes
// active at once; in a cluster it does if it leads raft, and is a
// standby otherwise. Called with stateLock held, the barrier unsealed.
func (c *Core) activateAfterUnseal(ctx context.Context) error {
	if c.conf.Raft == nil {
		return c.postUnseal(ctx)
	}
	c.ha.standby = true
	if c.conf.Raft.IsLeader() {
		err := c.becomeActive(ctx)
		if err == nil || c.conf.Raft.IsLeader() {
			return err
		}
		c.logger.Warn("lost raft leadership while becoming active; staying a standby", "error", err)
	}
	c.loadStandbyState(ctx)
	return nil
}

// becomeActive turns a standby into the active node. Called with
// stateLock held.
func (c *Core) becomeActive(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.conf.Raft.WaitApplied(ctx); err != nil {
		return fmt.Errorf("apply the raft log: %w", err)
	}
	if err := c.reloadKeys(ctx); err != nil {
		return err
	}
	if err := c.postUnseal(ctx); err != nil {
		c.preSeal()
		c.loadStandbyState(ctx)
		return fmt.Errorf("post-unseal setup: %w", err)
	}
	c.ha.standby = false
	c.ha.activeTime = c.now().UTC()
	if err := c.recordRootKey(ctx); err != nil {
		c.logger.Warn("could not record the root key for standbys", "error", err)
	}
	if err := c.ensureClusterCA(ctx); err != nil {
		c.logger.Warn("could not set up the cluster CA", "error", err)
	}
	if err := c.loadAutopilotConfig(ctx); err != nil {
		c.logger.Warn("could not load the autopilot configuration", "error", err)
	}
	c.advertiseActive(ctx)
	c.logger.Info("this node is now the active node", "node_id", c.conf.Raft.NodeID())
	return nil
}

// advertiseActive records this node as the active one.
func (c *Core) advertiseActive(ctx context.Context) {
	an := activeNode{NodeID: c.conf.Raft.NodeID(), APIAddr: c.APIAddr(), ClusterAddr: c.conf.Raft.LocalAddr(), ActiveTime: c.ha.activeTime}
	b, _ := json.Marshal(an)
	if err := c.phys.Put(ctx, &storage.Entry{Key: activeNodePath, Value: b}); err != nil {
		c.logger.Warn("could not advertise the active node", "error", err)
	}
}

// reloadKeys picks up key rotations made by earlier active nodes; after a
// rekey elsewhere the keyring no longer opens with this node's root key,
// and the new one is read from the barrier.
func (c *Core) reloadKeys(ctx context.Context) error {
	err := c.barrier.ReloadKeyring(ctx)
	if err == nil || !errors.Is(err, barrier.ErrInvalidKey) {
		return err
	}
	e, gerr := c.barrier.View("core/").Get(ctx, rootKeyKey)
	if gerr != nil || e == nil {
		return fmt.Errorf("the keyring is sealed by another root key and the new one cannot be read (%v): %w", gerr, err)
	}
	newKey := e.Value
	if verr := c.barrier.VerifyRootKey(ctx, newKey); verr != nil {
		return fmt.Errorf("the recorded root key does not open the keyring: %w", verr)
	}
	c.barrier.Seal()
	if uerr := c.barrier.Unseal(ctx, newKey); uerr != nil {
		return fmt.Errorf("reopen the barrier with the new root key: %w", uerr)
	}
	c.setRootKey(newKey)
	c.logger.Info("adopted the root key set by a rekey on another node")
	return nil
}

// recordRootKey stores the root key in the barrier for standbys, when it
// is not there already.
func (c *Core) recordRootKey(ctx context.Context) error {
	if c.ha.rootKey == nil {
		return nil
	}
	v := c.barrier.View("core/")
	e, err := v.Get(ctx, rootKeyKey)
	if err != nil {
		return err
	}
	if e != nil && string(e.Value) == string(c.ha.rootKey) {
		return nil
	}
	return v.Put(ctx, &logical.StorageEntry{Key: rootKeyKey, Value: c.ha.rootKey})
}

func (c *Core) setRootKey(k []byte) {
	clear(c.ha.rootKey)
	c.ha.rootKey = append([]byte(nil), k...)
}

// rootKeyChanged keeps the new root key after a rekey and records it for
// the standbys.
func (c *Core) rootKeyChanged(ctx context.Context, k []byte) {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	c.setRootKey(k)
	if c.conf.Raft != nil {
		if err := c.recordRootKey(ctx); err != nil {
			c.logger.Warn("could not record the new root key for standbys; they must be unsealed again", "error", err)
		}
	}
}

// forgetRootKey drops the root key and the standby flag at seal.
func (c *Core) forgetRootKey() {
	clear(c.ha.rootKey)
	c.ha.rootKey = nil
	c.ha.standby = false
}

// stepDown stops everything the active node runs and keeps the barrier
// unsealed. Called with stateLock held.
func (c *Core) stepDown(ctx context.Context) {
	c.preSeal()
	c.ha.standby = true
	c.loadStandbyState(ctx)
}

// loadStandbyState reads what a standby reports (the cluster ID).
func (c *Core) loadStandbyState(ctx context.Context) {
	c.conf.Metrics.SetUnsealed(true)
	var id struct{ ID string }
	if ok, err := logical.GetJSON(ctx, c.barrier.View("core/"), "cluster", &id); err == nil && ok {
		c.clusterID = id.ID
	}
}

// installSnapshot replaces the cluster's data with a staged snapshot:
// the active state stops (flushing what it holds), raft installs the
// snapshot on every node, and the state is rebuilt from it. A node that
// cannot open the restored keyring seals itself.
func (c *Core) installSnapshot(ctx context.Context, st *raftstore.StagedSnapshot) error {
	defer st.Discard()
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if c.sealed || c.ha.standby {
		return ErrNotActive
	}
	c.preSeal()
	start := time.Now()
	if err := st.Install(ctx); err != nil {
		c.logger.Error("installing the snapshot failed; resuming with the current data", "error", err)
		if perr := c.postUnseal(ctx); perr != nil {
			c.sealAfterFailure(perr)
		}
		return err
	}
	err := c.reloadKeys(ctx)
	if err == nil {
		err = c.postUnseal(ctx)
	}
	if err != nil {
		c.sealAfterFailure(fmt.Errorf("the restored data cannot be opened with this node's keys: %w", err))
		return nil
	}
	if c.conf.Raft != nil {
		c.ha.activeTime = c.now().UTC()
		c.advertiseActive(ctx)
		if err := c.recordRootKey(ctx); err != nil {
			c.logger.Warn("could not record the root key for standbys", "error", err)
		}
	}
	c.logger.Info("restored a snapshot and reloaded the server state from it", "took", time.Since(start).String())
	return nil
}

// sealAfterFailure seals the node when its state cannot be rebuilt.
// Called with stateLock held.
func (c *Core) sealAfterFailure(err error) {
	c.logger.Error("sealing this node; unseal it with the keys of its current data", "error", err)
	c.preSeal()
	c.barrier.Seal()
	c.forgetRootKey()
	c.sealed = true
}
