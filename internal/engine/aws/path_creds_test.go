package aws

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

var iamUserNameRe = regexp.MustCompile(`^vault-token-s3-readonly-\d{10}-[A-Za-z0-9]{20}$`)

func TestIAMUserCreds(t *testing.T) {
	h := newHarness(t)
	h.aws.CreateGroup("devs", nil)
	h.ok(logical.UpdateOperation, "config/lease", map[string]interface{}{"lease": "1h", "lease_max": "4h"})
	h.ok(logical.UpdateOperation, "roles/s3-readonly", map[string]interface{}{
		"credential_type": "iam_user", "policy_document": testPolicy,
		"policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess", "iam_groups": "devs", "iam_tags": "team=infra",
		"user_path": "/coffer/", "permissions_boundary_arn": "arn:aws:iam::123456789012:policy/boundary",
	})
	for _, op := range []logical.Operation{logical.ReadOperation, logical.UpdateOperation} {
		resp := h.ok(op, "creds/s3-readonly", nil)
		if resp.Secret == nil || !resp.Secret.Renewable || resp.Secret.TTL != time.Hour || resp.Secret.MaxTTL != 4*time.Hour {
			t.Fatalf("lease = %+v", resp.Secret)
		}
		if v, ok := resp.Data["security_token"]; !ok || v != nil {
			t.Fatalf("security_token = %v (present %v), want null", v, ok)
		}
		in := resp.Secret.InternalData
		name, _ := in["username"].(string)
		if !iamUserNameRe.MatchString(name) || in["secret_type"] != secretAccessKeys || in["is_sts"] != false {
			t.Fatalf("internal data = %v", in)
		}
		u := h.aws.User(name)
		if u == nil {
			t.Fatalf("user %s not created", name)
		}
		if !slices.Equal(u.AccessKeys, []string{resp.Data["access_key"].(string)}) || u.Path != "/coffer/" ||
			u.InlinePolicies["s3-readonly"] == "" || !slices.Equal(u.AttachedPolicies, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}) ||
			!slices.Equal(u.Groups, []string{"devs"}) || u.Tags["team"] != "infra" || u.PermissionsBoundary == "" {
			t.Fatalf("user = %+v", u)
		}
		if arn := callerARN(t, h.aws, resp.Data); arn != u.ARN {
			t.Fatalf("credentials belong to %s, want %s", arn, u.ARN)
		}
		// The write-ahead record stays until the core stores the lease.
		walID, _ := in[framework.WALInternalKey].(string)
		if walID == "" || !slices.Contains(h.wals(), walID) {
			t.Fatalf("write-ahead record %q not kept (records %v)", walID, h.wals())
		}
	}
	if n := len(h.dynamicUsers()); n != 2 {
		t.Fatalf("%d users, want 2", n)
	}
}

