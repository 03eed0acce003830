package kv

import (
	"context"
	"fmt"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func benchSecret() map[string]interface{} {
	return obj("username", "app", "password", "s3cr3t-p4ssw0rd", "host", "db.internal", "port", 5432.0)
}

func BenchmarkKVv2Read(b *testing.B) {
	h := newV2(b)
	const keys = 1000
	for i := 0; i < keys; i++ {
		h.put(fmt.Sprintf("app/%d", i), benchSecret())
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			resp, err := h.b.HandleRequest(ctx, &logical.Request{
				Operation: logical.ReadOperation, Path: fmt.Sprintf("data/app/%d", i%keys), Storage: h.s,
			})
			if err != nil || resp == nil {
				b.Fatalf("read: %v", err)
			}
			i++
		}
	})
}

func BenchmarkKVv2Write(b *testing.B) {
	h := newV2(b)
	ctx := context.Background()
	data := benchSecret()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, err := h.b.HandleRequest(ctx, &logical.Request{
				Operation: logical.UpdateOperation, Path: fmt.Sprintf("data/app/%d", i%1000),
				Data: map[string]interface{}{"data": data}, Storage: h.s,
			})
			if err != nil {
				b.Fatalf("write: %v", err)
			}
			i++
		}
	})
}
