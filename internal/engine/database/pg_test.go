package database

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/engine/database/postgres"
	"github.com/coffer-dev/coffer/internal/logical"
)

func TestPostgresCredsLifecycle(t *testing.T) {
	h, d := pgHarness(t)
	h.ok(logical.UpdateOperation, "roles/readonly", map[string]interface{}{
		"db_name": "pg",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'` + d.inScram() + `;
			GRANT SELECT ON items TO "{{name}}";`,
		"default_ttl": "1h", "max_ttl": "3h",
	})
	before := time.Now()
	user, pw, secret := h.creds("readonly")
	if !strings.HasPrefix(user, "v-readon-"+d.tag+"-") {
		t.Fatalf("username %q does not follow the template", user)
	}
	if secret.TTL != time.Hour || secret.MaxTTL != 3*time.Hour || !secret.Renewable || secret.InternalData["secret_type"] != "creds" {
		t.Fatalf("secret terms: %+v", secret)
	}
	if vu := d.validUntil(user); !near(vu, before.Add(time.Hour+expirationBuffer), 30*time.Second) {
		t.Fatalf("VALID UNTIL %v, want about %v", vu, before.Add(time.Hour))
	}

	// The credentials log in and have exactly the stated grants.
	conn := d.mustLogin(user, pw)
	ctx := context.Background()
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1 {
		t.Fatalf("SELECT as the new user: n=%d err=%v", n, err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO items VALUES (2)"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("INSERT was not refused: %v", err)
	}
	if d.scram {
		if _, err := d.pgLogin(user, pw+"x"); err == nil {
			t.Fatal("a wrong password logged in")
		}
	}

	// Renew moves VALID UNTIL.
	resp, err := h.renew(secret, 2*time.Hour)
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if resp.Secret.TTL != 2*time.Hour {
		t.Fatalf("renewed TTL = %v", resp.Secret.TTL)
	}
	if vu := d.validUntil(user); !near(vu, time.Now().Add(2*time.Hour+expirationBuffer), 30*time.Second) {
		t.Fatalf("VALID UNTIL after renew = %v", vu)
	}
	// Past the role's max TTL the renewal is capped.
	resp, err = h.renew(secret, 10*time.Hour)
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if resp.Secret.TTL > 3*time.Hour || resp.Secret.TTL < 3*time.Hour-time.Minute || len(resp.Warnings) == 0 {
		t.Fatalf("renew beyond max_ttl: ttl %v warnings %v", resp.Secret.TTL, resp.Warnings)
	}

	// Revoke drops the role and ends the open session.
	if err := h.revoke(secret); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if d.userExists(user) {
		t.Fatal("role still exists after revoke")
	}
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&n); err == nil {
		t.Fatal("the revoked user's session still works")
	}
	if _, err := d.pgLogin(user, pw); err == nil {
		t.Fatal("the revoked user can still log in")
	}
	st := h.b.Stats()
	if st.CredsIssued != 1 || st.CredsRevoked != 1 || st.RevocationFallbacks != 0 || st.SessionsTerminated < 1 {
		t.Fatalf("stats = %+v", st)
	}
	// Revoking again is harmless (the lease manager may retry).
	if err := h.revoke(secret); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
}

func TestPostgresDefaultsWithoutOptionalStatements(t *testing.T) {
	h, d := pgHarness(t)
	// Vault's default username template and default revocation.
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"username_template": ""})
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
		"db_name":             "pg",
		"creation_statements": []interface{}{`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'`, `GRANT SELECT, INSERT ON items TO "{{name}}"`},
	})
	user, pw, secret := h.creds("app")
	d.track(user)
	if !strings.HasPrefix(user, "v-token-app-") || len(user) > 63 {
		t.Fatalf("default username %q", user)
	}
	if secret.TTL != time.Hour {
		t.Fatalf("TTL %v, want the mount default", secret.TTL)
	}
	d.mustLogin(user, pw)
	if err := h.revoke(secret); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if d.userExists(user) {
		t.Fatal("default revocation left the role")
	}
	if h.b.Stats().RevocationFallbacks != 0 {
		t.Fatal("default revocation needed the fallback for plain grants")
	}
}

