package aws

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/coffer-dev/coffer/internal/logical"
)

func fullRole(h *harness) {
	h.t.Helper()
	h.aws.CreateGroup("devs", nil)
	h.ok(logical.UpdateOperation, "roles/full", map[string]interface{}{
		"credential_type": "iam_user", "policy_document": testPolicy, "iam_groups": "devs",
		"policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess",
	})
}

// A failure after the user exists removes it at once.
func TestFailedCreationCleansUp(t *testing.T) {
	for _, action := range []string{"AttachUserPolicy", "PutUserPolicy", "AddUserToGroup", "CreateAccessKey"} {
		t.Run(action, func(t *testing.T) {
			h := newHarness(t)
			fullRole(h)
			h.aws.FailNext(action, "ServiceFailure")
			h.fail(logical.ReadOperation, "creds/full", nil, "ServiceFailure")
			if u := h.dynamicUsers(); len(u) != 0 {
				t.Fatalf("users left: %v", u)
			}
			if w := h.wals(); len(w) != 0 {
				t.Fatalf("write-ahead records left: %v", w)
			}
		})
	}
}

// When the cleanup fails too, the write-ahead record stays and rollback
// deletes the half-created user later.
func TestRollbackOfHalfCreatedUser(t *testing.T) {
	h := newHarness(t)
	fullRole(h)
	h.aws.FailNext("CreateAccessKey", "ServiceFailure")
	h.aws.FailNext("ListAccessKeys", "ServiceFailure")
	h.fail(logical.ReadOperation, "creds/full", nil, "Error creating access keys")
	users := h.dynamicUsers()
	if len(users) != 1 || len(h.wals()) != 1 {
		t.Fatalf("users %v, records %v: want the half-created user and its record", users, h.wals())
	}
	u := h.aws.User(users[0])
	if len(u.InlinePolicies) != 1 || len(u.Groups) != 1 || len(u.AttachedPolicies) != 1 {
		t.Fatalf("half-created user = %+v", u)
	}
	// Rollback during an outage keeps the record.
	h.aws.SetDown(true)
	if err := h.rollback(); err == nil {
		t.Fatal("rollback succeeded during an outage")
	}
	h.aws.SetDown(false)
	if len(h.wals()) != 1 {
		t.Fatal("record dropped by a failed rollback")
	}
	if err := h.rollback(); err != nil {
		t.Fatal(err)
	}
	if len(h.dynamicUsers()) != 0 || len(h.wals()) != 0 {
		t.Fatalf("after rollback: users %v, records %v", h.dynamicUsers(), h.wals())
	}
}

// A crash after the user was created but before the core stored the lease
// leaves the record; the next process rolls it back.
func TestRollbackAfterCrash(t *testing.T) {
	h := newHarness(t)
	fullRole(h)
	resp := h.ok(logical.ReadOperation, "creds/full", nil)
	name := resp.Secret.InternalData["username"].(string)
	if h.aws.User(name) == nil || len(h.wals()) != 1 {
		t.Fatal("credential not issued with its record")
	}
	// A new process on the same storage.
	h.b = newBackend(&logical.BackendConfig{System: fakeSystem{}})
	if err := h.rollback(); err != nil {
		t.Fatal(err)
	}
	if h.aws.User(name) != nil || len(h.wals()) != 0 {
		t.Fatalf("after rollback: user %v, records %v", h.aws.User(name), h.wals())
	}
	// Young records of requests in flight are left alone.
	h.ok(logical.ReadOperation, "creds/full", nil)
	h.b.Backend.WALRollbackMinAge = walRollbackMinAge
	if _, err := h.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.RollbackOperation, Storage: h.s}); err != nil {
		t.Fatal(err)
	}
	if len(h.dynamicUsers()) != 1 || len(h.wals()) != 1 {
		t.Fatal("rollback touched a record younger than the minimum age")
	}
}

// An outage during CreateUser leaves it unknown whether the user exists:
// the record stays, and rollback clears it once AWS answers.
func TestRollbackAfterOutageDuringCreate(t *testing.T) {
	h := newHarness(t)
	fullRole(h)
	h.aws.SetDown(true)
	h.fail(logical.ReadOperation, "creds/full", nil, "Error creating IAM user")
	h.aws.SetDown(false)
	if len(h.wals()) != 1 {
		t.Fatalf("records = %v", h.wals())
	}
	if err := h.rollback(); err != nil {
		t.Fatal(err)
	}
	if len(h.wals()) != 0 || len(h.dynamicUsers()) != 0 {
		t.Fatalf("after rollback: records %v, users %v", h.wals(), h.dynamicUsers())
	}
}

// A name collision never deletes the existing user.
func TestExistingUserIsNotTouched(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "config/root", map[string]interface{}{
		"access_key": h.aws.AccessKeyID, "secret_key": h.aws.SecretAccessKey, "iam_endpoint": h.aws.URL, "max_retries": 0,
		"username_template": "fixed-name",
	})
	fullRole(h)
	if _, err := h.iam().CreateUser(context.Background(), &iam.CreateUserInput{UserName: awssdk.String("fixed-name")}); err != nil {
		t.Fatal(err)
	}
	h.fail(logical.ReadOperation, "creds/full", nil, "EntityAlreadyExists")
	if len(h.wals()) != 0 {
		t.Fatalf("records = %v", h.wals())
	}
	if err := h.rollback(); err != nil {
		t.Fatal(err)
	}
	if h.aws.User("fixed-name") == nil {
		t.Fatal("an existing user was deleted")
	}
}
