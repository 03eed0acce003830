package kv

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestV1CRUD(t *testing.T) {
	h := newV1(t)

	if resp := h.ok(logical.ReadOperation, "foo", nil); resp != nil {
		t.Fatalf("read of a missing key = %#v, want nil", resp)
	}
	if resp := h.ok(logical.CreateOperation, "foo", obj("a", "1", "n", 2.0)); resp != nil {
		t.Fatalf("write response = %#v, want nil (204)", resp)
	}
	resp := h.ok(logical.ReadOperation, "foo", nil)
	if want := obj("a", "1", "n", json.Number("2")); !reflect.DeepEqual(resp.Data, want) {
		t.Fatalf("read = %#v, want %#v", resp.Data, want)
	}
	if resp.Secret != nil {
		t.Fatalf("version 1 read carries a secret: %#v", resp.Secret)
	}

	// A write replaces the whole object.
	h.ok(logical.UpdateOperation, "foo", obj("b", "2"))
	resp = h.ok(logical.ReadOperation, "foo", nil)
	if want := obj("b", "2"); !reflect.DeepEqual(resp.Data, want) {
		t.Fatalf("after overwrite read = %#v, want %#v", resp.Data, want)
	}

	h.ok(logical.DeleteOperation, "foo", nil)
	if resp := h.ok(logical.ReadOperation, "foo", nil); resp != nil {
		t.Fatalf("read after delete = %#v", resp)
	}
	// Deleting a missing key is not an error.
	h.ok(logical.DeleteOperation, "foo", nil)
}

func TestV1KeepsTTLAndNumbers(t *testing.T) {
	h := newV1(t)
	h.ok(logical.UpdateOperation, "app/db", obj("password", "pw", "ttl", "1h", "big", json.Number("12345678901234567890")))
	resp := h.ok(logical.ReadOperation, "app/db", nil)
	if resp.Data["ttl"] != "1h" {
		t.Fatalf("ttl = %#v, want \"1h\"", resp.Data["ttl"])
	}
	if resp.Data["big"] != json.Number("12345678901234567890") {
		t.Fatalf("big number = %#v, lost precision", resp.Data["big"])
	}
}

func TestV1List(t *testing.T) {
	h := newV1(t)
	for _, k := range []string{"a", "b/c", "b/d/e", "z"} {
		h.ok(logical.UpdateOperation, k, obj("v", k))
	}
	tests := []struct {
		path string
		want []string
	}{
		{"", []string{"a", "b/", "z"}},
		{"b/", []string{"c", "d/"}},
		{"b", []string{"c", "d/"}},
		{"b/d/", []string{"e"}},
		{"nothing/", []string{}},
	}
	for _, tt := range tests {
		resp := h.ok(logical.ListOperation, tt.path, nil)
		if got := resp.Data["keys"]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("list %q = %#v, want %#v", tt.path, got, tt.want)
		}
	}
}

func TestV1BadInput(t *testing.T) {
	h := newV1(t)
	tests := []struct {
		name string
		path string
		data map[string]interface{}
		msg  string
	}{
		{"empty body", "foo", nil, "missing data fields"},
		{"empty object", "foo", map[string]interface{}{}, "missing data fields"},
		{"no path", "", obj("a", "b"), "missing path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.do(logical.UpdateOperation, tt.path, tt.data)
			errKind(t, err, logical.ErrInvalidRequest, tt.msg)
		})
	}
}

func TestV1ExistenceCheck(t *testing.T) {
	h := newV1(t)
	ctx := context.Background()
	check := func() bool {
		found, exists, err := h.b.HandleExistenceCheck(ctx, &logical.Request{Operation: logical.CreateOperation, Path: "k", Storage: h.s})
		if err != nil || !found {
			t.Fatalf("existence check: found=%v err=%v", found, err)
		}
		return exists
	}
	if check() {
		t.Fatal("missing key reported as existing")
	}
	h.ok(logical.CreateOperation, "k", obj("a", "b"))
	if !check() {
		t.Fatal("written key reported as missing")
	}
}
