package kv

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestFactoryVersions(t *testing.T) {
	tests := []struct {
		version string
		want    string // "v1", "v2" or "" for an error
		errText string
	}{
		{version: "", want: "v1"},
		{version: "1", want: "v1"},
		{version: "2", want: "v2"},
		{version: "3", errText: `accepted values are "1" and "2"`},
		{version: "v2", errText: `invalid kv version "v2"`},
	}
	for _, tt := range tests {
		t.Run("version="+tt.version, func(t *testing.T) {
			b, err := Factory(context.Background(), &logical.BackendConfig{
				StorageView: logical.NewInmemStorage(),
				Config:      map[string]string{"version": tt.version},
				BackendUUID: testUUID,
			})
			if tt.want == "" {
				errKind(t, err, logical.ErrInvalidRequest, "")
				if !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("error %q does not mention %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch b.(type) {
			case *passthrough:
				if tt.want != "v1" {
					t.Fatalf("got version 1 backend, want %s", tt.want)
				}
			case *versioned:
				if tt.want != "v2" {
					t.Fatalf("got version 2 backend, want %s", tt.want)
				}
			default:
				t.Fatalf("unexpected backend %T", b)
			}
			if b.Type() != logical.TypeLogical {
				t.Fatalf("Type() = %v", b.Type())
			}
		})
	}
}

func TestFactoryNeedsConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := Factory(ctx, nil); err == nil {
		t.Fatal("nil config accepted")
	}
	_, err := Factory(ctx, &logical.BackendConfig{StorageView: logical.NewInmemStorage(), Config: map[string]string{"version": "2"}})
	if err == nil || !strings.Contains(err.Error(), "UUID") {
		t.Fatalf("version 2 without a backend UUID: err = %v", err)
	}
	_, err = Factory(ctx, &logical.BackendConfig{Config: map[string]string{"version": "2"}, BackendUUID: testUUID})
	if err == nil {
		t.Fatal("version 2 without a storage view accepted")
	}
	if _, err := Factory(ctx, &logical.BackendConfig{}); err != nil {
		t.Fatalf("version 1 with an empty config: %v", err)
	}
}

func TestPathTables(t *testing.T) {
	framework.TestPaths(t, newPassthrough().paths())
	v, err := newVersioned(&logical.BackendConfig{BackendUUID: testUUID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	framework.TestPaths(t, v.paths())
}

func TestV2InvalidPaths(t *testing.T) {
	h := newV2(t)
	tests := []struct {
		op      logical.Operation
		path    string
		warning string
	}{
		{logical.ReadOperation, "foo", "use 'vault kv get' for this operation"},
		{logical.UpdateOperation, "foo/bar", "use 'vault kv put' for this operation"},
		{logical.CreateOperation, "foo", "use 'vault kv put' for this operation"},
		{logical.PatchOperation, "foo", "use 'vault kv patch' for this operation"},
		{logical.DeleteOperation, "foo", "use 'vault kv delete' for this operation"},
		{logical.ListOperation, "foo/", "use 'vault kv list' for this operation"},
		{logical.ListOperation, "data/foo/", "use 'vault kv list' for this operation"},
		{logical.ReadOperation, "data/", "use 'vault kv get' for this operation"},
		{logical.ReadOperation, "metadata", "Non-listing operations on the root of a K/V v2 mount are not supported."},
		{logical.UpdateOperation, "data", "Non-listing operations on the root of a K/V v2 mount are not supported."},
	}
	for _, tt := range tests {
		t.Run(string(tt.op)+" "+tt.path, func(t *testing.T) {
			resp, err := h.do(tt.op, tt.path, obj("data", obj("a", "b")))
			if !errors.Is(err, logical.ErrUnsupportedPath) {
				t.Fatalf("err = %v, want unsupported path", err)
			}
			if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], tt.warning) {
				t.Fatalf("warnings = %#v, want one containing %q", resp, tt.warning)
			}
			if strings.Contains(tt.warning, "Invalid path") && !strings.HasPrefix(resp.Warnings[0], "Invalid path for a versioned K/V secrets engine.") {
				t.Fatalf("warning = %q", resp.Warnings[0])
			}
		})
	}
}

func TestV2UnsupportedOperation(t *testing.T) {
	h := newV2(t)
	_, err := h.do(logical.DeleteOperation, "config", nil)
	errKind(t, err, logical.ErrUnsupportedOperation, "")
	_, err = h.do(logical.ListOperation, "subkeys/foo", nil)
	errKind(t, err, logical.ErrUnsupportedOperation, "")
}

func TestHelp(t *testing.T) {
	tests := []struct{ version, path, want string }{
		{"1", "", "Pass-through secret storage"},
		{"2", "", "keeps a configurable number of versions"},
		{"2", "data/foo", "Write, patch, read and delete versioned data."},
	}
	for _, tt := range tests {
		h := newHarness(t, tt.version, nil)
		resp := h.ok(logical.HelpOperation, tt.path, nil)
		if help, _ := resp.Data["help"].(string); !strings.Contains(help, tt.want) {
			t.Fatalf("version %s help for %q = %q, want it to contain %q", tt.version, tt.path, help, tt.want)
		}
	}
}

func TestKeyLocksSpread(t *testing.T) {
	var l keyLocks
	seen := map[interface{}]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		seen[l.get(k)] = true
		if l.get(k) != l.get(k) {
			t.Fatalf("lock for %q is not stable", k)
		}
	}
	if len(seen) < 4 {
		t.Fatalf("8 keys map to only %d locks", len(seen))
	}
}
