package core

import (
	"context"
	"net"
	"strconv"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/quota"
	"github.com/coffer-dev/coffer/internal/router"
)

// mayCreateLease reports whether an operation can create a lease (and so
// must hold a lease-count quota slot).
func mayCreateLease(op logical.Operation) bool {
	return op == logical.ReadOperation || op == logical.UpdateOperation || op == logical.CreateOperation
}

func clientIP(conn *logical.Connection) string {
	if conn == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(conn.RemoteAddr); err == nil {
		return host
	}
	return conn.RemoteAddr
}

// resolveRole asks an auth method which role a login request names, when
// some quota is bound to a role.
func (c *Core) resolveRole(ctx context.Context, rt *router.Route, rel string, req *logical.Request) string {
	if rt == nil || rt.Entry.Table != router.TableAuth || !c.quotas.HasRoleQuotas() {
		return ""
	}
	probe := scopeTo(&logical.Request{ID: req.ID, Operation: logical.ResolveRoleOperation, Data: req.Data, Connection: req.Connection}, rt, rel)
	resp, err := rt.Backend.HandleRequest(ctx, probe)
	if err != nil || resp == nil {
		return ""
	}
	role, _ := resp.Data["role"].(string)
	return role
}

// rateHeaders returns Retry-After on a refusal and, when configured, the
// X-Ratelimit-* headers.
func (c *Core) rateHeaders(res quota.RateResult, err error) map[string][]string {
	if !res.Applied {
		return nil
	}
	h := map[string][]string{}
	if err != nil {
		secs := int(res.RetryAfter.Seconds() + 0.999)
		if secs < 1 {
			secs = 1
		}
		h["Retry-After"] = []string{strconv.Itoa(secs)}
	}
	if c.quotas.GetConfig().EnableRateLimitResponseHeaders {
		h["X-Ratelimit-Limit"] = []string{strconv.Itoa(res.Limit)}
		h["X-Ratelimit-Remaining"] = []string{strconv.Itoa(res.Remaining)}
		h["X-Ratelimit-Reset"] = []string{strconv.Itoa(int(res.Reset.Seconds() + 0.999))}
	}
	if len(h) == 0 {
		return nil
	}
	return h
}
