package httpapi

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-dev/coffer/internal/core"
	"github.com/coffer-dev/coffer/internal/logical"
)

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for _, m := range allowed {
		if r.Method == m {
			return false
		}
	}
	respondErrorStatus(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not supported on "+r.URL.Path)
	return true
}

func (h *handler) handleInit(w http.ResponseWriter, r *http.Request) {
	if methodNotAllowed(w, r, http.MethodGet, http.MethodPut, http.MethodPost) {
		return
	}
	if r.Method == http.MethodGet {
		init, err := h.core.Initialized(r.Context())
		if err != nil {
			respondError(w, err)
			return
		}
		respondJSON(w, http.StatusOK, map[string]interface{}{"initialized": init})
		return
	}
	var req struct {
		SecretShares      int      `json:"secret_shares"`
		SecretThreshold   int      `json:"secret_threshold"`
		StoredShares      int      `json:"stored_shares"`
		PGPKeys           []string `json:"pgp_keys"`
		RootTokenPGPKey   string   `json:"root_token_pgp_key"`
		RecoveryShares    int      `json:"recovery_shares"`
		RecoveryThreshold int      `json:"recovery_threshold"`
	}
	if !h.decodeRequest(w, r, &req) {
		return
	}
	if len(req.PGPKeys) > 0 || req.RootTokenPGPKey != "" {
		respondErrorStatus(w, http.StatusBadRequest, "pgp_keys and root_token_pgp_key are not supported by this server; omit them to receive the key shares and root token in plain form")
		return
	}
	res, err := h.core.Initialize(r.Context(), core.InitRequest{
		SecretShares: req.SecretShares, SecretThreshold: req.SecretThreshold,
		RecoveryShares: req.RecoveryShares, RecoveryThreshold: req.RecoveryThreshold,
	})
	if err != nil {
		respondError(w, err)
		return
	}
	hexKeys, b64Keys := encodeKeys(res.Keys)
	out := map[string]interface{}{"keys": hexKeys, "keys_base64": b64Keys, "root_token": res.RootToken}
	if res.RecoveryKeys != nil {
		out["recovery_keys"], out["recovery_keys_base64"] = encodeKeys(res.RecoveryKeys)
	}
	respondJSON(w, http.StatusOK, out)
}

func encodeKeys(keys [][]byte) ([]string, []string) {
	hexKeys, b64Keys := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		hexKeys[i], b64Keys[i] = hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k)
	}
	return hexKeys, b64Keys
}

// sealStatusResponse is the body of sys/seal-status (and of sys/unseal).
// Its fields are in the order encoding/json gives a map's keys, the order
// in which the body has always been sent.
type sealStatusResponse struct {
	BuildDate string `json:"build_date"`
	// ClusterID and ClusterName are sent only while unsealed.
	ClusterID    *string `json:"cluster_id,omitempty"`
	ClusterName  *string `json:"cluster_name,omitempty"`
	Initialized  bool    `json:"initialized"`
	Migration    bool    `json:"migration"`
	N            int     `json:"n"`
	Nonce        string  `json:"nonce"`
	Progress     int     `json:"progress"`
	RecoverySeal bool    `json:"recovery_seal"`
	Sealed       bool    `json:"sealed"`
	StorageType  string  `json:"storage_type"`
	T            int     `json:"t"`
	Type         string  `json:"type"`
	Version      string  `json:"version"`
}

func (h *handler) sealStatusBody(r *http.Request) (*sealStatusResponse, error) {
	st, err := h.core.SealStatus(r.Context())
	if err != nil {
		return nil, err
	}
	return h.sealStatusResponse(st), nil
}

func (h *handler) sealStatusResponse(st *core.SealStatus) *sealStatusResponse {
	out := &sealStatusResponse{
		Type: st.Type, Initialized: st.Initialized, Sealed: st.Sealed,
		T: st.Threshold, N: st.Shares, Progress: st.Progress, Nonce: st.Nonce,
		Version: h.opts.Version, BuildDate: h.opts.BuildDate, Migration: st.Migration,
		RecoverySeal: st.RecoverySeal, StorageType: st.StorageType,
	}
	if !st.Sealed {
		out.ClusterName, out.ClusterID = &st.ClusterName, &st.ClusterID
	}
	return out
}

func (h *handler) handleSealStatus(w http.ResponseWriter, r *http.Request) {
	if methodNotAllowed(w, r, http.MethodGet) {
		return
	}
	body, err := h.sealStatusBody(r)
	if err != nil {
		respondError(w, err)
		return
	}
	respondJSON(w, http.StatusOK, body)
}

