package approle

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) tidyPath() *framework.Path {
	return &framework.Path{
		Pattern:  "tidy/secret-id",
		Ops:      framework.Ops{logical.UpdateOperation: b.tidyHandler},
		Synopsis: "Delete expired secret IDs and accessor entries left without a secret ID.",
		Description: `Expired secret IDs are refused at login and deleted when met; this sweeps
the rest. The server also runs it about once a minute.`,
	}
}

// tidyStats counts what a tidy removed.
type tidyStats struct {
	secretIDs int
	accessors int
}

func (b *backend) tidyHandler(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	resp := &logical.Response{}
	st, ran, err := b.tidy(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	if !ran {
		resp.AddWarning("Tidy operation already in progress.")
		return resp, nil
	}
	resp.AddWarning(fmt.Sprintf("Tidy operation finished: removed %d expired secret IDs and %d dangling accessor entries.", st.secretIDs, st.accessors))
	return resp, nil
}

// periodicTidy runs a tidy when the last one is older than tidyInterval.
func (b *backend) periodicTidy(ctx context.Context, s logical.Storage) {
	now := b.now()
	if last := b.lastTidy.Load(); last != 0 && now.UnixNano()-last < int64(tidyInterval) {
		return
	}
	b.lastTidy.Store(now.UnixNano())
	st, _, err := b.tidy(ctx, s)
	if err != nil {
		b.logger.Warn("tidy of secret IDs failed", "error", err)
		return
	}
	if st.secretIDs+st.accessors > 0 {
		b.logger.Info("tidied secret IDs", "expired_secret_ids", st.secretIDs, "dangling_accessors", st.accessors)
	}
}

// tidy deletes expired secret IDs (with their accessors), secret IDs whose
// accessor is gone, and accessors whose secret ID is gone. It reports
// false when another tidy is running.
func (b *backend) tidy(ctx context.Context, s logical.Storage) (tidyStats, bool, error) {
	var st tidyStats
	if !b.tidying.CompareAndSwap(false, true) {
		return st, false, nil
	}
	defer b.tidying.Store(false)

	roles, err := s.List(ctx, prefixSecretID)
	if err != nil {
		return st, true, fmt.Errorf("list secret ID roles: %w", err)
	}
	for _, roleDir := range roles {
		roleHMAC := strings.TrimSuffix(roleDir, "/")
		ids, err := s.List(ctx, prefixSecretID+roleDir)
		if err != nil {
			return st, true, fmt.Errorf("list secret IDs: %w", err)
		}
		for _, id := range ids {
			removed, err := b.tidySecretID(ctx, s, &secretIDEntry{RoleHMAC: roleHMAC, SecretIDHMAC: id})
			if err != nil {
				return st, true, err
			}
			if removed {
				st.secretIDs++
			}
		}
	}

	accs, err := s.List(ctx, prefixAccessor)
	if err != nil {
		return st, true, fmt.Errorf("list secret ID accessors: %w", err)
	}
	for _, accKey := range accs {
		removed, err := b.tidyAccessor(ctx, s, accKey)
		if err != nil {
			return st, true, err
		}
		if removed {
			st.accessors++
		}
	}
	return st, true, nil
}

// tidySecretID deletes one secret ID if it expired or lost its accessor.
func (b *backend) tidySecretID(ctx context.Context, s logical.Storage, ref *secretIDEntry) (bool, error) {
	lock := b.secretLocks.get(ref.SecretIDHMAC)
	lock.Lock()
	defer lock.Unlock()
	var e secretIDEntry
	found, err := logical.GetJSON(ctx, s, ref.key(), &e)
	if err != nil || !found {
		return false, err
	}
	accKey, err := b.hmac(ctx, s, "accessor", e.Accessor)
	if err != nil {
		return false, err
	}
	acc, err := s.Get(ctx, prefixAccessor+accKey)
	if err != nil {
		return false, err
	}
	if acc != nil && !e.expired(b.now()) {
		return false, nil
	}
	if err := b.deleteSecretIDLocked(ctx, s, ref, accKey); err != nil {
		return false, err
	}
	return true, nil
}

// tidyAccessor deletes an accessor entry whose secret ID no longer exists.
// The secret ID's lock is held while checking, so an issue in progress
// (accessor written, secret ID not yet) is never mistaken for a leftover.
func (b *backend) tidyAccessor(ctx context.Context, s logical.Storage, accKey string) (bool, error) {
	var acc accessorEntry
	found, err := logical.GetJSON(ctx, s, prefixAccessor+accKey, &acc)
	if err != nil || !found {
		return false, err
	}
	ref := &secretIDEntry{RoleHMAC: acc.RoleHMAC, SecretIDHMAC: acc.SecretIDHMAC}
	lock := b.secretLocks.get(ref.SecretIDHMAC)
	lock.Lock()
	defer lock.Unlock()
	e, err := s.Get(ctx, ref.key())
	if err != nil || e != nil {
		return false, err
	}
	if err := s.Delete(ctx, prefixAccessor+accKey); err != nil {
		return false, fmt.Errorf("delete dangling accessor: %w", err)
	}
	return true, nil
}
