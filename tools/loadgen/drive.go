package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// opFunc performs one request of a workload. rng belongs to the calling
// worker, so it needs no locking.
type opFunc func(ctx context.Context, rng *rand.Rand) error

// Result is what one workload run measured.
type Result struct {
	Workload       string  `json:"workload"`
	Workers        int     `json:"workers"`
	Seconds        float64 `json:"seconds"`
	Requests       int64   `json:"requests"`
	Errors         int64   `json:"errors"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	SuccessPerSec  float64 `json:"success_per_sec"`
	P50Ms          float64 `json:"p50_ms"`
	P95Ms          float64 `json:"p95_ms"`
	P99Ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	FirstError     string  `json:"first_error,omitempty"`
	// CeilingShare is ok/s as a share of the workload's ceiling measured
	// in the same run; in a merged report, the median of the runs' shares.
	CeilingShare float64 `json:"ceiling_share,omitempty"`
	// TeardownSec is how long the teardown took: for server workloads
	// mostly the unmount revoking every lease or token the run created.
	TeardownSec float64 `json:"teardown_seconds"`
	Memory      *Memory `json:"memory,omitempty"`
}

// Memory is a sample of a process's resident set from /proc/<pid>/status:
// VmRSS, its peak VmHWM, and how much of VmRSS is anonymous memory (the
// Go heap and stacks) and how much file pages mapped in (bbolt's mmap).
type Memory struct {
	RSSKB  int64 `json:"vm_rss_kb"`
	HWMKB  int64 `json:"vm_hwm_kb"`
	AnonKB int64 `json:"rss_anon_kb"`
	FileKB int64 `json:"rss_file_kb"`
}

// workerStats is one worker's share of a run.
type workerStats struct {
	lat        []time.Duration
	errs       int64
	firstErr   error
	firstErrAt time.Time
	lastEnd    time.Time
}

// drive runs op on workers goroutines: first for warmup without
// recording, then for duration with every request's latency recorded. A
// request counts when it started inside the measured window; the window
// closes when the last such request has finished.
func drive(ctx context.Context, name string, op opFunc, workers int, warmup, duration time.Duration) Result {
	start := time.Now()
	t0 := start.Add(warmup)
	t1 := t0.Add(duration)
	stats := make([]workerStats, workers)
	var wg sync.WaitGroup
	for i := range stats {
		wg.Add(1)
		go func(s *workerStats, seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
			s.lat = make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				begin := time.Now()
				if !begin.Before(t1) {
					break
				}
				err := op(ctx, rng)
				end := time.Now()
				if begin.Before(t0) {
					continue
				}
				s.lat = append(s.lat, end.Sub(begin))
				s.lastEnd = end
				if err != nil {
					s.errs++
					if s.firstErr == nil {
						s.firstErr, s.firstErrAt = err, end
					}
				}
			}
		}(&stats[i], uint64(i)+1)
	}
	wg.Wait()
	return summarize(name, workers, t0, stats)
}

// summarize merges the workers' records into a Result.
func summarize(name string, workers int, t0 time.Time, stats []workerStats) Result {
	res := Result{Workload: name, Workers: workers}
	var all []time.Duration
	end := t0
	var first error
	var firstAt time.Time
	for _, s := range stats {
		all = append(all, s.lat...)
		res.Errors += s.errs
		if s.lastEnd.After(end) {
			end = s.lastEnd
		}
		if s.firstErr != nil && (first == nil || s.firstErrAt.Before(firstAt)) {
			first, firstAt = s.firstErr, s.firstErrAt
		}
	}
	if first != nil {
		res.FirstError = first.Error()
	}
	res.Requests = int64(len(all))
	res.Seconds = end.Sub(t0).Seconds()
	if res.Seconds > 0 {
		res.RequestsPerSec = float64(res.Requests) / res.Seconds
		res.SuccessPerSec = float64(res.Requests-res.Errors) / res.Seconds
	}
	slices.Sort(all)
	res.P50Ms = ms(percentile(all, 50))
	res.P95Ms = ms(percentile(all, 95))
	res.P99Ms = ms(percentile(all, 99))
	if len(all) > 0 {
		res.MaxMs = ms(all[len(all)-1])
	}
	return res
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted latencies: the smallest value that at least p% of the values do
// not exceed. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sampleMemory reads the resident set figures of a process from /proc.
func sampleMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("sample memory of process %d: %w", pid, err)
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &m.RSSKB
		case "VmHWM":
			dst = &m.HWMKB
		case "RssAnon":
			dst = &m.AnonKB
		case "RssFile":
			dst = &m.FileKB
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("parse %s of process %d: %w", key, pid, err)
		}
		*dst = n
	}
	if err := sc.Err(); err != nil {
		return Memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	return m, nil
}
