// Package logical holds the types that cross from the HTTP layer into the core
// and from the core into secrets engines and auth methods: Request, Response,
// Secret, Auth, Storage and Backend. It imports only the standard library.
package logical

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Operation is what a request asks a backend to do.
type Operation string

const (
	ReadOperation   Operation = "read"
	CreateOperation Operation = "create"
	UpdateOperation Operation = "update"
	PatchOperation  Operation = "patch"
	DeleteOperation Operation = "delete"
	ListOperation   Operation = "list"
	HelpOperation   Operation = "help"
	// RenewOperation and RevokeOperation are sent by the lease manager to the
	// backend that issued a secret (req.Secret set) or an auth (req.Auth set).
	RenewOperation  Operation = "renew"
	RevokeOperation Operation = "revoke"
	// RollbackOperation is sent periodically and after unseal so backends can
	// undo write-ahead records left by an interrupted operation.
	RollbackOperation Operation = "rollback"
	// ResolveRoleOperation asks an auth method which role a login request
	// names (for role-based quotas); the answer is Data["role"].
	ResolveRoleOperation Operation = "resolve-role"
)

// BackendType tells a secrets engine from an auth method.
type BackendType int

const (
	TypeUnknown BackendType = iota
	TypeLogical
	TypeCredential
)

// Connection describes the client connection a request came on.
type Connection struct {
	RemoteAddr string
}

// Request is one operation routed to a backend. Path is relative to the mount.
type Request struct {
	ID            string
	Operation     Operation
	Path          string
	Data          map[string]interface{}
	Storage       Storage
	MountPoint    string // e.g. "secret/"
	MountType     string // e.g. "kv"
	MountAccessor string
	// ClientToken is the caller's token; set for authenticated requests.
	ClientToken         string
	ClientTokenAccessor string
	DisplayName         string
	EntityID            string
	Policies            []string
	// Secret is set on Renew/Revoke of a secret lease.
	Secret *Secret
	// Auth is set on Renew of a token lease issued by a credential backend.
	Auth       *Auth
	Connection *Connection
	Headers    map[string][]string
	// WrapTTL asks for the response to be wrapped (from X-Vault-Wrap-TTL).
	WrapTTL time.Duration
	// Unauthenticated is true when the path was served without a token.
	Unauthenticated bool
	// LeaseCreated is set by the core when the request's response got a
	// lease (a secret or a login token).
	LeaseCreated bool
	// LeaseStore is set by the core on client requests and nil on its own
	// requests (renew, revoke, rollback). Engines use PersistLease.
	LeaseStore LeaseStore
	// persistedLease is the ID of the lease PersistLease stored.
	persistedLease string
}

// LeaseStore stores the lease of a secret while its request is still being
// handled; the core implements it.
type LeaseStore interface {
	StoreLease(ctx context.Context, req *Request, resp *Response) error
}

// PersistLease stores the lease of resp's secret now, while the handler
// runs, exactly as the core would once it returned (TTL capped by the
// mount, resp.Secret.LeaseID set). An engine that creates something on
// another system stores its lease this way before that can outlive a
// crash, in place of a write-ahead record: the lease's revocation undoes
// it. The handler must then return resp itself; if it fails instead, the
// core revokes the lease. It may be called from another goroutine than the
// handler's, but must have returned before the handler does. It fails when
// r.LeaseStore is nil.
func (r *Request) PersistLease(ctx context.Context, resp *Response) error {
	if r.LeaseStore == nil {
		return errors.New("persist lease: not available outside a client request")
	}
	if err := r.LeaseStore.StoreLease(ctx, r, resp); err != nil {
		return err
	}
	r.persistedLease = resp.Secret.LeaseID
	return nil
}

// PersistedLease returns the ID of the lease PersistLease stored, if any.
func (r *Request) PersistedLease() string { return r.persistedLease }

// Get returns a request field, or nil.
func (r *Request) Get(key string) interface{} {
	if r.Data == nil {
		return nil
	}
	return r.Data[key]
}

