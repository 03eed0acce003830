package transit

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

const policyPrefix = "policy/"

// keyHandle guards one cached key. Readers (encrypt, decrypt, sign, ...)
// share mu; rotation, configuration and deletion take it exclusively.
type keyHandle struct {
	mu sync.RWMutex
	p  *policy // nil once the key is deleted or replaced
	// runlock and unlock are mu's methods as values, made once so that
	// acquire does not allocate them on every request.
	runlock, unlock func()
}

func newKeyHandle(p *policy) *keyHandle {
	h := &keyHandle{p: p}
	h.runlock, h.unlock = h.mu.RUnlock, h.mu.Unlock
	return h
}

// keyStore caches parsed keys in memory, loads them from the mount's
// (barrier-encrypted) storage on first use and writes every change back.
type keyStore struct {
	mu      sync.RWMutex
	handles map[string]*keyHandle
	// names serialises loading, creation, restore and deletion per name.
	names [64]sync.Mutex

	now    func() time.Time
	rand   io.Reader
	logger *slog.Logger
}

func newKeyStore(now func() time.Time, rnd io.Reader, logger *slog.Logger) *keyStore {
	return &keyStore{handles: map[string]*keyHandle{}, now: now, rand: rnd, logger: logger}
}

func (s *keyStore) nameLock(name string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(name))
	return &s.names[h.Sum32()%uint32(len(s.names))]
}

func (s *keyStore) cached(name string) *keyHandle {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.handles[name]
}

// handle returns the cached handle of a key, loading it from storage if
// needed; nil when the key does not exist.
func (s *keyStore) handle(ctx context.Context, st logical.Storage, name string) (*keyHandle, error) {
	if h := s.cached(name); h != nil {
		return h, nil
	}
	l := s.nameLock(name)
	l.Lock()
	defer l.Unlock()
	if h := s.cached(name); h != nil {
		return h, nil
	}
	p, err := s.load(ctx, st, name)
	if err != nil || p == nil {
		return nil, err
	}
	return s.insert(name, p), nil
}

func (s *keyStore) insert(name string, p *policy) *keyHandle {
	h := newKeyHandle(p)
	s.mu.Lock()
	s.handles[name] = h
	s.mu.Unlock()
	return h
}

func (s *keyStore) load(ctx context.Context, st logical.Storage, name string) (*policy, error) {
	e, err := st.Get(ctx, policyPrefix+name)
	if err != nil {
		return nil, fmt.Errorf("read key %q: %w", name, err)
	}
	if e == nil {
		return nil, nil
	}
	var p policy
	if err := json.Unmarshal(e.Value, &p); err != nil {
		return nil, fmt.Errorf("decode key %q: %w", name, err)
	}
	if p.MinDecryptionVersion == 0 {
		p.MinDecryptionVersion = 1
	}
	if err := p.prepare(); err != nil {
		return nil, err
	}
	return &p, nil
}

// persist writes a key to storage.
func persist(ctx context.Context, st logical.Storage, p *policy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode key %q: %w", p.Name, err)
	}
	if err := st.Put(ctx, &logical.StorageEntry{Key: policyPrefix + p.Name, Value: b}); err != nil {
		return fmt.Errorf("store key %q: %w", p.Name, err)
	}
	return nil
}

// acquire returns a key locked for reading (or writing), rotating it first
// when its auto_rotate_period has passed. release must be called when p is
// not nil; p is nil when the key does not exist.
func (s *keyStore) acquire(ctx context.Context, st logical.Storage, name string, write bool) (*policy, func(), error) {
	rotated := false
	for {
		h, err := s.handle(ctx, st, name)
		if err != nil || h == nil {
			return nil, nil, err
		}
		unlock := h.runlock
		if write {
			h.mu.Lock()
			unlock = h.unlock
		} else {
			h.mu.RLock()
		}
		if h.p == nil {
			// Deleted or replaced while we waited; look it up again.
			unlock()
			continue
		}
		if !rotated && h.p.dueForRotation(s.now()) {
			rotated = true
			if !write {
				unlock()
				s.rotateIfDue(ctx, st, h)
				continue
			}
			if err := s.rotate(ctx, st, h.p); err != nil {
				s.logger.Warn("automatic key rotation failed", "key", name, "error", err)
			}
		}
		return h.p, unlock, nil
	}
}

// rotateIfDue rotates a key whose auto_rotate_period has passed. A failure
// is logged and the current version stays in use.
func (s *keyStore) rotateIfDue(ctx context.Context, st logical.Storage, h *keyHandle) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.p
	if p == nil || !p.dueForRotation(s.now()) {
		return
	}
	if err := s.rotate(ctx, st, p); err != nil {
		s.logger.Warn("automatic key rotation failed", "key", p.Name, "error", err)
	}
}

