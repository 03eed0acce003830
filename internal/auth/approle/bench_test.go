package approle

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// BenchmarkLogin measures logins through HandleRequest from 8 concurrent
// clients: with one shared unlimited secret ID, with a secret ID per
// client, and with limited-use secret IDs (the write path).
func BenchmarkLogin(b *testing.B) {
	const clients = 8
	cases := []struct {
		name string
		gen  map[string]interface{}
		per  bool // a secret ID per client
	}{
		{name: "shared-secret-id", gen: nil},
		{name: "secret-id-per-client", gen: nil, per: true},
		{name: "limited-uses", gen: map[string]interface{}{"num_uses": 1 << 30}, per: true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			h := newHarness(b)
			h.createRole("bench", map[string]interface{}{"token_policies": "app", "token_ttl": "1h"})
			rid := h.roleID("bench")
			sids := make([]string, clients)
			for i := range sids {
				if i == 0 || tc.per {
					sids[i], _ = h.secretID("bench", tc.gen)
				} else {
					sids[i] = sids[0]
				}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func(sid string) {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						resp, err := h.do(logical.UpdateOperation, "login", map[string]interface{}{"role_id": rid, "secret_id": sid}, testRemote)
						if err != nil || resp.Auth == nil {
							b.Errorf("login: %v", err)
							return
						}
					}
				}(sids[c])
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
		})
	}
}
