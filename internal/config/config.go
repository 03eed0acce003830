// Package config reads the server configuration: Vault-style HCL (or its
// JSON form) with storage, listener, seal, telemetry and audit blocks plus
// top-level settings such as api_addr and ui.
//
// The result is a set of plain structs with defaults applied and every
// value validated. Problems are reported with the file, line and key they
// come from, for example
//
//	config.hcl:7: unknown key "listner"
//	config.hcl:3: listener "tcp": tls_min_version "tls10" is not accepted; use "tls12" or "tls13"
//
// Unknown keys are errors everywhere, except inside seal blocks, whose
// keys belong to the seal implementation and are kept as strings.
package config

import (
	"crypto/tls"
	"time"
)

// Defaults applied when a setting is absent.
const (
	// DefaultListenAddress is where a tcp listener binds without an address.
	DefaultListenAddress = "127.0.0.1:8200"
	// DefaultMaxRequestSize is the request body limit in bytes (32 MiB).
	DefaultMaxRequestSize int64 = 32 << 20
	// DefaultMaxRequestDuration bounds the time spent on one request.
	DefaultMaxRequestDuration = 90 * time.Second
	// DefaultLeaseTTL is the system default and maximum lease TTL (32 days).
	DefaultLeaseTTL = 768 * time.Hour
	// DefaultPrometheusRetention applies when a telemetry block omits
	// prometheus_retention_time.
	DefaultPrometheusRetention = 24 * time.Hour
	// DefaultUsageGaugePeriod applies when a telemetry block omits
	// usage_gauge_period.
	DefaultUsageGaugePeriod = 10 * time.Minute
)

// Config is a complete, validated server configuration.
type Config struct {
	// Storage is the physical backend; never nil in a loaded config.
	Storage *Storage
	// Listeners are the API listeners, in the order they were declared.
	Listeners []*Listener
	// Seals holds the declared seal blocks: none (Shamir), one, or two
	// during a seal migration (exactly one of them disabled).
	Seals []*Seal

	// APIAddr is the URL other nodes and clients use to reach this node.
	APIAddr string
	// ClusterAddr is the URL other nodes use for cluster traffic.
	ClusterAddr string
	// ClusterName names the cluster; empty means generate one.
	ClusterName string

	DisableMlock bool
	// UI serves the web UI under /ui.
	UI bool
	// LogLevel is one of trace, debug, info, warn, error (default info).
	LogLevel string
	// LogFormat is standard or json (default standard).
	LogFormat string
	// PidFile, when set, receives the server's process id.
	PidFile string

	// DefaultLeaseTTL and MaxLeaseTTL are the system-wide lease TTLs
	// (both default to 768h; the default never exceeds the maximum).
	DefaultLeaseTTL time.Duration
	MaxLeaseTTL     time.Duration

	// DisableCache turns off the read cache in front of storage.
	DisableCache bool
	// EnableRawEndpoint enables sys/raw (raw_storage_endpoint).
	EnableRawEndpoint bool
	// EnableIntrospectionEndpoint enables sys/internal/inspect
	// (introspection_endpoint).
	EnableIntrospectionEndpoint bool
	// DisablePerformanceStandby is accepted for compatibility.
	DisablePerformanceStandby bool
	// ClusterCipherSuites is the comma-separated cipher suite list for
	// cluster connections, kept as written.
	ClusterCipherSuites string

	// Telemetry is nil when the configuration has no telemetry block.
	Telemetry *Telemetry
	// Audits are declared audit devices, in declaration order.
	Audits []*Audit

	// Files lists the files the configuration was read from, in order.
	Files []string
}

// Storage configures the physical backend.
type Storage struct {
	// Type is "raft" or "inmem".
	Type string
	// Path is the raft data directory.
	Path string
	// NodeID is the raft node id; empty lets the backend choose one.
	NodeID string
	// PerformanceMultiplier scales raft timing (0 means the default).
	PerformanceMultiplier int
	// RetryJoin lists the leaders to try when joining a cluster.
	RetryJoin []*RetryJoin
	// Options holds further raft tuning keys (trailing_logs,
	// snapshot_threshold, ...) as written. Never nil.
	Options map[string]string
}

// RetryJoin is one retry_join block of raft storage.
type RetryJoin struct {
	LeaderAPIAddr        string
	LeaderCACertFile     string
	LeaderClientCertFile string
	LeaderClientKeyFile  string
	LeaderTLSServerName  string
	// LeaderCACert, LeaderClientCert and LeaderClientKey carry PEM inline,
	// as alternatives to the *File settings.
	LeaderCACert     string
	LeaderClientCert string
	LeaderClientKey  string
}

