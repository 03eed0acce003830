package config

import (
	"slices"
	"strconv"
	"strings"
)

// Storage types.
const (
	StorageRaft  = "raft"
	StorageInmem = "inmem"
)

// raftIntOptions and raftDurationOptions are the raft tuning keys kept in
// Storage.Options: integers as decimal strings, durations in Go notation.
var (
	raftIntOptions      = []string{"trailing_logs", "snapshot_threshold", "max_entry_size"}
	raftDurationOptions = []string{"snapshot_interval", "autopilot_reconcile_interval", "autopilot_update_interval"}
)

// decodeStorage reads storage (or its older name, backend) blocks. Storage
// may be declared once across all files.
func (l *loader) decodeStorage(d *decoder, e entry) {
	for _, b := range d.blocks(e, 1, "") {
		label := b.Labels[0]
		if l.cfg.Storage != nil {
			d.Add(b.At, blockName(e.Key, label), "storage is already defined at %s", l.storageAt)
			continue
		}
		if s := d.storage(e.Key, b); s != nil {
			l.cfg.Storage = s
			l.storageAt = b.At
		}
	}
}

// storage reads one storage block.
func (d *decoder) storage(kind string, b block) *Storage {
	label := b.Labels[0]
	typ := strings.ToLower(label)
	ctx := blockName(kind, label)
	s := &Storage{Type: typ, Options: map[string]string{}}
	switch typ {
	case StorageInmem:
		for _, e := range b.Body {
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
		return s
	case StorageRaft:
	default:
		d.Add(b.At, "", "%s %q is not supported; use %q or %q", kind, label, StorageRaft, StorageInmem)
		return nil
	}
	for _, e := range b.Body {
		switch {
		case e.Key == "path":
			s.Path, _ = d.str(e, ctx)
		case e.Key == "node_id":
			s.NodeID, _ = d.str(e, ctx)
		case e.Key == "performance_multiplier":
			if v, ok := d.integer(e, ctx); ok {
				if v < 0 {
					d.Add(e.At, ctx, "performance_multiplier must not be negative")
				}
				s.PerformanceMultiplier = int(v)
			}
		case e.Key == "retry_join":
			for _, rb := range d.blocks(e, 0, ctx) {
				if rj := d.retryJoin(rb, ctx+": retry_join"); rj != nil {
					s.RetryJoin = append(s.RetryJoin, rj)
				}
			}
		case slices.Contains(raftIntOptions, e.Key):
			if v, ok := d.integer(e, ctx); ok {
				if v < 0 {
					d.Add(e.At, ctx, "%s must not be negative", e.Key)
				}
				s.Options[e.Key] = strconv.FormatInt(v, 10)
			}
		case slices.Contains(raftDurationOptions, e.Key):
			if v, ok := d.duration(e, ctx); ok {
				if v < 0 {
					d.Add(e.At, ctx, "%s must not be negative", e.Key)
				}
				s.Options[e.Key] = v.String()
			}
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	if s.Path == "" {
		d.Add(b.At, ctx, "path is required")
	}
	return s
}

// retryJoin reads one retry_join block.
func (d *decoder) retryJoin(b block, ctx string) *RetryJoin {
	rj := &RetryJoin{}
	fields := map[string]*string{
		"leader_api_addr":         &rj.LeaderAPIAddr,
		"leader_ca_cert_file":     &rj.LeaderCACertFile,
		"leader_client_cert_file": &rj.LeaderClientCertFile,
		"leader_client_key_file":  &rj.LeaderClientKeyFile,
		"leader_tls_servername":   &rj.LeaderTLSServerName,
		"leader_ca_cert":          &rj.LeaderCACert,
		"leader_client_cert":      &rj.LeaderClientCert,
		"leader_client_key":       &rj.LeaderClientKey,
	}
	addrAt := b.At
	for _, e := range b.Body {
		if p, ok := fields[e.Key]; ok {
			*p, _ = d.str(e, ctx)
			if e.Key == "leader_api_addr" {
				addrAt = e.At
			}
			continue
		}
		switch e.Key {
		case "auto_join", "auto_join_scheme", "auto_join_port":
			d.Add(e.At, ctx, "%s is not supported; name each leader with leader_api_addr", e.Key)
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	if rj.LeaderAPIAddr == "" {
		d.Add(b.At, ctx, "leader_api_addr is required")
		return nil
	}
	if !checkURL(d, ctx, entry{Key: "leader_api_addr", At: addrAt}, rj.LeaderAPIAddr, "https://vault-2.example.com:8200") {
		return nil
	}
	return rj
}
