package awstest

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

func sdkConfig(akid, secret, token string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, token),
		RetryMaxAttempts: 1,
	}
}

func iamClient(s *Server, akid, secret string) *iam.Client {
	return iam.NewFromConfig(sdkConfig(akid, secret, ""), func(o *iam.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func stsClient(s *Server, akid, secret, token string) *sts.Client {
	return sts.NewFromConfig(sdkConfig(akid, secret, token), func(o *sts.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestIAMUserLifecycle(t *testing.T) {
	s := NewServer(t)
	ctx := context.Background()
	c := iamClient(s, s.AccessKeyID, s.SecretAccessKey)
	s.CreateGroup("devs", map[string]string{"read": `{"Statement":[]}`}, "arn:aws:iam::aws:policy/ReadOnlyAccess")

	out, err := c.CreateUser(ctx, &iam.CreateUserInput{
		UserName: aws.String("alice"), Path: aws.String("/team/"),
		PermissionsBoundary: aws.String("arn:aws:iam::123456789012:policy/boundary"),
		Tags:                []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("infra")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.User.Arn); got != "arn:aws:iam::123456789012:user/team/alice" {
		t.Fatalf("arn = %q", got)
	}
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); errCode(err) != "EntityAlreadyExists" {
		t.Fatalf("duplicate user: %v", err)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	steps := []func() error{
		func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("inline"), PolicyDocument: aws.String(doc)})
			return err
		},
		func() error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		},
		func() error {
			_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: aws.String("alice"), GroupName: aws.String("devs")})
			return err
		},
	}
	steps = append(steps, func() error {
		_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []iamtypes.Tag{{Key: aws.String("env"), Value: aws.String("test")}}})
		return err
	})
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	u := s.User("alice")
	if u == nil || len(u.AccessKeys) != 1 || u.AccessKeys[0] != aws.ToString(key.AccessKey.AccessKeyId) ||
		u.InlinePolicies["inline"] != doc || len(u.AttachedPolicies) != 1 || len(u.Groups) != 1 ||
		u.Tags["team"] != "infra" || u.Tags["env"] != "test" || u.PermissionsBoundary == "" {
		t.Fatalf("user state = %+v", u)
	}
	got, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("inline")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, _ := url.QueryUnescape(aws.ToString(got.PolicyDocument)); dec != doc {
		t.Fatalf("policy document = %q", dec)
	}

	// The new key works and identifies alice.
	id, err := stsClient(s, aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasSuffix(aws.ToString(id.Arn), ":user/team/alice") {
		t.Fatalf("caller identity = %v, %v", id, err)
	}

	// A user with attachments cannot be deleted.
	if _, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")}); errCode(err) != "DeleteConflict" {
		t.Fatalf("delete with keys: %v", err)
	}
	keys, _ := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	pols, _ := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("alice")})
	att, _ := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("alice")})
	grps, _ := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("alice")})
	if len(keys.AccessKeyMetadata) != 1 || len(pols.PolicyNames) != 1 || len(att.AttachedPolicies) != 1 || len(grps.Groups) != 1 {
		t.Fatalf("lists: %d keys, %d policies, %d attached, %d groups", len(keys.AccessKeyMetadata), len(pols.PolicyNames), len(att.AttachedPolicies), len(grps.Groups))
	}
	for _, f := range []func() error{
		func() error {
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: keys.AccessKeyMetadata[0].AccessKeyId})
			return err
		},
		func() error {
			_, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("inline")})
			return err
		},
		func() error {
			_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: att.AttachedPolicies[0].PolicyArn})
			return err
		},
		func() error {
			_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: aws.String("alice"), GroupName: aws.String("devs")})
			return err
		},
		func() error {
			_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
			return err
		},
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Fatalf("GetUser after delete: %v", err)
	}
	if s.User("alice") != nil || len(s.Users()) != 1 {
		t.Fatalf("users left: %v", s.Users())
	}
	// The deleted key no longer authenticates.
	_, err = stsClient(s, aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if errCode(err) != "InvalidClientTokenId" {
		t.Fatalf("deleted key: %v", err)
	}
}

