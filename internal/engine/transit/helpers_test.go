package transit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// fakeClock is a settable clock for auto-rotation.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
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
	b     *backend
	s     *logical.InmemStorage
	clock *fakeClock
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	clock := &fakeClock{t: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	s := logical.NewInmemStorage()
	return &harness{t: t, b: newBackend(nil, clock.Now, rand.Reader), s: s, clock: clock}
}

func (h *harness) do(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
	return h.b.HandleRequest(context.Background(), &logical.Request{
		ID: "req-1", Operation: op, Path: path, Data: data, Storage: h.s,
	})
}

// ok runs an update (or the given op) and fails the test on error.
func (h *harness) ok(op logical.Operation, path string, data map[string]interface{}) map[string]interface{} {
	h.t.Helper()
	resp, err := h.do(op, path, data)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	if resp == nil {
		return nil
	}
	if resp.Raw != nil {
		h.t.Fatalf("%s %s: unexpected raw response %d %s", op, path, resp.RawStatus, resp.Raw)
	}
	return resp.Data
}

func (h *harness) write(path string, data map[string]interface{}) map[string]interface{} {
	h.t.Helper()
	return h.ok(logical.UpdateOperation, path, data)
}

func (h *harness) read(path string) map[string]interface{} {
	h.t.Helper()
	return h.ok(logical.ReadOperation, path, nil)
}

// bad expects a 400 and returns its message.
func (h *harness) bad(op logical.Operation, path string, data map[string]interface{}) string {
	h.t.Helper()
	resp, err := h.do(op, path, data)
	if err == nil {
		h.t.Fatalf("%s %s: expected an error, got %+v", op, path, resp)
	}
	if !errors.Is(err, logical.ErrInvalidRequest) {
		h.t.Fatalf("%s %s: expected a 400, got %v", op, path, err)
	}
	return err.Error()
}

func (h *harness) badWrite(path string, data map[string]interface{}, want string) {
	h.t.Helper()
	msg := h.bad(logical.UpdateOperation, path, data)
	if !strings.Contains(msg, want) {
		h.t.Fatalf("write %s: error %q does not contain %q", path, msg, want)
	}
}

// rawBatch runs a batch expected to answer with a status other than 200
// and returns the status and the decoded data.
func (h *harness) rawBatch(path string, data map[string]interface{}) (int, map[string]interface{}) {
	h.t.Helper()
	resp, err := h.do(logical.UpdateOperation, path, data)
	if err != nil {
		h.t.Fatalf("write %s: %v", path, err)
	}
	if resp == nil || resp.Raw == nil {
		h.t.Fatalf("write %s: expected a raw status response, got %+v", path, resp)
	}
	var env struct {
		RequestID string                 `json:"request_id"`
		Data      map[string]interface{} `json:"data"`
	}
	if err := json.Unmarshal(resp.Raw, &env); err != nil {
		h.t.Fatalf("decode %s: %v", resp.Raw, err)
	}
	if env.RequestID != "req-1" {
		h.t.Fatalf("request_id = %q", env.RequestID)
	}
	return resp.RawStatus, env.Data
}

func (h *harness) createKey(name string, data map[string]interface{}) {
	h.t.Helper()
	h.write("keys/"+name, data)
}

func (h *harness) encrypt(key string, pt []byte, extra map[string]interface{}) string {
	h.t.Helper()
	data := map[string]interface{}{"plaintext": b64(pt)}
	for k, v := range extra {
		data[k] = v
	}
	return h.write("encrypt/"+key, data)["ciphertext"].(string)
}

func (h *harness) decrypt(key, ct string, extra map[string]interface{}) []byte {
	h.t.Helper()
	data := map[string]interface{}{"ciphertext": ct}
	for k, v := range extra {
		data[k] = v
	}
	return unb64(h.t, h.write("decrypt/"+key, data)["plaintext"].(string))
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

// payload returns the decoded part of "vault:v<N>:<base64>" and checks
// the version.
func payload(t testing.TB, v string, ver string) []byte {
	t.Helper()
	rest, ok := strings.CutPrefix(v, "vault:v"+ver+":")
	if !ok {
		t.Fatalf("%q does not start with vault:v%s:", v, ver)
	}
	return unb64(t, rest)
}

func obj(kv ...interface{}) map[string]interface{} {
	m := map[string]interface{}{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
