package barrier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

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