func TestIAMErrors(t *testing.T) {
	s := NewServer(t)
	ctx := context.Background()
	c := iamClient(s, s.AccessKeyID, s.SecretAccessKey)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"invalid policy JSON", func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("p"), PolicyDocument: aws.String("{not json")})
			return err
		}, "MalformedPolicyDocument"},
		{"unknown user", func() error {
			_, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity"},
		{"unknown group", func() error {
			_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: aws.String("bob"), GroupName: aws.String("nope")})
			return err
		}, "NoSuchEntity"},
		{"bad user name", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(strings.Repeat("x", 65))})
			return err
		}, "ValidationError"},
		{"bad policy arn", func() error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: aws.String("not-an-arn")})
			return err
		}, "InvalidInput"},
		{"detach not attached", func() error {
			_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: aws.String("arn:aws:iam::aws:policy/X")})
			return err
		}, "NoSuchEntity"},
		{"unknown access key", func() error {
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA")})
			return err
		}, "NoSuchEntity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errCode(tc.call()); got != tc.code {
				t.Fatalf("code = %q, want %q", got, tc.code)
			}
		})
	}
	// A third access key exceeds the quota of two.
	for i := 0; i < 3; i++ {
		_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
		if i < 2 && err != nil {
			t.Fatal(err)
		}
		if i == 2 && errCode(err) != "LimitExceeded" {
			t.Fatalf("third key: %v", err)
		}
	}
	// Without a user name, GetUser describes the caller.
	me, err := c.GetUser(ctx, &iam.GetUserInput{})
	if err != nil || aws.ToString(me.User.UserName) != RootUserName {
		t.Fatalf("GetUser() = %v, %v", me, err)
	}
}

func TestSTS(t *testing.T) {
	s := NewServer(t)
	ctx := context.Background()
	c := stsClient(s, s.AccessKeyID, s.SecretAccessKey, "")
	before := time.Now()
	ar, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/Deploy"), RoleSessionName: aws.String("ci-run"),
		DurationSeconds: aws.Int32(1800), Policy: aws.String(`{"Statement":[]}`),
		PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
		Tags:       []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("infra")}},
		ExternalId: aws.String("ext-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	exp := aws.ToTime(ar.Credentials.Expiration)
	if d := exp.Sub(before); d < 1799*time.Second || d > 1801*time.Second {
		t.Fatalf("expiration in %v", d)
	}
	if got := aws.ToString(ar.AssumedRoleUser.Arn); got != "arn:aws:sts::123456789012:assumed-role/Deploy/ci-run" {
		t.Fatalf("assumed role arn = %q", got)
	}
	sess := s.Session(aws.ToString(ar.Credentials.AccessKeyId))
	if sess == nil || sess.Tags["team"] != "infra" || sess.ExternalID != "ext-1" || len(sess.PolicyARNs) != 1 || sess.Policy == "" {
		t.Fatalf("session = %+v", sess)
	}
	// The session credentials work, but only with their token.
	sc := stsClient(s, aws.ToString(ar.Credentials.AccessKeyId), aws.ToString(ar.Credentials.SecretAccessKey), aws.ToString(ar.Credentials.SessionToken))
	id, err := sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != aws.ToString(ar.AssumedRoleUser.Arn) {
		t.Fatalf("caller identity = %v, %v", id, err)
	}
	noToken := stsClient(s, aws.ToString(ar.Credentials.AccessKeyId), aws.ToString(ar.Credentials.SecretAccessKey), "")
	if _, err := noToken.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); errCode(err) != "InvalidClientTokenId" {
		t.Fatalf("without token: %v", err)
	}
	if _, err := sc.GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("fed"), Policy: aws.String(`{"Statement":[]}`)}); errCode(err) != "AccessDenied" {
		t.Fatalf("federation token from session: %v", err)
	}
	ft, err := c.GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("fed-user"), Policy: aws.String(`{"Statement":[]}`), DurationSeconds: aws.Int32(3600)})
	if err != nil || aws.ToString(ft.FederatedUser.Arn) != "arn:aws:sts::123456789012:federated-user/fed-user" || aws.ToString(ft.Credentials.SessionToken) == "" {
		t.Fatalf("federation token = %v, %v", ft, err)
	}
	if s.Sessions() != 2 {
		t.Fatalf("sessions = %d", s.Sessions())
	}
	// Sessions expire.
	s.mu.Lock()
	s.now = func() time.Time { return time.Now().Add(45 * time.Minute) }
	s.mu.Unlock()
	if s.Sessions() != 1 {
		t.Fatalf("sessions after 45m = %d, want the 1h federation token only", s.Sessions())
	}
	s.mu.Lock()
	s.now = time.Now
	s.mu.Unlock()

	bad := []struct {
		name string
		in   *sts.AssumeRoleInput
		code string
	}{
		{"short duration", &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/R"), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(60)}, "ValidationError"},
		{"bad role arn", &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:user/R"), RoleSessionName: aws.String("s1")}, "ValidationError"},
		{"bad policy", &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/R"), RoleSessionName: aws.String("s1"), Policy: aws.String("{")}, "MalformedPolicyDocument"},
		{"bad session name", &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/R"), RoleSessionName: aws.String("a b")}, "ValidationError"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.AssumeRole(ctx, tc.in); errCode(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestExpiredSessionRefused(t *testing.T) {
	s := NewServer(t)
	ctx := context.Background()
	ar, err := stsClient(s, s.AccessKeyID, s.SecretAccessKey, "").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/R"), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	k := s.keys[aws.ToString(ar.Credentials.AccessKeyId)]
	k.Session.Expiration = time.Now().Add(-time.Second)
	s.mu.Unlock()
	sc := stsClient(s, aws.ToString(ar.Credentials.AccessKeyId), aws.ToString(ar.Credentials.SecretAccessKey), aws.ToString(ar.Credentials.SessionToken))
	if _, err := sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); errCode(err) != "ExpiredToken" {
		t.Fatalf("expired session: %v", err)
	}
}

func TestFailuresAndOutage(t *testing.T) {
	s := NewServer(t)
	ctx := context.Background()
	c := iamClient(s, s.AccessKeyID, s.SecretAccessKey)
	s.FailNext("CreateUser", "ServiceFailure")
	s.FailNext("CreateUser", "AccessDenied")
	for _, want := range []string{"ServiceFailure", "AccessDenied", ""} {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u1")})
		if errCode(err) != want || (want == "" && err != nil) {
			t.Fatalf("err = %v, want %q", err, want)
		}
	}
	if s.Calls("CreateUser") != 3 {
		t.Fatalf("calls = %d", s.Calls("CreateUser"))
	}
	s.SetDown(true)
	_, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("u1")})
	var re interface{ HTTPStatusCode() int }
	if errCode(err) != "ServiceUnavailable" || !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("down: %v", err)
	}
	s.SetDown(false)
	if _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("u1")}); err != nil {
		t.Fatalf("back up: %v", err)
	}
}

