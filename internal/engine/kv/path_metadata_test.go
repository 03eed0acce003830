package kv

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestMetadataRead(t *testing.T) {
	h := newV2(t)
	t0 := h.clock.Now()
	h.put("k", obj("a", 1))
	h.clock.Add(time.Second)
	h.put("k", obj("a", 2))
	h.clock.Add(time.Second)
	h.ok(logical.DeleteOperation, "data/k", nil)

	got := h.ok(logical.ReadOperation, "metadata/k", nil).Data
	f := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	want := map[string]interface{}{
		"cas_required":         false,
		"created_time":         f(t0),
		"current_version":      uint64(2),
		"custom_metadata":      map[string]string(nil),
		"delete_version_after": "0s",
		"max_versions":         uint32(0),
		"oldest_version":       uint64(0),
		"updated_time":         f(t0.Add(time.Second)),
		"versions": map[string]interface{}{
			"1": map[string]interface{}{"created_time": f(t0), "deletion_time": "", "destroyed": false},
			"2": map[string]interface{}{"created_time": f(t0.Add(time.Second)), "deletion_time": f(t0.Add(2 * time.Second)), "destroyed": false},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("metadata =\n%#v\nwant\n%#v", got, want)
	}
	if resp := h.ok(logical.ReadOperation, "metadata/none", nil); resp != nil {
		t.Fatalf("metadata of a missing key = %#v", resp)
	}
}

func TestMetadataWrite(t *testing.T) {
	h := newV2(t)
	// Writing metadata of a new key creates it without versions.
	resp := h.ok(logical.UpdateOperation, "metadata/k", obj(
		"max_versions", 3, "cas_required", true, "delete_version_after", "1h30m",
		"custom_metadata", obj("owner", "ops", "n", 7.0)))
	if resp != nil {
		t.Fatalf("metadata write response = %#v", resp)
	}
	got := h.ok(logical.ReadOperation, "metadata/k", nil).Data
	if got["max_versions"] != uint32(3) || got["cas_required"] != true || got["delete_version_after"] != "1h30m0s" ||
		got["current_version"] != uint64(0) || len(got["versions"].(map[string]interface{})) != 0 ||
		!reflect.DeepEqual(got["custom_metadata"], map[string]string{"owner": "ops", "n": "7"}) {
		t.Fatalf("metadata = %#v", got)
	}
	if resp := h.ok(logical.ReadOperation, "data/k", nil); resp != nil {
		t.Fatalf("data of a key with metadata only = %#v, want nil", resp)
	}
	// Data responses carry the custom metadata.
	resp = h.ok(logical.UpdateOperation, "data/k", obj("data", obj("a", 1), "options", obj("cas", 0)))
	if !reflect.DeepEqual(resp.Data["custom_metadata"], map[string]string{"owner": "ops", "n": "7"}) {
		t.Fatalf("write response custom_metadata = %#v", resp.Data["custom_metadata"])
	}
	// Fields left out are kept; custom_metadata given replaces the old map.
	h.ok(logical.UpdateOperation, "metadata/k", obj("custom_metadata", obj("team", "x")))
	got = h.ok(logical.ReadOperation, "metadata/k", nil).Data
	if got["max_versions"] != uint32(3) || got["cas_required"] != true ||
		!reflect.DeepEqual(got["custom_metadata"], map[string]string{"team": "x"}) {
		t.Fatalf("after partial write = %#v", got)
	}
}

func TestMetadataWriteValidation(t *testing.T) {
	many := obj()
	for i := 0; i < 65; i++ {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	exactly64 := obj()
	for i := 0; i < 64; i++ {
		exactly64[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name string
		path string
		data map[string]interface{}
		msg  string // substring; "" = accepted
	}{
		{"64 keys", "metadata/k", obj("custom_metadata", exactly64), ""},
		{"65 keys", "metadata/k", obj("custom_metadata", many), "payload must contain at most 64 keys, provided 65"},
		{"key of 128 bytes", "metadata/k", obj("custom_metadata", obj(strings.Repeat("k", 128), "v")), ""},
		{"key of 129 bytes", "metadata/k", obj("custom_metadata", obj(strings.Repeat("k", 129), "v")), "is 129 but must be 0 < len(key) <= 128"},
		{"value of 512 bytes", "metadata/k", obj("custom_metadata", obj("k", strings.Repeat("v", 512))), ""},
		{"value of 513 bytes", "metadata/k", obj("custom_metadata", obj("k", strings.Repeat("v", 513))), `length of value for key "k" is 513 but must be 0 < len(value) <= 512`},
		{"empty value", "metadata/k", obj("custom_metadata", obj("k", "")), `length of value for key "k" is 0`},
		{"null value", "metadata/k", obj("custom_metadata", obj("k", nil)), `length of value for key "k" is 0`},
		{"unprintable key", "metadata/k", obj("custom_metadata", obj("a\x00b", "v")), "contains unprintable characters"},
		{"unprintable value", "metadata/k", obj("custom_metadata", obj("k", "v\x07")), `value for key "k" contains unprintable characters`},
		{"nested value", "metadata/k", obj("custom_metadata", obj("k", obj("x", "y"))), "custom_metadata validation failed"},
		{"custom_metadata not an object", "metadata/k", obj("custom_metadata", 5.0), "custom_metadata"},
		{"max_versions not a number", "metadata/k", obj("max_versions", "many"), "max_versions"},
		{"max_versions negative", "metadata/k", obj("max_versions", -1), "max_versions"},
		{"cas_required not a bool", "metadata/k", obj("cas_required", "maybe"), "cas_required"},
		{"delete_version_after negative", "metadata/k", obj("delete_version_after", "-1h"), "delete_version_after"},
		{"delete_version_after garbage", "metadata/k", obj("delete_version_after", "soon"), "delete_version_after"},
		{"no path", "metadata/", obj("max_versions", 1), "missing path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newV2(t)
			_, err := h.do(logical.UpdateOperation, tt.path, tt.data)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			errKind(t, err, logical.ErrInvalidRequest, "")
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not contain %q", err, tt.msg)
			}
			if resp := h.ok(logical.ReadOperation, "metadata/k", nil); resp != nil {
				t.Fatalf("rejected write stored metadata: %#v", resp.Data)
			}
		})
	}
}

func TestMetadataErrorFormat(t *testing.T) {
	h := newV2(t)
	_, err := h.do(logical.UpdateOperation, "metadata/k", obj("custom_metadata", obj("a", "", "b", "")))
	want := "2 errors occurred:\n" +
		"\t* custom_metadata validation failed: length of value for key \"a\" is 0 but must be 0 < len(value) <= 512\n" +
		"\t* custom_metadata validation failed: length of value for key \"b\" is 0 but must be 0 < len(value) <= 512\n\n"
	errKind(t, err, logical.ErrInvalidRequest, want)
}

func TestMetadataCasRequiredWarning(t *testing.T) {
	h := newV2(t)
	h.ok(logical.UpdateOperation, "config", obj("cas_required", true))
	resp := h.ok(logical.UpdateOperation, "metadata/k", obj("cas_required", false))
	if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "mandated by backend config") {
		t.Fatalf("response = %#v, want the cas_required warning", resp)
	}
}

