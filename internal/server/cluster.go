package server

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/core"
)

// clusterAddrs picks the cluster port's bind address (a listener's
// cluster_address, else cluster_addr's host:port, else the first API
// port plus one) and the address advertised to other nodes (cluster_addr,
// else the bind address; a wildcard bind takes api_addr's host).
func clusterAddrs(cfg *config.Config) (bind, advertise string, err error) {
	for _, l := range cfg.Listeners {
		if l.ClusterAddress != "" {
			bind = l.ClusterAddress
			break
		}
	}
	if cfg.ClusterAddr != "" {
		if advertise, err = hostPort(cfg.ClusterAddr); err != nil {
			return "", "", fmt.Errorf("cluster_addr: %w", err)
		}
	}
	if bind == "" {
		bind = advertise
	}
	if bind == "" && len(cfg.Listeners) > 0 {
		host, port, err := net.SplitHostPort(cfg.Listeners[0].Address)
		if err != nil {
			return "", "", fmt.Errorf("listener address %q: %w", cfg.Listeners[0].Address, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return "", "", fmt.Errorf("listener address %q: %w", cfg.Listeners[0].Address, err)
		}
		if p != 0 {
			p++
		}
		bind = net.JoinHostPort(host, strconv.Itoa(p))
	}
	if advertise == "" && bind != "" {
		host, port, err := net.SplitHostPort(bind)
		if err == nil && (host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified()) && cfg.APIAddr != "" {
			if api, err := hostPort(cfg.APIAddr); err == nil {
				apiHost, _, _ := net.SplitHostPort(api)
				advertise = net.JoinHostPort(apiHost, port)
			}
		}
	}
	return bind, advertise, nil
}

// hostPort takes host:port from a URL or a bare host:port.
func hostPort(s string) (string, error) {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		s = u.Host
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return "", err
	}
	return s, nil
}

// startRetryJoin starts the retry_join loop of a node that has no raft
// state yet.
func (s *Server) startRetryJoin() error {
	if s.raft == nil || len(s.Config.Storage.RetryJoin) == 0 {
		return nil
	}
	if has, err := s.raft.HasState(); err != nil || has {
		return err
	}
	var leaders []core.JoinLeader
	for _, rj := range s.Config.Storage.RetryJoin {
		l := core.JoinLeader{
			APIAddr: rj.LeaderAPIAddr, CACert: rj.LeaderCACert, ClientCert: rj.LeaderClientCert,
			ClientKey: rj.LeaderClientKey, TLSServerName: rj.LeaderTLSServerName,
		}
		for _, f := range []struct {
			path string
			dst  *string
		}{{rj.LeaderCACertFile, &l.CACert}, {rj.LeaderClientCertFile, &l.ClientCert}, {rj.LeaderClientKeyFile, &l.ClientKey}} {
			if f.path == "" {
				continue
			}
			b, err := os.ReadFile(f.path)
			if err != nil {
				return fmt.Errorf("retry_join %s: %w", rj.LeaderAPIAddr, err)
			}
			*f.dst = string(b)
		}
		leaders = append(leaders, l)
	}
	s.Core.StartRetryJoin(leaders)
	return nil
}

// haStatus names the node's HA mode for the usage report. It is called
// while the core serves a request, so it asks raft, not the core.
func (s *Server) haStatus() string {
	if s.raft == nil || s.raft.Voters() <= 1 {
		return "Standalone"
	}
	if s.raft.IsLeader() {
		return "Active"
	}
	return "Standby"
}

// RaftVoters counts the voters of the raft configuration (0 without raft).
func (s *Server) RaftVoters() int {
	if s.raft == nil {
		return 0
	}
	return s.raft.Voters()
}
