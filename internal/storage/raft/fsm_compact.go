package raft

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bbolt never gives space back: once a burst of leases or tokens has come
// and gone, the state file stays as large as it was at its peak, and every
// page of it that was touched stays mapped into the process. When most of
// the file is free, the fsm rewrites it without the free pages:
//
//  1. From now on every applied batch is also recorded.
//  2. A read transaction's view is copied into vault.db.compact, while
//     entries keep being applied to the current file.
//  3. With the fsm locked (reads and applies wait, briefly), the recorded
//     batches are applied to the copy, which then replaces vault.db.
//
// Re-applying a batch the copy already holds is harmless (puts and deletes
// of whole values), so recording starts before the copy's view is taken.
// The copy is written without fsync, as vault.db always is: after an
// unclean stop neither survives (see dropUnclean).

const (
	// defaultCompactMinFree is the free space worth a rewrite; the file
	// must also be at least half free.
	defaultCompactMinFree = 32 << 20
	compactTxBytes        = 16 << 20
	compactSuffix         = ".compact"
	compactFillRate       = 1.0 // keys are copied in order: fill pages full
)

// compaction is the state of the fsm's state-file rewrites.
type compaction struct {
	minFree int64      // free bytes worth a rewrite (defaultCompactMinFree)
	mu      sync.Mutex // guards closing and wg.Add
	closing bool
	wg      sync.WaitGroup
	running bool // under mu
	// rec collects the batches applied during a rewrite; nil when none
	// runs. Written by ApplyBatch (one goroutine) under recMu.
	recMu sync.Mutex
	rec   *[][]op
	// done counts finished rewrites.
	done int
	// copied, if set, runs after the copy and before the swap.
	copied func()
	stop   chan struct{} // closed to end checkPeriodically
}

// maybeCompact starts a rewrite of the state file in the background if
// at least minFree bytes and half of it are free pages.
func (f *fsm) maybeCompact() {
	f.mu.RLock()
	st := f.db.Stats()
	pageSize := int64(f.db.Info().PageSize)
	f.mu.RUnlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		return
	}
	free := int64(st.FreePageN+st.PendingPageN) * pageSize
	if free < f.compact.minFree || free*2 < fi.Size() {
		return
	}
	c := &f.compact
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.running {
		return
	}
	c.running = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		start := time.Now()
		before, after, err := f.rewrite()
		c.mu.Lock()
		c.running = false
		if err == nil {
			c.done++
		}
		c.mu.Unlock()
		switch {
		case errors.Is(err, errCompactionSkipped):
			f.logger.Debug("state file rewrite skipped", "reason", err.Error())
		case err != nil:
			f.logger.Warn("state file rewrite failed; the file is kept as it is", "error", err)
		default:
			f.logger.Info("state file rewritten without its free pages", "path", f.path,
				"before_mb", before>>20, "after_mb", after>>20, "took", time.Since(start).Round(time.Millisecond))
		}
	}()
}

var errCompactionSkipped = errors.New("state file rewrite skipped")

// compactCheckInterval is how often the free space is looked at besides
// after each snapshot (a burst of revocations may not reach the snapshot
// threshold).
const compactCheckInterval = 10 * time.Second

// checkPeriodically calls maybeCompact every interval until the fsm
// closes.
func (f *fsm) checkPeriodically(every time.Duration) {
	c := &f.compact
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.stop != nil {
		return
	}
	c.stop = make(chan struct{})
	c.wg.Add(1)
	go func(stop <-chan struct{}) {
		defer c.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				f.maybeCompact()
			}
		}
	}(c.stop)
}

// stopCompaction makes a running rewrite give up and waits for it; no new
// one starts afterwards.
func (f *fsm) stopCompaction() {
	c := &f.compact
	c.mu.Lock()
	if !c.closing && c.stop != nil {
		close(c.stop)
	}
	c.closing = true
	c.mu.Unlock()
	c.wg.Wait()
}

