package kv

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

const testUUID = "6f1c2b9e-0d7a-4c1e-9b55-3f1a2d4e5c6b"

// fakeClock is a settable clock for deletion times.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness drives one backend over one storage view.
type harness struct {
	t     testing.TB
	b     logical.Backend
	s     *logical.InmemStorage
	clock *fakeClock
}

func newHarness(t testing.TB, version string, s *logical.InmemStorage) *harness {
	t.Helper()
	if s == nil {
		s = logical.NewInmemStorage()
	}
	b, err := Factory(context.Background(), &logical.BackendConfig{
		StorageView: s,
		Config:      map[string]string{"version": version},
		BackendUUID: testUUID,
	})
	if err != nil {
		t.Fatalf("Factory(version %q): %v", version, err)
	}
	h := &harness{t: t, b: b, s: s, clock: newFakeClock()}
	if v, ok := b.(*versioned); ok {
		v.now = h.clock.Now
	}
	return h
}

func newV1(t testing.TB) *harness { return newHarness(t, "1", nil) }
func newV2(t testing.TB) *harness { return newHarness(t, "2", nil) }

// do sends one request.
func (h *harness) do(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
	return h.b.HandleRequest(context.Background(), &logical.Request{
		Operation: op, Path: path, Data: data, Storage: h.s,
	})
}

// ok sends a request that must succeed.
func (h *harness) ok(op logical.Operation, path string, data map[string]interface{}) *logical.Response {
	h.t.Helper()
	resp, err := h.do(op, path, data)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	return resp
}

// put writes data to a v2 key and returns the new version.
func (h *harness) put(key string, data map[string]interface{}) uint64 {
	h.t.Helper()
	resp := h.ok(logical.UpdateOperation, "data/"+key, map[string]interface{}{"data": data})
	return resp.Data["version"].(uint64)
}

// errKind checks that err wraps kind and, if msg is set, reads exactly msg.
func errKind(t testing.TB, err, kind error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q does not wrap %v", err, kind)
	}
	if msg != "" && err.Error() != msg {
		t.Fatalf("error = %q, want %q", err, msg)
	}
}

func obj(kv ...interface{}) map[string]interface{} {
	m := make(map[string]interface{}, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
