package database

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const (
	pgServer    = "127.0.0.1:5432"
	mysqlServer = "127.0.0.1:3306"
)

// fakeSystem is the SystemView the tests hand to the engine.
type fakeSystem struct {
	def, max time.Duration
	mu       sync.Mutex
	policies []string // names asked for, in order
}

func (s *fakeSystem) DefaultLeaseTTL() time.Duration { return s.def }
func (s *fakeSystem) MaxLeaseTTL() time.Duration     { return s.max }
func (s *fakeSystem) GeneratePasswordFromPolicy(_ context.Context, name string) (string, error) {
	s.mu.Lock()
	s.policies = append(s.policies, name)
	s.mu.Unlock()
	if name == "broken" {
		return "", errors.New("no such password policy")
	}
	return "Pw-" + randHex(10), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fakeClock is a settable clock for TTL and rotation tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness drives one engine over one storage view.
type harness struct {
	t   testing.TB
	b   *Backend
	s   *logical.InmemStorage
	sys *fakeSystem
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessOn(t, logical.NewInmemStorage())
}

func newHarnessOn(t testing.TB, s *logical.InmemStorage) *harness {
	t.Helper()
	sys := &fakeSystem{def: time.Hour, max: 24 * time.Hour}
	lb, err := Factory(context.Background(), &logical.BackendConfig{StorageView: s, System: sys})
	if err != nil {
		t.Fatalf("Factory: %v", err)
	}
	b := lb.(*Backend)
	t.Cleanup(func() { b.Cleanup(context.Background()) })
	return &harness{t: t, b: b, s: s, sys: sys}
}

func (h *harness) do(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
	return h.b.HandleRequest(context.Background(), &logical.Request{
		Operation: op, Path: path, Data: data, Storage: h.s, DisplayName: "token",
	})
}

func (h *harness) ok(op logical.Operation, path string, data map[string]interface{}) *logical.Response {
	h.t.Helper()
	resp, err := h.do(op, path, data)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	return resp
}

// fail sends a request that must fail with a 400 whose text contains want.
func (h *harness) fail(op logical.Operation, path string, data map[string]interface{}, want string) error {
	h.t.Helper()
	_, err := h.do(op, path, data)
	if err == nil {
		h.t.Fatalf("%s %s: expected an error containing %q", op, path, want)
	}
	if !errors.Is(err, logical.ErrInvalidRequest) {
		h.t.Fatalf("%s %s: error %q is not a 400", op, path, err)
	}
	if !strings.Contains(err.Error(), want) {
		h.t.Fatalf("%s %s: error %q does not contain %q", op, path, err, want)
	}
	return err
}

// creds reads credentials and does what the core does once the lease is
// stored: stamp the issue time and drop the write-ahead record.
func (h *harness) creds(role string) (username, password string, secret *logical.Secret) {
	h.t.Helper()
	resp := h.ok(logical.ReadOperation, "creds/"+role, nil)
	if resp == nil || resp.Secret == nil {
		h.t.Fatalf("creds/%s: no secret in %#v", role, resp)
	}
	username, _ = resp.Data["username"].(string)
	password, _ = resp.Data["password"].(string)
	if username == "" || password == "" {
		h.t.Fatalf("creds/%s: empty credentials %#v", role, resp.Data)
	}
	secret = resp.Secret
	secret.IssueTime = h.b.now()
	walID, _ := secret.InternalData[framework.WALInternalKey].(string)
	if walID == "" {
		h.t.Fatalf("creds/%s: no write-ahead record id in the secret", role)
	}
	if err := framework.DeleteWAL(context.Background(), h.s, walID); err != nil {
		h.t.Fatal(err)
	}
	return username, password, secret
}

func (h *harness) revoke(secret *logical.Secret) error {
	_, err := h.b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.RevokeOperation, Secret: secret, Storage: h.s,
	})
	return err
}

func (h *harness) renew(secret *logical.Secret, increment time.Duration) (*logical.Response, error) {
	s := *secret
	s.Increment = increment
	return h.b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.RenewOperation, Secret: &s, Storage: h.s,
	})
}

func (h *harness) rollback() error {
	_, err := h.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.RollbackOperation, Storage: h.s})
	return err
}

