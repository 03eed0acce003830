package database

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/coffer-dev/coffer/internal/logical"
)

// walRollback undoes one stale write-ahead record (framework.Backend calls
// it on rollback requests for records older than a minute or written
// before this process started).
func (b *Backend) walRollback(ctx context.Context, req *logical.Request, kind string, data interface{}) error {
	switch kind {
	case walKindCreds:
		var w credsWAL
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		return b.rollbackCreds(ctx, req.Storage, w)
	case walKindRotateRoot:
		var w rotateRootWAL
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		return b.rollbackRotateRoot(ctx, req.Storage, w)
	case walKindStatic:
		var w staticWAL
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		return b.rollbackStatic(ctx, req.Storage, w)
	}
	b.logger.Warn("dropping a write-ahead record of unknown kind", "kind", kind)
	return nil
}

// rollbackCreds removes a user that was created but never covered by a
// lease (the server stopped in between), with the same verification and
// fallback as a revocation.
func (b *Backend) rollbackCreds(ctx context.Context, s logical.Storage, w credsWAL) error {
	if w.Username == "" || w.DB == "" {
		return nil
	}
	cfg, err := loadConfig(ctx, s, w.DB)
	if err != nil {
		return err
	}
	if cfg == nil {
		b.logger.Warn("cannot roll back a user creation: its database configuration is gone", "db", w.DB, "role", w.Role, "username", w.Username)
		return nil
	}
	var stmts []string
	if role, err := loadRole(ctx, s, w.Role); err != nil {
		return err
	} else if role != nil {
		stmts = role.RevocationStatements
	}
	if _, err := b.removeUser(ctx, s, w.DB, w.Role, w.Username, stmts, true); err != nil {
		return err
	}
	b.stats.rollbacks.Add(1)
	b.logger.Info("rolled back a database user created without a lease", "db", w.DB, "role", w.Role, "username", w.Username)
	return nil
}

func decodeWAL(data interface{}, out interface{}) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("decode write-ahead record: %w", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode write-ahead record: %w", err)
	}
	return nil
}
