package aws

import (
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/awstest"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPathTable(t *testing.T) {
	b := newBackend(&logical.BackendConfig{})
	framework.TestPaths(t, b.paths())
}

func TestConfigRoot(t *testing.T) {
	h := newHarness(t)
	got := h.ok(logical.ReadOperation, "config/root", nil).Data
	if _, ok := got["secret_key"]; ok {
		t.Fatal("config/root read returned secret_key")
	}
	if got["access_key"] != h.aws.AccessKeyID || got["iam_endpoint"] != h.aws.URL || got["sts_endpoint"] != h.aws.URL ||
		got["region"] != "us-east-1" || got["max_retries"] != 0 || got["username_template"] != defaultUsernameTemplate {
		t.Fatalf("config/root = %v", got)
	}

	// Each write replaces the whole configuration; max_retries defaults to -1.
	h.ok(logical.UpdateOperation, "config/root", map[string]interface{}{"access_key": "AKIAX", "secret_key": "s", "username_template": "{{ .Type }}-x"})
	got = h.ok(logical.ReadOperation, "config/root", nil).Data
	if got["max_retries"] != -1 || got["iam_endpoint"] != "" || got["username_template"] != "{{ .Type }}-x" {
		t.Fatalf("config/root after rewrite = %v", got)
	}

	cases := []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"bad template", map[string]interface{}{"access_key": "a", "secret_key": "b", "username_template": "{{ .Type "}, "invalid username_template"},
		{"access key alone", map[string]interface{}{"access_key": "a"}, "access_key and secret_key"},
		{"max_retries not a number", map[string]interface{}{"max_retries": "many"}, "max_retries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { h.fail(logical.UpdateOperation, "config/root", tc.data, tc.want) })
	}
}

func TestConfigRootNotFound(t *testing.T) {
	b := newBackend(&logical.BackendConfig{})
	h := &harness{t: t, b: b, s: logical.NewInmemStorage()}
	if resp := h.ok(logical.ReadOperation, "config/root", nil); resp != nil {
		t.Fatalf("read of missing config/root = %v", resp)
	}
	if resp := h.ok(logical.ReadOperation, "config/lease", nil); resp != nil {
		t.Fatalf("read of missing config/lease = %v", resp)
	}
	h.fail(logical.UpdateOperation, "config/rotate-root", nil, "no configuration found for config/root")
}

func TestConfigLease(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "config/lease", map[string]interface{}{"lease": "1h", "lease_max": "4h"})
	got := h.ok(logical.ReadOperation, "config/lease", nil).Data
	if got["lease"] != "1h0m0s" || got["lease_max"] != "4h0m0s" {
		t.Fatalf("config/lease = %v", got)
	}
	h.ok(logical.UpdateOperation, "config/lease", map[string]interface{}{"lease": "90", "lease_max": "2d"})
	if got := h.ok(logical.ReadOperation, "config/lease", nil).Data; got["lease"] != "1m30s" || got["lease_max"] != "48h0m0s" {
		t.Fatalf("config/lease = %v", got)
	}
	cases := []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"no lease", map[string]interface{}{"lease_max": "1h"}, "'lease' is a required parameter"},
		{"no lease_max", map[string]interface{}{"lease": "1h"}, "'lease_max' is a required parameter"},
		{"bad lease", map[string]interface{}{"lease": "soon", "lease_max": "1h"}, "Invalid lease"},
		{"bad lease_max", map[string]interface{}{"lease": "1h", "lease_max": "later"}, "Invalid lease_max"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { h.fail(logical.UpdateOperation, "config/lease", tc.data, tc.want) })
	}
}

func TestRotateRoot(t *testing.T) {
	h := newHarness(t)
	old := h.aws.AccessKeyID
	resp := h.ok(logical.UpdateOperation, "config/rotate-root", nil)
	newKey, _ := resp.Data["access_key"].(string)
	if newKey == "" || newKey == old {
		t.Fatalf("rotate-root = %v", resp.Data)
	}
	root := h.aws.User(awstest.RootUserName)
	if len(root.AccessKeys) != 1 || root.AccessKeys[0] != newKey {
		t.Fatalf("root user keys = %v, want only %s", root.AccessKeys, newKey)
	}
	if got := h.ok(logical.ReadOperation, "config/root", nil).Data["access_key"]; got != newKey {
		t.Fatalf("stored access_key = %v", got)
	}
	// The engine keeps working with the new key.
	h.ok(logical.UpdateOperation, "roles/r", map[string]interface{}{"credential_type": "iam_user", "policy_document": testPolicy})
	h.ok(logical.ReadOperation, "creds/r", nil)

	// When AWS refuses the new key, nothing changes.
	h.aws.FailNext("CreateAccessKey", "LimitExceeded")
	if _, err := h.do(logical.UpdateOperation, "config/rotate-root", nil); err == nil {
		t.Fatal("rotate-root succeeded despite CreateAccessKey failing")
	}
	if got := h.ok(logical.ReadOperation, "config/root", nil).Data["access_key"]; got != newKey {
		t.Fatalf("access_key changed after a failed rotation: %v", got)
	}
	if keys := h.aws.User(awstest.RootUserName).AccessKeys; !slices.Equal(keys, []string{newKey}) {
		t.Fatalf("root keys after failed rotation = %v", keys)
	}

	// Without static credentials there is nothing to rotate.
	h.ok(logical.UpdateOperation, "config/root", map[string]interface{}{"iam_endpoint": h.aws.URL})
	h.fail(logical.UpdateOperation, "config/rotate-root", nil, "either access_key or secret_key is empty")
}
