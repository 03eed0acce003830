package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/core"
	"github.com/coffer-dev/coffer/internal/logical"
)

// ForwardedHeader marks a request a standby forwarded to the active node;
// a node that is not active answers it with 503 instead of forwarding it
// again.
const ForwardedHeader = "X-Coffer-Forwarded"

// localPaths are answered by every node itself; a standby forwards every
// other /v1/ request to the active node.
var localPaths = map[string]bool{
	"sys/init": true, "sys/seal-status": true, "sys/unseal": true, "sys/health": true,
	"sys/leader": true, "sys/storage/raft/join": true,
}

type forwardTarget struct{}

// newProxy forwards requests over the cluster port to the node named in
// the request context.
func newProxy(rt http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: rt,
		Rewrite: func(pr *httputil.ProxyRequest) {
			target, _ := pr.In.Context().Value(forwardTarget{}).(string)
			pr.SetURL(&url.URL{Scheme: "https", Host: target})
			pr.SetXForwarded()
			pr.Out.Header.Set(ForwardedHeader, "1")
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			respondErrorStatus(w, http.StatusServiceUnavailable, "node is not active: forwarding the request to the active node failed: "+err.Error())
		},
	}
}

// forwardIfStandby forwards the request when this node is a standby; it
// reports whether it answered.
func (h *handler) forwardIfStandby(w http.ResponseWriter, r *http.Request, path string) bool {
	if h.proxy == nil || localPaths[strings.TrimSuffix(path, "/")] || !h.core.Standby() {
		return false
	}
	if r.Header.Get(ForwardedHeader) != "" {
		respondError(w, core.ErrNotActive)
		return true
	}
	st := h.core.HAStatus(r.Context())
	if st.LeaderClusterAddr == "" || st.LeaderID == st.NodeID {
		respondErrorStatus(w, http.StatusServiceUnavailable, "node is not active; no active node is known yet")
		return true
	}
	ctx := context.WithValue(r.Context(), forwardTarget{}, st.LeaderClusterAddr)
	h.proxy.ServeHTTP(w, r.WithContext(ctx))
	return true
}

// ForwardedHandler wraps the API handler for requests that arrive from
// other nodes over the mutually authenticated cluster port: the client
// address is the one the forwarding node saw, and only forwarded
// requests are served.
func ForwardedHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(ForwardedHeader) == "" {
			respondErrorStatus(w, http.StatusBadRequest, "the cluster port only serves forwarded requests")
			return
		}
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			ip := strings.TrimSpace(parts[len(parts)-1])
			if net.ParseIP(ip) != nil {
				r.RemoteAddr = net.JoinHostPort(ip, "0")
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (h *handler) handleLeader(w http.ResponseWriter, r *http.Request) {
	if methodNotAllowed(w, r, http.MethodGet) {
		return
	}
	if h.core.Sealed() {
		respondError(w, logical.ErrSealed)
		return
	}
	st := h.core.HAStatus(r.Context())
	if !st.Enabled {
		addr := ""
		if h.opts.HAEnabled {
			addr = h.core.APIAddr()
		}
		respondJSON(w, http.StatusOK, map[string]interface{}{
			"ha_enabled": h.opts.HAEnabled, "is_self": h.opts.HAEnabled, "active_time": time.Time{}.Format(time.RFC3339),
			"leader_address": addr, "leader_cluster_address": "", "performance_standby": false,
			"performance_standby_last_remote_wal": 0,
		})
		return
	}
	clusterAddr := ""
	if st.LeaderClusterAddr != "" {
		clusterAddr = "https://" + st.LeaderClusterAddr
	}
	activeTime := time.Time{}.Format(time.RFC3339)
	if st.Active {
		activeTime = st.ActiveTime.Format(time.RFC3339Nano)
	}
	respondJSON(w, http.StatusOK, map[string]interface{}{
		"ha_enabled": true, "is_self": st.Active, "active_time": activeTime,
		"leader_address": st.LeaderAPIAddr, "leader_cluster_address": clusterAddr,
		"performance_standby": false, "performance_standby_last_remote_wal": 0,
		"raft_committed_index": st.RaftCommittedIndex, "raft_applied_index": st.RaftAppliedIndex,
	})
}

// handleRaftJoin joins this (empty) node to a cluster; it is answered
// while sealed and uninitialised.
func (h *handler) handleRaftJoin(w http.ResponseWriter, r *http.Request) {
	if methodNotAllowed(w, r, http.MethodPut, http.MethodPost) {
		return
	}
	body, err := readBody(r, h.opts.MaxRequestSize)
	if err != nil {
		respondError(w, err)
		return
	}
	var req struct {
		LeaderAPIAddr       string `json:"leader_api_addr"`
		LeaderCACert        string `json:"leader_ca_cert"`
		LeaderClientCert    string `json:"leader_client_cert"`
		LeaderClientKey     string `json:"leader_client_key"`
		LeaderTLSServerName string `json:"leader_tls_servername"`
		Retry               bool   `json:"retry"`
		NonVoter            bool   `json:"non_voter"`
		AutoJoin            string `json:"auto_join"`
	}
	if err := decodeInto(body, &req); err != nil {
		respondError(w, err)
		return
	}
	if req.AutoJoin != "" {
		respondErrorStatus(w, http.StatusBadRequest, "auto_join is not supported; name the leader with leader_api_addr")
		return
	}
	err = h.core.JoinRaft(r.Context(), core.JoinRequest{
		Leaders: []core.JoinLeader{{
			APIAddr: req.LeaderAPIAddr, CACert: req.LeaderCACert, ClientCert: req.LeaderClientCert,
			ClientKey: req.LeaderClientKey, TLSServerName: req.LeaderTLSServerName,
		}},
		Retry: req.Retry, NonVoter: req.NonVoter,
	})
	if err != nil {
		respondError(w, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string]interface{}{"joined": true})
}

// isSnapshotUpload reports whether the request uploads a raft snapshot,
// whose body is passed through unparsed and without the size limit.
func isSnapshotUpload(r *http.Request) bool {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return false
	}
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	return p == "sys/storage/raft/snapshot" || p == "sys/storage/raft/snapshot-force"
}
