package token

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// fakeLeases records what the store asks of the lease manager.
type fakeLeases struct {
	mu          sync.Mutex
	registered  map[string]time.Time // accessor -> expiry
	revoked     []string             // accessors, in call order
	revokedIDs  []string             // IDs as passed (often empty)
	registerErr error
}

func newFakeLeases() *fakeLeases { return &fakeLeases{registered: map[string]time.Time{}} }

func (f *fakeLeases) RegisterToken(_ context.Context, te *Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registerErr != nil {
		return f.registerErr
	}
	if te.Accessor == "" || te.ExpireTime.IsZero() {
		return errors.New("registered a token without accessor or expiry")
	}
	f.registered[te.Accessor] = te.ExpireTime
	return nil
}

func (f *fakeLeases) RevokeByToken(_ context.Context, te *Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, te.Accessor)
	f.revokedIDs = append(f.revokedIDs, te.ID)
	delete(f.registered, te.Accessor)
	return nil
}

func (f *fakeLeases) revokedAccessors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.revoked...)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t       testing.TB
	ctx     context.Context
	store   *Store
	storage *logical.InmemStorage
	leases  *fakeLeases
	clock   *clock
	root    string
	// sudo lists tokens HasSudo approves (besides root tokens).
	sudo map[string]bool
}

func newHarness(t testing.TB, mutate ...func(*Options)) *harness {
	t.Helper()
	h := &harness{
		t: t, ctx: context.Background(), storage: logical.NewInmemStorage(), leases: newFakeLeases(),
		clock: &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}, sudo: map[string]bool{},
	}
	opts := Options{
		Now:     h.clock.now,
		HasSudo: func(_ context.Context, te *Entry, _ string) bool { return h.sudo[te.Accessor] },
	}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := NewStore(h.ctx, h.storage, h.leases, opts)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	h.store = s
	root, err := s.CreateRoot(h.ctx, "")
	if err != nil {
		t.Fatalf("CreateRoot: %v", err)
	}
	h.root = root.ID
	return h
}

// do sends a request to the auth/token backend as token.
func (h *harness) do(op logical.Operation, path, token string, data map[string]interface{}) (*logical.Response, error) {
	h.t.Helper()
	return h.store.Backend().HandleRequest(h.ctx, &logical.Request{
		Operation: op, Path: path, ClientToken: token, Data: data,
		MountPoint: "auth/token/", Storage: h.storage,
	})
}

// ok is do that fails the test on error.
func (h *harness) ok(op logical.Operation, path, token string, data map[string]interface{}) *logical.Response {
	h.t.Helper()
	resp, err := h.do(op, path, token, data)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	return resp
}

// create makes a token as parent and returns its auth block.
func (h *harness) create(parent string, data map[string]interface{}) *logical.Auth {
	h.t.Helper()
	resp := h.ok(logical.UpdateOperation, "create", parent, data)
	if resp == nil || resp.Auth == nil {
		h.t.Fatalf("create returned no auth: %#v", resp)
	}
	return resp.Auth
}

// wantErr checks that err is a 400-class invalid request containing msg.
func wantErr(t testing.TB, err error, kind error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected error %q, got none", msg)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not contain %q", err, msg)
	}
}

func (h *harness) lookup(id string) *Entry {
	h.t.Helper()
	te, err := h.store.Lookup(h.ctx, id)
	if err != nil {
		h.t.Fatalf("Lookup: %v", err)
	}
	return te
}
