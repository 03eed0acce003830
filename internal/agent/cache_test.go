package agent

import (
	"net/http"
	"testing"
	"time"
)

func TestLeaseCache(t *testing.T) {
	clock := newFakeClock()
	c := newLeaseCache()
	c.now = clock.now
	h := http.Header{"Content-Type": {"application/json"}}
	leaseBody := func(id string, ttl int) []byte {
		return []byte(`{"lease_id":"` + id + `","lease_duration":` + itoa(int64(ttl)) + `,"data":{"username":"u"}}`)
	}
	k1 := cacheKey("GET", "/v1/database/creds/app", "", nil, "tok-a")
	k2 := cacheKey("GET", "/v1/database/creds/app", "", nil, "tok-b")
	if k1 == k2 || k1 != cacheKey("GET", "/v1/database/creds/app", "", nil, "tok-a") {
		t.Fatal("cache keys do not separate tokens or are not stable")
	}
	if cacheKey("PUT", "/v1/x", "", []byte("a"), "t") == cacheKey("PUT", "/v1/x", "", []byte("b"), "t") {
		t.Fatal("cache keys ignore the body")
	}

	// What is kept and what is not.
	if !c.store(k1, "database/creds/app", "tok-a", 200, h, leaseBody("database/creds/app/L1", 60)) {
		t.Fatal("a leased response was not cached")
	}
	for name, body := range map[string]string{
		"no lease":       `{"data":{"a":"b"}}`,
		"kv ttl":         `{"lease_id":"","lease_duration":2764800,"data":{}}`,
		"auth not login": `{"auth":{"client_token":"x","lease_duration":60}}`,
		"not json":       `<html>`,
	} {
		if c.store("k-"+name, "secret/x", "t", 200, h, []byte(body)) {
			t.Errorf("%s: cached", name)
		}
	}
	if c.store("k-err", "database/creds/app", "t", 400, h, leaseBody("x", 60)) {
		t.Error("an error response was cached")
	}
	if !c.store("k-login", "auth/approle/login", "", 200, h, []byte(`{"auth":{"client_token":"new-tok","lease_duration":60}}`)) {
		t.Error("a login response was not cached")
	}
	if e := c.get(k1); e == nil || e.status != 200 || e.header.Get("Content-Type") != "application/json" {
		t.Fatalf("get = %+v", e)
	}

	// Expiry.
	clock.add(59 * time.Second)
	if c.get(k1) == nil {
		t.Fatal("expired early")
	}
	c.observe("sys/leases/renew", "tok-a", []byte(`{"lease_id":"database/creds/app/L1"}`), leaseBody("database/creds/app/L1", 120))
	clock.add(100 * time.Second)
	if c.get(k1) == nil {
		t.Fatal("a renewal seen through the proxy did not extend the entry")
	}
	clock.add(21 * time.Second)
	if c.get(k1) != nil {
		t.Fatal("an entry outlived its lease")
	}

	// Evictions.
	tests := []struct {
		name, path, token, body string
	}{
		{"revoke by body", "sys/leases/revoke", "", `{"lease_id":"database/creds/app/L1"}`},
		{"legacy revoke by path", "sys/revoke/database/creds/app/L1", "", ``},
		{"revoke by path", "sys/leases/revoke/database/creds/app/L1", "", ``},
		{"revoke-prefix", "sys/leases/revoke-prefix/database/creds/", "", ``},
		{"revoke-force", "sys/revoke-force/database/", "", ``},
		{"token revoke-self", "auth/token/revoke-self", "tok-a", ``},
		{"token revoke", "auth/token/revoke", "root", `{"token":"tok-a"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.store(k1, "database/creds/app", "tok-a", 200, h, leaseBody("database/creds/app/L1", 60))
			c.store(k2, "database/creds/app", "tok-b", 200, h, leaseBody("database/creds/app/L2", 60))
			c.observe(tt.path, tt.token, []byte(tt.body), nil)
			if c.get(k1) != nil {
				t.Error("not evicted")
			}
			if tt.name != "revoke-prefix" && tt.name != "revoke-force" && c.get(k2) == nil {
				t.Error("an unrelated entry was evicted")
			}
		})
	}
	c.observe("auth/token/revoke", "root", []byte(`{"token":"new-tok"}`), nil)
	if c.get("k-login") != nil {
		t.Error("revoking a cached login's token did not evict it")
	}
	c.evict(func(*cacheEntry) bool { return true })
	c.store(k1, "database/creds/app", "tok-a", 200, h, leaseBody("database/creds/app/L1", 60))
	c.store(k2, "secret/x", "tok-b", 200, h, leaseBody("secret/x/L9", 60))
	if n := c.evictPath("database/"); n != 1 || c.len() != 1 {
		t.Errorf("evictPath removed %d, %d left", n, c.len())
	}
}
