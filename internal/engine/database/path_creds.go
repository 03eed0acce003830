package database

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/engine/database/template"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// walKindCreds marks the write-ahead record of a user being created.
const walKindCreds = "creds"

// expirationBuffer keeps the database's own expiry a little past the
// lease, as Vault does, so the lease ends first.
const expirationBuffer = 5 * time.Second

// cleanupTimeout bounds the undo of a failed creation.
const cleanupTimeout = 30 * time.Second

// testPauseEnv names the crash-safety test hook: when the variable holds a
// file path, the creds handler writes the new username into that file
// right after creating the user and then blocks until the request is
// cancelled, so a test can kill the server between "user created" and
// "lease stored". Nothing else reads it.
const testPauseEnv = "COFFER_TEST_DB_PAUSE_AFTER_CREATE"

// credsWAL is the write-ahead record of a dynamic user.
type credsWAL struct {
	DB       string `json:"db"`
	Role     string `json:"role"`
	Username string `json:"username"`
}

func (b *Backend) credsPaths() []*framework.Path {
	return []*framework.Path{{
		Pattern:  "creds/" + framework.GenericNameRegex("name"),
		Fields:   framework.Fields{"name": {Type: framework.TypeString, Description: "Name of the role."}},
		Ops:      framework.Ops{logical.ReadOperation: b.readCreds},
		Synopsis: "Generate database credentials for a role.",
	}}
}

func (b *Backend) readCreds(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.String("name")
	role, err := loadRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if role == nil {
		return nil, logical.InvalidRequest("unknown role: %s", name)
	}
	conn, err := b.getConn(ctx, req.Storage, role.DBName)
	if err != nil {
		return nil, err
	}
	if !roleAllowed(conn.cfg.AllowedRoles, name) {
		return nil, logical.InvalidRequest("%q is not an allowed role", name)
	}
	conn.mu.RLock()
	defer conn.mu.RUnlock()

	now := b.now()
	ttl, warnings, err := framework.CalculateTTL(b.system.DefaultLeaseTTL(), b.system.MaxLeaseTTL(), 0, role.defaultTTL(), role.maxTTL(), now, now)
	if err != nil {
		return nil, err
	}
	password, err := b.system.GeneratePasswordFromPolicy(ctx, conn.cfg.PasswordPolicy)
	if err != nil {
		return nil, fmt.Errorf("failed to generate password: %w", err)
	}
	username, err := conn.newUsername(req.DisplayName, name)
	if err != nil {
		return nil, err
	}
	newResponse := func(walID string) *logical.Response {
		internal := map[string]interface{}{
			"username":              username,
			"role":                  name,
			"db_name":               role.DBName,
			"revocation_statements": role.RevocationStatements,
			"terminate_sessions":    role.TerminateSessions,
		}
		if walID != "" {
			internal[framework.WALInternalKey] = walID
		}
		resp := b.creds.Response(map[string]interface{}{"username": username, "password": password}, internal)
		resp.Secret.TTL = ttl
		resp.Secret.MaxTTL = role.maxTTL()
		resp.Warnings = warnings
		return resp
	}
	newUser := dbplugin.NewUserRequest{
		Username: username, Password: password, Expiration: now.Add(ttl + expirationBuffer),
		Statements: role.CreationStatements,
	}

	// The user is recorded while the driver already runs the statements,
	// and the driver waits for the record before the user can outlive a
	// crash (BeforeCommit), so a user never exists unrecorded. The record is
	// the lease itself when the core lets the engine store it now
	// (Request.PersistLease): revoking it removes the user, also after a crash.
	// Otherwise it is a write-ahead record, which the core's lease replaces.
	var resp *logical.Response
	var record func() (string, error)
	if req.LeaseStore != nil {
		resp = newResponse("")
		record = func() (string, error) { return "", req.PersistLease(ctx, resp) }
	} else {
		record = func() (string, error) {
			return framework.PutWAL(ctx, req.Storage, walKindCreds, credsWAL{DB: role.DBName, Role: name, Username: username})
		}
	}
	pending := storeInBackground(record)
	newUser.BeforeCommit = pending.wait
	_, err = conn.driver.NewUser(ctx, newUser)
	walID, recErr := pending.result()
	if recErr != nil {
		if err == nil {
			// A driver that did not wait: do not leave an unrecorded user.
			b.undoCreate(ctx, req.Storage, conn, name, role, username, "")
		}
		return nil, recErr
	}
	if err != nil {
		// A stored lease is revoked by the core when this request fails;
		// the rollback statements run first either way.
		b.undoCreate(ctx, req.Storage, conn, name, role, username, walID)
		return nil, creationError(role.DBName, dbplugin.Scrub(conn.scrub(err), password))
	}
	b.stats.credsIssued.Add(1)
	if err := pauseForTest(ctx, username); err != nil {
		return nil, err
	}
	if resp == nil {
		resp = newResponse(walID)
	}
	return resp, nil
}

