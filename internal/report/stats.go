// Package report builds the operator's daily view, the DYNAMIC SECRETS
// REPORT, from real state: the lease manager's counts, the mount table and
// engine configuration the core passes in, and event counters persisted by
// Stats.
//
// Stats keeps its counters in hourly buckets stored through a barrier view,
// so that the 24-hour figures survive restarts. Buckets are written every
// FlushInterval and on Close: a crash loses at most the events of the last
// interval.
package report

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

const (
	// FlushInterval is how often Stats writes changed buckets.
	FlushInterval = 10 * time.Second
	// KeepHours is how many hourly buckets are stored.
	KeepHours = 48
	// maxPaths bounds the request paths tracked per hour; further paths
	// are counted under OtherPaths.
	maxPaths = 1000
	// OtherPaths collects credentials of paths beyond the per-hour limit.
	OtherPaths = "(other paths)"

	bucketPrefix = "hour/"
	rotationsKey = "root-rotations"
	hourLayout   = "2006010215"
)

// bucket is one hour of counters, as stored.
type bucket struct {
	Creds            map[string]*pathCount `json:"creds,omitempty"`
	Renewed          int64                 `json:"renewed,omitempty"`
	Revoked          int64                 `json:"revoked,omitempty"`
	Expired          int64                 `json:"expired,omitempty"`
	Irrevocable      int64                 `json:"irrevocable,omitempty"`
	OrphansCleaned   int64                 `json:"orphans_cleaned,omitempty"`
	AuthFailures     int64                 `json:"auth_failures,omitempty"`
	PolicyViolations int64                 `json:"policy_violations,omitempty"`
	QuotaRefusals    int64                 `json:"quota_refusals,omitempty"`
}

type pathCount struct {
	Count int64 `json:"count"`
	// TTLSeconds is the sum of the TTLs issued, for the average.
	TTLSeconds int64 `json:"ttl_seconds"`
}

func (b *bucket) clone() *bucket {
	c := *b
	c.Creds = make(map[string]*pathCount, len(b.Creds))
	for k, v := range b.Creds {
		pc := *v
		c.Creds[k] = &pc
	}
	return &c
}

// Stats counts credential and lease events per hour and persists them.
// Its recording methods are safe for concurrent use and do nothing on a
// nil *Stats.
type Stats struct {
	view logical.Storage
	now  func() time.Time

	mu        sync.Mutex
	buckets   map[int64]*bucket // by the Unix time of the hour's start
	dirty     map[int64]bool
	rotations map[string]time.Time
	rotDirty  bool
	closed    bool

	flushMu sync.Mutex // one flush at a time
	stop    chan struct{}
	done    chan struct{}
}

// NewStats loads the stored buckets from view (the core passes a barrier
// view such as "sys/report/") and starts flushing every FlushInterval.
// now is the clock (time.Now when nil). Call Close to stop and flush.
func NewStats(ctx context.Context, view logical.Storage, now func() time.Time) (*Stats, error) {
	if now == nil {
		now = time.Now
	}
	s := &Stats{
		view:      view,
		now:       now,
		buckets:   map[int64]*bucket{},
		dirty:     map[int64]bool{},
		rotations: map[string]time.Time{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	go s.loop()
	return s, nil
}

func (s *Stats) load(ctx context.Context) error {
	keys, err := s.view.List(ctx, bucketPrefix)
	if err != nil {
		return fmt.Errorf("list report buckets: %w", err)
	}
	oldest := s.oldestKept()
	for _, k := range keys {
		t, err := time.ParseInLocation(hourLayout, k, time.UTC)
		if err != nil {
			continue
		}
		if t.Unix() < oldest {
			if err := s.view.Delete(ctx, bucketPrefix+k); err != nil {
				return fmt.Errorf("delete report bucket %q: %w", k, err)
			}
			continue
		}
		b := &bucket{}
		ok, err := logical.GetJSON(ctx, s.view, bucketPrefix+k, b)
		if err != nil {
			return fmt.Errorf("read report bucket: %w", err)
		}
		if ok {
			if b.Creds == nil {
				b.Creds = map[string]*pathCount{}
			}
			s.buckets[t.Unix()] = b
		}
	}
	if _, err := logical.GetJSON(ctx, s.view, rotationsKey, &s.rotations); err != nil {
		return fmt.Errorf("read root rotations: %w", err)
	}
	if s.rotations == nil {
		s.rotations = map[string]time.Time{}
	}
	return nil
}

func (s *Stats) loop() {
	defer close(s.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), FlushInterval)
			// A failed flush keeps its buckets dirty; the next one retries.
			_ = s.Flush(ctx)
			cancel()
		}
	}
}

