package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// leaseIDLength is the length of the random part of a lease ID.
const leaseIDLength = 24

// Register creates the lease of a secret issued at path (the full request
// path, mount included) for clientToken. The entry is persisted before
// Register returns; secret.LeaseID and secret.IssueTime are set. secret.TTL
// must already be final. If the lease cannot be stored, the secret is
// revoked through the Revoker and the error returned.
func (m *Manager) Register(ctx context.Context, path, clientToken string, secret *logical.Secret) (*Entry, error) {
	if secret == nil {
		return nil, fmt.Errorf("register lease: %w", errors.New("no secret"))
	}
	if secret.TTL <= 0 {
		return nil, fmt.Errorf("register lease at %q: %w", path, errors.New("secret has no TTL"))
	}
	path = strings.Trim(path, "/")
	if path == "" || strings.Contains(path, "..") {
		return nil, logical.InvalidRequest("invalid lease path %q", path)
	}
	suffix, err := randomID(leaseIDLength)
	if err != nil {
		return nil, fmt.Errorf("generate lease ID: %w", err)
	}
	now := m.now()
	secret.LeaseID = path + "/" + suffix
	secret.IssueTime = now
	e := &Entry{
		ID:          secret.LeaseID,
		Path:        path,
		Secret:      secret,
		ClientToken: clientToken,
		IssueTime:   now,
		ExpireTime:  now.Add(secret.TTL),
	}
	if err := m.store(ctx, e, true); err != nil {
		return nil, m.rollback(ctx, e, err)
	}
	m.track(ctx, e)
	return e, nil
}

// track schedules e's expiry once its storage is committed.
func (m *Manager) track(ctx context.Context, e *Entry) {
	logical.AfterCommit(ctx, func() {
		m.mu.Lock()
		wake := m.trackLocked(e.ID, e.ExpireTime, false)
		m.mu.Unlock()
		if wake {
			m.wake()
		}
	})
}

// Unregister undoes Register when the write batch holding the lease could
// not be committed: the secret is revoked on its target and whatever was
// stored is deleted.
func (m *Manager) Unregister(ctx context.Context, e *Entry, cause error) error {
	return m.rollback(ctx, e, cause)
}

type noTargetRollbackKey struct{}

// WithoutTargetRollback marks ctx so that a Register or Unregister that
// fails under it deletes what it stored without revoking the secret on its
// target: for a lease stored while its engine is still creating the
// secret, which the engine then abandons itself (and whose revocation
// could wait on the engine's own locks).
func WithoutTargetRollback(ctx context.Context) context.Context {
	return context.WithValue(ctx, noTargetRollbackKey{}, true)
}

// rollback undoes a half-registered lease: the secret is revoked on its
// target (unless ctx says otherwise) and whatever was stored is deleted.
func (m *Manager) rollback(ctx context.Context, e *Entry, cause error) error {
	_, keepTarget := ctx.Value(noTargetRollbackKey{}).(bool)
	ctx = logical.WithoutWriteBatch(ctx)
	errs := []error{fmt.Errorf("register lease: %w", cause)}
	if !keepTarget {
		if err := m.r.Revoke(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("revoke the unregistered secret: %w", err))
		}
	}
	if err := m.remove(ctx, e); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RegisterToken creates or updates the lease of a token created at
// creationPath (e.g. "auth/token/create"). id is the last element of the
// lease ID, typically the token store's salted token ID; when empty a hash
// of tokenID is used (see TokenLeaseID). A zero expire means the token does
// not expire (root tokens): the lease is kept but never fires. auth is
// stored with the lease; its ClientToken defaults to tokenID.
func (m *Manager) RegisterToken(ctx context.Context, id, creationPath string, tokenID string, expire time.Time, auth *logical.Auth) error {
	if tokenID == "" {
		return fmt.Errorf("register token lease: %w", errors.New("empty token"))
	}
	creationPath = strings.Trim(creationPath, "/")
	if creationPath == "" || strings.Contains(creationPath, "..") {
		return logical.InvalidRequest("invalid token creation path %q", creationPath)
	}
	leaseID := TokenLeaseID(creationPath, tokenID)
	if id != "" {
		leaseID = creationPath + "/" + id
	}
	if auth == nil {
		auth = &logical.Auth{}
	}
	if auth.ClientToken == "" {
		auth.ClientToken = tokenID
	}
	unlock := m.locks.lock(leaseID)
	defer unlock()
	old, err := m.load(ctx, leaseID)
	if err != nil {
		return err
	}
	now := m.now()
	e := &Entry{ID: leaseID, Path: creationPath, Auth: auth, ClientToken: tokenID, IssueTime: now, ExpireTime: expire}
	if old != nil {
		e.IssueTime = old.IssueTime
		e.LastRenewalTime = now
	}
	if auth.IssueTime.IsZero() {
		auth.IssueTime = e.IssueTime
	}
	if err := m.store(ctx, e, old == nil); err != nil {
		return err
	}
	m.track(ctx, e)
	return nil
}

