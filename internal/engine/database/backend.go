// Package database is the database secrets engine: short-lived users on
// PostgreSQL and MySQL/MariaDB with Vault's API (config, roles, creds,
// static roles, rotate-root, reset), plus Coffer's promise that a revoked
// user is really gone: every revocation is verified on the server and,
// when the role's statements fail or leave the user behind, a safe
// fallback cleanup removes it (counted in Stats and logged). Users are
// created only after a write-ahead record is stored, so a crash between
// creating a user and storing its lease is rolled back.
//
// Drivers implement dbplugin.Driver in the postgres and mysql
// subpackages; this package picks one by plugin_name.
package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/engine/database/template"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Factory creates a database secrets engine for a mount.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	if conf == nil || conf.System == nil {
		return nil, errors.New("database: the backend needs a system view")
	}
	return newBackend(conf), nil
}

// Backend is the database secrets engine. It embeds the framework backend
// that routes its path table.
type Backend struct {
	*framework.Backend

	logger *slog.Logger
	system logical.SystemView
	now    func() time.Time

	mu    sync.Mutex
	conns map[string]*dbConn

	// staticLocks serialise rotations of one static role.
	staticLocks [64]sync.Mutex

	stats counters
	creds *framework.Secret

	// churnWarningTTL: role writes with a shorter default_ttl get a warning
	// (mount option churn_warning_ttl, default 60s; 0 turns it off).
	churnWarningTTL time.Duration
}

// defaultChurnWarningTTL is the default_ttl below which a role write warns.
const defaultChurnWarningTTL = 60 * time.Second

// Stats are the engine's counters since the mount was loaded.
type Stats struct {
	// CredsIssued counts dynamic users created.
	CredsIssued uint64
	// CredsRevoked counts dynamic users removed by revocation.
	CredsRevoked uint64
	// RevocationFallbacks counts revocations whose statements failed or
	// left the user in place, so that the safe cleanup removed it.
	RevocationFallbacks uint64
	// RevocationFailures counts revocations that returned an error (the
	// user still existed or the database was unreachable).
	RevocationFailures uint64
	// SessionsTerminated counts live sessions ended by revocations.
	SessionsTerminated uint64
	// RollbackUsersRemoved counts user creations undone by write-ahead
	// rollback (the server stopped before the lease was stored); each time
	// the user is verified gone.
	RollbackUsersRemoved uint64
	// StaticRotations and RootRotations count password rotations.
	StaticRotations uint64
	RootRotations   uint64
}

