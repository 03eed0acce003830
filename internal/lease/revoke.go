package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Revoke revokes a lease. With sync the Revoker is called now and its error
// returned; otherwise the lease is marked expired and revoked in the
// background, with retries. Revoking a lease that does not exist is not an
// error (Vault answers 204 too).
func (m *Manager) Revoke(ctx context.Context, leaseID string, sync bool) error {
	if leaseID == "" {
		return logical.InvalidRequest("lease_id must be specified")
	}
	var err error
	if sync {
		_, err = m.revokeNow(ctx, leaseID, false)
	} else {
		_, err = m.lazyRevoke(ctx, leaseID)
	}
	return err
}

// revokeNow revokes a lease on its target and deletes it. With force the
// lease is deleted even when the target refuses. It reports whether there
// was a lease.
func (m *Manager) revokeNow(ctx context.Context, id string, force bool) (bool, error) {
	unlock := m.locks.lock(id)
	defer unlock()
	e, err := m.load(ctx, id)
	if err != nil {
		if !force {
			return false, err
		}
		m.log.Warn("dropping unreadable lease", "lease_id", id, "error", err)
		if derr := m.view.Delete(ctx, idPrefix+id); derr != nil {
			return false, fmt.Errorf("delete lease %q: %w", id, derr)
		}
		m.forget(id)
		return true, nil
	}
	if e == nil {
		m.forget(id)
		return false, nil
	}
	if e.ExpireTime.IsZero() || e.ExpireTime.After(m.now()) {
		e.RevokedEarly = true
	}
	if err := m.r.Revoke(ctx, e); err != nil {
		if m.opts.OnRevokeError != nil {
			m.opts.OnRevokeError(e, err)
		}
		if !force {
			return false, fmt.Errorf("revoke lease %q: %w", id, err)
		}
		m.log.Warn("forced revocation: dropping lease whose revocation failed", "lease_id", id, "error", err)
	} else if e.Auth != nil {
		// Revoking a token removes its own lease too.
		if cur, err := m.view.Get(ctx, idPrefix+id); err == nil && cur == nil {
			m.forget(id)
			return true, nil
		}
	}
	if err := m.remove(ctx, e); err != nil {
		return false, err
	}
	m.forget(id)
	return true, nil
}

// lazyRevoke marks a lease expired now (persisted, so a restart still
// revokes it) and lets the workers revoke it. An irrevocable lease gets one
// more automatic attempt.
func (m *Manager) lazyRevoke(ctx context.Context, id string) (bool, error) {
	unlock := m.locks.lock(id)
	e, err := m.load(ctx, id)
	if err != nil || e == nil {
		unlock()
		if e == nil && err == nil {
			m.forget(id)
		}
		return false, err
	}
	now := m.now()
	changed := false
	if e.ExpireTime.IsZero() || e.ExpireTime.After(now) {
		e.ExpireTime = now
		e.RevokedEarly = true
		changed = true
	}
	if e.Irrevocable {
		e.Irrevocable = false
		e.RevokeAttempts = max(0, m.opts.MaxAttempts-1)
		changed = true
	}
	if changed {
		if err := m.persist(ctx, e); err != nil {
			unlock()
			return false, err
		}
	}
	unlock()
	m.mu.Lock()
	wake := m.trackLocked(e.ID, e.ExpireTime, false)
	if it := m.items[e.ID]; it != nil {
		it.attempts = uint8(min(e.RevokeAttempts, 255))
	}
	m.mu.Unlock()
	if wake {
		m.wake()
	}
	return true, nil
}

