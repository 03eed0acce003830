package config

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// TestGolden parses every testdata/*.hcl and *.json file and compares the
// result with the matching .golden file (regenerate with -update).
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	jsonInputs, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, jsonInputs...)
	if len(inputs) < 5 {
		t.Fatalf("found only %d golden inputs", len(inputs))
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			cfg, err := LoadFiles(in)
			if err != nil {
				t.Fatalf("LoadFiles: %v", err)
			}
			got := render(t, cfg)
			golden := strings.TrimSuffix(in, filepath.Ext(in)) + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s; got:\n%s", in, golden, got)
			}
		})
	}
}

// render prints a Config as indented JSON in field order, with durations
// written as Go duration strings so the golden files stay readable.
func render(t *testing.T, cfg *Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	writeValue(&buf, reflect.ValueOf(cfg), "")
	buf.WriteByte('\n')
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("rendered config is not JSON:\n%s", buf.Bytes())
	}
	return buf.Bytes()
}

func writeValue(buf *bytes.Buffer, v reflect.Value, indent string) {
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		writeJSON(buf, time.Duration(v.Int()).String())
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			buf.WriteString("null")
			return
		}
		writeValue(buf, v.Elem(), indent)
	case reflect.Struct:
		buf.WriteString("{")
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				buf.WriteString(",")
			}
			buf.WriteString("\n" + indent + "  ")
			writeJSON(buf, v.Type().Field(i).Name)
			buf.WriteString(": ")
			writeValue(buf, v.Field(i), indent+"  ")
		}
		buf.WriteString("\n" + indent + "}")
	case reflect.Slice:
		if v.Len() == 0 {
			buf.WriteString("[]")
			return
		}
		buf.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				buf.WriteString(",")
			}
			buf.WriteString("\n" + indent + "  ")
			writeValue(buf, v.Index(i), indent+"  ")
		}
		buf.WriteString("\n" + indent + "]")
	case reflect.Map:
		// encoding/json sorts map keys.
		b, _ := json.MarshalIndent(v.Interface(), indent, "  ")
		buf.Write(b)
	default:
		writeJSON(buf, v.Interface())
	}
}

func writeJSON(buf *bytes.Buffer, v any) {
	b, _ := json.Marshal(v)
	buf.Write(b)
}

func TestProductionExample(t *testing.T) {
	cfg, err := LoadFiles("testdata/production.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Type != StorageRaft || cfg.Storage.Path != "/opt/vault/data" || cfg.Storage.NodeID != "vault-1" {
		t.Errorf("storage = %+v", cfg.Storage)
	}
	if len(cfg.Storage.RetryJoin) != 2 || cfg.Storage.RetryJoin[1].LeaderAPIAddr != "https://vault-3.corp.local:8200" {
		t.Errorf("retry_join = %+v", cfg.Storage.RetryJoin)
	}
	if len(cfg.Listeners) != 1 {
		t.Fatalf("listeners = %d", len(cfg.Listeners))
	}
	l := cfg.Listeners[0]
	if l.TLSDisable || l.TLSCertFile != "/opt/vault/tls/vault-cert.pem" || l.TLSMinVersionValue() != tls.VersionTLS12 {
		t.Errorf("listener = %+v", l)
	}
	if s := cfg.ActiveSeal(); s.Type != SealAWSKMS || s.Options["kms_key_id"] != "alias/vault-unseal-key" {
		t.Errorf("active seal = %+v", s)
	}
	if cfg.MigrationSeal() != nil {
		t.Errorf("unexpected migration seal %+v", cfg.MigrationSeal())
	}
	if cfg.Telemetry == nil || cfg.Telemetry.PrometheusRetentionTime != 24*time.Hour || !cfg.Telemetry.DisableHostname {
		t.Errorf("telemetry = %+v", cfg.Telemetry)
	}
	if !cfg.UI || cfg.DefaultLeaseTTL != 768*time.Hour || cfg.MaxLeaseTTL != 768*time.Hour {
		t.Errorf("ui=%v ttl=%v/%v", cfg.UI, cfg.DefaultLeaseTTL, cfg.MaxLeaseTTL)
	}
}

