package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scrapebench/scrapebench/mockapi"
	"github.com/scrapebench/scrapebench/strategies"
	"github.com/scrapebench/scrapebench/strategies/pangolin"
	"github.com/scrapebench/scrapebench/strategies/store"
)

// Options configure Run.
type Options struct {
	Scenario Scenario
	// World is the mock's world in API time (ignored with Endpoint).
	World mockapi.Config
	// TimeScale, when positive, replaces every time scale of the scenario.
	TimeScale float64
	// ASINs to collect; nil: the scenario's.
	ASINs []string

	// Mock is MockProcess (default) or MockInProcess; MockExe is the
	// executable with the mock subcommand (default: this one).
	Mock    string
	MockExe string

	// Endpoint is the real API's base URL; empty runs against the mock.
	Endpoint string
	// Token for the real API (from PANGOLIN_TOKEN); never printed.
	Token string
	// CallbackURL is the public URL the real API posts callbacks to;
	// CallbackListen the local address the receiver listens on.
	CallbackURL    string
	CallbackListen string
	// CallbackToken the receiver requires (mock: the world's).
	CallbackToken string
	// MaxCredits caps the credits of the whole command (real API: required).
	MaxCredits float64
	// Budget, if set, is the budget to draw on instead of a new one of
	// MaxCredits: a sweep shares one across all its runs.
	Budget *strategies.Budget

	// StoreDir keeps each run's store under it (one folder per run);
	// empty: a temporary store per run, removed after verification.
	StoreDir string
	Resume   bool

	// Progress, if set, receives progress bars; Metrics, if set, is fed.
	Progress io.Writer
	Metrics  *Metrics
	// Log receives warnings as they happen.
	Log io.Writer
}

// Run runs every strategy of the scenario, repetitions interleaved, and
// returns the report. The error is for runs that could not be carried out
// at all; lost or wrong results are in the report (Report.Incomplete).
func Run(ctx context.Context, o Options) (*Report, error) {
	sc := &o.Scenario
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Mock == "" {
		o.Mock = MockProcess
	}
	if o.MockExe == "" && o.Endpoint == "" && o.Mock == MockProcess {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("cannot find this executable to start the mock: %w (use --mock inprocess)", err)
		}
		o.MockExe = exe
	}
	asins := o.ASINs
	if asins == nil {
		var err error
		if sc.ASINFile != "" {
			if asins, err = ReadASINs(sc.ASINFile); err != nil {
				return nil, err
			}
		} else {
			asins = GeneratedASINs(sc.ASINs)
		}
	}
	budget := o.Budget
	if budget == nil && o.MaxCredits > 0 {
		budget = strategies.NewBudget(o.MaxCredits)
	}
	endpoint, world := "mock", &o.World
	if o.Endpoint != "" {
		endpoint, world = o.Endpoint, nil
	}
	rep := &Report{Manifest: newManifest(sc, world, endpoint, o.Mock, len(asins))}
	if o.Endpoint != "" {
		rep.Manifest.Mock = ""
	}
	for r := 1; r <= sc.Repeat; r++ {
		for _, name := range sc.Strategies {
			spec, _ := ParseStrategy(name)
			res, err := runOne(ctx, &o, spec, r, asins, budget)
			if err != nil {
				return rep, fmt.Errorf("%s (repetition %d): %w", name, r, err)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(o.Log, "warning: %s: %s\n", name, w)
			}
			rep.Runs = append(rep.Runs, *res)
			if ctx.Err() != nil || (budget != nil && budget.Exhausted()) {
				return rep, nil // interrupted, or the budget is spent: later runs would send nothing
			}
		}
	}
	return rep, nil
}

