package transit

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// parallel8 runs fn from 8 goroutines in total, whatever GOMAXPROCS is, and
// reports operations per second.
func parallel8(b *testing.B, fn func(pb *testing.PB)) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((8 + procs - 1) / procs)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(fn)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

// BenchmarkEncryptAES256 encrypts 100-byte plaintexts with an aes256-gcm96
// key through HandleRequest, from 8 concurrent callers.
func BenchmarkEncryptAES256(b *testing.B) {
	h := newHarness(b)
	h.createKey("bench", nil)
	pt := b64(make([]byte, 100))
	ctx := context.Background()
	parallel8(b, func(pb *testing.PB) {
		for pb.Next() {
			resp, err := h.b.HandleRequest(ctx, &logical.Request{
				Operation: logical.UpdateOperation, Path: "encrypt/bench", Storage: h.s,
				Data: map[string]interface{}{"plaintext": pt},
			})
			if err != nil || resp.Data["ciphertext"] == nil {
				b.Fatalf("encrypt: %v", err)
			}
		}
	})
}

// BenchmarkDecryptAES256 decrypts what BenchmarkEncryptAES256 produces.
func BenchmarkDecryptAES256(b *testing.B) {
	h := newHarness(b)
	h.createKey("bench", nil)
	ct := h.encrypt("bench", make([]byte, 100), nil)
	ctx := context.Background()
	parallel8(b, func(pb *testing.PB) {
		for pb.Next() {
			resp, err := h.b.HandleRequest(ctx, &logical.Request{
				Operation: logical.UpdateOperation, Path: "decrypt/bench", Storage: h.s,
				Data: map[string]interface{}{"ciphertext": ct},
			})
			if err != nil || resp.Data["plaintext"] == nil {
				b.Fatalf("decrypt: %v", err)
			}
		}
	})
}

// BenchmarkEncryptDerived measures the cost of per-request key derivation.
func BenchmarkEncryptDerived(b *testing.B) {
	h := newHarness(b)
	h.createKey("bench", obj("derived", true))
	pt, c := b64(make([]byte, 100)), b64([]byte("tenant-42"))
	ctx := context.Background()
	parallel8(b, func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.b.HandleRequest(ctx, &logical.Request{
				Operation: logical.UpdateOperation, Path: "encrypt/bench", Storage: h.s,
				Data: map[string]interface{}{"plaintext": pt, "context": c},
			}); err != nil {
				b.Fatalf("encrypt: %v", err)
			}
		}
	})
}
