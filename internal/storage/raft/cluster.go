package raft

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// ErrUnknownServer is returned for a server ID that is not in the raft
// configuration.
var ErrUnknownServer = errors.New("no such server in the raft configuration")

// openTransport starts raft's network transport: plain TCP, or with
// ClusterTLS the shared mutual-TLS cluster port.
func (b *Backend) openTransport(opts Options, hlog hclog.Logger) error {
	bind := opts.ClusterAddr
	if bind == "" {
		bind = "127.0.0.1:0"
	}
	var advertise net.Addr
	if opts.AdvertiseAddr != "" {
		a, err := net.ResolveTCPAddr("tcp", opts.AdvertiseAddr)
		if err != nil {
			return fmt.Errorf("cluster advertise address %q: %w", opts.AdvertiseAddr, err)
		}
		advertise = a
	}
	if !opts.ClusterTLS {
		t, err := raft.NewTCPTransportWithLogger(bind, advertise, 3, 10*time.Second, hlog)
		if err != nil {
			return fmt.Errorf("raft transport on %s: %w", bind, err)
		}
		b.transport = t
		return nil
	}
	t, err := loadClusterTLS(filepath.Join(opts.Path, tlsDirName))
	if err != nil {
		return err
	}
	b.tls = t
	l, err := newClusterListener(bind, advertise, t, b.logger)
	if err != nil {
		return fmt.Errorf("cluster listener on %s: %w", bind, err)
	}
	b.cluster = l
	if a, ok := l.raft.Addr().(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		return fmt.Errorf("cluster address %s cannot be dialled by other nodes: set an advertised cluster address", l.raft.Addr())
	}
	b.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &streamLayer{connQueue: l.raft, tls: t},
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hlog,
	})
	b.forwardRT = &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialCluster(ctx, t, addr, alpnForward, handshakeTimeout)
		},
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	}
	return nil
}

// startCluster starts the heartbeats to the leader and, on the leader,
// autopilot.
func (b *Backend) startCluster() {
	ctx, cancel := context.WithCancel(context.Background())
	b.pilot = newAutopilot(b)
	b.httpSrv = &http.Server{
		Handler: b.clusterMux(),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if fc, ok := c.(*forwardConn); ok {
				return context.WithValue(ctx, tlsStateKey{}, &fc.state)
			}
			return ctx
		},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(b.logger.Handler(), slog.LevelDebug),
	}
	b.stop = func() {
		cancel()
		b.httpSrv.Close()
	}
	b.bg.Add(3)
	go func() { defer b.bg.Done(); b.echoLoop(ctx) }()
	go func() { defer b.bg.Done(); b.pilot.run(ctx) }()
	go func() { defer b.bg.Done(); _ = b.httpSrv.Serve(b.cluster.forward) }()
}

// clusterMux serves the cluster port's HTTP side: heartbeats, and every
// other request through the forwarded-request handler.
func (b *Backend) clusterMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/cluster/", b.ClusterHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := b.forwardHandler.Load()
		if h == nil {
			http.Error(w, "this node does not serve forwarded requests yet", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState)
		if st == nil || len(st.PeerCertificates) == 0 {
			http.Error(w, "cluster requests need a node certificate", http.StatusForbidden)
			return
		}
		r.TLS = st
		mux.ServeHTTP(w, r)
	})
}

type tlsStateKey struct{}

// ServeForwarded sets the handler for API requests that other nodes
// forward over the cluster port (HTTP/1.1 over mutual TLS; the peer's
// certificate is in r.TLS). It does nothing without ClusterTLS.
func (b *Backend) ServeForwarded(h http.Handler) {
	b.forwardHandler.Store(&h)
}

// ForwardTransport sends HTTP requests to another node's cluster port
// ("https://<cluster address>/..."). It is nil without ClusterTLS.
func (b *Backend) ForwardTransport() http.RoundTripper {
	if b.forwardRT == nil {
		return nil
	}
	return b.forwardRT
}

// ClusterPublicKey is this node's cluster public key in PEM, for the
// leader to sign a certificate over. It is nil without ClusterTLS.
func (b *Backend) ClusterPublicKey() ([]byte, error) {
	if b.tls == nil {
		return nil, errors.New("cluster TLS is not enabled")
	}
	return publicKeyPEM(&b.tls.key.PublicKey)
}

// InstallClusterCert stores this node's certificate and the cluster CA
// bundle (PEM) in the data directory and uses them from now on.
func (b *Backend) InstallClusterCert(certPEM, caPEM []byte) error {
	if b.tls == nil {
		return errors.New("cluster TLS is not enabled")
	}
	if err := b.tls.install(certPEM, caPEM); err != nil {
		return fmt.Errorf("install cluster certificate: %w", err)
	}
	return nil
}

