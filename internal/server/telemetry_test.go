package server_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/testserver"
)

func scrape(t *testing.T, s *testserver.Server) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.Addr+"/v1/sys/metrics?format=prometheus", nil)
	req.Header.Set("X-Vault-Token", s.RootToken)
	resp, err := s.Client.CloneConfig().HttpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("sys/metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse Prometheus text: %v", err)
	}
	return fams
}

func sumCounter(f *dto.MetricFamily) float64 {
	var n float64
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			n += m.Counter.GetValue()
		case m.Summary != nil:
			n += float64(m.Summary.GetSampleCount())
		case m.Histogram != nil:
			n += float64(m.Histogram.GetSampleCount())
		case m.Gauge != nil:
			n += m.Gauge.GetValue()
		}
	}
	return n
}

func TestMetricsAndReport(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), Telemetry: &config.Telemetry{PrometheusRetentionTime: time.Hour, DisableHostname: true}})
	c := s.Client
	for i := 0; i < 3; i++ {
		if _, err := c.KVv2("secret").Put(t.Context(), "m", map[string]interface{}{"v": i}); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.NewClient(tok.Auth.ClientToken).KVv2("secret").Get(t.Context(), "m") // a policy violation
	mustStatus(t, err, http.StatusForbidden, "permission denied")
	_, err = s.NewClient("hvs.unknown0000000000000000000").Auth().Token().LookupSelf() // a failed authentication
	mustStatus(t, err, http.StatusForbidden, "")

	fams := scrape(t, s)
	if f := fams["vault_core_unsealed"]; f == nil || sumCounter(f) != 1 {
		t.Fatalf("vault_core_unsealed: %v", f)
	}
	if f := fams["vault_core_handle_request"]; f == nil || sumCounter(f) < 5 {
		t.Fatalf("vault_core_handle_request: %v", f)
	}
	if f := fams["vault_token_creation"]; f == nil || sumCounter(f) < 1 {
		t.Fatalf("vault_token_creation: %v", f)
	}
	if f := fams["vault_expire_num_leases"]; f == nil || sumCounter(f) < 1 {
		t.Fatalf("vault_expire_num_leases: %v", f)
	}

	rep, err := c.Logical().Read("sys/report")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := rep.Data["text"].(string)
	for _, want := range []string{"COFFER DYNAMIC SECRETS REPORT", "Seal Type: Shamir", "Cluster Status: Standalone", "secret/", "Failed authentications (24h): 1", "Policy violations (24h): 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	// Counters survive a restart.
	s.Restart()
	rep, err = s.Client.Logical().Read("sys/report")
	if err != nil {
		t.Fatal(err)
	}
	text, _ = rep.Data["text"].(string)
	if !strings.Contains(text, "Failed authentications (24h): 1") || !strings.Contains(text, "Policy violations (24h): 1") {
		t.Fatalf("report after restart:\n%s", text)
	}
}

func TestQuotaMetricsAndReport(t *testing.T) {
	s := testserver.Start(t, testserver.Options{Telemetry: &config.Telemetry{PrometheusRetentionTime: time.Hour, DisableHostname: true}})
	c := s.Client
	if _, err := c.Logical().Write("sys/quotas/lease-count/tokens", map[string]interface{}{"path": "auth/token/create", "max_leases": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("sys/quotas/rate-limit/kv", map[string]interface{}{"path": "secret/data/q", "rate": 1, "interval": "1m"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, _ = c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, TTL: "1h"})
		_, _ = c.KVv2("secret").Get(t.Context(), "q")
	}
	fams := scrape(t, s)
	for name, want := range map[string]float64{
		"vault_quota_rate_limit_violation":  1,
		"vault_quota_lease_count_violation": 1,
		"vault_quota_lease_count_counter":   1,
		"vault_quota_lease_count_max":       1,
	} {
		if f := fams[name]; f == nil || sumCounter(f) != want {
			t.Errorf("%s = %v, want %v", name, f, want)
		}
	}
	rep, err := c.Logical().Read("sys/report")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := rep.Data["text"].(string)
	for _, want := range []string{"QUOTAS", "Lease count tokens (auth/token/create): 1 of 1 (100%)", "Requests refused by quotas (24h): 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}
