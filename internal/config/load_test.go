package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFiles creates files (name -> content) under a fresh directory and
// returns the directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDirectoryMerges(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"10-storage.hcl": `storage "raft" { path = "/data" }
api_addr = "https://first.example.com:8200"
ui = true
log_level = "debug"
max_lease_ttl = "100h"
`,
		"20-listeners.json": `{"listener": {"tcp": {"address": "0.0.0.0:8200", "tls_disable": true}},
 "seal": {"awskms": {"region": "us-east-1"}}}`,
		"30-override.hcl": `api_addr = "https://second.example.com:8200"
ui = false
listener "tcp" {
  address = "127.0.0.1:8300"
  tls_disable = true
}
seal "shamir" { disabled = true }
audit "file" { file_path = "/var/log/audit.log" }
telemetry { disable_hostname = true }
`,
		// Not configuration: skipped.
		"notes.txt":         "not hcl",
		"40-broken.hcl~":    "garbage {",
		".#50-lock.hcl":     "garbage {",
		"sub/60-nested.hcl": "garbage {",
	})
	cfg, err := LoadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{
		filepath.Join(dir, "10-storage.hcl"),
		filepath.Join(dir, "20-listeners.json"),
		filepath.Join(dir, "30-override.hcl"),
	}
	if !reflect.DeepEqual(cfg.Files, wantFiles) {
		t.Errorf("files = %q, want %q", cfg.Files, wantFiles)
	}
	if cfg.APIAddr != "https://second.example.com:8200" {
		t.Errorf("api_addr = %q; a later file must override", cfg.APIAddr)
	}
	if cfg.UI {
		t.Errorf("ui still true; a later file must override")
	}
	if cfg.LogLevel != "debug" || cfg.MaxLeaseTTL != 100*time.Hour {
		t.Errorf("settings of the first file lost: %q %v", cfg.LogLevel, cfg.MaxLeaseTTL)
	}
	if len(cfg.Listeners) != 2 || cfg.Listeners[0].Address != "0.0.0.0:8200" || cfg.Listeners[1].Address != "127.0.0.1:8300" {
		t.Errorf("listeners not appended in order: %+v", cfg.Listeners)
	}
	if cfg.ActiveSeal().Type != SealAWSKMS || cfg.MigrationSeal() == nil || cfg.MigrationSeal().Type != SealShamir {
		t.Errorf("seals = %+v", cfg.Seals)
	}
	if len(cfg.Audits) != 1 || cfg.Telemetry == nil || !cfg.Telemetry.DisableHostname {
		t.Errorf("audits %+v telemetry %+v", cfg.Audits, cfg.Telemetry)
	}
}

func TestLoadSeveralPaths(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a/storage.hcl":   `storage "inmem" {}`,
		"b.hcl":           `listener "tcp" { tls_disable = true }`,
		"c/telemetry.hcl": "telemetry { usage_gauge_period = \"1m\" }\nui = true",
	})
	cfg, err := LoadFiles(filepath.Join(dir, "a"), filepath.Join(dir, "b.hcl"), filepath.Join(dir, "c"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Type != StorageInmem || len(cfg.Listeners) != 1 || !cfg.UI || cfg.Telemetry.UsageGaugePeriod != time.Minute {
		t.Errorf("merged config = %+v", cfg)
	}
	if len(cfg.Files) != 3 {
		t.Errorf("files = %q", cfg.Files)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.hcl":         "storage \"raft\" {\n  path = \"/data\"\n}\nlistener \"tcp\" { tls_disable = true }",
		"b.hcl":         "\nstorage \"inmem\" {}",
		"listener.hcl":  `listener "tcp" { tls_disable = true }`,
		"ui.hcl":        `ui = true`,
		"bad.hcl":       "ui = \"maybe\"",
		"seal1.hcl":     `seal "awskms" {}`,
		"seal2.hcl":     `seal "transit" {}`,
		"empty/README":  "nothing here",
		"ttl/a.hcl":     "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\ndefault_lease_ttl = \"10h\"",
		"ttl/b.hcl":     "\n\nmax_lease_ttl = \"5h\"",
		"syntax/a.hcl":  "storage \"inmem\" {",
		"syntax/b.hcl":  `listener "tcp" { tls_disable = true }`,
		"notanobj.json": `[1, 2]`,
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"storage in two files", []string{p("a.hcl"), p("b.hcl")},
			p("b.hcl") + `:2: storage "inmem": storage is already defined at ` + p("a.hcl") + ":1"},
		{"missing storage names every file", []string{p("listener.hcl"), p("ui.hcl")},
			p("listener.hcl") + ", " + p("ui.hcl") + `: no storage block; add storage "raft" { path = "..." } or storage "inmem" {}`},
		{"error names its file", []string{p("a.hcl"), p("bad.hcl")},
			p("bad.hcl") + `:1: ui: "maybe" is not a boolean`},
		{"seals from two files", []string{p("a.hcl"), p("seal1.hcl"), p("seal2.hcl")},
			p("seal2.hcl") + ":1: two seal blocks are both active; mark the seal being migrated from with disabled = true"},
		{"ttl check after merge", []string{p("ttl")},
			filepath.Join(dir, "ttl", "a.hcl") + ":3: default_lease_ttl (10h) must not exceed max_lease_ttl (5h)"},
		{"syntax error does not hide the file", []string{p("syntax")},
			filepath.Join(dir, "syntax", "a.hcl") + ":1: syntax error: object expected closing RBRACE got: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFiles(tt.paths...)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}

	if _, err := LoadFiles(p("missing.hcl")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
	if _, err := LoadFiles(p("empty")); err == nil || !strings.Contains(err.Error(), "holds no .hcl or .json files") {
		t.Errorf("empty directory: got %v", err)
	}
	if _, err := LoadFiles(); err == nil {
		t.Error("no paths: no error")
	}
	if _, err := LoadFiles(p("notanobj.json")); err == nil {
		t.Error("JSON array accepted as a configuration")
	}
}
