package metrics

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/coffer-dev/coffer/internal/logical"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t *testing.T, opts Options) (*Metrics, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = c.now
	}
	if opts.RetentionTime == 0 {
		opts.RetentionTime = 24 * time.Hour
	}
	return New(opts), c
}

// scrape renders the text format and parses it back with the Prometheus parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	var buf bytes.Buffer
	if err := m.WritePrometheus(&buf); err != nil {
		t.Fatalf("WritePrometheus: %v", err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, buf.String())
	}
	return fams
}

// find returns the metric of a family whose labels include want, or nil.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	mf := fams[name]
	if mf == nil {
		return nil
	}
next:
	for _, x := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range x.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return x
	}
	return nil
}

func counterValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	x := find(fams, name, labels)
	if x == nil {
		t.Fatalf("no %s%v in output", name, labels)
	}
	if fams[name].GetType() != dto.MetricType_COUNTER {
		t.Fatalf("%s is %v, want counter", name, fams[name].GetType())
	}
	return x.GetCounter().GetValue()
}

func gaugeValue(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	x := find(fams, name, nil)
	if x == nil {
		t.Fatalf("no %s in output", name)
	}
	return x.GetGauge().GetValue()
}

func summary(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) (count uint64, sum float64) {
	t.Helper()
	x := find(fams, name, labels)
	if x == nil {
		t.Fatalf("no %s%v in output", name, labels)
	}
	if fams[name].GetType() != dto.MetricType_SUMMARY {
		t.Fatalf("%s is %v, want summary", name, fams[name].GetType())
	}
	return x.GetSummary().GetSampleCount(), x.GetSummary().GetSampleSum()
}

