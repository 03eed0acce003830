package kv

import (
	"errors"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// versionState reads one version: "ok", "deleted", "destroyed" or "gone".
func (h *harness) versionState(key string, v int) string {
	h.t.Helper()
	resp, err := h.do(logical.ReadOperation, "data/"+key, obj("version", v))
	switch {
	case err == nil && resp == nil:
		return "gone"
	case err == nil:
		return "ok"
	case errors.Is(err, logical.ErrNotFound):
		meta := resp.Data["metadata"].(map[string]interface{})
		if meta["destroyed"] == true {
			return "destroyed"
		}
		return "deleted"
	}
	h.t.Fatalf("read version %d: %v", v, err)
	return ""
}

func TestDeleteUndeleteDestroy(t *testing.T) {
	type step struct {
		path     string
		versions interface{}
	}
	tests := []struct {
		name  string
		steps []step
		want  []string // state of versions 1..3
	}{
		{"delete one", []step{{"delete/k", []interface{}{2.0}}}, []string{"ok", "deleted", "ok"}},
		{"delete several as a string", []step{{"delete/k", "1,3"}}, []string{"deleted", "ok", "deleted"}},
		{"delete unknown versions is harmless", []step{{"delete/k", []interface{}{7.0, 0.0, -1.0}}}, []string{"ok", "ok", "ok"}},
		{"undelete", []step{{"delete/k", "1,2"}, {"undelete/k", []interface{}{1.0}}}, []string{"ok", "deleted", "ok"}},
		{"undelete a live version", []step{{"undelete/k", "3"}}, []string{"ok", "ok", "ok"}},
		{"destroy", []step{{"destroy/k", []interface{}{1.0, 3.0}}}, []string{"destroyed", "ok", "destroyed"}},
		{"destroy a deleted version", []step{{"delete/k", "2"}, {"destroy/k", "2"}}, []string{"ok", "destroyed", "ok"}},
		{"undelete cannot restore destroyed", []step{{"destroy/k", "2"}, {"undelete/k", "2"}}, []string{"ok", "destroyed", "ok"}},
		{"delete after destroy keeps it destroyed", []step{{"destroy/k", "2"}, {"delete/k", "2"}}, []string{"ok", "destroyed", "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newV2(t)
			for i := 1; i <= 3; i++ {
				h.put("k", obj("i", i))
			}
			for _, s := range tt.steps {
				if resp := h.ok(logical.UpdateOperation, s.path, obj("versions", s.versions)); resp != nil {
					t.Fatalf("%s response = %#v, want nil (204)", s.path, resp)
				}
			}
			h.clock.Add(time.Second)
			for i, want := range tt.want {
				if got := h.versionState("k", i+1); got != want {
					t.Errorf("version %d is %s, want %s", i+1, got, want)
				}
			}
		})
	}
}

func TestDestroyRemovesData(t *testing.T) {
	h := newV2(t)
	h.put("k", obj("secret", "s1"))
	h.put("k", obj("secret", "s2"))
	h.ok(logical.UpdateOperation, "destroy/k", obj("versions", "1"))
	e, err := h.s.Get(t.Context(), testUUID+"/versions/k/1")
	if err != nil || e != nil {
		t.Fatalf("destroyed data still stored: %v %v", e, err)
	}
	if e, _ := h.s.Get(t.Context(), testUUID+"/versions/k/2"); e == nil {
		t.Fatal("version 2 data removed too")
	}
	meta := h.ok(logical.ReadOperation, "metadata/k", nil).Data["versions"].(map[string]interface{})
	if meta["1"].(map[string]interface{})["destroyed"] != true {
		t.Fatalf("metadata of version 1 = %#v", meta["1"])
	}
}

func TestVersionOpsBadInput(t *testing.T) {
	h := newV2(t)
	h.put("k", obj("a", 1))
	tests := []struct {
		path string
		data map[string]interface{}
		msg  string
	}{
		{"delete/k", nil, "No version number provided"},
		{"delete/k", obj("versions", []interface{}{}), "No version number provided"},
		{"undelete/k", obj("versions", ""), "No version number provided"},
		{"destroy/k", nil, "no version number provided"},
		{"destroy/k", obj("versions", "one"), ""},
		{"delete/k", obj("versions", []interface{}{"x"}), ""},
	}
	for _, tt := range tests {
		_, err := h.do(logical.UpdateOperation, tt.path, tt.data)
		errKind(t, err, logical.ErrInvalidRequest, tt.msg)
	}
	// Operations on a missing key succeed and do nothing.
	for _, p := range []string{"delete/none", "undelete/none", "destroy/none"} {
		if resp := h.ok(logical.UpdateOperation, p, obj("versions", "1")); resp != nil {
			t.Fatalf("%s = %#v", p, resp)
		}
		if resp := h.ok(logical.ReadOperation, "metadata/none", nil); resp != nil {
			t.Fatalf("%s created metadata", p)
		}
	}
}

func TestUndeleteReappliesDeleteVersionAfter(t *testing.T) {
	h := newV2(t)
	h.ok(logical.UpdateOperation, "metadata/k", obj("delete_version_after", "1h"))
	h.put("k", obj("a", 1))
	h.clock.Add(2 * time.Hour)
	if got := h.versionState("k", 1); got != "deleted" {
		t.Fatalf("after delete_version_after: %s", got)
	}
	h.ok(logical.UpdateOperation, "undelete/k", obj("versions", "1"))
	if got := h.versionState("k", 1); got != "ok" {
		t.Fatalf("after undelete: %s", got)
	}
	h.clock.Add(61 * time.Minute)
	if got := h.versionState("k", 1); got != "deleted" {
		t.Fatalf("an hour after undelete: %s", got)
	}
}
