package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// decodeTop reads the top level of one file into the loader's Config.
func (l *loader) decodeTop(d *decoder, body []entry) {
	c := l.cfg
	strs := map[string]*string{
		"api_addr":              &c.APIAddr,
		"cluster_addr":          &c.ClusterAddr,
		"cluster_name":          &c.ClusterName,
		"log_level":             &c.LogLevel,
		"log_format":            &c.LogFormat,
		"pid_file":              &c.PidFile,
		"cluster_cipher_suites": &c.ClusterCipherSuites,
		"plugin_directory":      new(string), // accepted; plugins are built in
	}
	bools := map[string]*bool{
		"disable_mlock":               &c.DisableMlock,
		"ui":                          &c.UI,
		"disable_cache":               &c.DisableCache,
		"raw_storage_endpoint":        &c.EnableRawEndpoint,
		"introspection_endpoint":      &c.EnableIntrospectionEndpoint,
		"disable_performance_standby": &c.DisablePerformanceStandby,
	}
	durs := map[string]*time.Duration{
		"default_lease_ttl": &c.DefaultLeaseTTL,
		"max_lease_ttl":     &c.MaxLeaseTTL,
	}
	telemetrySeen := false
	for _, e := range body {
		if p, ok := strs[e.Key]; ok {
			if v, ok := d.str(e, ""); ok && l.checkString(d, e, v) {
				*p = normalizeString(e.Key, v)
				l.set[e.Key] = e.At
			}
			continue
		}
		if p, ok := bools[e.Key]; ok {
			if v, ok := d.boolean(e, ""); ok {
				*p = v
				l.set[e.Key] = e.At
			}
			continue
		}
		if p, ok := durs[e.Key]; ok {
			if v, ok := d.duration(e, ""); ok {
				if v < 0 {
					d.Add(e.At, "", "%s must not be negative", e.Key)
					continue
				}
				*p = v
				l.set[e.Key] = e.At
			}
			continue
		}
		switch e.Key {
		case "storage", "backend":
			l.decodeStorage(d, e)
		case "ha_storage", "ha_backend":
			d.Add(e.At, "", "%s is not supported; raft storage provides high availability by itself", e.Key)
		case "listener":
			for _, b := range d.blocks(e, 1, "") {
				if ln := d.listener(b); ln != nil {
					c.Listeners = append(c.Listeners, ln)
				}
			}
		case "seal":
			for _, b := range d.blocks(e, 1, "") {
				if s := d.seal(b); s != nil {
					c.Seals = append(c.Seals, s)
					l.sealAt = append(l.sealAt, b.At)
				}
			}
		case "audit":
			l.decodeAudit(d, e)
		case "telemetry":
			if telemetrySeen {
				d.Add(e.At, "", "only one telemetry block is allowed per file")
				continue
			}
			telemetrySeen = true
			for _, b := range d.blocks(e, 0, "") {
				c.Telemetry = d.telemetry(b)
			}
		default:
			d.Add(e.At, "", "unknown key %q", e.Key)
		}
	}
}

// checkString validates the top-level string settings that have a fixed
// form.
func (l *loader) checkString(d *decoder, e entry, v string) bool {
	switch e.Key {
	case "api_addr":
		return checkURL(d, "", e, v, "https://vault.example.com:8200")
	case "cluster_addr":
		return checkURL(d, "", e, v, "https://vault.example.com:8201")
	case "log_level":
		switch normalizeString(e.Key, v) {
		case "trace", "debug", "info", "warn", "error":
			return true
		}
		d.Add(e.At, "", "log_level %q is not valid; use one of trace, debug, info, warn, error", v)
		return false
	case "log_format":
		switch normalizeString(e.Key, v) {
		case "standard", "json":
			return true
		}
		d.Add(e.At, "", "log_format %q is not valid; use standard or json", v)
		return false
	}
	return true
}

// normalizeString canonicalises settings whose case does not matter.
func normalizeString(key, v string) string {
	switch key {
	case "log_level":
		v = strings.ToLower(strings.TrimSpace(v))
		if v == "warning" {
			v = "warn"
		}
	case "log_format":
		v = strings.ToLower(strings.TrimSpace(v))
	}
	return v
}

// checkURL requires an http or https URL with a host, or the empty string.
func checkURL(d *decoder, ctx string, e entry, v, example string) bool {
	if v == "" {
		return true
	}
	if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return true
	}
	d.Add(e.At, ctx, "%s %q must be a URL such as %q", e.Key, v, example)
	return false
}

// telemetry reads a telemetry block; a later block replaces an earlier one
// as a whole.
func (d *decoder) telemetry(b block) *Telemetry {
	t := &Telemetry{
		PrometheusRetentionTime: DefaultPrometheusRetention,
		UsageGaugePeriod:        DefaultUsageGaugePeriod,
	}
	const ctx = "telemetry"
	for _, e := range b.Body {
		switch e.Key {
		case "prometheus_retention_time":
			if v, ok := d.duration(e, ctx); ok {
				t.PrometheusRetentionTime = v
			}
		case "disable_hostname":
			if v, ok := d.boolean(e, ctx); ok {
				t.DisableHostname = v
			}
		case "usage_gauge_period":
			if lit, ok := d.Literal(e, ctx); !ok {
				continue
			} else if s, _ := lit.Token.Value().(string); s == "none" {
				t.UsageGaugePeriod = 0
			} else if v, ok := d.duration(e, ctx); ok {
				t.UsageGaugePeriod = v
			}
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	if t.PrometheusRetentionTime < 0 || t.UsageGaugePeriod < 0 {
		d.Add(b.At, ctx, "durations must not be negative")
	}
	return t
}

// blockName formats a block for messages: listener "tcp".
func blockName(kind, label string) string {
	return fmt.Sprintf("%s %q", kind, label)
}
