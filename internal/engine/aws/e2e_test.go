package aws_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/awstest"
	"github.com/coffer-dev/coffer/internal/lease"
	"github.com/coffer-dev/coffer/internal/testserver"
)

const seedPolicy = `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]
}`

// e2e is a server with the AWS engine mounted at aws/ and configured
// against an in-test AWS server, as in the seed flow.
type e2e struct {
	t   *testing.T
	s   *testserver.Server
	aws *awstest.Server
}

func startE2E(t *testing.T) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a full server")
	}
	e := &e2e{
		t:   t,
		s:   testserver.Start(t, testserver.Options{DataDir: t.TempDir(), LeaseOptions: lease.Options{BackoffBase: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond}}),
		aws: awstest.NewServer(t),
	}
	if err := e.s.Client.Sys().Mount("aws", &api.MountInput{Type: "aws"}); err != nil {
		t.Fatalf("enable aws: %v", err)
	}
	e.write("aws/config/root", map[string]interface{}{
		"access_key": e.aws.AccessKeyID, "secret_key": e.aws.SecretAccessKey, "region": "us-east-1",
		"iam_endpoint": e.aws.URL, "sts_endpoint": e.aws.URL,
	})
	e.write("aws/config/lease", map[string]interface{}{"lease": "1h", "lease_max": "4h"})
	e.write("aws/roles/s3-readonly", map[string]interface{}{"credential_type": "iam_user", "policy_document": seedPolicy})
	e.write("aws/roles/deploy-role", map[string]interface{}{
		"credential_type": "assumed_role", "role_arns": "arn:aws:iam::123456789012:role/DeployRole", "default_sts_ttl": "1h", "max_sts_ttl": "4h",
	})
	e.write("aws/roles/ci-federation", map[string]interface{}{"credential_type": "federation_token", "policy_document": seedPolicy, "default_sts_ttl": "1h"})
	return e
}

func (e *e2e) write(path string, data map[string]interface{}) *api.Secret {
	e.t.Helper()
	sec, err := e.s.Client.Logical().Write(path, data)
	if err != nil {
		e.t.Fatalf("write %s: %v", path, err)
	}
	return sec
}

func (e *e2e) read(path string) *api.Secret {
	e.t.Helper()
	sec, err := e.s.Client.Logical().Read(path)
	if err != nil {
		e.t.Fatalf("read %s: %v", path, err)
	}
	return sec
}

// users are the IAM users the engine created.
func (e *e2e) users() []string {
	var out []string
	for _, u := range e.aws.Users() {
		if u != awstest.RootUserName {
			out = append(out, u)
		}
	}
	return out
}

