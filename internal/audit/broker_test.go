package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func enableFile(t *testing.T, b *Broker, path string, opts map[string]string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "audit.log")
	o := map[string]string{"file_path": file}
	for k, v := range opts {
		o[k] = v
	}
	if err := b.Enable(context.Background(), path, "file", "test device", o, false); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestBrokerPersistenceAndStableHashes(t *testing.T) {
	ctx := context.Background()
	view := logical.NewInmemStorage()
	b := NewBroker(view, nil)
	if b.Enabled() {
		t.Fatal("new broker enabled")
	}
	file := enableFile(t, b, "file", nil)
	enableFile(t, b, "/second/", map[string]string{"log_raw": "true"})
	h1, err := b.Hash(ctx, "file", testToken)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := b.Hash(ctx, "second/", testToken)
	if h1 == h2 {
		t.Error("two devices share a salt")
	}
	if err := b.LogRequest(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Enabled() {
		t.Error("closed broker still enabled")
	}

	// A new broker over the same storage (restart / unseal).
	b2 := NewBroker(view, nil)
	if err := b2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	list := b2.List()
	if len(list) != 2 || list[0].Path != "file/" || list[1].Path != "second/" {
		t.Fatalf("list after load: %+v", list)
	}
	if list[0].Type != "file" || list[0].Description != "test device" || list[0].Options["file_path"] != file ||
		list[0].UUID == "" || !strings.HasPrefix(list[0].Accessor, "audit_file_") {
		t.Errorf("entry after load: %+v", list[0])
	}
	again, err := b2.Hash(ctx, "file/", testToken)
	if err != nil || again != h1 {
		t.Errorf("hash after restart = %q, %v; want %q", again, err, h1)
	}
	if err := b2.LogResponse(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, file)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2", len(lines))
	}
	for _, l := range lines {
		if got := field(t, decode(t, l), "auth", "client_token"); got != h1 {
			t.Errorf("logged token %v, want %v", got, h1)
		}
	}

	// Disable removes the device and its salt.
	if err := b2.Disable(ctx, "file"); err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Hash(ctx, "file", "x"); err == nil {
		t.Error("hash of a disabled device")
	}
	keys, _ := logical.CollectKeys(ctx, view, saltPrefix)
	if len(keys) != 1 {
		t.Errorf("salts left after disable: %v", keys)
	}
	b3 := NewBroker(view, nil)
	if err := b3.Load(ctx); err != nil {
		t.Fatal(err)
	}
	defer b3.Close()
	if l := b3.List(); len(l) != 1 || l[0].Path != "second/" {
		t.Errorf("after disable and reload: %+v", l)
	}
}

func TestBrokerEnableErrors(t *testing.T) {
	b := NewBroker(logical.NewInmemStorage(), nil)
	defer b.Close()
	enableFile(t, b, "file/", nil)
	cases := []struct {
		path, typ string
		opts      map[string]string
		wantErr   string
	}{
		{"", "file", nil, "backend path must be specified"},
		{"file", "file", map[string]string{"file_path": "discard"}, "path already in use"},
		{"file/nested", "file", map[string]string{"file_path": "discard"}, "path already in use"},
		{"other", "kafka", nil, `unknown backend type: "kafka"`},
		{"other", "file", nil, "file_path is required"},
		{"other", "file", map[string]string{"file_path": "discard", "format": "csv"}, "unknown format type"},
	}
	for _, tc := range cases {
		err := b.Enable(context.Background(), tc.path, tc.typ, "", tc.opts, false)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, logical.ErrInvalidRequest) {
			t.Errorf("Enable(%q, %q, %v): err = %v, want a 400 with %q", tc.path, tc.typ, tc.opts, err, tc.wantErr)
		}
	}
	if n := len(b.List()); n != 1 {
		t.Errorf("failed enables changed the table: %d entries", n)
	}
	if err := b.Disable(context.Background(), "never-enabled"); err != nil {
		t.Errorf("disabling an unknown path: %v", err)
	}
}

