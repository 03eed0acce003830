package server_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func TestRateLimitQuota(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if _, err := c.KVv2("secret").Put(t.Context(), "hot", map[string]interface{}{"v": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("sys/quotas/rate-limit/hot", map[string]interface{}{
		"path": "secret/data/hot", "rate": 7, "interval": "1m",
	}); err != nil {
		t.Fatal(err)
	}
	q, err := c.Logical().Read("sys/quotas/rate-limit/hot")
	if err != nil || q.Data["type"] != "rate-limit" || q.Data["interval"].(interface{ String() string }).String() != "60" {
		t.Fatalf("read quota: %+v %v", q, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, limited := 0, 0
	retryAfter := ""
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, s.Addr+"/v1/secret/data/hot", nil)
			req.Header.Set("X-Vault-Token", s.RootToken)
			resp, err := c.CloneConfig().HttpClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case 200:
				ok++
			case 429:
				limited++
				retryAfter = resp.Header.Get("Retry-After")
			}
		}()
	}
	wg.Wait()
	if ok != 7 || limited != 23 || retryAfter == "" {
		t.Fatalf("ok=%d limited=%d Retry-After=%q; want 7/23 and a Retry-After", ok, limited, retryAfter)
	}
	_, err = c.KVv2("secret").Get(t.Context(), "hot")
	mustStatus(t, err, http.StatusTooManyRequests, "rate limit quota exceeded")
	// Other paths are not limited; exempting the path lifts the limit.
	if _, err := c.KVv2("secret").Put(t.Context(), "cold", map[string]interface{}{"v": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("sys/quotas/config", map[string]interface{}{"rate_limit_exempt_paths": []string{"secret/data/hot"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("secret").Get(t.Context(), "hot"); err != nil {
		t.Fatalf("exempt path still limited: %v", err)
	}
	list, err := c.Logical().List("sys/quotas/rate-limit")
	if err != nil || len(list.Data["keys"].([]interface{})) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	_, err = c.Logical().Write("sys/quotas/rate-limit/bad", map[string]interface{}{"path": "secret/", "rate": -1})
	mustStatus(t, err, http.StatusBadRequest, "rate")
	_, err = c.Logical().Write("sys/quotas/rate-limit/bad", map[string]interface{}{"path": "nomount/", "rate": 1})
	mustStatus(t, err, http.StatusBadRequest, "no mount")
}

func TestLeaseCountQuotaSurvivesRestart(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir()})
	c := s.Client
	if _, err := c.Logical().Write("sys/quotas/lease-count/tokens", map[string]interface{}{
		"path": "auth/token/create", "max_leases": 3,
	}); err != nil {
		t.Fatal(err)
	}
	var created []*api.Secret
	var refused int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sec, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, TTL: "1h"})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				created = append(created, sec)
			} else if strings.Contains(err.Error(), "lease count quota exceeded") {
				refused++
			} else {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(created) != 3 || refused != 5 {
		t.Fatalf("created %d refused %d, want 3/5", len(created), refused)
	}
	s.Restart()
	c = s.Client
	q, err := c.Logical().Read("sys/quotas/lease-count/tokens")
	if err != nil || q.Data["counter"].(interface{ String() string }).String() != "3" {
		t.Fatalf("counter after restart: %+v %v", q, err)
	}
	_, err = c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, TTL: "1h"})
	mustStatus(t, err, http.StatusTooManyRequests, "lease count quota exceeded")
	if err := c.Auth().Token().RevokeAccessor(created[0].Auth.Accessor); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}, TTL: "1h"}); err != nil {
		t.Fatalf("a freed slot was not reusable: %v", err)
	}
}
