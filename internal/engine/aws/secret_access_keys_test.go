package aws

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/coffer-dev/coffer/internal/logical"
)

// issueUser creates a role with every kind of attachment and returns a
// credential's secret and user name.
func issueUser(h *harness) (*logical.Secret, string) {
	h.t.Helper()
	h.aws.CreateGroup("devs", nil)
	h.ok(logical.UpdateOperation, "roles/full", map[string]interface{}{
		"credential_type": "iam_user", "policy_document": testPolicy, "iam_groups": "devs",
		"policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::aws:policy/ViewOnly",
	})
	resp := h.ok(logical.ReadOperation, "creds/full", nil)
	return resp.Secret, resp.Secret.InternalData["username"].(string)
}

func TestRevokeRemovesEverything(t *testing.T) {
	h := newHarness(t)
	secret, name := issueUser(h)
	// A second key on the user, as if added behind the engine's back.
	if _, err := h.iam().CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: awssdk.String(name)}); err != nil {
		t.Fatal(err)
	}
	getUsers := h.aws.Calls("GetUser")
	if _, err := h.lease(logical.RevokeOperation, secret, 0); err != nil {
		t.Fatal(err)
	}
	if h.aws.User(name) != nil || len(h.dynamicUsers()) != 0 {
		t.Fatalf("users left after revoke: %v", h.aws.Users())
	}
	if h.aws.Calls("GetUser") != getUsers+1 {
		t.Fatal("revocation was not verified with GetUser")
	}
	for _, action := range []string{"DeleteAccessKey", "DetachUserPolicy", "DeleteUserPolicy", "RemoveUserFromGroup", "DeleteUser"} {
		if h.aws.Calls(action) == 0 {
			t.Errorf("%s was never called", action)
		}
	}
	if h.aws.Calls("DeleteAccessKey") != 2 || h.aws.Calls("DetachUserPolicy") != 2 {
		t.Fatalf("deleted %d keys and detached %d policies, want 2 and 2", h.aws.Calls("DeleteAccessKey"), h.aws.Calls("DetachUserPolicy"))
	}
	// Revoking again is a no-op: the user is gone.
	if _, err := h.lease(logical.RevokeOperation, secret, 0); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
}

func TestRevokeToleratesPartialDeletion(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(c *iam.Client, name string) error
	}{
		{"keys already deleted", func(c *iam.Client, name string) error {
			keys, err := c.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: awssdk.String(name)})
			if err != nil {
				return err
			}
			for _, k := range keys.AccessKeyMetadata {
				if _, err := c.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: awssdk.String(name), AccessKeyId: k.AccessKeyId}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"policies already removed", func(c *iam.Client, name string) error {
			if _, err := c.DeleteUserPolicy(context.Background(), &iam.DeleteUserPolicyInput{UserName: awssdk.String(name), PolicyName: awssdk.String("full")}); err != nil {
				return err
			}
			_, err := c.DetachUserPolicy(context.Background(), &iam.DetachUserPolicyInput{UserName: awssdk.String(name), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/ViewOnly")})
			return err
		}},
		{"user already deleted", func(c *iam.Client, name string) error {
			return deleteIAMUser(context.Background(), c, name)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			secret, name := issueUser(h)
			if err := tc.prepare(h.iam(), name); err != nil {
				t.Fatal(err)
			}
			if _, err := h.lease(logical.RevokeOperation, secret, 0); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if h.aws.User(name) != nil {
				t.Fatal("user still exists")
			}
		})
	}
}

// A NoSuchEntity on any step (a race with another cleaner, or a stale
// answer) is skipped, but revocation never reports success while the user
// exists: what was skipped makes DeleteUser or the final GetUser fail, and
// the retry finishes the job.
func TestRevokeNeverTrustsNoSuchEntityAlone(t *testing.T) {
	for _, action := range []string{"ListAccessKeys", "ListAttachedUserPolicies", "ListUserPolicies", "ListGroupsForUser", "DeleteAccessKey", "DetachUserPolicy", "DeleteUserPolicy", "RemoveUserFromGroup"} {
		t.Run(action, func(t *testing.T) {
			h := newHarness(t)
			secret, name := issueUser(h)
			h.aws.FailNext(action, "NoSuchEntity")
			_, err := h.lease(logical.RevokeOperation, secret, 0)
			if err == nil && h.aws.User(name) != nil {
				t.Fatal("revoke reported success but the user exists")
			}
			if err != nil {
				if _, err := h.lease(logical.RevokeOperation, secret, 0); err != nil {
					t.Fatalf("retry: %v", err)
				}
			}
			if h.aws.User(name) != nil {
				t.Fatal("user still exists")
			}
		})
	}
}

