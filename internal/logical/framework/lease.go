package framework

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// CalculateTTL works out a lease's TTL on issue or renew the way Vault does:
// the increment (or the backend's default) is capped by the max TTL counted
// from the lease's issue time; a capped TTL gives a warning.
//
// sysDefault/sysMax are the mount's effective values; backendTTL/backendMax
// are the role's (0 = unset).
func CalculateTTL(sysDefault, sysMax, increment, backendTTL, backendMax time.Duration, issue time.Time, now time.Time) (ttl time.Duration, warnings []string, err error) {
	maxTTL := sysMax
	if backendMax > 0 && (maxTTL == 0 || backendMax < maxTTL) {
		maxTTL = backendMax
	}
	switch {
	case increment > 0:
		ttl = increment
	case backendTTL > 0:
		ttl = backendTTL
	default:
		ttl = sysDefault
	}
	if maxTTL > 0 {
		if issue.IsZero() {
			issue = now
		}
		remaining := issue.Add(maxTTL).Sub(now)
		if remaining <= 0 {
			return 0, nil, logical.InvalidRequest("past the max TTL, cannot renew")
		}
		if ttl > remaining {
			warnings = append(warnings, fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly", ttl.String(), remaining.Truncate(time.Second).String()))
			ttl = remaining
		}
	}
	return ttl, warnings, nil
}

// LeaseExtend returns a Renew handler that extends a secret's lease within
// backendMax (0 = the mount's max), without touching the target system.
func LeaseExtend(sys logical.SystemView, backendIncrement, backendMax time.Duration) OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error) {
		if req.Secret == nil {
			return nil, logical.InvalidRequest("request has no secret")
		}
		inc := req.Secret.Increment
		if inc == 0 {
			inc = backendIncrement
		}
		ttl, warns, err := CalculateTTL(sys.DefaultLeaseTTL(), sys.MaxLeaseTTL(), inc, backendIncrement, backendMax, req.Secret.IssueTime, time.Now())
		if err != nil {
			return nil, err
		}
		s := *req.Secret
		s.TTL = ttl
		return &logical.Response{Secret: &s, Warnings: warns}, nil
	}
}

// ListResponse builds the response of a LIST operation.
func ListResponse(keys []string) *logical.Response {
	if keys == nil {
		keys = []string{}
	}
	return &logical.Response{Data: map[string]interface{}{"keys": keys}}
}

// ListResponseWithInfo builds a LIST response with per-key details.
func ListResponseWithInfo(keys []string, info map[string]interface{}) *logical.Response {
	resp := ListResponse(keys)
	resp.Data["key_info"] = info
	return resp
}
