package audit

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lineServer accepts connections and sends every received line on lines;
// drop closes the current connections.
type lineServer struct {
	ln    net.Listener
	lines chan string
	conns chan net.Conn
}

func startLineServer(t *testing.T, network, addr string) *lineServer {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln, lines: make(chan string, 100), conns: make(chan net.Conn, 10)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
			go func() {
				sc := bufio.NewScanner(c)
				sc.Buffer(make([]byte, 1<<20), 1<<20)
				for sc.Scan() {
					s.lines <- sc.Text()
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *lineServer) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-s.lines:
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no line received")
		return ""
	}
}

func TestSocketDeviceTCP(t *testing.T) {
	srv := startLineServer(t, "tcp", "127.0.0.1:0")
	salt := NewSalt("sock")
	d, err := SocketFactory(context.Background(), &DeviceConfig{Salt: salt, Options: map[string]string{
		"address": srv.ln.Addr().String(), "write_timeout": "1s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.LogRequest(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	m := decode(t, []byte(srv.next(t)))
	if got := field(t, m, "auth", "client_token"); got != salt.HMAC(testToken) {
		t.Errorf("client_token = %v", got)
	}
	if got := field(t, m, "type"); got != "request" {
		t.Errorf("type = %v", got)
	}

	// The server drops the connection; the device reconnects. The first
	// write after a peer close may still be accepted by the kernel, so
	// write until a line arrives on the new connection.
	(<-srv.conns).Close()
	deadline := time.Now().Add(5 * time.Second)
	got := false
	for !got && time.Now().Before(deadline) {
		if err := d.LogResponse(ctx, credsInput()); err != nil {
			t.Fatalf("write after reconnect: %v", err)
		}
		select {
		case l := <-srv.lines:
			got = strings.Contains(l, `"type":"response"`)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !got {
		t.Fatal("no line after the server dropped the connection")
	}
	select {
	case <-srv.conns:
	default:
		t.Error("device did not open a new connection")
	}
}

func TestSocketDeviceUnixAndDown(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "audit.sock")
	srv := startLineServer(t, "unix", sock)
	d, err := SocketFactory(context.Background(), &DeviceConfig{Options: map[string]string{
		"address": sock, "socket_type": "unix", "log_raw": "true",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.LogRequest(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	if l := srv.next(t); !strings.Contains(l, testToken) {
		t.Errorf("raw line lacks the token: %s", l)
	}
	// Listener gone: connecting fails, so the write fails.
	srv.ln.Close()
	(<-srv.conns).Close()
	var lastErr error
	for i := 0; i < 20 && lastErr == nil; i++ {
		lastErr = d.LogRequest(ctx, credsInput())
	}
	if lastErr == nil {
		t.Fatal("writes kept succeeding with the socket down")
	}
}

func TestSocketDeviceOptions(t *testing.T) {
	cases := []struct {
		opts    map[string]string
		wantErr string
	}{
		{map[string]string{}, "address is required"},
		{map[string]string{"address": "x", "socket_type": "sctp"}, "invalid socket_type"},
		{map[string]string{"address": "x", "write_timeout": "soon"}, "invalid write_timeout"},
	}
	for _, tc := range cases {
		_, err := SocketFactory(context.Background(), &DeviceConfig{Options: tc.opts})
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("options %v: err = %v, want %q", tc.opts, err, tc.wantErr)
		}
	}
}

func TestSocketDeviceUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	d, err := SocketFactory(context.Background(), &DeviceConfig{Options: map[string]string{
		"address": pc.LocalAddr().String(), "socket_type": "udp",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.LogRequest(context.Background(), credsInput()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if m := decode(t, buf[:n]); m["type"] != "request" {
		t.Errorf("datagram %s", buf[:n])
	}
}
