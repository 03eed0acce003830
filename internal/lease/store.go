package lease

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Storage layout under the manager's view:
//
//	id/<lease id>                        the JSON Entry
//	token/<hash of token>/<hash of id>   the lease ID, so the leases of a
//	                                     token are found without a scan
//
// An entry's value starts with a 10-byte header, so that restoring a
// million leases reads what the timer needs without parsing JSON:
//
//	byte 0      headerVersion
//	bytes 1-8   expiry, unix nanoseconds, big endian (0: never)
//	byte 9      flags (flagIrrevocable)
//	bytes 10-   the Entry as JSON
//
// A value that starts with '{' is read as JSON alone.
const (
	idPrefix    = "id/"
	tokenPrefix = "token/"

	headerVersion   = 1
	headerLen       = 10
	flagIrrevocable = 1
)

// encodeEntry returns the stored form of an entry.
func encodeEntry(e *Entry) ([]byte, error) {
	js, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerLen, headerLen+len(js))
	out[0] = headerVersion
	var exp int64
	if !e.ExpireTime.IsZero() {
		exp = e.ExpireTime.UnixNano()
	}
	binary.BigEndian.PutUint64(out[1:9], uint64(exp))
	if e.Irrevocable {
		out[9] |= flagIrrevocable
	}
	return append(out, js...), nil
}

// entryJSON returns the JSON part of a stored entry.
func entryJSON(v []byte) ([]byte, error) {
	switch {
	case len(v) >= headerLen && v[0] == headerVersion:
		return v[headerLen:], nil
	case len(v) > 0 && v[0] == '{':
		return v, nil
	}
	return nil, errors.New("unknown lease entry format")
}

// entryTimes is the part of an entry the timer needs.
type entryTimes struct {
	ExpireTime  time.Time `json:"expire_time"`
	Irrevocable bool      `json:"irrevocable"`
}

// decodeTimes reads the timer's part of a stored entry, from the header
// when there is one.
func decodeTimes(v []byte) (entryTimes, error) {
	var t entryTimes
	if len(v) >= headerLen && v[0] == headerVersion {
		if exp := int64(binary.BigEndian.Uint64(v[1:9])); exp != 0 {
			t.ExpireTime = time.Unix(0, exp)
		}
		t.Irrevocable = v[9]&flagIrrevocable != 0
		return t, nil
	}
	js, err := entryJSON(v)
	if err != nil {
		return t, err
	}
	err = json.Unmarshal(js, &t)
	return t, err
}

func tokenIndexKey(tokenID, leaseID string) string {
	return tokenPrefix + hashToken(tokenID) + "/" + hashLease(leaseID)
}

// load reads a lease entry; nil when it does not exist.
func (m *Manager) load(ctx context.Context, id string) (*Entry, error) {
	se, err := m.view.Get(ctx, idPrefix+id)
	if err != nil {
		return nil, fmt.Errorf("read lease %q: %w", id, err)
	}
	if se == nil {
		return nil, nil
	}
	e := new(Entry)
	js, err := entryJSON(se.Value)
	if err == nil {
		err = json.Unmarshal(js, e)
	}
	if err != nil {
		return nil, fmt.Errorf("decode lease %q: %w", id, err)
	}
	if e.ID == "" {
		e.ID = id
	}
	return e, nil
}

// persist writes a lease entry.
func (m *Manager) persist(ctx context.Context, e *Entry) error {
	return m.store(ctx, e, false)
}

// store writes a lease entry and, with indexed, its entry under its client
// token, as one transaction.
func (m *Manager) store(ctx context.Context, e *Entry, indexed bool) error {
	b, err := encodeEntry(e)
	if err != nil {
		return fmt.Errorf("encode lease %q: %w", e.ID, err)
	}
	ops := []logical.StorageOp{logical.PutOp(idPrefix+e.ID, b)}
	if indexed && e.ClientToken != "" {
		ops = append(ops, logical.PutOp(tokenIndexKey(e.ClientToken, e.ID), []byte(e.ID)))
	}
	if err := logical.Transaction(ctx, m.view, ops); err != nil {
		return fmt.Errorf("store lease %q: %w", e.ID, err)
	}
	return nil
}

// remove deletes a lease entry and its token index; deleting what is already
// gone is not an error.
func (m *Manager) remove(ctx context.Context, e *Entry) error {
	existed := true
	if m.opts.OnRemove != nil {
		cur, err := m.view.Get(ctx, idPrefix+e.ID)
		if err != nil {
			return fmt.Errorf("read lease %q: %w", e.ID, err)
		}
		existed = cur != nil
	}
	ops := make([]logical.StorageOp, 0, 2)
	if e.ClientToken != "" {
		ops = append(ops, logical.DeleteOp(tokenIndexKey(e.ClientToken, e.ID)))
	}
	ops = append(ops, logical.DeleteOp(idPrefix+e.ID))
	if err := logical.Transaction(ctx, m.view, ops); err != nil {
		return fmt.Errorf("delete lease %q: %w", e.ID, err)
	}
	if existed && m.opts.OnRemove != nil {
		m.opts.OnRemove(e)
	}
	return nil
}

// leasesOfToken returns the IDs of the leases indexed under a token.
func (m *Manager) leasesOfToken(ctx context.Context, tokenID string) ([]string, error) {
	prefix := tokenPrefix + hashToken(tokenID) + "/"
	keys, err := m.view.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list leases of token: %w", err)
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		se, err := m.view.Get(ctx, prefix+k)
		if err != nil {
			return nil, fmt.Errorf("read token index: %w", err)
		}
		if se != nil && len(se.Value) > 0 {
			ids = append(ids, string(se.Value))
		}
	}
	return ids, nil
}

// keyLocks serialises operations on one lease (renew, revoke, upsert) so
// that a lease is revoked once and never renewed while being revoked. A lock
// exists only while someone holds or waits for it.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the lock of key and returns its release.
func (k *keyLocks) lock(key string) func() {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// EncodeEntry returns the stored form of a lease entry and StorageKey its
// key in the manager's storage view. They let tools prepare lease data
// (e.g. synthetic leases for restore benchmarks) without a running manager.
func EncodeEntry(e *Entry) ([]byte, error) { return encodeEntry(e) }

// StorageKey is the key of a lease entry in the manager's storage view.
func StorageKey(leaseID string) string { return idPrefix + leaseID }
