package database

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// walKindRotateRoot marks an admin password being rotated.
const walKindRotateRoot = "rotate-root"

// rotateRootWAL holds the new admin password (in barrier-encrypted
// storage) before the server is changed, so a crash cannot lose it.
type rotateRootWAL struct {
	DB          string `json:"db"`
	Username    string `json:"username"`
	NewPassword string `json:"new_password"`
}

func (b *Backend) rotateRootPaths() []*framework.Path {
	return []*framework.Path{{
		Pattern:  "rotate-root/" + framework.GenericNameRegex("name"),
		Fields:   framework.Fields{"name": {Type: framework.TypeString, Description: "Name of the connection."}},
		Ops:      framework.Ops{logical.UpdateOperation: b.rotateRoot},
		Synopsis: "Rotate the admin password of a database connection.",
		Description: `Generates a new password from the connection's password policy, sets it on
the database and keeps it only in Coffer's encrypted storage.`,
	}}
}

func (b *Backend) rotateRoot(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	conn, err := b.getConn(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	conn.mu.Lock()
	err = b.rotateRootLocked(ctx, req.Storage, name, conn)
	conn.mu.Unlock()
	// Reconnect with the new password on next use, as Vault does.
	b.putConn(name, nil)
	if err != nil {
		return nil, err
	}
	b.stats.rootRotations.Add(1)
	return nil, nil
}

func (b *Backend) rotateRootLocked(ctx context.Context, s logical.Storage, name string, conn *dbConn) error {
	cfg, err := loadConfig(ctx, s, name)
	if err != nil {
		return err
	}
	if cfg == nil {
		return logical.InvalidRequest("database configuration %q does not exist", name)
	}
	username := cfg.detailString("username")
	if username == "" {
		return logical.InvalidRequest("unable to rotate root credentials: no username in configuration")
	}
	if cfg.detailString("password") == "" {
		return logical.InvalidRequest("unable to rotate root credentials: no password in configuration")
	}
	pw, err := b.system.GeneratePasswordFromPolicy(ctx, cfg.PasswordPolicy)
	if err != nil {
		return fmt.Errorf("failed to generate password: %w", err)
	}
	walID, err := framework.PutWAL(ctx, s, walKindRotateRoot, rotateRootWAL{DB: name, Username: username, NewPassword: pw})
	if err != nil {
		return err
	}
	_, err = conn.driver.UpdateUser(ctx, dbplugin.UpdateUserRequest{
		Username: username,
		Password: &dbplugin.ChangePassword{NewPassword: pw, Statements: cfg.RootRotationStatements},
	})
	if err != nil {
		err = dbplugin.Scrub(conn.scrub(err), pw)
		var se *dbplugin.StatementError
		if errors.As(err, &se) {
			_ = framework.DeleteWAL(ctx, s, walID)
			return logical.InvalidRequest("failed to update user: %v", err)
		}
		return fmt.Errorf("failed to update user: %w", err)
	}
	cfg.ConnectionDetails["password"] = pw
	if err := logical.PutJSON(ctx, s, configPrefix+name, cfg); err != nil {
		return err
	}
	if err := framework.DeleteWAL(ctx, s, walID); err != nil {
		b.logger.Warn("could not delete write-ahead record", "id", walID, "error", err)
	}
	return nil
}

// rollbackRotateRoot reconciles an interrupted admin rotation. If the
// stored password still logs in, the change never reached the server (or
// was undone); if only the new one does, it is stored. If neither works
// the record is kept and retried.
func (b *Backend) rollbackRotateRoot(ctx context.Context, s logical.Storage, w rotateRootWAL) error {
	cfg, err := loadConfig(ctx, s, w.DB)
	if err != nil {
		return err
	}
	if cfg == nil || cfg.detailString("password") == w.NewPassword {
		return nil
	}
	conn, err := openConn(ctx, w.DB, cfg, true)
	if err == nil {
		conn.close()
		return nil
	}
	next := *cfg
	next.ConnectionDetails = make(map[string]interface{}, len(cfg.ConnectionDetails))
	for k, v := range cfg.ConnectionDetails {
		next.ConnectionDetails[k] = v
	}
	next.ConnectionDetails["password"] = w.NewPassword
	conn, err2 := openConn(ctx, w.DB, &next, true)
	if err2 != nil {
		cc, _ := cfg.connectionConfig()
		return fmt.Errorf("neither the stored nor the rotated admin password of %q logs in: %w", w.DB,
			dbplugin.Scrub(err2, append(cc.Secrets(), w.NewPassword)...))
	}
	conn.close()
	if err := logical.PutJSON(ctx, s, configPrefix+w.DB, &next); err != nil {
		return err
	}
	b.putConn(w.DB, nil)
	b.logger.Info("completed an interrupted admin password rotation", "db", w.DB, "username", w.Username)
	return nil
}