// decodeKey accepts a key share as hex or base64.
func decodeKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return nil, logical.InvalidRequest("'key' must be a valid hex or base64 string")
}

func (h *handler) handleUnseal(w http.ResponseWriter, r *http.Request) {
	if methodNotAllowed(w, r, http.MethodPut, http.MethodPost) {
		return
	}
	var req struct {
		Key     string `json:"key"`
		Reset   bool   `json:"reset"`
		Migrate bool   `json:"migrate"`
	}
	if !h.decodeRequest(w, r, &req) {
		return
	}
	if req.Reset {
		h.core.ResetUnseal()
	} else {
		if req.Key == "" {
			respondErrorStatus(w, http.StatusBadRequest, "missing required parameter 'key' (or set 'reset' to true)")
			return
		}
		key, err := decodeKey(req.Key)
		if err != nil {
			respondError(w, err)
			return
		}
		if _, err := h.core.UnsealMigrate(r.Context(), key, req.Migrate); err != nil {
			respondError(w, err)
			return
		}
	}
	h.handleSealStatusAfter(w, r)
}

func (h *handler) handleSealStatusAfter(w http.ResponseWriter, r *http.Request) {
	body, err := h.sealStatusBody(r)
	if err != nil {
		respondError(w, err)
		return
	}
	respondJSON(w, http.StatusOK, body)
}

func (h *handler) handleSeal(w http.ResponseWriter, r *http.Request) {
	if methodNotAllowed(w, r, http.MethodPut, http.MethodPost) {
		return
	}
	if err := h.core.SealWithToken(r.Context(), requestToken(r)); err != nil {
		respondError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// healthCode reads a status-code override from the query.
func healthCode(r *http.Request, name string, def int) int {
	if r.URL.RawQuery == "" {
		return def
	}
	if v := r.URL.Query().Get(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 100 && n <= 599 {
			return n
		}
	}
	return def
}

func (h *handler) handleHealth(w http.ResponseWriter, r *http.Request) {
	if methodNotAllowed(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	init, err := h.core.Initialized(r.Context())
	if err != nil {
		respondError(w, err)
		return
	}
	sealed := h.core.Sealed()
	standby := !sealed && h.core.Standby()
	code := healthCode(r, "activecode", http.StatusOK)
	switch {
	case !init:
		code = healthCode(r, "uninitcode", http.StatusNotImplemented)
	case sealed:
		code = healthCode(r, "sealedcode", http.StatusServiceUnavailable)
	case standby && !queryTrue(r, "standbyok"):
		code = healthCode(r, "standbycode", http.StatusTooManyRequests)
	}
	body := newHealthResponse(init, sealed, standby, time.Now().Unix(), h.opts.Version)
	if init && !sealed {
		name, id := h.core.ClusterName(), h.core.ClusterID()
		body.ClusterName, body.ClusterID = &name, &id
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(code)
		return
	}
	respondJSON(w, code, body)
}

// healthResponse is the body of sys/health, its fields in the order
// encoding/json gives a map's keys.
type healthResponse struct {
	ClockSkewMS int64 `json:"clock_skew_ms"`
	// ClusterID and ClusterName are sent only when initialised and unsealed.
	ClusterID                     *string `json:"cluster_id,omitempty"`
	ClusterName                   *string `json:"cluster_name,omitempty"`
	EchoDurationMS                int64   `json:"echo_duration_ms"`
	Enterprise                    bool    `json:"enterprise"`
	Initialized                   bool    `json:"initialized"`
	PerformanceStandby            bool    `json:"performance_standby"`
	ReplicationDRMode             string  `json:"replication_dr_mode"`
	ReplicationPerformanceMode    string  `json:"replication_performance_mode"`
	ReplicationPrimaryCanaryAgeMS int64   `json:"replication_primary_canary_age_ms"`
	Sealed                        bool    `json:"sealed"`
	ServerTimeUTC                 int64   `json:"server_time_utc"`
	Standby                       bool    `json:"standby"`
	Version                       string  `json:"version"`
}

func newHealthResponse(init, sealed, standby bool, now int64, version string) *healthResponse {
	return &healthResponse{
		Initialized: init, Sealed: sealed, Standby: standby,
		ReplicationPerformanceMode: "disabled", ReplicationDRMode: "disabled",
		ServerTimeUTC: now, Version: version,
	}
}

// queryTrue reports whether a boolean query parameter is set ("standbyok",
// "standbyok=true").
func queryTrue(r *http.Request, name string) bool {
	v, ok := r.URL.Query()[name]
	if !ok {
		return false
	}
	if len(v) == 0 || v[0] == "" {
		return true
	}
	b, err := strconv.ParseBool(v[0])
	return err == nil && b
}
