package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// Report is the output of one run of the suite, or the median of several.
type Report struct {
	// Runs is how many runs the figures are the median of.
	Runs     int     `json:"runs"`
	Workers  int     `json:"workers"`
	Duration float64 `json:"duration_seconds"`
	// Idle is the server's memory before the first workload (after
	// unseal); Final after the last one.
	Idle    *Memory  `json:"idle_memory,omitempty"`
	Final   *Memory  `json:"final_memory,omitempty"`
	Results []Result `json:"results"`
}

// target is what a workload should reach (issue targets on the standard
// 2-core machine with 8 workers).
type target struct {
	// ceiling names the workload whose ok/s bounds this one.
	ceiling string
	// minOps is an absolute ok/s target; ofCeiling a share of the
	// ceiling, used instead when the ceiling was measured.
	minOps    float64
	ofCeiling float64
	// p99Ms is the p99 latency target; 0 when there is none.
	p99Ms float64
}

func targets() map[string]target {
	return map[string]target{
		// static-seal-status has no target; its share of noop is what
		// answering seal-status at all leaves of the ceiling.
		"static-seal-status": {ceiling: "noop"},
		"seal-status":        {ceiling: "noop", ofCeiling: 0.9, p99Ms: 2.5},
		"kvv2-write":         {ceiling: "noop", minOps: 2400, p99Ms: 8},
		"kvv2-read":          {ceiling: "noop", minOps: 7200, p99Ms: 5},
		"transit-encrypt":    {ceiling: "noop", minOps: 9000},
		"approle-login":      {ceiling: "noop", minOps: 1200, p99Ms: 16},
		"pki-issue":          {ceiling: "pki-crypto", minOps: 900, p99Ms: 25},
		"postgres-creds":     {ceiling: "postgres-direct", minOps: 290, ofCeiling: 0.8, p99Ms: 50},
	}
}

// Memory targets: idle after unseal, and after the whole suite.
const (
	idleTargetMB  = 32
	finalTargetMB = 140
)

// verdict compares a result with its target, given the measured ok/s of
// every workload; want is the ok/s target (0 when there is none).
func verdict(r Result, okPerSec map[string]float64) (ceilingOps, share, want float64, met string) {
	t, ok := targets()[r.Workload]
	if !ok {
		return 0, 0, 0, ""
	}
	ceilingOps = okPerSec[t.ceiling]
	share = r.CeilingShare
	if share == 0 && ceilingOps > 0 {
		share = r.SuccessPerSec / ceilingOps
	}
	if t.minOps == 0 && t.ofCeiling == 0 && t.p99Ms == 0 {
		return ceilingOps, share, 0, "" // measured against a ceiling only
	}
	want = t.minOps
	opsMet := r.SuccessPerSec >= want
	if t.ofCeiling > 0 && ceilingOps > 0 {
		want = t.ofCeiling * ceilingOps
		opsMet = share >= t.ofCeiling
	}
	var missed []string
	if want == 0 {
		missed = append(missed, "ops unknown")
	} else if !opsMet {
		missed = append(missed, "ops")
	}
	if t.p99Ms > 0 && r.P99Ms > t.p99Ms {
		missed = append(missed, "p99")
	}
	if r.Errors > 0 {
		missed = append(missed, "errors")
	}
	if len(missed) == 0 {
		return ceilingOps, share, want, "yes"
	}
	return ceilingOps, share, want, "no (" + strings.Join(missed, ", ") + ")"
}

// fillShares sets each result's CeilingShare from the ceilings measured
// in the same report.
func fillShares(rep *Report) {
	okPerSec := map[string]float64{}
	for _, r := range rep.Results {
		okPerSec[r.Workload] = r.SuccessPerSec
	}
	for i, r := range rep.Results {
		if t, ok := targets()[r.Workload]; ok && okPerSec[t.ceiling] > 0 {
			rep.Results[i].CeilingShare = r.SuccessPerSec / okPerSec[t.ceiling]
		}
	}
}

func printReport(w io.Writer, rep *Report, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printTable(w, rep)
}

func mb(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }

