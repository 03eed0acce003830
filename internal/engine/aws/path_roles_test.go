package aws

import (
	"reflect"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestRoleWriteRead(t *testing.T) {
	h := newHarness(t)
	h.ok(logical.UpdateOperation, "roles/s3-readonly", map[string]interface{}{
		"credential_type": "iam_user", "policy_document": testPolicy,
		"policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::123456789012:policy/extra",
		"iam_groups":  []interface{}{"devs"}, "iam_tags": []interface{}{"team=infra", "env=test"},
		"user_path": "/coffer/", "permissions_boundary_arn": "arn:aws:iam::123456789012:policy/boundary",
	})
	got := h.ok(logical.ReadOperation, "roles/s3-readonly", nil).Data
	want := map[string]interface{}{
		"credential_type":          "iam_user",
		"policy_arns":              []string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/extra"},
		"role_arns":                []string(nil),
		"policy_document":          `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
		"iam_groups":               []string{"devs"},
		"iam_tags":                 map[string]string{"team": "infra", "env": "test"},
		"session_tags":             map[string]string(nil),
		"external_id":              "",
		"default_sts_ttl":          int64(0),
		"max_sts_ttl":              int64(0),
		"user_path":                "/coffer/",
		"permissions_boundary_arn": "arn:aws:iam::123456789012:policy/boundary",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("role =\n%#v\nwant\n%#v", got, want)
	}

	// An update keeps what it does not name.
	h.ok(logical.UpdateOperation, "roles/s3-readonly", map[string]interface{}{"iam_groups": ""})
	got = h.ok(logical.ReadOperation, "roles/s3-readonly", nil).Data
	if got["policy_document"] != want["policy_document"] || len(got["iam_groups"].([]string)) != 0 || got["user_path"] != "/coffer/" {
		t.Fatalf("role after partial update = %v", got)
	}

	h.ok(logical.UpdateOperation, "roles/deploy-role", map[string]interface{}{
		"credential_type": "assumed_role", "role_arns": "arn:aws:iam::123456789012:role/DeployRole",
		"default_sts_ttl": "1h", "max_sts_ttl": "4h", "session_tags": map[string]interface{}{"team": "infra"}, "external_id": "ext",
	})
	got = h.ok(logical.ReadOperation, "roles/deploy-role", nil).Data
	if got["default_sts_ttl"] != int64(3600) || got["max_sts_ttl"] != int64(14400) || got["external_id"] != "ext" ||
		!reflect.DeepEqual(got["session_tags"], map[string]string{"team": "infra"}) || got["credential_type"] != "assumed_role" {
		t.Fatalf("assumed_role role = %v", got)
	}

	keys := h.ok(logical.ListOperation, "roles/", nil).Data["keys"]
	if !reflect.DeepEqual(keys, []string{"deploy-role", "s3-readonly"}) {
		t.Fatalf("list = %v", keys)
	}
	h.ok(logical.DeleteOperation, "roles/deploy-role", nil)
	if resp := h.ok(logical.ReadOperation, "roles/deploy-role", nil); resp != nil {
		t.Fatalf("deleted role reads %v", resp)
	}
	if keys := h.ok(logical.ListOperation, "roles", nil).Data["keys"]; !reflect.DeepEqual(keys, []string{"s3-readonly"}) {
		t.Fatalf("list after delete = %v", keys)
	}
}

func TestRoleValidation(t *testing.T) {
	h := newHarness(t)
	role := "arn:aws:iam::123456789012:role/R"
	cases := []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"invalid policy JSON", map[string]interface{}{"credential_type": "iam_user", "policy_document": `{"Statement": [}`}, "cannot parse policy_document"},
		{"policy not an object", map[string]interface{}{"credential_type": "iam_user", "policy_document": `["x"]`}, "cannot parse policy_document"},
		{"wrong credential_type", map[string]interface{}{"credential_type": "root_user"}, `unrecognized credential_type "root_user"`},
		{"no credential_type", map[string]interface{}{"policy_document": testPolicy}, "did not supply credential_type"},
		{"default above max", map[string]interface{}{"credential_type": "assumed_role", "role_arns": role, "default_sts_ttl": "2h", "max_sts_ttl": "1h"}, `"default_sts_ttl" value must be less than or equal to "max_sts_ttl"`},
		{"sts ttl on iam_user", map[string]interface{}{"credential_type": "iam_user", "max_sts_ttl": "1h"}, "max_sts_ttl parameter only valid"},
		{"default sts ttl on iam_user", map[string]interface{}{"credential_type": "iam_user", "default_sts_ttl": "1h"}, "default_sts_ttl parameter only valid"},
		{"role_arns on iam_user", map[string]interface{}{"credential_type": "iam_user", "role_arns": role}, "cannot supply role_arns"},
		{"user_path on sts", map[string]interface{}{"credential_type": "federation_token", "user_path": "/x/"}, "user_path parameter only valid"},
		{"bad user_path", map[string]interface{}{"credential_type": "iam_user", "user_path": "nope"}, "user_path is invalid"},
		{"boundary on sts", map[string]interface{}{"credential_type": "assumed_role", "role_arns": role, "permissions_boundary_arn": "arn:aws:iam::123456789012:policy/b"}, "cannot supply permissions_boundary_arn"},
		{"bad boundary", map[string]interface{}{"credential_type": "iam_user", "permissions_boundary_arn": "arn:aws:s3:::bucket"}, "invalid permissions_boundary_arn"},
		{"session_tags on federation", map[string]interface{}{"credential_type": "federation_token", "session_tags": "a=b"}, "cannot supply session_tags"},
		{"external_id on iam_user", map[string]interface{}{"credential_type": "iam_user", "external_id": "x"}, "cannot supply external_id"},
		{"bad ttl", map[string]interface{}{"credential_type": "assumed_role", "max_sts_ttl": "forever"}, `field "max_sts_ttl"`},
		{"legacy with new", map[string]interface{}{"arn": role, "credential_type": "assumed_role"}, "cannot supply deprecated role or policy parameters with credential_type"},
		{"legacy both", map[string]interface{}{"arn": role, "policy": testPolicy}, "only one of policy or arn"},
		{"legacy bad arn", map[string]interface{}{"arn": "arn:aws:s3:::bucket/x"}, "unable to parse supplied data"},
		{"legacy bad policy", map[string]interface{}{"policy": "{"}, "unable to parse supplied data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.fail(logical.UpdateOperation, "roles/bad", tc.data, tc.want)
			if resp := h.ok(logical.ReadOperation, "roles/bad", nil); resp != nil {
				t.Fatalf("invalid role was stored: %v", resp.Data)
			}
		})
	}
}

func TestLegacyRoles(t *testing.T) {
	h := newHarness(t)
	resp := h.ok(logical.UpdateOperation, "roles/legacy-arn", map[string]interface{}{"arn": "arn:aws:iam::123456789012:role/Old"})
	if resp == nil || len(resp.Warnings) != 1 {
		t.Fatalf("legacy write response = %v", resp)
	}
	got := h.ok(logical.ReadOperation, "roles/legacy-arn", nil).Data
	if got["credential_type"] != "assumed_role" || !reflect.DeepEqual(got["role_arns"], []string{"arn:aws:iam::123456789012:role/Old"}) {
		t.Fatalf("legacy arn role = %v", got)
	}
	h.ok(logical.UpdateOperation, "roles/legacy-policy-arn", map[string]interface{}{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
	if got := h.ok(logical.ReadOperation, "roles/legacy-policy-arn", nil).Data; got["credential_type"] != "iam_user" {
		t.Fatalf("legacy policy arn role = %v", got)
	}
	h.ok(logical.UpdateOperation, "roles/legacy-policy", map[string]interface{}{"policy": testPolicy})
	if got := h.ok(logical.ReadOperation, "roles/legacy-policy", nil).Data; got["credential_type"] != "iam_user,federation_token" {
		t.Fatalf("legacy policy role = %v", got)
	}

	// A legacy policy role gives IAM users through creds/ and federation
	// tokens through sts/; a legacy role ARN only works through sts/.
	data := h.ok(logical.ReadOperation, "creds/legacy-policy", nil).Data
	if data["security_token"] != nil {
		t.Fatalf("creds/ of a legacy policy role = %v", data)
	}
	if data := h.ok(logical.UpdateOperation, "sts/legacy-policy", nil).Data; data["security_token"] == "" {
		t.Fatalf("sts/ of a legacy policy role = %v", data)
	}
	h.fail(logical.ReadOperation, "creds/legacy-arn", nil, "through the creds path; this is not allowed for legacy roles")
	h.fail(logical.ReadOperation, "sts/legacy-policy-arn", nil, "through the sts path; this is not allowed for legacy roles")
	h.ok(logical.UpdateOperation, "sts/legacy-arn", nil)
}
