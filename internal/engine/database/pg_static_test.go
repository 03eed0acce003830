package database

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/engine/database/postgres"
	"github.com/coffer-dev/coffer/internal/logical"
)

// With password_authentication=scram-sha-256 the server receives a
// verifier, never the password. The admin session asks the server to
// hash plaintext with md5, so a SCRAM verifier in pg_authid can only have
// come from the client.
func TestPostgresSCRAMVerifierIsComputedClientSide(t *testing.T) {
	for _, tt := range []struct {
		auth       string
		wantPrefix string
	}{
		{"scram-sha-256", "SCRAM-SHA-256$4096:"},
		{"password", "md5"},
	} {
		t.Run(tt.auth, func(t *testing.T) {
			h, d := pgHarness(t)
			h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{
				"connection_url":          d.pgURL() + "&password_encryption=md5",
				"password_authentication": tt.auth,
			})
			h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
				"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'`,
			})
			user, pw, secret := h.creds("app")
			stored := d.rolpassword(user)
			if !strings.HasPrefix(stored, tt.wantPrefix) {
				t.Fatalf("stored password %q, want prefix %q", stored, tt.wantPrefix)
			}
			if tt.auth == "scram-sha-256" && !postgres.SCRAMVerifierMatches(stored, pw) {
				t.Fatal("the stored verifier does not match the issued password")
			}
			if err := h.revoke(secret); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPostgresSCRAMLogin(t *testing.T) {
	h, d := pgHarness(t)
	if !d.scram {
		t.Skip("run scripts/setup-pg-scram.sh first: it makes members of coffer_scram log in with scram-sha-256, which this test needs")
	}
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"password_authentication": "scram-sha-256"})
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
		"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}' IN ROLE coffer_scram`,
	})
	user, pw, secret := h.creds("app")
	d.mustLogin(user, pw)
	if _, err := d.pgLogin(user, "not-"+pw); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := h.revoke(secret); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresStaticRole(t *testing.T) {
	h, d := pgHarness(t)
	clock := &fakeClock{t: time.Now()}
	h.b.now = clock.Now
	user := "static-" + d.tag
	d.exec(`CREATE ROLE "` + user + `" LOGIN PASSWORD 'initial-pw'` + d.inScram())
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"password_authentication": "scram-sha-256"})

	h.ok(logical.UpdateOperation, "static-roles/app", map[string]interface{}{
		"db_name": "pg", "username": user, "rotation_period": "1h",
	})
	// Creation takes the account over: the password is rotated at once.
	creds := func() map[string]interface{} { return h.ok(logical.ReadOperation, "static-creds/app", nil).Data }
	c1 := creds()
	pw1, _ := c1["password"].(string)
	if c1["username"] != user || pw1 == "" || pw1 == "initial-pw" || c1["rotation_period"] != int64(3600) || c1["ttl"] != int64(3600) {
		t.Fatalf("static-creds = %#v", c1)
	}
	if !c1["last_vault_rotation"].(time.Time).Equal(clock.Now()) {
		t.Fatalf("last_vault_rotation = %v", c1["last_vault_rotation"])
	}
	checkPW := func(pw string) {
		t.Helper()
		if v := d.rolpassword(user); !postgres.SCRAMVerifierMatches(v, pw) {
			t.Fatalf("the server does not hold the managed password")
		}
		if d.scram {
			d.mustLogin(user, pw)
		}
	}
	checkPW(pw1)
	role := h.ok(logical.ReadOperation, "static-roles/app", nil).Data
	if role["username"] != user || role["db_name"] != "pg" || role["rotation_period"] != int64(3600) {
		t.Fatalf("static role = %#v", role)
	}

	// Within the period the password stays; the TTL counts down.
	clock.Add(10 * time.Minute)
	if c := creds(); c["password"] != pw1 || c["ttl"] != int64(3000) {
		t.Fatalf("within the period: %#v", c)
	}
	// Past the period a read rotates first.
	clock.Add(55 * time.Minute)
	c2 := creds()
	pw2, _ := c2["password"].(string)
	if pw2 == pw1 || !c2["last_vault_rotation"].(time.Time).Equal(clock.Now()) {
		t.Fatalf("no rotation past the period: %#v", c2)
	}
	checkPW(pw2)
	if d.scram {
		if _, err := d.pgLogin(user, pw1); err == nil {
			t.Fatal("the previous password still logs in")
		}
	}
	// The periodic rollback request rotates due roles without any read.
	clock.Add(2 * time.Hour)
	if err := h.rollback(); err != nil {
		t.Fatal(err)
	}
	var stored staticRole
	if _, err := logical.GetJSON(context.Background(), h.s, staticRolePrefix+"app", &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Password == pw2 || !stored.LastVaultRotation.Equal(clock.Now()) {
		t.Fatal("the rollback request did not rotate a due role")
	}
	checkPW(stored.Password)
	// rotate-role rotates on demand.
	h.ok(logical.UpdateOperation, "rotate-role/app", nil)
	pw4 := creds()["password"].(string)
	if pw4 == stored.Password {
		t.Fatal("rotate-role did not rotate")
	}
	checkPW(pw4)
	if st := h.b.Stats(); st.StaticRotations != 4 {
		t.Fatalf("stats = %+v", st)
	}
	// An update keeps the password and may change the period.
	h.ok(logical.UpdateOperation, "static-roles/app", map[string]interface{}{"rotation_period": 600})
	if c := creds(); c["password"] != pw4 || c["rotation_period"] != int64(600) {
		t.Fatalf("after update: %#v", c)
	}
	keys := h.ok(logical.ListOperation, "static-roles/", nil).Data["keys"].([]string)
	if len(keys) != 1 || keys[0] != "app" {
		t.Fatalf("list = %v", keys)
	}
	if len(h.wals()) != 0 {
		t.Fatalf("rotations left write-ahead records: %v", h.wals())
	}

	// Bad input.
	h.fail(logical.UpdateOperation, "static-roles/app", map[string]interface{}{"username": "someone-else"}, "cannot update static account username")
	h.fail(logical.UpdateOperation, "static-roles/fast", map[string]interface{}{"db_name": "pg", "username": user, "rotation_period": 4},
		"rotation_period must be 5 seconds or more")
	h.fail(logical.UpdateOperation, "static-roles/noperiod", map[string]interface{}{"db_name": "pg", "username": user}, "rotation_period is required")
	h.fail(logical.UpdateOperation, "static-roles/nouser", map[string]interface{}{"db_name": "pg", "rotation_period": 60}, "username is a required field")
	h.fail(logical.UpdateOperation, "static-roles/ghost", map[string]interface{}{"db_name": "pg", "username": "no-such-user-" + d.tag, "rotation_period": 60},
		"does not exist")
	if resp := h.ok(logical.ReadOperation, "static-roles/ghost", nil); resp != nil {
		t.Fatal("a static role whose rotation failed was stored")
	}
	h.fail(logical.ReadOperation, "static-creds/nope", nil, "unknown role: nope")
	h.fail(logical.UpdateOperation, "rotate-role/nope", nil, "no static role found")

	h.ok(logical.DeleteOperation, "static-roles/app", nil)
	if resp := h.ok(logical.ReadOperation, "static-roles/app", nil); resp != nil {
		t.Fatal("deleted static role still reads")
	}
	if !d.userExists(user) {
		t.Fatal("deleting a static role dropped the database user")
	}
}

