package approle

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestLoginAuth(t *testing.T) {
	h := newHarness(t)
	h.createRole("web", map[string]interface{}{
		"token_policies": "app,db", "token_ttl": "20m", "token_max_ttl": "1h", "token_num_uses": 5,
		"token_explicit_max_ttl": "2h", "token_type": "service",
	})
	sid, _ := h.secretID("web", map[string]interface{}{"metadata": `{"env":"prod"}`})
	rid := h.roleID("web")
	a := h.mustLogin(rid, sid)
	want := &logical.Auth{
		LeaseOptions:   logical.LeaseOptions{TTL: 20 * time.Minute, MaxTTL: time.Hour, Renewable: true},
		InternalData:   map[string]interface{}{"role_name": "web", "role_id": rid},
		Policies:       []string{"app", "db"},
		TokenPolicies:  []string{"app", "db"},
		Metadata:       map[string]string{"role_name": "web", "env": "prod"},
		ExplicitMaxTTL: 2 * time.Hour,
		NumUses:        5,
		TokenType:      "service",
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("auth = %#v\nwant %#v", a, want)
	}
	// role_id and secret_id are trimmed, as Vault does.
	h.mustLogin(" "+rid+"\n", sid+" ")
}

func TestLoginRefused(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", map[string]interface{}{"secret_id_ttl": "1h"})
	h.createRole("other", nil)
	rid := h.roleID("r")
	sid, _ := h.secretID("r", nil)
	otherSID, _ := h.secretID("other", nil)
	cases := []struct {
		name     string
		roleID   string
		secretID string
		kind     error
		msg      string
	}{
		{"missing role_id", "", sid, logical.ErrInvalidRequest, "missing role_id"},
		{"missing secret_id", rid, "", logical.ErrInvalidRequest, "missing secret_id"},
		{"wrong role_id", "not-a-role", sid, logical.ErrInvalidRequest, "invalid role or secret ID"},
		{"wrong secret_id", rid, "not-a-secret", logical.ErrInvalidRequest, "invalid role or secret ID"},
		{"another role's secret_id", rid, otherSID, logical.ErrInvalidRequest, "invalid role or secret ID"},
		{"role_id used as secret_id", rid, rid, logical.ErrInvalidRequest, "invalid role or secret ID"},
		{"huge secret_id", rid, strings.Repeat("x", maxInputLength+1), logical.ErrInvalidRequest, "invalid role or secret ID"},
		{"huge role_id", strings.Repeat("x", maxInputLength+1), sid, logical.ErrInvalidRequest, "invalid role or secret ID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.login(tc.roleID, tc.secretID, testRemote)
			checkErr(t, err, tc.kind, tc.msg)
			if err.Error() != tc.msg {
				t.Fatalf("error text %q, want exactly %q", err, tc.msg)
			}
		})
	}
	h.mustLogin(rid, sid)
}

func TestLoginExpiredAndExhausted(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", nil)
	rid := h.roleID("r")

	short, _ := h.secretID("r", map[string]interface{}{"ttl": "30s"})
	h.mustLogin(rid, short)
	h.clock.advance(30 * time.Second)
	_, err := h.login(rid, short, testRemote)
	checkErr(t, err, logical.ErrInvalidRequest, "invalid role or secret ID")
	if resp := h.ok(logical.UpdateOperation, "role/r/secret-id/lookup", map[string]interface{}{"secret_id": short}); resp != nil {
		t.Fatalf("an expired secret ID met at login was kept: %v", resp.Data)
	}

	twice, acc := h.secretID("r", map[string]interface{}{"num_uses": 2})
	h.mustLogin(rid, twice)
	look := h.ok(logical.UpdateOperation, "role/r/secret-id-accessor/lookup", map[string]interface{}{"secret_id_accessor": acc}).Data
	if look["secret_id_num_uses"] != 1 || look["last_updated_time"] != formatTime(h.clock.now()) {
		t.Fatalf("after one use: %v", look)
	}
	h.mustLogin(rid, twice)
	_, err = h.login(rid, twice, testRemote)
	checkErr(t, err, logical.ErrInvalidRequest, "invalid role or secret ID")
	if n := h.countPrefix(prefixSecretID) + h.countPrefix(prefixAccessor); n != 0 {
		t.Fatalf("%d entries left after the last use", n)
	}
}

