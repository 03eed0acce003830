package kv

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Reads keep decoded metadata, but see every change of the stored entry,
// also one made by another backend over the same storage (another node).
func TestReadSeesWritesFromElsewhere(t *testing.T) {
	s := logical.NewInmemStorage()
	reader, writer := newHarness(t, "2", s), newHarness(t, "2", s)
	writer.put("app", obj("v", "one"))
	for range 2 {
		resp := reader.ok(logical.ReadOperation, "data/app", nil)
		if got := resp.Data["data"].(map[string]interface{})["v"]; got != "one" {
			t.Fatalf("read = %v, want one", got)
		}
	}

	writer.put("app", obj("v", "two"))
	resp := reader.ok(logical.ReadOperation, "data/app", nil)
	if got, ver := resp.Data["data"].(map[string]interface{})["v"], resp.Data["metadata"].(map[string]interface{})["version"]; got != "two" || ver != uint64(2) {
		t.Fatalf("read after another writer = %v (version %v), want two (version 2)", got, ver)
	}

	writer.ok(logical.DeleteOperation, "data/app", nil)
	reader.clock.Add(time.Second)
	if _, err := reader.do(logical.ReadOperation, "data/app", nil); !errors.Is(err, logical.ErrNotFound) {
		t.Fatalf("read after another node's delete: %v, want not found", err)
	}
	writer.ok(logical.DeleteOperation, "metadata/app", nil)
	if resp, err := reader.do(logical.ReadOperation, "data/app", nil); err != nil || resp != nil {
		t.Fatalf("read after the key's metadata was deleted = %v, %v; want nothing", resp, err)
	}
}

// A response must not share mutable state with the cache.
func TestReadResponseDoesNotShareMetadata(t *testing.T) {
	h := newV2(t)
	h.put("app", obj("v", "one"))
	h.ok(logical.UpdateOperation, "metadata/app", map[string]interface{}{"custom_metadata": map[string]interface{}{"owner": "ops"}})
	resp := h.ok(logical.ReadOperation, "data/app", nil)
	md := resp.Data["metadata"].(map[string]interface{})
	md["custom_metadata"].(map[string]string)["owner"] = "changed"
	md["version"] = uint64(99)

	resp = h.ok(logical.ReadOperation, "data/app", nil)
	md = resp.Data["metadata"].(map[string]interface{})
	if got := md["custom_metadata"].(map[string]string)["owner"]; got != "ops" || md["version"] != uint64(1) {
		t.Fatalf("second read's metadata = %v, want the stored one", md)
	}
}

func TestMetadataCacheBounded(t *testing.T) {
	var c metadataCache
	raw := make([]byte, 40<<10)
	for i := range 100 {
		raw[0] = byte(i)
		c.put(fmt.Sprintf("k%d", i), raw, &keyMetadata{CurrentVersion: uint64(i)})
		if c.bytes > metadataCacheBytes {
			t.Fatalf("after %d entries the cache holds %d bytes, more than %d", i+1, c.bytes, metadataCacheBytes)
		}
	}
	total := 0
	for _, e := range c.byKey {
		total += len(e.raw)
	}
	if total != c.bytes || len(c.byKey) == 0 {
		t.Fatalf("cache counts %d bytes in %d entries, holds %d", c.bytes, len(c.byKey), total)
	}
	if m := c.get("k99", raw); m == nil || m.CurrentVersion != 99 {
		t.Fatalf("latest entry = %v", m)
	}
	raw[0] = 0
	if m := c.get("k99", raw); m != nil {
		t.Fatal("entry returned for other bytes")
	}
	c.put("huge", make([]byte, metadataCacheEntryBytes+1), &keyMetadata{})
	if c.byKey["huge"] != nil {
		t.Fatal("oversized metadata was cached")
	}
}
