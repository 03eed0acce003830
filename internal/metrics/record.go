package metrics

import (
	"sort"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Audit kinds for AuditLogged and AuditFailure.
const (
	AuditRequest  = "request"
	AuditResponse = "response"
)

// ttlBuckets are Vault's creation_ttl label values: a TTL is reported as
// the smallest bound it does not exceed.
var ttlBuckets = []struct {
	max   time.Duration
	label string
}{
	{time.Minute, "1m"},
	{10 * time.Minute, "10m"},
	{20 * time.Minute, "20m"},
	{time.Hour, "1h"},
	{2 * time.Hour, "2h"},
	{24 * time.Hour, "1d"},
	{2 * 24 * time.Hour, "2d"},
	{7 * 24 * time.Hour, "7d"},
	{30 * 24 * time.Hour, "30d"},
}

// TTLBucket is the creation_ttl label of a TTL: 1m, 10m, 20m, 1h, 2h, 1d,
// 2d, 7d, 30d, or +Inf for longer TTLs and for no TTL at all (zero).
func TTLBucket(ttl time.Duration) string {
	if ttl <= 0 {
		return "+Inf"
	}
	i := sort.Search(len(ttlBuckets), func(i int) bool { return ttl <= ttlBuckets[i].max })
	if i == len(ttlBuckets) {
		return "+Inf"
	}
	return ttlBuckets[i].label
}

// RequestHandled records one client request that took d: the summary
// vault_core_handle_request, and vault_route_<op>{mount} when the request
// reached a mount (mount is its path, e.g. "secret/"; "" when none matched).
func (m *Metrics) RequestHandled(op logical.Operation, mount string, d time.Duration) {
	if m == nil {
		return
	}
	m.observe(m.handleRequest, d)
	if mount == "" {
		return
	}
	r := m.routes[op]
	if r == nil {
		r = m.routeOther
	}
	m.observe(r, d, mount)
}

// SetUnsealed sets vault_core_unsealed to 1 or 0.
func (m *Metrics) SetUnsealed(unsealed bool) {
	if m == nil {
		return
	}
	v := 0.0
	if unsealed {
		v = 1
	}
	m.unsealed.Set(v)
}

// SetLeaseCounts sets vault_expire_num_leases and
// vault_expire_num_irrevocable_leases.
func (m *Metrics) SetLeaseCounts(active, irrevocable int) {
	if m == nil {
		return
	}
	m.numLeases.Set(float64(active))
	m.numIrrevoc.Set(float64(irrevocable))
}

// LeaseCreated records a secret lease just registered: Vault's
// vault_secret_lease_creation{secret_engine, mount_point, creation_ttl,
// namespace="root"} and coffer_credentials_issued_total{mount, engine,
// path}. mount is the mount path ("database/"), engine its type
// ("database"), path the request path within the mount ("creds/app").
func (m *Metrics) LeaseCreated(mount, engine, path string, ttl time.Duration) {
	if m == nil {
		return
	}
	m.inc(m.leaseCreation, 1, "root", engine, mount, TTLBucket(ttl))
	m.inc(m.credsIssued, 1, mount, engine, path)
}

// TokenCreated records a token just created: vault_token_creation with
// auth_method (the auth method's type, "token" for auth/token/create),
// mount_point ("auth/approle/"), creation_ttl and token_type ("service",
// "batch").
func (m *Metrics) TokenCreated(authMethod, mount, tokenType string, ttl time.Duration) {
	if m == nil {
		return
	}
	m.inc(m.tokenCreation, 1, "root", authMethod, mount, TTLBucket(ttl), tokenType)
}

// LeaseRenewed records a successful lease renewal that took d
// (vault_expire_renew).
func (m *Metrics) LeaseRenewed(d time.Duration) {
	if m == nil {
		return
	}
	m.observe(m.expireRenew, d)
}

// LeaseRevoked records a lease revoked on its target (for whatever cause)
// in d: vault_expire_revoke and coffer_leases_revoked_total{mount}.
func (m *Metrics) LeaseRevoked(mount string, d time.Duration) {
	if m == nil {
		return
	}
	m.observe(m.expireRevoke, d)
	m.inc(m.revoked, 1, mount)
}

// RevocationFailed records one failed revocation attempt
// (coffer_revocation_failures_total{mount}).
func (m *Metrics) RevocationFailed(mount string) {
	if m == nil {
		return
	}
	m.inc(m.revokeFail, 1, mount)
}

// OrphanCleanup records a revocation that needed the fallback cleanup
// (coffer_orphan_cleanups_total{mount}).
func (m *Metrics) OrphanCleanup(mount string) {
	if m == nil {
		return
	}
	m.inc(m.orphans, 1, mount)
}

// AuditLogged records the time to write a request or response (kind
// AuditRequest or AuditResponse) to the audit devices.
func (m *Metrics) AuditLogged(kind string, d time.Duration) {
	if m == nil {
		return
	}
	switch kind {
	case AuditRequest:
		m.observe(m.auditReq, d)
	case AuditResponse:
		m.observe(m.auditResp, d)
	}
}

// AuditFailure records a request or response (kind AuditRequest or
// AuditResponse) that no audit device could record:
// vault_audit_log_request_failure or vault_audit_log_response_failure.
func (m *Metrics) AuditFailure(kind string) {
	if m == nil {
		return
	}
	switch kind {
	case AuditRequest:
		m.inc(m.auditReqFail, 1)
	case AuditResponse:
		m.inc(m.auditRespFail, 1)
	}
}

// BarrierOp records one barrier operation ("get", "put", "delete" or
// "list") that took d: vault_barrier_<op>. Other operations are ignored.
func (m *Metrics) BarrierOp(op string, d time.Duration) {
	if m == nil {
		return
	}
	if s := m.barrier[op]; s != nil {
		m.observe(s, d)
	}
}

// RaftApply counts n log entries applied through raft (vault_raft_apply).
func (m *Metrics) RaftApply(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.inc(m.raftApply, float64(n))
}

// RaftCommitTime records the time the leader took to commit an entry
// (vault_raft_commitTime).
func (m *Metrics) RaftCommitTime(d time.Duration) {
	if m == nil {
		return
	}
	m.observe(m.raftCommit, d)
}

// QuotaViolation records a request refused by a quota (kind "rate-limit"
// or "lease-count"): vault_quota_rate_limit_violation or
// vault_quota_lease_count_violation{quota_name}.
func (m *Metrics) QuotaViolation(kind, name string) {
	if m == nil {
		return
	}
	if kind == "lease-count" {
		m.inc(m.quotaLease, 1, name)
		return
	}
	m.inc(m.quotaRate, 1, name)
}