func TestLoginCIDRs(t *testing.T) {
	cases := []struct {
		name   string
		role   map[string]interface{}
		secret map[string]interface{} // nil: log in with role_id only
		remote string
		kind   error // nil: login succeeds
		msg    string
		token  []string // expected bound CIDRs of the token
	}{
		{name: "role CIDR allows", role: map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/8"}, secret: map[string]interface{}{}, remote: "10.9.9.9:1"},
		{name: "role CIDR refuses", role: map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/8"}, secret: map[string]interface{}{}, remote: "192.168.0.1:1",
			kind: logical.ErrInvalidRequest, msg: `source address "192.168.0.1" unauthorized by CIDR restrictions on the role`},
		{name: "secret CIDR refuses", secret: map[string]interface{}{"cidr_list": "127.0.0.1/32"}, remote: "127.0.0.2:5",
			kind: logical.ErrInvalidRequest, msg: `source address "127.0.0.2" unauthorized by CIDR restrictions on the secret ID`},
		{name: "secret CIDR allows a bare address", secret: map[string]interface{}{"cidr_list": "127.0.0.1"}, remote: "127.0.0.1:5"},
		{name: "token CIDR refuses", role: map[string]interface{}{"token_bound_cidrs": "10.0.0.0/8"}, secret: map[string]interface{}{}, remote: "11.0.0.1:1",
			kind: logical.ErrPermissionDenied, msg: "permission denied"},
		{name: "token CIDR binds the token", role: map[string]interface{}{"token_bound_cidrs": "10.0.0.0/8"}, secret: map[string]interface{}{}, remote: "10.0.0.1:1",
			token: []string{"10.0.0.0/8"}},
		{name: "secret's token CIDRs override the role's", role: map[string]interface{}{"token_bound_cidrs": "10.0.0.0/8"}, secret: map[string]interface{}{"token_bound_cidrs": "10.1.0.0/16"},
			remote: "10.2.0.1:1", kind: logical.ErrPermissionDenied, msg: "permission denied"},
		{name: "secret's token CIDRs bind the token", role: map[string]interface{}{"token_bound_cidrs": "10.0.0.0/8"}, secret: map[string]interface{}{"token_bound_cidrs": "10.1.0.0/16"},
			remote: "10.1.0.1:1", token: []string{"10.1.0.0/16"}},
		{name: "role_id only from an allowed address", role: map[string]interface{}{"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"}, remote: "10.0.0.7:1"},
		{name: "role_id only from elsewhere", role: map[string]interface{}{"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"}, remote: "9.0.0.7:1",
			kind: logical.ErrInvalidRequest, msg: "unauthorized by CIDR restrictions on the role"},
		{name: "role_id only bound by token CIDRs", role: map[string]interface{}{"bind_secret_id": false, "token_bound_cidrs": "10.0.0.0/8"}, remote: "10.0.0.7:1", token: []string{"10.0.0.0/8"}},
		{name: "IPv6", role: map[string]interface{}{"secret_id_bound_cidrs": "2001:db8::/32"}, secret: map[string]interface{}{}, remote: "[2001:db8::1]:443"},
		{name: "IPv6 refused", role: map[string]interface{}{"secret_id_bound_cidrs": "2001:db8::/32"}, secret: map[string]interface{}{}, remote: "[2001:db9::1]:443",
			kind: logical.ErrInvalidRequest, msg: `source address "2001:db9::1"`},
		{name: "IPv4-mapped client", role: map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/8"}, secret: map[string]interface{}{}, remote: "[::ffff:10.0.0.1]:1"},
		{name: "no address with bindings", role: map[string]interface{}{"secret_id_bound_cidrs": "10.0.0.0/8"}, secret: map[string]interface{}{}, remote: "",
			kind: logical.ErrPermissionDenied, msg: "failed to get connection information"},
		{name: "no address without bindings", secret: map[string]interface{}{}, remote: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.createRole("r", tc.role)
			sid := ""
			var acc string
			if tc.secret != nil {
				sid, acc = h.secretID("r", mergeMaps(tc.secret, map[string]interface{}{"num_uses": 3}))
			}
			resp, err := h.login(h.roleID("r"), sid, tc.remote)
			if tc.kind != nil {
				checkErr(t, err, tc.kind, tc.msg)
				if acc != "" {
					// A refused login does not spend a use.
					look := h.ok(logical.UpdateOperation, "role/r/secret-id-accessor/lookup", map[string]interface{}{"secret_id_accessor": acc}).Data
					if look["secret_id_num_uses"] != 3 {
						t.Fatalf("refused login spent a use: %v", look["secret_id_num_uses"])
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if !reflect.DeepEqual(resp.Auth.BoundCIDRs, tc.token) {
				t.Fatalf("token bound CIDRs = %v, want %v", resp.Auth.BoundCIDRs, tc.token)
			}
		})
	}
}

func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestLoginNumUsesConcurrent races 50 logins against a secret ID good for
// 10: exactly 10 succeed, the rest get Vault's refusal.
func TestLoginNumUsesConcurrent(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", nil)
	rid := h.roleID("r")
	sid, acc := h.secretID("r", map[string]interface{}{"num_uses": 10})
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := h.login(rid, sid, testRemote)
			switch {
			case err == nil && resp != nil && resp.Auth != nil:
				ok.Add(1)
			case err != nil && err.Error() == "invalid role or secret ID":
				refused.Add(1)
			default:
				t.Errorf("unexpected login result: %v, %v", resp, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 10 || refused.Load() != 40 {
		t.Fatalf("%d logins succeeded and %d were refused; want 10 and 40", ok.Load(), refused.Load())
	}
	h.fail(logical.UpdateOperation, "role/r/secret-id-accessor/lookup", map[string]interface{}{"secret_id_accessor": acc}, logical.ErrNotFound, "failed to find accessor entry")
}

// TestNoClearSecretIDInStorage scans every stored key and value for the
// secret IDs, accessors-as-keys and role IDs-as-keys.
func TestNoClearSecretIDInStorage(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", map[string]interface{}{"role_id": "role-id-in-clear"})
	var secrets []string
	for i := 0; i < 5; i++ {
		sid, _ := h.secretID("r", map[string]interface{}{"metadata": `{"k":"v"}`, "num_uses": 3})
		secrets = append(secrets, sid)
	}
	h.ok(logical.UpdateOperation, "role/r/custom-secret-id", map[string]interface{}{"secret_id": "custom-secret-value"})
	secrets = append(secrets, "custom-secret-value")
	for _, sid := range secrets {
		h.mustLogin("role-id-in-clear", sid)
	}
	dump := h.dump()
	if len(dump) < 10 {
		t.Fatalf("only %d storage entries; the scan would prove nothing", len(dump))
	}
	for k, v := range dump {
		for _, sid := range secrets {
			if strings.Contains(k, sid) || strings.Contains(v, sid) {
				t.Fatalf("secret ID %q stored in clear at %q", sid, k)
			}
		}
		if strings.HasPrefix(k, prefixRoleID) && strings.Contains(k, "role-id-in-clear") {
			t.Fatalf("role_id index key %q holds the role_id in clear", k)
		}
		if strings.HasPrefix(k, prefixRoleID) && strings.Contains(v, "role-id-in-clear") {
			t.Fatalf("role_id index %q holds the role_id in clear", k)
		}
	}
}

func TestRenewAuth(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", map[string]interface{}{"token_ttl": "10m", "token_max_ttl": "30m"})
	sid, _ := h.secretID("r", nil)
	a := h.mustLogin(h.roleID("r"), sid)
	a.IssueTime = h.clock.now()
	renew := func(inc time.Duration) (*logical.Response, error) {
		auth := *a
		auth.Increment = inc
		return h.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.RenewOperation, Auth: &auth, Storage: h.s})
	}

	h.clock.advance(5 * time.Minute)
	resp, err := renew(0)
	if err != nil || resp.Auth.TTL != 10*time.Minute || resp.Auth.MaxTTL != 30*time.Minute {
		t.Fatalf("renew = %+v, %v", resp, err)
	}
	// The role's current terms apply; the max TTL counts from issue.
	h.ok(logical.UpdateOperation, "role/r/token-ttl", map[string]interface{}{"token_ttl": "20m"})
	h.clock.advance(15 * time.Minute)
	resp, err = renew(0)
	if err != nil || resp.Auth.TTL != 10*time.Minute || len(resp.Warnings) == 0 {
		t.Fatalf("renew near max = %+v, %v", resp, err)
	}
	h.clock.advance(10 * time.Minute)
	if _, err := renew(0); err == nil {
		t.Fatal("renewed past the max TTL")
	}

	// Periodic roles renew to the period, whatever the max.
	h.ok(logical.UpdateOperation, "role/r/period", map[string]interface{}{"token_period": "15m"})
	resp, err = renew(time.Hour)
	if err != nil || resp.Auth.TTL != 15*time.Minute || resp.Auth.Period != 15*time.Minute {
		t.Fatalf("periodic renew = %+v, %v", resp, err)
	}

	h.ok(logical.DeleteOperation, "role/r", nil)
	_, err = renew(0)
	checkErr(t, err, logical.ErrInvalidRequest, `role "r" does not exist during renewal`)

	_, err = h.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.RenewOperation, Auth: &logical.Auth{}, Storage: h.s})
	checkErr(t, err, logical.ErrInvalidRequest, "failed to fetch role_name during renewal")
}
