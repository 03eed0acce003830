// Package token is the token store and the token auth method mounted at
// auth/token/. Tokens are kept in a storage view under keys derived from an
// HMAC of the token (the raw token never reaches storage); a small in-memory
// cache serves the lookup that runs on every request.
package token

import (
	"slices"
	"time"
)

// Token types.
const (
	TypeService = "service"
	TypeBatch   = "batch"
)

// Token prefixes as Vault 1.10+ issues them.
const (
	ServicePrefix = "hvs."
	BatchPrefix   = "hvb."
)

// revocationPending in NumUses marks a token whose last use is being served
// or whose revocation is under way: Lookup no longer returns it.
const revocationPending = -1

// Entry is one token.
//
// ID is the token itself. It is set on entries created here or found by
// their ID, and empty on entries reached any other way (by accessor, or as a
// child during a tree revocation): the store keeps only an HMAC of the ID.
// Accessor is always set and is the stable, non-secret name of a token; use
// it to key anything tied to the token (for example the leases it created).
//
// Parent is the parent token's ID when passed to Create. On entries read
// back it holds an opaque reference to the parent; it is empty exactly when
// the token is an orphan.
//
// Entries returned by the store share their slices and maps with its cache:
// treat Policies, Meta, BoundCIDRs and InternalData as read-only.
type Entry struct {
	ID       string
	Accessor string
	Parent   string
	Policies []string
	// Path is the creation path, e.g. "auth/token/create" or "auth/approle/login".
	Path           string
	Meta           map[string]string
	DisplayName    string
	NumUses        int
	CreationTime   time.Time
	TTL            time.Duration // TTL at creation
	ExplicitMaxTTL time.Duration
	Period         time.Duration
	ExpireTime     time.Time // zero: never expires
	Renewable      bool
	Type           string // TypeService or TypeBatch
	BoundCIDRs     []string
	EntityID       string
	Role           string
	InternalData   map[string]interface{}

	maxTTL       time.Duration // the issuing method's or role's max TTL
	salted       string        // HMAC of ID: the storage key
	parentSalted string        // HMAC of the parent's ID; "" for orphans
}

// IsRoot reports whether the token carries the root policy.
func (e *Entry) IsRoot() bool {
	return e != nil && len(e.Policies) == 1 && e.Policies[0] == "root"
}

// Orphan reports whether the token has no parent.
func (e *Entry) Orphan() bool { return e.parentSalted == "" && e.Parent == "" }

// expired reports whether the token is past its expiry at now.
func (e *Entry) expired(now time.Time) bool {
	return !e.ExpireTime.IsZero() && !now.Before(e.ExpireTime)
}

// clone returns a shallow copy; slices are clipped so that appending to a
// copy never writes into a shared backing array.
func (e *Entry) clone() *Entry {
	c := *e
	c.Policies = slices.Clip(c.Policies)
	c.BoundCIDRs = slices.Clip(c.BoundCIDRs)
	return &c
}

// record is the stored form of an Entry: everything but the raw ID.
type record struct {
	Accessor       string                 `json:"accessor"`
	Parent         string                 `json:"parent,omitempty"` // HMAC of the parent's ID
	Policies       []string               `json:"policies"`
	Path           string                 `json:"path"`
	Meta           map[string]string      `json:"meta,omitempty"`
	DisplayName    string                 `json:"display_name"`
	NumUses        int                    `json:"num_uses"`
	CreationTime   time.Time              `json:"creation_time"`
	TTL            time.Duration          `json:"ttl"`
	ExplicitMaxTTL time.Duration          `json:"explicit_max_ttl,omitempty"`
	Period         time.Duration          `json:"period,omitempty"`
	MaxTTL         time.Duration          `json:"max_ttl,omitempty"`
	ExpireTime     time.Time              `json:"expire_time,omitzero"`
	Renewable      bool                   `json:"renewable"`
	Type           string                 `json:"type"`
	BoundCIDRs     []string               `json:"bound_cidrs,omitempty"`
	EntityID       string                 `json:"entity_id,omitempty"`
	Role           string                 `json:"role,omitempty"`
	InternalData   map[string]interface{} `json:"internal_data,omitempty"`
}

func (e *Entry) record() *record {
	return &record{
		Accessor:       e.Accessor,
		Parent:         e.parentSalted,
		Policies:       e.Policies,
		Path:           e.Path,
		Meta:           e.Meta,
		DisplayName:    e.DisplayName,
		NumUses:        e.NumUses,
		CreationTime:   e.CreationTime,
		TTL:            e.TTL,
		ExplicitMaxTTL: e.ExplicitMaxTTL,
		Period:         e.Period,
		MaxTTL:         e.maxTTL,
		ExpireTime:     e.ExpireTime,
		Renewable:      e.Renewable,
		Type:           e.Type,
		BoundCIDRs:     e.BoundCIDRs,
		EntityID:       e.EntityID,
		Role:           e.Role,
		InternalData:   e.InternalData,
	}
}

func (r *record) entry(salted string) *Entry {
	return &Entry{
		Accessor:       r.Accessor,
		Parent:         r.Parent,
		Policies:       slices.Clip(r.Policies),
		Path:           r.Path,
		Meta:           r.Meta,
		DisplayName:    r.DisplayName,
		NumUses:        r.NumUses,
		CreationTime:   r.CreationTime,
		TTL:            r.TTL,
		ExplicitMaxTTL: r.ExplicitMaxTTL,
		Period:         r.Period,
		ExpireTime:     r.ExpireTime,
		Renewable:      r.Renewable,
		Type:           r.Type,
		BoundCIDRs:     slices.Clip(r.BoundCIDRs),
		EntityID:       r.EntityID,
		Role:           r.Role,
		InternalData:   r.InternalData,
		maxTTL:         r.MaxTTL,
		salted:         salted,
		parentSalted:   r.Parent,
	}
}

// accessorRecord is stored under accessor/<hmac(accessor)>.
type accessorRecord struct {
	Accessor string `json:"accessor"`
	Token    string `json:"token"` // HMAC of the token ID
}
