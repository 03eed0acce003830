package lease

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"time"
)

// Scheduling state of a lease in memory.
const (
	stWait        uint8 = iota // in the heap until due
	stQueued                   // ready for a worker
	stParked                   // its mount is backing off; waits for a probe
	stRunning                  // a worker is revoking it
	stIdle                     // does not expire (root tokens)
	stIrrevocable              // gave up; only an explicit revoke retries
	stGone                     // forgotten; skipped wherever it still sits
)

// item is all the manager keeps in memory per lease (about 48 bytes plus
// the ID, the map slot and the heap slot).
type item struct {
	id       string
	due      int64 // unix nanoseconds: expiry, or the next probe
	mount    *mountState
	hidx     int32 // index in the heap, -1 when not in it
	attempts uint8
	state    uint8
	probe    bool
}

// itemHeap is a min-heap of items by due time.
type itemHeap []*item

func (h itemHeap) Len() int           { return len(h) }
func (h itemHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = int32(i)
	h[j].hidx = int32(j)
}
func (h *itemHeap) Push(x any) {
	it := x.(*item)
	it.hidx = int32(len(*h))
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	n := len(old) - 1
	it := old[n]
	old[n] = nil
	*h = old[:n]
	it.hidx = -1
	return it
}

// mountState groups the revocations of one mount: a FIFO of ready leases,
// and a circuit that, once revocations fail, parks the mount's leases and
// lets a single probe retry at growing intervals.
type mountState struct {
	name        string
	queue       []*item
	qhead       int
	parked      []*item
	inflight    int
	failures    int  // consecutive failed attempts while open
	open        bool // failing: only the probe runs
	probing     bool // a probe is scheduled or running
	active      int
	irrevocable int
}

func (ms *mountState) queued() int { return len(ms.queue) - ms.qhead }

func (ms *mountState) enqueue(it *item) {
	it.state = stQueued
	ms.queue = append(ms.queue, it)
}

func (ms *mountState) dequeue() *item {
	for ms.qhead < len(ms.queue) {
		it := ms.queue[ms.qhead]
		ms.queue[ms.qhead] = nil
		ms.qhead++
		if ms.qhead == len(ms.queue) {
			ms.queue, ms.qhead = ms.queue[:0], 0
		} else if ms.qhead > 1024 && ms.qhead*2 > len(ms.queue) {
			n := copy(ms.queue, ms.queue[ms.qhead:])
			clear(ms.queue[n:])
			ms.queue, ms.qhead = ms.queue[:n], 0
		}
		if it.state == stQueued {
			return it
		}
	}
	return nil
}

// mountLocked returns the state of a mount, creating it.
func (m *Manager) mountLocked(path string) *mountState {
	name := m.opts.MountOf(path)
	ms := m.mounts[name]
	if ms == nil {
		ms = &mountState{name: name}
		m.mounts[name] = ms
		m.ring = append(m.ring, ms)
	}
	return ms
}

// trackLocked adds or updates the in-memory item of a lease. expire is zero
// for leases that do not expire. It reports whether the timer must wake.
func (m *Manager) trackLocked(id string, expire time.Time, irrevocable bool) bool {
	it := m.items[id]
	if it == nil {
		it = &item{id: id, hidx: -1, state: stGone, mount: m.mountLocked(id)}
		m.items[id] = it
	}
	switch {
	case irrevocable:
		m.setStateLocked(it, stIrrevocable)
		return false
	case expire.IsZero():
		m.setStateLocked(it, stIdle)
		return false
	}
	due := expire.UnixNano()
	switch it.state {
	case stQueued, stParked, stRunning:
		// Already on its way out; the worker re-reads the entry.
		return false
	}
	m.setStateLocked(it, stWait)
	it.due = due
	if it.hidx >= 0 {
		heap.Fix(&m.heap, int(it.hidx))
	} else {
		heap.Push(&m.heap, it)
	}
	return it.hidx == 0
}

// setStateLocked moves an item between states, keeping the counters and the
// heap right.
func (m *Manager) setStateLocked(it *item, st uint8) {
	was := it.state
	if was == st {
		return
	}
	if it.hidx >= 0 && st != stWait {
		heap.Remove(&m.heap, int(it.hidx))
	}
	counted := func(s uint8) int {
		switch s {
		case stGone:
			return 0
		case stIrrevocable:
			return 2
		}
		return 1
	}
	switch counted(was) {
	case 1:
		m.active--
		it.mount.active--
	case 2:
		m.irrevoc--
		it.mount.irrevocable--
	}
	switch counted(st) {
	case 1:
		m.active++
		it.mount.active++
	case 2:
		m.irrevoc++
		it.mount.irrevocable++
	}
	it.state = st
	if st != stWait {
		it.probe = false
	}
}

