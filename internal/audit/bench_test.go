package audit

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// BenchmarkFileDevice writes request and response events of a database
// credentials read from parallel goroutines to one file device.
func BenchmarkFileDevice(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts map[string]string
	}{
		{"hmac", nil},
		{"raw", map[string]string{"log_raw": "true"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, _ := newFileDevice(b, bc.opts, NewSalt("bench"))
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				in := credsInput()
				for pb.Next() {
					if err := d.LogRequest(ctx, in); err != nil {
						b.Fatal(err)
					}
					if err := d.LogResponse(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkBrokerDiscard measures formatting and fan-out alone.
func BenchmarkBrokerDiscard(b *testing.B) {
	br := NewBroker(logical.NewInmemStorage(), nil)
	defer br.Close()
	ctx := context.Background()
	if err := br.Enable(ctx, "discard", "file", "", map[string]string{"file_path": "discard"}, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		in := credsInput()
		for pb.Next() {
			if err := br.LogRequest(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
