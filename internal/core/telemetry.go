package core

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/report"
	"github.com/coffer-dev/coffer/internal/router"
	"github.com/coffer-dev/coffer/internal/seal"
	"github.com/coffer-dev/coffer/internal/version"
)

// leaseHooks are the lease manager's callbacks into quotas, metrics and
// the usage statistics.
func (c *Core) leaseHooks(opts *lease.Options) {
	m := c.conf.Metrics
	opts.OnRemove = func(e *lease.Entry) {
		if q := c.quotas; q != nil {
			q.LeaseEnded(e.Path)
		}
		if e.Auth != nil {
			return
		}
		m.LeaseRevoked(mountOfPath(e.Path), 0)
		if st := c.stats; st != nil {
			if e.RevokedEarly {
				st.Revoked()
			} else {
				st.Expired()
			}
		}
	}
	opts.OnRevokeError = func(e *lease.Entry, err error) {
		if e.Auth == nil {
			m.RevocationFailed(mountOfPath(e.Path))
		}
	}
	opts.OnIrrevocable = func(e *lease.Entry) {
		if st := c.stats; st != nil {
			st.MarkedIrrevocable()
		}
	}
}

// mountOfPath is the first path segment (two for auth/...) with a slash.
func mountOfPath(p string) string {
	parts := strings.SplitN(p, "/", 3)
	if parts[0] == "auth" && len(parts) > 1 {
		return "auth/" + parts[1] + "/"
	}
	return parts[0] + "/"
}

// observeRequest records a finished request in metrics and statistics.
func (c *Core) observeRequest(req *logical.Request, rt *router.Route, rel string, start time.Time, err error) {
	mount := ""
	if rt != nil {
		mount = rt.Entry.RoutePath()
	}
	c.conf.Metrics.RequestHandled(req.Operation, mount, time.Since(start))
	st := c.stats
	if st == nil {
		return
	}
	switch {
	case errors.Is(err, logical.ErrInvalidToken):
		st.AuthFailed()
	case errors.Is(err, logical.ErrPermissionDenied):
		if req.ClientToken == "" {
			st.AuthFailed()
		} else {
			st.PolicyViolation()
		}
	case err != nil && req.Unauthenticated && rt != nil && rt.Entry.Table == router.TableAuth:
		st.AuthFailed() // a failed login
	case err == nil && rt != nil:
		if name, ok := report.RootRotationName(rt.Entry.Type, rt.Entry.RoutePath(), rel, req.Operation); ok {
			st.RootRotated(name)
		}
	}
}

func (c *Core) metricsPaths() []*framework.Path {
	return []*framework.Path{
		{
			Pattern:  "metrics",
			Fields:   framework.Fields{"format": {Type: framework.TypeString, Query: true}},
			Ops:      framework.Ops{logical.ReadOperation: c.handleMetrics},
			Synopsis: "Telemetry in Prometheus text or JSON form.",
		},
		{
			Pattern:  "report",
			Ops:      framework.Ops{logical.ReadOperation: c.handleReport},
			Synopsis: "The dynamic secrets report.",
		},
	}
}

func (c *Core) handleMetrics(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	body, ct, err := c.metricsOutput(d.String("format"), req.Headers["Accept"])
	if err != nil {
		return nil, err
	}
	return &logical.Response{Raw: body, RawContentType: ct, RawStatus: 200}, nil
}

// MetricsOutput renders telemetry for sys/metrics served without a token.
func (c *Core) MetricsOutput(format string, accept []string) ([]byte, string, error) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	return c.metricsOutput(format, accept)
}

func (c *Core) metricsOutput(format string, accept []string) ([]byte, string, error) {
	m := c.conf.Metrics
	if m == nil {
		return nil, "", logical.InvalidRequest("telemetry is not enabled: add a telemetry { prometheus_retention_time = \"24h\" } block to the server configuration")
	}
	if c.leases != nil {
		counts := c.leases.Count()
		m.SetLeaseCounts(counts.Active, counts.Irrevocable)
	}
	return m.Output(metrics.Format(format, accept))
}

func sealDisplay(t string) string {
	switch t {
	case seal.TypeAWSKMS:
		return "AWS KMS (auto-unseal)"
	case seal.TypeTransit:
		return "Transit (auto-unseal)"
	}
	return "Shamir"
}

func (c *Core) handleReport(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	in := report.Input{Version: version.Full(), ClusterStatus: "Standalone", SealType: sealDisplay(c.configuredSealType())}
	if c.conf.HAStatus != nil {
		in.ClusterStatus = c.conf.HAStatus()
	}
	mounts := c.Mounts(router.TableMounts)
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Path < mounts[j].Path })
	for _, e := range mounts {
		if e.Type == typeSystem || e.Type == "cubbyhole" {
			continue
		}
		rt := c.router.Get(e.RoutePath())
		if rt == nil {
			continue
		}
		q := func(ctx context.Context, op logical.Operation, path string) (*logical.Response, error) {
			r := mountRequest(rt, op, path)
			r.ClientToken = req.ClientToken
			return rt.Backend.HandleRequest(ctx, r)
		}
		info, err := report.DescribeEngine(ctx, e.Path, e.Type, e.Options, q)
		if err != nil {
			c.logger.Warn("report: could not describe an engine", "mount", e.Path, "error", err)
		}
		in.Engines = append(in.Engines, info)
	}
	counts := c.leases.Count()
	in.ActiveLeases, in.Irrevocable = counts.Active, counts.Irrevocable
	if c.stats != nil {
		in.RootRotations = report.RotationStatus(in.Engines, c.stats.RootRotations())
		in.Window = c.stats.Window(24 * time.Hour)
	}
	for _, u := range c.quotas.LeaseCountUsages() {
		in.Quotas = append(in.Quotas, report.QuotaUsage{Name: u.Name, Path: u.Path, Count: u.Count, Max: u.Max})
	}
	for _, dev := range c.audit.List() {
		in.AuditDevices = append(in.AuditDevices, fmt.Sprintf("%s (%s)", dev.Path, dev.Type))
	}
	data := report.JSON(in)
	data["text"] = report.Render(in)
	return &logical.Response{Data: data}, nil
}

// quotaCollector exports lease-count quota usage on each scrape:
// vault_quota_lease_count_counter and vault_quota_lease_count_max.
type quotaCollector struct {
	c            *Core
	counter, max *prometheus.Desc
}

func newQuotaCollector(c *Core) *quotaCollector {
	return &quotaCollector{
		c:       c,
		counter: prometheus.NewDesc("vault_quota_lease_count_counter", "Leases counted against a lease-count quota.", []string{"quota_name"}, nil),
		max:     prometheus.NewDesc("vault_quota_lease_count_max", "The limit of a lease-count quota.", []string{"quota_name"}, nil),
	}
}

func (q *quotaCollector) Describe(ch chan<- *prometheus.Desc) { ch <- q.counter; ch <- q.max }

func (q *quotaCollector) Collect(ch chan<- prometheus.Metric) {
	qm := q.c.quotaView.Load()
	if qm == nil {
		return
	}
	for _, u := range qm.LeaseCountUsages() {
		ch <- prometheus.MustNewConstMetric(q.counter, prometheus.GaugeValue, float64(u.Count), u.Name)
		ch <- prometheus.MustNewConstMetric(q.max, prometheus.GaugeValue, float64(u.Max), u.Name)
	}
}
