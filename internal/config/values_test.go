package config

import (
	"testing"
	"time"
)

func TestParseBool(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"", false, false},
		{"true", true, false},
		{"1", true, false},
		{"TRUE", true, false},
		{"0", false, false},
		{"false", false, false},
		{"yes", false, true},
	}
	for _, tt := range tests {
		got, err := parseBool(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseBool(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{768 * time.Hour, "768h"},
		{90 * time.Minute, "1h30m"},
		{90 * time.Second, "1m30s"},
		{45 * time.Second, "45s"},
		{2 * time.Minute, "2m"},
	}
	for _, tt := range tests {
		if got := fmtDuration(tt.in); got != tt.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestValueForms checks the value spellings Vault configurations use in
// the wild for booleans, integers and durations.
func TestValueForms(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		check func(*Config) bool
	}{
		{"tls_disable string", `listener "tcp" { tls_disable = "true" }`, func(c *Config) bool { return c.Listeners[1].TLSDisable }},
		{"tls_disable number", `listener "tcp" { tls_disable = 1 }`, func(c *Config) bool { return c.Listeners[1].TLSDisable }},
		{"tls_disable zero", `listener "tcp" {` + "\n" + `tls_disable = 0` + "\n" + `tls_cert_file = "c"` + "\n" + `tls_key_file = "k" }`, func(c *Config) bool { return !c.Listeners[1].TLSDisable }},
		{"max_request_size string", `listener "tcp" {` + "\n" + `tls_disable = 1` + "\n" + `max_request_size = "1024" }`, func(c *Config) bool { return c.Listeners[1].MaxRequestSize == 1024 }},
		{"max_request_size zero is default", `listener "tcp" {` + "\n" + `tls_disable = 1` + "\n" + `max_request_size = 0 }`, func(c *Config) bool { return c.Listeners[1].MaxRequestSize == DefaultMaxRequestSize }},
		{"max_request_size unlimited", `listener "tcp" {` + "\n" + `tls_disable = 1` + "\n" + `max_request_size = -1 }`, func(c *Config) bool { return c.Listeners[1].MaxRequestSize == -1 }},
		{"ttl seconds", `max_lease_ttl = 7200`, func(c *Config) bool { return c.MaxLeaseTTL == 2*time.Hour && c.DefaultLeaseTTL == 2*time.Hour }},
		{"ttl days", `max_lease_ttl = "90d"`, func(c *Config) bool { return c.MaxLeaseTTL == 90*24*time.Hour && c.DefaultLeaseTTL == DefaultLeaseTTL }},
		{"ttl float seconds", `default_lease_ttl = 1.5`, func(c *Config) bool { return c.DefaultLeaseTTL == 1500*time.Millisecond }},
		{"ui string", `ui = "1"`, func(c *Config) bool { return c.UI }},
		{"log level case", `log_level = " Trace "`, func(c *Config) bool { return c.LogLevel == "trace" }},
		{"node_id number", `storage "raft" { path = "/d"` + "\n" + `node_id = 7 }`, func(c *Config) bool { return c.Storage.NodeID == "7" }},
		{"seal values as strings", `seal "transit" {` + "\n" + `disable_renewal = true` + "\n" + `retries = 3 }`, func(c *Config) bool {
			s := c.ActiveSeal()
			return s.Options["disable_renewal"] == "true" && s.Options["retries"] == "3"
		}},
		{"plugin_directory accepted", `plugin_directory = "/plugins"`, func(c *Config) bool { return true }},
		{"audit default path", `audit "socket" { address = "127.0.0.1:9000" }`, func(c *Config) bool {
			return c.Audits[0].Path == "socket/" && c.Audits[0].Options["address"] == "127.0.0.1:9000"
		}},
		{"audit path normalised", `audit "file" { path = "/logs/main" }`, func(c *Config) bool { return c.Audits[0].Path == "logs/main/" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "listener \"tcp\" { tls_disable = true }\n" + tt.extra + "\n"
			if tt.name != "node_id number" {
				text = "storage \"inmem\" {}\n" + text
			}
			c, err := Parse("v.hcl", text)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected result: %+v", c)
			}
		})
	}
}
