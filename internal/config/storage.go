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
		label := b.labels[0]
		if l.cfg.Storage != nil {
			d.ps.add(b.at, blockName(e.key, label), "storage is already defined at %s", l.storageAt)
			continue
		}
		if s := d.storage(e.key, b); s != nil {
			l.cfg.Storage = s
			l.storageAt = b.at
		}
	}
}

// storage reads one storage block.
func (d *decoder) storage(kind string, b block) *Storage {
	label := b.labels[0]
	typ := strings.ToLower(label)
	ctx := blockName(kind, label)
	s := &Storage{Type: typ, Options: map[string]string{}}
	switch typ {
	case StorageInmem:
		for _, e := range b.body {
			d.ps.add(e.at, ctx, "unknown key %q", e.key)
		}
		return s
	case StorageRaft:
	default:
		d.ps.add(b.at, "", "%s %q is not supported; use %q or %q", kind, label, StorageRaft, StorageInmem)
		return nil
	}
	for _, e := range b.body {
		switch {
		case e.key == "path":
			s.Path, _ = d.str(e, ctx)
		case e.key == "node_id":
			s.NodeID, _ = d.str(e, ctx)
		case e.key == "performance_multiplier":
			if v, ok := d.integer(e, ctx); ok {
				if v < 0 {
					d.ps.add(e.at, ctx, "performance_multiplier must not be negative")
				}
				s.PerformanceMultiplier = int(v)
			}
		case e.key == "retry_join":
			for _, rb := range d.blocks(e, 0, ctx) {
				if rj := d.retryJoin(rb, ctx+": retry_join"); rj != nil {
					s.RetryJoin = append(s.RetryJoin, rj)
				}
			}
		case slices.Contains(raftIntOptions, e.key):
			if v, ok := d.integer(e, ctx); ok {
				if v < 0 {
					d.ps.add(e.at, ctx, "%s must not be negative", e.key)
				}
				s.Options[e.key] = strconv.FormatInt(v, 10)
			}
		case slices.Contains(raftDurationOptions, e.key):
			if v, ok := d.duration(e, ctx); ok {
				if v < 0 {
					d.ps.add(e.at, ctx, "%s must not be negative", e.key)
				}
				s.Options[e.key] = v.String()
			}
		default:
			d.ps.add(e.at, ctx, "unknown key %q", e.key)
		}
	}
	if s.Path == "" {
		d.ps.add(b.at, ctx, "path is required")
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
	addrAt := b.at
	for _, e := range b.body {
		if p, ok := fields[e.key]; ok {
			*p, _ = d.str(e, ctx)
			if e.key == "leader_api_addr" {
				addrAt = e.at
			}
			continue
		}
		switch e.key {
		case "auto_join", "auto_join_scheme", "auto_join_port":
			d.ps.add(e.at, ctx, "%s is not supported; name each leader with leader_api_addr", e.key)
		default:
			d.ps.add(e.at, ctx, "unknown key %q", e.key)
		}
	}
	if rj.LeaderAPIAddr == "" {
		d.ps.add(b.at, ctx, "leader_api_addr is required")
		return nil
	}
	if !checkURL(d, ctx, entry{key: "leader_api_addr", at: addrAt}, rj.LeaderAPIAddr, "https://vault-2.example.com:8200") {
		return nil
	}
	return rj
}
