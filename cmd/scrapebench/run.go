package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"

	"github.com/scrapebench/scrapebench/bench"
)

const runSynopsis = `run [flags]

Runs a scenario's strategies against the mock (started as a child process on
a free loopback port) or, with --endpoint, the real API; verifies every stored
result; prints the cost-benefit and detail tables. Exit status 1 when a run
lost, duplicated or corrupted a result (the jobs are named), 2 on a usage error.

Against the real API: set PANGOLIN_TOKEN, give --endpoint, --max-credits,
--asin-file and (for async strategies) --callback-url; try --dry-run first.`

// runFlags are run's own flags, beside the world flags.
type runFlags struct {
	scenario, strategies, asinFile, endpoint, callbackURL, callbackListen string
	store, metricsAddr, format                                            string
	asins, repeat, submitConc, maxAttempts                                bench.NonNegInt
	maxCredits                                                            bench.NonNegFloat
	callbackTimeout                                                       bench.PositiveDuration
	resume, dryRun, noCompensation                                        bool
	durability, progress, mock                                            bench.Choice
	out                                                                   []string
}

func addRunFlags(fs *pflag.FlagSet, f *runFlags) {
	fs.StringVar(&f.scenario, "scenario", "cost-benefit", "built-in scenario ("+strings.Join(bench.ScenarioNames(), ", ")+") or a JSON file")
	fs.StringVar(&f.strategies, "strategies", "", "comma-separated strategies to run instead of the scenario's: serial, concurrent:N, async, async:N, async-seed")
	fs.Var(&f.asins, "asins", "number of generated ASINs instead of the scenario's (mock only)")
	fs.StringVar(&f.asinFile, "asin-file", "", "file of ASINs or Amazon product URLs, one per line (# comments allowed)")
	fs.Var(&f.repeat, "repeat", "repetitions, interleaved across strategies (0: the scenario's)")
	fs.StringVar(&f.endpoint, "endpoint", "", "base URL of the real API, such as https://scrapeapi.pangolinfo.com (default: the mock); token from PANGOLIN_TOKEN")
	fs.StringVar(&f.callbackURL, "callback-url", "", "public URL the real API posts callbacks to; it must reach --callback-listen (default with the mock: the receiver's own URL)")
	fs.StringVar(&f.callbackListen, "callback-listen", "127.0.0.1:0", "local address of the callback receiver")
	fs.Var(&f.maxCredits, "max-credits", "credit budget of the whole command: no request is sent beyond it (required with --endpoint; 0: none with the mock)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the planned requests and the credit estimate, send nothing")
	fs.StringVar(&f.store, "store", "", "keep each run's Pebble store under this folder (default: a temporary store per run)")
	fs.BoolVar(&f.resume, "resume", false, "continue runs whose store under --store exists (after a crash or a spent budget)")
	f.durability = bench.Choice{Value: "", Allowed: []string{"sync", "nosync"}}
	fs.Var(&f.durability, "durability", "store commits: sync (fsync each) or nosync (default: the scenario's)")
	fs.Var(&f.callbackTimeout, "callback-timeout", "API time async waits for a callback before compensating (default: the scenario's, 60s)")
	fs.Var(&f.submitConc, "submit-concurrency", "async submits in flight (default: the scenario's, 4)")
	fs.Var(&f.maxAttempts, "max-attempts", "attempts per call before a job is given up (default: the scenario's, 8)")
	fs.BoolVar(&f.noCompensation, "no-compensation", false, "do not compensate lost callbacks: their jobs fail (shows what the safety net is worth)")
	fs.StringVar(&f.format, "format", "table", "stdout format: table, markdown, json or csv")
	fs.StringSliceVar(&f.out, "out", nil, "also write the report to FILE, format by extension (.json, .md, .csv, .txt); repeatable")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve the client's Prometheus metrics at http://ADDR/metrics during the run")
	f.progress = bench.Choice{Value: "auto", Allowed: []string{"auto", "on", "off"}}
	fs.Var(&f.progress, "progress", "progress bars on stderr: auto (when stderr is a terminal), on or off")
	f.mock = bench.Choice{Value: bench.MockProcess, Allowed: []string{bench.MockProcess, bench.MockInProcess}}
	fs.Var(&f.mock, "mock", "run the mock as a child process (CPU attributed honestly) or in this process")
}

