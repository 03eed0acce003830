package compat_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// TestFailedCreationLeavesNoLease has the creation statements fail after
// the lease was already stored (it is stored while they run): the request
// fails, and neither the lease nor the user survives.
func TestFailedCreationLeavesNoLease(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgAdminURL)
	if err != nil {
		t.Fatalf("PostgreSQL at 127.0.0.1:5432 is needed (make test starts it): %v", err)
	}
	defer admin.Close(ctx)
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if err := c.Sys().Mount("database", &api.MountInput{Type: "database"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/config/pg", map[string]interface{}{
		"plugin_name": "postgresql-database-plugin", "allowed_roles": "*",
		"connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
		"username":       "postgres", "password": "unused-with-trust",
		"username_template": "v-failcase-{{random 12}}",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("database/roles/bad", map[string]interface{}{
		"db_name": "pg", "default_ttl": "1h",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'; SELECT 1/0;`,
	}); err != nil {
		t.Fatal(err)
	}
	sec, err := c.Logical().Read("database/creds/bad")
	if err == nil {
		t.Fatalf("creation with a failing statement succeeded: %v", sec)
	}
	if !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("error %q does not say which statement failed", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		l, err := c.Logical().List("sys/leases/lookup/database/creds/bad/")
		if err != nil {
			t.Fatal(err)
		}
		if l == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed request's lease is still there after 10s: %v", l.Data)
		}
	}
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-failcase-%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d users from the failed creation exist", n)
	}
}
