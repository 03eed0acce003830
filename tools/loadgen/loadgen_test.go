package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMain lets the test binary play the do-nothing server that the
// ceiling workloads start as a child process (this program with
// -serve-noop).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve-noop" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestStaticSealStatusWorkload starts the static ceiling as a process of
// its own and checks that it answers the workload's request with the
// server's seal-status response, byte for byte, and Vault's headers.
func TestStaticSealStatusWorkload(t *testing.T) {
	const body = `{"initialized":true,"sealed":false,"t":1,"n":1,"type":"shamir","version":"1.17.0"}`
	var fetched atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	e := &env{api: newAPIClient(srv.URL, "root-token", 1), workers: 2}
	inst, err := setupStaticSealStatus(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := inst.teardown(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	if inst.pid == 0 || inst.pid == os.Getpid() {
		t.Errorf("pid %d: the static server should run in a process of its own", inst.pid)
	}
	r := drive(context.Background(), "static-seal-status", inst.op, 2, 10*time.Millisecond, 100*time.Millisecond)
	if r.Requests < 10 || r.Errors != 0 {
		t.Fatalf("%d requests, %d errors (%s)", r.Requests, r.Errors, r.FirstError)
	}
	if n := fetched.Load(); n != 1 {
		t.Errorf("the server under test answered %d requests; want only the one fetching its response", n)
	}
}

// TestServeNoopBody checks what -serve-noop -noop-body answers: the file,
// byte for byte, with Vault's headers.
func TestServeNoopBody(t *testing.T) {
	const body = `{"sealed":false,"version":"1.17.0"}`
	file := t.TempDir() + "/body.json"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _, stop, err := startNoopProcess(context.Background(), "-noop-body", file)
	if err != nil {
		t.Fatal(err)
	}
	defer stop(context.Background())
	resp, err := http.Get(url + "/v1/sys/seal-status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != body || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("answer %d %q with headers %v", resp.StatusCode, got, resp.Header)
	}
}

func TestPercentile(t *testing.T) {
	ten := make([]time.Duration, 10)
	for i := range ten {
		ten[i] = time.Duration(i+1) * time.Millisecond
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Microsecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", []time.Duration{7}, 99, 7},
		{"median of ten", ten, 50, 5 * time.Millisecond},
		{"p95 of ten rounds up", ten, 95, 10 * time.Millisecond},
		{"p10 of ten", ten, 10, time.Millisecond},
		{"tiny p is the minimum", ten, 0.01, time.Millisecond},
		{"p100 is the maximum", ten, 100, 10 * time.Millisecond},
		{"p99 of hundred", hundred, 99, 99 * time.Microsecond},
		{"p50 of hundred", hundred, 50, 50 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	errA := errors.New("late error")
	errB := errors.New("early error")
	stats := []workerStats{
		{lat: []time.Duration{4 * time.Millisecond, 2 * time.Millisecond}, errs: 1, firstErr: errA, firstErrAt: t0.Add(2 * time.Second), lastEnd: t0.Add(2 * time.Second)},
		{lat: []time.Duration{1 * time.Millisecond, 3 * time.Millisecond}, errs: 1, firstErr: errB, firstErrAt: t0.Add(time.Second), lastEnd: t0.Add(1 * time.Second)},
	}
	r := summarize("x", 2, t0, stats)
	if r.Requests != 4 || r.Errors != 2 {
		t.Fatalf("requests %d errors %d, want 4 and 2", r.Requests, r.Errors)
	}
	if r.Seconds != 2 || r.RequestsPerSec != 2 || r.SuccessPerSec != 1 {
		t.Errorf("seconds %v req/s %v ok/s %v, want 2, 2, 1", r.Seconds, r.RequestsPerSec, r.SuccessPerSec)
	}
	if r.P50Ms != 2 || r.P99Ms != 4 || r.MaxMs != 4 {
		t.Errorf("p50 %v p99 %v max %v, want 2, 4, 4", r.P50Ms, r.P99Ms, r.MaxMs)
	}
	if r.FirstError != "early error" {
		t.Errorf("first error %q, want the earliest one", r.FirstError)
	}
}

func TestDriveCountsErrorsAndSkipsWarmup(t *testing.T) {
	var calls atomic.Int64
	op := func(ctx context.Context, _ *rand.Rand) error {
		time.Sleep(time.Millisecond)
		if calls.Add(1)%4 == 0 {
			return errors.New("every fourth fails")
		}
		return nil
	}
	r := drive(context.Background(), "t", op, 3, 50*time.Millisecond, 200*time.Millisecond)
	if r.Requests == 0 || r.Requests >= calls.Load() {
		t.Fatalf("recorded %d of %d calls; the warm-up ones must not count", r.Requests, calls.Load())
	}
	if r.Errors == 0 || r.Errors > r.Requests/2 {
		t.Errorf("errors %d of %d, want about a quarter", r.Errors, r.Requests)
	}
	if r.FirstError != "every fourth fails" {
		t.Errorf("first error %q", r.FirstError)
	}
	if r.Seconds < 0.2 || r.Seconds > 1 {
		t.Errorf("window %vs, want about 0.2s", r.Seconds)
	}
	if r.P50Ms < 1 {
		t.Errorf("p50 %vms below the 1ms each call sleeps", r.P50Ms)
	}
}

func TestDriveStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	drive(ctx, "t", func(context.Context, *rand.Rand) error { time.Sleep(time.Millisecond); return nil }, 2, 0, time.Minute)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("drive ran %v after cancel", d)
	}
}

func TestNoopWorkload(t *testing.T) {
	// The ceiling is the seal-status request itself, token included.
	var untokened atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/sys/seal-status" || r.Header.Get("X-Vault-Token") != "root-token" {
			untokened.Add(1)
		}
		noopHandler(w, r)
	}))
	defer srv.Close()
	e := &env{api: newAPIClient("http://127.0.0.1:1", "root-token", 1), noopURL: srv.URL, workers: 4}
	inst, err := setupNoop(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	r := drive(context.Background(), "noop", inst.op, 4, 20*time.Millisecond, 200*time.Millisecond)
	if r.Requests < 10 || r.Errors != 0 || r.FirstError != "" {
		t.Fatalf("noop: %d requests, %d errors (%s)", r.Requests, r.Errors, r.FirstError)
	}
	if r.P50Ms <= 0 || r.P50Ms > r.P99Ms || r.P99Ms > r.MaxMs {
		t.Errorf("latencies out of order: p50 %v p99 %v max %v", r.P50Ms, r.P99Ms, r.MaxMs)
	}
	if n := untokened.Load(); n != 0 {
		t.Errorf("%d noop requests differed from the seal-status request (path or token)", n)
	}
	if err := inst.teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSendReportsStatusErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Vault-Token") != "tok" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
			return
		}
		_, _ = w.Write([]byte(`{"data":{"role_id":"abc"}}`))
	}))
	defer srv.Close()
	ctx := context.Background()
	got, err := newAPIClient(srv.URL, "tok", 1).dataString(ctx, http.MethodGet, "auth/x/role/y/role-id", nil, "role_id")
	if err != nil || got != "abc" {
		t.Fatalf("dataString = %q, %v", got, err)
	}
	err = newAPIClient(srv.URL, "bad", 1).send(ctx, http.MethodGet, "sys/seal-status", nil, nil)
	var se *statusError
	if !errors.As(err, &se) || se.code != http.StatusForbidden || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("send error = %v, want a 403 statusError with the body", err)
	}
}

