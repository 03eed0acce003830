// Package quota enforces rate-limit and lease-count quotas (Vault's
// sys/quotas API). Rate limits are counted per client address; lease-count
// quotas reserve a slot before a request reaches its engine, so a request
// over the limit creates nothing on the target system.
package quota

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Types of quota.
const (
	TypeRateLimit  = "rate-limit"
	TypeLeaseCount = "lease-count"
)

// Errors with Vault's texts; both are 429s.
var (
	ErrRateLimited   = logical.Errorf(logical.ErrRateLimited, "rate limit quota exceeded")
	ErrLeaseCountMax = logical.Errorf(logical.ErrLeaseCountExceeded, "lease count quota exceeded")
)

// Quota is one stored quota rule.
type Quota struct {
	Name          string        `json:"name"`
	Type          string        `json:"type"`
	Path          string        `json:"path"`
	Role          string        `json:"role,omitempty"`
	Rate          float64       `json:"rate,omitempty"`
	Interval      time.Duration `json:"interval,omitempty"`
	BlockInterval time.Duration `json:"block_interval,omitempty"`
	MaxLeases     int           `json:"max_leases,omitempty"`
	Inheritable   bool          `json:"inheritable"`
}

// Config is sys/quotas/config.
type Config struct {
	RateLimitExemptPaths           []string `json:"rate_limit_exempt_paths"`
	EnableRateLimitAuditLogging    bool     `json:"enable_rate_limit_audit_logging"`
	EnableRateLimitResponseHeaders bool     `json:"enable_rate_limit_response_headers"`
}

// Violations counts refusals, for metrics.
type Violations struct {
	RateLimit, LeaseCount int64
}

// LeaseCounter counts the stored leases under a path prefix (used once per
// lease-count quota at load time).
type LeaseCounter func(ctx context.Context, prefix string) (int, error)

// Manager holds the quotas and their live state.
type Manager struct {
	store   logical.Storage
	counter LeaseCounter
	now     func() time.Time

	mu      sync.Mutex
	quotas  map[string]*Quota // by type+"/"+name
	config  Config
	buckets map[string]*bucket // rate limits, by quota name + client
	counts  map[string]*leaseCount
	viol    Violations
}

type bucket struct {
	tokens       float64
	windowStart  time.Time
	blockedUntil time.Time
}

type leaseCount struct {
	count, reserved int
}

const configKey = "config"

// New returns a Manager over storage (a barrier view such as "sys/quotas/").
func New(store logical.Storage, counter LeaseCounter, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{store: store, counter: counter, now: now, quotas: map[string]*Quota{},
		buckets: map[string]*bucket{}, counts: map[string]*leaseCount{}}
}

func key(typ, name string) string { return typ + "/" + name }

// Load reads stored quotas and counts the leases under each lease-count quota.
func (m *Manager) Load(ctx context.Context) error {
	var cfg Config
	if _, err := logical.GetJSON(ctx, m.store, configKey, &cfg); err != nil {
		return err
	}
	quotas := map[string]*Quota{}
	counts := map[string]*leaseCount{}
	for _, typ := range []string{TypeRateLimit, TypeLeaseCount} {
		names, err := m.store.List(ctx, typ+"/")
		if err != nil {
			return err
		}
		for _, n := range names {
			var q Quota
			if ok, err := logical.GetJSON(ctx, m.store, key(typ, n), &q); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			quotas[key(typ, n)] = &q
			if typ == TypeLeaseCount {
				lc := &leaseCount{}
				if m.counter != nil {
					if lc.count, err = m.counter(ctx, q.Path); err != nil {
						return fmt.Errorf("count leases for quota %q: %w", q.Name, err)
					}
				}
				counts[q.Name] = lc
			}
		}
	}
	m.mu.Lock()
	m.config, m.quotas, m.counts = cfg, quotas, counts
	m.buckets = map[string]*bucket{}
	m.mu.Unlock()
	return nil
}

