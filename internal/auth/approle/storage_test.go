package approle

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// TestKeySurvivesRestart checks that a new backend over the same storage
// (a restart or remount after seal) keeps the HMAC key, so issued secret
// IDs and role IDs keep working.
func TestKeySurvivesRestart(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", nil)
	rid := h.roleID("r")
	sid, _ := h.secretID("r", nil)
	h.b.Cleanup(context.Background())
	h.b = newBackend(&logical.BackendConfig{System: fakeSystem{}}, h.clock.now)
	h.mustLogin(rid, sid)
	if n := h.countPrefix(keyHMAC); n != 1 {
		t.Fatalf("%d HMAC key entries", n)
	}
}

// failingStorage fails every operation once armed.
type failingStorage struct {
	logical.Storage
	armed atomic.Bool
	op    string // "get", "put", "delete" or "list"
}

var errBroken = errors.New("storage is broken")

func (f *failingStorage) fail(op string) error {
	if f.armed.Load() && f.op == op {
		return errBroken
	}
	return nil
}

func (f *failingStorage) Get(ctx context.Context, k string) (*logical.StorageEntry, error) {
	if err := f.fail("get"); err != nil {
		return nil, err
	}
	return f.Storage.Get(ctx, k)
}

func (f *failingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if err := f.fail("put"); err != nil {
		return err
	}
	return f.Storage.Put(ctx, e)
}

func (f *failingStorage) Delete(ctx context.Context, k string) error {
	if err := f.fail("delete"); err != nil {
		return err
	}
	return f.Storage.Delete(ctx, k)
}

func (f *failingStorage) List(ctx context.Context, p string) ([]string, error) {
	if err := f.fail("list"); err != nil {
		return nil, err
	}
	return f.Storage.List(ctx, p)
}

// TestStorageErrors checks that storage failures surface as errors (not
// as a login or a silent success) on every kind of request.
func TestStorageErrors(t *testing.T) {
	cases := []struct {
		op   string
		reqs func(rid, sid, acc string) []*logical.Request
	}{
		{"get", func(rid, sid, acc string) []*logical.Request {
			return []*logical.Request{
				{Operation: logical.UpdateOperation, Path: "login", Data: map[string]interface{}{"role_id": rid, "secret_id": sid}},
				{Operation: logical.ReadOperation, Path: "role/r"},
				{Operation: logical.UpdateOperation, Path: "role/r/secret-id"},
				{Operation: logical.UpdateOperation, Path: "role/r/secret-id/lookup", Data: map[string]interface{}{"secret_id": sid}},
				{Operation: logical.UpdateOperation, Path: "role/r/secret-id-accessor/lookup", Data: map[string]interface{}{"secret_id_accessor": acc}},
				{Operation: logical.DeleteOperation, Path: "role/r"},
			}
		}},
		{"put", func(rid, sid, acc string) []*logical.Request {
			return []*logical.Request{
				{Operation: logical.UpdateOperation, Path: "login", Data: map[string]interface{}{"role_id": rid, "secret_id": sid}},
				{Operation: logical.UpdateOperation, Path: "role/r", Data: map[string]interface{}{"token_ttl": 5}},
				{Operation: logical.UpdateOperation, Path: "role/r/secret-id"},
				{Operation: logical.UpdateOperation, Path: "role/r/token-ttl", Data: map[string]interface{}{"token_ttl": 5}},
			}
		}},
		{"delete", func(rid, sid, acc string) []*logical.Request {
			return []*logical.Request{
				{Operation: logical.UpdateOperation, Path: "role/r/secret-id/destroy", Data: map[string]interface{}{"secret_id": sid}},
				{Operation: logical.UpdateOperation, Path: "role/r/secret-id-accessor/destroy", Data: map[string]interface{}{"secret_id_accessor": acc}},
				{Operation: logical.DeleteOperation, Path: "role/r"},
			}
		}},
		{"list", func(rid, sid, acc string) []*logical.Request {
			return []*logical.Request{
				{Operation: logical.ListOperation, Path: "role"},
				{Operation: logical.ListOperation, Path: "role/r/secret-id"},
				{Operation: logical.UpdateOperation, Path: "tidy/secret-id"},
				{Operation: logical.DeleteOperation, Path: "role/r"},
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			h := newHarness(t)
			h.createRole("r", map[string]interface{}{"secret_id_num_uses": 5})
			rid := h.roleID("r")
			sid, acc := h.secretID("r", nil)
			fs := &failingStorage{Storage: h.s, op: tc.op}
			fs.armed.Store(true)
			for _, req := range tc.reqs(rid, sid, acc) {
				req.Storage = fs
				req.Connection = &logical.Connection{RemoteAddr: testRemote}
				resp, err := h.b.HandleRequest(context.Background(), req)
				if !errors.Is(err, errBroken) {
					t.Errorf("%s %s with failing %s: %v, %+v; want the storage error", req.Operation, req.Path, tc.op, err, resp)
				}
				if err != nil && strings.Contains(err.Error(), "invalid role or secret ID") {
					t.Errorf("storage error reported as bad credentials")
				}
			}
			fs.armed.Store(false)
			h.mustLogin(rid, sid)
		})
	}
}

// TestStaleRoleIDIndex checks that a role_id index left behind by a change
// whose clean-up failed neither logs in nor blocks the role_id's reuse.
func TestStaleRoleIDIndex(t *testing.T) {
	h := newHarness(t)
	h.createRole("a", map[string]interface{}{"role_id": "first"})
	h.createRole("b", nil)
	sid, _ := h.secretID("a", nil)
	fs := &failingStorage{Storage: h.s, op: "delete"}
	fs.armed.Store(true)
	_, err := h.b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.UpdateOperation, Path: "role/a/role-id", Data: map[string]interface{}{"role_id": "second"}, Storage: fs,
	})
	if err != nil {
		t.Fatalf("role_id change with a failing clean-up: %v", err)
	}
	if n := h.countPrefix(prefixRoleID); n != 3 {
		t.Fatalf("%d role_id index entries, want 3 with the stale one", n)
	}
	_, err = h.login("first", sid, testRemote)
	checkErr(t, err, logical.ErrInvalidRequest, "invalid role or secret ID")
	h.mustLogin("second", sid)
	h.ok(logical.UpdateOperation, "role/b/role-id", map[string]interface{}{"role_id": "first"})
	if n := h.countPrefix(prefixRoleID); n != 2 {
		t.Fatalf("%d role_id index entries after reuse, want 2", n)
	}
}
