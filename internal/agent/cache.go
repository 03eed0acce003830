package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// cacheEntry is one cached response that carries a lease or a new token.
type cacheEntry struct {
	key      string
	path     string // request path without /v1/
	token    string // the token the request was made with
	leaseID  string
	newToken string // for login and token creation responses
	status   int
	header   http.Header
	body     []byte
	expires  time.Time
}

// leaseCache holds proxied responses while their lease lives: the same
// request (method, path, query, body and token) gets the same response,
// so two clients share one set of dynamic credentials. Entries leave when
// the lease ends, when it is revoked through the proxy (sys/leases/revoke*),
// when their token is revoked through the proxy, or on /agent/v1/cache-clear.
type leaseCache struct {
	mu        sync.Mutex
	entries   map[string]*cacheEntry
	now       func() time.Time
	lastSweep time.Time
}

func newLeaseCache() *leaseCache {
	return &leaseCache{entries: map[string]*cacheEntry{}, now: time.Now}
}

// cacheKey identifies a request.
func cacheKey(method, path, query string, body []byte, token string) string {
	h := sha256.New()
	for _, part := range []string{method, path, query, token} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// get returns a live entry for key.
func (c *leaseCache) get(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, key)
		return nil
	}
	return e
}

// leaseResponse is the part of a response body the cache looks at.
type leaseResponse struct {
	LeaseID       string `json:"lease_id"`
	LeaseDuration int    `json:"lease_duration"`
	Auth          *struct {
		ClientToken   string `json:"client_token"`
		LeaseDuration int    `json:"lease_duration"`
	} `json:"auth"`
}

// store keeps a successful response when it carries a lease, or a new
// token from a login or token creation.
func (c *leaseCache) store(key, path, token string, status int, header http.Header, body []byte) bool {
	if status != http.StatusOK {
		return false
	}
	var lr leaseResponse
	if json.Unmarshal(body, &lr) != nil {
		return false
	}
	e := &cacheEntry{key: key, path: path, token: token, status: status, header: header.Clone(), body: body}
	now := c.now()
	switch {
	case lr.LeaseID != "" && lr.LeaseDuration > 0:
		e.leaseID = lr.LeaseID
		e.expires = now.Add(time.Duration(lr.LeaseDuration) * time.Second)
	case lr.Auth != nil && lr.Auth.ClientToken != "" && lr.Auth.LeaseDuration > 0 && createsToken(path):
		e.newToken = lr.Auth.ClientToken
		e.expires = now.Add(time.Duration(lr.Auth.LeaseDuration) * time.Second)
	default:
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastSweep) > time.Minute {
		c.sweepLocked(now)
	}
	c.entries[key] = e
	return true
}

// createsToken reports login and token creation paths.
func createsToken(path string) bool {
	return strings.HasPrefix(path, "auth/token/create") ||
		(strings.HasPrefix(path, "auth/") && strings.Contains(path, "/login"))
}

func (c *leaseCache) sweepLocked(now time.Time) {
	c.lastSweep = now
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
}

// evict removes the entries match selects and returns how many.
func (c *leaseCache) evict(match func(*cacheEntry) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, e := range c.entries {
		if match(e) {
			delete(c.entries, k)
			n++
		}
	}
	return n
}

func (c *leaseCache) evictLease(id string) int {
	return c.evict(func(e *cacheEntry) bool { return e.leaseID != "" && e.leaseID == id })
}

func (c *leaseCache) evictLeasePrefix(prefix string) int {
	return c.evict(func(e *cacheEntry) bool { return e.leaseID != "" && strings.HasPrefix(e.leaseID, prefix) })
}

// evictToken removes what a revoked token created and the response that
// created it; the server revokes the token's leases with it.
func (c *leaseCache) evictToken(token string) int {
	return c.evict(func(e *cacheEntry) bool { return e.token == token || e.newToken == token })
}

func (c *leaseCache) evictPath(prefix string) int {
	return c.evict(func(e *cacheEntry) bool { return strings.HasPrefix(e.path, prefix) })
}

// renewed moves a lease's expiry after a renewal seen through the proxy.
func (c *leaseCache) renewed(id string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.leaseID == id {
			e.expires = c.now().Add(d)
		}
	}
}

func (c *leaseCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// observe updates the cache after a successful request went through the
// proxy: revocations evict, renewals extend.
func (c *leaseCache) observe(path, token string, reqBody, respBody []byte) {
	var req struct {
		LeaseID string `json:"lease_id"`
		Token   string `json:"token"`
	}
	_ = json.Unmarshal(reqBody, &req)
	leaseIn := func(op string) string {
		for _, p := range []string{"sys/leases/" + op + "/", "sys/" + op + "/"} {
			if rest, ok := strings.CutPrefix(path, p); ok {
				return rest
			}
		}
		return req.LeaseID
	}
	switch {
	case isOp(path, "revoke-prefix"), isOp(path, "revoke-force"):
		prefix := leaseIn("revoke-prefix")
		if isOp(path, "revoke-force") {
			prefix = leaseIn("revoke-force")
		}
		if prefix != "" {
			c.evictLeasePrefix(prefix)
		}
	case isOp(path, "revoke"):
		if id := leaseIn("revoke"); id != "" {
			c.evictLease(id)
		}
	case isOp(path, "renew"):
		var lr leaseResponse
		if json.Unmarshal(respBody, &lr) == nil && lr.LeaseID != "" {
			c.renewed(lr.LeaseID, time.Duration(lr.LeaseDuration)*time.Second)
		}
	case path == "auth/token/revoke-self":
		c.evictToken(token)
	case path == "auth/token/revoke", path == "auth/token/revoke-orphan":
		if req.Token != "" {
			c.evictToken(req.Token)
		}
	}
}

// isOp matches sys/leases/<op>, sys/<op> and their /<id> forms.
func isOp(path, op string) bool {
	for _, p := range []string{"sys/leases/" + op, "sys/" + op} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
