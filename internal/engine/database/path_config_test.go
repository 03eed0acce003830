package database

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPaths(t *testing.T) {
	h := newHarness(t)
	framework.TestPaths(t, h.b.Paths)
}

func TestFactoryNeedsSystemView(t *testing.T) {
	if _, err := Factory(context.Background(), &logical.BackendConfig{StorageView: logical.NewInmemStorage()}); err == nil {
		t.Fatal("Factory without a system view succeeded")
	}
}

// Configurations written without verification need no server.
func TestConfigWriteReadListDelete(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{
		"plugin_name":              "postgresql-database-plugin",
		"connection_url":           "postgres://{{username}}:{{password}}@127.0.0.1:1/db?sslmode=disable",
		"username":                 "admin",
		"password":                 "hunter2-secret",
		"allowed_roles":            "a, b,c",
		"verify_connection":        false,
		"max_open_connections":     7,
		"max_connection_lifetime":  "30s",
		"password_authentication":  "scram-sha-256",
		"root_rotation_statements": []interface{}{`ALTER ROLE "{{username}}" PASSWORD '{{password}}'`},
	})
	resp := h.ok(logical.ReadOperation, "config/pg", nil)
	want := map[string]interface{}{
		"plugin_name":    "postgresql-database-plugin",
		"plugin_version": "",
		"connection_details": map[string]interface{}{
			"connection_url":          "postgres://{{username}}:{{password}}@127.0.0.1:1/db?sslmode=disable",
			"username":                "admin",
			"max_open_connections":    float64(7),
			"max_connection_lifetime": "30s",
			"password_authentication": "scram-sha-256",
		},
		"allowed_roles":                      []string{"a", "b", "c"},
		"root_credentials_rotate_statements": []string{`ALTER ROLE "{{username}}" PASSWORD '{{password}}'`},
		"password_policy":                    "",
		"verify_connection":                  false,
		"skip_static_role_import_rotation":   false,
	}
	if !reflect.DeepEqual(resp.Data, want) {
		t.Fatalf("read config:\n got %#v\nwant %#v", resp.Data, want)
	}

	// An update merges: only the given fields change.
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"allowed_roles": []interface{}{"x"}, "verify_connection": false})
	resp = h.ok(logical.ReadOperation, "config/pg", nil)
	if got := resp.Data["allowed_roles"]; !reflect.DeepEqual(got, []string{"x"}) {
		t.Fatalf("allowed_roles after update = %v", got)
	}
	if got := resp.Data["connection_details"].(map[string]interface{})["username"]; got != "admin" {
		t.Fatalf("username lost on update: %v", got)
	}

	h.ok(logical.UpdateOperation, "config/my", map[string]interface{}{
		"plugin_name": "mysql-database-plugin", "connection_url": "{{username}}:{{password}}@tcp(127.0.0.1:1)/", "verify_connection": false,
	})
	keys := h.ok(logical.ListOperation, "config/", nil).Data["keys"].([]string)
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, []string{"my", "pg"}) {
		t.Fatalf("list = %v", keys)
	}
	h.ok(logical.DeleteOperation, "config/my", nil)
	if resp := h.ok(logical.ReadOperation, "config/my", nil); resp != nil {
		t.Fatalf("deleted config still reads: %#v", resp)
	}
}

func TestConfigLiteralPasswordIsRedacted(t *testing.T) {
	h := newHarness(t)
	resp := h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{
		"plugin_name": "postgresql-database-plugin", "verify_connection": false,
		"connection_url": "postgres://admin:literal-secret@127.0.0.1:1/db",
	})
	if resp == nil || len(resp.Warnings) == 0 || !strings.Contains(resp.Warnings[0], "Password found in connection_url") {
		t.Fatalf("no warning about a literal password: %#v", resp)
	}
	read := h.ok(logical.ReadOperation, "config/pg", nil)
	url := read.Data["connection_details"].(map[string]interface{})["connection_url"].(string)
	if strings.Contains(url, "literal-secret") || !strings.Contains(url, "xxxxx") {
		t.Fatalf("connection_url not redacted: %s", url)
	}
}