func TestVerdict(t *testing.T) {
	ok := map[string]float64{"noop": 20000, "postgres-direct": 400}
	tests := []struct {
		r         Result
		wantShare float64
		wantOps   float64
		wantMet   string
	}{
		{Result{Workload: "seal-status", SuccessPerSec: 19000, P99Ms: 2}, 0.95, 18000, "yes"},
		{Result{Workload: "seal-status", SuccessPerSec: 10000, P99Ms: 3}, 0.5, 18000, "no (ops, p99)"},
		{Result{Workload: "kvv2-read", SuccessPerSec: 8000, P99Ms: 1, Errors: 2}, 0.4, 7200, "no (errors)"},
		{Result{Workload: "postgres-creds", SuccessPerSec: 330, P99Ms: 40}, 0.825, 320, "yes"},
		{Result{Workload: "noop", SuccessPerSec: 20000}, 0, 0, ""},
		{Result{Workload: "static-seal-status", SuccessPerSec: 17000, P99Ms: 9}, 0.85, 0, ""},
	}
	for _, tt := range tests {
		_, share, want, met := verdict(tt.r, ok)
		if diff := share - tt.wantShare; diff > 1e-9 || diff < -1e-9 || want != tt.wantOps || met != tt.wantMet {
			t.Errorf("%s: share %v want %v met %q; expected %v %v %q", tt.r.Workload, share, want, met, tt.wantShare, tt.wantOps, tt.wantMet)
		}
	}
	// Without its ceiling, postgres-creds falls back to the absolute target.
	if _, _, want, _ := verdict(Result{Workload: "postgres-creds", SuccessPerSec: 300}, nil); want != 290 {
		t.Errorf("postgres-creds target without ceiling = %v, want 290", want)
	}
}

