package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scrapebench/scrapebench/bench"
)

// variant writes a copy of the committed cost-benefit report changed by f.
func variant(t *testing.T, name string, f func(*bench.Report)) string {
	t.Helper()
	r, err := bench.ReadReport(filepath.Join("..", "..", "results", "cost-benefit.json"))
	if err != nil {
		t.Fatal(err)
	}
	f(r)
	b, _ := json.Marshal(r)
	p := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompareExitStatus(t *testing.T) {
	t.Parallel()
	base := variant(t, "base", func(*bench.Report) {})
	slow := variant(t, "slow", func(r *bench.Report) {
		for i := range r.Runs {
			r.Runs[i].CompletionAPIs *= 2
			r.Runs[i].ThroughputAPIPerS /= 2
		}
	})
	lost := variant(t, "lost", func(r *bench.Report) {
		r.Runs[1].Stored--
		r.Runs[1].Missing = []string{"B000004999"}
		r.Runs[1].Complete = false
	})
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{base, base}, exitOK, "no regression"},
		{[]string{base, slow}, exitFailed, "REGRESSION: serial: completion_api_s"},
		{[]string{base, lost}, exitFailed, "incomplete: stored 4999 of 5000"},
		{[]string{base, slow, "--threshold", "150%"}, exitOK, "no regression"},
		{[]string{base, slow, "--format", "json"}, exitFailed, `"regressions": [`},
		{[]string{base, slow, "--format", "benchstat"}, exitFailed, "BenchmarkRun/strategy=serial 1 "},
		{[]string{base, slow, "--format", "markdown"}, exitFailed, "| serial | completion_api_s |"},
		{[]string{base}, exitUsage, "two reports"},
		{[]string{base, base, "--threshold", "lots"}, exitUsage, "--threshold"},
		{[]string{base, "/no/such.json"}, exitUsage, "no such file"},
	}
	for _, tt := range tests {
		code, out, errs := runWithEnv(t, nil, append([]string{"compare"}, tt.args...)...)
		if code != tt.code || !strings.Contains(out+errs, tt.want) {
			t.Errorf("compare %v: exit %d, want %d and %q\n%s%s", tt.args[1:], code, tt.code, tt.want, out, errs)
		}
	}
}

func TestReportRerendersAndPlots(t *testing.T) {
	t.Parallel()
	in := filepath.Join("..", "..", "results", "cost-benefit.json")
	svg := filepath.Join(t.TempDir(), "cb.svg")
	code, out, errs := runWithEnv(t, nil, "report", in, "--format", "markdown", "--plot", svg)
	if code != exitOK || !strings.Contains(out, "| serial |") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "async-seed") {
		t.Errorf("plot: %v", err)
	}
	if code, _, errs := runWithEnv(t, nil, "report", in, "--plot", "x.gif"); code == exitOK {
		t.Errorf("a .gif plot was accepted: %s", errs)
	}
}

func TestSweepUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--strategies", "serial"}, "not --strategies"},
		{[]string{"--submit-qps", "1,2"}, "add --strategy async"},
		{[]string{"--strategy", "async", "--submit-qps", "1", "--callback-timeouts", "30s"}, "give one of"},
		{[]string{"--concurrency", "1,zero"}, "want whole numbers"},
		{[]string{"--strategy", "serial"}, `"--strategy" flag`},
	}
	for _, tt := range tests {
		code, _, errs := runWithEnv(t, nil, append([]string{"sweep", "--mock", "inprocess"}, tt.args...)...)
		if code != exitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("sweep %v: exit %d, stderr %q; want 2 and %q", tt.args, code, errs, tt.want)
		}
	}
}

func TestSweepDryRun(t *testing.T) {
	t.Parallel()
	code, out, errs := runWithEnv(t, nil, "sweep", "--concurrency", "1,2", "--asins", "30", "--max-credits", "40", "--dry-run")
	if code != exitOK || !strings.Contains(out, "concurrent:1") || !strings.Contains(out, "concurrent:2") ||
		!strings.Contains(out, "estimate: 60 credits") || !strings.Contains(out, "over --max-credits 40") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}
