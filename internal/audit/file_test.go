package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestFileDeviceConcurrentLines(t *testing.T) {
	d, path := newFileDevice(t, nil, NewSalt("s"))
	ctx := context.Background()
	const workers, perWorker = 50, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				in := kvWriteInput()
				in.Request.ID = fmt.Sprintf("w%d-%d", w, i)
				var err error
				if i%2 == 0 {
					err = d.LogRequest(ctx, in)
				} else {
					err = d.LogResponse(ctx, in)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != workers*perWorker {
		t.Fatalf("got %d lines, want %d", len(lines), workers*perWorker)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		m := decode(t, l)
		id := field(t, m, "request", "id").(string)
		key := id + "/" + m["type"].(string)
		if seen[key] {
			t.Fatalf("duplicate event %s", key)
		}
		seen[key] = true
	}
}

func TestFileDeviceReloadAfterRename(t *testing.T) {
	d, path := newFileDevice(t, nil, nil)
	ctx := context.Background()
	if err := d.LogRequest(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	// Before the reload, lines still go to the renamed file.
	if err := d.LogRequest(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := d.LogResponse(ctx, credsInput()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(readLines(t, rotated)); n != 2 {
		t.Errorf("rotated file has %d lines, want 2", n)
	}
	if n := len(readLines(t, path)); n != 3 {
		t.Errorf("new file has %d lines, want 3", n)
	}
}

func TestFileDeviceFailsWhenDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	before, err := os.Stat("/dev/full")
	if err != nil {
		t.Fatal(err)
	}
	d, err := FileFactory(context.Background(), &DeviceConfig{Options: map[string]string{"file_path": "/dev/full"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.LogRequest(context.Background(), credsInput()); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("write to a full device: err = %v", err)
	}
	after, _ := os.Stat("/dev/full")
	if before.Mode() != after.Mode() {
		t.Errorf("the device's mode changed from %v to %v", before.Mode(), after.Mode())
	}
}

func TestFileDeviceFailsWhenPathBlocked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "audit.log")
	d, err := FileFactory(context.Background(), &DeviceConfig{Options: map[string]string{"file_path": path}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.LogRequest(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	// Replace the directory with a regular file: the path can no longer
	// be created, so reopening (on SIGHUP) and every later write fail.
	if err := os.RemoveAll(filepath.Join(dir, "logs")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(ctx); err == nil {
		t.Fatal("reload onto a blocked path succeeded")
	}
	if err := d.LogRequest(ctx, credsInput()); err == nil {
		t.Fatal("write to a blocked path succeeded")
	}
}

func TestFileDeviceOptions(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		opts    map[string]string
		wantErr string
	}{
		{"missing file_path", map[string]string{}, "file_path is required"},
		{"bad mode", map[string]string{"file_path": filepath.Join(dir, "a.log"), "mode": "rw"}, "invalid mode"},
		{"bad format", map[string]string{"file_path": filepath.Join(dir, "b.log"), "format": "xml"}, "unknown format"},
		{"uncreatable path", map[string]string{"file_path": "/dev/null/audit.log"}, "unable to open"},
		{"stdout", map[string]string{"file_path": "stdout"}, ""},
		{"discard", map[string]string{"file_path": "discard"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := FileFactory(context.Background(), &DeviceConfig{Options: tc.opts})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if tc.opts["file_path"] == "discard" {
				if err := d.LogRequest(context.Background(), credsInput()); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFileDeviceMode(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		mode     string
		existing os.FileMode // 0: file does not exist yet
		want     os.FileMode
	}{
		{"", 0, 0o600},
		{"0640", 0, 0o640},
		{"0644", 0o600, 0o644},
		{"0000", 0o604, 0o604},
	}
	for i, tc := range cases {
		path := filepath.Join(dir, "sub", fmt.Sprintf("audit%d.log", i))
		if tc.existing != 0 {
			os.MkdirAll(filepath.Dir(path), 0o700)
			if err := os.WriteFile(path, nil, tc.existing); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tc.existing)
		}
		opts := map[string]string{"file_path": path}
		if tc.mode != "" {
			opts["mode"] = tc.mode
		}
		d, err := FileFactory(context.Background(), &DeviceConfig{Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tc.want {
			t.Errorf("mode %q over %v: got %v, want %v", tc.mode, tc.existing, fi.Mode().Perm(), tc.want)
		}
	}
}

func TestFileDeviceClosedRefusesWrites(t *testing.T) {
	d, path := newFileDevice(t, nil, nil)
	d.Close()
	if err := d.LogRequest(context.Background(), credsInput()); err == nil {
		t.Fatal("closed device accepted a write")
	}
	if n := len(readLines(t, path)); n != 0 {
		t.Errorf("closed device wrote %d lines", n)
	}
}