// TestJSONMatchesHCL checks that the JSON form decodes to the same Config
// as the equivalent HCL.
func TestJSONMatchesHCL(t *testing.T) {
	const hclText = `
storage "raft" {
  path = "/data"
  retry_join { leader_api_addr = "https://a:8200" }
  retry_join { leader_api_addr = "https://b:8200" }
}
listener "tcp" { tls_disable = true }
listener "tcp" {
  address = "0.0.0.0:9200"
  tls_cert_file = "c"
  tls_key_file = "k"
  telemetry { unauthenticated_metrics_access = true }
}
seal "transit" { address = "https://t:8200" }
seal "shamir" { disabled = "true" }
audit "file" "stdout" { options { file_path = "stdout" } }
audit "syslog" { tag = "coffer" }
telemetry { disable_hostname = true }
max_lease_ttl = "48h"
`
	const jsonText = `{
  "storage": {"raft": {"path": "/data", "retry_join": [{"leader_api_addr": "https://a:8200"}, {"leader_api_addr": "https://b:8200"}]}},
  "listener": [
    {"tcp": {"tls_disable": true}},
    {"tcp": {"address": "0.0.0.0:9200", "tls_cert_file": "c", "tls_key_file": "k", "telemetry": {"unauthenticated_metrics_access": true}}}
  ],
  "seal": [{"transit": {"address": "https://t:8200"}}, {"shamir": {"disabled": "true"}}],
  "audit": [{"file": {"stdout": {"options": {"file_path": "stdout"}}}}, {"syslog": {"tag": "coffer"}}],
  "telemetry": {"disable_hostname": true},
  "max_lease_ttl": "48h"
}`
	fromHCL, err := Parse("c.hcl", hclText)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Parse("c.hcl", jsonText)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := render(t, fromHCL), render(t, fromJSON); !bytes.Equal(a, b) {
		t.Errorf("HCL and JSON differ:\nHCL:\n%s\nJSON:\n%s", a, b)
	}
	if len(fromJSON.Audits) != 2 || fromJSON.Audits[0].Path != "stdout/" || fromJSON.Audits[1].Path != "syslog/" {
		t.Errorf("audits = %+v", fromJSON.Audits)
	}
}

func TestSealSelection(t *testing.T) {
	tests := []struct {
		name          string
		seals         string
		active        string
		migrationFrom string
	}{
		{"no seal is shamir", "", SealShamir, ""},
		{"one auto seal", `seal "awskms" { region = "x" }`, SealAWSKMS, ""},
		{"shamir to auto", `seal "transit" {}` + "\n" + `seal "shamir" { disabled = true }`, SealTransit, SealShamir},
		{"auto to shamir", `seal "awskms" { disabled = "true" }`, SealShamir, SealAWSKMS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("seal.hcl", "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = 1 }\n"+tt.seals)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.ActiveSeal().Type; got != tt.active {
				t.Errorf("active = %q, want %q", got, tt.active)
			}
			got := ""
			if m := cfg.MigrationSeal(); m != nil {
				got = m.Type
			}
			if got != tt.migrationFrom {
				t.Errorf("migration from %q, want %q", got, tt.migrationFrom)
			}
		})
	}
}

func TestTLSVersionValues(t *testing.T) {
	tests := []struct {
		min, max         string
		wantMin, wantMax uint16
	}{
		{"", "", tls.VersionTLS12, tls.VersionTLS13},
		{"tls12", "tls12", tls.VersionTLS12, tls.VersionTLS12},
		{"tls13", "", tls.VersionTLS13, tls.VersionTLS13},
	}
	for _, tt := range tests {
		l := &Listener{TLSMinVersion: tt.min, TLSMaxVersion: tt.max}
		if got := l.TLSMinVersionValue(); got != tt.wantMin {
			t.Errorf("min %q: got %#x, want %#x", tt.min, got, tt.wantMin)
		}
		if got := l.TLSMaxVersionValue(); got != tt.wantMax {
			t.Errorf("max %q: got %#x, want %#x", tt.max, got, tt.wantMax)
		}
	}
}

func TestDevConfig(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"", "127.0.0.1:8200"},
		{"0.0.0.0:8201", "0.0.0.0:8201"},
	}
	for _, tt := range tests {
		cfg := DevConfig(tt.addr)
		if cfg.Storage == nil || cfg.Storage.Type != StorageInmem {
			t.Fatalf("storage = %+v", cfg.Storage)
		}
		if len(cfg.Listeners) != 1 || cfg.Listeners[0].Address != tt.want || !cfg.Listeners[0].TLSDisable {
			t.Errorf("listener = %+v", cfg.Listeners[0])
		}
		if !cfg.DisableMlock || !cfg.UI || cfg.ActiveSeal().Type != SealShamir {
			t.Errorf("dev config = %+v", cfg)
		}
		if cfg.DefaultLeaseTTL != DefaultLeaseTTL || cfg.Listeners[0].MaxRequestSize != DefaultMaxRequestSize {
			t.Errorf("defaults not applied: %+v", cfg)
		}
	}
}
