package bench

import (
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/jedib0t/go-pretty/v6/table"
)

// CompareRow is one strategy and metric of two reports.
type CompareRow struct {
	Strategy   string   `json:"strategy"`
	Metric     string   `json:"metric"`
	Base       float64  `json:"base"` // median over repetitions
	New        float64  `json:"new"`
	Delta      float64  `json:"delta"`
	Ratio      float64  `json:"ratio"`             // new / base
	PValue     *float64 `json:"p_value,omitempty"` // Mann–Whitney U, two-sided, with repetitions
	Gated      bool     `json:"gated"`             // the threshold applies to this metric
	Regression bool     `json:"regression"`
	Note       string   `json:"note,omitempty"`
}

// Comparison is what compare reports.
type Comparison struct {
	Base        string       `json:"base"`
	New         string       `json:"new"`
	Threshold   float64      `json:"threshold"`
	Rows        []CompareRow `json:"rows"`
	Regressions []string     `json:"regressions"`
}

// compared metrics: name, extractor, whether lower is better, whether the
// threshold gates it.
var comparedMetrics = []struct {
	name        string
	get         func(*RunResult) float64
	lowerBetter bool
	gated       bool
}{
	{"completion_api_s", func(r *RunResult) float64 { return r.CompletionAPIs }, true, true},
	{"throughput_api_per_s", func(r *RunResult) float64 { return r.ThroughputAPIPerS }, false, true},
	{"credits", func(r *RunResult) float64 { return r.Credits }, true, true},
	{"latency_p99_api_ms", func(r *RunResult) float64 { return r.LatencyAPIms.P99 }, true, false},
	{"requests", func(r *RunResult) float64 { return float64(r.Requests) }, true, false},
	{"client_cpu_s", func(r *RunResult) float64 { return r.ClientCPUs }, true, false},
}

// Compare compares NEW with BASE per strategy. A gated metric regresses
// when its median is worse by more than threshold (0.10 = 10%) and, with
// repetitions enough to test, the Mann–Whitney U test finds the runs
// differ (p ≤ 0.05). Any incomplete run in NEW, or a strategy NEW lacks,
// is always a regression.
func Compare(base, next *Report, baseName, newName string, threshold float64) *Comparison {
	c := &Comparison{Base: baseName, New: newName, Threshold: threshold, Regressions: []string{}}
	b, n := byStrategy(base.Runs), byStrategy(next.Runs)
	for _, s := range strategyOrder(base.Runs, next.Runs) {
		bruns, nruns := b[s], n[s]
		if len(nruns) == 0 {
			c.Regressions = append(c.Regressions, fmt.Sprintf("%s: missing from %s", s, newName))
			continue
		}
		for _, r := range nruns {
			if !r.Complete {
				c.Regressions = append(c.Regressions, fmt.Sprintf("%s (repetition %d): incomplete: stored %d of %d, %d integrity errors",
					s, r.Repetition, r.Stored, r.Expected, r.IntegrityErrors))
			}
		}
		if len(bruns) == 0 {
			continue // new strategy: nothing to compare with
		}
		for _, m := range comparedMetrics {
			bv, nv := values(bruns, m.get), values(nruns, m.get)
			row := CompareRow{Strategy: s, Metric: m.name, Base: median(bv), New: median(nv), Gated: m.gated}
			row.Delta = row.New - row.Base
			if row.Base != 0 {
				row.Ratio = row.New / row.Base
			}
			testable := len(bv) >= 2 && len(nv) >= 2 && minPValue(len(bv), len(nv)) <= 0.05
			if len(bv) >= 2 && len(nv) >= 2 {
				p := mannWhitneyP(bv, nv)
				row.PValue = &p
			}
			worse := row.Delta > 0
			if !m.lowerBetter {
				worse = row.Delta < 0
			}
			change := 0.0
			if row.Base != 0 {
				change = math.Abs(row.Delta) / math.Abs(row.Base)
			}
			if m.gated && worse && change > threshold {
				if testable && *row.PValue > 0.05 {
					row.Note = fmt.Sprintf("%.0f%% worse, but not significant (p=%.2f)", change*100, *row.PValue)
				} else {
					row.Regression = true
					row.Note = fmt.Sprintf("%.0f%% worse (threshold %.0f%%)", change*100, threshold*100)
					c.Regressions = append(c.Regressions, fmt.Sprintf("%s: %s %s → %s, %s", s, m.name, trimFloat(row.Base), trimFloat(row.New), row.Note))
				}
			}
			c.Rows = append(c.Rows, row)
		}
	}
	return c
}

func byStrategy(runs []RunResult) map[string][]*RunResult {
	m := map[string][]*RunResult{}
	for i := range runs {
		m[runs[i].Strategy] = append(m[runs[i].Strategy], &runs[i])
	}
	return m
}