// runOne runs one strategy once, in a fresh mock and store, and measures it.
func runOne(ctx context.Context, o *Options, spec StrategySpec, rep int, asins []string, budget *strategies.Budget) (*RunResult, error) {
	sc := &o.Scenario
	scale := sc.ScaleFor(spec.Name)
	if o.TimeScale > 0 {
		scale = o.TimeScale
	}
	if o.Endpoint != "" {
		scale = 1
	}
	res := &RunResult{Strategy: spec.Name, Repetition: rep, TimeScale: scale, Jobs: len(asins), Expected: len(asins), Durability: sc.Durability}

	base, token, cbToken := o.Endpoint, o.Token, o.CallbackToken
	var mock mockHandle
	if o.Endpoint == "" {
		var err error
		if mock, err = startMock(ctx, o.Mock, o.MockExe, o.World, scale); err != nil {
			return nil, err
		}
		defer func() {
			if mock != nil {
				_, _ = mock.Close()
			}
		}()
		base, token, cbToken = mock.URL(), o.World.Token, o.World.CallbackToken
	}
	set := sc.Settings
	workers := max(spec.N, set.SubmitConcurrency, 8)
	client, err := pangolin.NewClient(base, token, pangolin.WithHTTPClient(pangolin.NewHTTPClient(2*workers+set.CompensateConcurrency, 0)))
	if err != nil {
		return nil, err
	}

	dir, cleanup, err := storeDir(o.StoreDir, spec.Name, rep, o.Resume)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	st, err := store.Open(dir, store.Options{NoSync: sc.Durability == "nosync", Log: o.Log})
	if err != nil {
		return nil, err
	}
	storeOpen := true
	defer func() {
		if storeOpen {
			_ = st.Close()
		}
	}()

	rec := newRecorder()
	hooks := []strategies.Hooks{rec.hooks()}
	if o.Metrics != nil {
		hooks = append(hooks, o.Metrics.hooks(spec.Name, scale))
	}
	var bar *progressBar
	if o.Progress != nil {
		bar = startProgress(o.Progress, fmt.Sprintf("%s #%d", spec.Name, rep), len(asins))
		hooks = append(hooks, bar.hooks())
	}
	strat, err := buildStrategy(spec, o, client, scale, cbToken, budget, chainHooks(hooks...))
	if err != nil {
		return nil, err
	}
	jobs := make([]strategies.Job, len(asins))
	for i, a := range asins {
		jobs[i] = strategies.ProductJob(a)
	}

	resetPeakRSS()
	probe := startLagProbe()
	cpu0 := cpuSeconds()
	t0 := time.Now()
	stats, runErr := strat.Run(ctx, jobs, st)
	wall := time.Since(t0)
	res.ClientCPUs = round3(cpuSeconds() - cpu0)
	res.PeakRSSBytes = peakRSS()
	res.TimerLagP99ms = round3(float64(probe.finish()) / float64(time.Millisecond))
	if bar != nil {
		bar.stop()
	}
	if stats == nil { // the run could not start: bad store, port in use, ...
		return nil, runErr
	}
	if runErr != nil {
		res.Aborted = runErr.Error()
	}

	res.CompletionWallS = round3(wall.Seconds())
	res.CompletionAPIs = round3(wall.Seconds() * scale)
	if res.CompletionAPIs > 0 {
		res.ThroughputAPIPerS = round3(float64(stats.Stored+stats.Skipped) / res.CompletionAPIs)
	}
	res.LatencyAPIms = rec.job.api(scale)
	res.LatencyCDF = rec.job.cdf(scale)
	if p := rec.request.api(scale); p.Count > 0 {
		res.RequestAPIms = &p
	}
	if p := rec.submitAck.api(scale); p.Count > 0 {
		res.SubmitAckAPIms = &p
	}
	res.Credits = stats.Credits
	res.Requests, res.Retries, res.Codes, res.TransportErrors = stats.Requests, stats.Retries, stats.Codes, stats.TransportErrors
	res.Failed, res.DuplicatesSuppressed, res.CallbacksReceived = stats.Failed, stats.DuplicatesSuppressed, stats.CallbacksReceived
	res.CallbacksLost, res.Compensated, res.LateAfterCompensation = stats.CallbacksLost, stats.Compensated, stats.LateAfterCompensation
	res.Unknown, res.Changed = stats.Unknown, stats.Changed

	if mock != nil {
		if ms, err := mock.Stats(ctx); err == nil {
			ledger := ms.CreditsCharged
			res.LedgerCredits = &ledger
		} else {
			res.Warnings = append(res.Warnings, "could not read the mock's ledger: "+err.Error())
		}
		cpu, err := mock.Close()
		mock = nil
		res.MockCPUs = round3(cpu)
		if err != nil {
			res.Warnings = append(res.Warnings, err.Error())
		}
	}

	var truth *mockapi.Catalog
	if o.Endpoint == "" {
		truth = &mockapi.Catalog{Seed: o.World.Seed, Churn: o.World.Churn}
	}
	if err := verify(st, jobs, truth, o.World.Round, stats, res); err != nil {
		return nil, err
	}
	storeOpen = false
	if err := st.Close(); err != nil {
		return nil, err
	}

	pred := Predict(spec, o.World, sc.Settings, len(asins))
	if o.Endpoint != "" {
		pred = Prediction{} // the real API's latency is unknown beforehand
	}
	res.ModelAPIs, res.ModelBasis = round3(pred.Seconds), pred.Basis
	if pred.Seconds > 0 {
		res.ModelRatio = round3(res.CompletionAPIs / pred.Seconds)
	}
	res.Warnings = append(res.Warnings, fidelityWarnings(res, o.Mock)...)
	return res, nil
}

