// Package audit records every request and response in audit devices, in
// Vault's audit log format: one JSON object per line, with client tokens,
// accessors and every string in request and response data replaced by an
// HMAC-SHA256 under a per-device salt unless the device logs raw.
//
// The Broker owns the enabled devices (file, syslog, socket), persists the
// device table and salts in the storage view the core gives it, fans each
// event out to every device and fails closed: an event that no enabled
// device could write is an error, and the core must not serve the request.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// ErrNotAudited is wrapped by the Broker's LogRequest and LogResponse when
// devices are enabled but none of them could write the event.
var ErrNotAudited = errors.New("no audit device succeeded in logging the event")

// AuthInfo describes the token a request was made with, as the core
// resolved it.
type AuthInfo struct {
	ClientToken   string
	Accessor      string
	DisplayName   string
	Policies      []string
	TokenPolicies []string
	Metadata      map[string]string
	EntityID      string
	// TokenType is "service", "batch" or "default".
	TokenType     string
	TokenTTL      time.Duration
	RemainingUses int
	// NumUses is the token's use limit (0 = unlimited).
	NumUses int
	// IssueTime is when the token was created (optional).
	IssueTime time.Time
	// PolicyResults, when set, records the ACL decision.
	PolicyResults *PolicyResults
}

// PolicyResults is the outcome of the ACL check for a request.
type PolicyResults struct {
	Allowed          bool
	GrantingPolicies []PolicyInfo
}

// PolicyInfo names one policy that granted a request.
type PolicyInfo struct {
	Name        string
	NamespaceID string
	// Type is "acl" for ACL policies.
	Type string
}

// LogInput is one event handed to the audit devices. The devices never
// modify it, so the core may reuse it for the response event.
type LogInput struct {
	// Type is "request" or "response"; empty means the kind of the call.
	Type string
	// Auth is the caller's token; nil for unauthenticated requests.
	Auth *AuthInfo
	// Request.Path is the full path including the mount ("secret/foo").
	Request  *logical.Request
	Response *logical.Response
	// Err is the error the request failed with, logged as "error".
	Err error
	// MountType and MountAccessor describe the mount the request was
	// routed to ("kv", "kv_1a2b3c4d"); they fall back to the Request's.
	MountType     string
	MountAccessor string
	// NonHMACRequestKeys and NonHMACResponseKeys are the mount's
	// audit_non_hmac_request_keys and audit_non_hmac_response_keys: data
	// keys whose string values are logged in the clear.
	NonHMACRequestKeys  []string
	NonHMACResponseKeys []string
	// Headers are the request headers to audit (already selected by the
	// core); HMACHeaders names those whose values are HMAC'd.
	Headers     map[string][]string
	HMACHeaders []string
	// Time is when the event happened; zero means now.
	Time time.Time
}

// Device formats events and writes them, one line per event.
type Device interface {
	LogRequest(ctx context.Context, in *LogInput) error
	LogResponse(ctx context.Context, in *LogInput) error
	// Reload reopens the device's target (log rotation on SIGHUP).
	Reload(ctx context.Context) error
	Close() error
}

// DeviceConfig configures a new device.
type DeviceConfig struct {
	// Path is the device's mount path, e.g. "file/".
	Path    string
	Options map[string]string
	// Salt is the device's HMAC key; nil gives a throwaway one.
	Salt   *Salt
	Logger *slog.Logger
}

// Factory creates a device from its configuration.
type Factory func(ctx context.Context, conf *DeviceConfig) (Device, error)

// Factories returns the built-in device types.
func Factories() map[string]Factory {
	return map[string]Factory{
		"file":   FileFactory,
		"syslog": SyslogFactory,
		"socket": SocketFactory,
	}
}
