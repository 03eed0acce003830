package ui_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// browserRun runs ui/e2e/run.mjs with the steps against a server and
// returns the JSON of each step's RESULT line.
type browserRun struct {
	t         *testing.T
	node      string
	script    string
	artifacts string
}

func newBrowserRun(t *testing.T) *browserRun {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the console's browser test needs Node.js (scripts/test-deps.sh installs the rest)")
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	script := filepath.Join(repo, "ui", "e2e", "run.mjs")
	if _, err := os.Stat(filepath.Join(repo, "ui", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("ui/node_modules is missing: run scripts/test-deps.sh (npm ci --prefix ui)")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: run scripts/test-deps.sh (apt-get install chromium)", chromium)
	}
	dir := os.Getenv("COFFER_ARTIFACTS")
	if dir != "" {
		dir = filepath.Join(dir, "ui")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		dir = t.TempDir()
	}
	return &browserRun{t: t, node: node, script: script, artifacts: dir}
}

func (b *browserRun) run(url string, env map[string]string, steps ...string) map[string]map[string]interface{} {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.node, append([]string{b.script}, steps...)...)
	cmd.Env = append(os.Environ(), "COFFER_URL="+url, "ARTIFACTS="+b.artifacts)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	b.t.Logf("node run.mjs %s (%s):\n%s", strings.Join(steps, " "), time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		b.t.Fatalf("browser steps failed: %v (screenshots in %s)", err, b.artifacts)
	}
	results := map[string]map[string]interface{}{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "RESULT ")
		if !ok {
			continue
		}
		step, js, _ := strings.Cut(line, " ")
		var v map[string]interface{}
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			b.t.Fatalf("result of %s: %v", step, err)
		}
		results[step] = v
	}
	for _, s := range steps {
		if results[s] == nil {
			b.t.Fatalf("step %s gave no result", s)
		}
	}
	return results
}

func str(m map[string]interface{}, k string) string {
	s, _ := m[k].(string)
	return s
}

const operatorPolicy = `path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }`

// setupAppRole enables AppRole with a role whose tokens carry the
// operator policy, and returns its role_id and a secret_id.
func setupAppRole(t *testing.T, c *api.Client) (roleID, secretID string) {
	t.Helper()
	must(t, c.Sys().PutPolicy("operator", operatorPolicy))
	must(t, c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}))
	_, err := c.Logical().Write("auth/approle/role/console", map[string]interface{}{"token_policies": "operator", "token_ttl": "1h"})
	must(t, err)
	r, err := c.Logical().Read("auth/approle/role/console/role-id")
	must(t, err)
	s, err := c.Logical().Write("auth/approle/role/console/secret-id", nil)
	must(t, err)
	return r.Data["role_id"].(string), s.Data["secret_id"].(string)
}

// setupPostgres configures the database engine for the local PostgreSQL,
// or says why it cannot. With the SCRAM setup of scripts/setup-pg-scram.sh
// the generated users must present their real password.
func setupPostgres(t *testing.T, c *api.Client) (scram bool, skip string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3")
	if err != nil {
		return false, fmt.Sprintf("PostgreSQL on 127.0.0.1:5432 is not reachable (%v); run scripts/test-deps.sh", err)
	}
	defer admin.Close(context.Background())
	var n int
	if admin.QueryRow(ctx, `SELECT count(*) FROM pg_hba_file_rules WHERE '+coffer_scram' = ANY(user_name)
		AND auth_method = 'scram-sha-256' AND error IS NULL`).Scan(&n) == nil && n > 0 {
		scram = true
	}
	if err := c.Sys().Mount("database", &api.MountInput{Type: "database"}); err != nil {
		return false, fmt.Sprintf("the database secrets engine is not available yet: %v", err)
	}
	_, err = c.Logical().Write("database/config/pg", map[string]interface{}{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
		"username":       "postgres",
		"password":       "x",
		"allowed_roles":  "readonly",
	})
	if err != nil {
		return false, fmt.Sprintf("database/config/pg: %v", err)
	}
	create := `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`
	if scram {
		create += ` GRANT coffer_scram TO "{{name}}";`
	}
	_, err = c.Logical().Write("database/roles/readonly", map[string]interface{}{
		"db_name": "pg", "creation_statements": create, "default_ttl": "1h", "max_ttl": "24h",
	})
	if err != nil {
		return false, fmt.Sprintf("database/roles/readonly: %v", err)
	}
	return scram, ""
}

func pgLogin(user, password string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("postgres://127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=5")
	if err != nil {
		return "", err
	}
	cfg.User, cfg.Password = user, password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var who string
	err = conn.QueryRow(ctx, "SELECT current_user").Scan(&who)
	return who, err
}