func TestConfigBadInput(t *testing.T) {
	base := func(extra map[string]interface{}) map[string]interface{} {
		m := map[string]interface{}{
			"plugin_name": "postgresql-database-plugin", "verify_connection": false, "password": "p4ss-w0rd-x",
			"connection_url": "postgres://{{username}}:{{password}}@127.0.0.1:1/db", "username": "admin",
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"unknown plugin", base(map[string]interface{}{"plugin_name": "oracle-database-plugin"}),
			`unsupported plugin_name "oracle-database-plugin"; accepted values: postgresql-database-plugin, mysql-database-plugin, mysql-aurora-database-plugin, mysql-rds-database-plugin, mysql-legacy-database-plugin`},
		{"missing plugin", base(map[string]interface{}{"plugin_name": ""}), "plugin_name is required"},
		{"missing connection_url", base(map[string]interface{}{"connection_url": ""}), "connection_url cannot be empty"},
		{"bad password_authentication", base(map[string]interface{}{"password_authentication": "md5"}), `field "password_authentication"`},
		{"bad username_template", base(map[string]interface{}{"username_template": "{{.Nope"}), "unable to initialize username template"},
		{"username_template failing", base(map[string]interface{}{"username_template": "{{.Nope}}"}), "invalid username template"},
		{"bad lifetime", base(map[string]interface{}{"max_connection_lifetime": "soon"}), "invalid max_connection_lifetime"},
		{"bad max_open_connections", base(map[string]interface{}{"max_open_connections": "many"}), `field "max_open_connections"`},
		{"unparsable url", base(map[string]interface{}{"connection_url": "postgres://{{username}}:{{password}}@127.0.0.1:notaport/db"}), "invalid connection_url"},
		{"bad mysql dsn", base(map[string]interface{}{"plugin_name": "mysql-database-plugin", "connection_url": "no-at-sign-tcp(127.0.0.1"}), "invalid connection_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			err := h.fail(logical.UpdateOperation, "config/x", tt.data, tt.want)
			if strings.Contains(err.Error(), "p4ss-w0rd-x") {
				t.Fatalf("error leaks the password: %v", err)
			}
			if resp := h.ok(logical.ReadOperation, "config/x", nil); resp != nil {
				t.Fatal("a rejected configuration was stored")
			}
		})
	}
}

func TestRoleAllowed(t *testing.T) {
	tests := []struct {
		allowed []string
		role    string
		want    bool
	}{
		{nil, "a", false},
		{[]string{}, "a", false},
		{[]string{"*"}, "anything", true},
		{[]string{"a", "b"}, "b", true},
		{[]string{"a", "b"}, "c", false},
		{[]string{"read*"}, "readonly", true},
		{[]string{"read*"}, "write", false},
		{[]string{"*-ro"}, "app-ro", true},
		{[]string{"app-*-ro"}, "app-x-ro", true},
		{[]string{"app-*-ro"}, "app-x-rw", false},
	}
	for _, tt := range tests {
		if got := roleAllowed(tt.allowed, tt.role); got != tt.want {
			t.Errorf("roleAllowed(%q, %q) = %v, want %v", tt.allowed, tt.role, got, tt.want)
		}
	}
}

func TestUsernameLimits(t *testing.T) {
	tests := []struct {
		plugin  string
		prefix  string
		maxLen  int
		display string
	}{
		{"postgresql-database-plugin", "v-token-al-myrole-l", 63, "token-alice"},
		{"mysql-database-plugin", "v-token-alic-myrole-lon", 32, "token-alice"},
		{"mysql-legacy-database-plugin", "v-myro-", 16, "token-alice"},
		{"mysql-rds-database-plugin", "v-myro-", 16, "token-alice"},
		{"mysql-aurora-database-plugin", "v-myro-", 16, "token-alice"},
	}
	for _, tt := range tests {
		t.Run(tt.plugin, func(t *testing.T) {
			h := newHarness(t)
			url := "{{username}}:{{password}}@tcp(127.0.0.1:1)/"
			if tt.plugin == "postgresql-database-plugin" {
				url = "postgres://127.0.0.1:1/db"
			}
			h.ok(logical.UpdateOperation, "config/db", map[string]interface{}{
				"plugin_name": tt.plugin, "verify_connection": false, "connection_url": url,
			})
			conn, err := h.b.getConn(context.Background(), h.s, "db")
			if err != nil {
				t.Fatal(err)
			}
			u, err := conn.newUsername(tt.display, "myrole-long-name-that-is-long")
			if err != nil {
				t.Fatal(err)
			}
			if len(u) > tt.maxLen || !strings.HasPrefix(u, tt.prefix) {
				t.Fatalf("username %q (len %d): want prefix %q and at most %d characters", u, len(u), tt.prefix, tt.maxLen)
			}
		})
	}
}

func TestUsernameTemplateOverrideAndTruncation(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "config/db", map[string]interface{}{
		"plugin_name": "mysql-database-plugin", "verify_connection": false, "connection_url": "{{username}}:{{password}}@tcp(127.0.0.1:1)/",
		"username_template": `{{.RoleName | uppercase}}_{{.DisplayName | replace "-" "_"}}_0123456789012345678901234567890123456789`,
	})
	conn, err := h.b.getConn(context.Background(), h.s, "db")
	if err != nil {
		t.Fatal(err)
	}
	u, err := conn.newUsername("token-x", "ro")
	if err != nil {
		t.Fatal(err)
	}
	if u != "RO_token_x_012345678901234567890" {
		t.Fatalf("username = %q", u)
	}
	h.ok(logical.UpdateOperation, "config/db", map[string]interface{}{"verify_connection": false, "username_template": `{{.RoleName}}'x`})
	conn, _ = h.b.getConn(context.Background(), h.s, "db")
	if _, err := conn.newUsername("t", "r"); err == nil || !strings.Contains(err.Error(), "quote") {
		t.Fatalf("a username with a quote was accepted: %v", err)
	}
}