func TestIAMUserLeaseWithoutConfig(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "roles/r", map[string]interface{}{"credential_type": "iam_user", "policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
	// Without config/lease the mount's TTLs apply (TTL 0 = default).
	if resp := h.ok(logical.ReadOperation, "creds/r", nil); resp.Secret.TTL != 0 || !resp.Secret.Renewable {
		t.Fatalf("lease without config/lease = %+v", resp.Secret)
	}
	// A lease longer than lease_max is cut to it.
	h.ok(logical.UpdateOperation, "config/lease", map[string]interface{}{"lease": "2h", "lease_max": "30m"})
	if resp := h.ok(logical.ReadOperation, "creds/r", nil); resp.Secret.TTL != 30*time.Minute {
		t.Fatalf("lease above lease_max = %v", resp.Secret.TTL)
	}
}

func TestUsernameTemplateApplies(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "config/root", map[string]interface{}{
		"access_key": h.aws.AccessKeyID, "secret_key": h.aws.SecretAccessKey, "iam_endpoint": h.aws.URL, "sts_endpoint": h.aws.URL,
		"max_retries": 0, "username_template": `{{ if eq .Type "STS" }}fed-{{ random 8 }}{{ else }}app-{{ .PolicyName | lowercase }}-{{ random 6 }}{{ end }}`,
	})
	h.ok(logical.UpdateOperation, "roles/Web", map[string]interface{}{"credential_type": "iam_user", "policy_document": testPolicy})
	name := h.ok(logical.ReadOperation, "creds/Web", nil).Secret.InternalData["username"].(string)
	if !regexp.MustCompile(`^app-web-[A-Za-z0-9]{6}$`).MatchString(name) || h.aws.User(name) == nil {
		t.Fatalf("user name %q", name)
	}
	h.ok(logical.UpdateOperation, "roles/fed", map[string]interface{}{"credential_type": "federation_token", "policy_document": testPolicy})
	fed := h.ok(logical.UpdateOperation, "sts/fed", nil)
	if name := fed.Secret.InternalData["username"].(string); !regexp.MustCompile(`^fed-[A-Za-z0-9]{8}$`).MatchString(name) {
		t.Fatalf("federated user name %q", name)
	}
	// A template producing names longer than IAM allows is refused at use.
	h.ok(logical.UpdateOperation, "config/root", map[string]interface{}{
		"access_key": h.aws.AccessKeyID, "secret_key": h.aws.SecretAccessKey, "iam_endpoint": h.aws.URL, "username_template": `{{ random 65 }}`,
	})
	if _, err := h.do(logical.ReadOperation, "creds/Web", nil); err == nil || !strings.Contains(err.Error(), "exceeds the IAM username length limits of 64") {
		t.Fatalf("long name: %v", err)
	}
}

