package storagetest

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/storage"
)

// put writes key and removes it again when the test ends.
func put(t *testing.T, b storage.Backend, key string, value []byte) {
	t.Helper()
	if err := b.Put(context.Background(), &storage.Entry{Key: key, Value: value}); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	t.Cleanup(func() { deleteAll(t, b, []string{key}) })
}

func deleteAll(t *testing.T, b storage.Backend, keys []string) {
	t.Helper()
	parallel(t, 8, len(keys), func(i int) error {
		return b.Delete(context.Background(), keys[i])
	})
}

func assertValue(t *testing.T, b storage.Backend, key string, want []byte) {
	t.Helper()
	e, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if e == nil {
		t.Fatalf("Get(%q) = nil, want %q", key, abbrev(want))
	}
	if e.Key != key {
		t.Fatalf("Get(%q).Key = %q", key, e.Key)
	}
	if !bytes.Equal(e.Value, want) {
		t.Fatalf("Get(%q).Value = %q, want %q", key, abbrev(e.Value), abbrev(want))
	}
	if e.Value == nil {
		t.Fatalf("Get(%q).Value is nil, want a non-nil slice", key)
	}
}

func assertMissing(t *testing.T, b storage.Backend, key string) {
	t.Helper()
	e, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if e != nil {
		t.Fatalf("Get(%q) = %q, want nil", key, abbrev(e.Value))
	}
}

// mustList checks List(prefix) against want; nil and empty both mean no
// keys.
func mustList(t *testing.T, b storage.Backend, prefix string, want []string) {
	t.Helper()
	got, err := b.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List(%q) = %q, want %q", prefix, got, want)
	}
}

// parallel runs fn(0..n-1) on the given number of workers and fails the
// test with the first error.
func parallel(t *testing.T, workers, n int, fn func(i int) error) {
	t.Helper()
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

func bytesOf(n int, c byte) []byte {
	return bytes.Repeat([]byte{c}, n)
}

func abbrev(v []byte) []byte {
	if len(v) > 64 {
		return append(slices.Clip(v[:64]), "..."...)
	}
	return v
}