func pgRoleExists(t *testing.T, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	must(t, err)
	defer admin.Close(context.Background())
	var n int
	must(t, admin.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", name).Scan(&n))
	return n > 0
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestConsoleInBrowser drives the console in Chromium against real
// servers: AppRole sign-in, PostgreSQL credentials used for a real login,
// lease revocation, prefix revocation, a policy syntax error, KV, and
// initialising and unsealing a new server.
func TestConsoleInBrowser(t *testing.T) {
	b := newBrowserRun(t)
	t.Logf("screenshots: %s", b.artifacts)
	s := testserver.Start(t, testserver.Options{NoTLS: true, UI: true})
	c := s.Client
	roleID, secretID := setupAppRole(t, c)
	must(t, c.Sys().PutPolicy("app-read", `path "secret/data/app/*" { capabilities = ["read"] }`))
	scram, dbSkip := setupPostgres(t, c)

	// Three token leases under one prefix for the incident-response flow.
	var doomed []string
	for i := 0; i < 3; i++ {
		sec, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, TTL: "1h"})
		must(t, err)
		doomed = append(doomed, sec.Auth.ClientToken)
	}

	steps := []string{"login-approle", "dashboard", "pages", "kv"}
	if dbSkip == "" {
		steps = append(steps, "db-creds")
	}
	steps = append(steps, "sign-out")
	res := b.run(s.Addr, map[string]string{"ROLE_ID": roleID, "SECRET_ID": secretID, "DB_MOUNT": "database", "DB_ROLE": "readonly"}, steps...)

	if got := str(res["login-approle"], "rejected"); !strings.Contains(got, "invalid") && !strings.Contains(got, "denied") {
		t.Errorf("a wrong secret ID was answered with %q", got)
	}
	if got := str(res["dashboard"], "seal"); got == "" || got == "—" {
		t.Errorf("dashboard shows no seal type")
	}
	kv, err := c.KVv2("secret").Get(context.Background(), "app/config")
	must(t, err)
	if kv.VersionMetadata.Version != 2 || kv.Data["password"] != "second" {
		t.Errorf("KV written from the console: version %d data %v", kv.VersionMetadata.Version, kv.Data)
	}

	var leaseID, dbUser string
	t.Run("postgres credentials", func(t *testing.T) {
		if dbSkip != "" {
			t.Skip("PostgreSQL scenario skipped: " + dbSkip)
		}
		creds := res["db-creds"]
		dbUser, leaseID = str(creds, "username"), str(creds, "lease_id")
		if !strings.HasPrefix(leaseID, "database/creds/readonly/") {
			t.Fatalf("lease id %q", leaseID)
		}
		who, err := pgLogin(dbUser, str(creds, "password"))
		if err != nil || who != dbUser {
			t.Fatalf("log in to PostgreSQL as %q with the console's password: %v (current_user %q)", dbUser, err, who)
		}
		if scram {
			if _, err := pgLogin(dbUser, "not-"+str(creds, "password")); err == nil {
				t.Errorf("PostgreSQL accepted a wrong password for %s", dbUser)
			}
		}
	})

	env := map[string]string{"COFFER_TOKEN": s.RootToken, "PREFIX": "auth/token/create/", "PREFIX_COUNT": "3", "POLICY": "app-read", "LEASE_ID": leaseID}
	steps = []string{"login-token"}
	if leaseID != "" {
		steps = append(steps, "revoke-lease")
	}
	steps = append(steps, "revoke-prefix", "policy-error")
	pkiSkip := ""
	if err := c.Sys().Mount("pki", &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "8760h"}}); err != nil {
		pkiSkip = fmt.Sprintf("the PKI secrets engine is not available: %v", err)
	} else {
		steps = append(steps, "pki")
	}
	auditFile := filepath.Join(t.TempDir(), "audit.log")
	env["AUDIT_FILE"] = auditFile
	steps = append(steps, "audit")
	res = b.run(s.Addr, env, steps...)

	devices, err := c.Sys().ListAudit()
	must(t, err)
	if d := devices["file/"]; d == nil || d.Type != "file" || d.Options["file_path"] != auditFile {
		t.Errorf("audit devices after enabling one in the console: %+v", devices)
	}
	if fi, err := os.Stat(auditFile); err != nil || fi.Size() == 0 {
		t.Errorf("audit log %s: %v", auditFile, err)
	}

	t.Run("pki certificate", func(t *testing.T) {
		if pkiSkip != "" {
			t.Skip(pkiSkip)
		}
		checkIssued(t, c, str(res["pki"], "pem"), str(res["pki"], "filename"))
	})

	if leaseID != "" {
		if _, err := c.Logical().Write("sys/leases/lookup", map[string]interface{}{"lease_id": leaseID}); err == nil {
			t.Errorf("lease %s still exists after the console revoked it", leaseID)
		}
		if pgRoleExists(t, dbUser) {
			t.Errorf("PostgreSQL user %s still exists after its lease was revoked", dbUser)
		}
		if _, err := pgLogin(dbUser, "anything"); err == nil {
			t.Errorf("%s can still log in", dbUser)
		}
	}
	if msg := str(res["revoke-prefix"], "message"); !strings.HasPrefix(msg, "Revoked 3 leases under auth/token/create/") {
		t.Errorf("revoke-prefix reported %q", msg)
	}
	for _, tok := range doomed {
		if _, err := s.NewClient(tok).Auth().Token().LookupSelf(); err == nil {
			t.Errorf("token %s… still valid after the prefix was revoked", tok[:8])
		}
	}
	if msg := str(res["policy-error"], "error"); !strings.Contains(msg, "line") {
		t.Errorf("policy error shown as %q, want the parser's message with its line", msg)
	}
	pol, err := c.Sys().GetPolicy("app-read")
	must(t, err)
	if !strings.Contains(pol, `path "sys/mounts"`) {
		t.Errorf("policy after the fixed save:\n%s", pol)
	}

	// A new server: initialise and unseal it from the browser.
	fresh := testserver.Start(t, testserver.Options{NoTLS: true, UI: true, NoInit: true})
	res = b.run(fresh.Addr, nil, "unseal")
	st, err := fresh.Client.Sys().SealStatus()
	must(t, err)
	if !st.Initialized || st.Sealed || st.T != 2 || st.N != 3 {
		t.Errorf("after the browser's init and unseal: %+v", st)
	}
	root := str(res["unseal"], "root_token")
	self, err := fresh.NewClient(root).Auth().Token().LookupSelf()
	if err != nil || self == nil {
		t.Fatalf("root token from the browser: %v", err)
	}
	if pols, _ := self.TokenPolicies(); len(pols) != 1 || pols[0] != "root" {
		t.Errorf("root token policies %v", pols)
	}
}