// The classic Vault failure: DROP ROLE refused because ALTER DEFAULT
// PRIVILEGES and the user's own table depend on the role.
func TestPostgresOrphanFallback(t *testing.T) {
	for _, tt := range []struct {
		name       string
		revocation interface{}
	}{
		{"plain DROP ROLE", `DROP ROLE "{{name}}"`},
		{"documented revocation", `REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{name}}"; REVOKE USAGE ON SCHEMA public FROM "{{name}}"; DROP ROLE IF EXISTS "{{name}}";`},
		{"default revocation", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, d := pgHarness(t)
			role := map[string]interface{}{
				"db_name": "pg",
				"creation_statements": `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}';
					GRANT USAGE, CREATE ON SCHEMA public TO "{{name}}";
					ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{{name}}";`,
			}
			if tt.revocation != nil {
				role["revocation_statements"] = tt.revocation
			}
			h.ok(logical.UpdateOperation, "roles/app", role)
			user, pw, secret := h.creds("app")

			// The user creates a table here and in a second database.
			conn := d.mustLogin(user, pw)
			ctx := context.Background()
			if _, err := conn.Exec(ctx, "CREATE TABLE made_by_user (v text); INSERT INTO made_by_user VALUES ('kept')"); err != nil {
				t.Fatal(err)
			}
			other := d.name + "_b"
			d.exec("CREATE DATABASE " + other)
			t.Cleanup(func() { _, _ = d.admin.Exec("DROP DATABASE IF EXISTS " + other + " WITH (FORCE)") })
			otherAdmin := openOrSkip(t, "pgx", "postgres://postgres@"+pgServer+"/"+other+"?sslmode=disable", "PostgreSQL")
			defer otherAdmin.Close()
			if _, err := otherAdmin.Exec(`GRANT CREATE ON SCHEMA public TO "` + user + `"`); err != nil {
				t.Fatal(err)
			}
			if _, err := otherAdmin.Exec(`SET ROLE "` + user + `"; CREATE TABLE elsewhere (v int); RESET ROLE`); err != nil {
				t.Fatal(err)
			}

			if err := h.revoke(secret); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if d.userExists(user) {
				t.Fatal("role still exists after revoke")
			}
			st := h.b.Stats()
			if st.RevocationFallbacks != 1 || st.CredsRevoked != 1 || st.RevocationFailures != 0 {
				t.Fatalf("stats = %+v", st)
			}
			// The user's data was handed to the admin, not dropped.
			var owner, v string
			if err := d.admin.QueryRow("SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_user'").Scan(&owner); err != nil || owner != "postgres" {
				t.Fatalf("owner of the user's table: %q %v", owner, err)
			}
			if err := d.admin.QueryRow("SELECT v FROM made_by_user").Scan(&v); err != nil || v != "kept" {
				t.Fatalf("user's data: %q %v", v, err)
			}
			if err := otherAdmin.QueryRow("SELECT tableowner FROM pg_tables WHERE tablename = 'elsewhere'").Scan(&owner); err != nil || owner != "postgres" {
				t.Fatalf("owner of the table in the second database: %q %v", owner, err)
			}
			var acls int
			if err := d.admin.QueryRow("SELECT count(*) FROM pg_default_acl").Scan(&acls); err != nil || acls != 0 {
				t.Fatalf("default privileges left: %d %v", acls, err)
			}
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(new(int)); err == nil {
				t.Fatal("the revoked user's session still works")
			}
		})
	}
}

// Revocation while the database is unreachable fails (so the lease
// manager retries) and succeeds once the connection works again.
func TestPostgresRevokeWhileUnreachable(t *testing.T) {
	h, d := pgHarness(t)
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
		"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'`,
	})
	user, _, secret := h.creds("app")
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{
		"connection_url": "postgres://{{username}}:{{password}}@127.0.0.1:1/" + d.name + "?sslmode=disable", "verify_connection": false,
	})
	err := h.revoke(secret)
	if err == nil {
		t.Fatal("revoke succeeded against a closed port")
	}
	if strings.Contains(err.Error(), "ignored-under-trust") {
		t.Fatalf("error leaks the admin password: %v", err)
	}
	if !d.userExists(user) {
		t.Fatal("the user vanished without a reachable database")
	}
	if st := h.b.Stats(); st.RevocationFailures != 1 || st.CredsRevoked != 0 {
		t.Fatalf("stats = %+v", st)
	}
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"connection_url": d.pgURL()})
	if err := h.revoke(secret); err != nil {
		t.Fatalf("revoke after the database came back: %v", err)
	}
	if d.userExists(user) {
		t.Fatal("role still exists")
	}
}

