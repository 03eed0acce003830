// Package metrics holds the server's telemetry: a Prometheus registry of its
// own (never the process-wide default) filled through typed methods the core
// calls at fixed points of the request pipeline, the lease manager and the
// barrier. Metric names are Vault's, in Prometheus form (vault.core.unsealed
// becomes vault_core_unsealed), so that existing dashboards and alerts work;
// coffer_* metrics cover what Vault does not measure.
//
// Two renderings serve GET sys/metrics: the Prometheus text exposition
// format (format=prometheus) and Vault's JSON summary (Gauges, Counters,
// Samples, each with Name, values and Labels).
//
// Differences from Vault, on purpose:
//   - Vault emits one summary per operation and mount, vault_route_<op>_<mount>;
//     here each operation is one summary, vault_route_<op>, labelled
//     mount="<mount path>", so that mounts do not multiply metric names.
//   - The JSON form reports values accumulated since the server started
//     (Vault shows the last 10-second interval of its in-memory sink).
package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Formats accepted by Output.
const (
	FormatJSON       = "json"
	FormatPrometheus = "prometheus"
)

// ContentTypePrometheus is the content type of the text exposition format.
const ContentTypePrometheus = string(expfmt.FmtText)

// Errors of Output; both are 400s with Vault's texts.
var (
	ErrPrometheusDisabled = logical.Errorf(logical.ErrInvalidRequest, "prometheus is not enabled")
	errUnknownFormat      = errors.New("unknown metrics format")
)

// Options configure Metrics; they mirror the server's telemetry block.
type Options struct {
	// DisableHostname keeps the host name out of gauge names. By default,
	// as in Vault, gauges carry it: vault_<host>_core_unsealed.
	DisableHostname bool
	// RetentionTime is telemetry's prometheus_retention_time: a labelled
	// series not updated for this long leaves the output. Zero disables
	// the Prometheus format (the JSON form stays available) and nothing
	// expires.
	RetentionTime time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Hostname replaces os.Hostname in gauge names.
	Hostname string
	// ClusterName, when set, labels every metric cluster="<name>".
	ClusterName string
}

// Metrics is the server's telemetry. Its recording methods are safe for
// concurrent use and do nothing on a nil *Metrics, so a core built without
// telemetry needs no checks.
type Metrics struct {
	reg       *prometheus.Registry
	regr      prometheus.Registerer // reg, adding the cluster label
	now       func() time.Time
	retention time.Duration
	host      string // raw host name inserted in gauge names; "" if disabled
	cluster   string

	// mu guards series and makes a vector update and its bookkeeping one
	// step, so that expiry never races an update.
	mu     sync.Mutex
	series map[string]*series
	// jsonNames maps a gauge's Prometheus name to its dotted JSON name.
	jsonNames map[string]string

	handleRequest *sampleDef
	routes        map[logical.Operation]*sampleDef
	routeOther    *sampleDef
	unsealed      prometheus.Gauge
	numLeases     prometheus.Gauge
	numIrrevoc    prometheus.Gauge
	expireRevoke  *sampleDef
	expireRenew   *sampleDef
	leaseCreation *counterDef
	tokenCreation *counterDef
	auditReq      *sampleDef
	auditResp     *sampleDef
	auditReqFail  *counterDef
	auditRespFail *counterDef
	barrier       map[string]*sampleDef
	raftApply     *counterDef
	raftCommit    *sampleDef
	orphans       *counterDef
	revokeFail    *counterDef
	quotaRate     *counterDef
	quotaLease    *counterDef
	revoked       *counterDef
	credsIssued   *counterDef
}

// New returns Metrics with every metric registered in a fresh registry.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		now:       opts.Now,
		retention: opts.RetentionTime,
		cluster:   opts.ClusterName,
		series:    map[string]*series{},
		jsonNames: map[string]string{},
	}
	m.regr = m.reg
	if m.cluster != "" {
		m.regr = prometheus.WrapRegistererWith(prometheus.Labels{"cluster": m.cluster}, m.reg)
	}
	if !opts.DisableHostname {
		m.host = opts.Hostname
		if m.host == "" {
			m.host, _ = os.Hostname()
		}
	}
	m.register()
	return m
}

