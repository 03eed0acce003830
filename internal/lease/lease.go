// Package lease is the expiration manager: every secret and token with a TTL
// is a lease, persisted before the credential is returned, revoked when it
// expires, renewable while it lives.
//
// The manager keeps only what its timer needs in memory (lease ID, due time
// and a few flags, in one min-heap served by one goroutine); whole entries
// stay in storage and are read on demand. Revocations run on a bounded worker
// pool shared fairly between mounts. A mount whose revocations fail is
// backed off as a group: one lease probes the target at growing intervals
// while the others wait without spending their attempts, and when a probe
// succeeds the whole queue is released at once.
//
// The manager never calls the core directly: it routes renew and revoke
// through the Revoker the core implements.
package lease

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Entry is one persisted lease.
type Entry struct {
	// ID is "<mount><request path>/<random 24 chars>" for secrets, and
	// "<creation path>/<hash of the token>" for tokens.
	ID string `json:"id"`
	// Path is the full request path including the mount.
	Path string `json:"path"`
	// Secret is set for secret leases; its InternalData is handed back on
	// renew and revoke.
	Secret *logical.Secret `json:"secret,omitempty"`
	// Auth is set for token leases; Auth.ClientToken is the token.
	Auth *logical.Auth `json:"auth,omitempty"`
	// ClientToken is the token that created the secret (the token itself for
	// token leases), so that leases die with it.
	ClientToken     string    `json:"client_token,omitempty"`
	IssueTime       time.Time `json:"issue_time"`
	ExpireTime      time.Time `json:"expire_time"`
	LastRenewalTime time.Time `json:"last_renewal_time"`
	RevokeAttempts  int       `json:"revoke_attempts,omitempty"`
	LastError       string    `json:"last_error,omitempty"`
	// Irrevocable leases failed MaxAttempts revocations (or an error that
	// retrying cannot fix); they are no longer retried automatically.
	Irrevocable bool `json:"irrevocable,omitempty"`
	// RevokedEarly is set when the lease was revoked on request before its
	// TTL ran out (rather than expiring).
	RevokedEarly bool `json:"revoked_early,omitempty"`
}

// Renewable reports whether the lease may be renewed now, and why not.
func (e *Entry) Renewable(now time.Time) error {
	switch {
	case e == nil:
		return ErrLeaseNotFound
	case e.Irrevocable:
		return ErrIrrevocable
	case e.ExpireTime.IsZero():
		return ErrNotRenewable
	case e.ExpireTime.Before(now):
		return ErrLeaseExpired
	case e.Secret != nil && !e.Secret.Renewable:
		return ErrNotRenewable
	case e.Auth != nil && !e.Auth.Renewable:
		return ErrNotRenewable
	}
	return nil
}

// TTL is the time left, rounded down to whole seconds, as Vault reports it;
// zero for a lease that does not expire.
func (e *Entry) TTL(now time.Time) time.Duration {
	if e.ExpireTime.IsZero() {
		return 0
	}
	return e.ExpireTime.Sub(now.Round(time.Second)).Truncate(time.Second)
}

// Revoker is implemented by the core: it routes RevokeOperation and
// RenewOperation to the backend mounted at e.Path, or revokes and renews the
// token of an Auth lease.
type Revoker interface {
	Revoke(ctx context.Context, e *Entry) error
	// Renew returns the renewed secret with its final TTL (the core caps
	// it); a response without Secret leaves the lease unchanged.
	Renew(ctx context.Context, e *Entry, increment time.Duration) (*logical.Response, error)
}

// Options tune a Manager; zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Workers is the size of the revocation pool (default 8).
	Workers int
	// MaxAttempts is how many failed revocations make a lease irrevocable
	// (default 6).
	MaxAttempts int
	// BackoffBase and BackoffMax bound the retry delay of a failing mount
	// (defaults 1s and 10s); each delay has jitter.
	BackoffBase, BackoffMax time.Duration
	// RevokeTimeout bounds one call to Revoker.Revoke (default 60s).
	RevokeTimeout time.Duration
	// MountOf names the mount of a request path; failures are grouped by
	// it (default: the first path segment, two for "auth/...").
	MountOf func(path string) string
	// TokenExists, when set, lets Tidy revoke leases whose token is gone.
	TokenExists func(ctx context.Context, tokenID string) (bool, error)
	// OnRemove, when set, is called once for every lease whose entry is
	// deleted (revoked, expired, forced out), after the deletion. Lease
	// count quotas and usage statistics use it; e.RevokedEarly tells an
	// explicit revocation from an expiry.
	OnRemove func(e *Entry)
	// OnIrrevocable, when set, is called when a lease is given up on after
	// repeated revocation failures.
	OnIrrevocable func(e *Entry)
	// OnRevokeError, when set, is called for each failed revocation attempt.
	OnRevokeError func(e *Entry, err error)
}

// Counts are the live leases known to the manager. Leases still being
// restored after Start are not counted yet.
type Counts struct {
	Active      int
	Irrevocable int
	// ByMount counts active leases per mount; IrrevocableByMount the
	// irrevocable ones.
	ByMount            map[string]int
	IrrevocableByMount map[string]int
}