// checkIssued verifies that the certificate downloaded from the console
// names the requested host and chains to the root the console generated.
func checkIssued(t *testing.T, c *api.Client, pemText, filename string) {
	t.Helper()
	if filename != "app.example.com.cert.pem" {
		t.Errorf("download named %q", filename)
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		t.Fatalf("downloaded file is not PEM: %.60q", pemText)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	must(t, err)
	if cert.Subject.CommonName != "app.example.com" {
		t.Errorf("certificate for %q", cert.Subject.CommonName)
	}
	ca, err := c.Logical().Read("pki/cert/ca")
	must(t, err)
	caBlock, _ := pem.Decode([]byte(ca.Data["certificate"].(string)))
	if caBlock == nil {
		t.Fatal("no CA certificate")
	}
	root, err := x509.ParseCertificate(caBlock.Bytes)
	must(t, err)
	if root.Subject.CommonName != "Coffer Console Root" {
		t.Errorf("root CA %q", root.Subject.CommonName)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "app.example.com"}); err != nil {
		t.Errorf("issued certificate does not verify against the root: %v", err)
	}
}

// nodeTool runs a Node.js program from ui/ with arguments, in ui/.
func nodeTool(t *testing.T, args ...string) string {
	t.Helper()
	b := newBrowserRun(t)
	ui := filepath.Join(filepath.Dir(b.script), "..")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.node, args...)
	cmd.Dir = ui
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "CI=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The front end's own unit tests (formatting, the dashboard model).
func TestConsoleUnitTests(t *testing.T) {
	out := nodeTool(t, "node_modules/vitest/vitest.mjs", "run")
	if !strings.Contains(out, "passed") {
		t.Fatalf("vitest:\n%s", out)
	}
}

// The committed build in internal/ui/dist is what the sources in ui/
// build to: run scripts/build-ui.sh after changing them.
func TestDistUpToDate(t *testing.T) {
	dir := t.TempDir()
	nodeTool(t, "node_modules/vite/bin/vite.js", "build", "--logLevel", "error", "--outDir", dir, "--emptyOutDir")
	want := map[string][]byte{}
	must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		want[filepath.ToSlash(rel)] = b
		return err
	}))
	_, file, _, _ := runtime.Caller(0)
	committed := filepath.Join(filepath.Dir(file), "dist")
	got := map[string][]byte{}
	must(t, filepath.WalkDir(committed, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(committed, p)
		got[filepath.ToSlash(rel)] = b
		return err
	}))
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("internal/ui/dist/%s is stale or missing: run scripts/build-ui.sh", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("internal/ui/dist/%s is not part of the build: run scripts/build-ui.sh", name)
		}
	}
}