// waitNoUsers waits until every generated IAM user is gone.
func (e *e2e) waitNoUsers(within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for len(e.users()) > 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("users still present after %v: %v", within, e.users())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEndToEndSeedFlow(t *testing.T) {
	e := startE2E(t)
	c := e.s.Client

	cfg := e.read("aws/config/root")
	if _, ok := cfg.Data["secret_key"]; ok || cfg.Data["access_key"] != e.aws.AccessKeyID {
		t.Fatalf("config/root = %v", cfg.Data)
	}
	if got := e.read("aws/config/lease").Data; got["lease"] != "1h0m0s" || got["lease_max"] != "4h0m0s" {
		t.Fatalf("config/lease = %v", got)
	}
	roles, err := c.Logical().List("aws/roles")
	if err != nil || len(roles.Data["keys"].([]interface{})) != 3 {
		t.Fatalf("roles = %v, %v", roles, err)
	}

	creds := e.read("aws/creds/s3-readonly")
	if !strings.HasPrefix(creds.LeaseID, "aws/creds/s3-readonly/") || creds.LeaseDuration != 3600 || !creds.Renewable {
		t.Fatalf("iam_user lease: id %q duration %d renewable %v", creds.LeaseID, creds.LeaseDuration, creds.Renewable)
	}
	if v, ok := creds.Data["security_token"]; !ok || v != nil || creds.Data["access_key"] == "" || creds.Data["secret_key"] == "" {
		t.Fatalf("iam_user data = %v", creds.Data)
	}
	users := e.users()
	if len(users) != 1 || !strings.HasPrefix(users[0], "vault-root-s3-readonly-") && !strings.HasPrefix(users[0], "vault-token-s3-readonly-") {
		t.Fatalf("users = %v", users)
	}
	if u := e.aws.User(users[0]); len(u.AccessKeys) != 1 || u.AccessKeys[0] != creds.Data["access_key"] || u.InlinePolicies["s3-readonly"] == "" {
		t.Fatalf("IAM user = %+v", u)
	}

	sts := e.write("aws/sts/deploy-role", map[string]interface{}{"ttl": "1h"})
	if sts.Renewable || sts.LeaseDuration < 3590 || sts.LeaseDuration > 3600 || sts.Data["security_token"] == "" || !strings.HasPrefix(sts.Data["arn"].(string), "arn:aws:sts::123456789012:assumed-role/DeployRole/") {
		t.Fatalf("assumed_role: lease %d renewable %v data %v", sts.LeaseDuration, sts.Renewable, sts.Data)
	}
	fed := e.write("aws/sts/ci-federation", nil)
	if fed.Renewable || fed.LeaseDuration < 3590 || fed.Data["security_token"] == "" {
		t.Fatalf("federation_token: lease %d data %v", fed.LeaseDuration, fed.Data)
	}
	if e.aws.Sessions() != 2 {
		t.Fatalf("sessions = %d", e.aws.Sessions())
	}

	// Renewal of the IAM user's lease, within lease_max; STS leases are not renewable.
	renewed, err := c.Sys().Renew(creds.LeaseID, 7200)
	if err != nil || renewed.LeaseDuration != 7200 {
		t.Fatalf("renew = %v, %v", renewed, err)
	}
	if _, err := c.Sys().Renew(sts.LeaseID, 60); err == nil {
		t.Fatal("STS lease renewed")
	}

	// Revocation removes the user; STS leases go without touching IAM.
	if err := c.Sys().Revoke(creds.LeaseID); err != nil {
		t.Fatal(err)
	}
	if len(e.users()) != 0 {
		t.Fatalf("users after revoke: %v", e.users())
	}
	if err := c.Sys().Revoke(sts.LeaseID); err != nil {
		t.Fatal(err)
	}

	// Bad input is a 400 naming the field.
	for path, data := range map[string]map[string]interface{}{
		"aws/roles/bad-json": {"credential_type": "iam_user", "policy_document": "{not json"},
		"aws/roles/bad-type": {"credential_type": "superuser"},
	} {
		_, err := c.Logical().Write(path, data)
		var re *api.ResponseError
		if err == nil || !asResponseError(err, &re) || re.StatusCode != 400 {
			t.Fatalf("write %s: %v", path, err)
		}
		field := "policy_document"
		if strings.HasSuffix(path, "bad-type") {
			field = "credential_type"
		}
		if !strings.Contains(err.Error(), field) {
			t.Fatalf("error does not name %s: %v", field, err)
		}
	}
}

func hasKey(u *awstest.User, key interface{}) bool {
	return u != nil && len(u.AccessKeys) == 1 && u.AccessKeys[0] == key
}

func asResponseError(err error, re **api.ResponseError) bool {
	r, ok := err.(*api.ResponseError)
	if ok {
		*re = r
	}
	return ok
}

func TestEndToEndRevokePrefixAndExpiry(t *testing.T) {
	e := startE2E(t)
	for i := 0; i < 3; i++ {
		e.read("aws/creds/s3-readonly")
	}
	if n := len(e.users()); n != 3 {
		t.Fatalf("%d users, want 3", n)
	}
	e.write("sys/leases/revoke-prefix/aws/creds/s3-readonly", nil)
	if n := len(e.users()); n != 0 {
		t.Fatalf("%d users after revoke-prefix", n)
	}
	leases, err := e.s.Client.Logical().List("sys/leases/lookup/aws/creds/s3-readonly")
	if err != nil || (leases != nil && len(leases.Data["keys"].([]interface{})) != 0) {
		t.Fatalf("leases after revoke-prefix = %v, %v", leases, err)
	}

	// A short lease: the lease manager deletes the user when it expires.
	e.write("aws/config/lease", map[string]interface{}{"lease": "2s", "lease_max": "2s"})
	creds := e.read("aws/creds/s3-readonly")
	if creds.LeaseDuration != 2 || len(e.users()) != 1 {
		t.Fatalf("short lease %d, users %v", creds.LeaseDuration, e.users())
	}
	e.waitNoUsers(10 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := e.s.Client.Logical().Write("sys/leases/lookup", map[string]interface{}{"lease_id": creds.LeaseID}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired lease still exists")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEndToEndRestartKeepsLeases(t *testing.T) {
	e := startE2E(t)
	long := e.read("aws/creds/s3-readonly")
	sts := e.write("aws/sts/deploy-role", nil)
	e.write("aws/config/lease", map[string]interface{}{"lease": "2s", "lease_max": "2s"})
	e.read("aws/creds/s3-readonly")
	if len(e.users()) != 2 {
		t.Fatalf("users = %v", e.users())
	}
	e.s.Stop()
	// The short lease expires while the server is down.
	time.Sleep(2500 * time.Millisecond)
	if len(e.users()) != 2 {
		t.Fatal("users changed while the server was down")
	}
	e.s.Restart()
	c := e.s.Client
	deadline := time.Now().Add(10 * time.Second)
	for len(e.users()) != 1 || !hasKey(e.aws.User(e.users()[0]), long.Data["access_key"]) {
		if time.Now().After(deadline) {
			t.Fatalf("expired lease not revoked after restart: users %v", e.users())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range []string{long.LeaseID, sts.LeaseID} {
		got, err := c.Logical().Write("sys/leases/lookup", map[string]interface{}{"lease_id": id})
		if err != nil || got.Data["id"] != id {
			t.Fatalf("lookup %s after restart = %v, %v", id, got, err)
		}
	}
	// Renewal reads config/lease as it is now.
	e.write("aws/config/lease", map[string]interface{}{"lease": "1h", "lease_max": "4h"})
	if _, err := c.Sys().Renew(long.LeaseID, 600); err != nil {
		t.Fatalf("renew after restart: %v", err)
	}
	if err := c.Sys().Revoke(long.LeaseID); err != nil {
		t.Fatal(err)
	}
	if len(e.users()) != 0 {
		t.Fatalf("users after revoke: %v", e.users())
	}
	// New credentials work after the restart.
	e.read("aws/creds/s3-readonly")
	if len(e.users()) != 1 {
		t.Fatalf("users = %v", e.users())
	}
}

func TestEndToEndOutage(t *testing.T) {
	e := startE2E(t)
	c := e.s.Client
	manual := e.read("aws/creds/s3-readonly")
	e.write("aws/config/lease", map[string]interface{}{"lease": "1s", "lease_max": "1s"})
	e.read("aws/creds/s3-readonly")

	e.aws.SetDown(true)
	// A manual revocation fails and keeps the lease.
	if err := c.Sys().Revoke(manual.LeaseID); err == nil {
		t.Fatal("revocation reported success during the outage")
	}
	if _, err := c.Logical().Write("sys/leases/lookup", map[string]interface{}{"lease_id": manual.LeaseID}); err != nil {
		t.Fatalf("lease lost after a failed revocation: %v", err)
	}
	// Credentials cannot be issued either.
	if _, err := c.Logical().Read("aws/creds/s3-readonly"); err == nil {
		t.Fatal("credentials issued during the outage")
	}
	time.Sleep(2 * time.Second)
	if len(e.users()) != 2 {
		t.Fatalf("users = %v", e.users())
	}

	// Back up: the expired lease is revoked by the lease manager's retries.
	e.aws.SetDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.users()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("expired lease not revoked after the outage: %v", e.users())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Sys().Revoke(manual.LeaseID); err != nil {
		t.Fatal(err)
	}
	if len(e.users()) != 0 {
		t.Fatalf("users = %v", e.users())
	}
}

// BenchmarkEndToEndCreds issues credentials through the HTTP API with the
// Vault client, 8 requests at a time: lease storage on raft included.
func BenchmarkEndToEndCreds(b *testing.B) {
	s := testserver.Start(b, testserver.Options{DataDir: b.TempDir()})
	srv := awstest.NewServer(b)
	c := s.Client
	if err := c.Sys().Mount("aws", &api.MountInput{Type: "aws"}); err != nil {
		b.Fatal(err)
	}
	for path, data := range map[string]map[string]interface{}{
		"aws/config/root":  {"access_key": srv.AccessKeyID, "secret_key": srv.SecretAccessKey, "iam_endpoint": srv.URL, "sts_endpoint": srv.URL},
		"aws/config/lease": {"lease": "1h", "lease_max": "4h"},
		"aws/roles/iam":    {"credential_type": "iam_user", "policy_document": seedPolicy},
		"aws/roles/role":   {"credential_type": "assumed_role", "role_arns": "arn:aws:iam::123456789012:role/Deploy"},
		"aws/roles/fed":    {"credential_type": "federation_token", "policy_document": seedPolicy},
	} {
		if _, err := c.Logical().Write(path, data); err != nil {
			b.Fatalf("%s: %v", path, err)
		}
	}
	for _, tc := range []struct{ name, path string }{
		{"iam_user", "aws/creds/iam"}, {"assumed_role", "aws/sts/role"}, {"federation_token", "aws/sts/fed"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			var failed atomic.Value
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := c.Logical().Read(tc.path); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creds/s")
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
		})
	}
}
