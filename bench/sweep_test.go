package bench

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/scrapebench/scrapebench/mockapi"
)

func TestMannWhitney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 2.0 / 70}, // fully separated: the smallest exact p
		{[]float64{1, 2, 3}, []float64{4, 5, 6}, 2.0 / 20},
		{[]float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}, 0.6857}, // interleaved: no evidence
		{[]float64{5, 5, 5}, []float64{5, 5, 5}, 1},
	}
	for _, tt := range tests {
		if got := mannWhitneyP(tt.a, tt.b); math.Abs(got-tt.want) > 0.001 {
			t.Errorf("p(%v, %v) = %.4f, want %.4f", tt.a, tt.b, got, tt.want)
		}
	}
	if got := minPValue(3, 3); math.Abs(got-0.1) > 1e-9 {
		t.Errorf("minPValue(3,3) = %v", got)
	}
}

func compareFixture(t *testing.T) *Report {
	t.Helper()
	r, err := ReadReport(filepath.Join("..", "results", "cost-benefit.json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCompare(t *testing.T) {
	t.Parallel()
	base := compareFixture(t)
	if c := Compare(base, base, "a", "a", 0.10); len(c.Regressions) != 0 || len(c.Rows) == 0 {
		t.Errorf("self-compare: %v", c.Regressions)
	}
	slow := compareFixture(t)
	for i := range slow.Runs {
		slow.Runs[i].CompletionAPIs *= 2
		slow.Runs[i].ThroughputAPIPerS /= 2
	}
	c := Compare(base, slow, "base", "slow", 0.10)
	if len(c.Regressions) != 2*len(base.Runs) {
		t.Errorf("2× slower: %d regressions, want completion and throughput of each strategy: %v", len(c.Regressions), c.Regressions)
	}
	lost := compareFixture(t)
	lost.Runs[2].Stored--
	lost.Runs[2].Complete = false
	if c := Compare(base, lost, "base", "lost", 0.10); len(c.Regressions) != 1 || !strings.Contains(c.Regressions[0], "incomplete") {
		t.Errorf("one lost job: %v", c.Regressions)
	}
	gone := compareFixture(t)
	gone.Runs = gone.Runs[:3]
	if c := Compare(base, gone, "base", "gone", 0.10); len(c.Regressions) != 1 || !strings.Contains(c.Regressions[0], "missing") {
		t.Errorf("a strategy missing: %v", c.Regressions)
	}
	// With repetitions, a change within the noise is not significant.
	reps := func(values ...float64) *Report {
		r := &Report{}
		for i, v := range values {
			r.Runs = append(r.Runs, RunResult{Strategy: "serial", Repetition: i + 1, CompletionAPIs: v, ThroughputAPIPerS: 1, Credits: 1, Complete: true})
		}
		return r
	}
	noisy := Compare(reps(100, 140, 90, 130), reps(150, 95, 135, 100), "b", "n", 0.10)
	if len(noisy.Regressions) != 0 || noisy.Rows[0].PValue == nil {
		t.Errorf("overlapping repetitions: %v", noisy.Regressions)
	}
	clear := Compare(reps(100, 101, 99, 100), reps(150, 151, 149, 152), "b", "n", 0.10)
	if len(clear.Regressions) != 1 || *clear.Rows[0].PValue > 0.05 {
		t.Errorf("separated repetitions: %v", clear.Regressions)
	}
}

// TestSweepStrictRespectsServerLimits sweeps concurrency in the strict
// world, whose server serves at most 2 sync scrapes at once and answers a
// third with 9200. The test checks that every setting above the limit met
// errors (the limit is real), and that the recommendation is a setting the
// server serves without errors: no more than its limit, error rate < 1%.
func TestSweepStrictRespectsServerLimits(t *testing.T) {
	t.Parallel()
	sc, _ := LoadScenario("sweep-strict")
	sc.ASINs, sc.TimeScale = 24, 200
	w2, err := mockapi.Profile("strict")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Sweep(context.Background(), SweepOptions{Base: Options{Scenario: sc, World: w2, Mock: MockInProcess},
		Param: ParamConcurrency, Values: []string{"1", "2", "3", "4"}, Crossover: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Points) != 4 {
		t.Fatalf("%d points", len(rep.Points))
	}
	for _, p := range rep.Points {
		n, _ := strconv.Atoi(p.Setting)
		if n > w2.MaxConcurrency && p.Codes["9200"]+p.Codes["4029"] == 0 {
			t.Errorf("concurrency %d above the server's %d met no 9200/4029", n, w2.MaxConcurrency)
		}
		if p.IntegrityErrors != 0 {
			t.Errorf("concurrency %s: %d integrity errors", p.Setting, p.IntegrityErrors)
		}
	}
	rec := rep.Recommendation
	n, err := strconv.Atoi(rec.Setting)
	if err != nil || n > w2.MaxConcurrency || n < 1 {
		t.Fatalf("recommended %q (%s): want at most the server's limit %d", rec.Setting, rec.Reason, w2.MaxConcurrency)
	}
	for _, p := range rep.Points {
		if p.Setting == rec.Setting && (p.ErrorRate >= 0.01 || !p.Complete) {
			t.Errorf("recommended setting has error rate %v, complete %v", p.ErrorRate, p.Complete)
		}
	}
	if rec.Setting != "2" {
		t.Errorf("recommended %s; with 24 jobs at 10 s, 2 concurrent halves 1's time: want 2 (%s)", rec.Setting, rec.Reason)
	}
	if !strings.Contains(rec.LittleLaw, "jobs in service") {
		t.Errorf("Little's law: %q", rec.LittleLaw)
	}
	c := rep.Crossover
	if c == nil || c.Against != "concurrent:2" || c.ModelJobs != 0 || len(c.Checks) != 2 || !c.Agrees {
		t.Errorf("crossover: %+v", c)
	}

	dir := t.TempDir()
	var buf strings.Builder
	if err := RenderSweep(&buf, rep, "json"); err != nil || !strings.Contains(buf.String(), `"recommendation": {`) || !strings.Contains(buf.String(), `"points": [`) {
		t.Errorf("sweep JSON: %v", err)
	}
	svg := filepath.Join(dir, "sweep.svg")
	if err := PlotSweep(rep, svg); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svg, "measured completion", "model", "error rate", "concurrency")
	if err := PlotSweep(rep, filepath.Join(dir, "sweep.png")); err != nil {
		t.Error(err)
	}
}

func TestCrossoverModelSeed(t *testing.T) {
	t.Parallel()
	// conc:20 takes ⌈N/20⌉·5 s; async 4 submits in flight at 200 ms take N/20 + 5 s:
	// equal at 20 jobs (5 s vs 6 s), async ahead from 21 (10 s vs 6.05 s).
	w := seedWorld(t)
	set := DefaultSettings()
	conc, _ := ParseStrategy("concurrent:20")
	as, _ := ParseStrategy("async")
	first := 0
	for n := 1; n < 100; n++ {
		if Predict(as, w, set, n).Seconds < Predict(conc, w, set, n).Seconds {
			first = n
			break
		}
	}
	if first != 21 {
		t.Errorf("async first beats concurrent:20 at %d jobs, want 21", first)
	}
}

func TestPlotReport(t *testing.T) {
	t.Parallel()
	rep := smallRun(t, nil)
	path := filepath.Join(t.TempDir(), "smoke.svg")
	if err := PlotReport(rep, path); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, path, "serial", "concurrent:20", "async-seed", "measured", "model", "latency CDF", "percentile")
	// A report without latency distributions draws the completion panel only.
	for i := range rep.Runs {
		rep.Runs[i].LatencyCDF = nil
	}
	if err := PlotReport(rep, path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "latency CDF") {
		t.Error("an empty CDF panel was drawn")
	}
}

// checkSVG opens an SVG and checks it is one, holding each label (legend
// entries and axis names are text elements).
func checkSVG(t *testing.T, path string, labels ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "<svg") || !strings.Contains(s, "</svg>") || !strings.Contains(s, "<path") {
		t.Fatalf("%s is not an SVG with paths", path)
	}
	for _, l := range labels {
		if !strings.Contains(s, l) {
			t.Errorf("%s lacks the series or label %q", path, l)
		}
	}
}
