package kv

import (
	"errors"
	"reflect"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestSubkeys(t *testing.T) {
	h := newV2(t)
	h.put("k", obj("foo", "abc", "bar", obj("a", "x", "b", obj("c", 1.0), "empty", obj()), "list", []interface{}{"x"}))
	h.put("k", obj("only", "v2"))

	tests := []struct {
		name  string
		query map[string]interface{}
		want  map[string]interface{}
	}{
		{"version 1, no limit", obj("version", 1), obj("foo", nil, "bar", obj("a", nil, "b", obj("c", nil), "empty", nil), "list", nil)},
		{"depth 1", obj("version", "1", "depth", "1"), obj("foo", nil, "bar", nil, "list", nil)},
		{"depth 2", obj("version", 1, "depth", 2), obj("foo", nil, "bar", obj("a", nil, "b", nil, "empty", nil), "list", nil)},
		{"depth 0 is no limit", obj("version", 1, "depth", 0), obj("foo", nil, "bar", obj("a", nil, "b", obj("c", nil), "empty", nil), "list", nil)},
		{"current version", nil, obj("only", nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.ok(logical.ReadOperation, "subkeys/k", tt.query)
			if got := resp.Data["subkeys"]; !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("subkeys = %#v, want %#v", got, tt.want)
			}
			if _, ok := resp.Data["metadata"].(map[string]interface{})["created_time"]; !ok {
				t.Fatalf("metadata missing: %#v", resp.Data)
			}
		})
	}

	if resp := h.ok(logical.ReadOperation, "subkeys/none", nil); resp != nil {
		t.Fatalf("subkeys of a missing key = %#v", resp)
	}
	if resp := h.ok(logical.ReadOperation, "subkeys/k", obj("version", 9)); resp != nil {
		t.Fatalf("subkeys of a missing version = %#v", resp)
	}
	_, err := h.do(logical.ReadOperation, "subkeys/k", obj("depth", "deep"))
	errKind(t, err, logical.ErrInvalidRequest, "")

	h.ok(logical.UpdateOperation, "destroy/k", obj("versions", "2"))
	resp, err := h.do(logical.ReadOperation, "subkeys/k", nil)
	if !errors.Is(err, logical.ErrNotFound) || resp == nil || resp.Data["subkeys"] != nil {
		t.Fatalf("subkeys of a destroyed version: resp=%#v err=%v", resp, err)
	}
}

func TestStripValuesDepthCap(t *testing.T) {
	// Build an object nested deeper than the cap; nothing below it may leak.
	root := obj()
	cur := root
	for i := 0; i < maxSubkeysDepth+5; i++ {
		next := obj("leaf", "secret")
		cur["n"] = next
		cur = next
	}
	stripValues(root, 0, 1)
	depth := 1
	for m := root; ; depth++ {
		if m["leaf"] != nil {
			t.Fatalf("value leaked at depth %d", depth)
		}
		next, ok := m["n"].(map[string]interface{})
		if !ok {
			break
		}
		m = next
	}
	if depth != maxSubkeysDepth {
		t.Fatalf("walked %d levels, want %d", depth, maxSubkeysDepth)
	}
}
