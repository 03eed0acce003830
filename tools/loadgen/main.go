// Command loadgen drives a running Coffer (or any server speaking the Vault
// HTTP API) with N concurrent workers for a fixed duration per workload and
// prints, per workload, requests/s, successful/s, p50/p95/p99 latency, the
// error count and the first error.
//
//	go run ./tools/loadgen -addr http://127.0.0.1:8200 -token hvs.... -workload all
//
// Besides the load itself it has three helper modes used by scripts/bench.sh:
// -init (initialise with one key share, unseal, print the root token),
// -merge (median of several JSON reports) and -serve-noop (the do-nothing
// net/http server that the noop ceiling workload starts).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line settings of a load run.
type options struct {
	addr      string
	token     string
	workloads []string
	workers   int
	duration  time.Duration
	warmup    time.Duration
	format    string
	out       string
	serverPID int
	pgURL     string
	pgTable   bool
	pprofURL  string
	pprofDir  string
	cleanup   bool
	noopURL   string
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var workloadList, merge, serveNoop, noopBody string
	var initMode bool
	fs.StringVar(&o.addr, "addr", envOr("VAULT_ADDR", "http://127.0.0.1:8200"), "Server address (default $VAULT_ADDR).")
	fs.StringVar(&o.token, "token", os.Getenv("VAULT_TOKEN"), "Root token used for setup, teardown and authenticated requests (default $VAULT_TOKEN).")
	fs.StringVar(&workloadList, "workload", "all", "Comma-separated workloads, or \"all\": "+strings.Join(workloadNames(), ", ")+".")
	fs.IntVar(&o.workers, "workers", 8, "Concurrent workers.")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "Measured duration of each workload.")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "Unmeasured warm-up before each workload's measured window.")
	fs.StringVar(&o.format, "format", "table", "Output format: table or json.")
	fs.StringVar(&o.out, "out", "", "Also write the JSON report to this file.")
	fs.IntVar(&o.serverPID, "server-pid", 0, "Server process id; VmRSS and VmHWM are sampled from /proc before the first and after each workload.")
	fs.StringVar(&o.pgURL, "pg-url", envOr("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL admin connection for the postgres workloads; they use a database \"coffer_bench\" next to it.")
	fs.BoolVar(&o.pgTable, "pg-table", false, "Give the postgres workloads' schema one table, so that each user's GRANT updates its ACL (a heavier variant than the common suite's empty schema).")
	fs.StringVar(&o.pprofURL, "pprof-url", "", "Base URL of the server's pprof endpoint; when set, CPU, allocs, mutex and block profiles are fetched during each server workload.")
	fs.StringVar(&o.pprofDir, "pprof-dir", "pprof", "Directory for fetched profiles.")
	fs.BoolVar(&o.cleanup, "cleanup", true, "Unmount each workload's mounts after it ran (database roles are always dropped).")
	fs.StringVar(&o.noopURL, "noop-url", "", "Drive this URL in the noop workload instead of starting a do-nothing server.")
	fs.BoolVar(&initMode, "init", false, "Initialise the server at -addr with one key share, unseal it, wait until it is active and print the root token.")
	fs.StringVar(&merge, "merge", "", "Comma-separated JSON reports: print the median of them instead of running load.")
	fs.StringVar(&serveNoop, "serve-noop", "", "Serve the do-nothing handler on this address, print its URL and block.")
	fs.StringVar(&noopBody, "noop-body", "", "With -serve-noop: answer every request with this file's contents as a JSON response instead of an empty one.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.format != "table" && o.format != "json" {
		fmt.Fprintf(stderr, "loadgen: unknown -format %q; use table or json\n", o.format)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if serveNoop != "" {
		// Stopped with a signal by the load generator that started it,
		// which reports the interruption itself.
		sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		var body []byte
		if noopBody != "" {
			var err error
			if body, err = os.ReadFile(noopBody); err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
				return 1
			}
		}
		if err := serveNoopHandler(sctx, serveNoop, body, stdout); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		return 0
	}
	go quitOnSignals(cancel, stderr)

	var err error
	switch {
	case initMode:
		err = initAndUnseal(ctx, newAPIClient(o.addr, "", 1), stdout)
	case merge != "":
		err = mergeReports(strings.Split(merge, ","), o.format, stdout)
	default:
		o.workloads, err = selectWorkloads(workloadList)
		if err == nil {
			err = runLoad(ctx, o, stdout, stderr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	return 0
}

// quitOnSignals cancels the run at the first SIGINT or SIGTERM, which
// still lets the workloads tear down; a further signal more than two
// seconds later (so not a copy of the first sent to the whole process
// group) quits at once.
func quitOnSignals(cancel context.CancelFunc, stderr io.Writer) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
	first := time.Now()
	fmt.Fprintln(stderr, "loadgen: interrupted; tearing the workloads down (interrupt again to quit at once)")
	cancel()
	for range sigs {
		if time.Since(first) > 2*time.Second {
			os.Exit(130)
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// selectWorkloads expands "all" and checks every name.
func selectWorkloads(list string) ([]string, error) {
	if list == "all" || list == "" {
		return suiteOrder(), nil
	}
	known := map[string]bool{}
	for _, n := range workloadNames() {
		known[n] = true
	}
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if !known[n] {
			return nil, fmt.Errorf("unknown workload %q; known: %s", n, strings.Join(workloadNames(), ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// runLoad runs the selected workloads one after the other and reports.
func runLoad(ctx context.Context, o options, stdout, stderr io.Writer) error {
	needServer := false
	for _, n := range o.workloads {
		if lookupWorkload(n).server {
			needServer = true
		}
	}
	api := newAPIClient(o.addr, o.token, o.workers)
	if needServer {
		if o.token == "" {
			return errors.New("a token is required (-token or $VAULT_TOKEN) for setup and teardown")
		}
		if err := api.waitActive(ctx, 30*time.Second); err != nil {
			return err
		}
	}
	e := &env{api: api, pgURL: o.pgURL, pgTable: o.pgTable, noopURL: o.noopURL, id: randomID(), workers: o.workers, log: stderr, cleanup: o.cleanup}
	rep := &Report{Runs: 1, Workers: o.workers, Duration: o.duration.Seconds()}
	if o.serverPID > 0 {
		m, err := sampleMemory(o.serverPID)
		if err != nil {
			return err
		}
		rep.Idle = &m
	}
	var runErr error
	for _, name := range o.workloads {
		if ctx.Err() != nil {
			runErr = ctx.Err()
			break
		}
		res, err := runWorkload(ctx, e, lookupWorkload(name), o)
		if err != nil {
			runErr = fmt.Errorf("%s: %w", name, err)
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		rep.Results = append(rep.Results, res)
	}
	if o.serverPID > 0 {
		if m, err := sampleMemory(o.serverPID); err == nil {
			rep.Final = &m
		}
	}
	fillShares(rep)
	if o.out != "" {
		if err := writeReportFile(o.out, rep); err != nil {
			return err
		}
	}
	if err := printReport(stdout, rep, o.format); err != nil {
		return err
	}
	return runErr
}

// runWorkload sets one workload up, drives it, samples memory and tears it
// down. Teardown runs even when ctx was cancelled.
func runWorkload(ctx context.Context, e *env, w workload, o options) (Result, error) {
	fmt.Fprintf(e.log, "%-16s setup\n", w.name)
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	inst, err := w.setup(setupCtx, e)
	cancel()
	if err != nil {
		if inst != nil {
			teardown(ctx, e, w.name, inst)
		}
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(e.log, "%-16s %d workers, %s (+%s warm-up)\n", w.name, o.workers, o.duration, o.warmup)
	var prof *profiler
	if o.pprofURL != "" && w.server {
		prof = startProfiles(ctx, o.pprofURL, o.pprofDir, w.name, o.warmup, o.duration)
	}
	res := drive(ctx, w.name, inst.op, o.workers, o.warmup, o.duration)
	if prof != nil {
		if err := prof.wait(); err != nil {
			fmt.Fprintf(e.log, "%-16s pprof: %v\n", w.name, err)
		}
	}
	pid := inst.pid
	if pid == 0 && w.server {
		pid = o.serverPID
	}
	if pid > 0 {
		if m, err := sampleMemory(pid); err == nil {
			res.Memory = &m
		}
	}
	fmt.Fprintf(e.log, "%-16s %.0f req/s, %.0f ok/s, p99 %.2f ms, %d errors\n", w.name, res.RequestsPerSec, res.SuccessPerSec, res.P99Ms, res.Errors)
	res.TeardownSec = teardown(ctx, e, w.name, inst).Seconds()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// teardown undoes a workload's setup, even when ctx was cancelled, and
// returns how long it took.
func teardown(ctx context.Context, e *env, name string, inst *instance) time.Duration {
	if inst.teardown == nil {
		return 0
	}
	start := time.Now()
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Minute)
	defer cancel()
	err := inst.teardown(tctx)
	took := time.Since(start)
	if err != nil {
		fmt.Fprintf(e.log, "%-16s teardown: %v\n", name, err)
	} else {
		fmt.Fprintf(e.log, "%-16s teardown done in %s\n", name, took.Round(10*time.Millisecond))
	}
	return took
}
