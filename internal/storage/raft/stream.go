package raft

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// handshakeTimeout bounds a cluster TLS handshake.
const handshakeTimeout = 10 * time.Second

// clusterListener serves the cluster port: it completes each TLS
// handshake and hands the connection to the queue of its ALPN protocol,
// raft's transport or request forwarding.
type clusterListener struct {
	ln      net.Listener
	tls     *clusterTLS
	logger  *slog.Logger
	raft    *connQueue
	forward *connQueue

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newClusterListener(bind string, advertise net.Addr, t *clusterTLS, logger *slog.Logger) (*clusterListener, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	l := &clusterListener{ln: ln, tls: t, logger: logger, done: make(chan struct{})}
	l.raft = newConnQueue(advertise, l.done, l.Close)
	// Closing the forwarding side (its HTTP server stopping) leaves the
	// port to raft; the backend closes the listener itself.
	l.forward = newConnQueue(advertise, l.done, nil)
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

func (l *clusterListener) serve() {
	defer l.wg.Done()
	cfg := l.tls.serverConfig()
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			l.logger.Error("cluster listener stopped", "error", err)
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.dispatch(tls.Server(conn, cfg))
		}()
	}
}

func (l *clusterListener) dispatch(conn *tls.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		l.logger.Debug("cluster TLS handshake failed", "remote", conn.RemoteAddr().String(), "error", err)
		conn.Close()
		return
	}
	var q *connQueue
	var out net.Conn = conn
	switch conn.ConnectionState().NegotiatedProtocol {
	case alpnRaft:
		q = l.raft
	case alpnForward:
		// net/http closes TLS connections whose ALPN protocol it has no
		// handler for; served as a plain connection, the TLS state
		// reaches requests through the connection context instead.
		q, out = l.forward, &forwardConn{Conn: conn, state: conn.ConnectionState()}
	default:
		conn.Close()
		return
	}
	select {
	case q.ch <- out:
	case <-l.done:
		conn.Close()
	case <-q.stop:
		conn.Close()
	}
}

// Close stops accepting; connections already handed out stay open.
func (l *clusterListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.ln.Close()
	})
	return err
}

// forwardConn is an established cluster connection for forwarding.
type forwardConn struct {
	net.Conn
	state tls.ConnectionState
}

// connQueue is a net.Listener fed by the cluster listener.
type connQueue struct {
	ch   chan net.Conn
	addr net.Addr
	done <-chan struct{}
	// also runs on Close (closing the whole listener, for raft's side).
	also      func() error
	stop      chan struct{}
	closeOnce sync.Once
}

func newConnQueue(addr net.Addr, done <-chan struct{}, also func() error) *connQueue {
	return &connQueue{ch: make(chan net.Conn), addr: addr, done: done, also: also, stop: make(chan struct{})}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	case <-q.stop:
		return nil, net.ErrClosed
	}
}

// Close stops Accept; raft's side also closes the cluster listener.
func (q *connQueue) Close() error {
	q.closeOnce.Do(func() { close(q.stop) })
	if q.also != nil {
		return q.also()
	}
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// streamLayer carries raft's transport over the cluster port.
type streamLayer struct {
	*connQueue
	tls *clusterTLS
}

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialCluster(context.Background(), s.tls, string(address), alpnRaft, timeout)
}

// dialCluster opens a mutually authenticated connection to a peer's
// cluster port for one protocol.
func dialCluster(ctx context.Context, t *clusterTLS, addr, proto string, timeout time.Duration) (net.Conn, error) {
	cfg, err := t.clientConfig(proto)
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	d := &tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster connection to %s: %w", addr, err)
	}
	tc := conn.(*tls.Conn)
	if got := tc.ConnectionState().NegotiatedProtocol; got != proto {
		conn.Close()
		return nil, fmt.Errorf("cluster connection to %s: peer does not speak %s", addr, proto)
	}
	return conn, nil
}

var (
	_ raft.StreamLayer = (*streamLayer)(nil)
	_ net.Listener     = (*connQueue)(nil)
)