// A server stopped between creating a user and storing its lease leaves a
// write-ahead record; rollback on the next start drops the user.
func TestPostgresCrashRollback(t *testing.T) {
	h, d := pgHarness(t)
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
		"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'`,
	})
	hook := t.TempDir() + "/created"
	t.Setenv(testPauseEnv, hook)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.b.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: "creds/app", Storage: h.s, DisplayName: "token"})
		done <- err
	}()
	user := waitForFile(t, hook)
	if !d.userExists(user) {
		t.Fatal("the paused request has not created the user")
	}
	cancel() // the "crash": the response, and so the lease, never happens
	if err := <-done; err == nil {
		t.Fatal("the paused request succeeded after cancellation")
	}
	t.Setenv(testPauseEnv, "")
	if len(h.wals()) != 1 {
		t.Fatalf("write-ahead records = %v", h.wals())
	}

	// A fresh engine on the same storage, as after a restart.
	h2 := newHarnessOn(t, h.s)
	if err := h2.rollback(); err != nil {
		t.Fatal(err)
	}
	if !d.userExists(user) {
		t.Fatal("a record younger than the minimum age was rolled back")
	}
	h2.b.WALRollbackMinAge = time.Nanosecond
	if err := h2.rollback(); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if d.userExists(user) {
		t.Fatal("rollback left the orphaned user")
	}
	if len(h2.wals()) != 0 || h2.b.Stats().RollbackUsersRemoved != 1 {
		t.Fatalf("records %v, stats %+v", h2.wals(), h2.b.Stats())
	}
}

