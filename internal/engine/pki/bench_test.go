package pki

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// benchClients is the number of concurrent callers.
const benchClients = 8

// runClients makes b.N calls of call from benchClients goroutines and
// reports the rate as certs/s.
func runClients(b *testing.B, call func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < benchClients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "certs/s")
}

// benchIssue issues certificates with generated keys through HandleRequest.
func benchIssue(b *testing.B, keyType string, keyBits int, noStore bool) {
	h := newHarness(b)
	h.rootCA(nil)
	h.write("roles/bench", map[string]interface{}{
		"allowed_domains": "example.com", "allow_subdomains": true,
		"key_type": keyType, "key_bits": keyBits, "no_store": noStore,
	})
	data := map[string]interface{}{"common_name": "svc.example.com", "ttl": "1h"}
	runClients(b, func() error {
		_, err := h.do(logical.UpdateOperation, "issue/bench", data)
		return err
	})
}

func BenchmarkIssueEC256(b *testing.B) {
	b.Run("store", func(b *testing.B) { benchIssue(b, "ec", 256, false) })
	b.Run("no_store", func(b *testing.B) { benchIssue(b, "ec", 256, true) })
}

func BenchmarkIssueRSA2048(b *testing.B) {
	b.Run("store", func(b *testing.B) { benchIssue(b, "rsa", 2048, false) })
	b.Run("no_store", func(b *testing.B) { benchIssue(b, "rsa", 2048, true) })
}

// BenchmarkSignRSA2048 signs a fixed RSA-2048 CSR: issuance without the
// cost of generating the key, which dominates issue/<role> for RSA.
func BenchmarkSignRSA2048(b *testing.B) {
	h := newHarness(b)
	h.rootCA(nil)
	h.write("roles/bench", map[string]interface{}{"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "rsa", "no_store": true})
	key, err := generateKey(keyTypeRSA, 2048)
	if err != nil {
		b.Fatal(err)
	}
	data := map[string]interface{}{"csr": newCSR(b, key, "svc.example.com"), "ttl": "1h"}
	runClients(b, func() error {
		_, err := h.do(logical.UpdateOperation, "sign/bench", data)
		return err
	})
}