func TestPrometheusAfterKnownCalls(t *testing.T) {
	m, _ := newTest(t, Options{DisableHostname: true})
	m.RequestHandled(logical.ReadOperation, "secret/", 5*time.Millisecond)
	m.RequestHandled(logical.UpdateOperation, "secret/", 10*time.Millisecond)
	m.RequestHandled(logical.ReadOperation, "database/", 20*time.Millisecond)
	m.RequestHandled(logical.RenewOperation, "database/", time.Millisecond)
	m.RequestHandled(logical.ReadOperation, "", 2*time.Millisecond)
	m.SetUnsealed(true)
	m.SetLeaseCounts(7, 2)
	m.LeaseCreated("database/", "database", "creds/app", time.Hour)
	m.LeaseCreated("database/", "database", "creds/app", 50*time.Minute)
	m.LeaseCreated("database/", "database", "creds/ro", 30*time.Second)
	m.TokenCreated("approle", "auth/approle/", "service", 20*time.Minute)
	m.TokenCreated("token", "auth/token/", "service", 0)
	m.LeaseRenewed(3 * time.Millisecond)
	m.LeaseRevoked("database/", 4*time.Millisecond)
	m.LeaseRevoked("database/", 6*time.Millisecond)
	m.RevocationFailed("database/")
	m.OrphanCleanup("database/")
	m.AuditLogged(AuditRequest, time.Millisecond)
	m.AuditFailure(AuditRequest)
	m.AuditFailure(AuditRequest)
	m.AuditFailure("bogus")
	m.BarrierOp("put", 2*time.Millisecond)
	m.BarrierOp("get", time.Millisecond)
	m.BarrierOp("get", 3*time.Millisecond)
	m.BarrierOp("rotate", time.Second)
	m.RaftApply(3)
	m.RaftApply(2)
	m.RaftCommitTime(8 * time.Millisecond)

	fams := scrape(t, m)

	c, s := summary(t, fams, "vault_core_handle_request", nil)
	if c != 5 || s != 38 {
		t.Errorf("vault_core_handle_request count %d sum %v, want 5 and 38", c, s)
	}
	counts := []struct {
		name  string
		mount string
		count uint64
		sum   float64
	}{
		{"vault_route_read", "secret/", 1, 5},
		{"vault_route_update", "secret/", 1, 10},
		{"vault_route_read", "database/", 1, 20},
		{"vault_route_other", "database/", 1, 1},
	}
	for _, tc := range counts {
		c, s := summary(t, fams, tc.name, map[string]string{"mount": tc.mount})
		if c != tc.count || s != tc.sum {
			t.Errorf("%s{mount=%q}: count %d sum %v, want %d and %v", tc.name, tc.mount, c, s, tc.count, tc.sum)
		}
	}
	if find(fams, "vault_route_read", map[string]string{"mount": ""}) != nil {
		t.Error("a request that reached no mount was routed")
	}

	gauges := map[string]float64{
		"vault_core_unsealed":                 1,
		"vault_expire_num_leases":             7,
		"vault_expire_num_irrevocable_leases": 2,
	}
	for name, want := range gauges {
		if got := gaugeValue(t, fams, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	counters := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"vault_secret_lease_creation", map[string]string{"mount_point": "database/", "secret_engine": "database", "creation_ttl": "1h", "namespace": "root"}, 2},
		{"vault_secret_lease_creation", map[string]string{"mount_point": "database/", "creation_ttl": "1m"}, 1},
		{"coffer_credentials_issued_total", map[string]string{"mount": "database/", "engine": "database", "path": "creds/app"}, 2},
		{"coffer_credentials_issued_total", map[string]string{"path": "creds/ro"}, 1},
		{"vault_token_creation", map[string]string{"auth_method": "approle", "mount_point": "auth/approle/", "creation_ttl": "20m", "token_type": "service"}, 1},
		{"vault_token_creation", map[string]string{"auth_method": "token", "creation_ttl": "+Inf"}, 1},
		{"coffer_leases_revoked_total", map[string]string{"mount": "database/"}, 2},
		{"coffer_revocation_failures_total", map[string]string{"mount": "database/"}, 1},
		{"coffer_orphan_cleanups_total", map[string]string{"mount": "database/"}, 1},
		{"vault_audit_log_request_failure", nil, 2},
		{"vault_audit_log_response_failure", nil, 0},
		{"vault_raft_apply", nil, 5},
	}
	for _, tc := range counters {
		if got := counterValue(t, fams, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}

	samples := []struct {
		name  string
		count uint64
		sum   float64
	}{
		{"vault_expire_renew", 1, 3},
		{"vault_expire_revoke", 2, 10},
		{"vault_audit_log_request", 1, 1},
		{"vault_barrier_put", 1, 2},
		{"vault_barrier_get", 2, 4},
		{"vault_raft_commitTime", 1, 8},
	}
	for _, tc := range samples {
		c, s := summary(t, fams, tc.name, nil)
		if c != tc.count || s != tc.sum {
			t.Errorf("%s: count %d sum %v, want %d and %v", tc.name, c, s, tc.count, tc.sum)
		}
	}
	if _, ok := fams["vault_barrier_rotate"]; ok {
		t.Error("an unknown barrier operation made a metric")
	}
	if g := gaugeValue(t, fams, "vault_runtime_num_goroutines"); g < 1 {
		t.Errorf("vault_runtime_num_goroutines = %v", g)
	}
}

func TestHostnameInGaugeNames(t *testing.T) {
	m, _ := newTest(t, Options{Hostname: "node-1.example"})
	m.SetUnsealed(true)
	m.LeaseCreated("pki/", "pki", "issue/web", time.Hour)
	if err := m.RegisterGaugeFunc("vault.kv.secret.count", "", func() float64 { return 4 }); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, m)
	if got := gaugeValue(t, fams, "vault_node_1_example_core_unsealed"); got != 1 {
		t.Errorf("host-named unsealed gauge = %v", got)
	}
	if _, ok := fams["vault_core_unsealed"]; ok {
		t.Error("gauge without the host name present")
	}
	if got := gaugeValue(t, fams, "vault_node_1_example_kv_secret_count"); got != 4 {
		t.Errorf("gauge func = %v", got)
	}
	// Counters never carry the host name, as in Vault.
	if got := counterValue(t, fams, "vault_secret_lease_creation", nil); got != 1 {
		t.Errorf("lease creation = %v", got)
	}
}