// wals lists the stored write-ahead records.
func (h *harness) wals() []string {
	h.t.Helper()
	ids, err := framework.ListWAL(context.Background(), h.s)
	if err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// testDB is a scratch database on a real server, dropped with every user
// the test made when the test ends.
type testDB struct {
	t     testing.TB
	kind  string // "pg" or "mysql"
	name  string
	tag   string  // appears in every username the test's templates make
	admin *sql.DB // superuser connection to the scratch database

	// scram is true when pg_hba makes members of coffer_scram log in
	// with scram-sha-256 (scripts/setup-pg-scram.sh), so passwords are
	// really checked for them.
	scram bool

	mu    sync.Mutex
	users []string
}

// track registers a user to drop at cleanup.
func (d *testDB) track(user string) {
	d.mu.Lock()
	d.users = append(d.users, user)
	d.mu.Unlock()
}

func (d *testDB) exec(q string, args ...interface{}) {
	d.t.Helper()
	if _, err := d.admin.Exec(q, args...); err != nil {
		d.t.Fatalf("%s: %v", q, err)
	}
}

// usernameTemplate names users with the test's tag so cleanup finds them.
func (d *testDB) usernameTemplate() string {
	return fmt.Sprintf(`{{ printf "v-%%s-%s-%%s" (.RoleName | truncate 6) (random 8) }}`, d.tag)
}

// userExists checks the server's catalog.
func (d *testDB) userExists(user string) bool {
	d.t.Helper()
	q := "SELECT count(*) FROM pg_roles WHERE rolname = $1"
	if d.kind == "mysql" {
		q = "SELECT count(*) FROM mysql.user WHERE User = ?"
	}
	var n int
	if err := d.admin.QueryRow(q, user).Scan(&n); err != nil {
		d.t.Fatal(err)
	}
	return n > 0
}

// taggedUsers lists the server's users carrying the test's tag.
func (d *testDB) taggedUsers() []string {
	d.t.Helper()
	q := "SELECT rolname FROM pg_roles WHERE rolname LIKE $1"
	if d.kind == "mysql" {
		q = "SELECT DISTINCT User FROM mysql.user WHERE User LIKE ?"
	}
	rows, err := d.admin.Query(q, "%"+d.tag+"%")
	if err != nil {
		d.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			d.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func openOrSkip(t testing.TB, driver, dsn, what string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		t.Skipf("%s is not reachable (%v); run scripts/test-deps.sh", what, err)
	}
	return db
}

// newPGDB creates a scratch PostgreSQL database.
func newPGDB(t testing.TB) *testDB {
	t.Helper()
	root := openOrSkip(t, "pgx", "postgres://postgres@"+pgServer+"/postgres?sslmode=disable", "PostgreSQL at "+pgServer)
	tag := randHex(3)
	d := &testDB{t: t, kind: "pg", name: "coffer_test_" + tag, tag: tag}
	if _, err := root.Exec("CREATE DATABASE " + d.name); err != nil {
		t.Fatal(err)
	}
	d.admin = openOrSkip(t, "pgx", "postgres://postgres@"+pgServer+"/"+d.name+"?sslmode=disable", "PostgreSQL")
	_ = root.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coffer_scram')
		AND EXISTS (SELECT 1 FROM pg_hba_file_rules WHERE '+coffer_scram' = ANY(user_name)
			AND auth_method = 'scram-sha-256' AND error IS NULL)`).Scan(&d.scram)
	t.Cleanup(func() {
		_ = d.admin.Close()
		if _, err := root.Exec("DROP DATABASE IF EXISTS " + d.name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", d.name, err)
		}
		rows, err := root.Query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1 OR rolname = ANY($2)", "%"+tag+"%", d.users)
		if err == nil {
			var names []string
			for rows.Next() {
				var s string
				if rows.Scan(&s) == nil {
					names = append(names, s)
				}
			}
			_ = rows.Close()
			for _, n := range names {
				q := `"` + strings.ReplaceAll(n, `"`, `""`) + `"`
				_, _ = root.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", n)
				if _, err := root.Exec("DROP ROLE IF EXISTS " + q); err != nil {
					_, _ = root.Exec("DROP OWNED BY " + q)
					if _, err := root.Exec("DROP ROLE IF EXISTS " + q); err != nil {
						t.Errorf("drop role %s: %v", n, err)
					}
				}
			}
		}
		_ = root.Close()
	})
	return d
}

// pgURL is a templated connection URL for the scratch database.
func (d *testDB) pgURL() string {
	return "postgres://{{username}}:{{password}}@" + pgServer + "/" + d.name + "?sslmode=disable"
}

// newMySQLDB creates a scratch MariaDB/MySQL database.
func newMySQLDB(t testing.TB) *testDB {
	t.Helper()
	root := openOrSkip(t, "mysql", "root@tcp("+mysqlServer+")/", "MariaDB at "+mysqlServer)
	tag := randHex(3)
	d := &testDB{t: t, kind: "mysql", name: "coffer_test_" + tag, tag: tag}
	if _, err := root.Exec("CREATE DATABASE " + d.name); err != nil {
		t.Fatal(err)
	}
	d.admin = openOrSkip(t, "mysql", "root@tcp("+mysqlServer+")/"+d.name, "MariaDB")
	t.Cleanup(func() {
		_ = d.admin.Close()
		if _, err := root.Exec("DROP DATABASE IF EXISTS " + d.name); err != nil {
			t.Errorf("drop database %s: %v", d.name, err)
		}
		rows, err := root.Query("SELECT User, Host FROM mysql.user WHERE User LIKE ?", "%"+tag+"%")
		var accounts [][2]string
		if err == nil {
			for rows.Next() {
				var a [2]string
				if rows.Scan(&a[0], &a[1]) == nil {
					accounts = append(accounts, a)
				}
			}
			_ = rows.Close()
		}
		for _, u := range d.users {
			accounts = append(accounts, [2]string{u, "%"})
		}
		for _, a := range accounts {
			if _, err := root.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", a[0], a[1])); err != nil {
				t.Errorf("drop user %s@%s: %v", a[0], a[1], err)
			}
		}
		_ = root.Close()
	})
	return d
}

// mysqlURL is a templated connection URL for the scratch database.
func (d *testDB) mysqlURL() string {
	return "{{username}}:{{password}}@tcp(" + mysqlServer + ")/" + d.name
}
