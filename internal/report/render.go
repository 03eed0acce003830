package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Input is everything the report shows; the core gathers it from its
// state at the time of the request.
type Input struct {
	// Version is the server version string.
	Version string
	// ClusterStatus is "Standalone" or "HA Active (3 nodes)".
	ClusterStatus string
	// SealType is "Shamir", "AWS KMS (auto-unseal)" or "Transit".
	SealType string
	// Engines are the secrets engines of the mount table, in the order to
	// show them (DescribeEngine fills the details).
	Engines []EngineInfo
	// ActiveLeases and Irrevocable are the lease manager's current counts.
	ActiveLeases, Irrevocable int
	// RootRotations lists the root credentials that can be rotated, with
	// when they last were (RotationStatus builds it).
	RootRotations []RootRotation
	// AuditDevices are the enabled audit devices, e.g. "file/ (file)".
	AuditDevices []string
	// Window holds the counters of the period shown (Stats.Window(24h)).
	Window Window
	// Quotas are the lease-count quotas' usage.
	Quotas []QuotaUsage
}

// QuotaUsage is a lease-count quota's count against its limit.
type QuotaUsage struct {
	Name       string
	Path       string
	Count, Max int
}

// EngineInfo describes one mounted secrets engine.
type EngineInfo struct {
	// Path is the mount path with its trailing slash, e.g. "database/".
	Path string
	// Type is the engine type, e.g. "database".
	Type string
	// Details are what the engine holds, e.g. "PostgreSQL
	// (production-postgres)"; the report shows Type when there are none.
	Details []string
	// RootConfigs name the root credentials the engine can rotate, e.g.
	// "database/production-postgres" or "aws/config/root".
	RootConfigs []string
}

// RootRotation is when the root credentials of Name were last rotated;
// a zero Time means never.
type RootRotation struct {
	Name string
	Time time.Time
}

// RotationStatus lists the root credentials of every engine with the time
// of their last recorded rotation, in engine order.
func RotationStatus(engines []EngineInfo, recorded []RootRotation) []RootRotation {
	when := make(map[string]time.Time, len(recorded))
	for _, r := range recorded {
		when[r.Name] = r.Time
	}
	var out []RootRotation
	for _, e := range engines {
		for _, n := range e.RootConfigs {
			out = append(out, RootRotation{Name: n, Time: when[n]})
		}
	}
	return out
}

// timeLayout is how rotation times are shown.
const timeLayout = "2006-01-02 15:04 MST"

// Render formats the report as text, in the layout operators know:
//
//	COFFER DYNAMIC SECRETS REPORT
//	=========================================
//	Version: ...
//	...
func Render(in Input) string {
	var b strings.Builder
	span := formatDuration(in.Window.Duration)
	b.WriteString("COFFER DYNAMIC SECRETS REPORT\n")
	b.WriteString(strings.Repeat("=", 41) + "\n")
	fmt.Fprintf(&b, "Version: %s\n", in.Version)
	fmt.Fprintf(&b, "Cluster Status: %s\n", in.ClusterStatus)
	fmt.Fprintf(&b, "Seal Type: %s\n", in.SealType)

	b.WriteString("\nSECRETS ENGINES\n")
	if len(in.Engines) == 0 {
		b.WriteString("  none\n")
	}
	for _, e := range in.Engines {
		details := e.Type
		if len(e.Details) > 0 {
			details = strings.Join(e.Details, ", ")
		}
		fmt.Fprintf(&b, "  %s: %s\n", e.Path, details)
	}

	fmt.Fprintf(&b, "\nCREDENTIALS GENERATED (last %s)\n", span)
	creds := orderCredentials(in.Window.Credentials, in.Engines)
	if len(creds) == 0 {
		b.WriteString("  none\n")
	}
	width := 0
	for _, c := range creds {
		width = max(width, len(c.Path)+1)
	}
	for _, c := range creds {
		fmt.Fprintf(&b, "  %-*s  %d (avg TTL: %s)\n", width, c.Path+":", c.Count, formatDuration(c.AvgTTL()))
	}

	b.WriteString("\nLEASE STATUS\n")
	w := in.Window
	b.WriteString(grid([][][2]string{
		{{"Active leases:", fmt.Sprint(in.ActiveLeases)}, {"Renewals (" + span + "):", formatCount(w.Renewed)}, {"Revocations (" + span + "):", formatCount(w.Revoked)}},
		{{"Expired (" + span + "):", formatCount(w.Expired)}, {"Irrevocable:", fmt.Sprint(in.Irrevocable)}, {"Orphans cleaned:", formatCount(w.OrphansCleaned)}},
	}))

	b.WriteString("\nSECURITY\n")
	const rotLabel = "  Root credentials rotated: "
	b.WriteString(rotLabel)
	if len(in.RootRotations) == 0 {
		b.WriteString("none\n")
	}
	for i, r := range in.RootRotations {
		if i > 0 {
			b.WriteString(strings.Repeat(" ", len(rotLabel)))
		}
		if r.Time.IsZero() {
			fmt.Fprintf(&b, "%s: no\n", r.Name)
		} else {
			fmt.Fprintf(&b, "%s: yes, %s\n", r.Name, r.Time.UTC().Format(timeLayout))
		}
	}
	audit := "none"
	if len(in.AuditDevices) > 0 {
		audit = strings.Join(in.AuditDevices, ", ")
	}
	fmt.Fprintf(&b, "  Audit logging: %s\n", audit)
	fmt.Fprintf(&b, "  Failed authentications (%s): %d\n", span, w.AuthFailures)
	fmt.Fprintf(&b, "  Policy violations (%s): %d\n", span, w.PolicyViolations)
	if len(in.Quotas) > 0 || w.QuotaRefusals > 0 {
		b.WriteString("\nQUOTAS\n")
		for _, q := range in.Quotas {
			pct := 0
			if q.Max > 0 {
				pct = q.Count * 100 / q.Max
			}
			fmt.Fprintf(&b, "  Lease count %s (%s): %d of %d (%d%%)\n", q.Name, q.Path, q.Count, q.Max, pct)
		}
		fmt.Fprintf(&b, "  Requests refused by quotas (%s): %d\n", span, w.QuotaRefusals)
	}
	return b.String()
}