// Errors returned to clients as 400s, with Vault's texts.
var (
	ErrLeaseNotFound = logical.Errorf(logical.ErrInvalidRequest, "lease not found")
	ErrNotRenewable  = logical.Errorf(logical.ErrInvalidRequest, "lease is not renewable")
	ErrLeaseExpired  = logical.Errorf(logical.ErrInvalidRequest, "lease expired")
	ErrIrrevocable   = logical.Errorf(logical.ErrInvalidRequest, "lease is expired and has failed previous revocation attempts")
	ErrTokenLease    = logical.Errorf(logical.ErrInvalidRequest, "tokens cannot be renewed through this endpoint")
)

const (
	defaultWorkers       = 8
	defaultMaxAttempts   = 6
	defaultBackoffBase   = time.Second
	defaultBackoffMax    = 10 * time.Second
	defaultRevokeTimeout = 60 * time.Second
)

// Manager owns every lease: storage, timers and revocation.
type Manager struct {
	view   logical.Storage
	r      Revoker
	log    *slog.Logger
	now    func() time.Time
	opts   Options
	locks  keyLocks
	wakeCh chan struct{}

	// mu guards the scheduling state below.
	mu       sync.Mutex
	cond     *sync.Cond
	items    map[string]*item
	heap     itemHeap
	mounts   map[string]*mountState
	ring     []*mountState
	rrNext   int
	active   int
	irrevoc  int
	stopping bool
	// While restoring, IDs forgotten by revocation are remembered so that
	// an entry read just before its deletion is not resurrected.
	restoring  bool
	tombstones map[string]struct{}

	tidying atomic.Bool

	started  bool
	runCtx   context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	restored chan struct{}
}

// New returns a manager over view (the barrier view the core gives it, e.g.
// "sys/expire/"). Call Start to arm timers and restore persisted leases.
func New(view logical.Storage, r Revoker, opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = defaultMaxAttempts
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = defaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = defaultBackoffMax
	}
	if opts.BackoffMax < opts.BackoffBase {
		opts.BackoffMax = opts.BackoffBase
	}
	if opts.RevokeTimeout <= 0 {
		opts.RevokeTimeout = defaultRevokeTimeout
	}
	if opts.MountOf == nil {
		opts.MountOf = DefaultMountOf
	}
	m := &Manager{
		view:     view,
		r:        r,
		log:      opts.Logger,
		now:      opts.Now,
		opts:     opts,
		locks:    keyLocks{m: map[string]*keyLock{}},
		wakeCh:   make(chan struct{}, 1),
		items:    map[string]*item{},
		mounts:   map[string]*mountState{},
		restored: make(chan struct{}),
	}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// Start arms the expiry timer and the revocation workers and restores the
// persisted leases in the background; it returns at once. Leases found
// already expired are revoked promptly. Start may be called once.
func (m *Manager) Start(ctx context.Context) {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return
	}
	m.started = true
	m.restoring = true
	m.tombstones = map[string]struct{}{}
	m.runCtx, m.cancel = context.WithCancel(ctx)
	m.mu.Unlock()

	m.wg.Add(2 + m.opts.Workers)
	go func() { defer m.wg.Done(); m.timerLoop(m.runCtx) }()
	go func() { defer m.wg.Done(); m.restore(m.runCtx) }()
	for i := 0; i < m.opts.Workers; i++ {
		go func() { defer m.wg.Done(); m.worker() }()
	}
}

// Restored is closed once Start has loaded every persisted lease (or Stop
// interrupted the restore).
func (m *Manager) Restored() <-chan struct{} { return m.restored }

// Stop stops the timer, the restore and the workers, and waits for the
// revocations in flight to finish. Storage is left as it is; a new Manager
// over the same view picks up where this one stopped.
func (m *Manager) Stop() {
	m.mu.Lock()
	if !m.started || m.stopping {
		m.mu.Unlock()
		return
	}
	m.stopping = true
	m.cancel()
	m.cond.Broadcast()
	m.mu.Unlock()
	m.wg.Wait()
}

// DefaultMountOf names the mount of a request path: "auth/<name>/" for
// auth paths, otherwise the first segment with a trailing slash.
func DefaultMountOf(p string) string {
	n := 1
	if strings.HasPrefix(p, "auth/") {
		n = 2
	}
	i := 0
	for ; n > 0; n-- {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			return p + "/"
		}
		i += j + 1
	}
	return p[:i]
}

// TokenLeaseID is the lease ID RegisterToken uses for a token created at
// creationPath when it is given no explicit ID.
func TokenLeaseID(creationPath, tokenID string) string {
	return strings.TrimSuffix(creationPath, "/") + "/" + hashToken(tokenID)
}

func hashToken(tokenID string) string {
	sum := sha256.Sum256([]byte("token:" + tokenID))
	return hex.EncodeToString(sum[:])
}

func hashLease(leaseID string) string {
	sum := sha256.Sum256([]byte(leaseID))
	return hex.EncodeToString(sum[:16])
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomID returns n base62 characters from crypto/rand, without modulo bias.
func randomID(n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: keep the distribution uniform
				continue
			}
			out = append(out, base62[b%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// unrecoverable reports errors that retrying will not fix.
func unrecoverable(err error) bool {
	return errors.Is(err, logical.ErrInvalidRequest) ||
		errors.Is(err, logical.ErrUnsupportedPath) ||
		errors.Is(err, logical.ErrUnsupportedOperation)
}

// background is the context of work that outlives a request: the one Start
// was given (cancelled by Stop), or Background before Start.
func (m *Manager) background() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runCtx != nil {
		return m.runCtx
	}
	return context.Background()
}
