package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/scrapebench/scrapebench/bench"
)

const compareSynopsis = `compare BASE.json NEW.json [flags]

Compares two run reports per strategy: median completion time, throughput
and credits (gated by --threshold), p99 latency, requests and CPU (shown).
With repetitions, a Mann–Whitney U test must also find the runs differ. Any
incomplete run in NEW fails. Exit 1 on a regression, 0 otherwise.`

func runCompare(_ context.Context, args []string, e *env) error {
	fs := newFlagSet("compare", compareSynopsis, e)
	threshold := fs.String("threshold", "10%", "how much worse a median may get before it is a regression, such as 10% or 0.1")
	format := bench.Choice{Value: "table", Allowed: []string{"table", "markdown", "json", "benchstat"}}
	fs.Var(&format, "format", "output: table, markdown, json, or benchstat (Go benchmark lines for benchstat -col report)")
	if err := fs.Parse(args); err != nil {
		return parseFlags(fs, args)
	}
	if fs.NArg() != 2 {
		return usagef("compare takes two reports: BASE.json NEW.json")
	}
	th, err := parseThreshold(*threshold)
	if err != nil {
		return usageError{err}
	}
	base, err := bench.ReadReport(fs.Arg(0))
	if err != nil {
		return usageError{err}
	}
	next, err := bench.ReadReport(fs.Arg(1))
	if err != nil {
		return usageError{err}
	}
	c := bench.Compare(base, next, fs.Arg(0), fs.Arg(1), th)
	if err := bench.RenderComparison(e.stdout, c, base, next, format.Value); err != nil {
		return err
	}
	if len(c.Regressions) > 0 {
		return fmt.Errorf("%d regression(s):\n  %s", len(c.Regressions), strings.Join(c.Regressions, "\n  "))
	}
	return nil
}

func parseThreshold(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if pct {
		v /= 100
	}
	if err != nil || !(v > 0) || v > 100 {
		return 0, fmt.Errorf("--threshold %q: want a share such as 10%% or 0.1", s)
	}
	return v, nil
}
