package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/audit"
	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/quota"
	"github.com/coffer-dev/coffer/internal/router"
	raftstore "github.com/coffer-dev/coffer/internal/storage/raft"
	"github.com/coffer-dev/coffer/internal/token"
)

// ErrInvalidTokenDenied is returned for an unknown, expired or revoked
// token: a 403 whose errors list both "permission denied" and "invalid token".
var ErrInvalidTokenDenied = &invalidTokenError{}

type invalidTokenError struct{}

func (*invalidTokenError) Error() string { return "permission denied" }
func (*invalidTokenError) Unwrap() []error {
	return []error{logical.ErrPermissionDenied, logical.ErrInvalidToken}
}

// HandleRequest runs one client request through the pipeline: seal check,
// token, ACL, routing, then lease registration and token creation for
// the response.
func (c *Core) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	resp, err := c.handleRequest(ctx, req)
	if st, ok := c.ha.restores.LoadAndDelete(req.ID); ok {
		// The request staged a snapshot restore: it is installed under
		// the exclusive state lock before the client hears back.
		staged := st.(*raftstore.StagedSnapshot)
		if err != nil {
			staged.Discard()
		} else if rerr := c.installSnapshot(context.WithoutCancel(ctx), staged); rerr != nil {
			return nil, rerr
		}
	}
	return resp, err
}

func (c *Core) handleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed {
		return nil, logical.ErrSealed
	}
	if c.ha.standby {
		return nil, ErrNotActive
	}
	if req.ID == "" {
		req.ID = RequestID()
	}
	var trail *audit.LogInput
	resp, err := c.handle(ctx, req, &trail)
	if trail != nil {
		out := *trail
		out.Type, out.Response, out.Err, out.Time = "response", resp, err, c.now()
		if aerr := c.logAudit(ctx, &out); aerr != nil {
			c.logger.Error("no audit device could record a response; the response was withheld", "path", req.Path, "error", aerr)
			return nil, fmt.Errorf("failed to audit the response: %w", aerr)
		}
	}
	return resp, err
}

