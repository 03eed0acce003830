// Package core is the server's heart: the seal state machine (init, unseal,
// seal, generate-root, rekey), the mount tables, and the request pipeline
// token -> ACL -> route -> lease -> response. Only httpapi and cli import it.
package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/audit"
	"github.com/coffer-dev/coffer/internal/barrier"
	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/quota"
	"github.com/coffer-dev/coffer/internal/report"
	"github.com/coffer-dev/coffer/internal/router"
	"github.com/coffer-dev/coffer/internal/seal"
	"github.com/coffer-dev/coffer/internal/storage"
	raftstore "github.com/coffer-dev/coffer/internal/storage/raft"
	"github.com/coffer-dev/coffer/internal/token"
)

// Config configures a Core.
type Config struct {
	Physical storage.Backend
	// StorageType is reported by seal-status ("raft", "inmem").
	StorageType string
	Logger      *slog.Logger
	// DefaultLeaseTTL and MaxLeaseTTL are the server-wide values.
	DefaultLeaseTTL, MaxLeaseTTL time.Duration
	// Engines and AuthMethods map mount types to factories.
	Engines     map[string]logical.Factory
	AuthMethods map[string]logical.Factory
	ClusterName string
	APIAddr     string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// LeaseOptions tune the lease manager (tests shorten backoff).
	LeaseOptions lease.Options
	// AuditDevices declared in the configuration.
	AuditDevices []AuditDevice
	// Seal is the auto-unseal seal (awskms, transit); nil means Shamir.
	Seal seal.Seal
	// MigrationSeal is a disabled seal block's seal, needed to migrate
	// away from it.
	MigrationSeal seal.Seal
	// Metrics receives telemetry; nil disables it.
	Metrics *metrics.Metrics
	// HAStatus describes the cluster for the report ("Standalone" when nil).
	HAStatus func() string
	// Raft is the raft storage when Physical is raft with a cluster port:
	// the node is then part of a highly available cluster in which the
	// raft leader is the active node and the others are standbys.
	Raft *raftstore.Backend
	// JoinRetryInterval is the pause between rounds of retry_join
	// attempts (default 2s).
	JoinRetryInterval time.Duration
}

// Core is one server's state.
type Core struct {
	conf    Config
	logger  *slog.Logger
	phys    storage.Backend
	barrier *barrier.Barrier
	router  *router.Router
	now     func() time.Time

	// stateLock guards the seal state and everything created at unseal.
	stateLock sync.RWMutex
	sealed    bool
	// activeCtx is cancelled on seal.
	activeCtx    context.Context
	activeCancel context.CancelFunc

	policies *policy.Store
	tokens   *token.Store
	leases   *lease.Manager
	quotas   *quota.Manager
	audit    *audit.Broker
	stats    *report.Stats
	sys      logical.Backend

	// mountLock serialises mount table changes.
	mountLock sync.Mutex
	mounts    []*router.MountEntry
	auths     []*router.MountEntry

	unsealLock sync.Mutex
	unseal     *unsealProgress
	rootGen    *rootGenState
	rekey      *rekeyState

	clusterID string
	bgWG      sync.WaitGroup

	ha haState
	// lifeCtx ends at Shutdown; it bounds the HA and join loops.
	lifeCtx    context.Context
	lifeCancel context.CancelFunc
	// migrations remembers finished mount moves for sys/remount/status.
	migrations sync.Map
	// quotaView lets metrics scrapes read quota usage without the state lock.
	quotaView atomic.Pointer[quota.Manager]

	// sealCache is the stored seal configuration as read while this node
	// is active, and sealGen counts writes of it (see seal.go).
	sealCache atomic.Pointer[sealCacheEntry]
	sealGen   atomic.Uint64
}

// New returns a sealed Core over the physical storage.
func New(conf Config) (*Core, error) {
	if conf.Physical == nil {
		return nil, fmt.Errorf("core: no physical storage")
	}
	if conf.Logger == nil {
		conf.Logger = slog.Default()
	}
	if conf.Now == nil {
		conf.Now = time.Now
	}
	if conf.DefaultLeaseTTL == 0 {
		conf.DefaultLeaseTTL = 768 * time.Hour
	}
	if conf.MaxLeaseTTL == 0 {
		conf.MaxLeaseTTL = 768 * time.Hour
	}
	if conf.ClusterName == "" {
		conf.ClusterName = "coffer-cluster-" + randomHex(4)
	}
	c := &Core{
		conf:    conf,
		logger:  conf.Logger,
		phys:    conf.Physical,
		barrier: barrier.New(conf.Physical),
		router:  router.New(),
		now:     conf.Now,
		sealed:  true,
	}
	c.lifeCtx, c.lifeCancel = context.WithCancel(context.Background())
	if conf.Metrics != nil {
		if err := conf.Metrics.Registerer().Register(newQuotaCollector(c)); err != nil {
			return nil, fmt.Errorf("register quota metrics: %w", err)
		}
	}
	if conf.Raft != nil {
		c.bgWG.Add(1)
		go c.haLoop(c.lifeCtx)
	}
	return c, nil
}

// Sealed reports whether the core is sealed.
func (c *Core) Sealed() bool {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	return c.sealed
}

// Initialized reports whether the storage holds an initialised barrier,
// or a join to an initialised cluster is waiting for the unseal keys.
func (c *Core) Initialized(ctx context.Context) (bool, error) {
	if _, ok := c.cachedSealConfig(); ok {
		return true, nil
	}
	if c.joinPending() {
		return true, nil
	}
	return c.barrier.Initialized(ctx)
}

// StorageType is the configured storage type.
func (c *Core) StorageType() string { return c.conf.StorageType }

// ClusterName returns the configured or generated cluster name.
func (c *Core) ClusterName() string { return c.conf.ClusterName }

// ClusterID returns the cluster's persistent ID (empty while sealed).
func (c *Core) ClusterID() string {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	return c.clusterID
}

// APIAddr returns the advertised API address.
func (c *Core) APIAddr() string {
	if p := c.ha.apiAddr.Load(); p != nil {
		return *p
	}
	return c.conf.APIAddr
}

// SetAPIAddr replaces the advertised API address (once a listener on
// port 0 knows its real port).
func (c *Core) SetAPIAddr(addr string) { c.ha.apiAddr.Store(&addr) }

// Logger returns the core's logger.
func (c *Core) Logger() *slog.Logger { return c.logger }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func randomUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:16])
	return string(out[:])
}

// RequestID returns a new request ID (a UUID).
func RequestID() string { return randomUUID() }
