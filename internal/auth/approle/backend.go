// Package approle is the AppRole auth method. A machine or service logs in
// with a role's role_id and, unless the role says otherwise, a secret_id
// issued for that role; it receives a token whose policies and lease terms
// come from the role. Secret IDs are never stored: only keyed HMACs of them,
// under a random per-mount key, so a copy of storage does not reveal them.
package approle

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Storage layout of a mount.
const (
	keyHMAC        = "hmac-key"
	prefixRole     = "role/"
	prefixRoleID   = "role_id/"   // role_id/<hmac of role_id> -> role name
	prefixSecretID = "secret_id/" // secret_id/<hmac of role name>/<hmac of secret_id>
	prefixAccessor = "accessor/"  // accessor/<hmac of accessor> -> where its secret ID lives

	// maxInputLength bounds names and credentials, as Vault does.
	maxInputLength = 4096
	// tidyInterval spaces the clean-ups run on the core's periodic calls.
	tidyInterval = time.Minute
)

// errInvalidCredentials is the one answer to a wrong role_id, a wrong,
// expired or used-up secret_id, so that callers cannot tell which it was.
var errInvalidCredentials = logical.InvalidRequest("invalid role or secret ID")

// backend is one AppRole mount.
type backend struct {
	*framework.Backend

	system logical.SystemView
	logger *slog.Logger
	now    func() time.Time
	rand   io.Reader
	fields []*roleField

	key   atomic.Pointer[[]byte]
	keyMu sync.Mutex

	// roleLocks serialize changes to one role; secretLocks make the
	// check-and-consume of one secret ID atomic. A role lock may be held
	// while a secret lock is taken, never the other way round.
	roleLocks   keyLocks
	secretLocks keyLocks
	// roleIDMu guards the role_id index so two roles cannot claim one ID.
	roleIDMu sync.Mutex

	tidying  atomic.Bool
	lastTidy atomic.Int64
}

// Factory creates an AppRole auth method for a mount.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	if conf == nil {
		return nil, errors.New("approle: no backend configuration")
	}
	return newBackend(conf, time.Now), nil
}

func newBackend(conf *logical.BackendConfig, now func() time.Time) *backend {
	logger := conf.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &backend{system: conf.System, logger: logger, now: now, rand: rand.Reader, fields: roleFields()}
	b.Backend = &framework.Backend{
		Help:         backendHelp,
		BackendType:  logical.TypeCredential,
		PathsSpecial: &logical.Paths{Unauthenticated: []string{"login"}},
		Paths:        b.paths(),
		AuthRenew:    b.renewAuth,
		ResolveRole:  b.resolveRole,
		Clean:        func(context.Context) { b.key.Store(nil) },
	}
	return b
}

func (b *backend) paths() []*framework.Path {
	paths := b.rolePaths()
	paths = append(paths, b.secretIDPaths()...)
	return append(paths, b.loginPath(), b.tidyPath())
}

// HandleRequest serves a request through the path table. A role path that
// matches no pattern names a role that cannot exist (a slash or a character
// outside letters, digits, '-', '_', '.' and '@'): that is a bad request, not
// a missing page. The core's periodic rollback call also tidies expired
// secret IDs, at most once a minute.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if req.Operation == logical.RollbackOperation && req.Storage != nil {
		b.periodicTidy(ctx, req.Storage)
	}
	resp, err := b.Backend.HandleRequest(ctx, req)
	if err != nil && errors.Is(err, logical.ErrUnsupportedPath) && req.Operation != logical.HelpOperation {
		if name, ok := strings.CutPrefix(req.Path, prefixRole); ok && name != "" {
			return nil, logical.InvalidRequest("invalid role name %q: names may contain only letters, digits, '-', '_', '.' and '@', and no '/'", name)
		}
	}
	return resp, err
}

// sysTTLs returns the mount's default and max lease TTL (0 when unknown).
func (b *backend) sysTTLs() (def, max time.Duration) {
	if b.system == nil {
		return 0, 0
	}
	return b.system.DefaultLeaseTTL(), b.system.MaxLeaseTTL()
}

// hmacKey returns the mount's HMAC key, creating and storing it on first use.
func (b *backend) hmacKey(ctx context.Context, s logical.Storage) ([]byte, error) {
	if k := b.key.Load(); k != nil {
		return *k, nil
	}
	b.keyMu.Lock()
	defer b.keyMu.Unlock()
	if k := b.key.Load(); k != nil {
		return *k, nil
	}
	var stored struct {
		Key []byte `json:"key"`
	}
	found, err := logical.GetJSON(ctx, s, keyHMAC, &stored)
	if err != nil {
		return nil, fmt.Errorf("read HMAC key: %w", err)
	}
	if !found || len(stored.Key) == 0 {
		stored.Key = make([]byte, 32)
		if _, err := io.ReadFull(b.rand, stored.Key); err != nil {
			return nil, fmt.Errorf("generate HMAC key: %w", err)
		}
		if err := logical.PutJSON(ctx, s, keyHMAC, &stored); err != nil {
			return nil, fmt.Errorf("store HMAC key: %w", err)
		}
	}
	b.key.Store(&stored.Key)
	return stored.Key, nil
}

// hmacs returns the hex HMAC-SHA256 of each value under the mount's key.
// kind separates the uses (role_id, secret_id, accessor, role name), so
// equal strings of different kinds never share a storage key.
func (b *backend) hmacs(ctx context.Context, s logical.Storage, kind string, values ...string) ([]string, error) {
	key, err := b.hmacKey(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(values))
	for i, v := range values {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(kind))
		m.Write([]byte{0})
		m.Write([]byte(v))
		out[i] = hex.EncodeToString(m.Sum(nil))
	}
	return out, nil
}

func (b *backend) hmac(ctx context.Context, s logical.Storage, kind, value string) (string, error) {
	out, err := b.hmacs(ctx, s, kind, value)
	if err != nil {
		return "", err
	}
	return out[0], nil
}

// newUUID returns a random version 4 UUID, the form Vault uses for
// role_id, secret_id and accessors.
func (b *backend) newUUID() (string, error) {
	var u [16]byte
	if _, err := io.ReadFull(b.rand, u[:]); err != nil {
		return "", fmt.Errorf("generate UUID: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// keyLocks stripes read-write locks by key (FNV-1a), so work on one key
// serializes while work on different keys rarely contends.
type keyLocks [256]sync.RWMutex

func (l *keyLocks) get(key string) *sync.RWMutex {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return &l[h%uint32(len(l))]
}

// formatTime renders a time as Vault does in responses: RFC 3339 in UTC.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const backendHelp = `
The AppRole auth method lets machines and services log in with a role_id
and a secret_id. Roles set the policies and lease terms of the tokens they
issue and may bind logins and tokens to CIDR blocks; secret IDs may expire
and may be limited to a number of uses.
`
