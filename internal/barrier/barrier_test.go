package barrier

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/storage"
)

// mapBackend is a minimal storage.Backend for these tests.
type mapBackend struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMapBackend() *mapBackend { return &mapBackend{m: map[string][]byte{}} }

func (s *mapBackend) Get(_ context.Context, key string) (*storage.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, nil
	}
	return &storage.Entry{Key: key, Value: bytes.Clone(v)}, nil
}

func (s *mapBackend) Put(_ context.Context, e *storage.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[e.Key] = bytes.Clone(e.Value)
	return nil
}

func (s *mapBackend) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *mapBackend) List(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for k := range s.m {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if i := strings.Index(rest, "/"); i >= 0 {
				rest = rest[:i+1]
			}
			seen[rest] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// raw returns the stored bytes of key, failing the test if it is missing.
func (s *mapBackend) raw(t *testing.T, key string) []byte {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		t.Fatalf("physical key %q missing", key)
	}
	return bytes.Clone(v)
}

// txBackend is a mapBackend that also applies transactions, recording them.
type txBackend struct {
	*mapBackend
	txs [][]storage.Op
}

func (s *txBackend) Transaction(ctx context.Context, ops []storage.Op) error {
	s.txs = append(s.txs, ops)
	for _, op := range ops {
		if op.Delete {
			_ = s.Delete(ctx, op.Entry.Key)
		} else {
			_ = s.Put(ctx, op.Entry)
		}
	}
	return nil
}

// failingBackend fails every operation.
type failingBackend struct{}

var errDisk = errors.New("disk on fire")

func (failingBackend) Get(context.Context, string) (*storage.Entry, error) { return nil, errDisk }
func (failingBackend) Put(context.Context, *storage.Entry) error           { return errDisk }
func (failingBackend) Delete(context.Context, string) error                { return errDisk }
func (failingBackend) List(context.Context, string) ([]string, error)      { return nil, errDisk }

// unsealed returns an initialised, unsealed barrier, its store and root key.
func unsealed(t testing.TB) (*Barrier, *mapBackend, []byte) {
	t.Helper()
	ctx := context.Background()
	phys := newMapBackend()
	b := New(phys)
	root, err := b.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Initialize(ctx, root); err != nil {
		t.Fatal(err)
	}
	if err := b.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	return b, phys, root
}

func mustPut(t testing.TB, s logical.Storage, key, value string) {
	t.Helper()
	if err := s.Put(context.Background(), &logical.StorageEntry{Key: key, Value: []byte(value)}); err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
}

func mustGet(t testing.TB, s logical.Storage, key string) string {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	if e == nil {
		t.Fatalf("get %q: not found", key)
	}
	if e.Key != key {
		t.Fatalf("get %q: entry key %q", key, e.Key)
	}
	return string(e.Value)
}

func termInStore(t *testing.T, phys *mapBackend, key string) uint32 {
	t.Helper()
	return binary.BigEndian.Uint32(phys.raw(t, key))
}

func TestInitUnsealSealCycle(t *testing.T) {
	ctx := context.Background()
	phys := newMapBackend()
	b := New(phys)

	if !b.Sealed() {
		t.Fatal("new barrier is not sealed")
	}
	if ok, err := b.Initialized(ctx); err != nil || ok {
		t.Fatalf("Initialized() = %v, %v before Initialize", ok, err)
	}
	root, _ := b.GenerateKey()
	if err := b.Unseal(ctx, root); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Unseal before init = %v, want ErrNotInitialized", err)
	}
	if err := b.Initialize(ctx, root[:16]); err == nil {
		t.Fatal("Initialize accepted a 16-byte root key")
	}
	if err := b.Initialize(ctx, root); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Initialized(ctx); err != nil || !ok {
		t.Fatalf("Initialized() = %v, %v after Initialize", ok, err)
	}
	if !b.Sealed() {
		t.Fatal("Initialize unsealed the barrier")
	}
	if err := b.Initialize(ctx, root); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("second Initialize = %v, want ErrAlreadyInitialized", err)
	}

	// Sealed: every storage operation fails with the HTTP-visible sentinel.
	if _, err := b.Get(ctx, "a"); !errors.Is(err, logical.ErrSealed) {
		t.Fatalf("Get while sealed = %v", err)
	}
	if err := b.Put(ctx, &logical.StorageEntry{Key: "a"}); !errors.Is(err, ErrSealed) {
		t.Fatalf("Put while sealed = %v", err)
	}
	if err := b.Delete(ctx, "a"); !errors.Is(err, ErrSealed) {
		t.Fatalf("Delete while sealed = %v", err)
	}
	if _, err := b.List(ctx, ""); !errors.Is(err, ErrSealed) {
		t.Fatalf("List while sealed = %v", err)
	}
	if _, err := b.Rotate(ctx); !errors.Is(err, ErrSealed) {
		t.Fatalf("Rotate while sealed = %v", err)
	}
	if err := b.SetRootKey(ctx, root); !errors.Is(err, ErrSealed) {
		t.Fatalf("SetRootKey while sealed = %v", err)
	}
	if err := b.ReloadKeyring(ctx); !errors.Is(err, ErrSealed) {
		t.Fatalf("ReloadKeyring while sealed = %v", err)
	}
	if ks := b.KeyStatus(); ks != (KeyStatus{}) {
		t.Fatalf("KeyStatus while sealed = %+v", ks)
	}

	if err := b.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	if b.Sealed() {
		t.Fatal("still sealed after Unseal")
	}
	if err := b.Unseal(ctx, root); err != nil {
		t.Fatalf("Unseal of an unsealed barrier = %v", err)
	}
	if ks := b.KeyStatus(); ks.Term != 1 || ks.InstallTime.IsZero() {
		t.Fatalf("KeyStatus = %+v, want term 1 with an install time", ks)
	}
	mustPut(t, b, "secret/a", "alpha")
	if got := mustGet(t, b, "secret/a"); got != "alpha" {
		t.Fatalf("got %q", got)
	}
	if e, err := b.Get(ctx, "secret/missing"); e != nil || err != nil {
		t.Fatalf("Get of a missing key = %v, %v", e, err)
	}

	keys := b.keys
	b.Seal()
	if !b.Sealed() {
		t.Fatal("not sealed after Seal")
	}
	for term, tk := range keys.keys {
		if !bytes.Equal(tk.key, make([]byte, keySize)) {
			t.Fatalf("key of term %d not zeroed on Seal", term)
		}
	}
	if b.rootKey != nil {
		t.Fatal("root key kept after Seal")
	}
	if _, err := b.Get(ctx, "secret/a"); !errors.Is(err, ErrSealed) {
		t.Fatalf("Get after Seal = %v", err)
	}

	if err := b.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, b, "secret/a"); got != "alpha" {
		t.Fatalf("after re-unseal got %q", got)
	}
}

