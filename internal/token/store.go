package token

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Storage key prefixes inside the store's view.
const (
	idPrefix       = "id/"
	accessorPrefix = "accessor/"
	parentPrefix   = "parent/"
	rolesPrefix    = "roles/"
)

const (
	defaultTTL       = 768 * time.Hour
	defaultCacheSize = 10000
	lockStripes      = 256
)

// Leases is what the store needs from the lease manager. Tokens are named
// by te.Accessor: te.ID is empty for tokens revoked as descendants or
// through their accessor, because the store never keeps raw token IDs.
type Leases interface {
	// RegisterToken creates or updates the lease of a token whose
	// ExpireTime is set; it is a no-op for non-expiring tokens.
	RegisterToken(ctx context.Context, te *Entry) error
	// RevokeByToken revokes every lease the token created and drops the
	// token's own lease. It is called once per revoked token, children
	// before parents, before the token's entry is deleted.
	RevokeByToken(ctx context.Context, te *Entry) error
}

// Options configure a Store. Every field is optional.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// DefaultTTL and MaxTTL give the effective default and max TTL of the
	// auth/token mount (mount tune, else system). 0 or nil means 768h.
	DefaultTTL, MaxTTL func() time.Duration
	// HasSudo reports whether te has sudo on path (e.g.
	// "auth/token/create"). Without it only root tokens count as sudo.
	HasSudo func(ctx context.Context, te *Entry, path string) bool
	// RenewAuth lets the auth method that issued a token (te.Path outside
	// auth/token/) approve a renewal, as Vault routes a renew request with
	// req.Auth to that mount. It returns the method's current terms: TTL,
	// MaxTTL (fold the mount's max in), Period, ExplicitMaxTTL. An error
	// refuses the renewal. When nil, such tokens renew on their own terms.
	RenewAuth func(ctx context.Context, te *Entry, auth *logical.Auth) (*logical.Auth, error)
	// CacheSize bounds the lookup cache (0: 10000 entries; <0: no cache).
	CacheSize int
	// Rand is the source of token IDs and accessors (crypto/rand by default).
	Rand io.Reader
}

// Store is the token store. It is safe for concurrent use.
type Store struct {
	view    logical.Storage
	leases  Leases
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	rnd     io.Reader
	salt    *salter
	cache   *cache
	locks   [lockStripes]sync.Mutex
	tidyMu  sync.Mutex
	backend *framework.Backend
}

// NewStore opens the token store kept in view, creating its HMAC key on
// first use.
func NewStore(ctx context.Context, view logical.Storage, leases Leases, opts Options) (*Store, error) {
	if view == nil || leases == nil {
		return nil, errors.New("token store needs a storage view and a lease manager")
	}
	s := &Store{view: view, leases: leases, opts: opts, log: opts.Logger, now: opts.Now, rnd: opts.Rand}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rnd == nil {
		s.rnd = rand.Reader
	}
	size := opts.CacheSize
	if size == 0 {
		size = defaultCacheSize
	}
	s.cache = newCache(size)
	salt, err := loadSalter(ctx, view, s.rnd)
	if err != nil {
		return nil, err
	}
	s.salt = salt
	s.backend = s.newBackend()
	return s, nil
}

func (s *Store) sysDefault() time.Duration { return orDefault(s.opts.DefaultTTL) }
func (s *Store) sysMax() time.Duration     { return orDefault(s.opts.MaxTTL) }

func orDefault(f func() time.Duration) time.Duration {
	if f != nil {
		if d := f(); d > 0 {
			return d
		}
	}
	return defaultTTL
}

func (s *Store) lockFor(salted string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = io.WriteString(h, salted)
	return &s.locks[h.Sum32()%lockStripes]
}

// load reads a token by its salted ID, whatever its state; nil if absent.
func (s *Store) load(ctx context.Context, salted string) (*Entry, error) {
	var r record
	ok, err := logical.GetJSON(ctx, s.view, idPrefix+salted, &r)
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return r.entry(salted), nil
}

// save writes a token's entry and drops it from the cache.
func (s *Store) save(ctx context.Context, te *Entry) error {
	s.cache.remove(te.salted)
	err := logical.PutJSON(ctx, s.view, idPrefix+te.salted, te.record())
	s.cache.remove(te.salted)
	if err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}