// rotate adds a version and persists it, undoing the change on failure.
// The caller holds the key's write lock.
func (s *keyStore) rotate(ctx context.Context, st logical.Storage, p *policy) error {
	prevLatest, prevArchive, prevMinDec, prevImported := p.LatestVersion, p.ArchiveVersion, p.MinDecryptionVersion, p.Imported
	if err := p.rotate(s.rand, s.now()); err != nil {
		return err
	}
	if err := persist(ctx, st, p); err != nil {
		delete(p.Keys, strconv.Itoa(p.LatestVersion))
		delete(p.mat, p.LatestVersion)
		p.LatestVersion, p.ArchiveVersion, p.MinDecryptionVersion, p.Imported = prevLatest, prevArchive, prevMinDec, prevImported
		return err
	}
	return nil
}

// create makes a new key unless one exists; it returns the key's handle and
// whether it was created.
func (s *keyStore) create(ctx context.Context, st logical.Storage, p *policy) (*keyHandle, bool, error) {
	l := s.nameLock(p.Name)
	l.Lock()
	defer l.Unlock()
	if h := s.cached(p.Name); h != nil {
		return h, false, nil
	}
	existing, err := s.load(ctx, st, p.Name)
	if err != nil {
		return nil, false, err
	}
	if existing != nil {
		return s.insert(p.Name, existing), false, nil
	}
	if err := p.rotate(s.rand, s.now()); err != nil {
		return nil, false, err
	}
	if err := persist(ctx, st, p); err != nil {
		return nil, false, err
	}
	return s.insert(p.Name, p), true, nil
}

// remove deletes a key that allows deletion.
func (s *keyStore) remove(ctx context.Context, st logical.Storage, name string) error {
	l := s.nameLock(name)
	l.Lock()
	defer l.Unlock()
	h := s.cached(name)
	if h == nil {
		p, err := s.load(ctx, st, name)
		if err != nil {
			return err
		}
		if p == nil {
			return userErrorf("could not delete key; not found")
		}
		h = newKeyHandle(p)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p == nil {
		return userErrorf("could not delete key; not found")
	}
	if !h.p.DeletionAllowed {
		return userErrorf("deletion is not allowed for this key")
	}
	if err := st.Delete(ctx, policyPrefix+name); err != nil {
		return fmt.Errorf("delete key %q: %w", name, err)
	}
	// A key restored from Vault may have left an archive entry.
	if err := st.Delete(ctx, "archive/"+name); err != nil {
		return fmt.Errorf("delete key %q archive: %w", name, err)
	}
	h.p = nil
	s.mu.Lock()
	delete(s.handles, name)
	s.mu.Unlock()
	return nil
}

// replace stores a restored key under its name. Unless force is set an
// existing key is an error.
func (s *keyStore) replace(ctx context.Context, st logical.Storage, p *policy, force bool) error {
	l := s.nameLock(p.Name)
	l.Lock()
	defer l.Unlock()
	h := s.cached(p.Name)
	if h == nil {
		existing, err := s.load(ctx, st, p.Name)
		if err != nil {
			return err
		}
		if existing != nil {
			h = newKeyHandle(existing)
		}
	}
	if h != nil {
		if !force {
			return userErrorf("key %q already exists", p.Name)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
	}
	if err := persist(ctx, st, p); err != nil {
		return err
	}
	if h != nil {
		h.p = nil
	}
	s.insert(p.Name, p)
	return nil
}

// list returns the names of all keys.
func listKeys(ctx context.Context, st logical.Storage) ([]string, error) {
	entries, err := st.List(ctx, policyPrefix)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := entries[:0]
	for _, e := range entries {
		if !strings.HasSuffix(e, "/") {
			out = append(out, e)
		}
	}
	return out, nil
}

// rotateDue rotates every key whose auto_rotate_period has passed; the
// core's periodic rollback call drives it, so the engine owns no timer.
func (s *keyStore) rotateDue(ctx context.Context, st logical.Storage) {
	names, err := listKeys(ctx, st)
	if err != nil {
		s.logger.Warn("automatic key rotation: list keys", "error", err)
		return
	}
	for _, name := range names {
		h, err := s.handle(ctx, st, name)
		if err != nil {
			s.logger.Warn("automatic key rotation: load key", "key", name, "error", err)
			continue
		}
		if h != nil {
			s.rotateIfDue(ctx, st, h)
		}
	}
}
