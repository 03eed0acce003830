package audit

import (
	"context"
	"fmt"
	"log/syslog"
	"strings"
)

// defaultSyslogTag is the program name syslog records for audit lines.
const defaultSyslogTag = "coffer"

// syslogDialer connects a syslog writer; the factory uses the local
// daemon, tests point it at their own socket.
type syslogDialer func(p syslog.Priority, tag string) (*syslog.Writer, error)

// SyslogFactory creates a syslog device writing to the local syslog
// daemon at severity info. Options: facility (default "AUTH"), tag
// (default "coffer"), plus the shared format options. Enabling fails if
// no local syslog daemon accepts the connection.
func SyslogFactory(ctx context.Context, conf *DeviceConfig) (Device, error) {
	return newSyslogDevice(conf, syslog.New)
}

func newSyslogDevice(conf *DeviceConfig, dial syslogDialer) (Device, error) {
	return newDevice(conf, func(conf *DeviceConfig) (sink, error) {
		facility, err := syslogFacility(conf.Options["facility"])
		if err != nil {
			return nil, err
		}
		tag := conf.Options["tag"]
		if tag == "" {
			tag = defaultSyslogTag
		}
		w, err := dial(facility|syslog.LOG_INFO, tag)
		if err != nil {
			return nil, fmt.Errorf("connect to the local syslog daemon: %w", err)
		}
		return &syslogSink{w: w}, nil
	})
}

var syslogFacilities = map[string]syslog.Priority{
	"KERN": syslog.LOG_KERN, "USER": syslog.LOG_USER, "MAIL": syslog.LOG_MAIL,
	"DAEMON": syslog.LOG_DAEMON, "AUTH": syslog.LOG_AUTH, "SYSLOG": syslog.LOG_SYSLOG,
	"LPR": syslog.LOG_LPR, "NEWS": syslog.LOG_NEWS, "UUCP": syslog.LOG_UUCP,
	"CRON": syslog.LOG_CRON, "AUTHPRIV": syslog.LOG_AUTHPRIV, "FTP": syslog.LOG_FTP,
	"LOCAL0": syslog.LOG_LOCAL0, "LOCAL1": syslog.LOG_LOCAL1, "LOCAL2": syslog.LOG_LOCAL2,
	"LOCAL3": syslog.LOG_LOCAL3, "LOCAL4": syslog.LOG_LOCAL4, "LOCAL5": syslog.LOG_LOCAL5,
	"LOCAL6": syslog.LOG_LOCAL6, "LOCAL7": syslog.LOG_LOCAL7,
}

func syslogFacility(name string) (syslog.Priority, error) {
	if name == "" {
		return syslog.LOG_AUTH, nil
	}
	p, ok := syslogFacilities[strings.ToUpper(name)]
	if !ok {
		return 0, fmt.Errorf("invalid syslog facility %q", name)
	}
	return p, nil
}

// syslogSink writes through log/syslog, which serialises writes and
// reconnects by itself when the daemon restarts.
type syslogSink struct {
	w *syslog.Writer
}

func (s *syslogSink) write(_ context.Context, line []byte) error {
	if _, err := s.w.Write(line); err != nil {
		return fmt.Errorf("write audit line to syslog: %w", err)
	}
	return nil
}

func (s *syslogSink) reload(context.Context) error { return nil }

func (s *syslogSink) close() error { return s.w.Close() }
