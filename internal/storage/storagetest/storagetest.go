// Package storagetest is the conformance suite every storage.Backend runs in
// its own tests.
package storagetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/storage"
)

// TransactionalBackend is a backend that also applies transactions.
type TransactionalBackend interface {
	storage.Backend
	storage.Transactional
}

// Exercise runs the conformance suite against b, which must be empty. Each
// sub-test removes what it wrote, and the suite ends by checking that b is
// empty again.
func Exercise(t *testing.T, b storage.Backend) {
	t.Helper()
	mustList(t, b, "", nil)
	t.Run("GetMissing", func(t *testing.T) { testGetMissing(t, b) })
	t.Run("PutGet", func(t *testing.T) { testPutGet(t, b) })
	t.Run("InvalidPut", func(t *testing.T) { testInvalidPut(t, b) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, b) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, b) })
	t.Run("List", func(t *testing.T) { testList(t, b) })
	t.Run("ListTopLevel", func(t *testing.T) { testListTopLevel(t, b) })
	t.Run("ListPartialPrefix", func(t *testing.T) { testListPartialPrefix(t, b) })
	t.Run("ValuesCopied", func(t *testing.T) { testValuesCopied(t, b) })
	t.Run("ManyKeys", func(t *testing.T) { testManyKeys(t, b) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, b) })
	mustList(t, b, "", nil)
}

// ExerciseTransactional runs Exercise and then the transaction tests against
// b, which must be empty.
func ExerciseTransactional(t *testing.T, b TransactionalBackend) {
	t.Helper()
	Exercise(t, b)
	t.Run("TxnPutDelete", func(t *testing.T) { testTxnPutDelete(t, b) })
	t.Run("TxnOrder", func(t *testing.T) { testTxnOrder(t, b) })
	t.Run("TxnEmpty", func(t *testing.T) { testTxnEmpty(t, b) })
	t.Run("TxnInvalid", func(t *testing.T) { testTxnInvalid(t, b) })
	t.Run("TxnAtomicList", func(t *testing.T) { testTxnAtomicList(t, b) })
	mustList(t, b, "", nil)
}

func testGetMissing(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	for _, key := range []string{"missing", "missing/deeper/key", "a/"} {
		e, err := b.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if e != nil {
			t.Fatalf("Get(%q) = %+v, want nil", key, e)
		}
	}
}

func testPutGet(t *testing.T, b storage.Backend) {
	tests := []struct {
		name  string
		key   string
		value []byte
	}{
		{"simple", "pg/simple", []byte("hello")},
		{"nested", "pg/a/b/c/d", []byte("deep")},
		{"empty value", "pg/empty", []byte{}},
		{"binary", "pg/binary", []byte{0, 1, 2, 0xff, 0xfe, 0}},
		{"unicode key", "pg/ключ/✓", []byte("unicode")},
		{"large", "pg/large", bytesOf(256<<10, 'x')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			put(t, b, tt.key, tt.value)
			assertValue(t, b, tt.key, tt.value)
		})
	}
}

func testInvalidPut(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	if err := b.Put(ctx, nil); err == nil {
		t.Fatal("Put(nil) succeeded, want an error")
	}
	if err := b.Put(ctx, &storage.Entry{Key: "", Value: []byte("v")}); err == nil {
		t.Fatal("Put with an empty key succeeded, want an error")
	}
	mustList(t, b, "", nil)
}

func testOverwrite(t *testing.T, b storage.Backend) {
	put(t, b, "ow/key", []byte("first"))
	put(t, b, "ow/key", []byte("second, longer value"))
	assertValue(t, b, "ow/key", []byte("second, longer value"))
	put(t, b, "ow/key", []byte("3"))
	assertValue(t, b, "ow/key", []byte("3"))
	mustList(t, b, "ow/", []string{"key"})
}

func testDelete(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	put(t, b, "del/a", []byte("a"))
	put(t, b, "del/b", []byte("b"))
	if err := b.Delete(ctx, "del/a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertMissing(t, b, "del/a")
	assertValue(t, b, "del/b", []byte("b"))
	for _, key := range []string{"del/a", "del/never", "nothing/here"} {
		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%q) of a missing key: %v", key, err)
		}
	}
	mustList(t, b, "del/", []string{"b"})
}

