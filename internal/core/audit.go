package core

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/audit"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/router"
	"github.com/coffer-dev/coffer/internal/token"
)

// AuditDevice is an audit device declared in the server configuration;
// it is enabled at unseal unless a device already uses its path.
type AuditDevice struct {
	Type, Path, Description string
	Options                 map[string]string
}

// auditInput describes a request for the audit devices.
func (c *Core) auditInput(req *logical.Request, te *token.Entry, rt *router.Route, authErr error) *audit.LogInput {
	in := &audit.LogInput{Type: "request", Request: req, Err: authErr, Time: c.now()}
	if rt != nil {
		in.MountType, in.MountAccessor = rt.Entry.Type, rt.Entry.Accessor
	}
	if te != nil {
		in.Auth = &audit.AuthInfo{
			ClientToken: req.ClientToken, Accessor: te.Accessor, DisplayName: te.DisplayName,
			Policies: te.Policies, TokenPolicies: te.Policies, Metadata: te.Meta, EntityID: te.EntityID,
			TokenType: te.Type, TokenTTL: te.TTL, NumUses: te.NumUses, IssueTime: te.CreationTime,
		}
		if te.NumUses > 0 {
			in.Auth.RemainingUses = te.NumUses
		}
	}
	return in
}

// setupAudit creates the broker, loads the stored devices and enables the
// ones declared in the configuration.
func (c *Core) setupAudit(ctx context.Context) error {
	c.audit = audit.NewBroker(c.barrier.View("core/audit/"), c.logger.With("component", "audit"))
	if err := c.audit.Load(ctx); err != nil {
		return fmt.Errorf("load audit devices: %w", err)
	}
	have := map[string]bool{}
	for _, d := range c.audit.List() {
		have[d.Path] = true
	}
	for _, d := range c.conf.AuditDevices {
		p := d.Path
		if p == "" {
			p = d.Type
		}
		if have[p] || have[p+"/"] {
			continue
		}
		if err := c.audit.Enable(ctx, p, d.Type, d.Description, d.Options, false); err != nil {
			return fmt.Errorf("enable audit device %q from the configuration: %w", p, err)
		}
	}
	return nil
}

// ReloadAudit reopens file audit devices (after log rotation, on SIGHUP).
func (c *Core) ReloadAudit(ctx context.Context) error {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed || c.audit == nil {
		return nil
	}
	return c.audit.Reload(ctx)
}

// logAudit writes one audit event and records it in the metrics.
func (c *Core) logAudit(ctx context.Context, in *audit.LogInput) error {
	start := time.Now()
	kind, log := metrics.AuditRequest, c.audit.LogRequest
	if in.Type == "response" {
		kind, log = metrics.AuditResponse, c.audit.LogResponse
	}
	err := log(ctx, in)
	if err != nil {
		c.conf.Metrics.AuditFailure(kind)
		return err
	}
	c.conf.Metrics.AuditLogged(kind, time.Since(start))
	return nil
}

func tokenTypeOr(t string) string {
	if t == "" {
		return "service"
	}
	return t
}
