package approle

import (
	"encoding/base64"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestSecretIDGenerate(t *testing.T) {
	cases := []struct {
		name string
		role map[string]interface{}
		req  map[string]interface{}
		want map[string]interface{} // expected lookup fields
		ttl  int64
		uses int
	}{
		{name: "role defaults", role: map[string]interface{}{"secret_id_ttl": "10m", "secret_id_num_uses": 5}, ttl: 600, uses: 5},
		{name: "unlimited", ttl: 0, uses: 0},
		{name: "request narrows the role", role: map[string]interface{}{"secret_id_ttl": "10m", "secret_id_num_uses": 5}, req: map[string]interface{}{"ttl": 60, "num_uses": 2}, ttl: 60, uses: 2},
		{name: "ttl capped by the mount", req: map[string]interface{}{"ttl": "10000h"}, ttl: 768 * 3600},
		{
			name: "metadata and CIDRs",
			role: map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/8", "token_bound_cidrs": "10.0.0.0/8"},
			req:  map[string]interface{}{"metadata": `{"tag1":"production","team":"x"}`, "cidr_list": "10.1.0.0/16", "token_bound_cidrs": []interface{}{"10.1.2.3"}},
			want: map[string]interface{}{"metadata": map[string]string{"tag1": "production", "team": "x"}, "cidr_list": []string{"10.1.0.0/16"}, "token_bound_cidrs": []string{"10.1.2.3"}},
		},
		{name: "key=value metadata", req: map[string]interface{}{"metadata": "a=1, b=2"}, want: map[string]interface{}{"metadata": map[string]string{"a": "1", "b": "2"}}},
		{name: "base64 metadata", req: map[string]interface{}{"metadata": base64.StdEncoding.EncodeToString([]byte(`{"k":"v"}`))}, want: map[string]interface{}{"metadata": map[string]string{"k": "v"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.createRole("r", tc.role)
			resp := h.ok(logical.UpdateOperation, "role/r/secret-id", tc.req)
			d := resp.Data
			if len(d) != 4 || d["secret_id_ttl"] != tc.ttl || d["secret_id_num_uses"] != tc.uses {
				t.Fatalf("response = %#v; want ttl %d uses %d", d, tc.ttl, tc.uses)
			}
			sid := d["secret_id"].(string)
			acc := d["secret_id_accessor"].(string)
			if len(sid) != 36 || len(acc) != 36 || sid == acc {
				t.Fatalf("secret_id %q / accessor %q are not distinct UUIDs", sid, acc)
			}
			look := h.ok(logical.UpdateOperation, "role/r/secret-id/lookup", map[string]interface{}{"secret_id": sid}).Data
			if look["secret_id_accessor"] != acc || look["secret_id_num_uses"] != tc.uses {
				t.Fatalf("lookup = %#v", look)
			}
			for k, v := range tc.want {
				if !reflect.DeepEqual(look[k], v) {
					t.Fatalf("lookup %s = %#v, want %#v", k, look[k], v)
				}
			}
			wantExp := "0001-01-01T00:00:00Z"
			if tc.ttl > 0 {
				wantExp = formatTime(h.clock.now().Add(time.Duration(tc.ttl) * time.Second))
			}
			if look["expiration_time"] != wantExp || look["creation_time"] != formatTime(h.clock.now()) {
				t.Fatalf("times = %v / %v, want expiry %s", look["creation_time"], look["expiration_time"], wantExp)
			}
			byAcc := h.ok(logical.UpdateOperation, "role/r/secret-id-accessor/lookup", map[string]interface{}{"secret_id_accessor": acc}).Data
			if !reflect.DeepEqual(byAcc, look) {
				t.Fatalf("accessor lookup %v differs from lookup %v", byAcc, look)
			}
		})
	}
}

func TestSecretIDGenerateErrors(t *testing.T) {
	cases := []struct {
		name string
		role map[string]interface{}
		path string
		req  map[string]interface{}
		kind error
		msg  string
	}{
		{"missing role", nil, "role/ghost/secret-id", nil, logical.ErrNotFound, `role "ghost" does not exist`},
		{"not bound to secret IDs", map[string]interface{}{"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"}, "role/r/secret-id", nil, logical.ErrInvalidRequest, "bind_secret_id is not set on the role"},
		{"malformed JSON metadata", nil, "role/r/secret-id", map[string]interface{}{"metadata": `{"a":`}, logical.ErrInvalidRequest, "failed to parse metadata"},
		{"non-string metadata", nil, "role/r/secret-id", map[string]interface{}{"metadata": `{"a":1}`}, logical.ErrInvalidRequest, `failed to parse metadata: value of key "a" is not a string`},
		{"metadata not pairs", nil, "role/r/secret-id", map[string]interface{}{"metadata": "justtext"}, logical.ErrInvalidRequest, "failed to parse metadata"},
		{"metadata as object", nil, "role/r/secret-id", map[string]interface{}{"metadata": map[string]interface{}{"a": "b"}}, logical.ErrInvalidRequest, `field "metadata"`},
		{"bad cidr_list", nil, "role/r/secret-id", map[string]interface{}{"cidr_list": "300.0.0.0/8"}, logical.ErrInvalidRequest, "failed to validate CIDR blocks"},
		{"cidr_list outside the role", map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/8"}, "role/r/secret-id", map[string]interface{}{"cidr_list": "11.0.0.0/16"}, logical.ErrInvalidRequest, "failed to verify subset relationship"},
		{"cidr_list wider than the role", map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/16"}, "role/r/secret-id", map[string]interface{}{"cidr_list": "10.0.0.0/8"}, logical.ErrInvalidRequest, "failed to verify subset relationship"},
		{"token cidrs outside the role", map[string]interface{}{"token_bound_cidrs": "10.0.0.0/8"}, "role/r/secret-id", map[string]interface{}{"token_bound_cidrs": "12.0.0.1"}, logical.ErrInvalidRequest, "failed to verify subset relationship"},
		{"negative uses", nil, "role/r/secret-id", map[string]interface{}{"num_uses": -1}, logical.ErrInvalidRequest, "num_uses cannot be negative"},
		{"more uses than the role", map[string]interface{}{"secret_id_num_uses": 3}, "role/r/secret-id", map[string]interface{}{"num_uses": 4}, logical.ErrInvalidRequest, "num_uses cannot be higher than the role's secret_id_num_uses"},
		{"unlimited uses on a limited role", map[string]interface{}{"secret_id_num_uses": 3}, "role/r/secret-id", map[string]interface{}{"num_uses": 0}, logical.ErrInvalidRequest, "num_uses cannot be higher"},
		{"longer than the role", map[string]interface{}{"secret_id_ttl": 60}, "role/r/secret-id", map[string]interface{}{"ttl": 61}, logical.ErrInvalidRequest, "ttl cannot be longer than the role's secret_id_ttl"},
		{"custom without secret_id", nil, "role/r/custom-secret-id", nil, logical.ErrInvalidRequest, "missing secret_id"},
		{"custom too long", nil, "role/r/custom-secret-id", map[string]interface{}{"secret_id": strings.Repeat("s", maxInputLength+1)}, logical.ErrInvalidRequest, "secret_id is longer than maximum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.createRole("r", tc.role)
			h.fail(logical.UpdateOperation, tc.path, tc.req, tc.kind, tc.msg)
			if n := h.countPrefix(prefixSecretID) + h.countPrefix(prefixAccessor); n != 0 {
				t.Fatalf("%d secret ID entries stored by a refused request", n)
			}
		})
	}
}

func TestCustomSecretID(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", map[string]interface{}{"secret_id_num_uses": 2})
	resp := h.ok(logical.UpdateOperation, "role/r/custom-secret-id", map[string]interface{}{"secret_id": "my-own-secret"}).Data
	if resp["secret_id"] != "my-own-secret" || resp["secret_id_num_uses"] != 2 {
		t.Fatalf("custom secret-id response = %v", resp)
	}
	h.fail(logical.UpdateOperation, "role/r/custom-secret-id", map[string]interface{}{"secret_id": "my-own-secret"}, logical.ErrInvalidRequest, "SecretID is already registered")
	h.mustLogin(h.roleID("r"), "my-own-secret")
	// The same string may be a secret ID of another role.
	h.createRole("other", nil)
	h.ok(logical.UpdateOperation, "role/other/custom-secret-id", map[string]interface{}{"secret_id": "my-own-secret"})
}

func TestSecretIDListLookupDestroy(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", nil)
	h.createRole("other", nil)
	var accs []string
	var sids []string
	for i := 0; i < 3; i++ {
		sid, acc := h.secretID("r", nil)
		sids, accs = append(sids, sid), append(accs, acc)
	}
	otherSID, otherAcc := h.secretID("other", nil)
	sort.Strings(accs)
	if got := h.ok(logical.ListOperation, "role/r/secret-id", nil).Data["keys"]; !reflect.DeepEqual(got, accs) {
		t.Fatalf("list = %v, want %v", got, accs)
	}
	h.fail(logical.ListOperation, "role/ghost/secret-id/", nil, logical.ErrNotFound, "does not exist")

	// Another role's secret ID or accessor is not found through this role.
	if resp := h.ok(logical.UpdateOperation, "role/r/secret-id/lookup", map[string]interface{}{"secret_id": otherSID}); resp != nil {
		t.Fatalf("lookup of another role's secret ID = %+v", resp)
	}
	h.fail(logical.UpdateOperation, "role/r/secret-id-accessor/lookup", map[string]interface{}{"secret_id_accessor": otherAcc}, logical.ErrNotFound, "failed to find accessor entry")
	h.fail(logical.UpdateOperation, "role/r/secret-id-accessor/destroy", map[string]interface{}{"secret_id_accessor": "nope"}, logical.ErrNotFound, "failed to find accessor entry")
	h.fail(logical.UpdateOperation, "role/r/secret-id/lookup", nil, logical.ErrInvalidRequest, "missing secret_id")
	h.fail(logical.UpdateOperation, "role/r/secret-id-accessor/lookup", nil, logical.ErrInvalidRequest, "missing secret_id_accessor")
	h.fail(logical.UpdateOperation, "role/ghost/secret-id/lookup", map[string]interface{}{"secret_id": "x"}, logical.ErrNotFound, "does not exist")

	rid := h.roleID("r")
	// Destroy by secret ID (POST) and by accessor (DELETE).
	h.ok(logical.UpdateOperation, "role/r/secret-id/destroy", map[string]interface{}{"secret_id": sids[0]})
	byAcc := h.ok(logical.UpdateOperation, "role/r/secret-id/lookup", map[string]interface{}{"secret_id": sids[1]}).Data["secret_id_accessor"]
	h.ok(logical.DeleteOperation, "role/r/secret-id-accessor/destroy", map[string]interface{}{"secret_id_accessor": byAcc})
	for _, sid := range sids[:2] {
		if resp := h.ok(logical.UpdateOperation, "role/r/secret-id/lookup", map[string]interface{}{"secret_id": sid}); resp != nil {
			t.Fatalf("destroyed secret ID still looks up: %v", resp.Data)
		}
		_, err := h.login(rid, sid, testRemote)
		checkErr(t, err, logical.ErrInvalidRequest, "invalid role or secret ID")
	}
	h.mustLogin(rid, sids[2])
	if got := h.ok(logical.ListOperation, "role/r/secret-id", nil).Data["keys"].([]string); len(got) != 1 {
		t.Fatalf("list after destroy = %v", got)
	}
	if n := h.countPrefix(prefixAccessor); n != 2 {
		t.Fatalf("%d accessor entries, want 2", n)
	}
	// Destroying what is gone is not an error.
	h.ok(logical.DeleteOperation, "role/r/secret-id/destroy", map[string]interface{}{"secret_id": sids[0]})
}

func TestParseMetadata(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]string
		err  bool
	}{
		{"", nil, false},
		{`{"a":"b"}`, map[string]string{"a": "b"}, false},
		{` { "a" : "b" } `, map[string]string{"a": "b"}, false},
		{"a=b,c=d=e", map[string]string{"a": "b", "c": "d=e"}, false},
		{base64.StdEncoding.EncodeToString([]byte(`{"x":"y"}`)), map[string]string{"x": "y"}, false},
		{`{"a":["b"]}`, nil, true},
		{`[1,2]`, nil, true},
		{"=v", nil, true},
	}
	for _, tc := range cases {
		got, err := parseMetadata(tc.in)
		if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("parseMetadata(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}
