package compat_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestLeaseCountQuotaStopsRoleCreation: with a lease-count quota on the
// credentials path, concurrent requests create exactly the allowed number
// of PostgreSQL roles and nothing more.
func TestLeaseCountQuotaStopsRoleCreation(t *testing.T) {
	f := setup(t, "1h", "2h")
	c := f.s.Client
	if _, err := c.Logical().Write("sys/quotas/lease-count/app-readonly", map[string]interface{}{
		"path": "database/creds/app-readonly", "max_leases": 3,
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var users []string
	refused := 0
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sec, err := c.Logical().Read("database/creds/app-readonly")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				users = append(users, sec.Data["username"].(string))
			case strings.Contains(err.Error(), "lease count quota exceeded"):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(users) != 3 || refused != 9 {
		t.Fatalf("issued %d, refused %d; want 3 and 9", len(users), refused)
	}
	pg, err := pgx.Connect(context.Background(), pgAdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	// The three issued users exist; the refused requests never reached
	// the database (the quota is checked before the engine runs).
	var count int
	if err := pg.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = ANY($1)", users).Scan(&count); err != nil || count != 3 {
		t.Fatalf("issued roles present: %d %v", count, err)
	}
	appdb, err := pgx.Connect(context.Background(), strings.Replace(pgAdminURL, "/postgres?", "/"+f.db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer appdb.Close(context.Background())
	var granted int
	if err := appdb.QueryRow(context.Background(), "SELECT count(DISTINCT grantee) FROM information_schema.role_table_grants WHERE table_name = 'orders' AND grantee <> 'postgres'").Scan(&granted); err != nil || granted != 3 {
		t.Fatalf("roles with grants on the database: %d %v; want exactly the 3 issued", granted, err)
	}
	// Revoking one frees a slot.
	if _, err := c.Logical().Write("sys/leases/revoke-prefix/database/creds/app-readonly", map[string]interface{}{"sync": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Read("database/creds/app-readonly"); err != nil {
		t.Fatalf("after revoking, a new credential should fit: %v", err)
	}
}