func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := readFileIfExists(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

func TestPostgresBadInput(t *testing.T) {
	h, d := pgHarness(t)
	t.Run("statement refused", func(t *testing.T) {
		h.ok(logical.UpdateOperation, "roles/bad", map[string]interface{}{
			"db_name": "pg",
			"creation_statements": `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}';
				GRANT SELECT ON no_such_table TO "{{name}}";`,
		})
		err := h.fail(logical.ReadOperation, "creds/bad", nil, "creation_statements failed")
		if !strings.Contains(err.Error(), "no_such_table") {
			t.Fatalf("error does not say what failed: %v", err)
		}
		if users := d.taggedUsers(); len(users) != 0 {
			t.Fatalf("a failed creation left users: %v", users)
		}
		if len(h.wals()) != 0 {
			t.Fatalf("a failed creation left write-ahead records: %v", h.wals())
		}
	})
	t.Run("syntax error with the password in it", func(t *testing.T) {
		h.ok(logical.UpdateOperation, "roles/syntax", map[string]interface{}{
			"db_name": "pg", "creation_statements": `CREATE ROLLE "{{name}}" PASSWORD '{{password}}'`,
		})
		err := h.fail(logical.ReadOperation, "creds/syntax", nil, "syntax error")
		if strings.Contains(err.Error(), "Pw-") {
			t.Fatalf("error leaks the generated password: %v", err)
		}
	})
	t.Run("role not allowed", func(t *testing.T) {
		h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"allowed_roles": "ok-*"})
		h.ok(logical.UpdateOperation, "roles/other", map[string]interface{}{"db_name": "pg", "creation_statements": "SELECT 1"})
		h.fail(logical.ReadOperation, "creds/other", nil, `"other" is not an allowed role`)
		h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"allowed_roles": "*"})
	})
	t.Run("unreachable host", func(t *testing.T) {
		err := h.fail(logical.UpdateOperation, "config/down", map[string]interface{}{
			"plugin_name": "postgresql-database-plugin", "username": "postgres", "password": "sekrit-pw-123",
			"connection_url": "postgres://{{username}}:{{password}}@127.0.0.1:1/postgres?sslmode=disable",
		}, "error creating database object")
		if !strings.Contains(err.Error(), "connect") || strings.Contains(err.Error(), "sekrit-pw-123") {
			t.Fatalf("error should give the reason and hide the password: %v", err)
		}
	})
	t.Run("password policy failure", func(t *testing.T) {
		h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"password_policy": "broken"})
		h.ok(logical.UpdateOperation, "roles/pp", map[string]interface{}{"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}"`})
		if _, err := h.do(logical.ReadOperation, "creds/pp", nil); err == nil || !strings.Contains(err.Error(), "failed to generate password") {
			t.Fatalf("policy failure: %v", err)
		}
		h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"password_policy": ""})
	})
	t.Run("wrong admin password", func(t *testing.T) {
		if !d.scram {
			t.Skip("needs scripts/setup-pg-scram.sh: under trust authentication PostgreSQL ignores passwords")
		}
		admin := "adm-" + d.tag
		d.exec(`CREATE ROLE "` + admin + `" LOGIN SUPERUSER PASSWORD 'right-one' IN ROLE coffer_scram`)
		err := h.fail(logical.UpdateOperation, "config/wrong", map[string]interface{}{
			"plugin_name": "postgresql-database-plugin", "username": admin, "password": "wrong-one",
			"connection_url": d.pgURL(),
		}, "password authentication failed")
		if strings.Contains(err.Error(), "wrong-one") {
			t.Fatalf("error leaks the password: %v", err)
		}
	})
}

func TestPostgresRotateRoot(t *testing.T) {
	h, d := pgHarness(t)
	admin := "adm-" + d.tag
	d.exec(`CREATE ROLE "` + admin + `" LOGIN SUPERUSER PASSWORD 'old-admin-pw'` + d.inScram())
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{
		"username": admin, "password": "old-admin-pw", "password_policy": "admin-policy",
	})
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
		"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'`,
	})
	h.ok(logical.UpdateOperation, "rotate-root/pg", nil)

	cfg, err := loadConfig(context.Background(), h.s, "pg")
	if err != nil {
		t.Fatal(err)
	}
	newPW := cfg.detailString("password")
	if newPW == "" || newPW == "old-admin-pw" {
		t.Fatalf("stored admin password after rotation: %q", newPW)
	}
	if h.sys.policies[len(h.sys.policies)-1] != "admin-policy" {
		t.Fatalf("password policies used: %v", h.sys.policies)
	}
	verifier := d.rolpassword(admin)
	if !postgres.SCRAMVerifierMatches(verifier, newPW) || postgres.SCRAMVerifierMatches(verifier, "old-admin-pw") {
		t.Fatalf("the server's verifier does not hold the new password only")
	}
	if d.scram {
		if _, err := d.pgLogin(admin, "old-admin-pw"); err == nil {
			t.Fatal("the old admin password still logs in")
		}
		d.mustLogin(admin, newPW)
	}
	read := h.ok(logical.ReadOperation, "config/pg", nil)
	if _, ok := read.Data["connection_details"].(map[string]interface{})["password"]; ok {
		t.Fatal("config read returns the password")
	}
	// The engine reconnects with the new password.
	user, pw, secret := h.creds("app")
	d.mustLogin(user, pw)
	if err := h.revoke(secret); err != nil {
		t.Fatal(err)
	}
	if st := h.b.Stats(); st.RootRotations != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if len(h.wals()) != 0 {
		t.Fatalf("rotation left write-ahead records: %v", h.wals())
	}

	// A failing password policy changes nothing.
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"password_policy": "broken"})
	if _, err := h.do(logical.UpdateOperation, "rotate-root/pg", nil); err == nil {
		t.Fatal("rotation with a broken policy succeeded")
	}
	if d.rolpassword(admin) != verifier {
		t.Fatal("a failed rotation changed the server's password")
	}
}

// An interrupted root rotation is reconciled from its write-ahead record.
func TestPostgresRotateRootRollback(t *testing.T) {
	h, d := pgHarness(t)
	if !d.scram {
		t.Skip("needs scripts/setup-pg-scram.sh: under trust authentication any admin password logs in")
	}
	admin := "adm-" + d.tag
	d.exec(`CREATE ROLE "` + admin + `" LOGIN SUPERUSER PASSWORD 'old-admin-pw' IN ROLE coffer_scram`)
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"username": admin, "password": "old-admin-pw"})
	ctx := context.Background()
	h.b.WALRollbackMinAge = time.Nanosecond

	// Crash before the ALTER reached the server: the stored password stays.
	if _, err := framework_PutWAL(ctx, h, walKindRotateRoot, rotateRootWAL{DB: "pg", Username: admin, NewPassword: "never-applied"}); err != nil {
		t.Fatal(err)
	}
	if err := h.rollback(); err != nil {
		t.Fatal(err)
	}
	cfg, _ := loadConfig(ctx, h.s, "pg")
	if cfg.detailString("password") != "old-admin-pw" || len(h.wals()) != 0 {
		t.Fatalf("stored password %q, records %v", cfg.detailString("password"), h.wals())
	}

	// Crash after the ALTER, before storing: the new password is kept.
	if _, err := framework_PutWAL(ctx, h, walKindRotateRoot, rotateRootWAL{DB: "pg", Username: admin, NewPassword: "applied-pw"}); err != nil {
		t.Fatal(err)
	}
	d.exec(`ALTER ROLE "` + admin + `" PASSWORD 'applied-pw'`)
	if err := h.rollback(); err != nil {
		t.Fatal(err)
	}
	cfg, _ = loadConfig(ctx, h.s, "pg")
	if cfg.detailString("password") != "applied-pw" || len(h.wals()) != 0 {
		t.Fatalf("stored password %q, records %v", cfg.detailString("password"), h.wals())
	}
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}"`})
	_, _, secret := h.creds("app")
	if err := h.revoke(secret); err != nil {
		t.Fatal(err)
	}
}

