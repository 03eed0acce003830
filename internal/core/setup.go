package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/quota"
	"github.com/coffer-dev/coffer/internal/report"
	"github.com/coffer-dev/coffer/internal/token"
)

// setupStores creates the policy store, lease manager and token store over
// the unsealed barrier. Called with stateLock held.
func (c *Core) setupStores(ctx context.Context) error {
	c.policies = policy.NewStore(c.barrier.View(""))
	lopts := c.conf.LeaseOptions
	if lopts.Logger == nil {
		lopts.Logger = c.logger.With("component", "lease")
	}
	c.quotas = quota.New(c.barrier.View("sys/quotas/"), c.countLeases, c.now)
	c.quotaView.Store(c.quotas)
	c.leaseHooks(&lopts)
	rev := &leaseRevoker{c: c}
	c.leases = lease.New(c.barrier.View("sys/expire/"), rev, lopts)
	ts, err := token.NewStore(ctx, c.barrier.View("sys/token/"), tokenLeases{m: c.leases, c: c}, token.Options{
		Logger:     c.logger.With("component", "token"),
		Now:        c.now,
		DefaultTTL: func() time.Duration { return c.mountTTLs("auth/token/").def },
		MaxTTL:     func() time.Duration { return c.mountTTLs("auth/token/").max },
		HasSudo:    c.tokenHasSudo,
		RenewAuth:  c.renewLoginAuth,
	})
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	c.tokens = ts
	rev.ts.Store(ts)
	return nil
}

func (c *Core) teardownStores() {
	c.quotaView.Store(nil)
	c.policies, c.tokens, c.leases, c.quotas = nil, nil, nil, nil
}

// countLeases counts the stored leases under a path prefix (for lease
// count quotas, once when they are loaded or created).
func (c *Core) countLeases(ctx context.Context, prefix string) (int, error) {
	p := "id/"
	if prefix != "" {
		p += strings.TrimSuffix(prefix, "/") + "/"
	}
	keys, err := logical.CollectKeys(ctx, c.barrier.View("sys/expire/"), p)
	return len(keys), err
}

// postUnseal loads mounts and starts background work. Called with
// stateLock held and the barrier unsealed.
func (c *Core) postUnseal(ctx context.Context) error {
	c.activeCtx, c.activeCancel = context.WithCancel(context.Background())
	if err := c.setupStores(ctx); err != nil {
		return err
	}
	if err := c.persistClusterID(ctx); err != nil {
		return err
	}
	if err := c.quotas.Load(ctx); err != nil {
		return fmt.Errorf("load quotas: %w", err)
	}
	if err := c.setupAudit(ctx); err != nil {
		return err
	}
	st, err := report.NewStats(ctx, c.barrier.View("sys/report/"), c.now)
	if err != nil {
		return fmt.Errorf("load usage statistics: %w", err)
	}
	c.stats = st
	c.sys = c.newSystemBackend()
	if err := c.loadMounts(ctx); err != nil {
		return err
	}
	c.leases.Start(c.activeCtx)
	c.conf.Metrics.SetUnsealed(true)
	c.bgWG.Add(1)
	go c.rollbackLoop(c.activeCtx)
	return nil
}

// preSeal stops background work and unmounts everything. Called with
// stateLock held.
func (c *Core) preSeal() {
	if c.activeCancel != nil {
		c.activeCancel()
	}
	if c.leases != nil {
		c.leases.Stop()
	}
	if c.stats != nil {
		if err := c.stats.Close(context.Background()); err != nil {
			c.logger.Warn("saving usage statistics", "error", err)
		}
		c.stats = nil
	}
	c.conf.Metrics.SetUnsealed(false)
	if c.audit != nil {
		if err := c.audit.Close(); err != nil {
			c.logger.Warn("closing audit devices", "error", err)
		}
		c.audit = nil
	}
	for _, rt := range c.router.Reset() {
		rt.Backend.Cleanup(context.Background())
	}
	c.teardownStores()
	c.sys = nil
	c.clusterID = ""
}