// storeDir returns the store folder of one run and what removes it.
func storeDir(root, strategy string, rep int, resume bool) (string, func(), error) {
	if root == "" {
		dir, err := os.MkdirTemp("", "scrapebench-store-*")
		if err != nil {
			return "", nil, err
		}
		return dir, func() { os.RemoveAll(dir) }, nil
	}
	dir := filepath.Join(root, fmt.Sprintf("%s-r%d", strings.NewReplacer(":", "_", "/", "_").Replace(strategy), rep))
	if _, err := os.Stat(dir); err == nil && !resume {
		return "", nil, fmt.Errorf("store %s exists from an earlier run: pass --resume to continue it, or choose another --store", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	return dir, func() {}, nil
}

// buildStrategy makes the strategy with the scenario's settings in wall time.
func buildStrategy(spec StrategySpec, o *Options, client *pangolin.Client, scale float64, cbToken string,
	budget *strategies.Budget, hooks strategies.Hooks) (strategies.Strategy, error) {
	set := o.Scenario.Settings
	wall := func(d Duration) time.Duration { return time.Duration(float64(d) / scale) }
	// A request timeout guards against a stalled peer in real time: it is
	// not scaled below mockapi.MinNetworkTimeout.
	reqTimeout := max(wall(set.RequestTimeout), min(time.Duration(set.RequestTimeout), mockapi.MinNetworkTimeout))
	retry := strategies.RetryPolicy{MaxAttempts: set.MaxAttempts, Base: wall(set.RetryBase), Max: wall(set.RetryMax)}
	switch spec.Kind {
	case "serial", "concurrent":
		n := 1
		if spec.Kind == "concurrent" {
			n = spec.N
		}
		return strategies.NewSync(strategies.SyncOptions{Client: client, Workers: n, QPS: set.ClientQPS * scale,
			Retry: retry, RequestTimeout: reqTimeout, Budget: budget, Hooks: hooks})
	}
	ao := strategies.AsyncOptions{Client: client, Listen: o.CallbackListen, CallbackURL: o.CallbackURL, CallbackToken: cbToken,
		SubmitConcurrency: set.SubmitConcurrency, SubmitQPS: set.SubmitQPS * scale,
		CallbackTimeout: wall(set.CallbackTimeout), NoCompensation: set.NoCompensation,
		CompensateConcurrency: set.CompensateConcurrency, Retry: retry, RequestTimeout: reqTimeout,
		Resume: o.Resume, Budget: budget, Hooks: hooks}
	if spec.N > 0 {
		ao.SubmitConcurrency = spec.N
	}
	if spec.Kind == "async-seed" {
		ao.SeedPause = wall(set.SeedPause)
	}
	return strategies.NewAsync(ao)
}

// verify checks the store against the jobs: every job stored once, each
// result the ground truth (mock) or at least the job's ASIN (real API).
func verify(st *store.Store, jobs []strategies.Job, truth *mockapi.Catalog, round int, stats *strategies.Stats, res *RunResult) error {
	byID := make(map[string]*strategies.Job, len(jobs))
	for i := range jobs {
		byID[jobs[i].ID] = &jobs[i]
	}
	seen := make(map[string]bool, len(jobs))
	var wrong []string
	err := st.Results(func(r store.Result) error {
		j, ok := byID[r.JobID]
		if !ok {
			return nil
		}
		seen[r.JobID] = true
		if !resultMatches(r, j, truth, round) {
			wrong = append(wrong, r.JobID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	var missing []string
	for _, j := range jobs {
		if !seen[j.ID] {
			missing = append(missing, j.ID)
		}
	}
	res.Stored = int64(len(seen))
	// A strategy that reports more wins than the store holds results has
	// overwritten a result: a duplicate that was not suppressed.
	dupWrites := max(0, stats.Stored+stats.Skipped-int64(len(seen)))
	res.IntegrityErrors = int64(len(wrong)) + dupWrites
	res.Missing, res.Wrong = first(missing, 20), first(wrong, 20)
	res.Complete = len(missing) == 0 && res.IntegrityErrors == 0 && res.Aborted == ""
	return nil
}

func resultMatches(r store.Result, j *strategies.Job, truth *mockapi.Catalog, round int) bool {
	var data pangolin.ScrapeData
	if json.Unmarshal(r.Data, &data) != nil {
		return false
	}
	ps, err := data.Products()
	if err != nil || len(ps) == 0 {
		return false
	}
	if truth == nil {
		return strings.EqualFold(string(ps[0].ASIN), j.ASIN)
	}
	want := truth.Product(j.ASIN, round)
	return ps[0].Equal(&want)
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// fidelityWarnings says when a run's figures are suspect: off the model,
// the CPU saturated, the harness's timers late, or the credit counts apart.
func fidelityWarnings(r *RunResult, mockMode string) []string {
	var w []string
	if r.ModelAPIs > 0 && math.Abs(r.ModelRatio-1) > 0.10 {
		w = append(w, fmt.Sprintf("measured/model = %.2f (more than 10%% off): %s", r.ModelRatio, modelHint(r)))
	}
	if r.CompletionWallS > 0 {
		busy := (r.ClientCPUs + r.MockCPUs) / r.CompletionWallS
		if busy > 0.9*float64(numCPU()) {
			w = append(w, fmt.Sprintf("CPU saturated (%.1f of %d cores busy): the harness, not the API, may be the bottleneck; lower --time-scale", busy, numCPU()))
		}
	}
	// Timers a couple of milliseconds late are normal; late by more than 1%
	// of a job's latency in API time, they distort what is measured.
	if lag := r.TimerLagP99ms; lag > 2 && lag*r.TimeScale > 0.01*r.LatencyAPIms.P50 {
		w = append(w, fmt.Sprintf("goroutines starved: the harness's timers fired %.1f ms late (p99, wall), %.0f ms in API time; lower --time-scale", lag, lag*r.TimeScale))
	}
	if r.LedgerCredits != nil && *r.LedgerCredits != r.Credits {
		w = append(w, fmt.Sprintf("the client counted %.2f credits, the mock's ledger %.2f: answers charged but lost in transit (truncated bodies, timeouts)", r.Credits, *r.LedgerCredits))
	}
	if mockMode == MockInProcess {
		w = append(w, "the mock ran in this process: client CPU and RSS include it")
	}
	return w
}

func modelHint(r *RunResult) string {
	if r.ModelRatio > 1 {
		return "the run was slower than the API's latencies explain: retries, compensation, or the harness's own per-request cost at this time scale"
	}
	return "the run was faster than the model: check the world's settings"
}
