package token

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Renew extends a token's lease by increment (0: its usual TTL) within its
// limits and updates the lease through Leases.RegisterToken. It answers as
// Vault's renew endpoints do: an auth block with the new lease duration.
func (s *Store) Renew(ctx context.Context, te *Entry, increment time.Duration) (*logical.Response, error) {
	if te.Type == TypeBatch {
		return nil, logical.InvalidRequest("batch tokens cannot be renewed")
	}
	salted := s.saltedOf(te)
	mu := s.lockFor(salted)
	mu.Lock()
	defer mu.Unlock()
	cur, err := s.load(ctx, salted)
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case cur == nil || cur.NumUses < 0:
		return nil, logical.InvalidRequest("token not found")
	case cur.ExpireTime.IsZero() || !cur.Renewable:
		return nil, logical.InvalidRequest("lease is not renewable")
	case cur.expired(now):
		return nil, logical.InvalidRequest("lease expired")
	}
	cur.ID = te.ID

	terms := ttlParams{
		sysDefault: s.sysDefault(), sysMax: s.sysMax(),
		increment: increment, backendTTL: cur.TTL, backendMax: cur.maxTTL,
		period: cur.Period, explicitMax: cur.ExplicitMaxTTL,
		start: cur.CreationTime, now: now,
	}
	if err := s.renewTerms(ctx, cur, &terms); err != nil {
		return nil, err
	}
	ttl, warns, err := calculateTTL(terms)
	if err != nil {
		return nil, err
	}
	cur.ExpireTime = now.Add(ttl)
	if err := s.save(ctx, cur); err != nil {
		return nil, err
	}
	if err := s.leases.RegisterToken(ctx, cur); err != nil {
		return nil, fmt.Errorf("update token lease: %w", err)
	}
	auth := authFor(cur)
	auth.TTL = ttl
	return &logical.Response{Auth: auth, Warnings: warns}, nil
}

// renewTerms asks the token's issuer for its current terms: the token's
// role for auth/token tokens, the auth method (through Options.RenewAuth)
// for login tokens.
func (s *Store) renewTerms(ctx context.Context, te *Entry, t *ttlParams) error {
	if strings.HasPrefix(te.Path, "auth/token/") {
		if te.Role == "" {
			return nil
		}
		r, err := s.role(ctx, te.Role)
		if err != nil {
			return err
		}
		if r == nil {
			return logical.InvalidRequest("original token role %q could not be found, not renewing", te.Role)
		}
		if r.TokenPeriod > 0 {
			t.period = r.TokenPeriod
		}
		t.explicitMax = minNonZero(t.explicitMax, r.TokenExplicitMaxTTL)
		t.backendMax = minNonZero(t.backendMax, r.TokenMaxTTL)
		return nil
	}
	if s.opts.RenewAuth == nil {
		return nil
	}
	got, err := s.opts.RenewAuth(ctx, te, &logical.Auth{
		LeaseOptions: logical.LeaseOptions{
			TTL: te.TTL, MaxTTL: te.maxTTL, Renewable: te.Renewable,
			Increment: t.increment, IssueTime: te.CreationTime,
		},
		InternalData:   te.InternalData,
		DisplayName:    te.DisplayName,
		Policies:       te.Policies,
		TokenPolicies:  te.Policies,
		Metadata:       te.Meta,
		ClientToken:    te.ID,
		Accessor:       te.Accessor,
		Period:         te.Period,
		ExplicitMaxTTL: te.ExplicitMaxTTL,
		NumUses:        te.NumUses,
		EntityID:       te.EntityID,
		Orphan:         te.Orphan(),
		TokenType:      te.Type,
		BoundCIDRs:     te.BoundCIDRs,
	})
	if err != nil {
		return err
	}
	if got == nil {
		return nil
	}
	if got.TTL > 0 {
		t.backendTTL = got.TTL
	}
	if got.MaxTTL > 0 {
		t.backendMax = got.MaxTTL
	}
	t.period = got.Period
	t.explicitMax = minNonZero(t.explicitMax, got.ExplicitMaxTTL)
	return nil
}

func minNonZero(a, b time.Duration) time.Duration {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