func TestMedianReportAndTable(t *testing.T) {
	mk := func(ops, p99 float64, rss int64, firstErr string) *Report {
		return &Report{Runs: 1, Workers: 8, Duration: 15, Idle: &Memory{RSSKB: rss, HWMKB: rss, AnonKB: rss / 2, FileKB: rss / 4},
			Results: []Result{
				{Workload: "noop", SuccessPerSec: 20000, RequestsPerSec: 20000},
				{Workload: "seal-status", SuccessPerSec: ops, RequestsPerSec: ops, P99Ms: p99, FirstError: firstErr, Memory: &Memory{RSSKB: rss, HWMKB: 2 * rss}},
			}}
	}
	m := medianReport([]*Report{mk(100, 9, 1000, ""), mk(300, 1, 3000, "boom"), mk(200, 5, 2000, "")})
	if m.Runs != 3 || len(m.Results) != 2 {
		t.Fatalf("runs %d results %d", m.Runs, len(m.Results))
	}
	s := m.Results[1]
	if s.SuccessPerSec != 200 || s.P99Ms != 5 || s.Memory.RSSKB != 2000 || s.Memory.HWMKB != 4000 || m.Idle.RSSKB != 2000 {
		t.Errorf("median: %+v memory %+v idle %+v", s, s.Memory, m.Idle)
	}
	if s.FirstError != "boom" {
		t.Errorf("first error %q, want the one seen", s.FirstError)
	}
	var buf bytes.Buffer
	if err := printReport(&buf, m, "table"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"median of 3 runs", "noop 20000", "1%", ">= 18000", "no (ops, p99)", "seal-status: first error: boom", "idle after unseal VmRSS 2.0 MB (anon 1.0, file 0.5;"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSampleMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	m, err := sampleMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSKB <= 0 || m.HWMKB < m.RSSKB || m.AnonKB <= 0 || m.AnonKB+m.FileKB > m.RSSKB {
		t.Errorf("memory %+v: want RSS > 0, HWM >= RSS, anon > 0 and anon+file <= RSS", m)
	}
	if _, err := sampleMemory(1 << 30); err == nil {
		t.Error("sampling a process that does not exist succeeded")
	}
}

func TestSelectWorkloads(t *testing.T) {
	all, err := selectWorkloads("all")
	if err != nil || len(all) != len(workloadTable()) || all[0] != "noop" {
		t.Fatalf("all = %v, %v", all, err)
	}
	got, err := selectWorkloads("kvv2-read, seal-status")
	if err != nil || strings.Join(got, ",") != "kvv2-read,seal-status" {
		t.Fatalf("subset = %v, %v", got, err)
	}
	if _, err := selectWorkloads("kvv2-read,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown workload accepted: %v", err)
	}
	// Every ceiling a target names runs before the workload it bounds.
	pos := map[string]int{}
	for i, n := range all {
		pos[n] = i
	}
	for name, tg := range targets() {
		if pos[tg.ceiling] >= pos[name] {
			t.Errorf("ceiling %s of %s does not run first", tg.ceiling, name)
		}
	}
}