func TestMetadataPatch(t *testing.T) {
	h := newV2(t)
	_, err := h.do(logical.PatchOperation, "metadata/k", obj("max_versions", 2))
	if !errors.Is(err, logical.ErrNotFound) {
		t.Fatalf("patch of a missing key: err = %v", err)
	}
	h.ok(logical.UpdateOperation, "metadata/k", obj("max_versions", 5, "cas_required", true,
		"delete_version_after", "1h", "custom_metadata", obj("a", "1", "b", "2")))

	tests := []struct {
		name  string
		patch map[string]interface{}
		check func(m map[string]interface{}) bool
	}{
		{"max_versions", obj("max_versions", 7), func(m map[string]interface{}) bool {
			return m["max_versions"] == uint32(7) && m["cas_required"] == true
		}},
		{"custom_metadata merge", obj("custom_metadata", obj("b", nil, "c", "3")), func(m map[string]interface{}) bool {
			return reflect.DeepEqual(m["custom_metadata"], map[string]string{"a": "1", "c": "3"}) && m["delete_version_after"] == "1h0m0s"
		}},
		{"delete_version_after", obj("delete_version_after", "30m"), func(m map[string]interface{}) bool {
			return m["delete_version_after"] == "30m0s" && m["max_versions"] == uint32(7)
		}},
		{"null resets", obj("cas_required", nil, "max_versions", nil), func(m map[string]interface{}) bool {
			return m["cas_required"] == false && m["max_versions"] == uint32(0) && m["delete_version_after"] == "30m0s"
		}},
		{"custom_metadata null removes all", obj("custom_metadata", nil), func(m map[string]interface{}) bool {
			return m["custom_metadata"] == nil || reflect.DeepEqual(m["custom_metadata"], map[string]string(nil))
		}},
	}
	for _, tt := range tests {
		h.ok(logical.PatchOperation, "metadata/k", tt.patch)
		if m := h.ok(logical.ReadOperation, "metadata/k", nil).Data; !tt.check(m) {
			t.Fatalf("%s: metadata after patch = %#v", tt.name, m)
		}
	}

	// A patch that would go over the limit is refused as a whole.
	over := obj()
	for i := 0; i < 65; i++ {
		over[fmt.Sprintf("k%d", i)] = "v"
	}
	_, err = h.do(logical.PatchOperation, "metadata/k", obj("custom_metadata", over))
	errKind(t, err, logical.ErrInvalidRequest, "")
}

