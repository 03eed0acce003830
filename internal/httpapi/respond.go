package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/storage"
)

// errorBody is Vault's error envelope.
type errorBody struct {
	Errors []string `json:"errors"`
}

// statusFor maps an error to an HTTP status. This is the only place where
// errors become status codes.
func statusFor(err error) int {
	switch {
	case errors.Is(err, logical.ErrSealed), errors.Is(err, logical.ErrStandby), errors.Is(err, storage.ErrReadOnly):
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
	case errors.Is(err, storage.ErrReadOnly):
		// A write reached storage on a node that lost raft leadership.
		return []string{"node is not active"}
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

// Header values shared by every JSON response. Their length equals their
// capacity, so a later Header.Add copies them instead of writing into them.
var (
	contentTypeJSON = []string{"application/json"}
	cacheNoStore    = []string{"no-store"}
)

func respondJSON(w http.ResponseWriter, status int, body interface{}) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = cacheNoStore
	bp := bufPool.Get().(*[]byte)
	b, err := appendBody((*bp)[:0], body)
	w.WriteHeader(status)
	if err != nil {
		bufPool.Put(bp)
		_ = json.NewEncoder(w).Encode(body)
		return
	}
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

func envelope(reqID, mountType string, resp *logical.Response) *logical.HTTPResponse {
	return logical.ToHTTP(reqID, mountType, resp)
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