func TestMedianShareIsPerRun(t *testing.T) {
	// A noisy machine moves the ceiling and the workload together; the
	// share is taken per run before the median.
	mk := func(noop, seal float64) *Report {
		return &Report{Runs: 1, Workers: 8, Duration: 15, Results: []Result{
			{Workload: "noop", SuccessPerSec: noop},
			{Workload: "seal-status", SuccessPerSec: seal, P99Ms: 1},
		}}
	}
	m := medianReport([]*Report{mk(10000, 9500), mk(30000, 12000), mk(20000, 19000)})
	s := m.Results[1]
	if s.CeilingShare != 0.95 {
		t.Fatalf("share %v, want the median of the per-run shares 0.95", s.CeilingShare)
	}
	if _, share, _, met := verdict(s, map[string]float64{"noop": m.Results[0].SuccessPerSec}); share != 0.95 || met != "yes" {
		t.Errorf("verdict share %v met %q, want 0.95 and yes", share, met)
	}
}

// fakeTransit stands in for a Vault server's transit endpoints and records
// what the transit-encrypt workload asks of it.
type fakeTransit struct {
	mu        sync.Mutex
	mounts    map[string]string // path -> type
	keys      map[string]string // mount/keys/name -> type
	encrypts  int
	unmounted []string
	problems  []string
}

func (f *fakeTransit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(format string, args ...any) {
		f.problems = append(f.problems, fmt.Sprintf(format, args...))
		w.WriteHeader(http.StatusBadRequest)
	}
	if r.Header.Get("X-Vault-Token") != "root" {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail("%s %s: body: %v", r.Method, r.URL.Path, err)
			return
		}
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch mount, rest, _ := strings.Cut(path, "/"); {
	case r.Method == http.MethodPost && strings.HasPrefix(path, "sys/mounts/"):
		f.mounts[strings.TrimPrefix(path, "sys/mounts/")], _ = body["type"].(string)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "sys/mounts/"):
		f.unmounted = append(f.unmounted, strings.TrimPrefix(path, "sys/mounts/"))
		w.WriteHeader(http.StatusNoContent)
	case f.mounts[mount] != "transit":
		fail("%s %s: no transit mount %q", r.Method, path, mount)
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "keys/"):
		f.keys[path], _ = body["type"].(string)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "encrypt/"):
		if _, ok := f.keys[mount+"/keys/"+strings.TrimPrefix(rest, "encrypt/")]; !ok {
			fail("encrypt with a key never created: %s", path)
			return
		}
		s, _ := body["plaintext"].(string)
		pt, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(pt) != 100 || len(body) != 1 {
			fail("encrypt body %v: want only a base64 plaintext of 100 bytes", body)
			return
		}
		f.encrypts++
		_, _ = w.Write([]byte(`{"data":{"ciphertext":"vault:v1:AAAA","key_version":1}}`))
	default:
		fail("unexpected %s %s", r.Method, path)
	}
}

func TestTransitEncryptWorkload(t *testing.T) {
	f := &fakeTransit{mounts: map[string]string{}, keys: map[string]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	e := &env{api: newAPIClient(srv.URL, "root", 2), id: "abcd", workers: 2, log: io.Discard, cleanup: true}
	w := lookupWorkload("transit-encrypt")
	if !w.server {
		t.Error("transit-encrypt is not marked as a server workload")
	}
	inst, err := w.setup(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if f.mounts["bench-transit-abcd"] != "transit" || f.keys["bench-transit-abcd/keys/bench"] != "aes256-gcm96" {
		t.Fatalf("setup made mounts %v and keys %v, want transit at bench-transit-abcd with an aes256-gcm96 key", f.mounts, f.keys)
	}
	r := drive(context.Background(), "transit-encrypt", inst.op, 2, 0, 100*time.Millisecond)
	if r.Requests == 0 || r.Errors != 0 || f.encrypts < int(r.Requests) {
		t.Errorf("%d requests, %d errors (%s), %d encrypts served", r.Requests, r.Errors, r.FirstError, f.encrypts)
	}
	if err := inst.teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.unmounted) != 1 || f.unmounted[0] != "bench-transit-abcd" {
		t.Errorf("teardown unmounted %v", f.unmounted)
	}
	for _, p := range f.problems {
		t.Error(p)
	}
	// The target is 9,000 ok/s; it has no p99 target.
	if _, _, want, met := verdict(Result{Workload: "transit-encrypt", SuccessPerSec: 9500, P99Ms: 50}, nil); want != 9000 || met != "yes" {
		t.Errorf("transit-encrypt at 9500 ok/s: target %v ok/s, met %q; want 9000 and yes", want, met)
	}
}
