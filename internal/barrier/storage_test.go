package barrier

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/storage"
)

func TestPhysicalHoldsNoPlaintext(t *testing.T) {
	b, phys, root := unsealed(t)
	const secret = "correct horse battery staple"
	mustPut(t, b, "secret/data/password", secret)
	mustPut(t, b.View("logical/1234/"), "creds", secret)

	dataKey := b.keys.activeKey().key
	needles := map[string][]byte{
		"plaintext":        []byte(secret),
		"base64 plaintext": []byte(base64.StdEncoding.EncodeToString([]byte(secret))),
		"root key":         root,
		"data key":         dataKey,
		"base64 data key":  []byte(base64.StdEncoding.EncodeToString(dataKey)),
	}
	phys.mu.Lock()
	defer phys.mu.Unlock()
	if len(phys.m) != 3 {
		t.Fatalf("physical store has %d keys, want keyring + 2", len(phys.m))
	}
	for key, value := range phys.m {
		for name, needle := range needles {
			if bytes.Contains(value, needle) {
				t.Errorf("physical key %q contains the %s", key, name)
			}
		}
	}
}

func TestCiphertextBoundToPath(t *testing.T) {
	ctx := context.Background()
	b, phys, _ := unsealed(t)
	mustPut(t, b, "a", "value of a")
	mustPut(t, b, "b", "value of b")

	// Move a's ciphertext to b: it must not decrypt there.
	phys.m["b"] = phys.raw(t, "a")
	if _, err := b.Get(ctx, "b"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Get of moved ciphertext = %v, want ErrDecrypt", err)
	}
	if got := mustGet(t, b, "a"); got != "value of a" {
		t.Fatalf("a = %q", got)
	}

	// The same holds across views: a view's key is its full path.
	v1, v2 := b.View("logical/one/"), b.View("logical/two/")
	mustPut(t, v1, "k", "one")
	phys.m["logical/two/k"] = phys.raw(t, "logical/one/k")
	if _, err := v2.Get(ctx, "k"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Get of ciphertext moved between views = %v", err)
	}

	// Any flipped bit is detected.
	raw := phys.raw(t, "a")
	for _, i := range []int{0, termSize, headerSize - 1, headerSize, len(raw) - 1} {
		tampered := bytes.Clone(raw)
		tampered[i] ^= 0x01
		phys.m["a"] = tampered
		if _, err := b.Get(ctx, "a"); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("flipped byte %d: Get = %v, want ErrDecrypt", i, err)
		}
	}
}

func TestUnencryptedValuesFailCleanly(t *testing.T) {
	ctx := context.Background()
	b, phys, _ := unsealed(t)
	header := make([]byte, headerSize)
	header[termSize] = entryVersion
	binary.BigEndian.PutUint32(header, 1)
	values := map[string][]byte{
		"core/seal-config": []byte(`{"type":"shamir","secret_shares":5,"secret_threshold":3}`),
		"empty":            {},
		"one byte":         {0},
		"header only":      header,
		"unknown term":     append([]byte{0, 0, 0, 9, entryVersion}, make([]byte, 40)...),
		"term zero":        append([]byte{0, 0, 0, 0, entryVersion}, make([]byte, 40)...),
		"bad version":      append([]byte{0, 0, 0, 1, 99}, make([]byte, 40)...),
	}
	for key, value := range values {
		phys.m[key] = value
		e, err := b.Get(ctx, key)
		if !errors.Is(err, ErrDecrypt) || e != nil {
			t.Errorf("%s: Get = %v, %v; want ErrDecrypt", key, e, err)
		}
	}
}