func printTable(w io.Writer, rep *Report) error {
	okPerSec := map[string]float64{}
	for _, r := range rep.Results {
		okPerSec[r.Workload] = r.SuccessPerSec
	}
	title := fmt.Sprintf("%d workers, %gs per workload", rep.Workers, rep.Duration)
	if rep.Runs > 1 {
		title += fmt.Sprintf(", median of %d runs (each figure, and each share of a ceiling, separately)", rep.Runs)
	}
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\treq/s\tok/s\tp50 ms\tp95 ms\tp99 ms\terrors\tRSS MB\tanon MB\tfile MB\tHWM MB\tceiling ok/s\tshare\ttarget ok/s\tp99 target\tmet\tteardown s\t")
	for _, r := range rep.Results {
		rss, anon, file, hwm := "-", "-", "-", "-"
		if m := r.Memory; m != nil {
			rss, anon, file, hwm = mb(m.RSSKB), mb(m.AnonKB), mb(m.FileKB), mb(m.HWMKB)
		}
		ceilingOps, share, want, met := verdict(r, okPerSec)
		ceil, shareS, wantS, p99S := "-", "-", "-", "-"
		if t, ok := targets()[r.Workload]; ok {
			ceil = t.ceiling + " n/a"
			if ceilingOps > 0 {
				ceil = fmt.Sprintf("%s %.0f", t.ceiling, ceilingOps)
				shareS = fmt.Sprintf("%.0f%%", 100*share)
			}
			if want > 0 {
				wantS = fmt.Sprintf(">= %.0f", want)
			}
			if t.p99Ms > 0 {
				p99S = fmt.Sprintf("<= %g", t.p99Ms)
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t\n",
			r.Workload, r.RequestsPerSec, r.SuccessPerSec, r.P50Ms, r.P95Ms, r.P99Ms, r.Errors,
			rss, anon, file, hwm, ceil, shareS, wantS, p99S, met, r.TeardownSec)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Idle != nil || rep.Final != nil {
		var parts []string
		if m := rep.Idle; m != nil {
			parts = append(parts, fmt.Sprintf("idle after unseal VmRSS %s MB (anon %s, file %s; target <= %d MB)", mb(m.RSSKB), mb(m.AnonKB), mb(m.FileKB), idleTargetMB))
		}
		if m := rep.Final; m != nil {
			parts = append(parts, fmt.Sprintf("after the suite VmRSS %s MB (anon %s, file %s), VmHWM %s MB (target <= %d MB)", mb(m.RSSKB), mb(m.AnonKB), mb(m.FileKB), mb(m.HWMKB), finalTargetMB))
		}
		fmt.Fprintln(w, "server memory: "+strings.Join(parts, "; "))
	}
	for _, r := range rep.Results {
		if r.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", r.Workload, r.FirstError)
		}
	}
	return nil
}

func writeReportFile(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// mergeReports prints the median of the reports in files.
func mergeReports(files []string, format string, w io.Writer) error {
	var reps []*Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read report: %w", err)
		}
		rep := new(Report)
		if err := json.Unmarshal(b, rep); err != nil {
			return fmt.Errorf("report %s: %w", f, err)
		}
		reps = append(reps, rep)
	}
	return printReport(w, medianReport(reps), format)
}

// medianReport takes the median of each figure independently across the
// reports, workload by workload in the order first seen.
func medianReport(reps []*Report) *Report {
	out := &Report{Runs: len(reps)}
	var order []string
	byName := map[string][]Result{}
	var idle, final []Memory
	for _, rep := range reps {
		fillShares(rep)
		out.Workers, out.Duration = rep.Workers, rep.Duration
		if rep.Idle != nil {
			idle = append(idle, *rep.Idle)
		}
		if rep.Final != nil {
			final = append(final, *rep.Final)
		}
		for _, r := range rep.Results {
			if _, seen := byName[r.Workload]; !seen {
				order = append(order, r.Workload)
			}
			byName[r.Workload] = append(byName[r.Workload], r)
		}
	}
	out.Idle, out.Final = medianMemory(idle), medianMemory(final)
	for _, name := range order {
		rs := byName[name]
		m := Result{Workload: name, Workers: rs[0].Workers}
		f := func(get func(Result) float64) float64 {
			vals := make([]float64, len(rs))
			for i, r := range rs {
				vals[i] = get(r)
			}
			return median(vals)
		}
		m.Seconds = f(func(r Result) float64 { return r.Seconds })
		m.Requests = int64(f(func(r Result) float64 { return float64(r.Requests) }))
		m.Errors = int64(f(func(r Result) float64 { return float64(r.Errors) }))
		m.RequestsPerSec = f(func(r Result) float64 { return r.RequestsPerSec })
		m.SuccessPerSec = f(func(r Result) float64 { return r.SuccessPerSec })
		m.P50Ms = f(func(r Result) float64 { return r.P50Ms })
		m.P95Ms = f(func(r Result) float64 { return r.P95Ms })
		m.P99Ms = f(func(r Result) float64 { return r.P99Ms })
		m.MaxMs = f(func(r Result) float64 { return r.MaxMs })
		m.TeardownSec = f(func(r Result) float64 { return r.TeardownSec })
		m.CeilingShare = f(func(r Result) float64 { return r.CeilingShare })
		var mems []Memory
		for _, r := range rs {
			if m.FirstError == "" {
				m.FirstError = r.FirstError
			}
			if r.Memory != nil {
				mems = append(mems, *r.Memory)
			}
		}
		m.Memory = medianMemory(mems)
		out.Results = append(out.Results, m)
	}
	return out
}

func medianMemory(ms []Memory) *Memory {
	if len(ms) == 0 {
		return nil
	}
	f := func(get func(Memory) int64) int64 {
		vals := make([]float64, len(ms))
		for i, m := range ms {
			vals[i] = float64(get(m))
		}
		return int64(median(vals))
	}
	return &Memory{
		RSSKB:  f(func(m Memory) int64 { return m.RSSKB }),
		HWMKB:  f(func(m Memory) int64 { return m.HWMKB }),
		AnonKB: f(func(m Memory) int64 { return m.AnonKB }),
		FileKB: f(func(m Memory) int64 { return m.FileKB }),
	}
}

// median of vals (the mean of the middle two for an even count); 0 for none.
func median(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