// handle is the pipeline; *trail is set once the request has been audited,
// so the caller audits the response.
func (c *Core) handle(ctx context.Context, req *logical.Request, trail **audit.LogInput) (resp *logical.Response, err error) {
	fullPath := req.Path
	rt, rel := c.router.Match(fullPath)
	start := time.Now()
	defer func() { c.observeRequest(req, rt, rel, start, err) }()

	var quotaHeaders map[string][]string
	if !c.quotas.Empty() {
		role := c.resolveRole(ctx, rt, rel, req)
		res, err := c.quotas.AllowRate(fullPath, role, clientIP(req.Connection))
		quotaHeaders = c.rateHeaders(res, err)
		if err != nil {
			c.conf.Metrics.QuotaViolation(quota.TypeRateLimit, res.Quota)
			if c.stats != nil {
				c.stats.QuotaRefused()
			}
			return &logical.Response{Headers: quotaHeaders}, err
		}
		if mayCreateLease(req.Operation) {
			r, err := c.quotas.Reserve(fullPath, role)
			if err != nil {
				var ref *quota.Refusal
				if errors.As(err, &ref) {
					c.conf.Metrics.QuotaViolation(quota.TypeLeaseCount, ref.Quota)
				}
				if c.stats != nil {
					c.stats.QuotaRefused()
				}
				return nil, fmt.Errorf("request path %q: %w", fullPath, err)
			}
			// Commit when the request created a lease, else give the slot back.
			defer func() {
				if req.LeaseCreated {
					r.Commit()
				} else {
					r.Release()
				}
			}()
		}
	}

	var te *token.Entry
	var authErr error
	if rt == nil || !rt.IsUnauthenticated(rel) {
		te, authErr = c.checkToken(ctx, req, rt, rel)
	} else {
		req.Unauthenticated = true
	}
	if c.audit.Enabled() {
		in := c.auditInput(req, te, rt, authErr)
		if err := c.logAudit(ctx, in); err != nil {
			c.logger.Error("no audit device could record a request; it was not served", "path", fullPath, "error", err)
			return nil, fmt.Errorf("failed to audit the request; it was not served: %w", err)
		}
		*trail = in
	}
	if authErr != nil {
		return nil, authErr
	}
	if rt == nil {
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for route %q. route entry not found.", fullPath)
	}

	// An engine may store its secret's lease while it still creates the
	// secret (logical.Request.PersistLease, served by StoreLease).
	req.LeaseStore = c
	resp, err = rt.Backend.HandleRequest(ctx, scopeTo(req, rt, rel))
	req.Path = fullPath
	req.LeaseStore = nil
	if early := req.PersistedLease(); early != "" && (err != nil || resp == nil || resp.Secret == nil || resp.Secret.LeaseID != early) {
		// The request failed after its lease was stored: revoke it (in the
		// background, with retries), which undoes whatever the engine left.
		if rerr := c.leases.Revoke(context.WithoutCancel(ctx), early, false); rerr != nil {
			c.logger.Warn("could not revoke the lease of a failed request", "lease_id", early, "error", rerr)
		}
	}
	if te != nil {
		// A token whose last use this was is revoked now that the request is done.
		if rerr := c.tokens.RevokeAfterUse(ctx, te); rerr != nil {
			c.logger.Warn("could not revoke exhausted token", "accessor", te.Accessor, "error", rerr)
		}
	}
	if err != nil {
		return resp, err
	}
	if resp == nil {
		return nil, nil
	}
	if resp.Secret == nil && req.Operation == logical.ReadOperation && rt.Entry.Type == "kv" && rt.Entry.Options["version"] != "2" && resp.Data != nil {
		resp.Secret = kvV1Lease(resp.Data, c.entryTTLs(rt.Entry).def)
	}
	// A secret that already has a lease ID is a renewal's answer, not a
	// new secret.
	if resp.Secret != nil && resp.Secret.LeaseID == "" {
		accessor := ""
		if te != nil {
			// Leases are tied to their token by accessor.
			accessor = te.Accessor
		}
		if err := c.registerSecret(ctx, rt, req, req.Path, accessor, resp); err != nil {
			return nil, err
		}
	}
	if resp.Auth != nil && resp.Auth.ClientToken != "" {
		if resp.Auth.TTL > 0 {
			req.LeaseCreated = true // the token store registered the token's lease
		}
		c.conf.Metrics.TokenCreated(rt.Entry.Type, rt.Entry.RoutePath(), tokenTypeOr(resp.Auth.TokenType), resp.Auth.TTL)
	}
	if resp.Auth != nil && resp.Auth.ClientToken == "" {
		if err := c.createLoginToken(ctx, rt, req, req.Path, resp); err != nil {
			return nil, err
		}
	}
	if req.WrapTTL > 0 && resp.Raw == nil && resp.WrapInfo == nil && (resp.Data != nil || resp.Auth != nil || resp.Secret != nil) {
		return c.wrapResponse(ctx, req, resp)
	}
	for k, v := range quotaHeaders {
		if resp.Headers == nil {
			resp.Headers = map[string][]string{}
		}
		resp.Headers[k] = v
	}
	return resp, nil
}

// scopeTo points a request at a mount: the path relative to it, the
// mount's storage view and its identity.
func scopeTo(req *logical.Request, rt *router.Route, rel string) *logical.Request {
	req.Path, req.Storage = rel, rt.Storage
	req.MountPoint, req.MountType, req.MountAccessor = rt.Entry.RoutePath(), rt.Entry.Type, rt.Entry.Accessor
	return req
}

// mountRequest is a request the core sends to a mount on its own behalf
// (renew, revoke, rollback, role resolution, ...).
func mountRequest(rt *router.Route, op logical.Operation, rel string) *logical.Request {
	return scopeTo(&logical.Request{ID: randomUUID(), Operation: op}, rt, rel)
}

