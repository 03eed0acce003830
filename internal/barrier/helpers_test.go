package barrier

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
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