func TestBrokerFailClosed(t *testing.T) {
	ctx := context.Background()
	t.Run("no devices: nothing to audit", func(t *testing.T) {
		b := NewBroker(logical.NewInmemStorage(), nil)
		if err := b.LogRequest(ctx, credsInput()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the only device cannot write", func(t *testing.T) {
		b := NewBroker(logical.NewInmemStorage(), nil)
		defer b.Close()
		if err := b.Enable(ctx, "full", "file", "", map[string]string{"file_path": "/dev/full"}, false); err != nil {
			t.Fatal(err)
		}
		err := b.LogRequest(ctx, credsInput())
		if !errors.Is(err, ErrNotAudited) || !strings.Contains(err.Error(), "full/") {
			t.Fatalf("LogRequest err = %v, want ErrNotAudited naming the device", err)
		}
		if err := b.LogResponse(ctx, credsInput()); !errors.Is(err, ErrNotAudited) {
			t.Fatalf("LogResponse err = %v", err)
		}
		if s := b.Stats(); s.RequestFailures != 1 || s.ResponseFailures != 1 || s.Requests != 0 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("file replaced by an unwritable path, then reload", func(t *testing.T) {
		b := NewBroker(logical.NewInmemStorage(), nil)
		defer b.Close()
		dir := t.TempDir()
		if err := b.Enable(ctx, "file", "file", "", map[string]string{"file_path": filepath.Join(dir, "d", "audit.log")}, false); err != nil {
			t.Fatal(err)
		}
		if err := b.LogRequest(ctx, credsInput()); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(filepath.Join(dir, "d"))
		os.WriteFile(filepath.Join(dir, "d"), nil, 0o600)
		if err := b.Reload(ctx); err == nil {
			t.Error("reload onto a blocked path succeeded")
		}
		if err := b.LogRequest(ctx, credsInput()); !errors.Is(err, ErrNotAudited) {
			t.Fatalf("err = %v, want ErrNotAudited", err)
		}
	})
	t.Run("one of two devices fails: still audited", func(t *testing.T) {
		b := NewBroker(logical.NewInmemStorage(), nil)
		defer b.Close()
		if err := b.Enable(ctx, "full", "file", "", map[string]string{"file_path": "/dev/full"}, false); err != nil {
			t.Fatal(err)
		}
		file := enableFile(t, b, "good", nil)
		if err := b.LogRequest(ctx, credsInput()); err != nil {
			t.Fatalf("one device wrote, yet err = %v", err)
		}
		if n := len(readLines(t, file)); n != 1 {
			t.Errorf("good device has %d lines", n)
		}
		if s := b.Stats(); s.Requests != 1 || s.RequestFailures != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestBrokerLoad(t *testing.T) {
	ctx := context.Background()
	view := logical.NewInmemStorage()
	b := NewBroker(view, nil)
	dir := t.TempDir()
	if err := b.Enable(ctx, "a", "file", "", map[string]string{"file_path": filepath.Join(dir, "a", "audit.log")}, false); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// The device's path became unusable while sealed: Load refuses to run
	// unaudited.
	os.RemoveAll(filepath.Join(dir, "a"))
	os.WriteFile(filepath.Join(dir, "a"), nil, 0o600)
	b2 := NewBroker(view, nil)
	if err := b2.Load(ctx); err == nil {
		t.Fatal("Load succeeded with no usable device")
	}

	// With a second, working device Load succeeds; the broken one is kept
	// in the table and events still need the working one.
	os.Remove(filepath.Join(dir, "a"))
	b3 := NewBroker(view, nil)
	if err := b3.Load(ctx); err != nil {
		t.Fatal(err)
	}
	file := enableFile(t, b3, "b", nil)
	b3.Close()
	os.RemoveAll(filepath.Join(dir, "a"))
	os.WriteFile(filepath.Join(dir, "a"), nil, 0o600)
	b4 := NewBroker(view, nil)
	if err := b4.Load(ctx); err != nil {
		t.Fatal(err)
	}
	defer b4.Close()
	if n := len(b4.List()); n != 2 {
		t.Errorf("table has %d entries", n)
	}
	if err := b4.LogRequest(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, file)); n != 1 {
		t.Errorf("working device has %d lines", n)
	}

	// Load on an empty view is a no-op.
	empty := NewBroker(logical.NewInmemStorage(), nil)
	if err := empty.Load(ctx); err != nil || empty.Enabled() {
		t.Errorf("empty load: %v, enabled %v", err, empty.Enabled())
	}
}
