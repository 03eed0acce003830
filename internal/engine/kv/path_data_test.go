package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestDataWriteReadVersions(t *testing.T) {
	h := newV2(t)
	created1 := h.clock.Now()
	resp := h.ok(logical.CreateOperation, "data/app/db", obj("data", obj("user", "u1")))
	want := map[string]interface{}{
		"version":         uint64(1),
		"created_time":    "2024-05-06T07:08:09.123456789Z",
		"deletion_time":   "",
		"destroyed":       false,
		"custom_metadata": map[string]string(nil),
	}
	if !reflect.DeepEqual(resp.Data, want) {
		t.Fatalf("write response = %#v, want %#v", resp.Data, want)
	}

	h.clock.Add(time.Second)
	if v := h.put("app/db", obj("user", "u2", "port", 5432.0)); v != 2 {
		t.Fatalf("second write = version %d", v)
	}

	tests := []struct {
		query    map[string]interface{}
		version  uint64
		data     map[string]interface{}
		creation time.Time
	}{
		{nil, 2, obj("user", "u2", "port", json.Number("5432")), created1.Add(time.Second)},
		{obj("version", "1"), 1, obj("user", "u1"), created1},
		{obj("version", 2), 2, obj("user", "u2", "port", json.Number("5432")), created1.Add(time.Second)},
		{obj("version", "0"), 2, obj("user", "u2", "port", json.Number("5432")), created1.Add(time.Second)},
	}
	for _, tt := range tests {
		resp := h.ok(logical.ReadOperation, "data/app/db", tt.query)
		if !reflect.DeepEqual(resp.Data["data"], tt.data) {
			t.Errorf("read %v data = %#v, want %#v", tt.query, resp.Data["data"], tt.data)
		}
		meta := resp.Data["metadata"].(map[string]interface{})
		if meta["version"] != tt.version || meta["created_time"] != tt.creation.Format(time.RFC3339Nano) {
			t.Errorf("read %v metadata = %#v", tt.query, meta)
		}
	}

	for _, q := range []map[string]interface{}{obj("version", 3), nil} {
		path := "data/app/db"
		if q == nil {
			path = "data/app/none"
		}
		if resp := h.ok(logical.ReadOperation, path, q); resp != nil {
			t.Errorf("read %s %v = %#v, want nil", path, q, resp)
		}
	}
}

func TestDataBadInput(t *testing.T) {
	h := newV2(t)
	h.put("k", obj("a", "b"))
	tests := []struct {
		name string
		op   logical.Operation
		data map[string]interface{}
		msg  string
	}{
		{"no data", logical.UpdateOperation, obj("options", obj("cas", 1)), "no data provided"},
		{"null data", logical.UpdateOperation, obj("data", nil), "no data provided"},
		{"data not an object", logical.UpdateOperation, obj("data", 42.0), ""},
		{"data a list", logical.UpdateOperation, obj("data", []interface{}{"a"}), ""},
		{"options not an object", logical.UpdateOperation, obj("data", obj("a", 1), "options", 5.0), ""},
		{"cas not a number", logical.UpdateOperation, obj("data", obj("a", 1), "options", obj("cas", "one")), "error parsing check-and-set parameter"},
		{"cas a fraction", logical.UpdateOperation, obj("data", obj("a", 1), "options", obj("cas", 1.5)), "error parsing check-and-set parameter"},
		{"cas a list", logical.UpdateOperation, obj("data", obj("a", 1), "options", obj("cas", []interface{}{1})), "error parsing check-and-set parameter"},
		{"version not a number", logical.ReadOperation, obj("version", "latest"), ""},
		{"patch without data", logical.PatchOperation, obj("options", obj()), "no data provided"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.do(tt.op, "data/k", tt.data)
			errKind(t, err, logical.ErrInvalidRequest, tt.msg)
		})
	}
	// Nothing above created a version.
	if resp := h.ok(logical.ReadOperation, "metadata/k", nil); resp.Data["current_version"] != uint64(1) {
		t.Fatalf("current_version = %v after rejected writes", resp.Data["current_version"])
	}
}

