package token

import (
	"context"
	"fmt"
	"strings"
)

// Revoke revokes a token and all its descendants, children first; each
// goes through Leases.RevokeByToken before its entry is deleted. Unknown
// tokens are not an error.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	return s.revokeTree(ctx, s.salt.salt(id), id)
}

// RevokeAccessor is Revoke for the token an accessor names. The lease
// manager uses it when a token's lease expires.
func (s *Store) RevokeAccessor(ctx context.Context, accessor string) error {
	salted, err := s.accessorToken(ctx, accessor)
	if err != nil || salted == "" {
		return err
	}
	return s.revokeTree(ctx, salted, "")
}

// RevokeOrphan revokes a token alone; its children become orphans.
func (s *Store) RevokeOrphan(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	return s.revokeOne(ctx, s.salt.salt(id), id, true)
}

// revokeTree walks the tree below salted depth first without recursion and
// revokes leaves first, so a failure part-way leaves every remaining token
// still reachable from its parent. id is the raw ID of the root, if known.
func (s *Store) revokeTree(ctx context.Context, salted, id string) error {
	type node struct{ salted, parent string }
	stack := []node{{salted: salted}}
	seen := map[string]bool{}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		seen[cur.salted] = true
		children, err := s.view.List(ctx, parentPrefix+cur.salted+"/")
		if err != nil {
			return fmt.Errorf("list child tokens: %w", err)
		}
		pushed := false
		for _, c := range children {
			c = strings.TrimSuffix(c, "/")
			if seen[c] {
				// A cycle cannot be built through the API; drop the
				// index entry rather than loop forever.
				if err := s.view.Delete(ctx, parentPrefix+cur.salted+"/"+c); err != nil {
					return fmt.Errorf("delete parent index: %w", err)
				}
				s.log.Warn("token cycle found in parent index")
				continue
			}
			stack = append(stack, node{salted: c, parent: cur.salted})
			pushed = true
		}
		if pushed {
			continue
		}
		rawID := ""
		if cur.salted == salted {
			rawID = id
		}
		if err := s.revokeOne(ctx, cur.salted, rawID, false); err != nil {
			return err
		}
		if cur.parent != "" {
			// Normally gone with the token; also covers an index entry
			// whose token no longer exists.
			key := parentPrefix + cur.parent + "/" + cur.salted
			if e, err := s.view.Get(ctx, key); err != nil || e != nil {
				if err := s.view.Delete(ctx, key); err != nil {
					return fmt.Errorf("delete parent index: %w", err)
				}
			}
		}
		stack = stack[:len(stack)-1]
	}
	return nil
}

// revokeOne revokes a single token: mark it revoked (it stops looking up),
// revoke its leases, then delete its indexes and entry. With orphan set its
// children are re-parented to none first.
func (s *Store) revokeOne(ctx context.Context, salted, id string, orphan bool) error {
	mu := s.lockFor(salted)
	mu.Lock()
	te, err := s.load(ctx, salted)
	if err == nil && te != nil && te.NumUses != revocationPending {
		te.NumUses = revocationPending
		err = s.save(ctx, te)
	}
	mu.Unlock()
	if err != nil {
		return fmt.Errorf("mark token revoked: %w", err)
	}
	if te == nil {
		s.cache.remove(salted)
		return nil
	}
	te.ID = id
	if err := s.leases.RevokeByToken(ctx, te); err != nil {
		return fmt.Errorf("revoke leases of token %s: %w", te.Accessor, err)
	}
	if orphan {
		if err := s.orphanChildren(ctx, salted); err != nil {
			return err
		}
	}
	return s.deleteIndexes(ctx, te)
}

// orphanChildren clears the parent of every child of salted.
func (s *Store) orphanChildren(ctx context.Context, salted string) error {
	children, err := s.view.List(ctx, parentPrefix+salted+"/")
	if err != nil {
		return fmt.Errorf("list child tokens: %w", err)
	}
	for _, c := range children {
		c = strings.TrimSuffix(c, "/")
		if err := s.clearParent(ctx, c); err != nil {
			return err
		}
		if err := s.view.Delete(ctx, parentPrefix+salted+"/"+c); err != nil {
			return fmt.Errorf("delete parent index: %w", err)
		}
	}
	return nil
}

func (s *Store) clearParent(ctx context.Context, salted string) error {
	mu := s.lockFor(salted)
	mu.Lock()
	defer mu.Unlock()
	te, err := s.load(ctx, salted)
	if err != nil || te == nil {
		return err
	}
	te.parentSalted = ""
	te.Parent = ""
	return s.save(ctx, te)
}