// checkToken resolves the caller's token and checks the ACL. When the
// token is valid but the ACL refuses, the entry is returned with the error
// so the refusal can be audited with the caller's identity.
func (c *Core) checkToken(ctx context.Context, req *logical.Request, rt *router.Route, rel string) (*token.Entry, error) {
	if req.ClientToken == "" {
		return nil, logical.ErrPermissionDenied
	}
	te, err := c.tokens.Lookup(ctx, req.ClientToken)
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if te == nil {
		return nil, ErrInvalidTokenDenied
	}
	if len(te.BoundCIDRs) > 0 && !remoteInCIDRs(req.Connection, te.BoundCIDRs) {
		return nil, ErrInvalidTokenDenied
	}
	req.ClientTokenAccessor = te.Accessor
	req.DisplayName = te.DisplayName
	req.Policies = te.Policies
	req.EntityID = te.EntityID

	if rt != nil && req.Operation == logical.UpdateOperation {
		probe := *req
		scopeTo(&probe, rt, rel)
		// An existence check that fails (e.g. on a malformed field) counts
		// as "update": the ACL decides first, the handler then reports the
		// bad input.
		found, exists, err := rt.Backend.HandleExistenceCheck(ctx, &probe)
		if err == nil && found && !exists {
			req.Operation = logical.CreateOperation
		}
	}

	acl, err := c.policies.ACL(ctx, te.Policies...)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	if req.Operation == logical.HelpOperation {
		caps := acl.Capabilities(req.Path)
		if len(caps) == 0 || (len(caps) == 1 && caps[0] == "deny") {
			return te, logical.ErrPermissionDenied
		}
	} else {
		res := acl.AllowOperation(req.Operation, req.Path, req.Data, req.WrapTTL)
		if !res.Allowed {
			if res.Reason != "" && res.DeniedParameter != "" {
				return te, logical.Errorf(logical.ErrPermissionDenied, "permission denied")
			}
			return te, logical.ErrPermissionDenied
		}
		if rt != nil && rt.IsRootPath(rel) && !res.IsRoot && !res.Sudo {
			return te, logical.ErrPermissionDenied
		}
	}
	if te.NumUses > 0 {
		used, err := c.tokens.UseToken(ctx, te)
		if err != nil {
			return nil, fmt.Errorf("use token: %w", err)
		}
		if used == nil {
			return nil, ErrInvalidTokenDenied
		}
		te = used
	}
	return te, nil
}

