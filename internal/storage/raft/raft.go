// Package raft is a replicated storage.Backend on hashicorp/raft.
//
// Layout under the data directory:
//
//	node-id           this node's raft ID when none is configured
//	vault.db          bbolt file holding the applied state (the FSM),
//	                  written without fsync and rebuilt after an unclean stop
//	vault.db.clean    present while vault.db is synced and closed
//	vault.db.compact  a copy of the state being written to replace vault.db
//	                  once most of it is free space (see maybeCompact)
//	raft/log/         the raft log: append-only segment files (see segmentLog)
//	raft/raft.db      raft's stable store: current term and vote (raft-boltdb)
//	raft/snapshots/   raft file snapshots of vault.db's content
//	cluster-tls/      this node's cluster key and certificate, the cluster CA
//
// Writes are raft log entries (a batch of puts and deletes) and return once
// applied to the local state; reads are served from the local bbolt file.
package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// RetryJoin is one retry_join stanza: a leader to ask to join its cluster.
type RetryJoin struct {
	LeaderAPIAddr        string
	LeaderCACertFile     string
	LeaderClientCertFile string
	LeaderClientKeyFile  string
	LeaderTLSServerName  string
}

// Options configure Open.
type Options struct {
	// Path is the data directory; it is created (0700) if missing.
	Path string
	// NodeID is the raft server ID. If empty, a random ID is generated
	// once and kept in Path/node-id.
	NodeID string
	// ClusterAddr is the bind address of the cluster port (raft's
	// transport); it must be an address other nodes can reach unless
	// AdvertiseAddr is set. Empty means 127.0.0.1:0.
	ClusterAddr string
	// AdvertiseAddr is the host:port other nodes dial; empty means the
	// bound address.
	AdvertiseAddr string
	// ClusterTLS serves raft and request forwarding on one port with
	// mutual TLS, using certificates from the cluster's own CA (see
	// InstallClusterCert). Without it raft uses plain TCP and there is no
	// forwarding listener.
	ClusterTLS bool
	// DeferBootstrap keeps a node without raft state from bootstrapping a
	// cluster at Open: Bootstrap (at initialisation) or a join does it.
	DeferBootstrap bool
	// Version is reported to the leader by this node's heartbeats.
	Version string
	// Logger receives storage and raft logs; raft's own Info messages are
	// logged at Debug. Nil discards logs.
	Logger *slog.Logger
	// FastElection uses short raft timeouts, for tests.
	FastElection bool
	// RetryJoin lists leaders to join. Open does not contact them, but a
	// node with RetryJoin and no raft state does not bootstrap itself.
	RetryJoin []RetryJoin
	// TrailingLogs is how many log entries are kept after a snapshot
	// (default 10000), SnapshotThreshold how many new entries make a
	// snapshot due (default 8192) and SnapshotInterval how often that is
	// checked (default 2m, randomised up to twice that). Zero means the
	// default.
	TrailingLogs      uint64
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
}