func (f *fsm) compactionStopping() bool {
	c := &f.compact
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// record keeps a copy of an applied batch for the rewrite in progress.
func (f *fsm) record(batch [][]op) {
	c := &f.compact
	c.recMu.Lock()
	defer c.recMu.Unlock()
	if c.rec == nil {
		return
	}
	for _, ops := range batch {
		cp := make([]op, len(ops))
		for i, o := range ops {
			cp[i] = op{delete: o.delete, key: bytes.Clone(o.key), value: bytes.Clone(o.value)}
		}
		*c.rec = append(*c.rec, cp)
	}
}

func (f *fsm) setRecording(on bool) [][]op {
	c := &f.compact
	c.recMu.Lock()
	defer c.recMu.Unlock()
	var out [][]op
	if c.rec != nil {
		out = *c.rec
	}
	c.rec = nil
	if on {
		c.rec = new([][]op)
	}
	return out
}

// rewrite copies the state into a compact file and swaps it in. It returns
// the file sizes before and after.
func (f *fsm) rewrite() (before, after int64, err error) {
	tmp := f.path + compactSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, 0, err
	}
	dst, err := openDB(tmp, true)
	if err != nil {
		return 0, 0, err
	}
	swapped := false
	defer func() {
		if !swapped {
			f.setRecording(false)
			dst.Close()
			os.Remove(tmp)
		}
	}()

	f.setRecording(true)
	f.mu.RLock()
	src := f.db
	tx, err := src.Begin(false)
	f.mu.RUnlock()
	if err != nil {
		return 0, 0, err
	}
	before = tx.Size()
	err = copyState(tx, dst, f.compactionStopping)
	tx.Rollback()
	if err != nil {
		return 0, 0, err
	}
	if f.compact.copied != nil {
		f.compact.copied()
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed || f.compactionStopping():
		return 0, 0, fmt.Errorf("%w: the fsm is closing", errCompactionSkipped)
	case f.db != src:
		// A Restore swapped in another file (src, still referenced here,
		// cannot share its address).
		return 0, 0, fmt.Errorf("%w: the state was replaced by a snapshot meanwhile", errCompactionSkipped)
	case f.openSnapshots.Load() > 0:
		// Closing src would wait for the snapshot being persisted.
		return 0, 0, fmt.Errorf("%w: a snapshot is being written", errCompactionSkipped)
	}
	late := f.setRecording(false)
	err = dst.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(dataBucket)
		for _, ops := range late {
			if err := applyOps(b, ops); err != nil {
				return err
			}
		}
		return tx.Bucket(metaBucket).Put(appliedKey, appliedBytes(f.applied.Load()))
	})
	if err != nil {
		return 0, 0, err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return 0, 0, err
	}
	// dst is the file now at f.path (its lock and mapping follow the
	// inode); src's file is unlinked and goes away with its mapping.
	swapped = true
	f.db = dst
	if err := src.Close(); err != nil {
		f.logger.Warn("closing the replaced state file", "error", err)
	}
	_ = dst.View(func(tx *bolt.Tx) error { after = tx.Size(); return nil })
	return before, after, nil
}

// copyState copies the data and meta buckets seen by tx into dst, in
// transactions of about compactTxBytes, until stop says to give up.
func copyState(tx *bolt.Tx, dst *bolt.DB, stop func() bool) error {
	for _, name := range [][]byte{dataBucket, metaBucket} {
		c := tx.Bucket(name).Cursor()
		k, v := c.First()
		for k != nil {
			if stop() {
				return fmt.Errorf("%w: the fsm is closing", errCompactionSkipped)
			}
			err := dst.Update(func(dtx *bolt.Tx) error {
				b := dtx.Bucket(name)
				b.FillPercent = compactFillRate
				for n := 0; k != nil && n < compactTxBytes; k, v = c.Next() {
					if err := b.Put(k, v); err != nil {
						return err
					}
					n += len(k) + len(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func applyOps(b *bolt.Bucket, ops []op) error {
	for _, o := range ops {
		var err error
		if o.delete {
			err = b.Delete(o.key)
		} else {
			err = b.Put(o.key, o.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
