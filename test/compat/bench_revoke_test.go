package compat_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkBulkRevocation issues 10,000 PostgreSQL credentials
// (COFFER_BENCH_REVOKE_N overrides), revokes them all at once with
// revoke-prefix and reports the time until every lease is gone and no
// generated role is left in PostgreSQL. Run with -benchtime=1x.
func BenchmarkBulkRevocation(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("COFFER_BENCH_REVOKE_N")); err == nil && v > 0 {
		n = v
	}
	f := setupB(b)
	c := f.s.Client
	// Grant through a group role: one table's grant list cannot hold
	// thousands of users (PostgreSQL's row size limit).
	group := "grp_" + f.db
	ctx := context.Background()
	adm, err := pgx.Connect(ctx, strings.Replace(pgAdminURL, "/postgres?", "/"+f.db+"?", 1))
	if err != nil {
		b.Fatal(err)
	}
	defer adm.Close(ctx)
	for _, q := range []string{`CREATE ROLE "` + group + `" NOLOGIN`, `GRANT SELECT ON orders TO "` + group + `"`} {
		if _, err := adm.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		c2, err := pgx.Connect(context.Background(), strings.Replace(pgAdminURL, "/postgres?", "/"+f.db+"?", 1))
		if err == nil {
			_, _ = c2.Exec(context.Background(), `DROP OWNED BY "`+group+`"`)
			_, _ = c2.Exec(context.Background(), `DROP ROLE IF EXISTS "`+group+`"`)
			c2.Close(context.Background())
		}
	})
	if _, err := c.Logical().Write("database/roles/app-readonly", map[string]interface{}{
		"db_name":             "app-pg",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "` + group + `";`,
		"default_ttl":         "1h", "max_ttl": "24h",
	}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		var issued atomic.Int64
		issueStart := time.Now()
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for issued.Add(1) <= int64(n) {
					if _, err := c.Logical().Read("database/creds/app-readonly"); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		issueTime := time.Since(issueStart)
		start := time.Now()
		if _, err := c.Logical().Write("sys/leases/revoke-prefix/database/creds/app-readonly", map[string]interface{}{"sync": false}); err != nil {
			b.Fatal(err)
		}
		pg, err := pgx.Connect(context.Background(), strings.Replace(pgAdminURL, "/postgres?", "/"+f.db+"?", 1))
		if err != nil {
			b.Fatal(err)
		}
		for {
			var left int
			if err := pg.QueryRow(context.Background(), "SELECT count(*) FROM pg_auth_members WHERE roleid = $1::regrole", `"`+group+`"`).Scan(&left); err != nil {
				b.Fatal(err)
			}
			sec, _ := c.Logical().List("sys/leases/lookup/database/creds/app-readonly/")
			if left == 0 && sec == nil {
				break
			}
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("%d roles still present after 10 minutes", left)
			}
			time.Sleep(200 * time.Millisecond)
		}
		elapsed := time.Since(start)
		pg.Close(context.Background())
		b.ReportMetric(elapsed.Seconds(), "s-to-revoke-all")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "revocations/s")
		b.ReportMetric(float64(n)/issueTime.Seconds(), "creds/s-issued")
	}
}