func TestAssumedRoleCreds(t *testing.T) {
	h := newHarness(t)
	h.aws.CreateGroup("ops", map[string]string{"extra": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}}`}, "arn:aws:iam::aws:policy/ViewOnly")
	roleA, roleB := "arn:aws:iam::123456789012:role/DeployRole", "arn:aws:iam::123456789012:role/Other"
	h.ok(logical.UpdateOperation, "roles/deploy-role", map[string]interface{}{
		"credential_type": "assumed_role", "role_arns": roleA, "default_sts_ttl": "30m", "max_sts_ttl": "4h",
		"policy_document": testPolicy, "policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess", "iam_groups": "ops",
		"session_tags": "team=infra", "external_id": "ext-42",
	})
	start := time.Now()
	resp := h.ok(logical.ReadOperation, "sts/deploy-role", nil)
	if resp.Secret == nil || resp.Secret.Renewable {
		t.Fatalf("lease = %+v", resp.Secret)
	}
	if ttl := resp.Secret.TTL; ttl < 29*time.Minute || ttl > 30*time.Minute {
		t.Fatalf("ttl = %v, want the default_sts_ttl of 30m", ttl)
	}
	tok, _ := resp.Data["security_token"].(string)
	arn, _ := resp.Data["arn"].(string)
	if tok == "" || !strings.HasPrefix(arn, "arn:aws:sts::123456789012:assumed-role/DeployRole/vault-token-deploy-role-") {
		t.Fatalf("data = %v", resp.Data)
	}
	if got := callerARN(t, h.aws, resp.Data); got != arn {
		t.Fatalf("caller = %s, want %s", got, arn)
	}
	sess := h.aws.Session(resp.Data["access_key"].(string))
	if sess.RoleARN != roleA || sess.ExternalID != "ext-42" || sess.Tags["team"] != "infra" ||
		!slices.Equal(sess.PolicyARNs, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/ViewOnly"}) ||
		!strings.Contains(sess.Policy, "ec2:Describe*") || !strings.Contains(sess.Policy, "s3:GetObject") {
		t.Fatalf("session = %+v", sess)
	}
	if d := sess.Expiration.Sub(start); d < 29*time.Minute || d > 31*time.Minute {
		t.Fatalf("expiration in %v", d)
	}

	// ttl and role_session_name on request; beyond max_sts_ttl the ttl is capped.
	resp = h.ok(logical.UpdateOperation, "sts/deploy-role", map[string]interface{}{"ttl": "8h", "role_session_name": "my session"})
	if ttl := resp.Secret.TTL; ttl < 4*time.Hour-time.Minute || ttl > 4*time.Hour || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "max_sts_ttl") {
		t.Fatalf("capped lease = %v, warnings %v", ttl, resp.Warnings)
	}
	if s := h.aws.Session(resp.Data["access_key"].(string)); s.Name != "my_session" || s.Duration != 4*time.Hour {
		t.Fatalf("session = %+v", s)
	}

	// With several role ARNs the request must pick an allowed one.
	h.ok(logical.UpdateOperation, "roles/deploy-role", map[string]interface{}{"role_arns": roleA + "," + roleB})
	h.fail(logical.UpdateOperation, "sts/deploy-role", nil, "did not supply a role_arn parameter")
	h.fail(logical.UpdateOperation, "sts/deploy-role", map[string]interface{}{"role_arn": "arn:aws:iam::123456789012:role/Nope"}, "not in allowed role arns")
	resp = h.ok(logical.UpdateOperation, "sts/deploy-role", map[string]interface{}{"role_arn": roleB, "ttl": 900})
	if s := h.aws.Session(resp.Data["access_key"].(string)); s.RoleARN != roleB || s.Duration != 15*time.Minute {
		t.Fatalf("session = %+v", s)
	}

	// AWS refusing the call is a 400 carrying its error.
	h.fail(logical.UpdateOperation, "sts/deploy-role", map[string]interface{}{"role_arn": roleB, "ttl": 60}, "Error assuming role")
	h.aws.FailNext("AssumeRole", "AccessDenied")
	h.fail(logical.UpdateOperation, "sts/deploy-role", map[string]interface{}{"role_arn": roleB}, "AccessDenied")
	h.fail(logical.ReadOperation, "sts/missing", nil, `Role "missing" not found`)
}

func TestFederationTokenCreds(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "roles/ci-federation", map[string]interface{}{"credential_type": "federation_token", "policy_document": testPolicy, "default_sts_ttl": "1h"})
	resp := h.ok(logical.ReadOperation, "creds/ci-federation", nil)
	if resp.Secret.Renewable || resp.Secret.TTL < 59*time.Minute || resp.Secret.TTL > time.Hour || resp.Data["security_token"] == "" {
		t.Fatalf("federation token = %+v %v", resp.Secret, resp.Data)
	}
	if ttl, _ := resp.Data["ttl"].(int64); ttl < 3540 || ttl > 3600 {
		t.Fatalf("ttl field = %v", resp.Data["ttl"])
	}
	name := resp.Secret.InternalData["username"].(string)
	if len(name) > maxSTSNameLength || !strings.HasPrefix(name, "vault-") {
		t.Fatalf("federated user name %q", name)
	}
	sess := h.aws.Session(resp.Data["access_key"].(string))
	if sess == nil || sess.Action != "GetFederationToken" || sess.Policy == "" || sess.Name != name {
		t.Fatalf("session = %+v", sess)
	}
	if arn := callerARN(t, h.aws, resp.Data); arn != "arn:aws:sts::123456789012:federated-user/"+name {
		t.Fatalf("caller = %s", arn)
	}
	// Without a policy the token would carry the engine's own rights.
	h.ok(logical.UpdateOperation, "roles/open", map[string]interface{}{"credential_type": "federation_token"})
	h.fail(logical.UpdateOperation, "sts/open", nil, "must specify at least one of policy_arns or policy_document")
	// Without max_sts_ttl, the mount's max TTL caps the request.
	h.b.system = fakeSystem{def: time.Hour, max: 2 * time.Hour}
	resp = h.ok(logical.UpdateOperation, "sts/ci-federation", map[string]interface{}{"ttl": "36h"})
	if resp.Secret.TTL > 2*time.Hour || resp.Secret.TTL < 2*time.Hour-time.Minute || len(resp.Warnings) != 1 {
		t.Fatalf("capped by the mount: %v %v", resp.Secret.TTL, resp.Warnings)
	}
}
