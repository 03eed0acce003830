package aws

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-dev/coffer/internal/awstest"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// fakeSystem is the mount's view of the server in tests.
type fakeSystem struct{ def, max time.Duration }

func (f fakeSystem) DefaultLeaseTTL() time.Duration { return f.def }
func (f fakeSystem) MaxLeaseTTL() time.Duration     { return f.max }
func (f fakeSystem) GeneratePasswordFromPolicy(context.Context, string) (string, error) {
	return "", errors.New("not supported")
}

// harness is one mount over in-memory storage, configured against an
// in-test AWS server.
type harness struct {
	t   testing.TB
	b   *backend
	s   *logical.InmemStorage
	aws *awstest.Server
}

const testPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}`

// newHarness configures config/root with max_retries=0 so injected
// failures are not hidden by the SDK's retries.
func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{
		t:   t,
		b:   newBackend(&logical.BackendConfig{System: fakeSystem{def: 768 * time.Hour, max: 768 * time.Hour}}),
		s:   logical.NewInmemStorage(),
		aws: awstest.NewServer(t),
	}
	h.ok(logical.UpdateOperation, "config/root", map[string]interface{}{
		"access_key": h.aws.AccessKeyID, "secret_key": h.aws.SecretAccessKey, "region": "us-east-1",
		"iam_endpoint": h.aws.URL, "sts_endpoint": h.aws.URL, "max_retries": 0,
	})
	return h
}

func (h *harness) do(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: h.s, DisplayName: "token"}
	return h.b.HandleRequest(context.Background(), req)
}

func (h *harness) ok(op logical.Operation, path string, data map[string]interface{}) *logical.Response {
	h.t.Helper()
	resp, err := h.do(op, path, data)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	return resp
}

// fail expects a 400 whose message contains want.
func (h *harness) fail(op logical.Operation, path string, data map[string]interface{}, want string) {
	h.t.Helper()
	_, err := h.do(op, path, data)
	if err == nil {
		h.t.Fatalf("%s %s: no error, want %q", op, path, want)
	}
	if !errors.Is(err, logical.ErrInvalidRequest) || !strings.Contains(err.Error(), want) {
		h.t.Fatalf("%s %s: error %v, want a 400 containing %q", op, path, err, want)
	}
}

// lease sends a renew or revoke for a secret as the lease manager does.
func (h *harness) lease(op logical.Operation, s *logical.Secret, increment time.Duration) (*logical.Response, error) {
	sc := *s
	sc.Increment = increment
	if sc.IssueTime.IsZero() {
		sc.IssueTime = time.Now()
	}
	req := &logical.Request{Operation: op, Path: "creds/x", Secret: &sc, Storage: h.s}
	return h.b.HandleRequest(context.Background(), req)
}

// rollback runs the core's periodic rollback with no minimum age.
func (h *harness) rollback() error {
	h.b.Backend.WALRollbackMinAge = time.Nanosecond
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

// dynamicUsers are the IAM users other than the root user.
func (h *harness) dynamicUsers() []string {
	var out []string
	for _, u := range h.aws.Users() {
		if u != awstest.RootUserName {
			out = append(out, u)
		}
	}
	return out
}

// iam is a client of the in-test server with the root key, for setting up
// and checking state.
func (h *harness) iam() *iam.Client {
	cfg := awssdk.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(h.aws.AccessKeyID, h.aws.SecretAccessKey, ""), RetryMaxAttempts: 1}
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = awssdk.String(h.aws.URL) })
}

// callerARN checks that credentials work against the in-test server.
func callerARN(t testing.TB, srv *awstest.Server, data map[string]interface{}) string {
	t.Helper()
	token, _ := data["security_token"].(string)
	cfg := awssdk.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(data["access_key"].(string), data["secret_key"].(string), token), RetryMaxAttempts: 1}
	out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = awssdk.String(srv.URL) }).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("credentials do not work: %v", err)
	}
	return awssdk.ToString(out.Arn)
}