func TestKeyringIsReserved(t *testing.T) {
	ctx := context.Background()
	b, phys, root := unsealed(t)
	before := phys.raw(t, KeyringPath)
	if err := b.Put(ctx, &logical.StorageEntry{Key: KeyringPath, Value: []byte("x")}); err == nil {
		t.Fatal("Put over the keyring succeeded")
	}
	if err := b.Delete(ctx, KeyringPath); err == nil {
		t.Fatal("Delete of the keyring succeeded")
	}
	err := b.Transaction(ctx, []storage.Op{{Delete: true, Entry: &storage.Entry{Key: KeyringPath}}})
	if err == nil {
		t.Fatal("transaction deleting the keyring succeeded")
	}
	if !bytes.Equal(before, phys.raw(t, KeyringPath)) {
		t.Fatal("keyring changed")
	}
	b.Seal()
	if err := b.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
}

func TestViews(t *testing.T) {
	ctx := context.Background()
	b, phys, _ := unsealed(t)
	kv := b.View("logical/aaaa/")
	db := b.View("logical/bbbb/")

	mustPut(t, kv, "config", "kv config")
	mustPut(t, kv, "data/x/y", "deep")
	mustPut(t, db, "config", "db config")

	if got := mustGet(t, kv, "config"); got != "kv config" {
		t.Fatalf("kv config = %q", got)
	}
	if got := mustGet(t, db, "config"); got != "db config" {
		t.Fatalf("db config = %q", got)
	}
	if _, ok := phys.m["logical/aaaa/data/x/y"]; !ok {
		t.Fatal("view did not prefix the physical key")
	}
	keys, err := kv.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "config,data/" {
		t.Fatalf("kv List = %v", keys)
	}

	sub := kv.SubView("data/")
	if sub.Prefix() != "logical/aaaa/data/" {
		t.Fatalf("SubView prefix = %q", sub.Prefix())
	}
	if got := mustGet(t, sub, "x/y"); got != "deep" {
		t.Fatalf("sub x/y = %q", got)
	}
	if keys, _ := sub.List(ctx, "x/"); strings.Join(keys, ",") != "y" {
		t.Fatalf("sub List = %v", keys)
	}

	entry := &logical.StorageEntry{Key: "k", Value: []byte("v")}
	if err := db.Put(ctx, entry); err != nil || entry.Key != "k" {
		t.Fatalf("Put changed the caller's entry key to %q (%v)", entry.Key, err)
	}

	if err := db.Delete(ctx, "config"); err != nil {
		t.Fatal(err)
	}
	if e, _ := db.Get(ctx, "config"); e != nil {
		t.Fatal("deleted key still readable")
	}
	if got := mustGet(t, kv, "config"); got != "kv config" {
		t.Fatal("delete in one view removed a key in another")
	}

	for _, bad := range []string{"../bbbb/k", "a/../../x", ".."} {
		if _, err := kv.Get(ctx, bad); !errors.Is(err, logical.ErrInvalidRequest) {
			t.Errorf("Get(%q) = %v, want invalid request", bad, err)
		}
		if err := kv.Put(ctx, &logical.StorageEntry{Key: bad}); !errors.Is(err, logical.ErrInvalidRequest) {
			t.Errorf("Put(%q) = %v, want invalid request", bad, err)
		}
	}
	// Dots inside a name are fine.
	mustPut(t, kv, "file..name", "ok")

	if err := logical.ClearView(ctx, kv); err != nil {
		t.Fatal(err)
	}
	if keys, _ := kv.List(ctx, ""); len(keys) != 0 {
		t.Fatalf("after ClearView List = %v", keys)
	}
	if got := mustGet(t, db, "k"); got != "v" {
		t.Fatal("ClearView of one view touched another")
	}
}