// Set validates and stores a quota.
func (m *Manager) Set(ctx context.Context, q *Quota) error {
	if q.Name == "" || strings.Contains(q.Name, "/") {
		return logical.InvalidRequest("invalid quota name %q: give a name without '/'", q.Name)
	}
	q.Path = strings.TrimPrefix(q.Path, "/")
	switch q.Type {
	case TypeRateLimit:
		if q.Rate <= 0 {
			return logical.InvalidRequest("invalid rate %v: must be a positive number of requests per interval", q.Rate)
		}
		if q.Interval == 0 {
			q.Interval = time.Second
		}
		if q.Interval < time.Second {
			return logical.InvalidRequest("invalid interval %s: must be at least 1s", q.Interval)
		}
		if q.BlockInterval < 0 {
			return logical.InvalidRequest("invalid block_interval: cannot be negative")
		}
	case TypeLeaseCount:
		if q.MaxLeases <= 0 {
			return logical.InvalidRequest("invalid max_leases %d: must be a positive integer", q.MaxLeases)
		}
	default:
		return logical.InvalidRequest("unknown quota type %q; accepted: rate-limit, lease-count", q.Type)
	}
	if q.Role != "" && !strings.HasPrefix(q.Path, "auth/") {
		return logical.InvalidRequest("role %q can only be set on a quota whose path is an auth mount (auth/...)", q.Role)
	}
	m.mu.Lock()
	for _, other := range m.quotas {
		if other.Type == q.Type && other.Name != q.Name && other.Path == q.Path && other.Role == q.Role {
			m.mu.Unlock()
			return logical.InvalidRequest("quota %q already applies to path %q", other.Name, q.Path)
		}
	}
	m.mu.Unlock()
	if err := logical.PutJSON(ctx, m.store, key(q.Type, q.Name), q); err != nil {
		return err
	}
	var lc *leaseCount
	if q.Type == TypeLeaseCount {
		lc = &leaseCount{}
		if m.counter != nil {
			n, err := m.counter(ctx, q.Path)
			if err != nil {
				return err
			}
			lc.count = n
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *q
	m.quotas[key(q.Type, q.Name)] = &cp
	if lc != nil {
		if old, ok := m.counts[q.Name]; ok {
			lc.reserved = old.reserved
		}
		m.counts[q.Name] = lc
	}
	for k := range m.buckets {
		if strings.HasPrefix(k, q.Name+"\x00") {
			delete(m.buckets, k)
		}
	}
	return nil
}

// Get returns a quota, or nil.
func (m *Manager) Get(typ, name string) *Quota {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.quotas[key(typ, name)]
	if q == nil {
		return nil
	}
	cp := *q
	return &cp
}

// Count returns a lease-count quota's current count.
func (m *Manager) Count(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if lc := m.counts[name]; lc != nil {
		return lc.count
	}
	return 0
}

// Delete removes a quota.
func (m *Manager) Delete(ctx context.Context, typ, name string) error {
	if err := m.store.Delete(ctx, key(typ, name)); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.quotas, key(typ, name))
	if typ == TypeLeaseCount {
		delete(m.counts, name)
	}
	m.mu.Unlock()
	return nil
}

// List returns the names of the quotas of a type.
func (m *Manager) List(typ string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, q := range m.quotas {
		if q.Type == typ {
			out = append(out, q.Name)
		}
	}
	sort.Strings(out)
	return out
}

// SetConfig stores sys/quotas/config.
func (m *Manager) SetConfig(ctx context.Context, c Config) error {
	if err := logical.PutJSON(ctx, m.store, configKey, c); err != nil {
		return err
	}
	m.mu.Lock()
	m.config = c
	m.mu.Unlock()
	return nil
}

// GetConfig returns sys/quotas/config.
func (m *Manager) GetConfig() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.config
}

// Violations returns the refusal counts so far.
func (m *Manager) Violations() Violations {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.viol
}

// match returns the most specific quota of a type for a path (and role):
// the longest matching path prefix; a role-specific quota beats the same
// path without a role; the empty path is global.
func (m *Manager) match(typ, path, role string) *Quota {
	var best *Quota
	for _, q := range m.quotas {
		if q.Type != typ || !pathCovers(q.Path, path) {
			continue
		}
		if q.Role != "" && q.Role != role {
			continue
		}
		if best == nil || len(q.Path) > len(best.Path) || (len(q.Path) == len(best.Path) && q.Role != "" && best.Role == "") {
			best = q
		}
	}
	return best
}

// pathCovers reports whether quota path qp applies to request path p.
func pathCovers(qp, p string) bool {
	if qp == "" {
		return true
	}
	if strings.HasSuffix(qp, "/") {
		return strings.HasPrefix(p, qp)
	}
	return p == qp || strings.HasPrefix(p, qp+"/")
}

// RateResult describes a rate-limit decision, for response headers.
type RateResult struct {
	Applied bool
	// Quota names the quota that applied.
	Quota      string
	Limit      int
	Remaining  int
	Reset      time.Duration
	RetryAfter time.Duration
}