func TestWrongRootKey(t *testing.T) {
	ctx := context.Background()
	b, _, root := unsealed(t)
	mustPut(t, b, "k", "v")
	b.Seal()

	wrong, _ := b.GenerateKey()
	flipped := bytes.Clone(root)
	flipped[31] ^= 1
	for name, key := range map[string][]byte{
		"random": wrong, "one bit": flipped, "short": root[:31], "empty": nil,
	} {
		err := b.Unseal(ctx, key)
		if !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("%s key: Unseal = %v, want ErrInvalidKey", name, err)
		}
		if !errors.Is(err, logical.ErrInvalidRequest) {
			t.Fatalf("%s key: error does not map to a 400", name)
		}
		if !b.Sealed() {
			t.Fatalf("%s key: barrier unsealed", name)
		}
	}
	if err := b.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, b, "k"); got != "v" {
		t.Fatalf("got %q", got)
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	b, phys, root := unsealed(t)
	mustPut(t, b, "old", "written under term 1")
	if termInStore(t, phys, "old") != 1 {
		t.Fatal("first write not under term 1")
	}
	if ks := b.KeyStatus(); ks.Encryptions != 1 {
		t.Fatalf("encryptions = %d, want 1", ks.Encryptions)
	}
	before := b.KeyStatus().InstallTime

	term, err := b.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if term != 2 {
		t.Fatalf("Rotate = %d, want 2", term)
	}
	ks := b.KeyStatus()
	if ks.Term != 2 || ks.Encryptions != 0 || ks.InstallTime.Before(before) {
		t.Fatalf("KeyStatus after rotate = %+v", ks)
	}
	mustPut(t, b, "new", "written under term 2")
	if got := termInStore(t, phys, "new"); got != 2 {
		t.Fatalf("write after rotate used term %d", got)
	}
	if got := mustGet(t, b, "old"); got != "written under term 1" {
		t.Fatalf("old value = %q", got)
	}
	if b.KeyStatus().Encryptions != 1 {
		t.Fatalf("encryptions = %d after one write", b.KeyStatus().Encryptions)
	}
	if term, _ := b.Rotate(ctx); term != 3 {
		t.Fatalf("second Rotate = %d", term)
	}

	// The rotation is persisted: a fresh barrier sees term 3 and reads both.
	b2 := New(phys)
	if err := b2.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	if b2.KeyStatus().Term != 3 {
		t.Fatalf("after restart term = %d", b2.KeyStatus().Term)
	}
	if mustGet(t, b2, "old") != "written under term 1" || mustGet(t, b2, "new") != "written under term 2" {
		t.Fatal("values lost after restart")
	}
}

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

