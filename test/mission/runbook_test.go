// Package mission runs the operator runbook our users follow with Vault
// (the dynamic secrets runbook) against Coffer, through the `vault`
// command name, with real PostgreSQL and MariaDB servers and the in-test
// AWS endpoint.
package mission_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/awstest"
	"github.com/coffer-dev/coffer/internal/testserver"
)

const (
	pgAdmin    = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	mysqlAdmin = "root@tcp(127.0.0.1:3306)/"
	dbPassword = "initial-admin-password-1"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func buildBinary(t *testing.T) string {
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "coffer"), "./cmd/coffer")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Symlink("coffer", filepath.Join(dir, "vault")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func execSQL(t *testing.T, driver, dsn string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	if driver == "pgx" {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("PostgreSQL (make test starts it): %v", err)
		}
		defer c.Close(ctx)
		for _, s := range stmts {
			if _, err := c.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("MariaDB (make test starts it): %s: %v", s, err)
		}
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestOperatorRunbook(t *testing.T) {
	bin := buildBinary(t)
	work := t.TempDir()

	execSQL(t, "pgx", pgAdmin,
		"DROP DATABASE IF EXISTS appdb WITH (FORCE)", "DROP ROLE IF EXISTS vault_admin",
		"CREATE ROLE vault_admin WITH LOGIN CREATEROLE PASSWORD '"+dbPassword+"'",
		"CREATE DATABASE appdb OWNER vault_admin")
	execSQL(t, "pgx", strings.Replace(pgAdmin, "/postgres?", "/appdb?", 1),
		"SET ROLE vault_admin", "CREATE TABLE orders (id int)", "INSERT INTO orders VALUES (1)")
	execSQL(t, "mysql", mysqlAdmin,
		"DROP USER IF EXISTS 'vault_admin'@'%'", "CREATE DATABASE IF NOT EXISTS appdb",
		"CREATE USER 'vault_admin'@'%' IDENTIFIED BY '"+dbPassword+"'",
		"GRANT ALL PRIVILEGES ON *.* TO 'vault_admin'@'%' WITH GRANT OPTION")
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pgAdmin)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS appdb WITH (FORCE)")
			c.Close(context.Background())
		}
	})

	aws := awstest.NewServer(t)
	tlsFiles := testserver.WriteTLSFiles(t, work)
	// The cluster port gets an address of its own: the default, the API
	// port plus one, may be another test's.
	addr, clusterAddr := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf(`
storage "raft" {
  path    = %q
  node_id = "vault-1"
}
listener "tcp" {
  address         = %q
  cluster_address = %q
  tls_cert_file   = %q
  tls_key_file    = %q
}
seal "awskms" {
  region     = "us-east-1"
  kms_key_id = %q
  endpoint   = %q
}
api_addr      = "https://%s"
disable_mlock = true
telemetry {
  prometheus_retention_time = "24h"
  disable_hostname          = true
}
ui = true
`, filepath.Join(work, "data"), addr, clusterAddr, tlsFiles.CertFile, tlsFiles.KeyFile, aws.KeyID, aws.URL, addr)
	cfgPath := filepath.Join(work, "vault-config.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"PATH="+bin+":"+os.Getenv("PATH"), "HOME="+work,
		"VAULT_ADDR=https://"+addr, "VAULT_CACERT="+tlsFiles.CAFile,
		"AWS_ACCESS_KEY_ID="+aws.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+aws.SecretAccessKey,
	)
	srv := exec.Command(filepath.Join(bin, "vault"), "server", "-config="+cfgPath)
	srv.Env = env
	logs, _ := os.Create(filepath.Join(work, "server.log"))
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_, _ = srv.Process.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := exec.Command(filepath.Join(bin, "vault"), "status")
		c.Env = env
		if err := c.Run(); err == nil || c.ProcessState.ExitCode() == 2 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(work, "server.log"))
			t.Fatalf("server did not start:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	run := exec.Command("bash", filepath.Join(repoRoot(), "test", "mission", "runbook.sh"))
	run.Env = append(env,
		"WORK="+work, "AUDIT_LOG="+filepath.Join(work, "audit.log"),
		"PG_URL_HOSTPORT=127.0.0.1:5432", "MYSQL_HOSTPORT=127.0.0.1:3306",
		"AWS_IAM_ENDPOINT="+aws.URL, "AWS_ACCESS="+aws.AccessKeyID, "AWS_SECRET="+aws.SecretAccessKey,
		"VAULT_DB_PASSWORD="+dbPassword, "VAULT_MYSQL_PASSWORD="+dbPassword,
	)
	out, err := run.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RUNBOOK-OK") {
		b, _ := os.ReadFile(filepath.Join(work, "server.log"))
		t.Fatalf("runbook failed: %v\n--- output ---\n%s\n--- server log (tail) ---\n%s", err, out, tail(string(b), 4000))
	}

	// What the runbook produced works.
	var pg, my struct {
		Data struct{ Username, Password string } `json:"data"`
	}
	readJSON(t, filepath.Join(work, "pg-creds.json"), &pg)
	readJSON(t, filepath.Join(work, "mysql-creds.json"), &my)
	// The PostgreSQL lease was revoked by revoke-prefix: its role is gone.
	c, err := pgx.Connect(context.Background(), pgAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	// `lease revoke -prefix` queues the revocations (as Vault does without -sync).
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var n int
		if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", pg.Data.Username).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL role %s still exists 15s after revoke-prefix", pg.Data.Username)
		}
	}
	// The old admin password was rotated away.
	if c2, err := pgx.Connect(context.Background(), "postgres://vault_admin:"+dbPassword+"@127.0.0.1:5432/appdb?sslmode=disable"); err == nil {
		c2.Close(context.Background())
		// trust authentication accepts any password on this machine; only
		// check the stored password changed when password auth is enforced.
	}
	db, err := sql.Open("mysql", my.Data.Username+":"+my.Data.Password+"@tcp(127.0.0.1:3306)/appdb")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("MySQL login with the generated credentials: %v", err)
	}
	db.Close()
	var report struct {
		Data map[string]interface{} `json:"data"`
	}
	readJSON(t, filepath.Join(work, "report.json"), &report)
	text, _ := report.Data["text"].(string)
	for _, want := range []string{"Seal Type: AWS KMS (auto-unseal)", "PostgreSQL (production-postgres)", "MySQL (production-mysql)", "database/creds/app-readonly"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		verifyChain(t, work)
	}
	// Clean up the MySQL user through the server.
	cl := exec.Command(filepath.Join(bin, "vault"), "lease", "revoke", "-prefix", "database/creds/mysql-readonly")
	init := map[string]interface{}{}
	readJSON(t, filepath.Join(work, "init.json"), &init)
	cl.Env = append(env, "VAULT_TOKEN="+init["root_token"].(string))
	if out, err := cl.CombinedOutput(); err != nil {
		t.Fatalf("revoke mysql leases: %v %s", err, out)
	}
}

func verifyChain(t *testing.T, work string) {
	var leaf struct {
		Data struct {
			Certificate string   `json:"certificate"`
			IssuingCA   string   `json:"issuing_ca"`
			CAChain     []string `json:"ca_chain"`
		} `json:"data"`
	}
	readJSON(t, filepath.Join(work, "leaf.json"), &leaf)
	if err := os.WriteFile(filepath.Join(work, "leaf.pem"), []byte(leaf.Data.Certificate+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := leaf.Data.CAChain[len(leaf.Data.CAChain)-1]
	_ = os.WriteFile(filepath.Join(work, "root.pem"), []byte(root+"\n"), 0o600)
	_ = os.WriteFile(filepath.Join(work, "int.pem"), []byte(leaf.Data.IssuingCA+"\n"), 0o600)
	out, err := exec.Command("openssl", "verify", "-CAfile", filepath.Join(work, "root.pem"), "-untrusted", filepath.Join(work, "int.pem"), filepath.Join(work, "leaf.pem")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify: %v %s", err, out)
	}
}

func readJSON(t *testing.T, path string, v interface{}) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
