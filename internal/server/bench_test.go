package server_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/testserver"
)

// benchToken creates a token limited to secret/ and cubbyhole/.
func benchToken(b *testing.B, s *testserver.Server) string {
	b.Helper()
	err := s.Client.Sys().PutPolicy("bench", `
path "secret/data/*" { capabilities = ["create", "read", "update"] }
path "cubbyhole/*"   { capabilities = ["read"] }
path "sys/mounts"    { capabilities = ["deny"] }
`)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := s.Client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"bench"}, TTL: "1h"})
	if err != nil {
		b.Fatal(err)
	}
	return tok.Auth.ClientToken
}

func handle(b *testing.B, s *testserver.Server, op logical.Operation, path, tok string, data map[string]interface{}) {
	_, err := s.Server.Core.HandleRequest(context.Background(), &logical.Request{Operation: op, Path: path, ClientToken: tok, Data: data})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTokenLookupACL: the request pipeline's fixed cost (token lookup,
// ACL check, routing) on a read that finds nothing.
func BenchmarkTokenLookupACL(b *testing.B) {
	s := testserver.Start(b, testserver.Options{})
	tok := benchToken(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			handle(b, s, logical.ReadOperation, "cubbyhole/missing", tok, nil)
		}
	})
}

func seedKV(b *testing.B, s *testserver.Server, tok string) {
	for i := 0; i < 100; i++ {
		handle(b, s, logical.UpdateOperation, fmt.Sprintf("secret/data/k%d", i), tok,
			map[string]interface{}{"data": map[string]interface{}{"value": fmt.Sprintf("%0100d", i)}})
	}
}

// BenchmarkKVv2Read: KV v2 reads on raft storage through the core.
func BenchmarkKVv2Read(b *testing.B) {
	benchKVRead(b, nil, false)
}

// BenchmarkKVv2Write: KV v2 writes on raft storage through the core
// (each acknowledged write is durable: raft log fsync + bbolt commit).
func BenchmarkKVv2Write(b *testing.B) {
	b.SetParallelism(4) // 8 writers on 2 cores, as the load harness uses
	s := testserver.Start(b, testserver.Options{DataDir: b.TempDir()})
	tok := benchToken(b, s)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			handle(b, s, logical.UpdateOperation, fmt.Sprintf("secret/data/k%d", n.Add(1)%100), tok,
				map[string]interface{}{"data": map[string]interface{}{"value": "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}})
		}
	})
}

// BenchmarkHTTPKVv2Read: the same read over HTTPS with the vault/api client.
func BenchmarkHTTPKVv2Read(b *testing.B) {
	benchKVRead(b, nil, true)
}

// BenchmarkKVv2ReadAudited is BenchmarkKVv2Read with one file audit
// device enabled (compare the two for the audit overhead).
func BenchmarkKVv2ReadAudited(b *testing.B) {
	benchKVRead(b, enableFileAudit, false)
}

// BenchmarkTokenMemory creates 100,000 tokens with a TTL (each with its
// lease) on raft storage and reports the heap the server keeps per live
// token (in-memory storage would count the stored data too).
func BenchmarkTokenMemory(b *testing.B) {
	const tokens = 100_000
	for i := 0; i < b.N; i++ {
		s := testserver.Start(b, testserver.Options{DataDir: b.TempDir()})
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var wg sync.WaitGroup
		per := tokens / 32
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < per; j++ {
					handle(b, s, logical.UpdateOperation, "auth/token/create", s.RootToken, map[string]interface{}{"policies": []interface{}{"default"}, "ttl": "1h"})
				}
			}()
		}
		wg.Wait()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/tokens, "B-heap/token")
		s.Stop()
	}
}

// BenchmarkHTTPKVv2ReadAudited is BenchmarkHTTPKVv2Read with one file
// audit device enabled.
func BenchmarkHTTPKVv2ReadAudited(b *testing.B) {
	benchKVRead(b, enableFileAudit, true)
}

// BenchmarkKVv2ReadRateLimited is BenchmarkKVv2Read with a global
// rate-limit quota far above the load (the cost of the quota check).
func BenchmarkKVv2ReadRateLimited(b *testing.B) {
	benchKVRead(b, func(b *testing.B, s *testserver.Server) {
		if _, err := s.Client.Logical().Write("sys/quotas/rate-limit/global", map[string]interface{}{"rate": 1e9}); err != nil {
			b.Fatal(err)
		}
	}, false)
}

// benchKVRead reads the 100 seeded KV v2 keys in parallel on a raft
// server prepared by setup (nil: as started), through the core or, with
// overHTTP, over HTTPS with the vault/api client.
func benchKVRead(b *testing.B, setup func(*testing.B, *testserver.Server), overHTTP bool) {
	s := testserver.Start(b, testserver.Options{DataDir: b.TempDir()})
	if setup != nil {
		setup(b, s)
	}
	tok := benchToken(b, s)
	seedKV(b, s, tok)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var c *api.Client
		if overHTTP {
			c = s.NewClient(tok)
		}
		for pb.Next() {
			path := fmt.Sprintf("secret/data/k%d", n.Add(1)%100)
			if !overHTTP {
				handle(b, s, logical.ReadOperation, path, tok, nil)
			} else if _, err := c.Logical().Read(path); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// enableFileAudit enables one file audit device.
func enableFileAudit(b *testing.B, s *testserver.Server) {
	if err := s.Client.Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": b.TempDir() + "/audit.log"},
	}); err != nil {
		b.Fatal(err)
	}
}