// Lookup returns the token with this ID, or nil when it is unknown, revoked,
// used up or expired.
func (s *Store) Lookup(ctx context.Context, id string) (*Entry, error) {
	if id == "" {
		return nil, nil
	}
	key := s.salt.sum(id)
	now := s.now()
	if te := s.cache.get(key); te != nil {
		if subtle.ConstantTimeCompare([]byte(te.ID), []byte(id)) == 1 {
			if te.expired(now) {
				return nil, nil
			}
			return te.clone(), nil
		}
	}
	gen := s.cache.generation(key)
	salted := hex.EncodeToString(key[:])
	te, err := s.load(ctx, salted)
	if err != nil || te == nil {
		return nil, err
	}
	if te.NumUses < 0 || te.expired(now) {
		return nil, nil
	}
	te.ID = id
	s.cache.put(key, te, gen)
	return te.clone(), nil
}

// lookupTainted is Lookup that also returns a token whose last use is in
// progress (NumUses -1), as lookup-self must.
func (s *Store) lookupTainted(ctx context.Context, id string) (*Entry, error) {
	if id == "" {
		return nil, nil
	}
	te, err := s.load(ctx, s.salt.salt(id))
	if err != nil || te == nil || te.expired(s.now()) {
		return nil, err
	}
	te.ID = id
	return te, nil
}

// LookupAccessor returns the token an accessor names (without its ID), or
// nil when the accessor is unknown or the token is no longer valid.
func (s *Store) LookupAccessor(ctx context.Context, accessor string) (*Entry, error) {
	salted, err := s.accessorToken(ctx, accessor)
	if err != nil || salted == "" {
		return nil, err
	}
	te, err := s.load(ctx, salted)
	if err != nil || te == nil || te.NumUses < 0 || te.expired(s.now()) {
		return nil, err
	}
	return te, nil
}

// accessorToken resolves an accessor to the salted ID of its token.
func (s *Store) accessorToken(ctx context.Context, accessor string) (string, error) {
	if accessor == "" {
		return "", nil
	}
	var ar accessorRecord
	ok, err := logical.GetJSON(ctx, s.view, accessorPrefix+s.salt.salt(accessor), &ar)
	if err != nil {
		return "", fmt.Errorf("read accessor: %w", err)
	}
	if !ok || subtle.ConstantTimeCompare([]byte(ar.Accessor), []byte(accessor)) != 1 {
		return "", nil
	}
	return ar.Token, nil
}

// Create stores a new token. te.ID is generated when empty ("hvs." or
// "hvb." followed by 24 random characters); te.Accessor is always
// generated; te.Parent, when set, must be a valid token's ID.
// CreationTime defaults to now and ExpireTime to CreationTime+TTL when TTL
// is set. Expiring tokens are registered with the lease manager; if that
// fails the token is removed again.
func (s *Store) Create(ctx context.Context, te *Entry) error {
	switch te.Type {
	case "", TypeService:
		te.Type = TypeService
	case TypeBatch:
		if te.IsRoot() {
			return logical.InvalidRequest("batch tokens cannot be root tokens")
		}
		te.Renewable = false
	default:
		return logical.InvalidRequest("invalid token type %q", te.Type)
	}
	if te.NumUses < 0 {
		return logical.InvalidRequest("number of uses cannot be negative")
	}
	te.Policies = sanitizePolicies(te.Policies, false)
	if te.CreationTime.IsZero() {
		te.CreationTime = s.now()
	}
	if te.ExpireTime.IsZero() && te.TTL > 0 {
		te.ExpireTime = te.CreationTime.Add(te.TTL)
	}
	if te.ID == "" {
		prefix := ServicePrefix
		if te.Type == TypeBatch {
			prefix = BatchPrefix
		}
		r, err := randomString(s.rnd, randomLength)
		if err != nil {
			return err
		}
		te.ID = prefix + r
	} else if err := checkCustomID(te.ID); err != nil {
		return err
	}
	te.salted = s.salt.salt(te.ID)
	if existing, err := s.load(ctx, te.salted); err != nil {
		return err
	} else if existing != nil {
		return logical.InvalidRequest("cannot create a token with a duplicate ID")
	}
	te.parentSalted = ""
	if te.Parent != "" {
		parent, err := s.Lookup(ctx, te.Parent)
		if err != nil {
			return fmt.Errorf("look up parent: %w", err)
		}
		if parent == nil {
			return logical.InvalidRequest("parent token not found")
		}
		te.parentSalted = parent.salted
	}
	acc, err := randomString(s.rnd, randomLength)
	if err != nil {
		return err
	}
	te.Accessor = acc
	// The token, its indexes and its lease are written as one transaction
	// where the storage allows it.
	bctx, batch := logical.WithWriteBatch(ctx)
	if err := s.persistNew(bctx, te); err != nil {
		batch.Discard()
		return err
	}
	if !te.ExpireTime.IsZero() {
		if err := s.leases.RegisterToken(bctx, te); err != nil {
			batch.Discard()
			if derr := s.deleteIndexes(ctx, te); derr != nil {
				s.log.Error("remove token after failed lease registration", "accessor", te.Accessor, "error", derr)
			}
			return fmt.Errorf("register token lease: %w", err)
		}
	}
	if err := batch.Commit(ctx); err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}