func TestDataCheckAndSet(t *testing.T) {
	tests := []struct {
		name     string
		mountCAS bool
		keyCAS   bool
		existing int // versions written before the test write
		options  map[string]interface{}
		msg      string // "" = the write succeeds
	}{
		{name: "no cas", existing: 1},
		{name: "cas 0 on new key", options: obj("cas", 0.0)},
		{name: "cas 0 on existing key", existing: 1, options: obj("cas", 0.0), msg: "check-and-set parameter did not match the current version"},
		{name: "cas current", existing: 2, options: obj("cas", 2.0)},
		{name: "cas as string", existing: 2, options: obj("cas", "2")},
		{name: "cas as json number", existing: 2, options: obj("cas", json.Number("2"))},
		{name: "cas stale", existing: 2, options: obj("cas", 1.0), msg: "check-and-set parameter did not match the current version"},
		{name: "cas ahead", existing: 2, options: obj("cas", 3.0), msg: "check-and-set parameter did not match the current version"},
		{name: "cas negative", existing: 0, options: obj("cas", -1.0), msg: "check-and-set parameter did not match the current version"},
		{name: "mount requires cas", mountCAS: true, existing: 1, msg: "check-and-set parameter required for this call"},
		{name: "mount requires cas, empty options", mountCAS: true, existing: 1, options: obj(), msg: "check-and-set parameter required for this call"},
		{name: "mount requires cas, given", mountCAS: true, existing: 1, options: obj("cas", 1.0)},
		{name: "key requires cas", keyCAS: true, existing: 1, msg: "check-and-set parameter required for this call"},
		{name: "key requires cas, given", keyCAS: true, existing: 1, options: obj("cas", 1.0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newV2(t)
			for i := 0; i < tt.existing; i++ {
				h.put("k", obj("i", i))
			}
			if tt.mountCAS {
				h.ok(logical.UpdateOperation, "config", obj("cas_required", true))
			}
			if tt.keyCAS {
				h.ok(logical.UpdateOperation, "metadata/k", obj("cas_required", true))
			}
			body := obj("data", obj("new", "value"))
			if tt.options != nil {
				body["options"] = tt.options
			}
			resp, err := h.do(logical.UpdateOperation, "data/k", body)
			if tt.msg != "" {
				errKind(t, err, logical.ErrInvalidRequest, tt.msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resp.Data["version"], uint64(tt.existing+1); got != want {
				t.Fatalf("version = %v, want %v", got, want)
			}
		})
	}
}

func TestDataDeleteLatestReturnsMetadataWith404(t *testing.T) {
	h := newV2(t)
	h.put("k", obj("a", "1"))
	h.put("k", obj("a", "2"))
	h.clock.Add(time.Minute)
	if resp := h.ok(logical.DeleteOperation, "data/k", nil); resp != nil {
		t.Fatalf("delete response = %#v, want nil (204)", resp)
	}
	h.clock.Add(time.Second)
	resp, err := h.do(logical.ReadOperation, "data/k", nil)
	if !errors.Is(err, logical.ErrNotFound) {
		t.Fatalf("read of a deleted version: err = %v, want ErrNotFound", err)
	}
	if resp == nil || resp.Data["data"] != nil {
		t.Fatalf("read of a deleted version: resp = %#v, want null data with metadata", resp)
	}
	meta := resp.Data["metadata"].(map[string]interface{})
	wantDeleted := h.clock.Now().Add(-time.Second).Format(time.RFC3339Nano)
	if meta["version"] != uint64(2) || meta["deletion_time"] != wantDeleted || meta["destroyed"] != false {
		t.Fatalf("metadata = %#v, want version 2 deleted at %s", meta, wantDeleted)
	}
	// Older versions stay readable.
	if resp := h.ok(logical.ReadOperation, "data/k", obj("version", 1)); resp.Data["data"].(map[string]interface{})["a"] != "1" {
		t.Fatalf("version 1 = %#v", resp.Data)
	}
	// Deleting again keeps the first deletion time.
	h.clock.Add(time.Hour)
	h.ok(logical.DeleteOperation, "data/k", nil)
	resp, _ = h.do(logical.ReadOperation, "data/k", nil)
	if got := resp.Data["metadata"].(map[string]interface{})["deletion_time"]; got != wantDeleted {
		t.Fatalf("deletion_time moved to %v", got)
	}
	// Deleting a key that does not exist is not an error.
	if resp := h.ok(logical.DeleteOperation, "data/none", nil); resp != nil {
		t.Fatalf("delete of a missing key = %#v", resp)
	}
}

func TestDataDeleteVersionAfter(t *testing.T) {
	h := newV2(t)
	h.ok(logical.UpdateOperation, "config", obj("delete_version_after", "1h"))
	resp := h.ok(logical.UpdateOperation, "data/k", obj("data", obj("a", 1)))
	want := h.clock.Now().Add(time.Hour).Format(time.RFC3339Nano)
	if resp.Data["deletion_time"] != want {
		t.Fatalf("deletion_time = %v, want %s", resp.Data["deletion_time"], want)
	}
	// Readable until the deletion time passes.
	h.clock.Add(59 * time.Minute)
	if _, err := h.do(logical.ReadOperation, "data/k", nil); err != nil {
		t.Fatalf("read before deletion time: %v", err)
	}
	h.clock.Add(2 * time.Minute)
	if _, err := h.do(logical.ReadOperation, "data/k", nil); !errors.Is(err, logical.ErrNotFound) {
		t.Fatalf("read after deletion time: err = %v", err)
	}

	// The shorter of mount and key settings applies; a disabled mount
	// setting turns it off.
	h.ok(logical.UpdateOperation, "metadata/k", obj("delete_version_after", "10m"))
	resp = h.ok(logical.UpdateOperation, "data/k", obj("data", obj("a", 2)))
	if want := h.clock.Now().Add(10 * time.Minute).Format(time.RFC3339Nano); resp.Data["deletion_time"] != want {
		t.Fatalf("deletion_time with key 10m = %v, want %s", resp.Data["deletion_time"], want)
	}
	h.ok(logical.UpdateOperation, "config", obj("delete_version_after", -1))
	resp = h.ok(logical.UpdateOperation, "data/k", obj("data", obj("a", 3)))
	if resp.Data["deletion_time"] != "" {
		t.Fatalf("deletion_time with mount setting disabled = %v", resp.Data["deletion_time"])
	}
}

func TestDataPatch(t *testing.T) {
	h := newV2(t)
	h.put("k", obj("a", "1", "b", "2", "nested", obj("x", "1", "y", "2")))
	resp := h.ok(logical.PatchOperation, "data/k", obj("data", obj(
		"b", nil, "c", "3", "nested", obj("x", nil, "z", "3"), "new", obj("p", "q", "gone", nil))))
	if resp.Data["version"] != uint64(2) {
		t.Fatalf("patch response = %#v", resp.Data)
	}
	got := h.ok(logical.ReadOperation, "data/k", nil).Data["data"]
	want := obj("a", "1", "c", "3", "nested", obj("y", "2", "z", "3"), "new", obj("p", "q"))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after patch = %#v, want %#v", got, want)
	}
	// The previous version is unchanged.
	if v1 := h.ok(logical.ReadOperation, "data/k", obj("version", 1)).Data["data"].(map[string]interface{}); v1["b"] != "2" {
		t.Fatalf("version 1 changed: %#v", v1)
	}

	// cas applies to patches too.
	_, err := h.do(logical.PatchOperation, "data/k", obj("data", obj("a", "x"), "options", obj("cas", 1)))
	errKind(t, err, logical.ErrInvalidRequest, "check-and-set parameter did not match the current version")
	if resp := h.ok(logical.PatchOperation, "data/k", obj("data", obj("a", "x"), "options", obj("cas", 2))); resp.Data["version"] != uint64(3) {
		t.Fatalf("patch with cas = %#v", resp.Data)
	}

	// Missing key: plain 404.
	resp, err = h.do(logical.PatchOperation, "data/none", obj("data", obj("a", "x")))
	if !errors.Is(err, logical.ErrNotFound) || resp != nil {
		t.Fatalf("patch of a missing key: resp=%#v err=%v", resp, err)
	}
	// Deleted current version: 404 with the version's metadata.
	h.ok(logical.DeleteOperation, "data/k", nil)
	h.clock.Add(time.Second)
	resp, err = h.do(logical.PatchOperation, "data/k", obj("data", obj("a", "y")))
	if !errors.Is(err, logical.ErrNotFound) || resp == nil || resp.Data["version"] != uint64(3) || resp.Data["deletion_time"] == "" {
		t.Fatalf("patch of a deleted version: resp=%#v err=%v", resp, err)
	}
}

func TestDataExistenceCheck(t *testing.T) {
	h := newV2(t)
	check := func(path string) bool {
		found, exists, err := h.b.HandleExistenceCheck(context.Background(), &logical.Request{Operation: logical.CreateOperation, Path: path, Storage: h.s})
		if err != nil || !found {
			t.Fatalf("existence check of %s: found=%v err=%v", path, found, err)
		}
		return exists
	}
	if check("data/k") || check("metadata/k") {
		t.Fatal("missing key reported as existing")
	}
	h.put("k", obj("a", 1))
	if !check("data/k") || !check("metadata/k") {
		t.Fatal("written key reported as missing")
	}
}

func TestDataConcurrentWritersKeepEveryVersion(t *testing.T) {
	h := newV2(t)
	h.ok(logical.UpdateOperation, "config", obj("max_versions", 1000))
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := h.do(logical.UpdateOperation, "data/shared", obj("data", obj("w", fmt.Sprint(w), "i", i))); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	meta := h.ok(logical.ReadOperation, "metadata/shared", nil).Data
	if meta["current_version"] != uint64(writers*each) {
		t.Fatalf("current_version = %v, want %d", meta["current_version"], writers*each)
	}
	if n := len(meta["versions"].(map[string]interface{})); n != writers*each {
		t.Fatalf("%d versions recorded, want %d", n, writers*each)
	}
	for v := 1; v <= writers*each; v++ {
		if resp := h.ok(logical.ReadOperation, "data/shared", obj("version", v)); resp == nil || resp.Data["data"] == nil {
			t.Fatalf("version %d has no data", v)
		}
	}
}

func TestMergePatch(t *testing.T) {
	tests := []struct {
		target, patch, want interface{}
	}{
		{obj("a", "b"), obj("a", "c"), obj("a", "c")},
		{obj("a", "b"), obj("b", "c"), obj("a", "b", "b", "c")},
		{obj("a", "b"), obj("a", nil), obj()},
		{obj("a", "b", "b", "c"), obj("a", nil), obj("b", "c")},
		{obj("a", []interface{}{"b"}), obj("a", "c"), obj("a", "c")},
		{obj("a", "c"), obj("a", []interface{}{"b"}), obj("a", []interface{}{"b"})},
		{obj("a", obj("b", "c")), obj("a", obj("b", "d", "c", nil)), obj("a", obj("b", "d"))},
		{obj("a", obj("b", "c")), obj("a", 1.0), obj("a", 1.0)},
		{obj("e", nil), obj("a", 1.0), obj("e", nil, "a", 1.0)},
		{obj(), obj("a", obj("bb", obj("ccc", nil))), obj("a", obj("bb", obj()))},
	}
	for i, tt := range tests {
		if got := mergePatch(tt.target, tt.patch); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("case %d: mergePatch = %#v, want %#v", i, got, tt.want)
		}
	}
}
