package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// SocketFactory creates a socket device. Options: address (required),
// socket_type ("tcp", "udp" or "unix"; default "tcp"), write_timeout
// (default "2s"), plus the shared format options. The connection is made
// on first use; a failed write closes it, reconnects and retries once.
func SocketFactory(ctx context.Context, conf *DeviceConfig) (Device, error) {
	return newDevice(conf, func(conf *DeviceConfig) (sink, error) { return newSocketSink(conf) })
}

type socketSink struct {
	network string
	address string
	timeout time.Duration
	logger  *slog.Logger

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

func newSocketSink(conf *DeviceConfig) (*socketSink, error) {
	addr, err := requireOption(conf, "address")
	if err != nil {
		return nil, err
	}
	network := conf.Options["socket_type"]
	switch network {
	case "":
		network = "tcp"
	case "tcp", "udp", "unix":
	default:
		return nil, fmt.Errorf("invalid socket_type %q (supported: tcp, udp, unix)", network)
	}
	timeout := 2 * time.Second
	if raw := conf.Options["write_timeout"]; raw != "" {
		d, err := framework.ParseDurationSecond(raw)
		if err != nil {
			return nil, fmt.Errorf("invalid write_timeout %q: %w", raw, err)
		}
		if d > 0 {
			timeout = d
		}
	}
	return &socketSink{network: network, address: addr, timeout: timeout, logger: loggerOf(conf)}, nil
}

func (s *socketSink) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: s.timeout}
	conn, err := d.DialContext(ctx, s.network, s.address)
	if err != nil {
		return fmt.Errorf("connect to %s %s: %w", s.network, s.address, err)
	}
	s.conn = conn
	return nil
}

func (s *socketSink) writeOnce(ctx context.Context, line []byte) error {
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		return err
	}
	_, err := s.conn.Write(line)
	return err
}

func (s *socketSink) dropConn() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

func (s *socketSink) write(ctx context.Context, line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("audit socket %s: device closed", s.address)
	}
	err := s.writeOnce(ctx, line)
	if err == nil {
		return nil
	}
	s.logger.Warn("audit socket write failed; reconnecting", "address", s.address, "error", err)
	s.dropConn()
	if err2 := s.writeOnce(ctx, line); err2 != nil {
		s.dropConn()
		return fmt.Errorf("write audit line to %s %s: %w", s.network, s.address, errors.Join(err, err2))
	}
	return nil
}

// reload drops the connection; the next write reconnects.
func (s *socketSink) reload(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropConn()
	return nil
}

func (s *socketSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.dropConn()
	return nil
}