// forgetLocked drops a lease from memory.
func (m *Manager) forgetLocked(id string) {
	if m.restoring {
		m.tombstones[id] = struct{}{}
	}
	it := m.items[id]
	if it == nil {
		return
	}
	wasProbe := it.probe
	m.setStateLocked(it, stGone)
	delete(m.items, id)
	if wasProbe {
		it.mount.probing = false
		m.scheduleProbeLocked(it.mount)
	}
}

func (m *Manager) forget(id string) {
	m.mu.Lock()
	m.forgetLocked(id)
	m.mu.Unlock()
}

// wake nudges the timer loop to look at the heap again.
func (m *Manager) wake() {
	select {
	case m.wakeCh <- struct{}{}:
	default:
	}
}

// timerLoop is the one goroutine that watches expiry: it sleeps until the
// earliest due item and hands due items to their mount's queue.
func (m *Manager) timerLoop(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := m.dispatchDue()
		if wait < 0 {
			wait = time.Hour
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-m.wakeCh:
		case <-t.C:
		}
	}
}

// dispatchDue moves every due item out of the heap and returns how long
// until the next one (-1 when the heap is empty).
func (m *Manager) dispatchDue() time.Duration {
	for {
		m.mu.Lock()
		now := m.now().UnixNano()
		n := 0
		for len(m.heap) > 0 && m.heap[0].due <= now && n < 4096 {
			it := heap.Pop(&m.heap).(*item)
			m.dispatchLocked(it)
			n++
		}
		var wait time.Duration = -1
		if len(m.heap) > 0 && m.heap[0].due > now {
			wait = time.Duration(m.heap[0].due - now)
		}
		more := len(m.heap) > 0 && m.heap[0].due <= now
		m.mu.Unlock()
		if n > 0 {
			m.cond.Broadcast()
		}
		if !more {
			return wait
		}
	}
}

// dispatchLocked hands a due item to its mount: queued for a worker, or
// parked while the mount backs off (unless it is the mount's probe).
func (m *Manager) dispatchLocked(it *item) {
	ms := it.mount
	if ms.open && !it.probe {
		m.setStateLocked(it, stParked)
		ms.parked = append(ms.parked, it)
		m.scheduleProbeLocked(ms)
		return
	}
	probe := it.probe
	m.setStateLocked(it, stQueued)
	it.probe = probe
	ms.enqueue(it)
}

// scheduleProbeLocked picks the oldest parked lease of an open mount as its
// next probe, due after the mount's backoff.
func (m *Manager) scheduleProbeLocked(ms *mountState) {
	if !ms.open || ms.probing {
		return
	}
	for len(ms.parked) > 0 {
		it := ms.parked[0]
		ms.parked[0] = nil
		ms.parked = ms.parked[1:]
		if it.state != stParked {
			continue
		}
		m.setStateLocked(it, stWait)
		it.probe = true
		it.due = m.now().Add(m.backoff(ms.failures)).UnixNano()
		heap.Push(&m.heap, it)
		ms.probing = true
		m.wake()
		return
	}
	if len(ms.parked) == 0 {
		ms.parked = nil
	}
}

