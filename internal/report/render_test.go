package report

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// sampleInput is the example of the report's specification.
func sampleInput() Input {
	rotated := time.Date(2025, 2, 27, 9, 15, 0, 0, time.UTC)
	engines := []EngineInfo{
		{Path: "database/", Type: "database", Details: []string{"PostgreSQL (production-postgres)", "MySQL (production-mysql)"},
			RootConfigs: []string{"database/production-postgres", "database/production-mysql"}},
		{Path: "aws/", Type: "aws", Details: []string{"IAM users", "assumed roles"}, RootConfigs: []string{"aws/config/root"}},
		{Path: "pki_int/", Type: "pki", Details: []string{"intermediate CA", "2 roles"}},
	}
	return Input{
		Version:       "1.17.0+coffer.0.1.0",
		ClusterStatus: "HA Active (3 nodes)",
		SealType:      "Shamir",
		Engines:       engines,
		ActiveLeases:  587,
		Irrevocable:   2,
		RootRotations: RotationStatus(engines, []RootRotation{
			{Name: "database/production-postgres", Time: rotated},
			{Name: "database/deleted-config", Time: rotated},
			{Name: "aws/config/root", Time: rotated.Add(26 * time.Hour)},
		}),
		AuditDevices: []string{"file/ (file)", "syslog/ (syslog)"},
		Window: Window{
			Duration: 24 * time.Hour,
			Since:    time.Date(2025, 2, 28, 12, 0, 0, 0, time.UTC),
			Credentials: []PathStat{
				{Path: "aws/creds/s3-readonly", Count: 89, TTLTotal: 89 * time.Hour},
				{Path: "database/creds/app-readonly", Count: 342, TTLTotal: 342 * time.Hour},
				{Path: "pki_int/issue/web-server", Count: 156, TTLTotal: 156 * 72 * time.Hour},
			},
			Renewed: 120, Revoked: 37, Expired: 291, Irrevocable: 2, OrphansCleaned: 4, AuthFailures: 13, PolicyViolations: 6,
		},
	}
}

func TestRenderSample(t *testing.T) {
	got := Render(sampleInput())
	golden(t, "report.golden", got)

	// The lines the specification spells out, character for character.
	for _, line := range []string{
		"COFFER DYNAMIC SECRETS REPORT\n=========================================\n",
		"\nSECRETS ENGINES\n  database/: PostgreSQL (production-postgres), MySQL (production-mysql)\n  aws/: IAM users, assumed roles\n  pki_int/: intermediate CA, 2 roles\n",
		"\nCREDENTIALS GENERATED (last 24h)\n" +
			"  database/creds/app-readonly:  342 (avg TTL: 1h)\n" +
			"  aws/creds/s3-readonly:        89 (avg TTL: 1h)\n" +
			"  pki_int/issue/web-server:     156 (avg TTL: 72h)\n",
		"  Active leases:   587   Renewals (24h): 120   Revocations (24h): 37\n",
		"  Expired (24h):   291   Irrevocable: 2        Orphans cleaned: 4\n",
		"  Root credentials rotated: database/production-postgres: yes, 2025-02-27 09:15 UTC\n" +
			"                            database/production-mysql: no\n" +
			"                            aws/config/root: yes, 2025-02-28 11:15 UTC\n",
		"  Audit logging: file/ (file), syslog/ (syslog)\n",
		"  Failed authentications (24h): 13\n  Policy violations (24h): 6\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("report lacks\n%q\nin\n%s", line, got)
		}
	}
}

func TestRenderEmpty(t *testing.T) {
	got := Render(Input{Version: "1.17.0+coffer.0.1.0", ClusterStatus: "Standalone", SealType: "Shamir",
		Window: Window{Duration: 24 * time.Hour}})
	golden(t, "empty.golden", got)
	for _, line := range []string{"SECRETS ENGINES\n  none\n", "(last 24h)\n  none\n", "Root credentials rotated: none\n", "Audit logging: none\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("empty report lacks %q", line)
		}
	}
}

func TestJSONSample(t *testing.T) {
	b, err := json.MarshalIndent(JSON(sampleInput()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json.golden", string(b)+"\n")

	var back struct {
		Creds []struct {
			Path   string `json:"path"`
			Count  int    `json:"count"`
			AvgTTL int    `json:"avg_ttl_seconds"`
		} `json:"credentials_generated"`
		Lease struct {
			Active   int `json:"active"`
			Renewals int `json:"renewals"`
		} `json:"lease_status"`
		Security struct {
			Rotations []struct {
				Name    string  `json:"name"`
				Rotated bool    `json:"rotated"`
				Time    *string `json:"time"`
			} `json:"root_rotations"`
		} `json:"security"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Creds) != 3 || back.Creds[0].Path != "database/creds/app-readonly" || back.Creds[0].Count != 342 || back.Creds[2].AvgTTL != 72*3600 {
		t.Errorf("credentials %+v", back.Creds)
	}
	if back.Lease.Active != 587 || back.Lease.Renewals != 120 {
		t.Errorf("lease status %+v", back.Lease)
	}
	r := back.Security.Rotations
	if len(r) != 3 || r[1].Rotated || r[1].Time != nil || !r[0].Rotated || *r[0].Time != "2025-02-27T09:15:00Z" {
		t.Errorf("rotations %+v", r)
	}
}

// TestReportAfterWorkload drives Stats with a known workload, restarts it,
// and checks that the rendered report shows exactly those numbers.
func TestReportAfterWorkload(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	view := logical.NewInmemStorage()
	s, err := NewStats(ctx, view, c.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		s.CredentialIssued("database/creds/readonly", 30*time.Minute)
	}
	for i := 0; i < 3; i++ {
		s.CredentialIssued("pki/issue/web", 90*time.Minute)
		s.Renewed()
	}
	c.add(3 * time.Hour)
	for i := 0; i < 7; i++ {
		s.Expired()
	}
	s.Revoked()
	s.OrphanCleaned()
	s.AuthFailed()
	s.PolicyViolation()
	s.PolicyViolation()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	s2 := openStats(t, view, c)
	in := Input{
		Version: "v", ClusterStatus: "Standalone", SealType: "Shamir",
		Engines:      []EngineInfo{{Path: "pki/", Type: "pki"}, {Path: "database/", Type: "database"}},
		ActiveLeases: 7, Window: s2.Window(24 * time.Hour),
	}
	got := Render(in)
	for _, line := range []string{
		"  pki/: pki\n  database/: database\n",
		"  pki/issue/web:            3 (avg TTL: 1h30m)\n  database/creds/readonly:  12 (avg TTL: 30m)\n",
		"  Active leases:   7   Renewals (24h): 3   Revocations (24h): 1\n",
		"  Expired (24h):   7   Irrevocable: 0      Orphans cleaned: 1\n",
		"  Failed authentications (24h): 1\n  Policy violations (24h): 2\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("report lacks\n%q\nin\n%s", line, got)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                             "0s",
		45 * time.Second:              "45s",
		time.Minute:                   "1m",
		90 * time.Second:              "1m30s",
		time.Hour:                     "1h",
		90 * time.Minute:              "1h30m",
		72 * time.Hour:                "72h",
		time.Hour + time.Second:       "1h0m1s",
		1500 * time.Millisecond:       "2s",
		24*time.Hour + 30*time.Minute: "24h30m",
	}
	for d, want := range tests {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