// rawError sends a hand-made request and decodes the XML error.
func rawError(t *testing.T, s *Server, mod func(*http.Request)) (int, errorEnvelope) {
	t.Helper()
	form := url.Values{"Action": {"GetUser"}, "Version": {iamVersion}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	now := time.Now().UTC()
	req.Header.Set("X-Amz-Date", now.Format(amzDateFmt))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.AccessKeyID+"/"+now.Format("20060102")+"/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="+strings.Repeat("ab", 32))
	mod(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env errorEnvelope
	if err := xml.Unmarshal(body, &env); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if env.Xmlns != iamNamespace || env.RequestID == "" {
		t.Fatalf("error envelope = %s", body)
	}
	return resp.StatusCode, env
}

func TestSignatureChecks(t *testing.T) {
	s := NewServer(t)
	yesterday := time.Now().UTC().Add(-24 * time.Hour)
	cases := []struct {
		name   string
		mod    func(*http.Request)
		status int
		code   string
	}{
		{"no authorization", func(r *http.Request) { r.Header.Del("Authorization") }, 403, "MissingAuthenticationToken"},
		{"wrong algorithm", func(r *http.Request) { r.Header.Set("Authorization", "AWS AKIA:abc") }, 400, "IncompleteSignature"},
		{"no signature", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Split(r.Header.Get("Authorization"), ", Signature=")[0])
		}, 400, "IncompleteSignature"},
		{"short signature", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Split(r.Header.Get("Authorization"), "Signature=")[0]+"Signature=abcd")
		}, 400, "IncompleteSignature"},
		{"bad scope", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/aws4_request", "/aws5_request", 1))
		}, 400, "IncompleteSignature"},
		{"no date", func(r *http.Request) { r.Header.Del("X-Amz-Date") }, 400, "IncompleteSignature"},
		{"host not signed", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "content-type;host;x-amz-date", "content-type;x-amz-date", 1))
		}, 400, "IncompleteSignature"},
		{"stale date", func(r *http.Request) {
			r.Header.Set("X-Amz-Date", yesterday.Format(amzDateFmt))
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), time.Now().UTC().Format("20060102"), yesterday.Format("20060102"), 1))
		}, 403, "SignatureDoesNotMatch"},
		{"wrong service", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/iam/", "/sts/", 1))
		}, 403, "SignatureDoesNotMatch"},
		{"unknown key", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), s.AccessKeyID, "AKIAUNKNOWNUNKNOWN00", 1))
		}, 403, "InvalidClientTokenId"},
		{"wrong signature", func(*http.Request) {}, 403, "SignatureDoesNotMatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, env := rawError(t, s, tc.mod)
			if st != tc.status || env.Code != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", st, env.Code, env.Message, tc.status, tc.code)
			}
			wantType := "Sender"
			if st >= 500 {
				wantType = "Receiver"
			}
			if env.Type != wantType {
				t.Fatalf("type = %q", env.Type)
			}
		})
	}
	// A correct key with the wrong secret fails the signature check.
	_, err := iamClient(s, s.AccessKeyID, "wrong-secret").GetUser(context.Background(), &iam.GetUserInput{})
	if errCode(err) != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %v", err)
	}
	// An action of another service is refused with the STS scope.
	_, err = stsClient(s, s.AccessKeyID, s.SecretAccessKey, "").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
}