// backoff is the delay after n consecutive failures: exponential from
// BackoffBase, capped at BackoffMax, with jitter in [d/2, d].
func (m *Manager) backoff(n int) time.Duration {
	d := m.opts.BackoffBase
	for i := 1; i < n && d < m.opts.BackoffMax; i++ {
		d *= 2
	}
	if d > m.opts.BackoffMax {
		d = m.opts.BackoffMax
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// perMountLimit keeps one worker free for other mounts when one mount has a
// long queue, so a slow target cannot take the whole pool.
func (m *Manager) perMountLimit() int {
	if m.opts.Workers <= 1 {
		return 1
	}
	return m.opts.Workers - 1
}

// nextReadyLocked picks the next queued item, round-robin across mounts.
func (m *Manager) nextReadyLocked() *item {
	n := len(m.ring)
	limit := m.perMountLimit()
	for i := 0; i < n; i++ {
		ms := m.ring[(m.rrNext+i)%n]
		if ms.queued() == 0 || ms.inflight >= limit {
			continue
		}
		if it := ms.dequeue(); it != nil {
			m.rrNext = (m.rrNext + i + 1) % n
			probe := it.probe
			m.setStateLocked(it, stRunning)
			it.probe = probe
			ms.inflight++
			return it
		}
	}
	return nil
}

// worker revokes queued leases until Stop.
func (m *Manager) worker() {
	for {
		m.mu.Lock()
		it := m.nextReadyLocked()
		for it == nil && !m.stopping {
			m.cond.Wait()
			it = m.nextReadyLocked()
		}
		m.mu.Unlock()
		if it == nil {
			return
		}
		m.expire(it)
	}
}

// outcome of one automatic revocation attempt.
type outcome int

const (
	outRevoked outcome = iota // revoked, or already gone
	outRenewed                // the lease was extended meanwhile
	outFailed                 // retry later
	outGaveUp                 // marked irrevocable
)

// expire revokes one due lease and feeds the result back to its mount.
func (m *Manager) expire(it *item) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(m.runCtx), m.opts.RevokeTimeout)
	res, expireAt, err := m.revokeDue(ctx, it)
	cancel()

	m.mu.Lock()
	defer m.mu.Unlock()
	ms := it.mount
	ms.inflight--
	wasProbe := it.probe
	if it.state != stRunning {
		// Forgotten or rescheduled while running (RevokeByToken, Renew).
		if wasProbe {
			ms.probing = false
		}
		m.finishLocked(ms, res)
		return
	}
	switch res {
	case outRevoked:
		m.forgetLocked(it.id)
	case outRenewed:
		if expireAt.IsZero() {
			m.setStateLocked(it, stIdle)
			break
		}
		m.setStateLocked(it, stWait)
		it.due = expireAt.UnixNano()
		heap.Push(&m.heap, it)
		m.wake()
	case outGaveUp:
		m.setStateLocked(it, stIrrevocable)
		m.log.Error("lease is irrevocable", "lease_id", it.id, "attempts", it.attempts, "error", err)
	case outFailed:
		m.log.Warn("lease revocation failed", "lease_id", it.id, "attempts", it.attempts, "error", err)
		if !ms.open {
			ms.open = true
			ms.failures = 1
			// Everything queued for this mount waits for the probe.
			for q := ms.dequeue(); q != nil; q = ms.dequeue() {
				m.setStateLocked(q, stParked)
				ms.parked = append(ms.parked, q)
			}
		} else if wasProbe {
			ms.failures++
		}
		m.setStateLocked(it, stParked)
		ms.parked = append(ms.parked, it)
	}
	if wasProbe {
		ms.probing = false
	}
	m.finishLocked(ms, res)
}

// finishLocked updates a mount's circuit after an attempt: a success closes
// it and releases every parked lease; otherwise the next probe is planned.
func (m *Manager) finishLocked(ms *mountState, res outcome) {
	if res == outRevoked && ms.open {
		ms.open, ms.failures, ms.probing = false, 0, false
		for _, p := range ms.parked {
			if p != nil && p.state == stParked {
				ms.enqueue(p)
			}
		}
		ms.parked = nil
		m.cond.Broadcast()
	}
	m.scheduleProbeLocked(ms)
	if ms.queued() > 0 {
		m.cond.Broadcast()
	}
}

// revokeDue performs one automatic revocation under the lease's lock.
func (m *Manager) revokeDue(ctx context.Context, it *item) (outcome, time.Time, error) {
	unlock := m.locks.lock(it.id)
	defer unlock()
	e, err := m.load(ctx, it.id)
	if err != nil {
		return m.failed(ctx, it, nil, err)
	}
	if e == nil {
		return outRevoked, time.Time{}, nil
	}
	now := m.now()
	if e.Irrevocable {
		return outGaveUp, time.Time{}, nil
	}
	if e.ExpireTime.IsZero() || e.ExpireTime.After(now) {
		// Extended (or made non-expiring) since it was queued.
		return outRenewed, e.ExpireTime, nil
	}
	if err := m.r.Revoke(ctx, e); err != nil {
		return m.failed(ctx, it, e, err)
	}
	if err := m.remove(ctx, e); err != nil {
		// The target is clean; the entry will be retried and the revoke
		// repeated, which backends treat as a no-op.
		return m.failed(ctx, it, nil, err)
	}
	return outRevoked, time.Time{}, nil
}

// failed records a failed attempt on the entry (when there is one) and
// decides whether to give up.
func (m *Manager) failed(ctx context.Context, it *item, e *Entry, err error) (outcome, time.Time, error) {
	m.mu.Lock()
	attempts := int(it.attempts)
	if e != nil && e.RevokeAttempts > attempts {
		attempts = e.RevokeAttempts
	}
	attempts++
	it.attempts = uint8(min(attempts, 255))
	m.mu.Unlock()
	if e == nil {
		return outFailed, time.Time{}, err
	}
	e.RevokeAttempts = attempts
	e.LastError = truncate(err.Error(), 240)
	if m.opts.OnRevokeError != nil {
		m.opts.OnRevokeError(e, err)
	}
	res := outFailed
	if attempts >= m.opts.MaxAttempts || unrecoverable(err) {
		e.Irrevocable = true
		res = outGaveUp
		if m.opts.OnIrrevocable != nil {
			m.opts.OnIrrevocable(e)
		}
	}
	if perr := m.persist(ctx, e); perr != nil {
		m.log.Error("cannot record failed revocation", "lease_id", e.ID, "error", perr)
	}
	return res, time.Time{}, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