// Renew extends a secret lease through Revoker.Renew. It refuses unknown,
// expired, irrevocable and non-renewable leases and token leases with
// Vault's errors. The response carries the Secret with LeaseID, TTL and
// Renewable set.
func (m *Manager) Renew(ctx context.Context, leaseID string, increment time.Duration) (*logical.Response, error) {
	unlock := m.locks.lock(leaseID)
	defer unlock()
	e, err := m.load(ctx, leaseID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	if err := e.Renewable(now); err != nil {
		return nil, err
	}
	if e.Secret == nil {
		if e.Auth != nil {
			return nil, ErrTokenLease
		}
		return nil, logical.InvalidRequest("lease does not correspond to a secret")
	}
	req := *e
	s := *e.Secret
	s.LeaseID = e.ID
	s.IssueTime = e.IssueTime
	s.Increment = increment
	req.Secret = &s
	resp, err := m.r.Renew(ctx, &req, increment)
	if err != nil {
		return nil, fmt.Errorf("renew lease %q: %w", leaseID, err)
	}
	if resp == nil || resp.Secret == nil {
		return resp, nil
	}
	if resp.Secret.TTL <= 0 {
		return nil, fmt.Errorf("renew lease %q: %w", leaseID, errors.New("renewed secret has no TTL"))
	}
	ns := *resp.Secret
	if ns.InternalData == nil {
		ns.InternalData = e.Secret.InternalData
	}
	ns.LeaseID = e.ID
	ns.IssueTime = e.IssueTime
	ns.Increment = 0
	resp.Secret = &ns
	e.Secret = &ns
	e.ExpireTime = now.Add(ns.TTL)
	e.LastRenewalTime = now
	if err := m.persist(ctx, e); err != nil {
		return nil, err
	}
	m.mu.Lock()
	wake := m.trackLocked(e.ID, e.ExpireTime, false)
	m.mu.Unlock()
	if wake {
		m.wake()
	}
	out := *resp
	return &out, nil
}

// Lookup returns a lease entry, read from storage; nil when there is none.
func (m *Manager) Lookup(ctx context.Context, leaseID string) (*Entry, error) {
	if leaseID == "" {
		return nil, nil
	}
	return m.load(ctx, leaseID)
}

// List returns the lease IDs and folders directly under prefix, as LIST
// sys/leases/lookup/<prefix>: folders end in "/".
func (m *Manager) List(ctx context.Context, prefix string) ([]string, error) {
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	keys, err := m.view.List(ctx, idPrefix+prefix)
	if err != nil {
		return nil, fmt.Errorf("list leases under %q: %w", prefix, err)
	}
	return keys, nil
}

// Count returns the number of live leases, in total and per mount.
func (m *Manager) Count() Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := Counts{Active: m.active, Irrevocable: m.irrevoc, ByMount: map[string]int{}, IrrevocableByMount: map[string]int{}}
	for name, ms := range m.mounts {
		if ms.active > 0 {
			c.ByMount[name] = ms.active
		}
		if ms.irrevocable > 0 {
			c.IrrevocableByMount[name] = ms.irrevocable
		}
	}
	return c
}

// Irrevocable lists the IDs of the irrevocable leases known in memory, in
// no particular order.
func (m *Manager) Irrevocable() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, m.irrevoc)
	for id, it := range m.items {
		if it.state == stIrrevocable {
			out = append(out, id)
		}
	}
	return out
}
