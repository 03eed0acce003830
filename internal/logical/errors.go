package logical

import (
	"errors"
	"fmt"
)

// Sentinel errors. Only the HTTP layer maps them to status codes:
// ErrInvalidRequest 400, ErrPermissionDenied 403, ErrNotFound and
// ErrUnsupportedPath 404, ErrUnsupportedOperation 405, ErrPreconditionFailed
// 412, ErrTooLarge 413, ErrRateLimited 429, ErrSealed and ErrStandby 503;
// anything else is 500.
var (
	ErrInvalidRequest       = errors.New("invalid request")
	ErrPermissionDenied     = errors.New("permission denied")
	ErrNotFound             = errors.New("not found")
	ErrUnsupportedPath      = errors.New("unsupported path")
	ErrUnsupportedOperation = errors.New("unsupported operation")
	ErrPreconditionFailed   = errors.New("precondition failed")
	ErrTooLarge             = errors.New("request too large")
	ErrRateLimited          = errors.New("request path rate limited")
	ErrSealed               = errors.New("Vault is sealed")
	ErrStandby              = errors.New("node is in standby mode")
	ErrInvalidToken         = errors.New("invalid token")
	ErrLeaseCountExceeded   = errors.New("lease count quota exceeded")
)

// CodedError is an error whose message is shown to the client as is, and
// which unwraps to one of the sentinels above.
type CodedError struct {
	Kind error
	Msg  string
}

func (e *CodedError) Error() string { return e.Msg }
func (e *CodedError) Unwrap() error { return e.Kind }

// Errorf returns an error of the given kind (a sentinel) whose message, shown
// to the client verbatim, is the formatted text.
func Errorf(kind error, format string, args ...interface{}) error {
	return &CodedError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// InvalidRequest is shorthand for Errorf(ErrInvalidRequest, ...): a 400.
func InvalidRequest(format string, args ...interface{}) error {
	return Errorf(ErrInvalidRequest, format, args...)
}
