package lease

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"time"
)

// restoreBatch is how many leases a loader reads before taking the lock
// once to hand them to the timer.
const restoreBatch = 1024

type restoredLease struct {
	id          string
	expire      time.Time
	irrevocable bool
}

// restore walks id/ folder by folder, reads entries on a few loaders and
// pushes them into the heap batch by batch, so that the timer (which always
// serves the soonest expiry first) runs while the rest loads. Leases found
// already expired are dispatched at once. Operations on leases not loaded
// yet read storage and work meanwhile.
func (m *Manager) restore(ctx context.Context) {
	start := time.Now()
	var loaded, failed int64
	var mu sync.Mutex
	defer func() {
		m.mu.Lock()
		m.restoring = false
		m.tombstones = nil
		m.mu.Unlock()
		close(m.restored)
		m.log.Info("leases restored", "count", loaded, "unreadable", failed, "duration", time.Since(start))
	}()

	batches := make(chan []string, 4)
	var wg sync.WaitGroup
	for i := 0; i < max(2, runtime.GOMAXPROCS(0)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ids := range batches {
				ok, bad := m.restoreBatch(ctx, ids)
				mu.Lock()
				loaded += int64(ok)
				failed += int64(bad)
				mu.Unlock()
			}
		}()
	}
	m.walk(ctx, batches)
	close(batches)
	wg.Wait()
}

// walk lists id/ breadth first and sends lease IDs in batches.
func (m *Manager) walk(ctx context.Context, out chan<- []string) {
	folders := []string{""}
	for len(folders) > 0 {
		prefix := folders[0]
		folders = folders[1:]
		keys, err := m.listRetry(ctx, idPrefix+prefix)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Error("cannot restore leases", "prefix", prefix, "error", err)
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		batch := make([]string, 0, restoreBatch)
		for _, k := range keys {
			if strings.HasSuffix(k, "/") {
				folders = append(folders, prefix+k)
				continue
			}
			batch = append(batch, prefix+k)
			if len(batch) == restoreBatch {
				select {
				case out <- batch:
				case <-ctx.Done():
					return
				}
				batch = make([]string, 0, restoreBatch)
			}
		}
		if len(batch) > 0 {
			select {
			case out <- batch:
			case <-ctx.Done():
				return
			}
		}
	}
}

// listRetry lists a folder, retrying a few times on error.
func (m *Manager) listRetry(ctx context.Context, prefix string) ([]string, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var keys []string
		if keys, err = m.view.List(ctx, prefix); err == nil {
			return keys, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return nil, err
}

// restoreBatch reads a batch of entries and tracks them.
func (m *Manager) restoreBatch(ctx context.Context, ids []string) (ok, bad int) {
	got := make([]restoredLease, 0, len(ids))
	for _, id := range ids {
		if ctx.Err() != nil {
			return ok, bad
		}
		se, err := m.view.Get(ctx, idPrefix+id)
		if err != nil || se == nil {
			if err != nil {
				bad++
				m.log.Warn("cannot read lease", "lease_id", id, "error", err)
			}
			continue
		}
		t, err := decodeTimes(se.Value)
		if err != nil {
			bad++
			m.log.Warn("cannot decode lease", "lease_id", id, "error", err)
			continue
		}
		got = append(got, restoredLease{id: id, expire: t.ExpireTime, irrevocable: t.Irrevocable})
	}
	wake := false
	m.mu.Lock()
	for _, r := range got {
		if _, dead := m.tombstones[r.id]; dead {
			continue
		}
		if m.items[r.id] != nil {
			// Registered, renewed or revoked since: memory is newer.
			continue
		}
		if m.trackLocked(r.id, r.expire, r.irrevocable) {
			wake = true
		}
		ok++
	}
	m.mu.Unlock()
	if wake || len(got) > 0 {
		m.wake()
	}
	return ok, bad
}
