// Package testserver starts a real server in-process on a loopback
// listener with TLS, initialised and unsealed, for integration tests that
// drive it through github.com/hashicorp/vault/api, the CLI or any client.
package testserver

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/server"
)

// Options configure a test server.
type Options struct {
	// DataDir puts raft storage there; "" uses in-memory storage.
	DataDir string
	// NoTLS serves plain HTTP.
	NoTLS bool
	// Shares and Threshold for init; default 1 and 1.
	Shares, Threshold int
	// DefaultLeaseTTL and MaxLeaseTTL; defaults 768h.
	DefaultLeaseTTL, MaxLeaseTTL time.Duration
	// LeaseOptions tune the lease manager (short backoff in tests).
	LeaseOptions lease.Options
	// NoDevMounts skips mounting KV v2 at secret/.
	NoDevMounts bool
	// NoInit leaves the server uninitialised and sealed.
	NoInit bool
	// UI serves the web console under /ui/.
	UI bool
	// Seals are seal blocks, as in the configuration file (auto-unseal,
	// migration).
	Seals []*config.Seal
	// Telemetry enables metrics (sys/metrics).
	Telemetry *config.Telemetry
	// NodeID is the raft node ID (default "node1").
	NodeID string
	// ClusterAddr is the cluster port (raft storage); empty picks a free
	// loopback port, kept across restarts.
	ClusterAddr string
	// RetryJoin makes the node join these leaders at start instead of
	// being initialised (raft storage).
	RetryJoin []*config.RetryJoin
}

// Server is a running test server.
type Server struct {
	// Addr is the base URL, e.g. "https://127.0.0.1:41234".
	Addr       string
	RootToken  string
	UnsealKeys []string // hex
	// RecoveryKeys are the recovery shares of an auto-unseal seal (hex).
	RecoveryKeys []string
	Client       *api.Client
	CACertFile   string
	TLS          TLSFiles
	Server       *server.Server

	t       testing.TB
	retry   bool
	clients []*api.Client
	cfg     *config.Config
	opts    Options
	keys    [][]byte
}