func remoteInCIDRs(conn *logical.Connection, cidrs []string) bool {
	if conn == nil {
		return false
	}
	host, _, err := net.SplitHostPort(conn.RemoteAddr)
	if err != nil {
		host = conn.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, c := range cidrs {
		if !strings.Contains(c, "/") {
			if net.ParseIP(c).Equal(ip) {
				return true
			}
			continue
		}
		if _, n, err := net.ParseCIDR(c); err == nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// registerSecret caps the secret's TTL by the mount and persists its lease
// before the response leaves the server. If the lease cannot be stored the
// lease manager revokes the secret on the backend and the request fails.
func (c *Core) registerSecret(ctx context.Context, rt *router.Route, req *logical.Request, path, clientToken string, resp *logical.Response) error {
	s := resp.Secret
	t := c.entryTTLs(rt.Entry)
	if s.TTL <= 0 {
		s.TTL = t.def
	}
	if s.TTL > t.max {
		resp.AddWarning(fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly", s.TTL.String(), t.max.String()))
		s.TTL = t.max
	}
	if st, _ := s.InternalData["secret_type"].(string); st == "kv" {
		// KV v1 reports a ttl but issues no lease.
		return nil
	}
	s.IssueTime = c.now()
	// The lease covers what the engine created, so the engine's
	// write-ahead record goes in the same transaction as the lease.
	lctx, batch := logical.WithWriteBatch(ctx)
	if walID, _ := s.InternalData[framework.WALInternalKey].(string); walID != "" {
		if err := framework.DeleteWAL(lctx, rt.Storage, walID); err != nil {
			c.logger.Warn("could not delete write-ahead record after storing the lease", "path", path, "error", err)
		}
	}
	e, err := c.leases.Register(lctx, path, clientToken, s)
	if err != nil {
		batch.Discard()
		// Register has already asked the engine to revoke the secret.
		return fmt.Errorf("failed to persist lease: %w", err)
	}
	if err := batch.Commit(ctx); err != nil {
		return fmt.Errorf("failed to persist lease: %w", c.leases.Unregister(ctx, e, err))
	}
	req.LeaseCreated = true
	c.conf.Metrics.LeaseCreated(rt.Entry.RoutePath(), rt.Entry.Type, strings.TrimPrefix(path, rt.Entry.RoutePath()), s.TTL)
	if c.stats != nil {
		c.stats.CredentialIssued(path, s.TTL)
	}
	return nil
}

// StoreLease implements logical.LeaseStore: it registers the lease of a
// secret while the engine is still creating it, on the mount and with the
// token of the request being handled (req is scoped to its mount). If that
// fails the engine, which waits for it, abandons the secret itself, so the
// secret is not revoked on its target here.
func (c *Core) StoreLease(ctx context.Context, req *logical.Request, resp *logical.Response) error {
	if resp == nil || resp.Secret == nil || resp.Secret.LeaseID != "" {
		return errors.New("persist lease: the response carries no new secret")
	}
	path := req.MountPoint + req.Path
	rt, _ := c.router.Match(path)
	if rt == nil || rt.Entry.Accessor != req.MountAccessor {
		return fmt.Errorf("persist lease: the mount of %q changed during the request", path)
	}
	return c.registerSecret(lease.WithoutTargetRollback(ctx), rt, req, path, req.ClientTokenAccessor, resp)
}

// createLoginToken turns an auth method's login response into a token.
func (c *Core) createLoginToken(ctx context.Context, rt *router.Route, req *logical.Request, path string, resp *logical.Response) error {
	a := resp.Auth
	t := c.entryTTLs(rt.Entry)
	if a.TTL <= 0 && a.Period <= 0 {
		a.TTL = t.def
	}
	if a.MaxTTL <= 0 || a.MaxTTL > t.max {
		a.MaxTTL = t.max
	}
	if a.TTL > t.max {
		resp.AddWarning(fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly", a.TTL.String(), t.max.String()))
		a.TTL = t.max
	}
	te, err := c.tokens.CreateFromAuth(ctx, path, a, nil)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	if !te.ExpireTime.IsZero() {
		req.LeaseCreated = true
	}
	c.conf.Metrics.TokenCreated(rt.Entry.Type, rt.Entry.RoutePath(), tokenTypeOr(te.Type), a.TTL)
	return nil
}

// tokenHasSudo reports whether a token's policies grant sudo on path.
func (c *Core) tokenHasSudo(ctx context.Context, te *token.Entry, path string) bool {
	acl, err := c.policies.ACL(ctx, te.Policies...)
	if err != nil {
		return false
	}
	for _, cp := range acl.Capabilities(path) {
		if cp == "sudo" || cp == "root" {
			return true
		}
	}
	return false
}

// kvV1Lease reports a KV version 1 read's lease terms as Vault does: the
// "ttl" (or "lease") key of the data, else the mount's default TTL. No
// lease is registered for it.
func kvV1Lease(data map[string]interface{}, def time.Duration) *logical.Secret {
	ttl := def
	for _, k := range []string{"ttl", "lease"} {
		if v, ok := data[k]; ok {
			if d, err := framework.ParseDurationSecond(v); err == nil && d > 0 {
				ttl = d
				break
			}
		}
	}
	return &logical.Secret{
		LeaseOptions: logical.LeaseOptions{TTL: ttl},
		InternalData: map[string]interface{}{"secret_type": "kv"},
	}
}