// pendingWrite is a write-ahead record or a lease being stored in the
// background while the driver runs the statements.
type pendingWrite struct {
	done chan struct{}
	id   string
	err  error
}

func storeInBackground(store func() (string, error)) *pendingWrite {
	w := &pendingWrite{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.id, w.err = store()
	}()
	return w
}

// wait returns once the record is stored (nil) or could not be.
func (w *pendingWrite) wait(ctx context.Context) error {
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// result waits for the store to finish, whatever the request's context.
func (w *pendingWrite) result() (string, error) {
	<-w.done
	return w.id, w.err
}

// newUsername renders the username template and fits it to the server.
func (c *dbConn) newUsername(displayName, role string) (string, error) {
	u, err := c.username.Generate(template.Metadata{DisplayName: displayName, RoleName: role})
	if err != nil {
		return "", fmt.Errorf("generate username: %w", err)
	}
	if c.maxLen > 0 && len(u) > c.maxLen {
		u = u[:c.maxLen]
	}
	if u == "" {
		return "", logical.InvalidRequest("username_template of database %q produced an empty username", c.name)
	}
	if strings.ContainsAny(u, "'\"\\`\x00") {
		return "", logical.InvalidRequest("username_template of database %q produced %q, which contains a quote or backslash", c.name, u)
	}
	return u, nil
}

// undoCreate removes what a failed creation left behind with the role's
// rollback statements (or its revocation statements, or the driver's
// default), verified like a revocation. Only when that succeeds is the
// write-ahead record dropped; otherwise rollback retries later.
func (b *Backend) undoCreate(ctx context.Context, s logical.Storage, conn *dbConn, role string, r *roleEntry, username, walID string) {
	stmts := r.RollbackStatements
	if len(stmts) == 0 {
		stmts = r.RevocationStatements
	}
	// The cleanup must run even when the request was cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	resp, err := conn.driver.DeleteUser(ctx, dbplugin.DeleteUserRequest{Username: username, Statements: stmts, TerminateSessions: true})
	if err != nil {
		b.logger.Warn("could not undo a failed user creation; rollback will retry",
			"db", conn.name, "role", role, "username", username, "error", conn.scrub(err))
		return
	}
	if resp.Fallback {
		b.logger.Info("failed user creation undone by the fallback cleanup", "db", conn.name, "role", role, "username", username, "reason", resp.Reason)
	}
	if walID == "" {
		return
	}
	if err := framework.DeleteWAL(ctx, s, walID); err != nil {
		b.logger.Warn("could not delete write-ahead record", "id", walID, "error", err)
	}
}

// creationError maps a failed creation: statements the database refused
// are the role's fault (400), anything else is the server's (500).
func creationError(db string, err error) error {
	var se *dbplugin.StatementError
	if errors.As(err, &se) {
		return logical.InvalidRequest("creation_statements failed on database %q: %v", db, err)
	}
	return fmt.Errorf("unable to create user on database %q: %w", db, err)
}

// roleAllowed matches a role against allowed_roles, where "*" matches any
// run of characters (Vault's glob).
func roleAllowed(allowed []string, role string) bool {
	for _, a := range allowed {
		if a == "*" || globMatch(a, role) {
			return true
		}
	}
	return false
}

func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// pauseForTest implements the testPauseEnv hook.
func pauseForTest(ctx context.Context, username string) error {
	path := os.Getenv(testPauseEnv)
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, []byte(username), 0o600); err != nil {
		return fmt.Errorf("test hook: %w", err)
	}
	<-ctx.Done()
	return ctx.Err()
}