// register creates every built-in metric.
func (m *Metrics) register() {
	m.handleRequest = m.sample("vault.core.handle_request", "Time to handle a request, in milliseconds.")
	m.routes = map[logical.Operation]*sampleDef{}
	for _, op := range []logical.Operation{
		logical.ReadOperation, logical.CreateOperation, logical.UpdateOperation, logical.PatchOperation,
		logical.DeleteOperation, logical.ListOperation, logical.HelpOperation,
	} {
		m.routes[op] = m.sample("vault.route."+string(op), "Time to route a "+string(op)+" request to its mount, in milliseconds.", "mount")
	}
	m.routeOther = m.sample("vault.route.other", "Time to route requests of other operations to their mount, in milliseconds.", "mount")

	m.unsealed = m.gauge("vault.core.unsealed", "1 when the server is unsealed, 0 when sealed.")
	m.numLeases = m.gauge("vault.expire.num_leases", "Number of leases that have not expired.")
	m.numIrrevoc = m.gauge("vault.expire.num_irrevocable_leases", "Number of leases whose revocation failed too often to be retried automatically.")
	m.expireRevoke = m.sample("vault.expire.revoke", "Time to revoke a lease, in milliseconds.")
	m.expireRenew = m.sample("vault.expire.renew", "Time to renew a lease, in milliseconds.")
	m.leaseCreation = m.counter("vault.secret.lease.creation", "Number of secret leases created.",
		"namespace", "secret_engine", "mount_point", "creation_ttl")
	m.tokenCreation = m.counter("vault.token.creation", "Number of tokens created.",
		"namespace", "auth_method", "mount_point", "creation_ttl", "token_type")

	m.auditReq = m.sample("vault.audit.log_request", "Time to write a request to the audit devices, in milliseconds.")
	m.auditResp = m.sample("vault.audit.log_response", "Time to write a response to the audit devices, in milliseconds.")
	m.auditReqFail = m.counter("vault.audit.log_request_failure", "Number of requests that no audit device could record.")
	m.auditRespFail = m.counter("vault.audit.log_response_failure", "Number of responses that no audit device could record.")

	m.barrier = map[string]*sampleDef{}
	for _, op := range []string{"get", "put", "delete", "list"} {
		m.barrier[op] = m.sample("vault.barrier."+op, "Time of a "+op+" through the barrier, in milliseconds.")
	}
	m.raftApply = m.counter("vault.raft.apply", "Number of log entries applied through raft.")
	m.raftCommit = m.sample("vault.raft.commitTime", "Time to commit a log entry on the leader, in milliseconds.")

	m.orphans = m.counter("coffer.orphan_cleanups_total", "Number of revocations that needed the fallback cleanup because the role's statements left the credential behind.", "mount")
	m.revokeFail = m.counter("coffer.revocation_failures_total", "Number of failed revocation attempts.", "mount")
	m.quotaRate = m.counter("vault.quota.rate_limit.violation", "Number of requests refused by a rate-limit quota.", "quota_name")
	m.quotaLease = m.counter("vault.quota.lease_count.violation", "Number of requests refused by a lease-count quota.", "quota_name")
	m.revoked = m.counter("coffer.leases_revoked_total", "Number of leases revoked.", "mount")
	m.credsIssued = m.counter("coffer.credentials_issued_total", "Number of leased credentials issued, by mount, engine and request path (which names the role, e.g. creds/<role>).", "mount", "engine", "path")

	m.regr.MustRegister(newRuntimeCollector(m.gaugeName))
}

