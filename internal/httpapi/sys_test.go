package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/coffer-dev/coffer/internal/core"
)

func encode(t *testing.T, v interface{}) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The typed seal-status body must be byte for byte what the map it
// replaced gave (encoding/json sorts map keys).
func TestSealStatusBodyMatchesMapForm(t *testing.T) {
	h := &handler{opts: Options{Version: "1.17.0+coffer.0.1.0", BuildDate: "2024-01-02T03:04:05Z"}}
	for _, st := range []core.SealStatus{
		{Type: "shamir", StorageType: "raft", ClusterName: "c<1>"},
		{Type: "shamir", Initialized: true, Sealed: true, Threshold: 3, Shares: 5, Progress: 2, Nonce: "n-1", ClusterName: "c", StorageType: "inmem"},
		{Type: "awskms", Initialized: true, Threshold: 2, Shares: 4, RecoverySeal: true, Migration: true, ClusterName: "c&d", ClusterID: "id-1", StorageType: "raft"},
		{Type: "shamir", Initialized: true, ClusterName: "c", StorageType: "raft"},
	} {
		old := map[string]interface{}{
			"type": st.Type, "initialized": st.Initialized, "sealed": st.Sealed,
			"t": st.Threshold, "n": st.Shares, "progress": st.Progress, "nonce": st.Nonce,
			"version": h.opts.Version, "build_date": h.opts.BuildDate, "migration": st.Migration,
			"recovery_seal": st.RecoverySeal, "storage_type": st.StorageType,
		}
		if !st.Sealed {
			old["cluster_name"], old["cluster_id"] = st.ClusterName, st.ClusterID
		}
		want := encode(t, old)
		if got := encode(t, h.sealStatusResponse(&st)); !bytes.Equal(got, want) {
			t.Errorf("seal-status struct\n got %s\nwant %s", got, want)
		}
		if got := respondBody(h.sealStatusResponse(&st)); !bytes.Equal(got, want) {
			t.Errorf("seal-status body\n got %s\nwant %s", got, want)
		}
	}
}

func TestHealthBodyMatchesMapForm(t *testing.T) {
	for _, tc := range []struct {
		init, sealed, standby bool
		name, id              string
	}{
		{false, true, false, "", ""},
		{true, true, false, "", ""},
		{true, false, true, "coffer-cluster-1", "9a1b"},
		{true, false, false, "a<b>&c", ""},
	} {
		old := map[string]interface{}{
			"initialized": tc.init, "sealed": tc.sealed, "standby": tc.standby, "performance_standby": false,
			"replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
			"server_time_utc": int64(1700000000), "version": "1.17.0", "enterprise": false,
			"echo_duration_ms": 0, "clock_skew_ms": 0, "replication_primary_canary_age_ms": 0,
		}
		body := newHealthResponse(tc.init, tc.sealed, tc.standby, 1700000000, "1.17.0")
		if tc.init && !tc.sealed {
			old["cluster_name"], old["cluster_id"] = tc.name, tc.id
			body.ClusterName, body.ClusterID = &tc.name, &tc.id
		}
		got, want := respondBody(body), encode(t, old)
		if !bytes.Equal(got, want) {
			t.Errorf("health body\n got %s\nwant %s", got, want)
		}
	}
}

func TestValidPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"sys/seal-status", true}, {"secret/data/a.b/c..d", true}, {"secret/", true}, {"", true},
		{"a/b/", true}, {"...", true}, {".a/b.", true},
		{"..", false}, {".", false}, {"a/..", false}, {"../a", false}, {"a/./b", false}, {"a/.", false},
		{"a//b", false}, {"//", false}, {"a/../b", false},
	} {
		if err := validPath(tc.path); (err == nil) != tc.ok {
			t.Errorf("validPath(%q) = %v, want ok %v", tc.path, err, tc.ok)
		}
	}
}