// Backend is the raft storage backend. It is safe for concurrent use.
type Backend struct {
	raft      *raft.Raft
	fsm       *fsm
	logStore  *segmentLog
	stable    *raftboltdb.BoltStore
	snaps     raft.SnapshotStore
	transport *raft.NetworkTransport
	nodeID    string
	retryJoin []RetryJoin
	logger    *slog.Logger
	dir       string
	fast      bool
	version   string

	// cluster is set with Options.ClusterTLS.
	cluster   *clusterListener
	tls       *clusterTLS
	forwardRT *http.Transport
	httpSrv   *http.Server
	pilot     *autopilot
	// forwardHandler serves requests forwarded by other nodes.
	forwardHandler atomic.Pointer[http.Handler]
	stop           context.CancelFunc
	bg             sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("raft storage is closed")

type timing struct {
	heartbeat, election, lease, commit time.Duration
}

var (
	// clusterTiming is hashicorp/raft's default, safe across a LAN.
	clusterTiming = timing{heartbeat: time.Second, election: time.Second, lease: 500 * time.Millisecond, commit: 50 * time.Millisecond}
	fastTiming    = timing{heartbeat: 150 * time.Millisecond, election: 150 * time.Millisecond, lease: 100 * time.Millisecond, commit: 5 * time.Millisecond}
)

// Open opens or creates the storage in opts.Path and starts raft. A node
// without raft state bootstraps a cluster of itself, unless RetryJoin is set:
// then it waits for a leader to add it. When this node is the
// only voter, Open returns once it is leader and has applied its log, so
// writes work at once; otherwise it returns as a follower.
func Open(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Path == "" {
		return nil, errors.New("raft storage: path is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	raftDir := filepath.Join(opts.Path, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return nil, fmt.Errorf("raft storage: %w", err)
	}
	nodeID, err := loadNodeID(opts.Path, opts.NodeID)
	if err != nil {
		return nil, fmt.Errorf("raft storage: %w", err)
	}

	b := &Backend{nodeID: nodeID, retryJoin: opts.RetryJoin, logger: logger, dir: opts.Path, fast: opts.FastElection, version: opts.Version}
	if err := b.start(opts, raftDir); err != nil {
		b.Close()
		return nil, fmt.Errorf("raft storage: %w", err)
	}
	sole, err := b.soleVoter()
	if err == nil && sole {
		err = b.electSelf(ctx)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("raft storage: %w", err)
	}
	if b.tls != nil {
		b.startCluster()
	}
	return b, nil
}

// start opens the files and the transport and starts raft. On error the
// caller closes whatever was opened.
func (b *Backend) start(opts Options, raftDir string) error {
	var err error
	if b.fsm, err = openFSM(filepath.Join(opts.Path, "vault.db"), b.logger); err != nil {
		return err
	}
	b.fsm.checkPeriodically(compactCheckInterval)
	b.stable, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(raftDir, "raft.db"),
		BoltOptions: &bolt.Options{Timeout: time.Second, NoFreelistSync: true},
	})
	if err != nil {
		return fmt.Errorf("open raft stable store: %w", err)
	}
	if b.logStore, err = openSegmentLog(filepath.Join(raftDir, "log"), b.logger); err != nil {
		return err
	}
	if err := moveBoltLog(b.stable, b.logStore, b.logger); err != nil {
		return err
	}
	hlog := newHCLogger(b.logger, "raft")
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, hlog)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	b.snaps = snaps
	if err := b.openTransport(opts, hlog); err != nil {
		return err
	}

	conf := raftConfig(raft.ServerID(b.nodeID), opts.FastElection, hlog)
	if opts.TrailingLogs > 0 {
		conf.TrailingLogs = opts.TrailingLogs
	}
	if opts.SnapshotThreshold > 0 {
		conf.SnapshotThreshold = opts.SnapshotThreshold
	}
	if opts.SnapshotInterval > 0 {
		conf.SnapshotInterval = opts.SnapshotInterval
	}
	// vault.db, when kept from a clean stop, records the last index it
	// applied, so raft only needs to restore a snapshot on start if
	// vault.db is behind it (a dropped one is empty: applied 0).
	snapshots, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	conf.NoSnapshotRestoreOnStart = len(snapshots) == 0 || snapshots[0].Index <= b.fsm.applied.Load()

	hasState, err := raft.HasExistingState(b.logStore, b.stable, snaps)
	if err != nil {
		return fmt.Errorf("read raft state: %w", err)
	}
	switch {
	case hasState:
	case opts.DeferBootstrap:
		b.logger.Info("no raft state; waiting for initialisation or a join", "node_id", b.nodeID)
	case len(opts.RetryJoin) > 0:
		// A node that will join a cluster must not start one of its own:
		// its first log entries would clash with the leader's.
		b.logger.Info("no raft state; waiting to be added to a cluster", "node_id", b.nodeID)
	default:
		self := raft.Server{Suffrage: raft.Voter, ID: conf.LocalID, Address: b.transport.LocalAddr()}
		err := raft.BootstrapCluster(conf, b.logStore, b.stable, snaps, b.transport,
			raft.Configuration{Servers: []raft.Server{self}})
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		b.logger.Info("bootstrapped a single-node raft cluster", "node_id", b.nodeID)
	}
	if b.raft, err = raft.NewRaft(conf, b.fsm, b.logStore, b.stable, snaps, b.transport); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	return nil
}

func raftConfig(id raft.ServerID, fast bool, logger hclog.Logger) *raft.Config {
	t := clusterTiming
	if fast {
		t = fastTiming
	}
	conf := raft.DefaultConfig()
	conf.LocalID = id
	conf.Logger = logger
	conf.HeartbeatTimeout = t.heartbeat
	conf.ElectionTimeout = t.election
	conf.LeaderLeaseTimeout = t.lease
	conf.CommitTimeout = t.commit
	// Buffer the apply channel so that concurrent writes are committed and
	// applied (one bbolt transaction) as a batch.
	conf.BatchApplyCh = true
	conf.MaxAppendEntries = 256
	// A removed node keeps its process and storage; it learns it is out
	// of the cluster and stops taking part in elections.
	conf.ShutdownOnRemove = false
	conf.TrailingLogs = 10000
	return conf
}