func strategyOrder(a, b []RunResult) []string {
	var out []string
	seen := map[string]bool{}
	for _, runs := range [][]RunResult{a, b} {
		for _, r := range runs {
			if !seen[r.Strategy] {
				seen[r.Strategy] = true
				out = append(out, r.Strategy)
			}
		}
	}
	return out
}

func values(runs []*RunResult, get func(*RunResult) float64) []float64 {
	out := make([]float64, len(runs))
	for i, r := range runs {
		out[i] = get(r)
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// mannWhitneyP returns the two-sided p-value of the Mann–Whitney U test of
// a and b: exact (by enumerating every split of the ranks) when the samples
// are small, by the normal approximation otherwise.
func mannWhitneyP(a, b []float64) float64 {
	n1, n2 := len(a), len(b)
	ranks := rankAll(append(append([]float64(nil), a...), b...))
	r1 := 0.0
	for i := 0; i < n1; i++ {
		r1 += ranks[i]
	}
	u := r1 - float64(n1*(n1+1))/2
	mean := float64(n1*n2) / 2
	if n1+n2 <= 16 {
		// Exact: the share of rank subsets of size n1 whose U is at least as
		// far from the mean as the observed one.
		total, extreme := 0, 0
		idx := make([]int, n1)
		var walk func(start, depth int, sum float64)
		walk = func(start, depth int, sum float64) {
			if depth == n1 {
				total++
				if math.Abs(sum-float64(n1*(n1+1))/2-mean) >= math.Abs(u-mean)-1e-9 {
					extreme++
				}
				return
			}
			for i := start; i <= len(ranks)-(n1-depth); i++ {
				idx[depth] = i
				walk(i+1, depth+1, sum+ranks[i])
			}
		}
		walk(0, 0, 0)
		return float64(extreme) / float64(total)
	}
	sd := math.Sqrt(float64(n1*n2*(n1+n2+1)) / 12)
	z := (math.Abs(u-mean) - 0.5) / sd
	return math.Erfc(z / math.Sqrt2)
}

// minPValue is the smallest two-sided p-value the exact test can reach with
// samples of n1 and n2: below 0.05 only with enough repetitions (4 and 4).
func minPValue(n1, n2 int) float64 {
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return 2 / c
}

// rankAll returns the ranks (1-based, ties averaged) of v in place order.
func rankAll(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return v[idx[i]] < v[idx[j]] })
	ranks := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = r
		}
		i = j + 1
	}
	return ranks
}

func trimFloat(v float64) string { return fmt.Sprintf("%.4g", v) }

// RenderComparison writes c as table, markdown, json or benchstat. The
// benchstat form needs the reports themselves: one Go benchmark line per
// run, under a "report:" key, which `benchstat -col report` compares.
func RenderComparison(w io.Writer, c *Comparison, base, next *Report, format string) error {
	switch format {
	case "json":
		return writeJSON(w, c)
	case "benchstat":
		fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: scrapebench\n", next.Manifest.OS, next.Manifest.Arch)
		for _, rep := range []struct {
			name string
			r    *Report
		}{{c.Base, base}, {c.New, next}} {
			fmt.Fprintf(w, "report: %s\n", rep.name)
			for _, run := range rep.r.Runs {
				fmt.Fprintf(w, "BenchmarkRun/strategy=%s 1 %g api-s %g jobs/api-s %g credits %g p99-api-ms %g cpu-s\n",
					run.Strategy, run.CompletionAPIs, run.ThroughputAPIPerS, run.Credits, run.LatencyAPIms.P99, run.ClientCPUs)
			}
		}
		return nil
	case "table", "markdown":
		t := table.NewWriter()
		t.SetTitle("%s → %s (threshold %.0f%% on completion, throughput, credits)", c.Base, c.New, c.Threshold*100)
		t.AppendHeader(table.Row{"strategy", "metric", "base", "new", "delta", "ratio", "p", "verdict"})
		for _, r := range c.Rows {
			p, verdict := "—", "ok"
			if r.PValue != nil {
				p = fmt.Sprintf("%.3f", *r.PValue)
			}
			if !r.Gated {
				verdict = "info"
			}
			if r.Regression {
				verdict = "REGRESSION"
			}
			if r.Note != "" {
				verdict += ": " + r.Note
			}
			t.AppendRow(table.Row{r.Strategy, r.Metric, trimFloat(r.Base), trimFloat(r.New), fmt.Sprintf("%+.4g", r.Delta),
				fmt.Sprintf("%.3f", r.Ratio), p, verdict})
		}
		if format == "markdown" {
			fmt.Fprintln(w, t.RenderMarkdown())
		} else {
			t.SetStyle(table.StyleLight)
			fmt.Fprintln(w, t.Render())
		}
		if len(c.Regressions) == 0 {
			fmt.Fprintln(w, "no regression")
		}
		for _, r := range c.Regressions {
			fmt.Fprintln(w, "REGRESSION: "+r)
		}
		return nil
	}
	return fmt.Errorf("format %q: want table, markdown, json or benchstat", format)
}
