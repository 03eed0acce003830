package token

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (s *Store) handleAccessors(ctx context.Context, _ *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := s.view.List(ctx, accessorPrefix)
	if err != nil {
		return nil, fmt.Errorf("list accessors: %w", err)
	}
	out := make([]string, 0, len(keys))
	resp := &logical.Response{}
	for _, k := range keys {
		var ar accessorRecord
		ok, err := logical.GetJSON(ctx, s.view, accessorPrefix+k, &ar)
		if err != nil {
			resp.AddWarning(fmt.Sprintf("Found an accessor entry that could not be successfully decoded; associated error is %q", err.Error()))
			continue
		}
		if !ok || ar.Token == "" {
			continue
		}
		out = append(out, ar.Accessor)
	}
	slices.Sort(out)
	resp.Data = map[string]interface{}{"keys": out}
	return resp, nil
}

func (s *Store) handleTidy(ctx context.Context, _ *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	resp := &logical.Response{}
	if !s.tidyMu.TryLock() {
		resp.AddWarning("Tidy operation already in progress.")
		return resp, nil
	}
	defer s.tidyMu.Unlock()
	if err := s.Tidy(ctx); err != nil {
		return nil, err
	}
	resp.AddWarning("Tidy operation finished. Any information from the operation is in the server log.")
	return resp, nil
}

// Tidy repairs what an interrupted operation can leave behind: parent
// index entries of missing tokens (their live children become orphans),
// accessors of missing tokens (their leases are revoked), and tokens past
// their expiry that were never revoked.
func (s *Store) Tidy(ctx context.Context) error {
	var stats struct{ parents, orphaned, accessors, expired int }
	parents, err := s.view.List(ctx, parentPrefix)
	if err != nil {
		return fmt.Errorf("list parent index: %w", err)
	}
	for _, p := range parents {
		p = strings.TrimSuffix(p, "/")
		parent, err := s.load(ctx, p)
		if err != nil {
			return err
		}
		children, err := s.view.List(ctx, parentPrefix+p+"/")
		if err != nil {
			return fmt.Errorf("list parent index: %w", err)
		}
		for _, c := range children {
			child, err := s.load(ctx, c)
			if err != nil {
				return err
			}
			if child != nil && parent != nil {
				continue
			}
			if child != nil {
				if err := s.clearParent(ctx, c); err != nil {
					return err
				}
				stats.orphaned++
			}
			if err := s.view.Delete(ctx, parentPrefix+p+"/"+c); err != nil {
				return fmt.Errorf("delete parent index: %w", err)
			}
			stats.parents++
		}
	}
	accessors, err := s.view.List(ctx, accessorPrefix)
	if err != nil {
		return fmt.Errorf("list accessors: %w", err)
	}
	for _, a := range accessors {
		var ar accessorRecord
		if _, err := logical.GetJSON(ctx, s.view, accessorPrefix+a, &ar); err != nil {
			return err
		}
		te, err := s.load(ctx, ar.Token)
		if err != nil {
			return err
		}
		if te != nil && ar.Token != "" {
			continue
		}
		if ar.Accessor != "" {
			if err := s.leases.RevokeByToken(ctx, &Entry{Accessor: ar.Accessor}); err != nil {
				return fmt.Errorf("revoke leases of missing token: %w", err)
			}
		}
		if err := s.view.Delete(ctx, accessorPrefix+a); err != nil {
			return fmt.Errorf("delete accessor: %w", err)
		}
		stats.accessors++
	}
	ids, err := s.view.List(ctx, idPrefix)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	now := s.now()
	for _, id := range ids {
		te, err := s.load(ctx, id)
		if err != nil {
			return err
		}
		if te == nil || !te.expired(now) {
			continue
		}
		if err := s.revokeTree(ctx, id, ""); err != nil {
			return err
		}
		stats.expired++
	}
	s.log.Info("token tidy finished", "parent_index_removed", stats.parents, "orphaned", stats.orphaned,
		"accessors_removed", stats.accessors, "expired_revoked", stats.expired)
	return nil
}