// Concurrent GRANTs on one table make PostgreSQL fail with "tuple
// concurrently updated"; creation and revocation retry such conflicts.
func TestPostgresConcurrentCredsAndRevokes(t *testing.T) {
	h, d := pgHarness(t)
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"max_open_connections": 8})
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
		"db_name": "pg",
		"creation_statements": `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}';
			GRANT SELECT ON items TO "{{name}}"; GRANT USAGE ON SCHEMA public TO "{{name}}";`,
	})
	const n = 24
	secrets := make([]*logical.Secret, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := h.do(logical.ReadOperation, "creds/app", nil)
			if err != nil {
				errs <- err
				return
			}
			secrets[i] = resp.Secret
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent creds: %v", err)
	}
	if got := len(d.taggedUsers()); got != n {
		t.Fatalf("%d users exist, want %d", got, n)
	}
	errs = make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(s *logical.Secret) {
			defer wg.Done()
			if err := h.revoke(s); err != nil {
				errs <- err
			}
		}(secrets[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent revoke: %v", err)
	}
	if users := d.taggedUsers(); len(users) != 0 {
		t.Fatalf("users left: %v", users)
	}
	if st := h.b.Stats(); st.CredsRevoked != n || st.RevocationFallbacks != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// One pool per configuration, created lazily and replaced on reset,
// configuration change and delete.
func TestPostgresConnectionLifecycle(t *testing.T) {
	h, d := pgHarness(t)
	ctx := context.Background()
	get := func() *dbConn {
		t.Helper()
		c, err := h.b.getConn(ctx, h.s, "pg")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	closed := func(c *dbConn) bool {
		_, err := c.driver.NewUser(ctx, newUserProbe())
		return err != nil && strings.Contains(err.Error(), "not initialized")
	}
	c1 := get()
	if get() != c1 {
		t.Fatal("the pool is not reused")
	}
	h.ok(logical.UpdateOperation, "reset/pg", nil)
	c2 := get()
	if c2 == c1 || !closed(c1) || closed(c2) {
		t.Fatal("reset did not replace and close the pool")
	}
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"max_open_connections": 2})
	c3 := get()
	if c3 == c2 || !closed(c2) {
		t.Fatal("a configuration change did not replace the pool")
	}
	h.fail(logical.UpdateOperation, "reset/none", nil, `database configuration "none" does not exist`)

	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{
		"connection_url": "postgres://{{username}}:{{password}}@127.0.0.1:1/" + d.name, "verify_connection": false,
	})
	_, err := h.do(logical.UpdateOperation, "reset/pg", nil)
	if err == nil || strings.Contains(err.Error(), "ignored-under-trust") {
		t.Fatalf("reset against a closed port: %v", err)
	}
	h.ok(logical.DeleteOperation, "config/pg", nil)
	h.b.mu.Lock()
	n := len(h.b.conns)
	h.b.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d pools left after delete", n)
	}
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{
		"plugin_name": "postgresql-database-plugin", "connection_url": d.pgURL(), "username": "postgres", "allowed_roles": "*",
	})
	c4 := get()
	h.b.Cleanup(ctx)
	if !closed(c4) {
		t.Fatal("Cleanup did not close the pool")
	}
}

func newUserProbe() dbplugin.NewUserRequest {
	return dbplugin.NewUserRequest{Username: "probe", Password: "x", Statements: []string{"SELECT 1"}}
}
