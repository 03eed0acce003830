// Package server assembles a running server from a configuration: storage,
// core, HTTP API and listeners. The `server` command and the in-process
// test server both use it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/builtin"
	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/core"
	"github.com/coffer-dev/coffer/internal/httpapi"
	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/seal"
	"github.com/coffer-dev/coffer/internal/storage"
	"github.com/coffer-dev/coffer/internal/storage/inmem"
	"github.com/coffer-dev/coffer/internal/storage/raft"
	"github.com/coffer-dev/coffer/internal/ui"
	"github.com/coffer-dev/coffer/internal/version"
)

// Options tune assembly beyond the configuration file.
type Options struct {
	Logger *slog.Logger
	// FastRaft shortens raft timeouts (tests).
	FastRaft bool
	// LeaseOptions tune the lease manager (tests shorten backoff).
	LeaseOptions lease.Options
}

// Server is an assembled server.
type Server struct {
	Config *config.Config
	Core   *core.Core
	logger *slog.Logger

	store  storage.Backend
	closer io.Closer

	mu        sync.Mutex
	listeners []*listener
	wg        sync.WaitGroup

	seal       seal.Seal
	stopUnseal context.CancelFunc
	metrics    *metrics.Metrics
	// raft is set with raft storage.
	raft *raft.Backend
}

type listener struct {
	conf *config.Listener
	ln   net.Listener
	srv  *http.Server
	cert atomic.Pointer[tls.Certificate]
}

// New opens storage and creates the (sealed) core.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{Config: cfg, logger: logger}
	if cfg.Storage == nil {
		return nil, fmt.Errorf("no storage configured: add a storage \"raft\" { path = \"...\" } block")
	}
	switch cfg.Storage.Type {
	case config.StorageInmem:
		s.store = inmem.New()
	case config.StorageRaft:
		bind, advertise, err := clusterAddrs(cfg)
		if err != nil {
			return nil, err
		}
		tuning, err := raftTuning(cfg.Storage.Options)
		if err != nil {
			return nil, err
		}
		rb, err := raft.Open(ctx, raft.Options{
			TrailingLogs:      tuning.TrailingLogs,
			SnapshotThreshold: tuning.SnapshotThreshold,
			SnapshotInterval:  tuning.SnapshotInterval,
			Path:              cfg.Storage.Path,
			NodeID:            cfg.Storage.NodeID,
			ClusterAddr:       bind,
			AdvertiseAddr:     advertise,
			ClusterTLS:        true,
			DeferBootstrap:    true,
			Version:           version.Full(),
			Logger:            logger.With("component", "raft"),
			FastElection:      opts.FastRaft,
		})
		if err != nil {
			return nil, fmt.Errorf("open raft storage at %s: %w", cfg.Storage.Path, err)
		}
		s.store, s.closer, s.raft = rb, rb, rb
	default:
		return nil, fmt.Errorf("unsupported storage type %q; accepted: raft, inmem", cfg.Storage.Type)
	}
	apiAddr := cfg.APIAddr
	if apiAddr == "" && len(cfg.Listeners) > 0 {
		scheme := "https"
		if cfg.Listeners[0].TLSDisable {
			scheme = "http"
		}
		apiAddr = scheme + "://" + cfg.Listeners[0].Address
	}
	activeSeal, migrationSeal, err := seals(cfg, logger)
	if err != nil {
		s.closeStorage()
		return nil, err
	}
	s.seal = activeSeal
	var audits []core.AuditDevice
	for _, a := range cfg.Audits {
		audits = append(audits, core.AuditDevice{Type: a.Type, Path: a.Path, Description: a.Description, Options: a.Options})
	}
	var m *metrics.Metrics
	if t := cfg.Telemetry; t != nil {
		m = metrics.New(metrics.Options{DisableHostname: t.DisableHostname, RetentionTime: t.PrometheusRetentionTime, ClusterName: cfg.ClusterName})
	}
	s.metrics = m
	cc := core.Config{
		Metrics:         m,
		AuditDevices:    audits,
		Seal:            activeSeal,
		MigrationSeal:   migrationSeal,
		Physical:        s.store,
		StorageType:     cfg.Storage.Type,
		Logger:          logger,
		DefaultLeaseTTL: cfg.DefaultLeaseTTL,
		MaxLeaseTTL:     cfg.MaxLeaseTTL,
		Engines:         builtin.Engines(),
		AuthMethods:     builtin.AuthMethods(),
		ClusterName:     cfg.ClusterName,
		APIAddr:         apiAddr,
		LeaseOptions:    opts.LeaseOptions,
		Raft:            s.raft,
		HAStatus:        s.haStatus,
	}
	if opts.FastRaft {
		cc.JoinRetryInterval = 200 * time.Millisecond
	}
	c, err := core.New(cc)
	if err != nil {
		s.closeStorage()
		return nil, err
	}
	s.Core = c
	if s.raft != nil {
		s.raft.ServeForwarded(httpapi.ForwardedHandler(s.apiHandler(firstListener(cfg))))
	}
	return s, nil
}

func (s *Server) closeStorage() {
	if s.closer != nil {
		if err := s.closer.Close(); err != nil {
			s.logger.Warn("closing storage", "error", err)
		}
	}
}

// StartAutoUnseal unseals through the configured auto-unseal seal in the
// background, retrying while the seal's service is unreachable.
func (s *Server) StartAutoUnseal() {
	if s.seal == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopUnseal = cancel
	s.wg.Add(1)
	go s.autoUnsealLoop(ctx)
}

