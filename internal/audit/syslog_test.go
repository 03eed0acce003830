package audit

import (
	"context"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSyslogDevice(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dial := func(p syslog.Priority, tag string) (*syslog.Writer, error) {
		return syslog.Dial("unixgram", sock, p, tag)
	}
	salt := NewSalt("sys")
	d, err := newSyslogDevice(&DeviceConfig{Salt: salt, Options: map[string]string{"facility": "local3", "tag": "coffer-audit"}}, dial)
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
	msg := string(buf[:n])
	// local3 (19) * 8 + info (6) = 158.
	if !strings.HasPrefix(msg, "<158>") {
		t.Errorf("priority: %q", msg[:10])
	}
	if !strings.Contains(msg, "coffer-audit[") {
		t.Errorf("tag missing: %q", msg)
	}
	i := strings.Index(msg, "{")
	if i < 0 {
		t.Fatalf("no JSON in %q", msg)
	}
	m := decode(t, []byte(strings.TrimSpace(msg[i:])))
	if got := field(t, m, "request", "client_token"); got != salt.HMAC(testToken) {
		t.Errorf("client_token = %v", got)
	}
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSyslogDeviceOptionsAndMissingDaemon(t *testing.T) {
	never := func(syslog.Priority, string) (*syslog.Writer, error) {
		t.Fatal("dialed despite bad options")
		return nil, nil
	}
	if _, err := newSyslogDevice(&DeviceConfig{Options: map[string]string{"facility": "LOCAL9"}}, never); err == nil ||
		!strings.Contains(err.Error(), "invalid syslog facility") {
		t.Errorf("bad facility: err = %v", err)
	}
	for _, p := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
		if _, err := os.Stat(p); err == nil {
			t.Skip("a local syslog daemon socket exists")
		}
	}
	_, err := SyslogFactory(context.Background(), &DeviceConfig{Options: map[string]string{}})
	if err == nil || !strings.Contains(err.Error(), "local syslog daemon") {
		t.Errorf("without a daemon: err = %v", err)
	}
}