// ClusterCert returns this node's certificate and CA bundle (PEM); both
// are nil before the node has joined a cluster.
func (b *Backend) ClusterCert() (certPEM, caPEM []byte) {
	if b.tls == nil {
		return nil, nil
	}
	cert, _ := b.tls.current()
	if cert == nil {
		return nil, nil
	}
	b.tls.mu.RLock()
	defer b.tls.mu.RUnlock()
	return certPEMOf(cert), append([]byte(nil), b.tls.caPEM...)
}

// HasState reports whether this node has raft state: it bootstrapped or
// joined a cluster.
func (b *Backend) HasState() (bool, error) {
	ok, err := raft.HasExistingState(b.logStore, b.stable, b.snaps)
	if err != nil {
		return false, fmt.Errorf("raft storage: %w", err)
	}
	return ok, nil
}

// Bootstrap makes a node without raft state the single voter of a new
// cluster and waits until it leads. A node with state is left alone.
func (b *Backend) Bootstrap(ctx context.Context) error {
	has, err := b.HasState()
	if err != nil || has {
		return err
	}
	self := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(b.nodeID), Address: b.transport.LocalAddr()}
	if err := b.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{self}}).Error(); err != nil {
		return fmt.Errorf("raft storage: bootstrap: %w", err)
	}
	b.logger.Info("bootstrapped a single-node raft cluster", "node_id", b.nodeID)
	if err := b.electSelf(ctx); err != nil {
		return fmt.Errorf("raft storage: %w", err)
	}
	return nil
}

// Server is one member of the raft configuration.
type Server struct {
	ID      string
	Address string
	Leader  bool
	Voter   bool
}

// Configuration is the raft membership and the log index that set it.
type Configuration struct {
	Servers []Server
	Index   uint64
}

// Configuration returns the latest raft membership.
func (b *Backend) Configuration() (*Configuration, error) {
	f := b.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raft storage: read configuration: %w", err)
	}
	_, leaderID := b.raft.LeaderWithID()
	out := &Configuration{Index: f.Index()}
	for _, s := range f.Configuration().Servers {
		out.Servers = append(out.Servers, Server{
			ID: string(s.ID), Address: string(s.Address),
			Leader: s.ID == leaderID, Voter: s.Suffrage == raft.Voter,
		})
	}
	return out, nil
}

// AddNonvoter adds (or updates the address of) a server that receives
// the log without voting; autopilot promotes it once it is healthy.
func (b *Backend) AddNonvoter(ctx context.Context, id, addr string) error {
	f := b.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeoutOf(ctx))
	if err := f.Error(); err != nil {
		return applyError(err)
	}
	b.pilot.joined(id)
	return nil
}

// RemoveServer removes a server from the configuration. Removing the
// leader itself is allowed: it steps down and the others elect a leader.
func (b *Backend) RemoveServer(ctx context.Context, id string) error {
	cfg, err := b.Configuration()
	if err != nil {
		return err
	}
	found := false
	for _, s := range cfg.Servers {
		found = found || s.ID == id
	}
	if !found {
		return fmt.Errorf("%w: %q", ErrUnknownServer, id)
	}
	if err := b.raft.RemoveServer(raft.ServerID(id), 0, timeoutOf(ctx)).Error(); err != nil {
		return applyError(err)
	}
	b.logger.Info("removed a server from the raft configuration", "server_id", id)
	return nil
}

// Leader returns the current leader's ID and cluster address; both are
// empty when no leader is known.
func (b *Backend) Leader() (id, addr string) {
	a, i := b.raft.LeaderWithID()
	return string(i), string(a)
}

// WaitApplied waits until every entry committed before the call is
// applied locally. It only succeeds on the leader.
func (b *Backend) WaitApplied(ctx context.Context) error {
	if err := b.raft.Barrier(timeoutOf(ctx)).Error(); err != nil {
		return applyError(err)
	}
	return nil
}

// Indexes returns the raft commit index and the last applied index.
func (b *Backend) Indexes() (committed, applied uint64) {
	return b.raft.CommitIndex(), b.raft.AppliedIndex()
}

// TransferLeadership asks another voter to take over as leader.
func (b *Backend) TransferLeadership() error {
	if err := b.raft.LeadershipTransfer().Error(); err != nil {
		return applyError(err)
	}
	return nil
}

// Voters counts the voters of the latest configuration.
func (b *Backend) Voters() int {
	cfg, err := b.Configuration()
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range cfg.Servers {
		if s.Voter {
			n++
		}
	}
	return n
}
