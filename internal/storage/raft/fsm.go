package raft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/coffer-dev/coffer/internal/storage"
)

var (
	// dataBucket holds every storage entry, keyed by its path.
	dataBucket = []byte("data")
	// metaBucket holds the index of the last raft entry applied to
	// dataBucket, written in the same transaction.
	metaBucket = []byte("meta")
	appliedKey = []byte("applied-index")
)

// fsm is the raft state machine: committed commands are applied to a bbolt
// file, which also serves all reads.
type fsm struct {
	path   string
	logger *slog.Logger

	// mu guards db and closed: reads and applies hold it shared;
	// Restore and a state-file rewrite hold it exclusively while they swap
	// in a new file.
	mu     sync.RWMutex
	db     *bolt.DB
	closed bool

	// openSnapshots counts snapshot read transactions not yet released.
	openSnapshots atomic.Int32
	compact       compaction

	// applied is the last log index reflected in db. Entries at or below
	// it are skipped, so replaying the log after a restart is harmless.
	applied atomic.Uint64
	// batches counts bbolt transactions that applied log entries.
	batches atomic.Uint64

	// cache serves repeated reads of unchanged state without a bbolt
	// transaction.
	cache atomic.Pointer[readCache]
}

// The state file is written without fsync: the raft log, fsynced before
// an entry counts as committed, and the snapshots are the durable record,
// and vault.db is a cache of what they hold. It is fsynced when the node
// stops cleanly, which then leaves cleanMarker beside it. A state file found
// without the marker (the process or the machine stopped abruptly) may be
// behind or, after a power loss, torn; it is dropped, and raft restores the
// latest snapshot and replays the log after it (see Backend.start). This
// saves two fsyncs per batch of applied entries.

// cleanMarker is the suffix of the file that says the state file beside it
// was synced and closed.
const cleanMarker = ".clean"

func openFSM(path string, logger *slog.Logger) (*fsm, error) {
	if err := dropUnclean(path, logger); err != nil {
		return nil, err
	}
	// A rewrite that was cut short leaves its unfinished copy behind.
	if err := os.Remove(path + compactSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	db, err := openDB(path, true)
	if err != nil {
		return nil, err
	}
	applied, err := readApplied(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	f := &fsm{path: path, logger: logger, db: db}
	f.compact.minFree = defaultCompactMinFree
	f.applied.Store(applied)
	return f, nil
}

func openDB(path string, noSync bool) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        time.Second,
		NoSync:         noSync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{dataBucket, metaBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialize %s: %w", path, err)
	}
	return db, nil
}

func readApplied(db *bolt.DB) (uint64, error) {
	var applied uint64
	err := db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(metaBucket).Get(appliedKey)
		switch len(v) {
		case 0:
		case 8:
			applied = binary.BigEndian.Uint64(v)
		default:
			return errors.New("corrupt applied index")
		}
		return nil
	})
	return applied, err
}

// dropUnclean removes the state file at path unless the previous stop left
// the clean marker, then removes the marker: from now on the file changes
// without fsync until close.
func dropUnclean(path string, logger *slog.Logger) error {
	marker := path + cleanMarker
	_, err := os.Stat(marker)
	clean := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("check %s: %w", marker, err)
	}
	if !clean {
		switch _, err := os.Stat(path); {
		case err == nil:
			logger.Warn("state file was not closed cleanly; rebuilding it from the raft snapshot and log", "path", path)
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("remove unclean state file: %w", err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("check %s: %w", path, err)
		}
	}
	if err := os.Remove(marker); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", marker, err)
	}
	return syncDir(filepath.Dir(path))
}

// close syncs the state file, closes it and leaves the clean marker.
func (f *fsm) close() error {
	f.stopCompaction()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if err := f.db.Sync(); err != nil {
		f.db.Close()
		return fmt.Errorf("sync %s: %w", f.path, err)
	}
	if err := f.db.Close(); err != nil {
		return err
	}
	if err := writeMarker(f.path + cleanMarker); err != nil {
		return err
	}
	return syncDir(filepath.Dir(f.path))
}

