package database

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// walKindStatic marks a static role password being changed.
const walKindStatic = "static-rotation"

// staticWAL is the write-ahead record of a static rotation. It holds the
// new password (storage is encrypted by the barrier) so that an
// interrupted rotation can be reconciled.
type staticWAL struct {
	Role        string `json:"role"`
	DB          string `json:"db"`
	Username    string `json:"username"`
	NewPassword string `json:"new_password"`
}

func (b *Backend) staticLock(name string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return &b.staticLocks[h.Sum32()%uint32(len(b.staticLocks))]
}

// rotateStatic sets a new password for a static role on the database and
// stores it. The caller holds the role's lock.
func (b *Backend) rotateStatic(ctx context.Context, s logical.Storage, name string, r *staticRole) error {
	conn, err := b.getConn(ctx, s, r.DBName)
	if err != nil {
		return err
	}
	conn.mu.RLock()
	defer conn.mu.RUnlock()
	pw, err := b.system.GeneratePasswordFromPolicy(ctx, conn.cfg.PasswordPolicy)
	if err != nil {
		return fmt.Errorf("failed to generate password: %w", err)
	}
	walID, err := framework.PutWAL(ctx, s, walKindStatic, staticWAL{Role: name, DB: r.DBName, Username: r.Username, NewPassword: pw})
	if err != nil {
		return err
	}
	_, err = conn.driver.UpdateUser(ctx, dbplugin.UpdateUserRequest{
		Username: r.Username,
		Password: &dbplugin.ChangePassword{NewPassword: pw, Statements: r.RotationStatements},
	})
	if err != nil {
		err = dbplugin.Scrub(conn.scrub(err), pw)
		var se *dbplugin.StatementError
		if errors.As(err, &se) {
			// The statements were refused and rolled back: nothing changed.
			_ = framework.DeleteWAL(ctx, s, walID)
			return logical.InvalidRequest("rotation_statements failed for user %q on database %q: %v", r.Username, r.DBName, err)
		}
		return fmt.Errorf("rotate password of %q on database %q: %w", r.Username, r.DBName, err)
	}
	r.Password = pw
	r.LastVaultRotation = b.now()
	if err := logical.PutJSON(ctx, s, staticRolePrefix+name, r); err != nil {
		return err
	}
	if err := framework.DeleteWAL(ctx, s, walID); err != nil {
		b.logger.Warn("could not delete write-ahead record", "id", walID, "error", err)
	}
	b.stats.staticRotations.Add(1)
	return nil
}

// rotateIfDue rotates a static role whose period has passed and returns
// its current state (nil when the role is gone).
func (b *Backend) rotateIfDue(ctx context.Context, s logical.Storage, name string) (*staticRole, error) {
	lock := b.staticLock(name)
	lock.Lock()
	defer lock.Unlock()
	r, err := loadStaticRole(ctx, s, name)
	if err != nil || r == nil {
		return r, err
	}
	if b.now().Before(r.nextRotation()) {
		return r, nil
	}
	if err := b.rotateStatic(ctx, s, name, r); err != nil {
		return nil, err
	}
	return r, nil
}

// rotateDueStaticRoles rotates every static role past its period; it runs
// on the core's periodic rollback request.
func (b *Backend) rotateDueStaticRoles(ctx context.Context, s logical.Storage) error {
	names, err := s.List(ctx, staticRolePrefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if _, err := b.rotateIfDue(ctx, s, name); err != nil {
			b.logger.Warn("static role rotation failed; it will be retried", "role", name, "error", err)
			errs = append(errs, fmt.Errorf("static role %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// rollbackStatic reconciles an interrupted static rotation: unless the
// stored password is the one the record was setting, the database may
// hold either, so rotate again to a fresh password known to both.
func (b *Backend) rollbackStatic(ctx context.Context, s logical.Storage, w staticWAL) error {
	lock := b.staticLock(w.Role)
	lock.Lock()
	defer lock.Unlock()
	r, err := loadStaticRole(ctx, s, w.Role)
	if err != nil {
		return err
	}
	if r == nil || r.Password == w.NewPassword {
		return nil
	}
	return b.rotateStatic(ctx, s, w.Role, r)
}