func TestRestartReadsEverything(t *testing.T) {
	ctx := context.Background()
	b, phys, root := unsealed(t)
	want := map[string]string{}
	for i := 0; i < 50; i++ {
		key := fmt.Sprintf("sys/token/id/%02d", i)
		want[key] = fmt.Sprintf("token %d", i)
		mustPut(t, b, key, want[key])
	}
	b.Seal()

	b2 := New(phys)
	if ok, err := b2.Initialized(ctx); err != nil || !ok {
		t.Fatalf("Initialized after restart = %v, %v", ok, err)
	}
	if !b2.Sealed() {
		t.Fatal("restarted barrier is unsealed")
	}
	if err := b2.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	keys, err := logical.CollectKeys(ctx, b2, "sys/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("found %d keys, want %d", len(keys), len(want))
	}
	for _, k := range keys {
		if got := mustGet(t, b2, k); got != want[k] {
			t.Fatalf("%s = %q, want %q", k, got, want[k])
		}
	}
}

func TestSetRootKey(t *testing.T) {
	ctx := context.Background()
	b, phys, oldRoot := unsealed(t)
	mustPut(t, b, "k", "v")
	newRoot, _ := b.GenerateKey()
	if err := b.SetRootKey(ctx, newRoot[:8]); err == nil {
		t.Fatal("SetRootKey accepted a short key")
	}
	if err := b.SetRootKey(ctx, newRoot); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, b, "k"); got != "v" {
		t.Fatalf("k = %q after rekey", got)
	}
	b.Seal()
	if err := b.Unseal(ctx, oldRoot); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("old root key after rekey: %v", err)
	}
	if err := New(phys).Unseal(ctx, newRoot); err != nil {
		t.Fatalf("new root key on a fresh barrier: %v", err)
	}
	if err := b.Unseal(ctx, newRoot); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, b, "k"); got != "v" {
		t.Fatalf("k = %q", got)
	}
}

func TestReloadKeyring(t *testing.T) {
	ctx := context.Background()
	active, phys, root := unsealed(t)
	standby := New(phys)
	if err := standby.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	if _, err := active.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	mustPut(t, active, "after-rotate", "v2")
	if _, err := standby.Get(ctx, "after-rotate"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("standby read of a new-term value before reload = %v", err)
	}
	if err := standby.ReloadKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	if standby.KeyStatus().Term != 2 {
		t.Fatalf("standby term = %d after reload", standby.KeyStatus().Term)
	}
	if got := mustGet(t, standby, "after-rotate"); got != "v2" {
		t.Fatalf("after-rotate = %q", got)
	}

	newRoot, _ := active.GenerateKey()
	if err := active.SetRootKey(ctx, newRoot); err != nil {
		t.Fatal(err)
	}
	if err := standby.ReloadKeyring(ctx); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("reload after rekey elsewhere = %v, want ErrInvalidKey", err)
	}
	// The standby keeps its previous keys rather than losing them.
	if got := mustGet(t, standby, "after-rotate"); got != "v2" {
		t.Fatalf("after failed reload = %q", got)
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

func TestGenerateKey(t *testing.T) {
	b := New(newMapBackend())
	k1, err := b.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := b.GenerateKey()
	if len(k1) != 32 || len(k2) != 32 || bytes.Equal(k1, k2) {
		t.Fatalf("GenerateKey gave %d and %d bytes, equal=%v", len(k1), len(k2), bytes.Equal(k1, k2))
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	b, _, _ := unsealed(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				key := fmt.Sprintf("w%d/%d", w, i)
				if err := b.Put(ctx, &logical.StorageEntry{Key: key, Value: []byte(key)}); err != nil {
					t.Error(err)
					return
				}
				e, err := b.Get(ctx, key)
				if err != nil || e == nil || string(e.Value) != key {
					t.Errorf("read back %q: %v, %v", key, e, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			if _, err := b.Rotate(ctx); err != nil {
				t.Error(err)
			}
			_ = b.KeyStatus()
		}
	}()
	wg.Wait()
	if b.KeyStatus().Term != 6 {
		t.Fatalf("term = %d after 5 rotations", b.KeyStatus().Term)
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