// LeaseOptions are the lease terms of a Secret or Auth.
type LeaseOptions struct {
	TTL       time.Duration
	MaxTTL    time.Duration
	Renewable bool
	// Increment is the requested extension on renew.
	Increment time.Duration
	IssueTime time.Time
}

// Secret marks a response as a leased secret. Engines set TTL and
// InternalData (with "secret_type"); the core fills LeaseID.
type Secret struct {
	LeaseOptions
	// InternalData is stored with the lease and handed back on renew and
	// revoke; it never reaches the client.
	InternalData map[string]interface{}
	LeaseID      string
}

// Auth is returned by a login path; the core turns it into a token.
type Auth struct {
	LeaseOptions
	InternalData   map[string]interface{}
	DisplayName    string
	Policies       []string
	TokenPolicies  []string
	Metadata       map[string]string
	ClientToken    string
	Accessor       string
	Period         time.Duration
	ExplicitMaxTTL time.Duration
	NumUses        int
	EntityID       string
	Orphan         bool
	TokenType      string
	BoundCIDRs     []string
	// NoDefaultPolicy keeps the "default" policy off the token.
	NoDefaultPolicy bool
}

// WrapInfo describes a wrapped response.
type WrapInfo struct {
	Token           string
	Accessor        string
	TTL             time.Duration
	CreationTime    time.Time
	CreationPath    string
	WrappedAccessor string
	Format          string
}

// Response is what a backend answers. A nil Response with a nil error from a
// read means "not found" (404).
type Response struct {
	Secret   *Secret
	Auth     *Auth
	Data     map[string]interface{}
	Warnings []string
	WrapInfo *WrapInfo
	// Headers are extra HTTP headers to send.
	Headers map[string][]string
	// Raw, when set, is sent as the HTTP body verbatim with RawContentType
	// and RawStatus (for PEM/CRL downloads and similar). RawStatus alone
	// sets the status of a normal JSON response (e.g. 202).
	Raw            []byte
	RawContentType string
	RawStatus      int
}

// AddWarning appends a warning shown to the client.
func (r *Response) AddWarning(format string) {
	r.Warnings = append(r.Warnings, format)
}

// Paths lists a backend's special paths. Entries ending in "*" are prefixes.
type Paths struct {
	// Unauthenticated paths are served without a token (e.g. "login").
	Unauthenticated []string
	// Root paths need sudo capability.
	Root []string
	// SealWrapStorage paths hold key material (informational).
	SealWrapStorage []string
}

// Backend is a secrets engine or auth method mounted at a path.
type Backend interface {
	// HandleRequest serves one request. Errors should wrap the sentinels in
	// errors.go so the HTTP layer can pick the status.
	HandleRequest(ctx context.Context, req *Request) (*Response, error)
	// HandleExistenceCheck reports, for create/update ACL purposes, whether
	// the path names an existing item (checkFound=false when the path has no
	// existence check, in which case writes are "update").
	HandleExistenceCheck(ctx context.Context, req *Request) (checkFound, exists bool, err error)
	// SpecialPaths returns the unauthenticated and sudo paths.
	SpecialPaths() *Paths
	// Type tells engines from auth methods.
	Type() BackendType
	// Cleanup is called on unmount and seal.
	Cleanup(ctx context.Context)
}

// SystemView is what a backend may ask of the server.
type SystemView interface {
	// DefaultLeaseTTL and MaxLeaseTTL are the mount's effective values
	// (mount tune, falling back to the server's).
	DefaultLeaseTTL() time.Duration
	MaxLeaseTTL() time.Duration
	// GeneratePasswordFromPolicy generates a password from a named
	// sys/policies/password policy.
	GeneratePasswordFromPolicy(ctx context.Context, policyName string) (string, error)
}

// BackendConfig is passed to a Factory.
type BackendConfig struct {
	StorageView Storage
	Logger      *slog.Logger
	System      SystemView
	// Config holds mount options (e.g. "version" for kv).
	Config      map[string]string
	BackendUUID string
	MountPath   string
}

// Factory creates a backend for a mount.
type Factory func(ctx context.Context, conf *BackendConfig) (Backend, error)