func testList(t *testing.T, b storage.Backend) {
	for _, k := range []string{
		"ls/a", "ls/b", "ls/c/d", "ls/c/e/f", "ls/c/g", "ls/d/", "ls/a0", "ls/a-b", "ls/a.b",
		"ls/a/x", "ls/b/y/z", "lsx/other",
	} {
		put(t, b, k, []byte(k))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"ls/", []string{"a", "a-b", "a.b", "a/", "a0", "b", "b/", "c/", "d/"}},
		{"ls/c/", []string{"d", "e/", "g"}},
		{"ls/c/e/", []string{"f"}},
		{"ls/d/", []string{""}},
		{"ls/b/y/", []string{"z"}},
		{"ls/missing/", nil},
		{"nothing/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) { mustList(t, b, tt.prefix, tt.want) })
	}
}

func testListTopLevel(t *testing.T, b storage.Backend) {
	for _, k := range []string{"top", "core/keyring", "core/mounts", "sys/token/id/x", "a"} {
		put(t, b, k, []byte("v"))
	}
	mustList(t, b, "", []string{"a", "core/", "sys/", "top"})
}

// testListPartialPrefix checks that a prefix without a trailing slash is a
// plain string prefix and that results are relative to it, as in Vault's
// physical backends.
func testListPartialPrefix(t *testing.T, b storage.Backend) {
	for _, k := range []string{"pp/foo", "pp/foo/bar", "pp/foobar", "pp/fob", "pp/other"} {
		put(t, b, k, []byte("v"))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"pp/fo", []string{"b", "o", "o/", "obar"}},
		{"pp/foo", []string{"", "/", "bar"}},
		{"pp/foo/", []string{"bar"}},
		{"pp/z", nil},
		{"p", []string{"p/"}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) { mustList(t, b, tt.prefix, tt.want) })
	}
}

func testValuesCopied(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	value := []byte("original")
	put(t, b, "cp/key", value)
	copy(value, "MUTATED!")
	assertValue(t, b, "cp/key", []byte("original"))

	e, err := b.Get(ctx, "cp/key")
	if err != nil || e == nil {
		t.Fatalf("Get: %v, %v", e, err)
	}
	copy(e.Value, "CHANGED!")
	assertValue(t, b, "cp/key", []byte("original"))
}

func testManyKeys(t *testing.T, b storage.Backend) {
	const n = 1000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("many/%04d", i)
	}
	parallel(t, 16, len(keys), func(i int) error {
		return b.Put(context.Background(), &storage.Entry{Key: keys[i], Value: []byte(keys[i])})
	})
	t.Cleanup(func() { deleteAll(t, b, keys) })

	want := make([]string, n)
	for i, k := range keys {
		want[i] = strings.TrimPrefix(k, "many/")
	}
	mustList(t, b, "many/", want)
	for _, i := range []int{0, 1, n / 2, n - 1} {
		assertValue(t, b, keys[i], []byte(keys[i]))
	}
}

func testConcurrentWriters(t *testing.T, b storage.Backend) {
	const writers, perWriter = 8, 25
	keys := make([]string, 0, writers*perWriter)
	for w := range writers {
		for i := range perWriter {
			keys = append(keys, fmt.Sprintf("cw/w%d/%02d", w, i))
		}
	}
	t.Cleanup(func() { deleteAll(t, b, keys) })
	// Every writer also overwrites one shared key; exactly one of its
	// values must remain.
	t.Cleanup(func() { deleteAll(t, b, []string{"cw/shared"}) })
	parallel(t, writers, len(keys), func(i int) error {
		ctx := context.Background()
		if err := b.Put(ctx, &storage.Entry{Key: keys[i], Value: []byte(keys[i])}); err != nil {
			return err
		}
		return b.Put(ctx, &storage.Entry{Key: "cw/shared", Value: []byte(keys[i])})
	})
	for _, k := range keys {
		assertValue(t, b, k, []byte(k))
	}
	e, err := b.Get(context.Background(), "cw/shared")
	if err != nil || e == nil {
		t.Fatalf("Get shared: %v, %v", e, err)
	}
	if !slices.Contains(keys, string(e.Value)) {
		t.Fatalf("shared value %q was never written", e.Value)
	}
	wantDirs := make([]string, writers)
	for w := range writers {
		wantDirs[w] = fmt.Sprintf("w%d/", w)
	}
	mustList(t, b, "cw/", append([]string{"shared"}, wantDirs...))
}
