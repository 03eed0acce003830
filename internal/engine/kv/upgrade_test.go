package kv

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestUpgradeV1ToV2(t *testing.T) {
	v1 := newV1(t)
	secrets := map[string]map[string]interface{}{
		"a":         obj("user", "alice", "ttl", "1h"),
		"app/db":    obj("password", "pw", "port", json.Number("5432")),
		"app/x/y/z": obj("deep", true),
		"config":    obj("looks", "like a v2 path"),
	}
	for k, v := range secrets {
		v1.ok(logical.UpdateOperation, k, v)
	}

	v2 := newHarness(t, "2", v1.s)
	for k, want := range secrets {
		resp := v2.ok(logical.ReadOperation, "data/"+k, nil)
		if resp == nil {
			t.Fatalf("%s missing after upgrade", k)
		}
		if got := resp.Data["data"]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
		if v := resp.Data["metadata"].(map[string]interface{})["version"]; v != uint64(1) {
			t.Errorf("%s is version %v, want 1", k, v)
		}
	}
	// The old keys are gone; everything lives below the mount's prefix.
	keys, err := logical.CollectKeys(t.Context(), v1.s, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, testUUID+"/") {
			t.Errorf("key %q left outside the version 2 layout", k)
		}
	}
	list := v2.ok(logical.ListOperation, "metadata/", nil).Data["keys"]
	if want := []string{"a", "app/", "config"}; !reflect.DeepEqual(list, want) {
		t.Fatalf("metadata list = %#v, want %#v", list, want)
	}
	// The mount config was not taken from the v1 key named "config".
	if got := v2.ok(logical.ReadOperation, "config", nil).Data["max_versions"]; got != uint32(0) {
		t.Fatalf("config max_versions = %v", got)
	}

	// Writing continues at version 2; re-creating the backend does not
	// upgrade again or touch the data.
	if v := v2.put("a", obj("user", "bob")); v != 2 {
		t.Fatalf("write after upgrade = version %d", v)
	}
	v2b := newHarness(t, "2", v1.s)
	if cv := v2b.ok(logical.ReadOperation, "metadata/a", nil).Data["current_version"]; cv != uint64(2) {
		t.Fatalf("current_version after re-creation = %v", cv)
	}
}

func TestUpgradeResumesAfterInterruption(t *testing.T) {
	s := logical.NewInmemStorage()
	v1 := newHarness(t, "1", s)
	v1.ok(logical.UpdateOperation, "done", obj("v", "1"))
	v1.ok(logical.UpdateOperation, "pending", obj("v", "2"))

	// Simulate a run that stopped after converting "done" but before
	// removing its old copy and before writing the marker.
	b, err := newVersioned(&logical.BackendConfig{BackendUUID: testUUID}, newFakeClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.upgradeKey(t.Context(), s, "done", mountConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), &logical.StorageEntry{Key: "done", Value: []byte(`{"v":"1"}`)}); err != nil {
		t.Fatal(err)
	}

	v2 := newHarness(t, "2", s)
	for k, want := range map[string]string{"done": "1", "pending": "2"} {
		resp := v2.ok(logical.ReadOperation, "metadata/"+k, nil)
		if resp == nil || resp.Data["current_version"] != uint64(1) {
			t.Fatalf("%s metadata = %#v, want exactly one version", k, resp)
		}
		data := v2.ok(logical.ReadOperation, "data/"+k, nil).Data["data"].(map[string]interface{})
		if data["v"] != want {
			t.Fatalf("%s = %#v", k, data)
		}
	}
	if e, _ := s.Get(t.Context(), "done"); e != nil {
		t.Fatal("old copy of an upgraded key left behind")
	}
}

func TestUpgradeSkipsNonObjects(t *testing.T) {
	s := logical.NewInmemStorage()
	if err := s.Put(t.Context(), &logical.StorageEntry{Key: "junk", Value: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), &logical.StorageEntry{Key: "ok", Value: []byte(`{"a":"b"}`)}); err != nil {
		t.Fatal(err)
	}
	v2 := newHarness(t, "2", s)
	if e, _ := s.Get(t.Context(), "junk"); e == nil {
		t.Fatal("unreadable key removed instead of left in place")
	}
	if resp := v2.ok(logical.ReadOperation, "data/ok", nil); resp == nil {
		t.Fatal("valid key not upgraded")
	}
}

func TestUpgradeEmptyMountWritesMarker(t *testing.T) {
	s := logical.NewInmemStorage()
	newHarness(t, "2", s)
	var m upgradeMarker
	ok, err := logical.GetJSON(t.Context(), s, testUUID+"/upgrade", &m)
	if err != nil || !ok || !m.Done {
		t.Fatalf("marker = %#v ok=%v err=%v", m, ok, err)
	}
	// Keys written as version 1 after the marker are not picked up again:
	// the upgrade runs once per mount.
	if err := s.Put(t.Context(), &logical.StorageEntry{Key: "late", Value: []byte(`{"a":"b"}`)}); err != nil {
		t.Fatal(err)
	}
	v2 := newHarness(t, "2", s)
	if resp := v2.ok(logical.ReadOperation, "data/late", nil); resp != nil {
		t.Fatalf("late key upgraded on a second run: %#v", resp)
	}
}
