package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/scrapebench/scrapebench/bench"
)

const sweepSynopsis = `sweep [flags]

Runs one strategy across a list of settings in one world (by default the
sweep-strict scenario: 200 ASINs under the strict profile, ~2 requests/s, at
most 2 concurrent, ~10 s), repetitions interleaved, and recommends the
smallest setting within 5% of the best completion whose error rate stays
under 1%, with a Little's-law check. For concurrent sweeps it also finds from
which ASIN count async beats the recommended concurrent:N (model), checked by
measuring both at two counts. Give one list: --concurrency (strategy
concurrent), --submit-concurrencies, --submit-qps or --callback-timeouts
(strategy async). Also takes run's flags for the world, output and real API.`

func runSweep(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("sweep", sweepSynopsis, e)
	var f runFlags
	addRunFlags(fs, &f)
	fs.Lookup("scenario").DefValue = "sweep-strict"
	f.scenario = "sweep-strict"
	strategy := bench.Choice{Value: "concurrent", Allowed: []string{"concurrent", "async"}}
	fs.Var(&strategy, "strategy", "strategy to sweep")
	conc := fs.String("concurrency", "1,2,3,4,8", "concurrent:N settings to try")
	subConc := fs.String("submit-concurrencies", "", "async submits in flight to try, such as 1,2,4,8")
	subQPS := fs.String("submit-qps", "", "async submit rates (per second, API time) to try, such as 1,2,5")
	timeouts := fs.String("callback-timeouts", "", "async callback timeouts (API time) to try, such as 30s,60s,120s")
	noCross := fs.Bool("no-crossover", false, "skip the async crossover (two extra measurements)")
	plot := fs.String("plot", "", "also draw the sweep curve to FILE.svg or FILE.png")
	world := bench.AddWorldFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.strategies != "" {
		return usagef("sweep takes --strategy and a list of settings, not --strategies")
	}
	param, values := bench.ParamConcurrency, *conc
	if strategy.Value == "async" {
		set := 0
		for _, c := range []struct{ name, list, flag string }{
			{bench.ParamSubmitConcurrency, *subConc, "submit-concurrencies"}, {bench.ParamSubmitQPS, *subQPS, "submit-qps"},
			{bench.ParamCallbackTimeout, *timeouts, "callback-timeouts"}} {
			if c.list != "" {
				param, values = c.name, c.list
				set++
			}
		}
		if set == 0 {
			param, values = bench.ParamSubmitConcurrency, "1,2,4,8"
		} else if set > 1 {
			return usagef("give one of --submit-concurrencies, --submit-qps, --callback-timeouts")
		}
	} else if *subConc+*subQPS+*timeouts != "" {
		return usagef("--submit-concurrencies, --submit-qps and --callback-timeouts sweep async: add --strategy async")
	}
	opts, err := runOptions(fs, &f, world, e)
	if err != nil {
		return err
	}
	if f.dryRun {
		names, err := bench.SweepStrategies(param, splitList(values), opts.Scenario)
		if err != nil {
			return usageError{err}
		}
		opts.Scenario.Strategies = names
		return dryRun(e.stdout, opts)
	}
	rep, err := bench.Sweep(ctx, bench.SweepOptions{Base: opts, Param: param, Values: splitList(values),
		Crossover: !*noCross && strategy.Value == "concurrent"})
	if err != nil && rep == nil {
		if strings.Contains(err.Error(), "want") {
			return usageError{err}
		}
		return err
	}
	if rep != nil && len(rep.Points) > 0 {
		if werr := bench.RenderSweep(e.stdout, rep, f.format); werr != nil {
			return usageError{werr}
		}
		for _, path := range f.out {
			ofmt, ferr := bench.FormatFromPath(path)
			if ferr != nil {
				return usageError{ferr}
			}
			if werr := bench.WriteFileAtomic(path, func(w io.Writer) error { return bench.RenderSweep(w, rep, ofmt) }); werr != nil {
				return werr
			}
		}
		if *plot != "" {
			if perr := bench.PlotSweep(rep, *plot); perr != nil {
				return perr
			}
		}
	}
	if err != nil {
		return err
	}
	// Jobs given up under too much concurrency are that setting's verdict;
	// wrong or duplicated results are a failed check.
	for _, p := range rep.Points {
		if p.IntegrityErrors > 0 {
			return fmt.Errorf("setting %s stored %d wrong or duplicated results: see the table", p.Setting, p.IntegrityErrors)
		}
	}
	return nil
}