func writeMarker(path string) error {
	m, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := m.Sync(); err != nil {
		m.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return m.Close()
}

// view runs fn in a read transaction. The state it sees is recorded as
// seen, so that no later get answers from an older cached state.
func (f *fsm) view(fn func(b *bolt.Bucket) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	cache := f.readCache(f.db)
	return f.db.View(func(tx *bolt.Tx) error {
		applied, err := txApplied(tx)
		if err != nil {
			return err
		}
		cache.saw(applied)
		return fn(tx.Bucket(dataBucket))
	})
}

func (f *fsm) get(key string) (*storage.Entry, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	cache := f.readCache(f.db)
	if v, ok := cache.lookup(f.applied.Load(), key); ok {
		return &storage.Entry{Key: key, Value: bytes.Clone(v)}, nil
	}
	var (
		e       *storage.Entry
		applied uint64
	)
	err := f.db.View(func(tx *bolt.Tx) error {
		var err error
		if applied, err = txApplied(tx); err != nil {
			return err
		}
		if v := tx.Bucket(dataBucket).Get([]byte(key)); v != nil {
			e = &storage.Entry{Key: key, Value: bytes.Clone(v)}
			if e.Value == nil {
				e.Value = []byte{}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var v []byte
	if e != nil {
		v = e.Value
	}
	cache.store(applied, key, v)
	return e, nil
}

// txApplied is the applied index of the state a transaction sees: the
// index is written in the same transaction as the entries it covers.
func txApplied(tx *bolt.Tx) (uint64, error) {
	v := tx.Bucket(metaBucket).Get(appliedKey)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, errors.New("corrupt applied index")
}

// readCache holds values of the data bucket as of one applied index, gen,
// for one bbolt file (a restore swaps the file, and with it the cache).
// Each value was read in a transaction that saw exactly that index, so
// together they are one consistent state; they are used only while gen is
// still the latest index this node has applied or any reader has seen. A
// read from a newer state empties the cache. Values are stored as they
// are on disk (barrier ciphertext for all but a few core entries), in a
// bounded amount of memory.
type readCache struct {
	db *bolt.DB

	mu      sync.RWMutex
	gen     uint64
	entries map[string][]byte
	bytes   int

	// seen is the highest applied index a read transaction saw; it runs
	// ahead of fsm.applied between an apply's commit and the update of
	// fsm.applied.
	seen atomic.Uint64
}

const (
	readCacheBytes      = 4 << 20
	readCacheEntryBytes = 64 << 10
)

// readCache returns the read cache of db, the current file. Called with
// f.mu held.
func (f *fsm) readCache(db *bolt.DB) *readCache {
	for {
		c := f.cache.Load()
		if c != nil && c.db == db {
			return c
		}
		if f.cache.CompareAndSwap(c, &readCache{db: db}) {
			return f.cache.Load()
		}
	}
}

// saw records that a read transaction saw applied index gen.
func (c *readCache) saw(gen uint64) {
	for {
		s := c.seen.Load()
		if gen <= s || c.seen.CompareAndSwap(s, gen) {
			return
		}
	}
}

// lookup returns key's cached value if the cache holds the latest state
// (applied is the fsm's applied index). Missing keys are not cached.
func (c *readCache) lookup(applied uint64, key string) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.entries == nil || c.gen != max(applied, c.seen.Load()) {
		return nil, false
	}
	v, ok := c.entries[key]
	return v, ok
}

// store records that a transaction at applied index gen read v for key
// (nil when missing).
func (c *readCache) store(gen uint64, key string, v []byte) {
	c.saw(gen)
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen < c.gen {
		return
	}
	if gen > c.gen || c.entries == nil {
		c.entries, c.bytes, c.gen = map[string][]byte{}, 0, gen
	}
	if v == nil || len(v) > readCacheEntryBytes {
		return
	}
	if old, ok := c.entries[key]; ok {
		c.bytes -= len(old)
		delete(c.entries, key)
	}
	for k, old := range c.entries {
		if c.bytes+len(v) <= readCacheBytes {
			break
		}
		c.bytes -= len(old)
		delete(c.entries, k)
	}
	c.entries[key] = bytes.Clone(v)
	c.bytes += len(v)
}

// list returns the keys directly under prefix, relative to it. Keys come
// out of the cursor sorted; a sub-folder is reported once and then skipped
// by seeking past it ('0' is the byte after '/').
func (f *fsm) list(prefix string) ([]string, error) {
	var keys []string
	err := f.view(func(b *bolt.Bucket) error {
		p := []byte(prefix)
		c := b.Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); {
			rest := k[len(p):]
			i := bytes.IndexByte(rest, '/')
			if i < 0 {
				keys = append(keys, string(rest))
				k, _ = c.Next()
				continue
			}
			keys = append(keys, string(rest[:i+1]))
			skip := append(append(slices.Clip(p), rest[:i]...), '0')
			k, _ = c.Seek(skip)
		}
		return nil
	})
	return keys, err
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch implements raft.BatchingFSM: all commands of the batch are
// applied in one bbolt transaction, together with the new applied index.
// A command that cannot be decoded gets an error response; a failing bbolt
// transaction panics, because this node could no longer follow the log.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	resp := make([]any, len(logs))
	last := f.applied.Load()
	next := last
	var batch [][]op
	for i, l := range logs {
		if l.Index <= last {
			continue
		}
		next = max(next, l.Index)
		if l.Type != raft.LogCommand {
			continue
		}
		ops, err := decodeCommand(l.Data)
		if err != nil {
			f.logger.Error("skipping undecodable raft entry", "index", l.Index, "error", err)
			resp[i] = err
			continue
		}
		batch = append(batch, ops)
	}
	if next == last {
		return resp
	}

	f.mu.RLock()
	defer f.mu.RUnlock()
	err := f.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(dataBucket)
		for _, ops := range batch {
			if err := applyOps(b, ops); err != nil {
				return err
			}
		}
		return tx.Bucket(metaBucket).Put(appliedKey, appliedBytes(next))
	})
	if err != nil {
		panic(fmt.Sprintf("raft storage: applying committed entries up to %d to %s: %v", next, f.path, err))
	}
	f.record(batch)
	f.applied.Store(next)
	f.batches.Add(1)
	return resp
}

// Snapshot implements raft.FSM. It opens a read transaction, which sees
// the state as of the last applied entry while later entries keep being
// applied; Persist streams it and Release ends it.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	tx, err := f.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("begin snapshot: %w", err)
	}
	f.openSnapshots.Add(1)
	return &fsmSnapshot{tx: tx, f: f}, nil
}

