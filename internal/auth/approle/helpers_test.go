package approle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// fakeSystem is the mount's view of the server in tests.
type fakeSystem struct{ def, max time.Duration }

func (f fakeSystem) DefaultLeaseTTL() time.Duration { return f.def }
func (f fakeSystem) MaxLeaseTTL() time.Duration     { return f.max }
func (f fakeSystem) GeneratePasswordFromPolicy(context.Context, string) (string, error) {
	return "", errors.New("not supported")
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
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t     testing.TB
	b     *backend
	s     *logical.InmemStorage
	clock *clock
}

const testRemote = "10.1.2.3:51234"

func newHarness(t testing.TB) *harness {
	t.Helper()
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	b := newBackend(&logical.BackendConfig{System: fakeSystem{def: 768 * time.Hour, max: 768 * time.Hour}}, c.now)
	return &harness{t: t, b: b, s: logical.NewInmemStorage(), clock: c}
}

// do sends a request as the core does: a write to a path whose item does
// not exist yet becomes a create.
func (h *harness) do(op logical.Operation, path string, data map[string]interface{}, remote string) (*logical.Response, error) {
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: h.s, Connection: &logical.Connection{RemoteAddr: remote}}
	if op == logical.UpdateOperation {
		found, exists, err := h.b.HandleExistenceCheck(context.Background(), req)
		if err != nil {
			return nil, err
		}
		if found && !exists {
			req.Operation = logical.CreateOperation
		}
	}
	return h.b.HandleRequest(context.Background(), req)
}

func (h *harness) ok(op logical.Operation, path string, data map[string]interface{}) *logical.Response {
	h.t.Helper()
	resp, err := h.do(op, path, data, testRemote)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	return resp
}

// fail checks that a request fails with the sentinel kind and a message
// containing msg.
func (h *harness) fail(op logical.Operation, path string, data map[string]interface{}, kind error, msg string) {
	h.t.Helper()
	_, err := h.do(op, path, data, testRemote)
	checkErr(h.t, err, kind, msg)
}

func checkErr(t testing.TB, err, kind error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded; want %v containing %q", kind, msg)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not contain %q", err, msg)
	}
}

func (h *harness) createRole(name string, data map[string]interface{}) {
	h.t.Helper()
	h.ok(logical.UpdateOperation, "role/"+name, data)
}

func (h *harness) roleID(name string) string {
	h.t.Helper()
	resp := h.ok(logical.ReadOperation, "role/"+name+"/role-id", nil)
	id, _ := resp.Data["role_id"].(string)
	if id == "" {
		h.t.Fatalf("role %q has no role_id: %v", name, resp.Data)
	}
	return id
}

// secretID issues a secret ID and returns it with its accessor.
func (h *harness) secretID(name string, data map[string]interface{}) (string, string) {
	h.t.Helper()
	resp := h.ok(logical.UpdateOperation, "role/"+name+"/secret-id", data)
	id, _ := resp.Data["secret_id"].(string)
	acc, _ := resp.Data["secret_id_accessor"].(string)
	if id == "" || acc == "" {
		h.t.Fatalf("secret-id response lacks id or accessor: %v", resp.Data)
	}
	return id, acc
}

func (h *harness) login(roleID, secretID, remote string) (*logical.Response, error) {
	data := map[string]interface{}{"role_id": roleID}
	if secretID != "" {
		data["secret_id"] = secretID
	}
	return h.do(logical.UpdateOperation, "login", data, remote)
}

func (h *harness) mustLogin(roleID, secretID string) *logical.Auth {
	h.t.Helper()
	resp, err := h.login(roleID, secretID, testRemote)
	if err != nil {
		h.t.Fatalf("login: %v", err)
	}
	if resp == nil || resp.Auth == nil {
		h.t.Fatalf("login returned no auth: %+v", resp)
	}
	return resp.Auth
}

// dump returns every key and value in storage.
func (h *harness) dump() map[string]string {
	h.t.Helper()
	keys, err := logical.CollectKeys(context.Background(), h.s, "")
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		e, err := h.s.Get(context.Background(), k)
		if err != nil || e == nil {
			h.t.Fatalf("get %q: %v", k, err)
		}
		out[k] = string(e.Value)
	}
	return out
}

// countPrefix counts storage keys under prefix.
func (h *harness) countPrefix(prefix string) int {
	n := 0
	for k := range h.dump() {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}
