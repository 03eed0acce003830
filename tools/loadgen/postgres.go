package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// benchDB is the database the postgres workloads create users in. Its
// public schema is empty, as in the common benchmark suite, unless
// -pg-table asks for one table; then every user's "GRANT SELECT ON ALL
// TABLES IN SCHEMA public" updates that table's ACL, concurrent GRANTs
// conflict, and PostgreSQL refuses further grants once the ACL no longer
// fits in its pg_class row (a few thousand grantees).
const benchDB = "coffer_bench"

// pgMaxConns is the database engine's max_open_connections in the
// postgres-creds workload and the pool size of postgres-direct.
const pgMaxConns = 8

// creationStatements are the postgres-creds role's statements.
var creationStatements = []string{
	`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
	`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";`,
}

// benchConfig returns the connection settings for benchDB, creating the
// database when missing and the table when withTable (dropping it
// otherwise).
func benchConfig(ctx context.Context, adminURL string, withTable bool) (*pgx.ConnConfig, error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", benchDB).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up database %s: %w", benchDB, err)
	}
	if !exists {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+benchDB); err != nil {
			return nil, fmt.Errorf("create database %s: %w", benchDB, err)
		}
	}
	cfg := admin.Config().Copy()
	cfg.Database = benchDB
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", benchDB, err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	q := "DROP TABLE IF EXISTS public.bench_items"
	if withTable {
		q = "CREATE TABLE IF NOT EXISTS public.bench_items (id int PRIMARY KEY, name text)"
	}
	if _, err := c.Exec(ctx, q); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", benchDB, err)
	}
	return cfg, nil
}

// dropRoles drops every role whose name contains marker, in batches: the
// privileges the roles hold in benchDB first, then the roles. It returns
// how many it dropped.
func dropRoles(ctx context.Context, cfg *pgx.ConnConfig, marker string) (int, error) {
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", benchDB, err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	rows, err := c.Query(ctx, "SELECT rolname FROM pg_roles WHERE strpos(rolname, $1) > 0", marker)
	if err != nil {
		return 0, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	for start := 0; start < len(names); start += 200 {
		batch := names[start:min(start+200, len(names))]
		quoted := make([]string, len(batch))
		for i, n := range batch {
			quoted[i] = pgx.Identifier{n}.Sanitize()
		}
		list := strings.Join(quoted, ", ")
		if _, err := c.Exec(ctx, "DROP OWNED BY "+list+"; DROP ROLE "+list); err != nil {
			return start, fmt.Errorf("drop roles: %w", err)
		}
	}
	return len(names), nil
}

// setupPostgresCreds mounts the database engine on benchDB with one role
// and reads creds from it. Teardown unmounts (which revokes every lease)
// and then drops whatever users of this run are still there.
func setupPostgresCreds(ctx context.Context, e *env) (*instance, error) {
	cfg, err := benchConfig(ctx, e.pgURL, e.pgTable)
	if err != nil {
		return nil, err
	}
	path, role := "bench-db-"+e.id, "b"+e.id
	inst := &instance{teardown: func(ctx context.Context) error {
		// The database always goes back to how it was, even with -cleanup
		// off, so this mount is always removed.
		unmountErr := e.api.call(ctx, http.MethodDelete, "sys/mounts/"+path, nil, nil)
		n, err := dropRoles(ctx, cfg, role)
		if n > 0 {
			fmt.Fprintf(e.log, "%-16s %d database users were left after the unmount; dropped them\n", "postgres-creds", n)
		}
		return errors.Join(unmountErr, err)
	}}
	if err := e.mount(ctx, path, "database", nil); err != nil {
		return inst, err
	}
	hostPort := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if err := e.api.call(ctx, http.MethodPost, path+"/config/bench", map[string]any{
		"plugin_name":          "postgresql-database-plugin",
		"connection_url":       "postgresql://{{username}}:{{password}}@" + hostPort + "/" + benchDB + "?sslmode=disable",
		"username":             cfg.User,
		"password":             cfg.Password,
		"allowed_roles":        []string{role},
		"max_open_connections": pgMaxConns,
	}, nil); err != nil {
		return inst, fmt.Errorf("configure the connection: %w", err)
	}
	if err := e.api.call(ctx, http.MethodPost, path+"/roles/"+role, map[string]any{
		"db_name":             "bench",
		"creation_statements": creationStatements,
		"default_ttl":         "1h",
		"max_ttl":             "24h",
	}, nil); err != nil {
		return inst, fmt.Errorf("create role: %w", err)
	}
	creds := path + "/creds/" + role
	inst.op = func(ctx context.Context, _ *rand.Rand) error {
		return e.api.send(ctx, http.MethodGet, creds, nil, nil)
	}
	return inst, nil
}

// setupPostgresDirect is the ceiling of postgres-creds: the same creation
// statements, in one transaction per user as the engine runs them, sent
// with pgx over a pool of the same size. Conflicting concurrent GRANTs
// ("tuple concurrently updated") are retried as the engine retries them.
// The users are dropped at teardown, as postgres-creds drops its users
// when its mount is removed.
func setupPostgresDirect(ctx context.Context, e *env) (*instance, error) {
	cfg, err := benchConfig(ctx, e.pgURL, e.pgTable)
	if err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	pcfg.ConnConfig = cfg
	pcfg.MaxConns = pgMaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", benchDB, err)
	}
	marker := "bd_" + e.id + "_"
	inst := &instance{teardown: func(ctx context.Context) error {
		pool.Close()
		_, err := dropRoles(ctx, cfg, marker)
		return err
	}}
	var seq atomic.Int64
	inst.op = func(ctx context.Context, rng *rand.Rand) error {
		name := pgx.Identifier{marker + strconv.FormatInt(seq.Add(1), 10)}.Sanitize()
		password := randomString(rng, 20)
		expiry := time.Now().Add(time.Hour + 5*time.Second).Format("2006-01-02 15:04:05-0700")
		stmts := []string{
			fmt.Sprintf(`CREATE ROLE %s WITH LOGIN PASSWORD '%s' VALID UNTIL '%s'`, name, password, expiry),
			fmt.Sprintf(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s`, name),
		}
		return retryConflicts(ctx, func(locked bool) error { return createInTx(ctx, pool, stmts, locked) })
	}
	return inst, nil
}

// createInTx runs stmts in one transaction; after a conflict the retries
// queue on an advisory lock, as the engine's driver does.
func createInTx(ctx context.Context, pool *pgxpool.Pool, stmts []string, locked bool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if locked {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7301946250183716)"); err != nil {
				return err
			}
		}
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// retryConflicts retries fn on the catalog conflicts PostgreSQL reports
// for concurrent GRANTs, with jittered exponential backoff.
func retryConflicts(ctx context.Context, fn func(locked bool) error) error {
	backoff := time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(attempt > 1)
		if err == nil || attempt >= 30 || !isConflict(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(rand.Int64N(int64(backoff))) + 1):
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

func isConflict(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01":
		return true
	case "XX000":
		return strings.Contains(pe.Message, "tuple concurrently")
	}
	return false
}