// soleVoter reports whether this node is the only voter of its
// configuration.
func (b *Backend) soleVoter() (bool, error) {
	f := b.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return false, fmt.Errorf("read raft configuration: %w", err)
	}
	voters := 0
	self := false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
			self = self || s.ID == raft.ServerID(b.nodeID)
		}
	}
	return voters == 1 && self, nil
}

// electSelf makes the sole voter leader without waiting a heartbeat
// timeout: lowering the heartbeat timeout makes a follower check its
// timer at once, and with no leader to hear from it starts an election
// that its own vote wins. The timeout is then restored. Once leader, the
// node applies its whole log (a barrier) and records its current address.
func (b *Backend) electSelf(ctx context.Context) error {
	orig := b.raft.ReloadableConfig()
	quick := orig
	quick.HeartbeatTimeout = orig.HeartbeatTimeout - time.Millisecond
	if err := b.raft.ReloadConfig(quick); err != nil {
		return fmt.Errorf("shorten heartbeat timeout: %w", err)
	}
	waitErr := b.waitLeader(ctx)
	if err := b.raft.ReloadConfig(orig); err != nil {
		return fmt.Errorf("restore heartbeat timeout: %w", err)
	}
	if waitErr != nil {
		return waitErr
	}
	if err := b.raft.Barrier(timeoutOf(ctx)).Error(); err != nil {
		return fmt.Errorf("apply raft log: %w", err)
	}
	// With ClusterAddr empty the port changes on every start.
	addr := b.transport.LocalAddr()
	f := b.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("read raft configuration: %w", err)
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(b.nodeID) && s.Address != addr {
			if err := b.raft.AddVoter(s.ID, addr, 0, timeoutOf(ctx)).Error(); err != nil {
				return fmt.Errorf("update own raft address: %w", err)
			}
		}
	}
	return nil
}

func (b *Backend) waitLeader(ctx context.Context) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for b.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for leadership: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// timeoutOf turns ctx's deadline into a raft timeout; 0 means none.
func timeoutOf(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}

// loadNodeID returns the configured ID, or the one kept in dir/node-id,
// creating it on first use.
func loadNodeID(dir, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	path := filepath.Join(dir, "node-id")
	data, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(data)) != "" {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read node ID: %w", err)
	}
	id := uuid.NewString()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write node ID: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write node ID: %w", err)
	}
	return id, nil
}

// Close stops raft and closes the files. It is safe to call more than
// once.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		var errs []error
		if b.stop != nil {
			b.stop()
		}
		if b.raft != nil {
			errs = append(errs, b.raft.Shutdown().Error())
		}
		if b.transport != nil {
			errs = append(errs, b.transport.Close())
		}
		if b.cluster != nil {
			b.cluster.Close()
			b.cluster.wg.Wait()
		}
		if b.forwardRT != nil {
			b.forwardRT.CloseIdleConnections()
		}
		b.bg.Wait()
		if b.logStore != nil {
			errs = append(errs, b.logStore.Close())
		}
		if b.stable != nil {
			errs = append(errs, b.stable.Close())
		}
		if b.fsm != nil {
			errs = append(errs, b.fsm.close())
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// Raft returns the raft instance, for cluster management.
func (b *Backend) Raft() *raft.Raft { return b.raft }

// IsLeader reports whether this node is the raft leader.
func (b *Backend) IsLeader() bool { return b.raft.State() == raft.Leader }

// LeaderCh delivers true when this node gains leadership and false when it
// loses it. Only the latest change is kept if nobody is receiving.
func (b *Backend) LeaderCh() <-chan bool { return b.raft.LeaderCh() }

// NodeID returns this node's raft server ID.
func (b *Backend) NodeID() string { return b.nodeID }

// LocalAddr returns the raft transport's address.
func (b *Backend) LocalAddr() string { return string(b.transport.LocalAddr()) }

// RetryJoin returns the retry_join stanzas given to Open.
func (b *Backend) RetryJoin() []RetryJoin { return b.retryJoin }
