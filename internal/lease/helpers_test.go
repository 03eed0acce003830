package lease

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// fakeRevoker records calls; fail decides per call whether to fail.
type fakeRevoker struct {
	mu       sync.Mutex
	calls    map[string]int       // revoke attempts per lease
	revoked  map[string]int       // successful revokes per lease
	at       map[string]time.Time // time of the successful revoke
	renews   []string
	fail     func(e *Entry, attempt int) error
	onRevoke func(e *Entry) // runs before a successful revoke returns
	renewTTL time.Duration
	renewErr error
}

func newFakeRevoker() *fakeRevoker {
	return &fakeRevoker{calls: map[string]int{}, revoked: map[string]int{}, at: map[string]time.Time{}, renewTTL: time.Hour}
}

func (f *fakeRevoker) Revoke(_ context.Context, e *Entry) error {
	f.mu.Lock()
	f.calls[e.ID]++
	attempt := f.calls[e.ID]
	fail := f.fail
	hook := f.onRevoke
	f.mu.Unlock()
	if fail != nil {
		if err := fail(e, attempt); err != nil {
			return err
		}
	}
	if hook != nil {
		hook(e)
	}
	f.mu.Lock()
	f.revoked[e.ID]++
	f.at[e.ID] = time.Now()
	f.mu.Unlock()
	return nil
}

func (f *fakeRevoker) Renew(_ context.Context, e *Entry, increment time.Duration) (*logical.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renews = append(f.renews, e.ID)
	if f.renewErr != nil {
		return nil, f.renewErr
	}
	ttl := f.renewTTL
	if increment > 0 {
		ttl = increment
	}
	s := *e.Secret
	s.TTL = ttl
	return &logical.Response{Secret: &s, Data: map[string]interface{}{"renewed": true}}, nil
}

func (f *fakeRevoker) setFail(fn func(e *Entry, attempt int) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *fakeRevoker) revokedCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.revoked[id]
}

func (f *fakeRevoker) callCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

// callsWithPrefix sums revoke attempts for leases under prefix.
func (f *fakeRevoker) callsWithPrefix(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for id, c := range f.calls {
		if strings.HasPrefix(id, prefix) {
			n += c
		}
	}
	return n
}

var errTargetDown = errors.New("connection refused")

// testOptions are fast timings for tests.
func testOptions() Options {
	return Options{Workers: 4, MaxAttempts: 6, BackoffBase: 5 * time.Millisecond, BackoffMax: 40 * time.Millisecond}
}

// newStarted returns a started manager over a fresh storage.
func newStarted(t *testing.T, opts Options) (*Manager, *fakeRevoker, *logical.InmemStorage) {
	t.Helper()
	s := logical.NewInmemStorage()
	f := newFakeRevoker()
	m := New(s, f, opts)
	m.Start(context.Background())
	t.Cleanup(m.Stop)
	return m, f, s
}

// waitFor polls cond until it holds; the limit is generous, it only
// prevents a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func secret(ttl time.Duration, renewable bool) *logical.Secret {
	return &logical.Secret{
		LeaseOptions: logical.LeaseOptions{TTL: ttl, Renewable: renewable},
		InternalData: map[string]interface{}{"secret_type": "creds", "username": "v-user"},
	}
}

func mustRegister(t *testing.T, m *Manager, path, token string, ttl time.Duration) *Entry {
	t.Helper()
	e, err := m.Register(context.Background(), path, token, secret(ttl, true))
	if err != nil {
		t.Fatalf("Register(%q): %v", path, err)
	}
	return e
}

func exists(t *testing.T, s logical.Storage, key string) bool {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return e != nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
