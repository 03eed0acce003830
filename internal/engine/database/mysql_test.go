package database

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// mysqlHarness is an engine with a connection "my" to a scratch MariaDB
// database holding a table "items"; the admin is root without password.
func mysqlHarness(t testing.TB) (*harness, *testDB) {
	t.Helper()
	d := newMySQLDB(t)
	d.exec("CREATE TABLE items (id int)")
	d.exec("INSERT INTO items VALUES (1)")
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "config/my", map[string]interface{}{
		"plugin_name":       "mysql-database-plugin",
		"connection_url":    d.mysqlURL(),
		"username":          "root",
		"allowed_roles":     "*",
		"username_template": d.usernameTemplate(),
	})
	return h, d
}

// mysqlLogin opens a session as user; MariaDB always checks passwords.
func (d *testDB) mysqlLogin(user, password string) (*sql.Conn, error) {
	db, err := sql.Open("mysql", user+":"+password+"@tcp("+mysqlServer+")/"+d.name+"?timeout=5s")
	if err != nil {
		return nil, err
	}
	d.t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.PingContext(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (h *harness) mysqlRole(d *testDB, name string, extra map[string]interface{}) {
	h.t.Helper()
	data := map[string]interface{}{
		"db_name": "my",
		"creation_statements": "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';" +
			"GRANT SELECT ON " + d.name + ".* TO '{{name}}'@'%';",
	}
	for k, v := range extra {
		data[k] = v
	}
	h.ok(logical.UpdateOperation, "roles/"+name, data)
}

func TestMySQLCredsLifecycle(t *testing.T) {
	h, d := mysqlHarness(t)
	h.mysqlRole(d, "readonly", map[string]interface{}{"default_ttl": "10m", "max_ttl": "1h"})
	user, pw, secret := h.creds("readonly")
	if !strings.HasPrefix(user, "v-readon-"+d.tag+"-") || secret.TTL != 10*time.Minute || secret.MaxTTL != time.Hour {
		t.Fatalf("user %q secret %+v", user, secret)
	}
	conn, err := d.mysqlLogin(user, pw)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	ctx := context.Background()
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1 {
		t.Fatalf("SELECT: %d %v", n, err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO items VALUES (2)"); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("INSERT was not refused: %v", err)
	}
	if _, err := d.mysqlLogin(user, pw+"x"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	// MySQL users have no expiry; renew only extends the lease.
	resp, err := h.renew(secret, 30*time.Minute)
	if err != nil || resp.Secret.TTL != 30*time.Minute {
		t.Fatalf("renew: %v %+v", err, resp)
	}

	if err := h.revoke(secret); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if d.userExists(user) {
		t.Fatal("user still exists after revoke")
	}
	if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&n); err == nil {
		t.Fatal("the revoked user's session still works (DROP USER leaves sessions open)")
	}
	if _, err := d.mysqlLogin(user, pw); err == nil {
		t.Fatal("the revoked user can still log in")
	}
	st := h.b.Stats()
	if st.CredsIssued != 1 || st.CredsRevoked != 1 || st.RevocationFallbacks != 0 || st.SessionsTerminated < 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestMySQLSessionsKeptWhenAsked(t *testing.T) {
	h, d := mysqlHarness(t)
	h.mysqlRole(d, "app", map[string]interface{}{"terminate_sessions": false})
	user, pw, secret := h.creds("app")
	conn, err := d.mysqlLogin(user, pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.revoke(secret); err != nil {
		t.Fatal(err)
	}
	if d.userExists(user) {
		t.Fatal("user still exists")
	}
	if err := conn.QueryRowContext(context.Background(), "SELECT 1").Scan(new(int)); err != nil {
		t.Fatalf("terminate_sessions=false still ended the session: %v", err)
	}
	_ = conn.Close()
}

func TestMySQLFallback(t *testing.T) {
	for _, tt := range []struct{ name, revocation string }{
		{"statement fails", "DROP USER '{{name}}'@'nowhere'"},
		{"statement leaves the user", "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, d := mysqlHarness(t)
			h.mysqlRole(d, "app", map[string]interface{}{"revocation_statements": tt.revocation})
			user, pw, secret := h.creds("app")
			d.exec("CREATE USER '" + user + "'@'localhost' IDENTIFIED BY 'other-host'")
			conn, err := d.mysqlLogin(user, pw)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.revoke(secret); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if d.userExists(user) {
				t.Fatal("an account of the user survived")
			}
			if st := h.b.Stats(); st.RevocationFallbacks != 1 || st.CredsRevoked != 1 {
				t.Fatalf("stats = %+v", st)
			}
			if err := conn.QueryRowContext(context.Background(), "SELECT 1").Scan(new(int)); err == nil {
				t.Fatal("the session survived the fallback")
			}
		})
	}
}

// MySQL commits CREATE USER at once, so a later failing statement would
// leave a user behind; the engine removes it.
func TestMySQLCreationFailureLeavesNothing(t *testing.T) {
	for _, tt := range []struct {
		name     string
		rollback interface{}
	}{
		{"rollback statements", "DROP USER '{{name}}'@'%'"},
		{"no rollback statements", nil},
		{"failing rollback statements", "DROP USER '{{name}}'@'nowhere'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, d := mysqlHarness(t)
			role := map[string]interface{}{
				"creation_statements": "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON no_such_db_" + d.tag + ".nope TO '{{name}}'@'%';",
			}
			if tt.rollback != nil {
				role["rollback_statements"] = tt.rollback
			}
			h.mysqlRole(d, "bad", role)
			err := h.fail(logical.ReadOperation, "creds/bad", nil, "creation_statements failed")
			if strings.Contains(err.Error(), "Pw-") {
				t.Fatalf("error leaks the password: %v", err)
			}
			if users := d.taggedUsers(); len(users) != 0 {
				t.Fatalf("a failed creation left users: %v", users)
			}
			if len(h.wals()) != 0 {
				t.Fatalf("write-ahead records left: %v", h.wals())
			}
		})
	}
}

func TestMySQLRotateRoot(t *testing.T) {
	h, d := mysqlHarness(t)
	admin := "adm" + d.tag
	d.exec("CREATE USER '" + admin + "'@'%' IDENTIFIED BY 'old-admin-pw'")
	d.exec("GRANT ALL PRIVILEGES ON *.* TO '" + admin + "'@'%' WITH GRANT OPTION")
	h.ok(logical.UpdateOperation, "config/my", map[string]interface{}{"username": admin, "password": "old-admin-pw"})
	h.mysqlRole(d, "app", nil)
	h.ok(logical.UpdateOperation, "rotate-root/my", nil)
	cfg, err := loadConfig(context.Background(), h.s, "my")
	if err != nil {
		t.Fatal(err)
	}
	newPW := cfg.detailString("password")
	if newPW == "" || newPW == "old-admin-pw" {
		t.Fatalf("stored password %q", newPW)
	}
	if _, err := d.mysqlLogin(admin, "old-admin-pw"); err == nil {
		t.Fatal("the old admin password still logs in")
	}
	if _, err := d.mysqlLogin(admin, newPW); err != nil {
		t.Fatalf("the new admin password does not log in: %v", err)
	}
	user, pw, secret := h.creds("app")
	if _, err := d.mysqlLogin(user, pw); err != nil {
		t.Fatalf("creds after rotation: %v", err)
	}
	if err := h.revoke(secret); err != nil {
		t.Fatal(err)
	}
	// Custom rotation statements that fail are a 400 and change nothing.
	h.ok(logical.UpdateOperation, "config/my", map[string]interface{}{"root_rotation_statements": "ALTER USER '{{username}}'@'nowhere' IDENTIFIED BY '{{password}}'"})
	h.fail(logical.UpdateOperation, "rotate-root/my", nil, "failed to update user")
	if _, err := d.mysqlLogin(admin, newPW); err != nil {
		t.Fatalf("a failed rotation changed the password: %v", err)
	}
	if len(h.wals()) != 0 {
		t.Fatalf("write-ahead records left: %v", h.wals())
	}
}

func TestMySQLBadInput(t *testing.T) {
	h, d := mysqlHarness(t)
	admin := "adm" + d.tag
	d.exec("CREATE USER '" + admin + "'@'%' IDENTIFIED BY 'right-pw'")
	t.Run("wrong admin password", func(t *testing.T) {
		err := h.fail(logical.UpdateOperation, "config/wrong", map[string]interface{}{
			"plugin_name": "mysql-database-plugin", "connection_url": d.mysqlURL(), "username": admin, "password": "wrong-pw-123",
		}, "Access denied")
		if strings.Contains(err.Error(), "wrong-pw-123") {
			t.Fatalf("error leaks the password: %v", err)
		}
	})
	t.Run("unreachable host", func(t *testing.T) {
		err := h.fail(logical.UpdateOperation, "config/down", map[string]interface{}{
			"plugin_name": "mysql-database-plugin", "connection_url": "{{username}}:{{password}}@tcp(127.0.0.1:1)/",
			"username": "root", "password": "sekrit-pw-123",
		}, "error creating database object")
		if !strings.Contains(err.Error(), "connect") || strings.Contains(err.Error(), "sekrit-pw-123") {
			t.Fatalf("error should give the reason and hide the password: %v", err)
		}
	})
	t.Run("not allowed", func(t *testing.T) {
		h.ok(logical.UpdateOperation, "config/my", map[string]interface{}{"allowed_roles": []interface{}{"a", "b"}})
		h.mysqlRole(d, "c", nil)
		h.fail(logical.ReadOperation, "creds/c", nil, `"c" is not an allowed role`)
	})
}

func TestMySQLLegacyUsernames(t *testing.T) {
	h, d := mysqlHarness(t)
	h.ok(logical.UpdateOperation, "config/my", map[string]interface{}{"plugin_name": "mysql-legacy-database-plugin", "username_template": ""})
	h.mysqlRole(d, "legacy", nil)
	user, pw, secret := h.creds("legacy")
	d.track(user)
	if len(user) != 16 || !strings.HasPrefix(user, "v-lega-") {
		t.Fatalf("legacy username %q", user)
	}
	if _, err := d.mysqlLogin(user, pw); err != nil {
		t.Fatal(err)
	}
	if err := h.revoke(secret); err != nil {
		t.Fatal(err)
	}
	if d.userExists(user) {
		t.Fatal("user still exists")
	}
}

func TestMySQLStaticRole(t *testing.T) {
	h, d := mysqlHarness(t)
	user := "st" + d.tag
	d.exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'initial-pw'")
	d.exec("GRANT SELECT ON " + d.name + ".* TO '" + user + "'@'%'")
	h.ok(logical.UpdateOperation, "static-roles/app", map[string]interface{}{"db_name": "my", "username": user, "rotation_period": 60})
	pw := h.ok(logical.ReadOperation, "static-creds/app", nil).Data["password"].(string)
	if _, err := d.mysqlLogin(user, pw); err != nil {
		t.Fatalf("managed password: %v", err)
	}
	if _, err := d.mysqlLogin(user, "initial-pw"); err == nil {
		t.Fatal("the initial password still logs in")
	}
	h.ok(logical.UpdateOperation, "rotate-role/app", nil)
	pw2 := h.ok(logical.ReadOperation, "static-creds/app", nil).Data["password"].(string)
	if pw2 == pw {
		t.Fatal("rotate-role did not rotate")
	}
	if _, err := d.mysqlLogin(user, pw2); err != nil {
		t.Fatalf("rotated password: %v", err)
	}
}
