package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// errorBody is Vault's error envelope.
type errorBody struct {
	Errors []string `json:"errors"`
}

// statusFor maps an error to an HTTP status. This is the only place where
// errors become status codes.
func statusFor(err error) int {
	switch {
	case errors.Is(err, logical.ErrSealed), errors.Is(err, logical.ErrStandby):
		return http.StatusServiceUnavailable
	case errors.Is(err, logical.ErrPermissionDenied):
		return http.StatusForbidden
	case errors.Is(err, logical.ErrInvalidRequest):
		return http.StatusBadRequest
	case errors.Is(err, logical.ErrUnsupportedPath), errors.Is(err, logical.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, logical.ErrUnsupportedOperation):
		return http.StatusMethodNotAllowed
	case errors.Is(err, logical.ErrPreconditionFailed):
		return http.StatusPreconditionFailed
	case errors.Is(err, logical.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, logical.ErrRateLimited), errors.Is(err, logical.ErrLeaseCountExceeded):
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// errorMessages returns the "errors" list for an error.
func errorMessages(err error) []string {
	var ce *logical.CodedError
	switch {
	case errors.As(err, &ce):
		return []string{ce.Msg}
	case errors.Is(err, logical.ErrSealed):
		return []string{"Vault is sealed"}
	case errors.Is(err, logical.ErrPermissionDenied):
		if errors.Is(err, logical.ErrInvalidToken) {
			return []string{"permission denied", "invalid token"}
		}
		return []string{"permission denied"}
	}
	return []string{err.Error()}
}

func respondError(w http.ResponseWriter, err error) {
	respondErrorStatus(w, statusFor(err), errorMessages(err)...)
}

func respondErrorStatus(w http.ResponseWriter, status int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	respondJSON(w, status, errorBody{Errors: msgs})
}

func respondJSON(w http.ResponseWriter, status int, body interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(body)
}

// httpResponse is Vault's response envelope.
type httpResponse struct {
	RequestID     string                 `json:"request_id"`
	LeaseID       string                 `json:"lease_id"`
	Renewable     bool                   `json:"renewable"`
	LeaseDuration int64                  `json:"lease_duration"`
	Data          map[string]interface{} `json:"data"`
	WrapInfo      *httpWrapInfo          `json:"wrap_info"`
	Warnings      []string               `json:"warnings"`
	Auth          *httpAuth              `json:"auth"`
	MountType     string                 `json:"mount_type"`
}

type httpAuth struct {
	ClientToken    string            `json:"client_token"`
	Accessor       string            `json:"accessor"`
	Policies       []string          `json:"policies"`
	TokenPolicies  []string          `json:"token_policies"`
	Metadata       map[string]string `json:"metadata"`
	LeaseDuration  int64             `json:"lease_duration"`
	Renewable      bool              `json:"renewable"`
	EntityID       string            `json:"entity_id"`
	TokenType      string            `json:"token_type"`
	Orphan         bool              `json:"orphan"`
	MFARequirement interface{}       `json:"mfa_requirement"`
	NumUses        int               `json:"num_uses"`
}

type httpWrapInfo struct {
	Token           string `json:"token"`
	Accessor        string `json:"accessor"`
	TTL             int64  `json:"ttl"`
	CreationTime    string `json:"creation_time"`
	CreationPath    string `json:"creation_path"`
	WrappedAccessor string `json:"wrapped_accessor,omitempty"`
	Format          string `json:"format,omitempty"`
}

func envelope(reqID, mountType string, resp *logical.Response) *httpResponse {
	out := &httpResponse{RequestID: reqID, Data: resp.Data, Warnings: resp.Warnings, MountType: mountType}
	if s := resp.Secret; s != nil {
		out.LeaseID = s.LeaseID
		out.Renewable = s.Renewable
		out.LeaseDuration = int64(s.TTL / time.Second)
	}
	if a := resp.Auth; a != nil {
		policies := a.Policies
		if policies == nil {
			policies = []string{}
		}
		tp := a.TokenPolicies
		if tp == nil {
			tp = policies
		}
		tt := a.TokenType
		if tt == "" {
			tt = "service"
		}
		out.Auth = &httpAuth{
			ClientToken: a.ClientToken, Accessor: a.Accessor, Policies: policies, TokenPolicies: tp,
			Metadata: a.Metadata, LeaseDuration: int64(a.TTL / time.Second), Renewable: a.Renewable,
			EntityID: a.EntityID, TokenType: tt, Orphan: a.Orphan, NumUses: a.NumUses,
		}
	}
	if wi := resp.WrapInfo; wi != nil {
		out.WrapInfo = &httpWrapInfo{
			Token: wi.Token, Accessor: wi.Accessor, TTL: int64(wi.TTL / time.Second),
			CreationTime: wi.CreationTime.UTC().Format(time.RFC3339Nano), CreationPath: wi.CreationPath,
			WrappedAccessor: wi.WrappedAccessor, Format: wi.Format,
		}
		out.Data = nil
	}
	return out
}

// hasBody reports whether a response has anything worth a 200 body.
func hasBody(resp *logical.Response) bool {
	return resp != nil && (resp.Data != nil || resp.Secret != nil || resp.Auth != nil || resp.WrapInfo != nil || len(resp.Warnings) > 0)
}

func requestToken(r *http.Request) string {
	if t := r.Header.Get("X-Vault-Token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); a != "" {
		if t, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}