// hourOf is the Unix time of the start of t's hour.
func hourOf(t time.Time) int64 { return t.Unix() - (t.Unix() % 3600) }

// oldestKept is the start of the oldest hour kept.
func (s *Stats) oldestKept() int64 { return hourOf(s.now()) - (KeepHours-1)*3600 }

// record applies f to the current hour's bucket.
func (s *Stats) record(f func(b *bucket)) {
	if s == nil {
		return
	}
	h := hourOf(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[h]
	if b == nil {
		b = &bucket{Creds: map[string]*pathCount{}}
		s.buckets[h] = b
	}
	f(b)
	s.dirty[h] = true
}

// CredentialIssued counts a leased credential issued at path (the full
// request path, e.g. "database/creds/app-readonly") with its TTL.
func (s *Stats) CredentialIssued(path string, ttl time.Duration) {
	s.record(func(b *bucket) {
		pc := b.Creds[path]
		if pc == nil {
			if len(b.Creds) >= maxPaths {
				path = OtherPaths
				pc = b.Creds[path]
			}
			if pc == nil {
				pc = &pathCount{}
				b.Creds[path] = pc
			}
		}
		pc.Count++
		pc.TTLSeconds += int64(ttl / time.Second)
	})
}

// Renewed counts a lease renewal.
func (s *Stats) Renewed() { s.record(func(b *bucket) { b.Renewed++ }) }

// Revoked counts a lease revoked before its TTL ran out (by request, by
// prefix, or with its token).
func (s *Stats) Revoked() { s.record(func(b *bucket) { b.Revoked++ }) }

// Expired counts a lease revoked because its TTL ran out.
func (s *Stats) Expired() { s.record(func(b *bucket) { b.Expired++ }) }

// MarkedIrrevocable counts a lease given up as irrevocable.
func (s *Stats) MarkedIrrevocable() { s.record(func(b *bucket) { b.Irrevocable++ }) }

// OrphanCleaned counts a revocation that needed the fallback cleanup.
func (s *Stats) OrphanCleaned() { s.record(func(b *bucket) { b.OrphansCleaned++ }) }

// AuthFailed counts a failed authentication.
func (s *Stats) AuthFailed() { s.record(func(b *bucket) { b.AuthFailures++ }) }

// QuotaRefused counts a request refused by a quota.
func (s *Stats) QuotaRefused() { s.record(func(b *bucket) { b.QuotaRefusals++ }) }

// PolicyViolation counts a request denied by policy.
func (s *Stats) PolicyViolation() { s.record(func(b *bucket) { b.PolicyViolations++ }) }

// RootRotated records that the root credentials of name (as
// RootRotationName returns it) were rotated now.
func (s *Stats) RootRotated(name string) {
	if s == nil {
		return
	}
	now := s.now().UTC()
	s.mu.Lock()
	s.rotations[name] = now
	s.rotDirty = true
	s.mu.Unlock()
}

// RootRotations returns the recorded rotations, sorted by name.
func (s *Stats) RootRotations() []RootRotation {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RootRotation, 0, len(s.rotations))
	for n, t := range s.rotations {
		out = append(out, RootRotation{Name: n, Time: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Flush writes the changed buckets and root rotations, and deletes
// buckets older than KeepHours. Buckets whose write fails stay pending.
func (s *Stats) Flush(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.flushMu.Lock()
	defer s.flushMu.Unlock()

	s.mu.Lock()
	oldest := s.oldestKept()
	var expired []int64
	for h := range s.buckets {
		if h < oldest {
			expired = append(expired, h)
			delete(s.buckets, h)
			delete(s.dirty, h)
		}
	}
	pending := make(map[int64]*bucket, len(s.dirty))
	for h := range s.dirty {
		pending[h] = s.buckets[h].clone()
	}
	s.dirty = map[int64]bool{}
	var rot map[string]time.Time
	if s.rotDirty {
		rot = make(map[string]time.Time, len(s.rotations))
		for k, v := range s.rotations {
			rot[k] = v
		}
		s.rotDirty = false
	}
	s.mu.Unlock()

	var errs []error
	for h, b := range pending {
		if err := logical.PutJSON(ctx, s.view, bucketKey(h), b); err != nil {
			errs = append(errs, fmt.Errorf("write report bucket: %w", err))
			s.mu.Lock()
			if s.buckets[h] != nil {
				s.dirty[h] = true
			}
			s.mu.Unlock()
		}
	}
	if rot != nil {
		if err := logical.PutJSON(ctx, s.view, rotationsKey, rot); err != nil {
			errs = append(errs, fmt.Errorf("write root rotations: %w", err))
			s.mu.Lock()
			s.rotDirty = true
			s.mu.Unlock()
		}
	}
	for _, h := range expired {
		if err := s.view.Delete(ctx, bucketKey(h)); err != nil {
			errs = append(errs, fmt.Errorf("delete report bucket: %w", err))
		}
	}
	return errors.Join(errs...)
}

func bucketKey(h int64) string {
	return bucketPrefix + time.Unix(h, 0).UTC().Format(hourLayout)
}

// Close stops the periodic flush and flushes once more. Call it before
// the barrier is sealed. Recording after Close still counts in memory but
// is not persisted.
func (s *Stats) Close(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		close(s.stop)
		<-s.done
	}
	return s.Flush(ctx)
}

// PathStat is the number of credentials issued at one path in a window.
type PathStat struct {
	Path     string
	Count    int64
	TTLTotal time.Duration
	// Hourly counts the credentials per hour of the window, oldest first.
	Hourly []int64
}

// AvgTTL is the mean TTL issued, rounded to the second.
func (p PathStat) AvgTTL() time.Duration {
	if p.Count == 0 {
		return 0
	}
	return (p.TTLTotal / time.Duration(p.Count)).Round(time.Second)
}

// Window holds the counters summed over recent hours.
type Window struct {
	// Duration is the span asked for (24h for the report).
	Duration time.Duration
	// Since is the start of the oldest hour counted: every hour that
	// overlaps the last Duration is counted whole.
	Since time.Time
	// Credentials is sorted by path.
	Credentials                                                                            []PathStat
	Renewed, Revoked, Expired, Irrevocable, OrphansCleaned, AuthFailures, PolicyViolations int64
	// QuotaRefusals counts requests refused by rate-limit or lease-count quotas.
	QuotaRefusals int64
}

// Window sums the hours that overlap the last d (the current hour
// included). d is capped at KeepHours hours.
func (s *Stats) Window(d time.Duration) Window {
	if d > KeepHours*time.Hour {
		d = KeepHours * time.Hour
	}
	w := Window{Duration: d}
	if s == nil {
		return w
	}
	now := s.now()
	from := hourOf(now.Add(-d))
	if d <= 0 {
		from = hourOf(now)
	}
	w.Since = time.Unix(from, 0).UTC()
	creds := map[string]*PathStat{}
	hours := int((now.Unix()-from)/3600) + 1
	s.mu.Lock()
	for h, b := range s.buckets {
		if h < from || h > now.Unix() {
			continue
		}
		for p, pc := range b.Creds {
			ps := creds[p]
			if ps == nil {
				ps = &PathStat{Path: p, Hourly: make([]int64, hours)}
				creds[p] = ps
			}
			if i := int((h - from) / 3600); i >= 0 && i < hours {
				ps.Hourly[i] += pc.Count
			}
			ps.Count += pc.Count
			ps.TTLTotal += time.Duration(pc.TTLSeconds) * time.Second
		}
		w.Renewed += b.Renewed
		w.Revoked += b.Revoked
		w.Expired += b.Expired
		w.Irrevocable += b.Irrevocable
		w.OrphansCleaned += b.OrphansCleaned
		w.AuthFailures += b.AuthFailures
		w.PolicyViolations += b.PolicyViolations
		w.QuotaRefusals += b.QuotaRefusals
	}
	s.mu.Unlock()
	for _, ps := range creds {
		w.Credentials = append(w.Credentials, *ps)
	}
	sort.Slice(w.Credentials, func(i, j int) bool { return w.Credentials[i].Path < w.Credentials[j].Path })
	return w
}

// RootRotationName names the root credentials a successful request
// rotated, or reports false: database rotate-root/<name> gives
// "<mount><name>", aws config/rotate-root gives "<mount>config/root".
// mountPath ends in "/"; relPath is relative to the mount.
func RootRotationName(mountType, mountPath, relPath string, op logical.Operation) (string, bool) {
	if op != logical.UpdateOperation && op != logical.CreateOperation {
		return "", false
	}
	switch mountType {
	case "database":
		if name, ok := strings.CutPrefix(relPath, "rotate-root/"); ok && name != "" && !strings.Contains(name, "/") {
			return mountPath + name, true
		}
	case "aws":
		if relPath == "config/rotate-root" {
			return mountPath + "config/root", true
		}
	}
	return "", false
}

// formatCount renders a counter.
func formatCount(n int64) string { return strconv.FormatInt(n, 10) }