// checkCustomID applies Vault's rules to a caller-chosen token ID.
func checkCustomID(id string) error {
	switch {
	case strings.HasPrefix(id, ServicePrefix):
		return logical.InvalidRequest("custom token ID cannot have the 'hvs.' prefix")
	case strings.HasPrefix(id, "s."):
		return logical.InvalidRequest("custom token ID cannot have the 's.' prefix")
	case strings.Contains(id, "."):
		return logical.InvalidRequest("custom token ID cannot have a '.' in the value")
	}
	return nil
}

// persistNew writes the parent index first (a dangling index entry is
// harmless; a missing one would let the child escape its parent's
// revocation), then the accessor index, then the token.
func (s *Store) persistNew(ctx context.Context, te *Entry) error {
	if te.parentSalted != "" {
		if err := s.view.Put(ctx, &logical.StorageEntry{Key: parentPrefix + te.parentSalted + "/" + te.salted}); err != nil {
			return fmt.Errorf("store parent index: %w", err)
		}
	}
	ar := accessorRecord{Accessor: te.Accessor, Token: te.salted}
	if err := logical.PutJSON(ctx, s.view, accessorPrefix+s.salt.salt(te.Accessor), ar); err != nil {
		return fmt.Errorf("store accessor index: %w", err)
	}
	return s.save(ctx, te)
}

// deleteIndexes removes a token's entry and indexes.
func (s *Store) deleteIndexes(ctx context.Context, te *Entry) error {
	s.cache.remove(te.salted)
	ops := make([]logical.StorageOp, 0, 3)
	if te.parentSalted != "" {
		ops = append(ops, logical.DeleteOp(parentPrefix+te.parentSalted+"/"+te.salted))
	}
	if te.Accessor != "" {
		ops = append(ops, logical.DeleteOp(accessorPrefix+s.salt.salt(te.Accessor)))
	}
	ops = append(ops, logical.DeleteOp(idPrefix+te.salted))
	if err := logical.Transaction(ctx, s.view, ops); err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	s.cache.remove(te.salted)
	return nil
}

// CreateRoot creates a root token with no parent and no expiry. An empty
// id generates one ("hvs." + 24 characters, 28 in all, the length root
// generation's one-time pads expect).
func (s *Store) CreateRoot(ctx context.Context, id string) (*Entry, error) {
	te := &Entry{
		ID:          id,
		Policies:    []string{"root"},
		Path:        "auth/token/root",
		DisplayName: "root",
		Type:        TypeService,
	}
	if err := s.Create(ctx, te); err != nil {
		return nil, err
	}
	return te, nil
}

// UseToken counts one use of a limited-use token. It returns the updated
// entry, or nil when the token is already used up or gone. When the
// returned entry's uses are exhausted (NumUses -1) the token no longer
// looks up; serve the request, then call RevokeAfterUse.
func (s *Store) UseToken(ctx context.Context, te *Entry) (*Entry, error) {
	if te == nil {
		return nil, errors.New("no token to use")
	}
	if te.NumUses == 0 {
		return te, nil
	}
	salted := s.saltedOf(te)
	mu := s.lockFor(salted)
	mu.Lock()
	defer mu.Unlock()
	cur, err := s.load(ctx, salted)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.NumUses < 0 || cur.expired(s.now()) {
		return nil, nil
	}
	if cur.NumUses == 1 {
		cur.NumUses = revocationPending
	} else {
		cur.NumUses--
	}
	if err := s.save(ctx, cur); err != nil {
		return nil, err
	}
	cur.ID = te.ID
	return cur, nil
}

// RevokeAfterUse revokes te (and its descendants) when UseToken has
// consumed its last use; otherwise it does nothing.
func (s *Store) RevokeAfterUse(ctx context.Context, te *Entry) error {
	if te == nil || te.NumUses != revocationPending {
		return nil
	}
	return s.revokeTree(ctx, s.saltedOf(te), te.ID)
}

func (s *Store) saltedOf(te *Entry) string {
	if te.salted == "" && te.ID != "" {
		te.salted = s.salt.salt(te.ID)
	}
	return te.salted
}
