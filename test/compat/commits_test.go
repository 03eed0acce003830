package compat_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// lastIndex reads the leader's applied raft index from the autopilot state.
func lastIndex(t *testing.T, c *api.Client) uint64 {
	t.Helper()
	s, err := c.Logical().Read("sys/storage/raft/autopilot/state")
	if err != nil {
		t.Fatal(err)
	}
	servers, _ := s.Data["servers"].(map[string]interface{})
	for _, v := range servers {
		srv, _ := v.(map[string]interface{})
		if srv["status"] == "leader" {
			n, err := srv["last_index"].(json.Number).Int64()
			if err != nil {
				t.Fatal(err)
			}
			return uint64(n)
		}
	}
	t.Fatalf("no leader in autopilot state %v", s.Data)
	return 0
}

// commitsOf runs op several times and returns the fewest raft entries one
// run added (background work can only add entries, never remove them).
func commitsOf(t *testing.T, c *api.Client, op func(i int) error) uint64 {
	t.Helper()
	least := ^uint64(0)
	for i := range 5 {
		before := lastIndex(t, c)
		if err := op(i); err != nil {
			t.Fatal(err)
		}
		least = min(least, lastIndex(t, c)-before)
	}
	return least
}

// TestOneCommitPerWrite checks on raft storage that the common write
// requests each cost one raft commit: a KV v2 write (new version, metadata
// and the pruned old version), and a login or token creation (token,
// accessor, lease and its index).
func TestOneCommitPerWrite(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir()})
	c := s.Client
	if _, err := c.Logical().Write("secret/config", map[string]interface{}{"max_versions": 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("auth/approle/role/app", map[string]interface{}{"token_ttl": "2m", "token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	rid, err := c.Logical().Read("auth/approle/role/app/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := c.Logical().Write("auth/approle/role/app/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		op   func(i int) error
	}{
		{"kv v2 write with pruning", func(i int) error {
			_, err := c.KVv2("secret").Put(t.Context(), "k", map[string]interface{}{"n": fmt.Sprint(i)})
			return err
		}},
		{"approle login", func(int) error {
			_, err := c.Logical().Write("auth/approle/login", map[string]interface{}{
				"role_id": rid.Data["role_id"], "secret_id": sid.Data["secret_id"]})
			return err
		}},
		{"token create", func(int) error {
			_, err := c.Auth().Token().Create(&api.TokenCreateRequest{TTL: "1h", Policies: []string{"default"}})
			return err
		}},
	}
	for _, tc := range cases {
		if n := commitsOf(t, c, tc.op); n != 1 {
			t.Errorf("%s: %d raft commits, want 1", tc.name, n)
		}
	}

	// Database credentials: the lease, stored while the statements run
	// and before the user can be committed (it is the write-ahead record).
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, pgAdminURL)
	if err != nil {
		t.Fatalf("PostgreSQL at 127.0.0.1:5432 is needed (make test starts it): %v", err)
	}
	defer admin.Close(ctx)
	if err := c.Sys().Mount("database", &api.MountInput{Type: "database"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/config/pg", map[string]interface{}{
		"plugin_name": "postgresql-database-plugin", "allowed_roles": "*",
		"connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
		"username":       "postgres", "password": "unused-with-trust",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/roles/ro", map[string]interface{}{
		"db_name": "pg", "default_ttl": "1h",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
	}); err != nil {
		t.Fatal(err)
	}
	var leases []string
	if n := commitsOf(t, c, func(int) error {
		sec, err := c.Logical().Read("database/creds/ro")
		if err == nil {
			leases = append(leases, sec.LeaseID)
		}
		return err
	}); n != 1 {
		t.Errorf("database creds: %d raft commits, want 1", n)
	}
	for _, id := range leases {
		if err := c.Sys().Revoke(id); err != nil {
			t.Fatal(err)
		}
	}

	// Revoking a token: marked revoked first (it stops working before
	// its leases go), then its lease, then its entry and indexes.
	if n := commitsOf(t, c, func(int) error {
		sec, err := c.Auth().Token().Create(&api.TokenCreateRequest{TTL: "1h", Policies: []string{"default"}})
		if err != nil {
			return err
		}
		return c.Auth().Token().RevokeAccessor(sec.Auth.Accessor)
	}); n != 1+3 {
		t.Errorf("token create and revoke: %d raft commits, want 1+3", n)
	}
}
