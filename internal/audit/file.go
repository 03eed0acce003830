package audit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// FileFactory creates a file device. Options: file_path (required;
// "stdout" writes to standard output, "discard" drops every line), mode
// (octal, default "0600"; "0000" leaves an existing file's mode alone),
// plus the shared log_raw, hmac_accessor, elide_list_responses, format and
// prefix. The file and its directory are created if missing; the device
// fails to enable when the file cannot be opened for appending.
func FileFactory(ctx context.Context, conf *DeviceConfig) (Device, error) {
	return newDevice(conf, func(conf *DeviceConfig) (sink, error) { return newFileSink(conf) })
}

type fileSink struct {
	path   string
	mode   os.FileMode // 0: keep the existing file's mode
	logger *slog.Logger

	mu     sync.Mutex
	f      *os.File
	w      io.Writer // os.Stdout or io.Discard for the special paths
	closed bool
}

func newFileSink(conf *DeviceConfig) (*fileSink, error) {
	path, err := requireOption(conf, "file_path")
	if err != nil {
		return nil, err
	}
	s := &fileSink{path: path, mode: 0o600, logger: loggerOf(conf)}
	if raw := conf.Options["mode"]; raw != "" {
		m, err := strconv.ParseUint(raw, 8, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid mode %q: %w", raw, err)
		}
		s.mode = os.FileMode(m)
	}
	switch path {
	case "stdout":
		s.w = os.Stdout
		return s, nil
	case "discard":
		s.w = io.Discard
		return s, nil
	}
	// Open now so a bad path is reported when the device is enabled,
	// not on the first request.
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("sanity check failed; unable to open %q for writing: %w", path, err)
	}
	return s, nil
}

// open opens the file for appending; s.mu must be held (or s unshared).
func (s *fileSink) open() error {
	if s.f != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("create directory for %q: %w", s.path, err)
	}
	perm := s.mode
	if perm == 0 {
		perm = 0o600
	}
	f, err := os.OpenFile(s.path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, perm)
	if err != nil {
		return err
	}
	// Enforce the mode on existing regular files too (never on devices
	// such as /dev/null).
	if s.mode != 0 {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() != s.mode.Perm() {
			if err := f.Chmod(s.mode); err != nil {
				f.Close()
				return fmt.Errorf("chmod %q: %w", s.path, err)
			}
		}
	}
	s.f = f
	return nil
}

// write appends one line. Lines are written with a single call under the
// mutex, so concurrent events never interleave. On failure the file is
// reopened once and the line retried.
func (s *fileSink) write(_ context.Context, line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("audit file %q: device closed", s.path)
	}
	if s.w != nil {
		if _, err := s.w.Write(line); err != nil {
			return fmt.Errorf("write audit line to %s: %w", s.path, err)
		}
		return nil
	}
	if s.f != nil {
		_, err := s.f.Write(line)
		if err == nil {
			return nil
		}
		s.logger.Warn("audit file write failed; reopening", "path", s.path, "error", err)
		s.f.Close()
		s.f = nil
	}
	if err := s.open(); err != nil {
		return fmt.Errorf("open audit file %q: %w", s.path, err)
	}
	if _, err := s.f.Write(line); err != nil {
		s.f.Close()
		s.f = nil
		return fmt.Errorf("write audit file %q: %w", s.path, err)
	}
	return nil
}

// reload closes and reopens the file, following a rename by logrotate.
func (s *fileSink) reload(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil || s.closed {
		return nil
	}
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			s.logger.Warn("closing audit file before reopen", "path", s.path, "error", err)
		}
		s.f = nil
	}
	if err := s.open(); err != nil {
		return fmt.Errorf("reopen audit file %q: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("close audit file %q: %w", s.path, err)
	}
	return nil
}
