package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, url, user, pw string
		wantUser, wantPW    string
		wantDB, wantHost    string
	}{
		{"url form", "postgres://{{username}}:{{password}}@db.example:5433/app?sslmode=disable", "admin", "p@ss:/ w'rd",
			"admin", "p@ss:/ w'rd", "app", "db.example"},
		{"key/value form", "host=h user={{username}} password={{password}} dbname=d sslmode=disable", "adm", "with space'",
			"adm", "with space'", "d", "h"},
		{"literal credentials", "postgres://lit:secret@h/d?sslmode=disable", "ignored", "ignored", "lit", "secret", "d", "h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(dbplugin.ConnectionConfig{ConnectionURL: tt.url, Username: tt.user, Password: tt.pw})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.User != tt.wantUser || cfg.Password != tt.wantPW || cfg.Database != tt.wantDB || cfg.Host != tt.wantHost {
				t.Fatalf("got user %q pw %q db %q host %q", cfg.User, cfg.Password, cfg.Database, cfg.Host)
			}
			if cfg.ConnectTimeout != defaultConnTimeout {
				t.Fatalf("connect timeout %v", cfg.ConnectTimeout)
			}
		})
	}
}

func TestInitializeRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  dbplugin.ConnectionConfig
		want string
	}{
		{"empty url", dbplugin.ConnectionConfig{}, "connection_url cannot be empty"},
		{"template in password", dbplugin.ConnectionConfig{ConnectionURL: "postgres://h/d", Password: "{{password}}"}, "cannot contain the template"},
		{"bad auth", dbplugin.ConnectionConfig{ConnectionURL: "postgres://h/d", PasswordAuthentication: "md5"}, `"md5" is not a valid password_authentication`},
		{"bad url", dbplugin.ConnectionConfig{ConnectionURL: "postgres://{{username}}:{{password}}@h:port/d", Password: "topsecret"}, "invalid connection_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New().Initialize(context.Background(), dbplugin.InitializeRequest{Config: tt.cfg})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "topsecret") {
				t.Fatalf("error %v, want %q without the password", err, tt.want)
			}
		})
	}
}

func TestClassifyAndRetryable(t *testing.T) {
	pg := func(code, msg string) error {
		return fmt.Errorf("statement 1: %w", &pgconn.PgError{Code: code, Message: msg})
	}
	tests := []struct {
		name      string
		err       error
		statement bool
		retry     bool
	}{
		{"syntax", pg("42601", "syntax error"), true, false},
		{"missing table", pg("42P01", "relation does not exist"), true, false},
		{"auth", pg("28P01", "password authentication failed"), false, false},
		{"shutdown", pg("57P01", "terminating connection"), false, false},
		{"conflict", pg("XX000", "tuple concurrently updated"), true, true},
		{"other internal", pg("XX000", "cache lookup failed"), true, false},
		{"deadlock", pg("40P01", "deadlock detected"), true, true},
		{"network", errors.New("dial tcp: connection refused"), false, false},
		{"connect", connectError(t), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err, nil)
			var se *dbplugin.StatementError
			var ce *dbplugin.ConnectionError
			if errors.As(err, &se) != tt.statement || errors.As(err, &ce) == tt.statement {
				t.Fatalf("classify(%v) = %T", tt.err, err)
			}
			if retryable(tt.err) != tt.retry {
				t.Fatalf("retryable(%v) = %v", tt.err, !tt.retry)
			}
		})
	}
	if msg := classify(errors.New("bad pw hunter22"), []string{"hunter22"}).Error(); strings.Contains(msg, "hunter22") {
		t.Fatalf("classify does not scrub: %s", msg)
	}
}

// connectError returns a real *pgconn.ConnectError (a closed port).
func connectError(t *testing.T) error {
	_, err := pgconn.Connect(context.Background(), "postgres://u@127.0.0.1:1/db?connect_timeout=2")
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("connecting to a closed port gave %T: %v", err, err)
	}
	return err
}

func TestSCRAMVerifier(t *testing.T) {
	v, err := SCRAMVerifier("pencil", strings.NewReader("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$") {
		t.Fatalf("verifier %q", v)
	}
	if !SCRAMVerifierMatches(v, "pencil") || SCRAMVerifierMatches(v, "pencils") {
		t.Fatal("verifier round trip")
	}
	for _, bad := range []string{"", "md5abc", "SCRAM-SHA-256$x:AA==$AA==:AA==", "SCRAM-SHA-256$4096:!!$AA==:AA=="} {
		if SCRAMVerifierMatches(bad, "pencil") {
			t.Fatalf("malformed verifier %q matched", bad)
		}
	}
	v2, _ := SCRAMVerifier("pencil", nil)
	if v2 == v {
		t.Fatal("salts are not random")
	}
}

// PostgreSQL's own verifier must be accepted by our check, and ours by
// PostgreSQL (it stores a verifier given as the password as is).
func TestSCRAMAgainstServer(t *testing.T) {
	db, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Skipf("PostgreSQL is not reachable: %v", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	role := fmt.Sprintf("coffer_scram_probe_%d", time.Now().UnixNano())
	if _, err := conn.ExecContext(ctx, "SET password_encryption = 'scram-sha-256'"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `CREATE ROLE `+role+` PASSWORD 'server-side'`); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = db.Exec("DROP ROLE IF EXISTS " + role) }()
	var stored string
	if err := conn.QueryRowContext(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !SCRAMVerifierMatches(stored, "server-side") || SCRAMVerifierMatches(stored, "other") {
		t.Fatalf("the server's verifier %q does not check out", stored)
	}
	ours, err := SCRAMVerifier("client-side", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `ALTER ROLE `+role+` PASSWORD '`+ours+`'`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != ours {
		t.Fatalf("the server re-hashed our verifier: %q", stored)
	}
}

func TestPoolLimits(t *testing.T) {
	for _, tt := range []struct{ open, idle, wantOpen int }{{0, 0, 4}, {9, 0, 9}, {3, 10, 3}} {
		d := New()
		_, err := d.Initialize(context.Background(), dbplugin.InitializeRequest{Config: dbplugin.ConnectionConfig{
			ConnectionURL: "postgres://127.0.0.1:1/x", MaxOpenConnections: tt.open, MaxIdleConnections: tt.idle,
		}})
		if err != nil {
			t.Fatal(err)
		}
		db, _, err := d.pool()
		if err != nil {
			t.Fatal(err)
		}
		if got := db.Stats().MaxOpenConnections; got != tt.wantOpen {
			t.Fatalf("max_open_connections %d gave %d, want %d", tt.open, got, tt.wantOpen)
		}
		_ = d.Close()
	}
}
