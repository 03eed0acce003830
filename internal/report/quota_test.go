package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestHourlyCountsAndQuotaSection(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st, err := NewStats(context.Background(), logical.NewInmemStorage(), clock)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	st.CredentialIssued("database/creds/ro", time.Hour)
	now = now.Add(-3 * time.Hour)
	st.CredentialIssued("database/creds/ro", time.Hour)
	st.CredentialIssued("database/creds/ro", time.Hour)
	now = now.Add(3 * time.Hour)
	st.QuotaRefused()
	st.QuotaRefused()
	w := st.Window(24 * time.Hour)
	if len(w.Credentials) != 1 {
		t.Fatalf("credentials %+v", w.Credentials)
	}
	h := w.Credentials[0].Hourly
	if len(h) != 25 || h[len(h)-1] != 1 || h[len(h)-4] != 2 || w.QuotaRefusals != 2 {
		t.Fatalf("hourly %v refusals %d", h, w.QuotaRefusals)
	}
	text := Render(Input{Window: w, Quotas: []QuotaUsage{{Name: "db", Path: "database/creds/ro", Count: 95, Max: 100}}})
	for _, want := range []string{"QUOTAS", "Lease count db (database/creds/ro): 95 of 100 (95%)", "Requests refused by quotas (24h): 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(Render(Input{}), "QUOTAS") {
		t.Error("quota section shown without quotas")
	}
}