func runRun(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("run", runSynopsis, e)
	var f runFlags
	addRunFlags(fs, &f)
	world := bench.AddWorldFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts, err := runOptions(fs, &f, world, e)
	if err != nil {
		return err
	}
	if f.dryRun {
		return dryRun(e.stdout, opts)
	}
	if f.format != "" && !slices.Contains(bench.Formats, f.format) {
		return usagef("--format %q: want one of %s", f.format, strings.Join(bench.Formats, ", "))
	}
	if f.metricsAddr != "" {
		reg := prometheus.NewRegistry()
		opts.Metrics = bench.NewMetrics(reg)
		stop, err := serveMetrics(f.metricsAddr, reg)
		if err != nil {
			return usageError{err}
		}
		defer stop()
		fmt.Fprintf(e.stderr, "metrics on http://%s/metrics\n", f.metricsAddr)
	}
	rep, runErr := bench.Run(ctx, opts)
	if rep != nil && len(rep.Runs) > 0 {
		if err := writeReport(e.stdout, rep, f.format, f.out); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if bad := rep.Incomplete(); len(bad) > 0 {
		return fmt.Errorf("results are missing, duplicated or wrong:\n  %s", strings.Join(bad, "\n  "))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: the report covers the runs that finished")
	}
	return nil
}

// runOptions turns the flags and the scenario into the runner's options.
func runOptions(fs *pflag.FlagSet, f *runFlags, world *bench.WorldFlags, e *env) (bench.Options, error) {
	var o bench.Options
	sc, err := bench.LoadScenario(f.scenario)
	if err != nil {
		return o, usageError{err}
	}
	if f.strategies != "" {
		sc.Strategies = splitList(f.strategies)
	}
	if f.asins > 0 {
		sc.ASINs, sc.ASINFile = int(f.asins), ""
	}
	if f.asinFile != "" {
		sc.ASINFile = f.asinFile
	}
	if f.repeat > 0 {
		sc.Repeat = int(f.repeat)
	}
	if f.durability.Value != "" {
		sc.Durability = f.durability.Value
	}
	if fs.Changed("callback-timeout") {
		sc.Settings.CallbackTimeout = bench.Duration(f.callbackTimeout)
	}
	if f.submitConc > 0 {
		sc.Settings.SubmitConcurrency = int(f.submitConc)
	}
	if f.maxAttempts > 0 {
		sc.Settings.MaxAttempts = int(f.maxAttempts)
	}
	if f.noCompensation {
		sc.Settings.NoCompensation = true
	}
	if err := sc.ApplyWorld(world); err != nil {
		return o, usageError{err}
	}
	if err := sc.Validate(); err != nil {
		return o, usageError{err}
	}
	api, _, err := world.Config()
	if err != nil {
		return o, usageError{err}
	}
	o = bench.Options{Scenario: sc, World: api, Mock: f.mock.Value, Endpoint: f.endpoint,
		CallbackURL: f.callbackURL, CallbackListen: f.callbackListen, MaxCredits: float64(f.maxCredits),
		StoreDir: f.store, Resume: f.resume, Log: e.stderr}
	if fs.Changed("time-scale") {
		o.TimeScale = float64(world.Scale)
	}
	if f.resume && f.store == "" {
		return o, usagef("--resume needs --store DIR: the folder of the runs to continue")
	}
	if f.progress.Value == "on" || (f.progress.Value == "auto" && isTerminal(e.stderr)) {
		o.Progress = e.stderr
	}
	if f.endpoint == "" {
		if f.callbackURL != "" {
			return o, usagef("--callback-url is for the real API (--endpoint); with the mock the receiver's own URL is used")
		}
		return o, nil
	}
	// The real API: a real run's store is fsynced unless told otherwise.
	if f.durability.Value == "" {
		o.Scenario.Durability = "sync"
	}
	o.Token = e.getenv("PANGOLIN_TOKEN")
	switch {
	case o.Token == "":
		return o, usagef("--endpoint needs the API token in the environment variable PANGOLIN_TOKEN")
	case f.maxCredits <= 0:
		return o, usagef("refusing to run against %s without --max-credits: give the most credits this command may spend", f.endpoint)
	case sc.ASINFile == "":
		return o, usagef("--endpoint needs --asin-file: generated ASINs are not real products")
	case o.TimeScale != 0 && o.TimeScale != 1:
		return o, usagef("--time-scale is for the mock: the real API runs at 1")
	}
	for _, s := range sc.Strategies {
		if spec, _ := bench.ParseStrategy(s); strings.HasPrefix(spec.Kind, "async") && f.callbackURL == "" {
			return o, usagef("strategy %s against the real API needs --callback-url: a public URL that reaches --callback-listen %s", s, f.callbackListen)
		}
	}
	o.CallbackToken = e.getenv("PANGOLIN_CALLBACK_TOKEN")
	if fs.Changed("callback-token") {
		o.CallbackToken = api.CallbackToken
	}
	return o, nil
}

// dryRun prints what a run would send and cost, and sends nothing.
func dryRun(w io.Writer, o bench.Options) error {
	sc := o.Scenario
	n := sc.ASINs
	if sc.ASINFile != "" {
		asins, err := bench.ReadASINs(sc.ASINFile)
		if err != nil {
			return usageError{err}
		}
		n = len(asins)
	}
	target := "the mock"
	if o.Endpoint != "" {
		target = o.Endpoint
	}
	fmt.Fprintf(w, "dry run: scenario %s against %s, %d jobs, %d repetition(s); nothing is sent\n", sc.Name, target, n, sc.Repeat)
	total := 0
	for _, s := range sc.Strategies {
		spec, _ := bench.ParseStrategy(s)
		what := "sync scrape requests"
		if strings.HasPrefix(spec.Kind, "async") {
			what = "async submits (plus a sync scrape per lost callback)"
		}
		fmt.Fprintf(w, "  %-14s %d %s × %d = %d credits at least (json: 1 credit per page; retries of error codes are free)\n",
			s, n, what, sc.Repeat, n*sc.Repeat)
		total += n * sc.Repeat
	}
	fmt.Fprintf(w, "estimate: %d credits at least", total)
	if o.MaxCredits > 0 {
		if float64(total) > o.MaxCredits {
			fmt.Fprintf(w, "; over --max-credits %g: requests stop at the budget and the last runs are incomplete\n", o.MaxCredits)
		} else {
			fmt.Fprintf(w, "; within --max-credits %g\n", o.MaxCredits)
		}
	} else {
		fmt.Fprintln(w)
	}
	return nil
}

// writeReport prints the report on stdout in format and writes each --out
// file (atomically: a crash leaves the old file or the new one).
func writeReport(stdout io.Writer, rep *bench.Report, format string, outs []string) error {
	if err := bench.Render(stdout, rep, format); err != nil {
		return err
	}
	for _, path := range outs {
		ofmt, err := bench.FormatFromPath(path)
		if err != nil {
			return usageError{err}
		}
		if err := bench.WriteFileAtomic(path, func(w io.Writer) error { return bench.Render(w, rep, ofmt) }); err != nil {
			return err
		}
	}
	return nil
}

func serveMetrics(addr string, reg *prometheus.Registry) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = srv.Close()
		}
	}, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && bench.IsTerminal(f)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
