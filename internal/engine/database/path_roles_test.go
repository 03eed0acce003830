package database

import (
	"reflect"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestRoleWriteReadListDelete(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "roles/ro", map[string]interface{}{
		"db_name":               "pg",
		"creation_statements":   `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'; GRANT SELECT ON t TO "{{name}}";`,
		"revocation_statements": []interface{}{`DROP ROLE "{{name}}"`, ""},
		"default_ttl":           "1h",
		"max_ttl":               86400,
	})
	resp := h.ok(logical.ReadOperation, "roles/ro", nil)
	want := map[string]interface{}{
		"db_name":               "pg",
		"creation_statements":   []string{`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'; GRANT SELECT ON t TO "{{name}}";`},
		"revocation_statements": []string{`DROP ROLE "{{name}}"`},
		"rollback_statements":   []string{},
		"renew_statements":      []string{},
		"default_ttl":           int64(3600),
		"max_ttl":               int64(86400),
		"credential_type":       "password",
		"terminate_sessions":    true,
	}
	if !reflect.DeepEqual(resp.Data, want) {
		t.Fatalf("read role:\n got %#v\nwant %#v", resp.Data, want)
	}
	// Partial update keeps the rest.
	h.ok(logical.UpdateOperation, "roles/ro", map[string]interface{}{"terminate_sessions": false, "renew_statements": `["A", "B"]`})
	resp = h.ok(logical.ReadOperation, "roles/ro", nil)
	if resp.Data["terminate_sessions"] != false || resp.Data["db_name"] != "pg" || !reflect.DeepEqual(resp.Data["renew_statements"], []string{"A", "B"}) {
		t.Fatalf("after update: %#v", resp.Data)
	}
	h.ok(logical.UpdateOperation, "roles/rw", map[string]interface{}{"db_name": "pg", "creation_statements": "CREATE ROLE x"})
	keys := h.ok(logical.ListOperation, "roles/", nil).Data["keys"].([]string)
	if !reflect.DeepEqual(keys, []string{"ro", "rw"}) {
		t.Fatalf("list = %v", keys)
	}
	h.ok(logical.DeleteOperation, "roles/rw", nil)
	if resp := h.ok(logical.ReadOperation, "roles/rw", nil); resp != nil {
		t.Fatal("deleted role still reads")
	}
}

func TestRoleBadInput(t *testing.T) {
	ok := map[string]interface{}{"db_name": "pg", "creation_statements": "CREATE ROLE x"}
	with := func(k string, v interface{}) map[string]interface{} {
		m := map[string]interface{}{}
		for a, b := range ok {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"no db_name", with("db_name", nil), `"db_name"`},
		{"no creation statements", with("creation_statements", nil), "creation_statements are required"},
		{"ttl above max", with("default_ttl", "2h"), "default_ttl (7200s) cannot be greater than max_ttl (3600s)"},
		{"bad ttl", with("default_ttl", "forever"), `field "default_ttl"`},
		{"credential type", with("credential_type", "rsa_private_key"), `field "credential_type"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			data := tt.data
			if tt.name == "ttl above max" {
				data["max_ttl"] = "1h"
			}
			h.fail(logical.UpdateOperation, "roles/r", data, tt.want)
			if resp := h.ok(logical.ReadOperation, "roles/r", nil); resp != nil {
				t.Fatal("a rejected role was stored")
			}
		})
	}
}

func TestRoleAndStaticRoleNamesAreUnique(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "roles/same", map[string]interface{}{"db_name": "pg", "creation_statements": "CREATE ROLE x"})
	h.fail(logical.UpdateOperation, "static-roles/same", map[string]interface{}{"db_name": "pg", "username": "u", "rotation_period": 60},
		"Role and Static Role names must be unique")
}

func TestCredsErrorsWithoutServer(t *testing.T) {
	h := newHarness(t)
	h.fail(logical.ReadOperation, "creds/nope", nil, "unknown role: nope")
	h.ok(logical.UpdateOperation, "roles/r", map[string]interface{}{"db_name": "missing", "creation_statements": "CREATE ROLE x"})
	h.fail(logical.ReadOperation, "creds/r", nil, `database configuration "missing" does not exist`)
	h.ok(logical.UpdateOperation, "config/missing", map[string]interface{}{
		"plugin_name": "postgresql-database-plugin", "verify_connection": false, "connection_url": "postgres://127.0.0.1:1/db",
		"allowed_roles": "other",
	})
	h.fail(logical.ReadOperation, "creds/r", nil, `"r" is not an allowed role`)
	if len(h.wals()) != 0 {
		t.Fatal("a refused request left a write-ahead record")
	}
}
