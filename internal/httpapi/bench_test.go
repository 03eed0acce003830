package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/httpapi"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/testserver"
)

// discardWriter is a ResponseWriter that keeps only the status, so the
// benchmarks measure the handler and not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(status int)      { d.status = status }

func (d *discardWriter) reset() {
	clear(d.h)
	d.status = 0
}

// benchServer starts a raft server with a plain-HTTP listener, as the load
// harness runs it, and returns it with an API handler over its core.
func benchServer(b *testing.B) (*testserver.Server, http.Handler) {
	s := testserver.Start(b, testserver.Options{DataDir: b.TempDir(), NoTLS: true})
	h := httpapi.New(s.Server.Core, httpapi.Options{Version: "1.17.0+coffer.bench", HAEnabled: true})
	return s, h
}

// serveParallel runs GET requests for the paths chosen by next through h
// in parallel and fails on any answer other than 200.
func serveParallel(b *testing.B, h http.Handler, token string, next func(i int64) string) {
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		// Requests are built once per path: the handler does not change
		// them apart from the body.
		reqs := map[string]*http.Request{}
		for pb.Next() {
			path := next(n.Add(1))
			r := reqs[path]
			if r == nil {
				var err error
				r, err = http.NewRequest(http.MethodGet, "http://127.0.0.1:8200/v1/"+path, http.NoBody)
				if err != nil {
					b.Fatal(err)
				}
				if token != "" {
					r.Header.Set("X-Vault-Token", token)
				}
				reqs[path] = r
			}
			r.Body = http.NoBody
			w.reset()
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("GET %s: status %d", r.URL.Path, w.status)
			}
		}
	})
}

// BenchmarkSealStatus: GET sys/seal-status through the API handler on an
// unsealed raft server (the load harness's seal-status workload without
// the network).
func BenchmarkSealStatus(b *testing.B) {
	_, h := benchServer(b)
	serveParallel(b, h, "", func(int64) string { return "sys/seal-status" })
}

// BenchmarkHealth: GET sys/health through the API handler.
func BenchmarkHealth(b *testing.B) {
	_, h := benchServer(b)
	serveParallel(b, h, "", func(int64) string { return "sys/health" })
}

// BenchmarkKVv2ReadHTTP: GET <kv v2>/data/<key> through the API handler
// with the root token, over 100 keys with 100-byte values (the load
// harness's kvv2-read workload without the network).
func BenchmarkKVv2ReadHTTP(b *testing.B) {
	s, h := benchServer(b)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		_, err := s.Server.Core.HandleRequest(ctx, &logical.Request{
			Operation: logical.UpdateOperation, Path: "secret/data/secret-" + strconv.Itoa(i), ClientToken: s.RootToken,
			Data: map[string]interface{}{"data": map[string]interface{}{"foo": strings.Repeat(fmt.Sprint(i%10), 100)}},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	serveParallel(b, h, s.RootToken, func(i int64) string { return "secret/data/secret-" + strconv.Itoa(int(i%100)) })
}