// An interrupted static rotation is completed by rollback with a fresh
// password that both the server and storage hold.
func TestPostgresStaticRotationRollback(t *testing.T) {
	h, d := pgHarness(t)
	user := "static-" + d.tag
	d.exec(`CREATE ROLE "` + user + `" LOGIN PASSWORD 'initial-pw'`)
	h.ok(logical.UpdateOperation, "static-roles/app", map[string]interface{}{"db_name": "pg", "username": user, "rotation_period": "1h"})
	before := h.ok(logical.ReadOperation, "static-creds/app", nil).Data["password"].(string)
	ctx := context.Background()
	if _, err := framework_PutWAL(ctx, h, walKindStatic, staticWAL{Role: "app", DB: "pg", Username: user, NewPassword: "maybe-applied"}); err != nil {
		t.Fatal(err)
	}
	d.exec(`ALTER ROLE "` + user + `" PASSWORD 'maybe-applied'`)
	h.b.WALRollbackMinAge = time.Nanosecond
	if err := h.rollback(); err != nil {
		t.Fatal(err)
	}
	after := h.ok(logical.ReadOperation, "static-creds/app", nil).Data["password"].(string)
	if after == before || after == "maybe-applied" || len(h.wals()) != 0 {
		t.Fatalf("rollback: before %q after %q records %v", before, after, h.wals())
	}
	if !postgres.SCRAMVerifierMatches(d.rolpassword(user), after) {
		t.Fatal("server and storage disagree after rollback")
	}
}