func TestTransaction(t *testing.T) {
	ctx := context.Background()
	for _, transactional := range []bool{false, true} {
		t.Run(fmt.Sprintf("transactional=%v", transactional), func(t *testing.T) {
			phys := newMapBackend()
			tx := &txBackend{mapBackend: phys}
			var backend storage.Backend = phys
			if transactional {
				backend = tx
			}
			b := New(backend)
			root, _ := b.GenerateKey()
			if err := b.Initialize(ctx, root); err != nil {
				t.Fatal(err)
			}
			ops := []storage.Op{{Entry: &storage.Entry{Key: "gone", Value: []byte("x")}}}
			if err := b.Transaction(ctx, ops); !errors.Is(err, ErrSealed) {
				t.Fatalf("sealed Transaction = %v", err)
			}
			if err := b.Unseal(ctx, root); err != nil {
				t.Fatal(err)
			}
			mustPut(t, b, "gone", "soon deleted")

			ops = []storage.Op{
				{Entry: &storage.Entry{Key: "lease/1", Value: []byte("plaintext one")}},
				{Entry: &storage.Entry{Key: "lease/2", Value: []byte("plaintext two")}},
				{Delete: true, Entry: &storage.Entry{Key: "gone"}},
			}
			if err := b.Transaction(ctx, ops); err != nil {
				t.Fatal(err)
			}
			if mustGet(t, b, "lease/1") != "plaintext one" || mustGet(t, b, "lease/2") != "plaintext two" {
				t.Fatal("transaction values wrong")
			}
			if e, _ := b.Get(ctx, "gone"); e != nil {
				t.Fatal("transaction delete not applied")
			}
			if string(ops[0].Entry.Value) != "plaintext one" {
				t.Fatal("Transaction modified the caller's ops")
			}
			if transactional {
				if len(tx.txs) != 1 || len(tx.txs[0]) != 3 {
					t.Fatalf("backend saw %d transactions", len(tx.txs))
				}
				for _, op := range tx.txs[0] {
					if bytes.Contains(op.Entry.Value, []byte("plaintext")) {
						t.Fatal("backend transaction carried plaintext")
					}
				}
			}
			if err := b.Transaction(ctx, []storage.Op{{}}); err == nil {
				t.Fatal("op without an entry accepted")
			}
		})
	}
}

func TestPhysicalErrorsAreWrapped(t *testing.T) {
	ctx := context.Background()
	b := New(failingBackend{})
	if _, err := b.Initialized(ctx); !errors.Is(err, errDisk) {
		t.Fatalf("Initialized = %v", err)
	}
	root, _ := b.GenerateKey()
	if err := b.Initialize(ctx, root); !errors.Is(err, errDisk) {
		t.Fatalf("Initialize = %v", err)
	}
	if err := b.Unseal(ctx, root); !errors.Is(err, errDisk) {
		t.Fatalf("Unseal = %v", err)
	}

	// Unseal on a working store, then break it.
	good, _, root := unsealed(t)
	good.phys = failingBackend{}
	if _, err := good.Get(ctx, "k"); !errors.Is(err, errDisk) {
		t.Fatalf("Get = %v", err)
	}
	if err := good.Put(ctx, &logical.StorageEntry{Key: "k"}); !errors.Is(err, errDisk) {
		t.Fatalf("Put = %v", err)
	}
	if _, err := good.List(ctx, ""); !errors.Is(err, errDisk) {
		t.Fatalf("List = %v", err)
	}
	if err := good.Delete(ctx, "k"); !errors.Is(err, errDisk) {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := good.Rotate(ctx); !errors.Is(err, errDisk) {
		t.Fatalf("Rotate = %v", err)
	}
	if good.KeyStatus().Term != 1 {
		t.Fatal("failed Rotate changed the active term")
	}
	if err := good.SetRootKey(ctx, root); !errors.Is(err, errDisk) {
		t.Fatalf("SetRootKey = %v", err)
	}
}

func BenchmarkBarrierGet(b *testing.B) {
	br, _, _ := unsealed(b)
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), 512)
	if err := br.Put(ctx, &logical.StorageEntry{Key: "bench/key", Value: value}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Get(ctx, "bench/key"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBarrierPut(b *testing.B) {
	br, _, _ := unsealed(b)
	ctx := context.Background()
	entry := &logical.StorageEntry{Key: "bench/key", Value: bytes.Repeat([]byte("x"), 512)}
	b.ReportAllocs()
	for b.Loop() {
		if err := br.Put(ctx, entry); err != nil {
			b.Fatal(err)
		}
	}
}