// Listen opens every configured listener and starts serving.
func (s *Server) Listen() error {
	for _, lc := range s.Config.Listeners {
		l := &listener{conf: lc}
		ln, err := net.Listen("tcp", lc.Address)
		if err != nil {
			s.stopListeners(context.Background())
			return fmt.Errorf("listener %s: %w", lc.Address, err)
		}
		if !lc.TLSDisable {
			if err := l.loadCert(); err != nil {
				ln.Close()
				s.stopListeners(context.Background())
				return err
			}
			tcfg := &tls.Config{
				MinVersion: lc.TLSMinVersionValue(),
				MaxVersion: lc.TLSMaxVersionValue(),
				GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
					return l.cert.Load(), nil
				},
				NextProtos: []string{"h2", "http/1.1"},
			}
			ln = tls.NewListener(ln, tcfg)
		}
		l.ln = ln
		l.srv = &http.Server{
			Handler:           s.apiHandler(lc),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, l)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.logger.Error("listener stopped", "address", lc.Address, "error", err)
			}
		}()
	}
	if s.Config.APIAddr == "" && len(s.Config.Listeners) > 0 {
		// With port 0 only now is the real address known.
		s.Core.SetAPIAddr(s.URL())
	}
	return s.startRetryJoin()
}

// apiHandler is the HTTP API for a listener's settings.
func (s *Server) apiHandler(lc *config.Listener) http.Handler {
	opts := httpapi.Options{
		Logger:    s.logger,
		Version:   version.Full(),
		BuildDate: version.BuildDate,
		HAEnabled: s.Config.Storage.Type == config.StorageRaft,
		UI:        ui.HandlerIf(s.Config.UI),
	}
	if lc != nil {
		opts.MaxRequestSize = lc.MaxRequestSize
		opts.UnauthenticatedMetrics = lc.UnauthenticatedMetricsAccess
	}
	if s.raft != nil {
		opts.Forward = s.raft.ForwardTransport()
	}
	return httpapi.New(s.Core, opts)
}

func firstListener(cfg *config.Config) *config.Listener {
	if len(cfg.Listeners) == 0 {
		return nil
	}
	return cfg.Listeners[0]
}

func (l *listener) loadCert() error {
	cert, err := tls.LoadX509KeyPair(l.conf.TLSCertFile, l.conf.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("listener %s: load TLS certificate %s and key %s: %w", l.conf.Address, l.conf.TLSCertFile, l.conf.TLSKeyFile, err)
	}
	l.cert.Store(&cert)
	return nil
}

// Addrs returns the listeners' actual addresses (useful with port 0).
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.ln.Addr().String()
	}
	return out
}

// URL returns the first listener's base URL.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) == 0 {
		return ""
	}
	l := s.listeners[0]
	scheme := "https"
	if l.conf.TLSDisable {
		scheme = "http"
	}
	addr := l.ln.Addr().String()
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "::" || host == "0.0.0.0" || host == "") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return scheme + "://" + addr
}

// Reload is what SIGHUP does: listeners re-read their TLS certificates and
// file audit devices reopen their files (log rotation).
func (s *Server) Reload(ctx context.Context) error {
	var errs []string
	if err := s.ReloadTLS(); err != nil {
		errs = append(errs, err.Error())
	}
	if err := s.Core.ReloadAudit(ctx); err != nil {
		errs = append(errs, "audit: "+err.Error())
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// ReloadTLS re-reads every listener's certificate and key (SIGHUP). A
// listener whose new files fail to load keeps its current certificate.
func (s *Server) ReloadTLS() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []string
	for _, l := range s.listeners {
		if l.conf.TLSDisable {
			continue
		}
		if err := l.loadCert(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func (s *Server) stopListeners(ctx context.Context) {
	s.mu.Lock()
	ls := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range ls {
		if err := l.srv.Shutdown(ctx); err != nil {
			l.srv.Close()
		}
	}
	s.wg.Wait()
}

// Shutdown stops listeners (letting in-flight requests finish), seals the
// core and closes storage.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.stopUnseal != nil {
		s.stopUnseal()
	}
	s.stopListeners(ctx)
	err := s.Core.Shutdown(ctx)
	s.closeStorage()
	if c, ok := s.seal.(interface{ Close() }); ok {
		c.Close()
	}
	return err
}

// Kill closes everything at once, without waiting (crash-like stop for
// tests): storage goes first, so nothing the core does while stopping
// reaches the cluster.
func (s *Server) Kill() {
	s.closeStorage()
	s.mu.Lock()
	ls := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range ls {
		l.srv.Close()
	}
	if s.stopUnseal != nil {
		s.stopUnseal()
	}
	_ = s.Core.Shutdown(context.Background())
}

// raftTuning reads trailing_logs, snapshot_threshold and snapshot_interval
// from the raft storage options (the configuration has checked their
// syntax).
func raftTuning(opts map[string]string) (raft.Options, error) {
	var o raft.Options
	for key, dst := range map[string]*uint64{"trailing_logs": &o.TrailingLogs, "snapshot_threshold": &o.SnapshotThreshold} {
		if v, ok := opts[key]; ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 {
				return o, fmt.Errorf("storage \"raft\": %s must be a positive whole number, got %q", key, v)
			}
			*dst = n
		}
	}
	if v, ok := opts["snapshot_interval"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("storage \"raft\": snapshot_interval must be a positive duration, got %q", v)
		}
		o.SnapshotInterval = d
	}
	return o, nil
}