// AllowRate counts one request from client against the most specific
// rate-limit quota for path. It returns ErrRateLimited (a 429) when over.
func (m *Manager) AllowRate(path, role, client string) (RateResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ex := range m.config.RateLimitExemptPaths {
		if pathCovers(strings.TrimPrefix(ex, "/"), path) {
			return RateResult{}, nil
		}
	}
	q := m.match(TypeRateLimit, path, role)
	if q == nil {
		return RateResult{}, nil
	}
	now := m.now()
	k := q.Name + "\x00" + client
	b := m.buckets[k]
	if b == nil || now.Sub(b.windowStart) >= q.Interval {
		if b == nil {
			b = &bucket{}
			m.buckets[k] = b
		}
		b.windowStart, b.tokens = now, q.Rate
	}
	res := RateResult{Applied: true, Quota: q.Name, Limit: int(q.Rate), Reset: q.Interval - now.Sub(b.windowStart)}
	if now.Before(b.blockedUntil) {
		res.RetryAfter = b.blockedUntil.Sub(now)
		m.viol.RateLimit++
		return res, fmt.Errorf("request path %q: %w", path, ErrRateLimited)
	}
	if b.tokens < 1 {
		res.RetryAfter = res.Reset
		if q.BlockInterval > 0 {
			b.blockedUntil = now.Add(q.BlockInterval)
			res.RetryAfter = q.BlockInterval
		}
		m.viol.RateLimit++
		return res, fmt.Errorf("request path %q: %w", path, ErrRateLimited)
	}
	b.tokens--
	res.Remaining = int(b.tokens)
	return res, nil
}

// Reservation is a held lease-count slot; Commit it when a lease was
// created, Release it otherwise.
type Reservation struct {
	m    *Manager
	name string
	path string
	done bool
}

// Reserve holds a lease slot under the most specific lease-count quota
// for path; it returns ErrLeaseCountMax (a 429), wrapped in a *Refusal
// naming the quota, when the quota is full. A nil Reservation (and nil
// error) means no quota applies.
func (m *Manager) Reserve(path, role string) (*Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.match(TypeLeaseCount, path, role)
	if q == nil {
		return nil, nil
	}
	lc := m.counts[q.Name]
	if lc == nil {
		lc = &leaseCount{}
		m.counts[q.Name] = lc
	}
	if lc.count+lc.reserved >= q.MaxLeases {
		m.viol.LeaseCount++
		return nil, &Refusal{Quota: q.Name, Err: ErrLeaseCountMax}
	}
	lc.reserved++
	return &Reservation{m: m, name: q.Name, path: path}, nil
}

// Commit turns the reservation into a counted lease.
func (r *Reservation) Commit() { r.finish(true) }

// Release gives the slot back (no lease was created).
func (r *Reservation) Release() { r.finish(false) }

func (r *Reservation) finish(created bool) {
	if r == nil || r.done {
		return
	}
	r.done = true
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if lc := r.m.counts[r.name]; lc != nil {
		lc.reserved--
	}
	if created {
		// Every lease-count quota counts the leases under its path; the
		// most specific one decides.
		r.m.countLocked(r.path, +1)
	}
}

func (m *Manager) countLocked(path string, delta int) {
	for _, q := range m.quotas {
		if q.Type != TypeLeaseCount || !pathCovers(q.Path, path) {
			continue
		}
		lc := m.counts[q.Name]
		if lc == nil {
			lc = &leaseCount{}
			m.counts[q.Name] = lc
		}
		if lc.count+delta >= 0 {
			lc.count += delta
		}
	}
}

// LeaseEnded decrements every lease-count quota covering the lease's path.
func (m *Manager) LeaseEnded(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.countLocked(path, -1)
}

// HasRoleQuotas reports whether any quota is bound to a role, so callers
// can skip resolving roles when none is.
func (m *Manager) HasRoleQuotas() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range m.quotas {
		if q.Role != "" {
			return true
		}
	}
	return false
}

// Empty reports whether no quota is configured (the hot path skips work).
func (m *Manager) Empty() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.quotas) == 0
}

// Refusal is a quota refusal naming the quota; it unwraps to the error
// clients see.
type Refusal struct {
	Quota string
	Err   error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// LeaseCountUsage is one lease-count quota's count and limit (metrics).
type LeaseCountUsage struct {
	Name, Path string
	Count, Max int
}

// LeaseCountUsages lists every lease-count quota's usage.
func (m *Manager) LeaseCountUsages() []LeaseCountUsage {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []LeaseCountUsage
	for _, q := range m.quotas {
		if q.Type != TypeLeaseCount {
			continue
		}
		u := LeaseCountUsage{Name: q.Name, Path: q.Path, Max: q.MaxLeases}
		if lc := m.counts[q.Name]; lc != nil {
			u.Count = lc.count
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
