package database

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestChurnWarning(t *testing.T) {
	b := newBackend(&logical.BackendConfig{})
	if w := b.churnWarning(10 * time.Second); !strings.Contains(w, "about 360 database users per hour") {
		t.Fatalf("10s TTL: %q", w)
	}
	for _, ttl := range []time.Duration{0, time.Minute, time.Hour} {
		if w := b.churnWarning(ttl); w != "" {
			t.Fatalf("%s: unexpected warning %q", ttl, w)
		}
	}
	b = newBackend(&logical.BackendConfig{Config: map[string]string{"churn_warning_ttl": "5m"}})
	if w := b.churnWarning(2 * time.Minute); !strings.Contains(w, "about 30 database users per hour") {
		t.Fatalf("configured threshold: %q", w)
	}
	b = newBackend(&logical.BackendConfig{Config: map[string]string{"churn_warning_ttl": "0"}})
	if w := b.churnWarning(time.Second); w != "" {
		t.Fatalf("disabled: %q", w)
	}
}