// grid lays out rows of label/value cells in aligned columns. The first
// column keeps three spaces between label and value, as the report always
// had; the others one. Columns are three spaces apart.
func grid(rows [][][2]string) string {
	cells := make([][]string, len(rows))
	var widths []int
	for i, row := range rows {
		for j, c := range row {
			text := c[0] + " " + c[1]
			if j == 0 {
				text = fmt.Sprintf("%-*s%s", len(c[0])+3, c[0], c[1])
			}
			cells[i] = append(cells[i], text)
			if j >= len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], len(text))
		}
	}
	var b strings.Builder
	for _, row := range cells {
		b.WriteString("  ")
		for j, c := range row {
			if j == len(row)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s   ", widths[j], c)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// orderCredentials lists paths mount by mount in the order of engines
// (paths sorted within a mount), then paths of mounts not listed.
func orderCredentials(creds []PathStat, engines []EngineInfo) []PathStat {
	rank := func(p string) int {
		for i, e := range engines {
			if strings.HasPrefix(p, e.Path) {
				return i
			}
		}
		return len(engines)
	}
	out := append([]PathStat(nil), creds...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i].Path), rank(out[j].Path)
		if ri != rj {
			return ri < rj
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// formatDuration shows a duration the short way: 24h, 72h, 1h30m, 45s.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// JSON returns the report's data for sys/report and -format=json.
// Durations are given in seconds and as text; times in RFC 3339.
func JSON(in Input) map[string]interface{} {
	engines := make([]interface{}, 0, len(in.Engines))
	for _, e := range in.Engines {
		engines = append(engines, map[string]interface{}{
			"path": e.Path, "type": e.Type, "details": nonNil(e.Details), "root_configs": nonNil(e.RootConfigs),
		})
	}
	creds := make([]interface{}, 0, len(in.Window.Credentials))
	for _, c := range orderCredentials(in.Window.Credentials, in.Engines) {
		hourly := c.Hourly
		if hourly == nil {
			hourly = []int64{}
		}
		creds = append(creds, map[string]interface{}{
			"path": c.Path, "count": c.Count, "hourly": hourly,
			"avg_ttl_seconds": int64(c.AvgTTL() / time.Second), "avg_ttl": formatDuration(c.AvgTTL()),
		})
	}
	rotations := make([]interface{}, 0, len(in.RootRotations))
	for _, r := range in.RootRotations {
		m := map[string]interface{}{"name": r.Name, "rotated": !r.Time.IsZero(), "time": nil}
		if !r.Time.IsZero() {
			m["time"] = r.Time.UTC().Format(time.RFC3339)
		}
		rotations = append(rotations, m)
	}
	w := in.Window
	since := ""
	if !w.Since.IsZero() {
		since = w.Since.UTC().Format(time.RFC3339)
	}
	return map[string]interface{}{
		"version":               in.Version,
		"cluster_status":        in.ClusterStatus,
		"seal_type":             in.SealType,
		"window":                formatDuration(w.Duration),
		"window_seconds":        int64(w.Duration / time.Second),
		"since":                 since,
		"secrets_engines":       engines,
		"credentials_generated": creds,
		"lease_status": map[string]interface{}{
			"active":             in.ActiveLeases,
			"irrevocable":        in.Irrevocable,
			"renewals":           w.Renewed,
			"revocations":        w.Revoked,
			"expired":            w.Expired,
			"orphans_cleaned":    w.OrphansCleaned,
			"marked_irrevocable": w.Irrevocable,
		},
		"security": map[string]interface{}{
			"root_rotations":         rotations,
			"audit_devices":          nonNil(in.AuditDevices),
			"failed_authentications": w.AuthFailures,
			"policy_violations":      w.PolicyViolations,
		},
		"quotas":         quotaJSON(in.Quotas),
		"quota_refusals": w.QuotaRefusals,
	}
}

func quotaJSON(qs []QuotaUsage) []interface{} {
	out := make([]interface{}, 0, len(qs))
	for _, q := range qs {
		out = append(out, map[string]interface{}{"name": q.Name, "path": q.Path, "count": q.Count, "max": q.Max})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
