package kv

import (
	"reflect"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestConfig(t *testing.T) {
	h := newV2(t)
	defaults := map[string]interface{}{"max_versions": uint32(0), "cas_required": false, "delete_version_after": "0s"}
	if got := h.ok(logical.ReadOperation, "config", nil).Data; !reflect.DeepEqual(got, defaults) {
		t.Fatalf("default config = %#v", got)
	}
	tests := []struct {
		name  string
		write map[string]interface{}
		want  map[string]interface{}
	}{
		{"all fields", obj("max_versions", 5, "cas_required", true, "delete_version_after", "2h"),
			obj("max_versions", uint32(5), "cas_required", true, "delete_version_after", "2h0m0s")},
		{"partial keeps the rest", obj("max_versions", "7"),
			obj("max_versions", uint32(7), "cas_required", true, "delete_version_after", "2h0m0s")},
		{"seconds", obj("delete_version_after", 90),
			obj("max_versions", uint32(7), "cas_required", true, "delete_version_after", "1m30s")},
		{"negative disables", obj("delete_version_after", "-5m"),
			obj("max_versions", uint32(7), "cas_required", true, "delete_version_after", "-1s")},
		{"zero clears", obj("delete_version_after", "0s", "cas_required", false),
			obj("max_versions", uint32(7), "cas_required", false, "delete_version_after", "0s")},
		{"empty write changes nothing", obj(),
			obj("max_versions", uint32(7), "cas_required", false, "delete_version_after", "0s")},
	}
	for _, tt := range tests {
		if resp := h.ok(logical.UpdateOperation, "config", tt.write); resp != nil {
			t.Fatalf("%s: write response = %#v", tt.name, resp)
		}
		if got := h.ok(logical.ReadOperation, "config", nil).Data; !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("%s: config = %#v, want %#v", tt.name, got, tt.want)
		}
	}

	// The config survives a new backend over the same storage.
	h2 := newHarness(t, "2", h.s)
	if got := h2.ok(logical.ReadOperation, "config", nil).Data; !reflect.DeepEqual(got, tests[len(tests)-1].want) {
		t.Fatalf("config after reload = %#v", got)
	}
}

func TestConfigBadInput(t *testing.T) {
	h := newV2(t)
	for _, data := range []map[string]interface{}{
		obj("max_versions", "ten"),
		obj("max_versions", -1),
		obj("cas_required", "perhaps"),
		obj("delete_version_after", "later"),
	} {
		_, err := h.do(logical.UpdateOperation, "config", data)
		errKind(t, err, logical.ErrInvalidRequest, "")
	}
}
