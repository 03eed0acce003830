package config

import (
	"net"
	"strconv"
	"strings"
)

// listener reads one listener block, applies its defaults and checks it.
// It returns nil when the block is unusable.
func (d *decoder) listener(b block) *Listener {
	label := b.Labels[0]
	if strings.ToLower(label) != "tcp" {
		d.Add(b.At, "", "listener %q is not supported; use listener \"tcp\"", label)
		return nil
	}
	ctx := blockName("listener", label)
	l := &Listener{Type: "tcp"}
	strs := map[string]*string{
		"address":            &l.Address,
		"cluster_address":    &l.ClusterAddress,
		"tls_cert_file":      &l.TLSCertFile,
		"tls_key_file":       &l.TLSKeyFile,
		"tls_client_ca_file": &l.TLSClientCAFile,
		"tls_min_version":    &l.TLSMinVersion,
		"tls_max_version":    &l.TLSMaxVersion,
	}
	bools := map[string]*bool{
		"tls_disable":                        &l.TLSDisable,
		"tls_require_and_verify_client_cert": &l.TLSRequireAndVerifyClientCert,
	}
	at := map[string]pos{}
	tlsUnknown := false // tls_disable was given but unreadable
	for _, e := range b.Body {
		at[e.Key] = e.At
		if p, ok := strs[e.Key]; ok {
			if v, ok := d.str(e, ctx); ok {
				*p = v
			}
			continue
		}
		if p, ok := bools[e.Key]; ok {
			v, ok := d.boolean(e, ctx)
			*p = v
			if !ok && e.Key == "tls_disable" {
				tlsUnknown = true
			}
			continue
		}
		switch e.Key {
		case "max_request_size":
			if v, ok := d.integer(e, ctx); ok {
				l.MaxRequestSize = v
			}
		case "max_request_duration":
			if v, ok := d.duration(e, ctx); ok {
				if v < 0 {
					d.Add(e.At, ctx, "max_request_duration must not be negative")
				}
				l.MaxRequestDuration = v
			}
		case "telemetry":
			d.listenerTelemetry(e, ctx, l)
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}

	if l.Address == "" {
		l.Address = DefaultListenAddress
	}
	if l.MaxRequestSize == 0 {
		l.MaxRequestSize = DefaultMaxRequestSize
	}
	if l.MaxRequestDuration == 0 {
		l.MaxRequestDuration = DefaultMaxRequestDuration
	}
	if l.TLSMinVersion == "" {
		l.TLSMinVersion = "tls12"
	}
	d.checkHostPort(at["address"], ctx, "address", l.Address)
	if l.ClusterAddress != "" {
		d.checkHostPort(at["cluster_address"], ctx, "cluster_address", l.ClusterAddress)
	}
	minOK := d.checkTLSVersion(at["tls_min_version"], ctx, "tls_min_version", l.TLSMinVersion)
	maxOK := l.TLSMaxVersion == "" || d.checkTLSVersion(at["tls_max_version"], ctx, "tls_max_version", l.TLSMaxVersion)
	if minOK && maxOK && l.TLSMinVersionValue() > l.TLSMaxVersionValue() {
		d.Add(at["tls_max_version"], ctx, "tls_max_version %q is lower than tls_min_version %q", l.TLSMaxVersion, l.TLSMinVersion)
	}
	if !l.TLSDisable && !tlsUnknown {
		if l.TLSCertFile == "" {
			d.Add(b.At, ctx, "tls_cert_file is required unless tls_disable = true")
		}
		if l.TLSKeyFile == "" {
			d.Add(b.At, ctx, "tls_key_file is required unless tls_disable = true")
		}
	}
	return l
}

// listenerTelemetry reads the telemetry block nested in a listener.
func (d *decoder) listenerTelemetry(e entry, ctx string, l *Listener) {
	ctx += ": telemetry"
	for _, b := range d.blocks(e, 0, ctx) {
		for _, te := range b.Body {
			switch te.Key {
			case "unauthenticated_metrics_access":
				if v, ok := d.boolean(te, ctx); ok {
					l.UnauthenticatedMetricsAccess = v
				}
			default:
				d.Add(te.At, ctx, "unknown key %q", te.Key)
			}
		}
	}
}

// checkTLSVersion accepts tls12 and tls13 and explains the refusal of the
// older versions.
func (d *decoder) checkTLSVersion(at pos, ctx, key, v string) bool {
	switch v {
	case "tls12", "tls13":
		return true
	case "tls10", "tls11":
		d.Add(at, ctx, "%s %q is not accepted; use \"tls12\" or \"tls13\"", key, v)
	default:
		d.Add(at, ctx, "%s %q is not a TLS version; use \"tls12\" or \"tls13\"", key, v)
	}
	return false
}

// checkHostPort requires host:port with a numeric port; the host may be
// empty (all interfaces) or a bracketed IPv6 address.
func (d *decoder) checkHostPort(at pos, ctx, key, v string) {
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr == nil && n >= 0 && n <= 65535 {
			return
		}
	}
	d.Add(at, ctx, "%s %q must be host:port, as in \"0.0.0.0:8200\"", key, v)
}
