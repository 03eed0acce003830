package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// BenchmarkClusterKVv2Put: KV v2 writes over HTTPS with the vault/api
// client, 8 concurrent writers, on one node and on a 3-node cluster (to
// the active node, and to a standby that forwards to it).
func BenchmarkClusterKVv2Put(b *testing.B) {
	value := map[string]interface{}{"value": fmt.Sprintf("%0100d", 7)}
	for _, tc := range []struct {
		name    string
		nodes   int
		standby bool
	}{{"nodes=1", 1, false}, {"nodes=3", 3, false}, {"nodes=3/via-standby", 3, true}} {
		b.Run(tc.name, func(b *testing.B) {
			cl := testserver.StartCluster(b, tc.nodes, testserver.Options{})
			target := cl.Active(10 * time.Second)
			if tc.standby {
				target = cl.Standbys()[0]
			}
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				kv := target.NewClient(target.RootToken).KVv2("secret")
				for pb.Next() {
					if _, err := kv.Put(context.Background(), fmt.Sprintf("bench/k%d", n.Add(1)%100), value); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
		})
	}
}

// BenchmarkFailover: the time from killing the active node of a 3-node
// cluster to the first successful write through a survivor.
func BenchmarkFailover(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cl := testserver.StartCluster(b, 3, testserver.Options{})
		active := cl.Active(10 * time.Second)
		survivors := cl.Standbys()
		var clients []*api.Client
		for _, s := range survivors {
			c := s.NewClient(s.RootToken)
			c.SetMaxRetries(0)
			clients = append(clients, c)
		}
		b.StartTimer()
		start := time.Now()
		active.Kill()
		for done := false; !done; {
			for _, c := range clients {
				if _, err := c.KVv2("secret").Put(context.Background(), "failover", map[string]interface{}{"v": i}); err == nil {
					done = true
					break
				}
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("no write within 30s")
			}
		}
		total += time.Since(start)
		b.StopTimer()
		for _, s := range survivors {
			s.Stop()
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/failover")
}