func appliedBytes(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// Restore implements raft.FSM: it builds a new bbolt file from the
// snapshot stream and swaps it in place of the current one.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp := f.path + ".restore"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	n, err := buildDB(tmp, rc)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("restore: close current state: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	db, err := openDB(f.path, true)
	if err != nil {
		return fmt.Errorf("restore: reopen: %w", err)
	}
	f.db = db
	// The snapshot carries no log index. raft resumes after the snapshot's
	// own index, so nothing that follows may be skipped.
	f.applied.Store(0)
	f.logger.Info("restored storage from a raft snapshot", "entries", n)
	return nil
}

// buildDB writes the entries of a snapshot stream into a new bbolt file at
// path, in transactions of bounded size, and returns the entry count.
func buildDB(path string, r io.Reader) (int, error) {
	db, err := openDB(path, true)
	if err != nil {
		return 0, err
	}
	defer db.Close()

	var (
		pending []storage.Entry
		size    int
		total   int
	)
	flush := func() error {
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(dataBucket)
			for _, e := range pending {
				if err := b.Put([]byte(e.Key), e.Value); err != nil {
					return err
				}
			}
			return nil
		})
		total += len(pending)
		pending, size = pending[:0], 0
		return err
	}
	err = readSnapshot(r, func(e storage.Entry) error {
		pending = append(pending, e)
		size += len(e.Key) + len(e.Value)
		if size >= restoreBatchBytes || len(pending) >= restoreBatchEntries {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = db.Sync()
	}
	if err != nil {
		return 0, err
	}
	return total, db.Close()
}

const (
	restoreBatchBytes   = 16 << 20
	restoreBatchEntries = 100_000
)

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fsmSnapshot implements raft.FSMSnapshot over an open read transaction.
type fsmSnapshot struct {
	tx *bolt.Tx
	f  *fsm
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	err := writeSnapshot(sink, s.tx.Bucket(dataBucket))
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release ends the read transaction; with no snapshot holding on to the
// file's pages, it is a good moment to see whether the file is worth
// rewriting (see maybeCompact).
func (s *fsmSnapshot) Release() {
	s.tx.Rollback()
	if s.f.openSnapshots.Add(-1) == 0 {
		s.f.maybeCompact()
	}
}

var (
	_ raft.BatchingFSM = (*fsm)(nil)
	_ raft.FSMSnapshot = (*fsmSnapshot)(nil)
)
