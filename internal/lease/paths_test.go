package lease

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPathTable(t *testing.T) {
	framework.TestPaths(t, Paths(New(logical.NewInmemStorage(), newFakeRevoker(), Options{})))
}

// sysBackend serves the lease paths the way the sys backend will.
func sysBackend(m *Manager) *framework.Backend {
	return &framework.Backend{Paths: Paths(m), PathsSpecial: &logical.Paths{Root: SudoPaths()}}
}

func call(t *testing.T, b *framework.Backend, op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
	t.Helper()
	return b.HandleRequest(context.Background(), &logical.Request{Operation: op, Path: path, Data: data})
}

func TestSysPaths(t *testing.T) {
	ctx := context.Background()
	m, f, s := newStarted(t, testOptions())
	b := sysBackend(m)
	renewable := mustRegister(t, m, "database/creds/ro", "tok", time.Hour)
	fixed, err := m.Register(ctx, "database/creds/ro", "tok", secret(time.Hour, false))
	if err != nil {
		t.Fatal(err)
	}

	errTests := []struct {
		name    string
		op      logical.Operation
		path    string
		data    map[string]interface{}
		wantMsg string
	}{
		{"lookup without id", logical.UpdateOperation, "leases/lookup", nil, "lease_id must be specified"},
		{"lookup unknown", logical.UpdateOperation, "leases/lookup", map[string]interface{}{"lease_id": "database/creds/ro/nope"}, "invalid lease"},
		{"renew without id", logical.UpdateOperation, "leases/renew", nil, "lease_id must be specified"},
		{"renew unknown", logical.UpdateOperation, "leases/renew", map[string]interface{}{"lease_id": "database/creds/ro/nope"}, "lease not found"},
		{"unknown path", logical.UpdateOperation, "sys/renew", nil, ""},
		{"renew fixed", logical.UpdateOperation, "leases/renew/" + fixed.ID, nil, "lease is not renewable"},
		{"revoke without id", logical.UpdateOperation, "leases/revoke", nil, "lease_id must be specified"},
		{"bad limit", logical.ReadOperation, "leases", map[string]interface{}{"type": "irrevocable", "limit": "0"}, "limit must be 'none' or a positive integer"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := call(t, b, tt.op, tt.path, tt.data)
			if tt.wantMsg == "" {
				if !errors.Is(err, logical.ErrUnsupportedPath) {
					t.Fatalf("error = %v, want unsupported path", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantMsg || !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("error = %v, want 400 %q", err, tt.wantMsg)
			}
		})
	}

	t.Run("lookup", func(t *testing.T) {
		resp, err := call(t, b, logical.UpdateOperation, "leases/lookup", map[string]interface{}{"lease_id": renewable.ID})
		if err != nil {
			t.Fatal(err)
		}
		d := resp.Data
		if d["id"] != renewable.ID || d["renewable"] != true || d["last_renewal"] != nil {
			t.Fatalf("lookup data = %v", d)
		}
		if ttl := d["ttl"].(int64); ttl < 3590 || ttl > 3600 {
			t.Fatalf("ttl = %d", ttl)
		}
		if _, ok := d["issue_time"].(time.Time); !ok {
			t.Fatalf("issue_time = %T", d["issue_time"])
		}
		if et, ok := d["expire_time"].(time.Time); !ok || !et.Equal(renewable.ExpireTime) {
			t.Fatalf("expire_time = %v", d["expire_time"])
		}
	})

	for _, p := range []string{"leases/renew", "renew", "leases/renew/" + renewable.ID, "renew/" + renewable.ID} {
		t.Run("renew via "+p, func(t *testing.T) {
			data := map[string]interface{}{"increment": "30m"}
			if p == "leases/renew" || p == "renew" {
				data["lease_id"] = renewable.ID
			}
			resp, err := call(t, b, logical.UpdateOperation, p, data)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Secret == nil || resp.Secret.LeaseID != renewable.ID || resp.Secret.TTL != 30*time.Minute || !resp.Secret.Renewable {
				t.Fatalf("renew secret = %+v", resp.Secret)
			}
		})
	}

	t.Run("list", func(t *testing.T) {
		resp, err := call(t, b, logical.ListOperation, "leases/lookup/database/creds/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(resp.Data["keys"]) != "[ro/]" {
			t.Fatalf("keys = %v", resp.Data["keys"])
		}
		resp, err = call(t, b, logical.ListOperation, "leases/lookup/", nil)
		if err != nil || fmt.Sprint(resp.Data["keys"]) != "[database/]" {
			t.Fatalf("top-level keys = %v, %v", resp, err)
		}
	})

	t.Run("count", func(t *testing.T) {
		resp, err := call(t, b, logical.ReadOperation, "leases/count", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Data["lease_count"] != 2 || resp.Data["counts"].(map[string]interface{})["database/"] != 2 {
			t.Fatalf("count = %v", resp.Data)
		}
		resp, err = call(t, b, logical.ReadOperation, "leases/count", map[string]interface{}{"type": "irrevocable"})
		if err != nil || resp.Data["lease_count"] != 0 {
			t.Fatalf("irrevocable count = %v, %v", resp, err)
		}
	})

	t.Run("revoke async", func(t *testing.T) {
		e := mustRegister(t, m, "database/creds/rw", "tok", time.Hour)
		resp, err := call(t, b, logical.UpdateOperation, "leases/revoke/"+e.ID, map[string]interface{}{"sync": false})
		if err != nil {
			t.Fatal(err)
		}
		if resp == nil || resp.RawStatus != 202 {
			t.Fatalf("async revoke response = %+v, want 202", resp)
		}
		waitFor(t, "async revoke", func() bool { return f.revokedCount(e.ID) == 1 })
	})

	t.Run("revoke sync", func(t *testing.T) {
		for _, p := range []string{"leases/revoke", "revoke"} {
			e := mustRegister(t, m, "database/creds/rw", "tok", time.Hour)
			resp, err := call(t, b, logical.UpdateOperation, p, map[string]interface{}{"lease_id": e.ID})
			if err != nil || resp != nil {
				t.Fatalf("%s: %v, %v", p, resp, err)
			}
			if f.revokedCount(e.ID) != 1 || exists(t, s, "id/"+e.ID) {
				t.Fatalf("%s did not revoke synchronously", p)
			}
		}
	})

	t.Run("revoke prefix and force", func(t *testing.T) {
		a := mustRegister(t, m, "aws/creds/x", "tok", time.Hour)
		if _, err := call(t, b, logical.UpdateOperation, "leases/revoke-prefix/aws/", nil); err != nil {
			t.Fatal(err)
		}
		if exists(t, s, "id/"+a.ID) {
			t.Fatal("revoke-prefix left the lease")
		}
		c := mustRegister(t, m, "aws/creds/x", "tok", time.Hour)
		f.setFail(func(*Entry, int) error { return errTargetDown })
		defer f.setFail(nil)
		if _, err := call(t, b, logical.UpdateOperation, "revoke-prefix/aws", nil); err == nil {
			t.Fatal("revoke-prefix hid the backend error")
		}
		if _, err := call(t, b, logical.UpdateOperation, "leases/revoke-force/aws", nil); err != nil {
			t.Fatal(err)
		}
		if exists(t, s, "id/"+c.ID) {
			t.Fatal("revoke-force left the lease")
		}
	})

	t.Run("irrevocable list", func(t *testing.T) {
		e := mustRegister(t, m, "pki/issue/web", "tok", time.Hour)
		got, _ := m.Lookup(ctx, e.ID)
		got.Irrevocable, got.LastError = true, "out of retries: boom"
		if err := m.persist(ctx, got); err != nil {
			t.Fatal(err)
		}
		m.mu.Lock()
		m.trackLocked(e.ID, got.ExpireTime, true)
		m.mu.Unlock()
		resp, err := call(t, b, logical.ReadOperation, "leases", map[string]interface{}{"type": "irrevocable"})
		if err != nil {
			t.Fatal(err)
		}
		leases := resp.Data["leases"].([]interface{})
		if resp.Data["lease_count"] != 1 || len(leases) != 1 {
			t.Fatalf("irrevocable list = %v", resp.Data)
		}
		row := leases[0].(map[string]interface{})
		if row["lease_id"] != e.ID || row["mount_id"] != "pki/" || row["error"] != "out of retries: boom" {
			t.Fatalf("row = %v", row)
		}
		resp, _ = call(t, b, logical.ReadOperation, "leases/count", map[string]interface{}{"type": "irrevocable"})
		if resp.Data["lease_count"] != 1 {
			t.Fatalf("irrevocable count = %v", resp.Data)
		}
		if resp, _ := call(t, b, logical.ReadOperation, "leases", nil); resp != nil {
			t.Fatalf("leases without type = %v", resp.Data)
		}
	})

	t.Run("tidy", func(t *testing.T) {
		resp, err := call(t, b, logical.UpdateOperation, "leases/tidy", nil)
		if err != nil || resp == nil || resp.RawStatus != 202 || resp.Raw == nil {
			t.Fatalf("tidy = %+v, %v", resp, err)
		}
	})
}