// promName turns a dotted metric key into its Prometheus name.
func promName(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == ':':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// gaugeName returns the Prometheus and JSON names of a gauge: with the host
// name enabled, Vault's own gauges carry it after the service name
// ("vault.<host>.core.unsealed").
func (m *Metrics) gaugeName(key string) (prom, display string) {
	if m.host != "" {
		if rest, ok := strings.CutPrefix(key, "vault."); ok {
			key = "vault." + m.host + "." + rest
		}
	}
	prom = promName(key)
	m.jsonNames[prom] = key
	return prom, key
}

func (m *Metrics) gauge(key, help string) prometheus.Gauge {
	name, _ := m.gaugeName(key)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	m.regr.MustRegister(g)
	return g
}

// RegisterGaugeFunc adds a gauge whose value fn computes at every scrape
// (e.g. a count read from state). name may be dotted ("vault.kv.secret.count")
// or in Prometheus form; names under "vault" get the host name unless it
// is disabled. fn must be safe for concurrent use.
func (m *Metrics) RegisterGaugeFunc(name, help string, fn func() float64) error {
	if m == nil {
		return nil
	}
	key := name
	if !strings.Contains(key, ".") && strings.HasPrefix(key, "vault_") {
		key = "vault." + strings.TrimPrefix(key, "vault_")
	}
	m.mu.Lock()
	prom, display := m.gaugeName(key)
	if !strings.Contains(name, ".") {
		// Shown in JSON under the name it was registered with.
		display = strings.ReplaceAll(display, ".", "_")
		m.jsonNames[prom] = display
	}
	m.mu.Unlock()
	if help == "" {
		help = display
	}
	if err := m.regr.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: prom, Help: help}, fn)); err != nil {
		return fmt.Errorf("register gauge %q: %w", name, err)
	}
	return nil
}

// Registerer lets other packages (raft storage, for instance) register
// collectors of their own in this registry.
func (m *Metrics) Registerer() prometheus.Registerer { return m.regr }

// Format picks the output format of GET sys/metrics as Vault does: the
// format parameter, else Prometheus when the Accept header asks for
// OpenMetrics or prometheus/telemetry, else JSON.
func Format(query string, accept []string) string {
	if query != "" {
		return query
	}
	for _, h := range accept {
		if strings.HasPrefix(h, "application/openmetrics-text") || strings.Contains(h, "prometheus/telemetry") {
			return FormatPrometheus
		}
	}
	return FormatJSON
}

// Output renders the metrics for GET sys/metrics: the Prometheus text
// format for "prometheus", Vault's JSON summary for "" and "json". Unknown
// formats and a disabled Prometheus format are ErrInvalidRequest errors.
func (m *Metrics) Output(format string) (body []byte, contentType string, err error) {
	switch format {
	case FormatPrometheus:
		var buf bytes.Buffer
		if err := m.WritePrometheus(&buf); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), ContentTypePrometheus, nil
	case "", FormatJSON:
		data, err := m.JSON()
		if err != nil {
			return nil, "", err
		}
		b, err := json.Marshal(data)
		if err != nil {
			return nil, "", fmt.Errorf("encode metrics: %w", err)
		}
		return b, "application/json", nil
	}
	return nil, "", &logical.CodedError{Kind: logical.ErrInvalidRequest,
		Msg: fmt.Sprintf("metric response format %q unknown", format)}
}

// WritePrometheus writes every metric in the Prometheus text exposition
// format. It fails with ErrPrometheusDisabled when RetentionTime is zero.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	if m.retention <= 0 {
		return ErrPrometheusDisabled
	}
	families, err := m.gather()
	if err != nil {
		return err
	}
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return nil
}

// gather drops expired series and collects every family, sorted by name.
func (m *Metrics) gather() ([]*dtoFamily, error) {
	m.expire()
	families, err := m.reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	sort.Slice(families, func(i, j int) bool { return families[i].GetName() < families[j].GetName() })
	return families, nil
}

// expire removes labelled series not updated within the retention time.
func (m *Metrics) expire() {
	if m.retention <= 0 {
		return
	}
	cutoff := m.now().Add(-m.retention)
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.series {
		if len(s.values) > 0 && s.last.Before(cutoff) {
			s.delete(s.values...)
			delete(m.series, k)
		}
	}
}