func TestClusterLabel(t *testing.T) {
	m, _ := newTest(t, Options{DisableHostname: true, ClusterName: "coffer-cluster-1"})
	m.SetUnsealed(true)
	m.OrphanCleanup("database/")
	fams := scrape(t, m)
	for _, name := range []string{"vault_core_unsealed", "coffer_orphan_cleanups_total"} {
		if find(fams, name, map[string]string{"cluster": "coffer-cluster-1"}) == nil {
			t.Errorf("%s lacks the cluster label", name)
		}
	}
	js, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	c := js["Counters"].([]interface{})[0].(map[string]interface{})
	if c["Labels"].(map[string]string)["cluster"] != "coffer-cluster-1" {
		t.Errorf("JSON counter labels %v", c["Labels"])
	}
}

func TestRetentionDropsStaleSeries(t *testing.T) {
	m, clk := newTest(t, Options{DisableHostname: true, RetentionTime: time.Hour})
	m.LeaseCreated("old/", "database", "creds/a", time.Hour)
	m.AuditFailure(AuditResponse)
	clk.add(50 * time.Minute)
	m.LeaseCreated("new/", "database", "creds/a", time.Hour)
	clk.add(20 * time.Minute)

	fams := scrape(t, m)
	if find(fams, "vault_secret_lease_creation", map[string]string{"mount_point": "old/"}) != nil {
		t.Error("series idle past the retention time is still reported")
	}
	if got := counterValue(t, fams, "vault_secret_lease_creation", map[string]string{"mount_point": "new/"}); got != 1 {
		t.Errorf("fresh series = %v, want 1", got)
	}
	// Unlabelled metrics stay: they are the server's own totals.
	if got := counterValue(t, fams, "vault_audit_log_response_failure", nil); got != 1 {
		t.Errorf("unlabelled counter = %v, want 1", got)
	}
	// A series that comes back starts again.
	m.LeaseCreated("old/", "database", "creds/a", time.Hour)
	if got := counterValue(t, scrape(t, m), "vault_secret_lease_creation", map[string]string{"mount_point": "old/"}); got != 1 {
		t.Errorf("revived series = %v, want 1", got)
	}
}