// RevokePrefix revokes every lease whose ID starts with prefix (a lease ID
// on its own revokes that lease). wait revokes now and stops at the first
// failure; otherwise the leases are queued for the workers. force (which
// implies wait) deletes leases even when their target refuses. It returns
// how many leases were revoked or queued.
func (m *Manager) RevokePrefix(ctx context.Context, prefix string, force, wait bool) (int, error) {
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix == "" {
		return 0, logical.InvalidRequest("prefix must be specified")
	}
	wait = wait || force
	one := func(id string) (bool, error) {
		if wait {
			return m.revokeNow(ctx, id, force)
		}
		return m.lazyRevoke(ctx, id)
	}
	if !strings.HasSuffix(prefix, "/") {
		e, err := m.load(ctx, prefix)
		if err == nil && e != nil {
			ok, err := one(prefix)
			if err != nil {
				return 0, fmt.Errorf("failed to revoke %q: %w", prefix, err)
			}
			if ok {
				return 1, nil
			}
			return 0, nil
		}
		prefix += "/"
	}
	keys, err := logical.CollectKeys(ctx, m.view, idPrefix+prefix)
	if err != nil {
		return 0, fmt.Errorf("failed to scan for leases: %w", err)
	}
	// Leases are revoked by a few workers at once: storage commits of
	// concurrent revocations are batched, and one slow target does not
	// hold up the rest. The first failure stops handing out more work.
	var (
		n, next  atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	for range min(prefixWorkers, len(keys)) {
		wg.Go(func() {
			for !failed() {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				id := strings.TrimPrefix(keys[i], idPrefix)
				ok, err := one(id)
				if err != nil {
					fail(fmt.Errorf("failed to revoke %q (%d / %d): %w", id, i+1, len(keys), err))
					return
				}
				if ok {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(n.Load()), firstErr
}

// prefixWorkers is how many leases RevokePrefix revokes at once.
const prefixWorkers = 16

// RevokeByToken queues for revocation every lease created with tokenID and
// deletes the token's own lease without calling the Revoker (the caller is
// revoking the token). It is what the token store calls when a token dies.
func (m *Manager) RevokeByToken(ctx context.Context, tokenID string) error {
	if tokenID == "" {
		return nil
	}
	ids, err := m.leasesOfToken(ctx, tokenID)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		e, err := m.load(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case e == nil:
			if err := m.view.Delete(ctx, tokenIndexKey(tokenID, id)); err != nil {
				errs = append(errs, fmt.Errorf("delete stale token index: %w", err))
			}
			m.forget(id)
		case e.Auth != nil && e.ClientToken == tokenID:
			if err := m.remove(ctx, e); err != nil {
				errs = append(errs, err)
				continue
			}
			m.forget(id)
		default:
			if _, err := m.lazyRevoke(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("revoke leases of token: %w", errors.Join(errs...))
	}
	return nil
}

// ErrTidyRunning is returned when Tidy is called while one is in progress.
var ErrTidyRunning = errors.New("tidy of leases is already in progress")

// Tidy cleans storage: token index entries that point to no lease (or to a
// lease of another token), and unreadable lease entries. With
// Options.TokenExists it also revokes secret leases whose token no longer
// exists and drops token leases of tokens that are gone. It returns how
// many things it fixed.
func (m *Manager) Tidy(ctx context.Context) (int, error) {
	if !m.tidying.CompareAndSwap(false, true) {
		return 0, ErrTidyRunning
	}
	defer m.tidying.Store(false)
	n, err := m.tidyIndex(ctx)
	if err != nil {
		return n, err
	}
	k, err := m.tidyLeases(ctx)
	return n + k, err
}

func (m *Manager) tidyIndex(ctx context.Context) (int, error) {
	tokens, err := m.view.List(ctx, tokenPrefix)
	if err != nil {
		return 0, fmt.Errorf("list token index: %w", err)
	}
	n := 0
	for _, th := range tokens {
		if !strings.HasSuffix(th, "/") {
			continue
		}
		keys, err := m.view.List(ctx, tokenPrefix+th)
		if err != nil {
			return n, fmt.Errorf("list token index: %w", err)
		}
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			key := tokenPrefix + th + k
			se, err := m.view.Get(ctx, key)
			if err != nil {
				return n, fmt.Errorf("read token index: %w", err)
			}
			stale := se == nil || len(se.Value) == 0
			if !stale {
				e, err := m.load(ctx, string(se.Value))
				stale = err == nil && (e == nil || hashToken(e.ClientToken)+"/" != th)
			}
			if stale {
				if err := m.view.Delete(ctx, key); err != nil {
					return n, fmt.Errorf("delete token index: %w", err)
				}
				n++
			}
		}
	}
	return n, nil
}

func (m *Manager) tidyLeases(ctx context.Context) (int, error) {
	keys, err := logical.CollectKeys(ctx, m.view, idPrefix)
	if err != nil {
		return 0, fmt.Errorf("failed to scan for leases: %w", err)
	}
	known := map[string]bool{}
	n := 0
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		id := strings.TrimPrefix(k, idPrefix)
		e, err := m.load(ctx, id)
		if err != nil {
			m.log.Warn("tidy: dropping unreadable lease", "lease_id", id, "error", err)
			if err := m.view.Delete(ctx, k); err != nil {
				return n, fmt.Errorf("delete lease %q: %w", id, err)
			}
			m.forget(id)
			n++
			continue
		}
		if e == nil || e.ClientToken == "" || m.opts.TokenExists == nil {
			continue
		}
		exists, seen := known[e.ClientToken]
		if !seen {
			exists, err = m.opts.TokenExists(ctx, e.ClientToken)
			if err != nil {
				return n, fmt.Errorf("look up token of lease %q: %w", id, err)
			}
			known[e.ClientToken] = exists
		}
		if exists {
			continue
		}
		if e.Auth != nil {
			if err := m.remove(ctx, e); err != nil {
				return n, err
			}
			m.forget(id)
		} else if _, err := m.lazyRevoke(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