// Listener is one tcp listener.
type Listener struct {
	// Type is always "tcp".
	Type string
	// Address is host:port to bind (default 127.0.0.1:8200).
	Address string
	// ClusterAddress is host:port for cluster traffic; empty means the
	// API port plus one.
	ClusterAddress string

	TLSDisable      bool
	TLSCertFile     string
	TLSKeyFile      string
	TLSClientCAFile string
	// TLSMinVersion is "tls12" (default) or "tls13".
	TLSMinVersion string
	// TLSMaxVersion is "", "tls12" or "tls13"; empty means the newest.
	TLSMaxVersion                 string
	TLSRequireAndVerifyClientCert bool

	// MaxRequestSize limits request bodies in bytes; negative means no
	// limit (default 32 MiB).
	MaxRequestSize int64
	// MaxRequestDuration bounds one request (default 90s).
	MaxRequestDuration time.Duration
	// UnauthenticatedMetricsAccess lets sys/metrics be read without a
	// token (telemetry { unauthenticated_metrics_access = true }).
	UnauthenticatedMetricsAccess bool
}

// Seal is one seal block.
type Seal struct {
	// Type is "shamir", "awskms" or "transit".
	Type string
	// Disabled marks the seal being migrated away from.
	Disabled bool
	// Options holds the seal's own settings as strings. Never nil.
	Options map[string]string
}

// Telemetry is the telemetry block.
type Telemetry struct {
	// PrometheusRetentionTime keeps metrics for Prometheus scrapes; zero
	// disables the Prometheus format (default 24h).
	PrometheusRetentionTime time.Duration
	DisableHostname         bool
	// UsageGaugePeriod is how often usage gauges are computed; zero
	// ("none") turns them off (default 10m).
	UsageGaugePeriod time.Duration
}

// Audit is one declared audit device.
type Audit struct {
	// Type is "file", "syslog" or "socket".
	Type string
	// Path is where the device is mounted, with a trailing slash
	// (default: the type, e.g. "file/").
	Path        string
	Description string
	// Options holds the device settings (file_path, log_raw, ...) as
	// strings. Never nil.
	Options map[string]string
}

// tlsVersions maps accepted version names to crypto/tls constants.
var tlsVersions = map[string]uint16{
	"tls12": tls.VersionTLS12,
	"tls13": tls.VersionTLS13,
}

// TLSMinVersionValue returns the crypto/tls constant for TLSMinVersion;
// TLS 1.2 when unset.
func (l *Listener) TLSMinVersionValue() uint16 {
	if v, ok := tlsVersions[l.TLSMinVersion]; ok {
		return v
	}
	return tls.VersionTLS12
}

// TLSMaxVersionValue returns the crypto/tls constant for TLSMaxVersion;
// TLS 1.3 when unset.
func (l *Listener) TLSMaxVersionValue() uint16 {
	if v, ok := tlsVersions[l.TLSMaxVersion]; ok {
		return v
	}
	return tls.VersionTLS13
}

// ActiveSeal returns the seal in use: the one seal block that is not
// disabled, or a Shamir seal when there is none.
func (c *Config) ActiveSeal() *Seal {
	for _, s := range c.Seals {
		if !s.Disabled {
			return s
		}
	}
	return &Seal{Type: SealShamir, Options: map[string]string{}}
}

// MigrationSeal returns the disabled seal being migrated away from, or nil
// when no migration is configured.
func (c *Config) MigrationSeal() *Seal {
	for _, s := range c.Seals {
		if s.Disabled {
			return s
		}
	}
	return nil
}

// DevConfig returns the configuration of a development server: in-memory
// storage, one plain-HTTP listener on listenAddr (default 127.0.0.1:8200),
// mlock disabled, the UI on, and Prometheus metrics kept for 24h.
func DevConfig(listenAddr string) *Config {
	if listenAddr == "" {
		listenAddr = DefaultListenAddress
	}
	return &Config{
		Storage: &Storage{Type: StorageInmem, Options: map[string]string{}},
		Listeners: []*Listener{{
			Type:               "tcp",
			Address:            listenAddr,
			TLSDisable:         true,
			TLSMinVersion:      "tls12",
			MaxRequestSize:     DefaultMaxRequestSize,
			MaxRequestDuration: DefaultMaxRequestDuration,
		}},
		DisableMlock:    true,
		UI:              true,
		LogLevel:        "info",
		LogFormat:       "standard",
		DefaultLeaseTTL: DefaultLeaseTTL,
		MaxLeaseTTL:     DefaultLeaseTTL,
		Telemetry: &Telemetry{
			PrometheusRetentionTime: DefaultPrometheusRetention,
			DisableHostname:         true,
			UsageGaugePeriod:        DefaultUsageGaugePeriod,
		},
	}
}
