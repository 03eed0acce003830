package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// vaultSummary is the shape of Vault's sys/metrics JSON.
type vaultSummary struct {
	Timestamp string
	Gauges    []struct {
		Name   string
		Value  float64
		Labels map[string]string
	}
	Points   []interface{}
	Counters []sampled
	Samples  []sampled
}

type sampled struct {
	Name   string
	Count  int
	Rate   float64
	Sum    float64
	Min    float64
	Max    float64
	Mean   float64
	Stddev float64
	Labels map[string]string
}

func decodeJSON(t *testing.T, m *Metrics) (vaultSummary, map[string]json.RawMessage) {
	t.Helper()
	body, ct, err := m.Output(FormatJSON)
	if err != nil || ct != "application/json" {
		t.Fatalf("Output: %v %q", err, ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	var s vaultSummary
	dec := json.NewDecoder(bytesReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return s, raw
}

func TestJSONShape(t *testing.T) {
	m, clk := newTest(t, Options{DisableHostname: true})
	m.SetUnsealed(true)
	m.SetLeaseCounts(3, 0)
	m.RequestHandled(logical.ReadOperation, "secret/", 2*time.Millisecond)
	m.RequestHandled(logical.ReadOperation, "secret/", 4*time.Millisecond)
	m.RequestHandled(logical.ReadOperation, "secret/", 6*time.Millisecond)
	m.LeaseCreated("database/", "database", "creds/app", time.Hour)
	m.LeaseCreated("database/", "database", "creds/app", time.Hour)
	clk.add(10 * time.Second)

	s, raw := decodeJSON(t, m)
	for _, k := range []string{"Timestamp", "Gauges", "Points", "Counters", "Samples"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if string(raw["Points"]) != "[]" {
		t.Errorf("Points = %s, want []", raw["Points"])
	}
	if s.Timestamp != "2025-03-01 12:00:10 +0000 UTC" {
		t.Errorf("Timestamp = %q", s.Timestamp)
	}

	gauges := map[string]float64{}
	for _, g := range s.Gauges {
		gauges[g.Name] = g.Value
		if g.Labels == nil {
			t.Errorf("gauge %s has null Labels", g.Name)
		}
	}
	if gauges["vault.core.unsealed"] != 1 || gauges["vault.expire.num_leases"] != 3 {
		t.Errorf("gauges %v", gauges)
	}
	if _, ok := gauges["vault.runtime.num_goroutines"]; !ok {
		t.Error("runtime gauges missing")
	}

	var req, route *sampled
	for i := range s.Samples {
		switch s.Samples[i].Name {
		case "vault.core.handle_request":
			req = &s.Samples[i]
		case "vault.route.read":
			route = &s.Samples[i]
		}
	}
	if req == nil || route == nil {
		t.Fatalf("samples %+v", s.Samples)
	}
	if req.Count != 3 || req.Sum != 12 || req.Min != 2 || req.Max != 6 || req.Mean != 4 || math.Abs(req.Stddev-2) > 1e-9 {
		t.Errorf("handle_request sample %+v", *req)
	}
	if math.Abs(req.Rate-1.2) > 1e-9 {
		t.Errorf("rate %v, want 12 ms over 10 s", req.Rate)
	}
	if route.Labels["mount"] != "secret/" {
		t.Errorf("route labels %v", route.Labels)
	}

	var lease *sampled
	for i := range s.Counters {
		if s.Counters[i].Name == "vault.secret.lease.creation" {
			lease = &s.Counters[i]
		}
	}
	if lease == nil {
		t.Fatalf("counters %+v", s.Counters)
	}
	want := map[string]string{"namespace": "root", "secret_engine": "database", "mount_point": "database/", "creation_ttl": "1h"}
	if lease.Count != 2 || lease.Sum != 2 || len(lease.Labels) != len(want) {
		t.Errorf("lease counter %+v", *lease)
	}
	for k, v := range want {
		if lease.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, lease.Labels[k], v)
		}
	}
}

func TestJSONHostnameGauges(t *testing.T) {
	m, _ := newTest(t, Options{Hostname: "vault-a"})
	m.SetUnsealed(false)
	s, _ := decodeJSON(t, m)
	for _, g := range s.Gauges {
		if g.Name == "vault.vault-a.core.unsealed" {
			if g.Value != 0 {
				t.Errorf("unsealed = %v", g.Value)
			}
			return
		}
	}
	t.Errorf("no vault.vault-a.core.unsealed in %+v", s.Gauges)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