func logger() *slog.Logger {
	if os.Getenv("COFFER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Start starts, initialises and unseals a server; it is shut down when
// the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Shares == 0 {
		opts.Shares, opts.Threshold = 1, 1
	}
	dir := t.TempDir()
	s := &Server{t: t, opts: opts}
	cfg := &config.Config{
		DisableMlock:    true,
		DefaultLeaseTTL: opts.DefaultLeaseTTL,
		MaxLeaseTTL:     opts.MaxLeaseTTL,
		LogLevel:        "info",
	}
	if cfg.DefaultLeaseTTL == 0 {
		cfg.DefaultLeaseTTL = 768 * time.Hour
	}
	if cfg.MaxLeaseTTL == 0 {
		cfg.MaxLeaseTTL = 768 * time.Hour
	}
	if opts.DataDir != "" {
		if opts.NodeID == "" {
			opts.NodeID = "node1"
		}
		if opts.ClusterAddr == "" {
			opts.ClusterAddr = FreeAddr(t)
		}
		cfg.Storage = &config.Storage{Type: config.StorageRaft, Path: opts.DataDir, NodeID: opts.NodeID, RetryJoin: opts.RetryJoin}
		s.opts = opts
	} else {
		cfg.Storage = &config.Storage{Type: config.StorageInmem}
	}
	l := &config.Listener{Type: "tcp", Address: "127.0.0.1:0", ClusterAddress: opts.ClusterAddr, TLSDisable: opts.NoTLS, MaxRequestSize: config.DefaultMaxRequestSize}
	if !opts.NoTLS {
		s.TLS = WriteTLSFiles(t, dir)
		l.TLSCertFile, l.TLSKeyFile = s.TLS.CertFile, s.TLS.KeyFile
		s.CACertFile = s.TLS.CAFile
	}
	cfg.Listeners = []*config.Listener{l}
	cfg.Seals = opts.Seals
	cfg.Telemetry = opts.Telemetry
	cfg.UI = opts.UI
	s.cfg = cfg
	s.start(!opts.NoInit && len(opts.RetryJoin) == 0)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(init bool) {
	t := s.t
	t.Helper()
	ctx := context.Background()
	srv, err := server.New(ctx, s.cfg, server.Options{Logger: logger(), FastRaft: true, LeaseOptions: s.opts.LeaseOptions})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv.StartAutoUnseal()
	s.Server = srv
	s.Addr = srv.URL()
	// Restarts keep the same port so clients keep working.
	s.cfg.Listeners[0].Address = strings.TrimPrefix(strings.TrimPrefix(s.Addr, "https://"), "http://")
	if init {
		var res *server.InitResult
		res, err = srv.InitAndUnseal(ctx, s.opts.Shares, s.opts.Threshold, "")
		if err == nil && !s.opts.NoDevMounts {
			err = srv.MountDevKV(ctx)
		}
		if err != nil {
			t.Fatalf("init: %v", err)
		}
		s.RootToken, s.keys = res.RootToken, res.Keys
		s.UnsealKeys = make([]string, len(res.Keys))
		for i, k := range res.Keys {
			s.UnsealKeys[i] = hex.EncodeToString(k)
		}
		for _, k := range res.RecoveryKeys {
			s.RecoveryKeys = append(s.RecoveryKeys, hex.EncodeToString(k))
		}
	} else if len(s.keys) > 0 {
		if err := srv.Unseal(ctx, s.keys[:s.opts.Threshold]); err != nil {
			t.Fatalf("unseal after restart: %v", err)
		}
	}
	s.Client = s.NewClient(s.RootToken)
}

// NewClient returns a vault/api client for this server with the token.
func (s *Server) NewClient(token string) *api.Client {
	s.t.Helper()
	conf := api.DefaultConfig()
	conf.Address = s.Addr
	conf.MaxRetries = 0
	if s.retry {
		// Cluster clients retry 5xx answers, as Vault clients do by
		// default: leadership may move while the test runs.
		conf.MaxRetries, conf.MinRetryWait, conf.MaxRetryWait = 8, 25*time.Millisecond, 250*time.Millisecond
	}
	if s.CACertFile != "" {
		if err := conf.ConfigureTLS(&api.TLSConfig{CACert: s.CACertFile}); err != nil {
			s.t.Fatal(err)
		}
	}
	c, err := api.NewClient(conf)
	if err != nil {
		s.t.Fatal(err)
	}
	c.SetToken(token)
	s.clients = append(s.clients, c)
	return c
}

// Restart shuts the server down gracefully and starts it again on the same
// storage and address, then unseals it with the saved keys.
func (s *Server) Restart() {
	s.t.Helper()
	if s.opts.DataDir == "" {
		s.t.Fatal("Restart needs Options.DataDir (in-memory data does not survive)")
	}
	s.Stop()
	s.start(false)
	if a := s.cfg.ActiveSeal(); a != nil && a.Type != config.SealShamir {
		s.WaitUnsealed(10 * time.Second)
	}
}

// WaitUnsealed waits until the server is unsealed (auto-unseal runs in the
// background) and fails the test after d.
func (s *Server) WaitUnsealed(d time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for s.Server.Core.Sealed() {
		if time.Now().After(deadline) {
			s.t.Fatalf("server still sealed after %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RestartSealed restarts without unsealing.
func (s *Server) RestartSealed() {
	s.t.Helper()
	s.Stop()
	keys := s.keys
	s.keys = nil
	s.start(false)
	s.keys = keys
}

// SetKeys records unseal keys obtained outside Start (after a manual
// init or a rekey) so Restart can use them.
func (s *Server) SetKeys(keys [][]byte, threshold int, rootToken string) {
	s.keys, s.opts.Threshold, s.RootToken = keys, threshold, rootToken
}

// Kill stops the server at once, like a crash: storage closes first and
// nothing is shut down gracefully. Restart starts it again.
func (s *Server) Kill() {
	if s.Server == nil {
		return
	}
	for _, c := range s.clients {
		c.CloneConfig().HttpClient.CloseIdleConnections()
	}
	s.clients = nil
	s.Server.Kill()
	s.Server = nil
}

// Stop shuts the server down; calling it twice is fine.
func (s *Server) Stop() {
	if s.Server == nil {
		return
	}
	// Closing the clients' idle connections first lets the server's
	// graceful shutdown finish without waiting for HTTP/2 clients to go.
	for _, c := range s.clients {
		c.CloneConfig().HttpClient.CloseIdleConnections()
	}
	s.clients = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Server.Shutdown(ctx)
	s.Server = nil
}

// DataFiles lists the files under the raft data directory.
func (s *Server) DataFiles() []string {
	var out []string
	_ = filepath.Walk(s.opts.DataDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// SetSeals replaces the seal blocks used by the next restart (seal
// migrations).
func (s *Server) SetSeals(seals []*config.Seal) { s.cfg.Seals = seals }