func TestRevokeDuringOutage(t *testing.T) {
	h := newHarness(t)
	secret, name := issueUser(h)
	h.aws.SetDown(true)
	_, err := h.lease(logical.RevokeOperation, secret, 0)
	if err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") {
		t.Fatalf("revoke during outage: %v", err)
	}
	if h.aws.User(name) == nil {
		t.Fatal("user vanished during the outage")
	}
	h.aws.SetDown(false)
	// Any failure other than NoSuchEntity is returned for retry.
	h.aws.FailNext("DeleteUser", "ServiceFailure")
	if _, err := h.lease(logical.RevokeOperation, secret, 0); err == nil {
		t.Fatal("revoke ignored a DeleteUser failure")
	}
	if _, err := h.lease(logical.RevokeOperation, secret, 0); err != nil {
		t.Fatalf("revoke after the outage: %v", err)
	}
	if h.aws.User(name) != nil {
		t.Fatal("user still exists")
	}
}

func TestRevokeRetriesWithSDKDefaults(t *testing.T) {
	h := newHarness(t)
	secret, name := issueUser(h)
	// max_retries -1: the SDK retries a transient failure by itself.
	h.ok(logical.UpdateOperation, "config/root", map[string]interface{}{
		"access_key": h.aws.AccessKeyID, "secret_key": h.aws.SecretAccessKey, "iam_endpoint": h.aws.URL,
	})
	h.aws.FailNext("DeleteUser", "ServiceUnavailable")
	if _, err := h.lease(logical.RevokeOperation, secret, 0); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if h.aws.User(name) != nil || h.aws.Calls("DeleteUser") != 2 {
		t.Fatalf("user %v, DeleteUser calls %d", h.aws.User(name), h.aws.Calls("DeleteUser"))
	}
}

func TestRevokeSTSIsNoOp(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "roles/fed", map[string]interface{}{"credential_type": "federation_token", "policy_document": testPolicy})
	resp := h.ok(logical.ReadOperation, "sts/fed", nil)
	calls := h.aws.Calls("DeleteUser") + h.aws.Calls("ListAccessKeys")
	if _, err := h.lease(logical.RevokeOperation, resp.Secret, 0); err != nil {
		t.Fatal(err)
	}
	if h.aws.Calls("DeleteUser")+h.aws.Calls("ListAccessKeys") != calls {
		t.Fatal("revoking STS credentials called IAM")
	}
	if _, err := h.lease(logical.RenewOperation, resp.Secret, time.Hour); err == nil || !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("renew of STS credentials: %v", err)
	}
	bad := &logical.Secret{InternalData: map[string]interface{}{"secret_type": secretAccessKeys, "is_sts": "yes"}}
	if _, err := h.lease(logical.RevokeOperation, bad, 0); err == nil {
		t.Fatal("malformed is_sts accepted")
	}
	noUser := &logical.Secret{InternalData: map[string]interface{}{"secret_type": secretAccessKeys, "is_sts": false}}
	if _, err := h.lease(logical.RevokeOperation, noUser, 0); err == nil {
		t.Fatal("secret without username accepted")
	}
}

func TestRenewIAMUser(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "config/lease", map[string]interface{}{"lease": "1h", "lease_max": "3h"})
	secret, _ := issueUser(h)
	secret.IssueTime = time.Now().Add(-90 * time.Minute)
	cases := []struct {
		name      string
		increment time.Duration
		want      time.Duration
		warn      bool
	}{
		{"default lease", 0, time.Hour, false},
		{"increment", 30 * time.Minute, 30 * time.Minute, false},
		{"capped by lease_max", 2 * time.Hour, 90 * time.Minute, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.lease(logical.RenewOperation, secret, tc.increment)
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Secret.TTL
			if got > tc.want || got < tc.want-5*time.Second || (len(resp.Warnings) > 0) != tc.warn {
				t.Fatalf("ttl = %v (warnings %v), want %v", got, resp.Warnings, tc.want)
			}
		})
	}
	secret.IssueTime = time.Now().Add(-4 * time.Hour)
	if _, err := h.lease(logical.RenewOperation, secret, 0); err == nil || !strings.Contains(err.Error(), "past the max TTL") {
		t.Fatalf("renew past lease_max: %v", err)
	}
}