func TestOutputFormats(t *testing.T) {
	m, _ := newTest(t, Options{DisableHostname: true})
	m.SetUnsealed(true)
	body, ct, err := m.Output(FormatPrometheus)
	if err != nil || ct != ContentTypePrometheus || !strings.Contains(string(body), "vault_core_unsealed 1\n") {
		t.Errorf("prometheus output: %v %q\n%s", err, ct, body)
	}
	body, ct, err = m.Output("")
	if err != nil || ct != "application/json" || !bytes.HasPrefix(body, []byte("{")) {
		t.Errorf("json output: %v %q %s", err, ct, body)
	}
	_, _, err = m.Output("xml")
	if !errors.Is(err, logical.ErrInvalidRequest) || err.Error() != `metric response format "xml" unknown` {
		t.Errorf("unknown format: %v", err)
	}

	off := New(Options{DisableHostname: true})
	if _, _, err := off.Output(FormatPrometheus); !errors.Is(err, logical.ErrInvalidRequest) || err.Error() != "prometheus is not enabled" {
		t.Errorf("disabled prometheus: %v", err)
	}
	if _, _, err := off.Output(FormatJSON); err != nil {
		t.Errorf("JSON with prometheus disabled: %v", err)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		query  string
		accept []string
		want   string
	}{
		{"", nil, FormatJSON},
		{"prometheus", nil, FormatPrometheus},
		{"json", []string{"application/openmetrics-text; version=1.0.0"}, FormatJSON},
		{"", []string{"application/openmetrics-text; version=1.0.0"}, FormatPrometheus},
		{"", []string{"text/plain", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;prometheus/telemetry"}, FormatPrometheus},
		{"", []string{"application/json"}, FormatJSON},
	}
	for _, tc := range tests {
		if got := Format(tc.query, tc.accept); got != tc.want {
			t.Errorf("Format(%q, %v) = %q, want %q", tc.query, tc.accept, got, tc.want)
		}
	}
}

func TestTTLBucket(t *testing.T) {
	tests := []struct {
		ttl  time.Duration
		want string
	}{
		{0, "+Inf"},
		{time.Second, "1m"},
		{time.Minute, "1m"},
		{time.Minute + time.Second, "10m"},
		{15 * time.Minute, "20m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "2h"},
		{3 * time.Hour, "1d"},
		{24 * time.Hour, "1d"},
		{72 * time.Hour, "7d"},
		{768 * time.Hour, "+Inf"},
		{30 * 24 * time.Hour, "30d"},
	}
	for _, tc := range tests {
		if got := TTLBucket(tc.ttl); got != tc.want {
			t.Errorf("TTLBucket(%v) = %q, want %q", tc.ttl, got, tc.want)
		}
	}
}

func TestRegisterGaugeFunc(t *testing.T) {
	m, _ := newTest(t, Options{DisableHostname: true})
	n := 0.0
	if err := m.RegisterGaugeFunc("coffer_pending_revocations", "Queued revocations.", func() float64 { return n }); err != nil {
		t.Fatal(err)
	}
	n = 12
	if got := gaugeValue(t, scrape(t, m), "coffer_pending_revocations"); got != 12 {
		t.Errorf("gauge func at scrape = %v, want 12", got)
	}
	if err := m.RegisterGaugeFunc("coffer_pending_revocations", "", func() float64 { return 0 }); err == nil {
		t.Error("duplicate gauge accepted")
	}
	if err := m.RegisterGaugeFunc("vault_core_unsealed", "", func() float64 { return 0 }); err == nil {
		t.Error("gauge clashing with a built-in metric accepted")
	}
	js, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range js["Gauges"].([]interface{}) {
		if g.(map[string]interface{})["Name"] == "coffer_pending_revocations" {
			found = true
		}
	}
	if !found {
		t.Error("gauge func missing from JSON")
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.RequestHandled(logical.ReadOperation, "secret/", time.Millisecond)
	m.SetUnsealed(true)
	m.SetLeaseCounts(1, 1)
	m.LeaseCreated("a/", "kv", "x", time.Hour)
	m.TokenCreated("token", "auth/token/", "service", time.Hour)
	m.LeaseRenewed(time.Millisecond)
	m.LeaseRevoked("a/", time.Millisecond)
	m.RevocationFailed("a/")
	m.OrphanCleanup("a/")
	m.AuditLogged(AuditRequest, time.Millisecond)
	m.AuditFailure(AuditRequest)
	m.BarrierOp("get", time.Millisecond)
	m.RaftApply(1)
	m.RaftCommitTime(time.Millisecond)
	if err := m.RegisterGaugeFunc("x", "", func() float64 { return 0 }); err != nil {
		t.Error(err)
	}
}

func TestConcurrentRecordingAndScraping(t *testing.T) {
	m, _ := newTest(t, Options{DisableHostname: true})
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m.RequestHandled(logical.ReadOperation, "secret/", time.Millisecond)
				m.LeaseCreated("database/", "database", "creds/app", time.Hour)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		scrape(t, m)
		if _, err := m.JSON(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	fams := scrape(t, m)
	if c, _ := summary(t, fams, "vault_route_read", map[string]string{"mount": "secret/"}); c != workers*each {
		t.Errorf("routed %d, want %d", c, workers*each)
	}
	if got := counterValue(t, fams, "coffer_credentials_issued_total", nil); got != workers*each {
		t.Errorf("issued %v, want %d", got, workers*each)
	}
}