type counters struct {
	credsIssued, credsRevoked, fallbacks, failures, sessions, rollbacks, staticRotations, rootRotations atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (b *Backend) Stats() Stats {
	c := &b.stats
	return Stats{
		CredsIssued: c.credsIssued.Load(), CredsRevoked: c.credsRevoked.Load(),
		RevocationFallbacks: c.fallbacks.Load(), RevocationFailures: c.failures.Load(),
		SessionsTerminated: c.sessions.Load(), RollbackUsersRemoved: c.rollbacks.Load(),
		StaticRotations: c.staticRotations.Load(), RootRotations: c.rootRotations.Load(),
	}
}

func newBackend(conf *logical.BackendConfig) *Backend {
	logger := conf.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &Backend{
		logger:          logger,
		system:          conf.System,
		now:             time.Now,
		conns:           map[string]*dbConn{},
		churnWarningTTL: defaultChurnWarningTTL,
	}
	if v, ok := conf.Config["churn_warning_ttl"]; ok {
		if d, err := framework.ParseDurationSecond(v); err == nil && d >= 0 {
			b.churnWarningTTL = d
		} else {
			logger.Warn("ignoring invalid mount option churn_warning_ttl; give seconds or a duration such as \"60s\"", "value", v)
		}
	}
	b.creds = b.secretCreds()
	b.Backend = &framework.Backend{
		Help:        backendHelp,
		BackendType: logical.TypeLogical,
		Paths: append(append(append(append(b.configPaths(), b.rolePaths()...), b.credsPaths()...),
			b.staticPaths()...), b.rotateRootPaths()...),
		Secrets: []*framework.Secret{b.creds},
		PathsSpecial: &logical.Paths{
			SealWrapStorage: []string{"config/*", "static-role/*"},
		},
		WALRollback: b.walRollback,
		Clean:       b.closeAll,
	}
	return b
}

// HandleRequest implements logical.Backend. The core's periodic rollback
// request also drives static role rotation, since engines own no timers.
func (b *Backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if req.Operation != logical.RollbackOperation {
		return b.Backend.HandleRequest(ctx, req)
	}
	_, err := b.Backend.HandleRequest(ctx, req)
	return nil, errors.Join(err, b.rotateDueStaticRoles(ctx, req.Storage))
}

// dbConn is the live driver of one connection configuration.
type dbConn struct {
	// mu is held for reading by every use and for writing while the
	// root password is being rotated.
	mu       sync.RWMutex
	name     string
	driver   dbplugin.Driver
	cfg      *dbConfig
	username *template.Template
	maxLen   int
}

// getConn returns the connection for a configuration, creating the driver
// on first use. A missing configuration is a 400.
func (b *Backend) getConn(ctx context.Context, s logical.Storage, name string) (*dbConn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.conns[name]; ok {
		return c, nil
	}
	cfg, err := loadConfig(ctx, s, name)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, logical.InvalidRequest("database configuration %q does not exist", name)
	}
	c, err := openConn(ctx, name, cfg, false)
	if err != nil {
		return nil, fmt.Errorf("database %q: %w", name, err)
	}
	b.conns[name] = c
	return c, nil
}

// openConn creates and initialises a driver for cfg.
func openConn(ctx context.Context, name string, cfg *dbConfig, verify bool) (*dbConn, error) {
	drv, ok := newDriver(cfg.PluginName)
	if !ok {
		return nil, unknownPlugin(cfg.PluginName)
	}
	cc, err := cfg.connectionConfig()
	if err != nil {
		return nil, err
	}
	init, err := drv.Initialize(ctx, dbplugin.InitializeRequest{Config: cc, VerifyConnection: verify})
	if err != nil {
		return nil, dbplugin.Scrub(err, cc.Secrets()...)
	}
	raw := cfg.detailString("username_template")
	if raw == "" {
		raw = init.DefaultUsernameTemplate
	}
	tmpl, err := template.New(raw, template.Options{})
	if err != nil {
		_ = drv.Close()
		return nil, fmt.Errorf("unable to initialize username template: %w", err)
	}
	if _, err := tmpl.Generate(template.Metadata{}); err != nil {
		_ = drv.Close()
		return nil, fmt.Errorf("invalid username template: %w", err)
	}
	return &dbConn{name: name, driver: drv, cfg: cfg, username: tmpl, maxLen: init.MaxUsernameLength}, nil
}

// putConn installs c (nil removes) and closes the connection it replaces.
func (b *Backend) putConn(name string, c *dbConn) {
	b.mu.Lock()
	old := b.conns[name]
	if c == nil {
		delete(b.conns, name)
	} else {
		b.conns[name] = c
	}
	b.mu.Unlock()
	if old != nil && old != c {
		old.close()
	}
}

// close closes the driver; queries in flight finish first.
func (c *dbConn) close() { _ = c.driver.Close() }

func (b *Backend) closeAll(context.Context) {
	b.mu.Lock()
	conns := b.conns
	b.conns = map[string]*dbConn{}
	b.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// scrub removes a configuration's secrets from an error.
func (c *dbConn) scrub(err error) error {
	cc, cerr := c.cfg.connectionConfig()
	if cerr != nil {
		return err
	}
	return dbplugin.Scrub(err, cc.Secrets()...)
}

const backendHelp = `
The database secrets engine generates database credentials dynamically
based on configured roles, and manages the passwords of static roles.

After mounting it, configure a connection with "config/<name>", add roles
with "roles/<name>", and read credentials from "creds/<role>".
`

// Interface guard.
var _ logical.Backend = (*Backend)(nil)
