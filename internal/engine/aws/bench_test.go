package aws

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// benchWorkers is how many requests run at once.
const benchWorkers = 8

// runParallel runs op b.N times on benchWorkers goroutines and reports
// credentials per second.
func runParallel(b *testing.B, op func() error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchWorkers)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < benchWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creds/s")
}

// BenchmarkCreds issues credentials of each type through HandleRequest
// against the in-test AWS server, 8 requests at a time.
func BenchmarkCreds(b *testing.B) {
	cases := []struct {
		name, path string
		role       map[string]interface{}
		revoke     bool
	}{
		{"iam_user", "creds/r", map[string]interface{}{"credential_type": "iam_user", "policy_document": testPolicy}, false},
		{"iam_user+revoke", "creds/r", map[string]interface{}{"credential_type": "iam_user", "policy_document": testPolicy, "policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, true},
		{"assumed_role", "sts/r", map[string]interface{}{"credential_type": "assumed_role", "role_arns": "arn:aws:iam::123456789012:role/Deploy"}, false},
		{"federation_token", "sts/r", map[string]interface{}{"credential_type": "federation_token", "policy_document": testPolicy}, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			h := newHarness(b)
			h.ok(logical.UpdateOperation, "config/lease", map[string]interface{}{"lease": "1h", "lease_max": "4h"})
			h.ok(logical.UpdateOperation, "roles/r", tc.role)
			runParallel(b, func() error {
				resp, err := h.do(logical.ReadOperation, tc.path, nil)
				if err != nil || !tc.revoke {
					return err
				}
				_, err = h.lease(logical.RevokeOperation, resp.Secret, 0)
				return err
			})
		})
	}
}
