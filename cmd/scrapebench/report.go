package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/scrapebench/scrapebench/bench"
)

const reportSynopsis = `report FILE.json [flags]

Re-renders a saved run or sweep report in another format, and draws it:
for a run, completion per strategy beside the model and each strategy's
latency CDF; for a sweep, completion and error rate against the setting.`

func runReport(_ context.Context, args []string, e *env) error {
	fs := newFlagSet("report", reportSynopsis, e)
	format := bench.Choice{Value: "table", Allowed: bench.Formats}
	fs.Var(&format, "format", "output: table, markdown, json or csv")
	plot := fs.String("plot", "", "draw the report to FILE.svg or FILE.png")
	if err := fs.Parse(args); err != nil {
		return parseFlags(fs, args)
	}
	if fs.NArg() != 1 {
		return usagef("report takes one report file: FILE.json")
	}
	path := fs.Arg(0)
	raw, err := os.ReadFile(path)
	if err != nil {
		return usageError{err}
	}
	var probe struct {
		Parameter string `json:"parameter"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.Parameter != "" {
		s, err := bench.ReadSweep(path)
		if err != nil {
			return usageError{err}
		}
		if err := bench.RenderSweep(e.stdout, s, format.Value); err != nil {
			return err
		}
		if *plot != "" {
			return bench.PlotSweep(s, *plot)
		}
		return nil
	}
	r, err := bench.ReadReport(path)
	if err != nil {
		return usageError{err}
	}
	if err := bench.Render(e.stdout, r, format.Value); err != nil {
		return err
	}
	if *plot != "" {
		return bench.PlotReport(r, *plot)
	}
	return nil
}
