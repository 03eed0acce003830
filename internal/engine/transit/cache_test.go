package transit

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// countingStorage counts reads.
type countingStorage struct {
	*logical.InmemStorage
	gets atomic.Int64
}

func (s *countingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	s.gets.Add(1)
	return s.InmemStorage.Get(ctx, key)
}

// TestEncryptServedFromCache checks that once a key is loaded, encrypt,
// decrypt and the existence check read nothing from storage.
func TestEncryptServedFromCache(t *testing.T) {
	cs := &countingStorage{InmemStorage: logical.NewInmemStorage()}
	h := newHarness(t)
	h.s = cs.InmemStorage
	h.createKey("k", nil)
	// A fresh backend over the same storage loads the key once.
	h.b = newBackend(nil, h.clock.Now, h.b.rand)
	ctx := context.Background()
	req := func(path string, data map[string]interface{}) *logical.Request {
		return &logical.Request{Operation: logical.UpdateOperation, Path: path, Data: data, Storage: cs}
	}
	var ct string
	for i := 0; i < 20; i++ {
		if _, exists, err := h.b.HandleExistenceCheck(ctx, req("encrypt/k", obj("plaintext", b64([]byte("x"))))); err != nil || !exists {
			t.Fatalf("existence check: %v %v", exists, err)
		}
		resp, err := h.b.HandleRequest(ctx, req("encrypt/k", obj("plaintext", b64([]byte("x")))))
		if err != nil {
			t.Fatal(err)
		}
		ct = resp.Data["ciphertext"].(string)
		if _, err := h.b.HandleRequest(ctx, req("decrypt/k", obj("ciphertext", ct))); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.gets.Load(); n != 1 {
		t.Fatalf("%d storage reads for 20 existence checks, encrypts and decrypts; want the one that loads the key", n)
	}
}

// TestKeyCacheFollowsWrites checks that every change to a key is seen by
// the next encrypt and decrypt on the same backend: rotation (explicit and
// automatic), configuration, trimming, deletion and restore.
func TestKeyCacheFollowsWrites(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", obj("exportable", true, "allow_plaintext_backup", true))
	v1 := h.encrypt("k", []byte("one"), nil)

	// Rotation: the next encrypt uses version 2.
	h.write("keys/k/rotate", nil)
	r := h.write("encrypt/k", obj("plaintext", b64([]byte("two"))))
	v2 := r["ciphertext"].(string)
	if !strings.HasPrefix(v2, "vault:v2:") || r["key_version"] != 2 {
		t.Fatalf("encrypt after rotate: %v", r)
	}

	// Configuration: raising min_decryption_version stops version 1.
	if string(h.decrypt("k", v1, nil)) != "one" {
		t.Fatal("v1 does not decrypt before the change")
	}
	h.write("keys/k/config", obj("min_decryption_version", 2, "min_encryption_version", 2))
	h.badWrite("decrypt/k", obj("ciphertext", v1), errTooOld)
	h.badWrite("encrypt/k", obj("plaintext", "", "key_version", 1), "less than the minimum encryption key version")

	// Trim: version 1 leaves the cached key too.
	h.write("keys/k/trim", obj("min_available_version", 2))
	if _, err := h.b.keys.cached("k").p.version(1); err == nil {
		t.Fatal("trimmed version 1 is still cached")
	}
	if string(h.decrypt("k", v2, nil)) != "two" {
		t.Fatal("v2 does not decrypt after the trim")
	}

	// Restore with force over the cached key: encrypt and decrypt use the
	// restored key's versions.
	h.createKey("src", obj("exportable", true, "allow_plaintext_backup", true))
	h.write("keys/src/rotate", nil)
	h.write("keys/src/rotate", nil)
	src := h.encrypt("src", []byte("from src"), nil)
	h.write("restore/k", obj("backup", h.read("backup/src")["backup"], "force", true))
	if string(h.decrypt("k", src, nil)) != "from src" {
		t.Fatal("restored key does not decrypt its own ciphertext")
	}
	ct := h.encrypt("k", []byte("after restore"), nil)
	if !strings.HasPrefix(ct, "vault:v3:") || string(h.decrypt("src", ct, nil)) != "after restore" {
		t.Fatalf("encrypt after restore used the old key: %s", ct)
	}
	h.badWrite("decrypt/k", obj("ciphertext", v2), "message authentication failed")

	// Deletion: encrypt and decrypt no longer find the key, and the
	// existence check says it is gone (so an encrypt with create
	// capability would make a new one).
	h.write("keys/k/config", obj("deletion_allowed", true))
	if _, err := h.do(logical.DeleteOperation, "keys/k", nil); err != nil {
		t.Fatal(err)
	}
	h.badWrite("encrypt/k", obj("plaintext", b64([]byte("x"))), "encryption key not found")
	h.badWrite("decrypt/k", obj("ciphertext", ct), "encryption key not found")
	if _, exists, err := h.b.HandleExistenceCheck(context.Background(), &logical.Request{
		Operation: logical.UpdateOperation, Path: "encrypt/k", Storage: h.s,
	}); err != nil || exists {
		t.Fatalf("existence check after delete: exists=%v err=%v", exists, err)
	}
	// A new key under the same name has new material.
	h.createKey("k", nil)
	h.badWrite("decrypt/k", obj("ciphertext", ct), "version is too new")
	if ct := h.encrypt("k", []byte("new"), nil); !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("encrypt with the re-created key: %s", ct)
	}
	h.badWrite("decrypt/k", obj("ciphertext", "vault:v1:"+strings.TrimPrefix(src, "vault:v3:")), "message authentication failed")

	// Automatic rotation by the core's rollback call reaches the cache.
	h.createKey("auto", obj("auto_rotate_period", "1h"))
	if ct := h.encrypt("auto", []byte("x"), nil); !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("auto before its period: %s", ct)
	}
	h.clock.Add(2 * time.Hour)
	if _, err := h.do(logical.RollbackOperation, "", nil); err != nil {
		t.Fatal(err)
	}
	if e, _ := h.s.Get(context.Background(), "policy/auto"); e == nil || !strings.Contains(string(e.Value), `"latest_version":2`) {
		t.Fatal("rollback did not store the rotation")
	}
	if ct := h.encrypt("auto", []byte("x"), nil); !strings.HasPrefix(ct, "vault:v2:") {
		t.Fatalf("auto after rollback rotation: %s", ct)
	}
}
