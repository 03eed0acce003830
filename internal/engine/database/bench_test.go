package database

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
	"github.com/coffer-dev/coffer/internal/logical"
)

const benchClients = 8

// timedDriver measures the time spent inside the driver (the database).
type timedDriver struct {
	dbplugin.Driver
	nanos atomic.Int64
}

func (d *timedDriver) NewUser(ctx context.Context, req dbplugin.NewUserRequest) (dbplugin.NewUserResponse, error) {
	start := time.Now()
	defer func() { d.nanos.Add(int64(time.Since(start))) }()
	return d.Driver.NewUser(ctx, req)
}

func (d *timedDriver) DeleteUser(ctx context.Context, req dbplugin.DeleteUserRequest) (dbplugin.DeleteUserResponse, error) {
	start := time.Now()
	defer func() { d.nanos.Add(int64(time.Since(start))) }()
	return d.Driver.DeleteUser(ctx, req)
}

// timeDriver wraps a configured connection's driver with timedDriver.
func timeDriver(b *testing.B, h *harness, name string) *timedDriver {
	conn, err := h.b.getConn(context.Background(), h.s, name)
	if err != nil {
		b.Fatal(err)
	}
	td := &timedDriver{Driver: conn.driver}
	conn.driver = td
	return td
}

// parallel runs fn n times from benchClients goroutines.
func parallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < benchClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func issue(b *testing.B, h *harness, n int) []*logical.Secret {
	secrets := make([]*logical.Secret, n)
	parallel(n, func(i int) {
		resp, err := h.do(logical.ReadOperation, "creds/bench", nil)
		if err != nil {
			b.Error(err)
			return
		}
		secrets[i] = resp.Secret
	})
	if b.Failed() {
		b.FailNow()
	}
	return secrets
}

func revokeAll(b *testing.B, h *harness, secrets []*logical.Secret) {
	parallel(len(secrets), func(i int) {
		if secrets[i] != nil {
			if err := h.revoke(secrets[i]); err != nil {
				b.Error(err)
			}
		}
	})
}

func benchCreds(b *testing.B, h *harness, db string) {
	td := timeDriver(b, h, db)
	b.ResetTimer()
	start := time.Now()
	secrets := issue(b, h, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creds/s")
	b.ReportMetric(100*float64(td.nanos.Load())/float64(elapsed.Nanoseconds()*benchClients), "%db-time")
	revokeAll(b, h, secrets)
}

// pgBenchRole configures role "bench". With a group role (the usual
// practice) users get their privileges by membership; with direct grants
// every user is added to the table's ACL, whose concurrent updates
// PostgreSQL turns into "tuple concurrently updated" conflicts that the
// driver retries (and whose size caps the number of live users at a few
// thousand per table).
func pgBenchRole(b *testing.B, h *harness, d *testDB, direct bool) {
	h.ok(logical.UpdateOperation, "config/pg", map[string]interface{}{"max_open_connections": benchClients})
	stmts := `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';
		GRANT SELECT ON items TO "{{name}}";`
	if !direct {
		group := "readers-" + d.tag
		d.exec(`CREATE ROLE "` + group + `" NOLOGIN`)
		d.exec(`GRANT SELECT ON items TO "` + group + `"`)
		stmts = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "` + group + `";`
	}
	h.ok(logical.UpdateOperation, "roles/bench", map[string]interface{}{"db_name": "pg", "creation_statements": stmts})
}

// BenchmarkCredsPostgres issues credentials from 8 concurrent clients
// through HandleRequest against the local PostgreSQL (group role).
func BenchmarkCredsPostgres(b *testing.B) {
	h, d := pgHarness(b)
	pgBenchRole(b, h, d, false)
	benchCreds(b, h, "pg")
}

// BenchmarkCredsPostgresDirectGrant is BenchmarkCredsPostgres with a
// GRANT on the table per user (keep -benchtime below about 2000x).
func BenchmarkCredsPostgresDirectGrant(b *testing.B) {
	h, d := pgHarness(b)
	pgBenchRole(b, h, d, true)
	benchCreds(b, h, "pg")
}

// BenchmarkCredsMySQL issues credentials from 8 concurrent clients
// through HandleRequest against the local MariaDB.
func BenchmarkCredsMySQL(b *testing.B) {
	h, d := mysqlHarness(b)
	h.ok(logical.UpdateOperation, "config/my", map[string]interface{}{"max_open_connections": benchClients})
	h.ok(logical.UpdateOperation, "roles/bench", map[string]interface{}{
		"db_name": "my",
		"creation_statements": "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';" +
			"GRANT SELECT ON " + d.name + ".* TO '{{name}}'@'%';",
	})
	benchCreds(b, h, "my")
}

// BenchmarkRevokePostgres revokes (verified, default revocation) users
// from 8 concurrent workers, as the lease manager's pool does.
func BenchmarkRevokePostgres(b *testing.B) {
	h, d := pgHarness(b)
	pgBenchRole(b, h, d, false)
	secrets := issue(b, h, b.N)
	td := timeDriver(b, h, "pg")
	b.ResetTimer()
	start := time.Now()
	revokeAll(b, h, secrets)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "revokes/s")
	b.ReportMetric(100*float64(td.nanos.Load())/float64(elapsed.Nanoseconds()*benchClients), "%db-time")
	if st := h.b.Stats(); st.CredsRevoked != uint64(b.N) || st.RevocationFallbacks != 0 {
		b.Fatalf("stats = %+v", st)
	}
}
