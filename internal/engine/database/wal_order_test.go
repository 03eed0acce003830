package database

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// walGate is storage whose write-ahead record puts wait for release (or
// fail), to watch what the database holds meanwhile.
type walGate struct {
	*logical.InmemStorage
	entered chan struct{}
	release chan struct{}
	fail    bool
}

func newWALGate(s *logical.InmemStorage, fail bool) *walGate {
	return &walGate{InmemStorage: s, entered: make(chan struct{}, 1), release: make(chan struct{}), fail: fail}
}

func (g *walGate) Put(ctx context.Context, e *logical.StorageEntry) error {
	if strings.HasPrefix(e.Key, "wal/") {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.release
		if g.fail {
			return errors.New("disk full")
		}
	}
	return g.InmemStorage.Put(ctx, e)
}

func (g *walGate) creds(h *harness, role string) chan error {
	done := make(chan error, 1)
	go func() {
		_, err := h.b.HandleRequest(context.Background(), &logical.Request{
			Operation: logical.ReadOperation, Path: "creds/" + role, Storage: g, DisplayName: "token"})
		done <- err
	}()
	return done
}

// TestPostgresUserCommitsAfterItsRecord: the creation statements run while
// the write-ahead record is being stored, but the transaction commits only
// once it is; if it cannot be stored, no user is left behind.
func TestPostgresUserCommitsAfterItsRecord(t *testing.T) {
	h, d := pgHarness(t)
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
		"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
	})

	g := newWALGate(h.s, false)
	done := g.creds(h, "app")
	<-g.entered
	// Wait until the statements have run and the transaction waits to
	// commit.
	for {
		var n int
		if err := d.admin.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if users := d.taggedUsers(); len(users) != 0 {
			t.Fatalf("users %v committed before their record was stored", users)
		}
		select {
		case err := <-done:
			t.Fatalf("creds finished before the record was stored: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if users := d.taggedUsers(); len(users) != 0 {
		t.Fatalf("users %v visible before their record was stored", users)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if users := d.taggedUsers(); len(users) != 1 {
		t.Fatalf("users after creds: %v", users)
	}

	failing := newWALGate(h.s, true)
	done = failing.creds(h, "app")
	<-failing.entered
	close(failing.release)
	if err := <-done; err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("creds with a failing record store = %v", err)
	}
	if users := d.taggedUsers(); len(users) != 1 {
		t.Fatalf("a user was left without its record: %v", users)
	}
}

// TestMySQLUserWaitsForItsRecord: MySQL commits CREATE USER at once, so no
// statement runs before the record is stored.
func TestMySQLUserWaitsForItsRecord(t *testing.T) {
	h, d := mysqlHarness(t)
	h.ok(logical.UpdateOperation, "roles/app", map[string]interface{}{
		"db_name": "my", "creation_statements": `CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';`,
	})
	failing := newWALGate(h.s, true)
	done := failing.creds(h, "app")
	<-failing.entered
	// Nothing may reach the server while the record is pending: watch for
	// a while (a statement run now would show within milliseconds).
	for range 40 {
		if users := d.taggedUsers(); len(users) != 0 {
			t.Fatalf("user %v created before its record was stored", users)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(failing.release)
	if err := <-done; err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("creds with a failing record store = %v", err)
	}
	if users := d.taggedUsers(); len(users) != 0 {
		t.Fatalf("a user was created without its record: %v", users)
	}
	g := newWALGate(h.s, false)
	close(g.release)
	if err := <-g.creds(h, "app"); err != nil {
		t.Fatal(err)
	}
	if users := d.taggedUsers(); len(users) != 1 {
		t.Fatalf("users after creds: %v", users)
	}
}