// rollbackLoop asks every mount to undo stale write-ahead records, once
// right after unseal and then every minute.
func (c *Core) rollbackLoop(ctx context.Context) {
	defer c.bgWG.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		for _, rt := range c.router.Routes() {
			if _, err := rt.Backend.HandleRequest(ctx, mountRequest(rt, logical.RollbackOperation, "")); err != nil && ctx.Err() == nil {
				c.logger.Warn("rollback failed", "mount", rt.Entry.RoutePath(), "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leaseRevoker routes the lease manager's renew and revoke calls. It holds
// the token store directly so that it never waits on the core's state lock
// (the lease manager is stopped while that lock is held).
type leaseRevoker struct {
	c  *Core
	ts atomic.Pointer[token.Store]
}

func (r *leaseRevoker) Revoke(ctx context.Context, e *lease.Entry) error {
	if e.Auth != nil {
		// Token leases are keyed by the token's accessor: the token store
		// keeps no raw token IDs.
		ts := r.ts.Load()
		if ts == nil {
			return logical.ErrSealed
		}
		return ts.RevokeAccessor(ctx, e.ClientToken)
	}
	rt, rel := r.c.router.Match(e.Path)
	if rt == nil {
		return fmt.Errorf("no mount serves lease path %q", e.Path)
	}
	req := mountRequest(rt, logical.RevokeOperation, rel)
	req.Secret = e.Secret
	resp, err := rt.Backend.HandleRequest(ctx, req)
	if err == nil && resp != nil && resp.Data["fallback_cleanup"] == true {
		// The engine had to clean up after the role's revocation statements.
		r.c.conf.Metrics.OrphanCleanup(rt.Entry.RoutePath())
		if st := r.c.stats; st != nil {
			st.OrphanCleaned()
		}
	}
	return err
}

func (r *leaseRevoker) Renew(ctx context.Context, e *lease.Entry, increment time.Duration) (*logical.Response, error) {
	if e.Auth != nil {
		return nil, logical.InvalidRequest("tokens are renewed through auth/token/renew")
	}
	rt, rel := r.c.router.Match(e.Path)
	if rt == nil {
		return nil, logical.InvalidRequest("no mount serves lease path %q", e.Path)
	}
	s := *e.Secret
	s.Increment = increment
	s.IssueTime = e.IssueTime
	s.LeaseID = e.ID
	req := mountRequest(rt, logical.RenewOperation, rel)
	req.Secret = &s
	resp, err := rt.Backend.HandleRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp != nil && resp.Secret != nil {
		r.c.conf.Metrics.LeaseRenewed(0)
		if st := r.c.stats; st != nil {
			st.Renewed()
		}
		ttls := r.c.mountTTLs(rt.Entry.RoutePath())
		remaining := e.IssueTime.Add(ttls.max).Sub(r.c.now())
		if resp.Secret.TTL > remaining {
			resp.Secret.TTL = remaining
			resp.AddWarning(fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly", increment.String(), remaining.Truncate(time.Second).String()))
		}
	}
	return resp, nil
}

// tokenLeases adapts the lease manager to the token store's needs. Leases
// are tied to tokens by accessor, never by the raw token ID.
type tokenLeases struct {
	m *lease.Manager
	c *Core
}

func (t tokenLeases) RegisterToken(ctx context.Context, te *token.Entry) error {
	if te.ExpireTime.IsZero() {
		return nil
	}
	return t.m.RegisterToken(ctx, "", te.Path, te.Accessor, te.ExpireTime, &logical.Auth{
		Accessor: te.Accessor, Policies: te.Policies, DisplayName: te.DisplayName,
		LeaseOptions: logical.LeaseOptions{TTL: te.TTL, Renewable: te.Renewable},
	})
}

// RevokeByToken revokes what the token created and destroys its cubbyhole.
func (t tokenLeases) RevokeByToken(ctx context.Context, te *token.Entry) error {
	if err := t.m.RevokeByToken(ctx, te.Accessor); err != nil {
		return err
	}
	return t.c.clearCubbyhole(ctx, te.Accessor)
}

// renewLoginAuth asks the auth method that issued a login token for its
// current terms (e.g. the role still exists, its TTLs).
func (c *Core) renewLoginAuth(ctx context.Context, te *token.Entry, auth *logical.Auth) (*logical.Auth, error) {
	rt, rel := c.router.Match(te.Path)
	if rt == nil {
		return nil, logical.InvalidRequest("the auth method that issued this token (%s) is no longer mounted", te.Path)
	}
	req := mountRequest(rt, logical.RenewOperation, rel)
	req.Auth, req.Data = auth, map[string]interface{}{}
	resp, err := rt.Backend.HandleRequest(ctx, req)
	if err != nil {
		if errors.Is(err, logical.ErrUnsupportedOperation) {
			return nil, nil
		}
		return nil, err
	}
	if resp == nil || resp.Auth == nil {
		return nil, nil
	}
	t := c.entryTTLs(rt.Entry)
	if resp.Auth.MaxTTL == 0 || resp.Auth.MaxTTL > t.max {
		resp.Auth.MaxTTL = t.max
	}
	return resp.Auth, nil
}