func TestMetadataDeleteRemovesEverything(t *testing.T) {
	h := newV2(t)
	h.put("a/k", obj("x", 1))
	h.put("a/k", obj("x", 2))
	h.put("a/other", obj("x", 3))
	if resp := h.ok(logical.DeleteOperation, "metadata/a/k", nil); resp != nil {
		t.Fatalf("delete response = %#v", resp)
	}
	if resp := h.ok(logical.ReadOperation, "metadata/a/k", nil); resp != nil {
		t.Fatal("metadata survived")
	}
	if resp := h.ok(logical.ReadOperation, "data/a/k", obj("version", 1)); resp != nil {
		t.Fatal("version 1 survived")
	}
	keys, err := logical.CollectKeys(t.Context(), h.s, testUUID+"/versions/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{testUUID + "/versions/a/other/1"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("version data left = %v, want %v", keys, want)
	}
	// A new write starts again at version 1.
	if v := h.put("a/k", obj("x", 9)); v != 1 {
		t.Fatalf("write after metadata delete = version %d", v)
	}
	h.ok(logical.DeleteOperation, "metadata/never", nil)
}

func TestMetadataList(t *testing.T) {
	h := newV2(t)
	for _, k := range []string{"a", "a/b", "a/c/d", "z"} {
		h.put(k, obj("k", k))
	}
	tests := []struct {
		path string
		want []string
	}{
		{"metadata/", []string{"a", "a/", "z"}},
		{"metadata/a/", []string{"b", "c/"}},
		{"metadata/a", []string{"b", "c/"}},
		{"metadata/a/c/", []string{"d"}},
		{"metadata/none/", []string{}},
	}
	for _, tt := range tests {
		resp := h.ok(logical.ListOperation, tt.path, nil)
		if got := resp.Data["keys"]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("list %s = %#v, want %#v", tt.path, got, tt.want)
		}
	}

	resp := h.ok(logical.ListOperation, "detailed-metadata/", nil)
	if got := resp.Data["keys"]; !reflect.DeepEqual(got, []string{"a", "a/", "z"}) {
		t.Fatalf("detailed list keys = %#v", got)
	}
	info := resp.Data["key_info"].(map[string]interface{})
	names := make([]string, 0, len(info))
	for k := range info {
		names = append(names, k)
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"a", "z"}) {
		t.Fatalf("key_info keys = %v", names)
	}
	if cv := info["z"].(map[string]interface{})["current_version"]; cv != uint64(1) {
		t.Fatalf("key_info[z].current_version = %v", cv)
	}
}

func TestMaxVersionsPruning(t *testing.T) {
	tests := []struct {
		name       string
		mountMax   int
		keyMax     int
		writes     int
		wantOldest uint64 // oldest readable version
		wantKept   int
	}{
		{"default keeps 10", 0, 0, 12, 3, 10},
		{"default, exactly 10", 0, 0, 10, 1, 10},
		{"mount setting", 3, 0, 5, 3, 3},
		{"key setting", 0, 2, 5, 4, 2},
		{"larger of key and mount wins", 4, 2, 6, 3, 4},
		{"key one", 0, 1, 3, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newV2(t)
			if tt.mountMax > 0 {
				h.ok(logical.UpdateOperation, "config", obj("max_versions", tt.mountMax))
			}
			if tt.keyMax > 0 {
				h.ok(logical.UpdateOperation, "metadata/k", obj("max_versions", tt.keyMax))
			}
			for i := 1; i <= tt.writes; i++ {
				h.put("k", obj("i", i))
			}
			meta := h.ok(logical.ReadOperation, "metadata/k", nil).Data
			versions := meta["versions"].(map[string]interface{})
			if len(versions) != tt.wantKept {
				t.Fatalf("%d versions kept, want %d: %v", len(versions), tt.wantKept, versions)
			}
			for v := 1; v <= tt.writes; v++ {
				resp := h.ok(logical.ReadOperation, "data/k", obj("version", v))
				if kept := uint64(v) >= tt.wantOldest; kept != (resp != nil) {
					t.Fatalf("version %d readable = %v, want %v", v, resp != nil, kept)
				}
			}
			stored, err := logical.CollectKeys(t.Context(), h.s, testUUID+"/versions/k/")
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != tt.wantKept {
				t.Fatalf("%d version entries in storage, want %d: %v", len(stored), tt.wantKept, stored)
			}
		})
	}
}

func TestMaxVersionsLoweredLater(t *testing.T) {
	h := newV2(t)
	for i := 1; i <= 6; i++ {
		h.put("k", obj("i", i))
	}
	h.ok(logical.UpdateOperation, "metadata/k", obj("max_versions", 2))
	h.put("k", obj("i", 7))
	meta := h.ok(logical.ReadOperation, "metadata/k", nil).Data
	if meta["oldest_version"] != uint64(6) || len(meta["versions"].(map[string]interface{})) != 2 {
		t.Fatalf("after lowering max_versions: oldest=%v versions=%v", meta["oldest_version"], meta["versions"])
	}
}
