package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// Formats Render accepts.
var Formats = []string{"table", "markdown", "json", "csv"}

// FormatFromPath returns the format an output file's extension implies.
func FormatFromPath(path string) (string, error) {
	switch {
	case strings.HasSuffix(path, ".json"):
		return "json", nil
	case strings.HasSuffix(path, ".md"):
		return "markdown", nil
	case strings.HasSuffix(path, ".csv"):
		return "csv", nil
	case strings.HasSuffix(path, ".txt"):
		return "table", nil
	}
	return "", fmt.Errorf("output %q: want a name ending .json, .md, .csv or .txt", path)
}

// articleFigure is what the seed article says for a strategy and job count.
func articleFigure(spec StrategySpec, jobs int) string {
	figures := map[int]map[string]string{
		5000: {"serial": "~7 h", "concurrent:20": "~21 min", "async": "~5–10 min",
			"async-seed": "5–10 min claimed; its own submit loop takes ~25 min"},
		10000: {"serial": "~14 h", "async": "30–60 min", "async-seed": "30–60 min claimed; its loop ~50 min"},
	}
	key := spec.Kind
	if spec.Kind == "concurrent" {
		key = spec.Name
	}
	if f, ok := figures[jobs][key]; ok {
		return f
	}
	return "—"
}

// effort is the engineering a strategy asks of a team, as the article
// weighs it.
func effort(kind string) string {
	switch kind {
	case "serial":
		return "low: a loop"
	case "concurrent":
		return "low–medium: worker pool, backoff"
	}
	return "high: receiver, task registry, dedup, compensation"
}

// human formats API seconds as the largest sensible unit.
func human(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%.1f h", s/3600)
	case s >= 60:
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.1f s", s)
}

func thousands(v float64) string {
	s := strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 && c != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// medianRuns returns one run per strategy (the median completion across
// repetitions) in the order strategies first appear.
func medianRuns(runs []RunResult) []RunResult {
	var order []string
	by := map[string][]RunResult{}
	for _, r := range runs {
		if _, ok := by[r.Strategy]; !ok {
			order = append(order, r.Strategy)
		}
		by[r.Strategy] = append(by[r.Strategy], r)
	}
	out := make([]RunResult, 0, len(order))
	for _, s := range order {
		rs := by[s]
		sort.Slice(rs, func(i, j int) bool { return rs[i].CompletionAPIs < rs[j].CompletionAPIs })
		out = append(out, rs[(len(rs)-1)/2])
	}
	return out
}

// costBenefit builds table 1.
func costBenefit(r *Report) table.Writer {
	t := table.NewWriter()
	t.SetTitle("Cost-benefit: %s, %s jobs (API time; repetitions: median)", r.Manifest.Scenario, thousands(float64(r.Manifest.Jobs)))
	t.AppendHeader(table.Row{"strategy", "completion (API time)", "the article says", "client CPU", "credits", "engineering effort", "complete"})
	for _, run := range medianRuns(r.Runs) {
		spec, _ := ParseStrategy(run.Strategy)
		credits := thousands(run.Credits)
		if run.LedgerCredits != nil && *run.LedgerCredits != run.Credits {
			credits += " (ledger " + thousands(*run.LedgerCredits) + ")"
		}
		mark := "✓"
		if !run.Complete {
			mark = "✗"
		}
		t.AppendRow(table.Row{run.Strategy,
			fmt.Sprintf("%s (%s s)", human(run.CompletionAPIs), thousands(math.Round(run.CompletionAPIs))),
			articleFigure(spec, run.Jobs), fmt.Sprintf("%.1f s", run.ClientCPUs), credits, effort(spec.Kind),
			fmt.Sprintf("%d/%d %s", run.Stored, run.Expected, mark)})
	}
	return t
}

// details builds table 2.
func details(r *Report) table.Writer {
	t := table.NewWriter()
	t.SetTitle("Details (latencies per job in API ms; wall time is what the run took here)")
	t.AppendHeader(table.Row{"strategy", "rep", "scale", "wall", "model (API)", "measured/model", "jobs/s (API)",
		"p50", "p95", "p99", "requests", "retries", "error codes", "dups suppressed", "lost", "compensated", "late", "peak RSS"})
	for _, run := range r.Runs {
		ratio := "—"
		if run.ModelAPIs > 0 {
			ratio = fmt.Sprintf("%.2f", run.ModelRatio)
		}
		t.AppendRow(table.Row{run.Strategy, run.Repetition, fmt.Sprintf("%g×", run.TimeScale),
			(time.Duration(run.CompletionWallS * float64(time.Second))).Round(time.Millisecond).String(),
			human(run.ModelAPIs), ratio, fmt.Sprintf("%.2f", run.ThroughputAPIPerS),
			thousands(run.LatencyAPIms.P50), thousands(run.LatencyAPIms.P95), thousands(run.LatencyAPIms.P99),
			run.Requests, run.Retries, codesString(run.Codes, run.TransportErrors), run.DuplicatesSuppressed,
			run.CallbacksLost, run.Compensated, run.LateAfterCompensation, fmt.Sprintf("%.0f MiB", float64(run.PeakRSSBytes)/(1<<20))})
	}
	t.SetColumnConfigs([]table.ColumnConfig{{Number: 2, Align: text.AlignRight}, {Number: 11, Align: text.AlignRight}})
	return t
}

func codesString(codes map[string]int64, transport int64) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, codes[k]))
	}
	if transport > 0 {
		parts = append(parts, fmt.Sprintf("transport×%d", transport))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " ")
}

// notes are the lines under the tables: scale, machine, model basis, warnings.
func notes(r *Report) []string {
	m := r.Manifest
	out := []string{fmt.Sprintf("scrapebench %s (%s), %s, %s, GOMAXPROCS %d; endpoint %s; seed %d; store durability %s.",
		m.Version, shortCommit(m.GitCommit), m.GoVersion, m.CPU, m.GOMAXPROCS, m.Endpoint, m.Seed, m.Durability)}
	out = append(out, "Every figure is API time: wall time × the run's time scale (column scale).")
	for _, run := range medianRuns(r.Runs) {
		if run.ModelBasis != "" {
			out = append(out, fmt.Sprintf("Model for %s: %s = %s.", run.Strategy, run.ModelBasis, human(run.ModelAPIs)))
		}
	}
	for _, run := range r.Runs {
		for _, w := range run.Warnings {
			out = append(out, fmt.Sprintf("Warning (%s #%d): %s", run.Strategy, run.Repetition, w))
		}
	}
	for _, line := range r.Incomplete() {
		out = append(out, "INCOMPLETE: "+line)
	}
	return out
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// Render writes the report in format: table, markdown, json or csv.
func Render(w io.Writer, r *Report, format string) error {
	switch format {
	case "json":
		return writeJSON(w, r)
	case "csv":
		return renderCSV(w, r)
	case "markdown":
		fmt.Fprintf(w, "# scrapebench: %s\n\n", r.Manifest.Scenario)
		for _, t := range []table.Writer{costBenefit(r), details(r)} {
			fmt.Fprintf(w, "%s\n\n", t.RenderMarkdown())
		}
		for _, n := range notes(r) {
			fmt.Fprintf(w, "- %s\n", n)
		}
		return nil
	case "table":
		for _, t := range []table.Writer{costBenefit(r), details(r)} {
			t.SetStyle(table.StyleLight)
			fmt.Fprintln(w, t.Render())
		}
		for _, n := range notes(r) {
			fmt.Fprintln(w, n)
		}
		return nil
	}
	return fmt.Errorf("format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// csvColumns are the CSV columns, one row per run.
var csvColumns = []string{"strategy", "repetition", "time_scale", "jobs", "completion_api_s", "completion_wall_s", "model_api_s",
	"model_ratio", "throughput_api_per_s", "latency_p50_api_ms", "latency_p95_api_ms", "latency_p99_api_ms", "latency_max_api_ms",
	"credits", "ledger_credits", "requests", "retries", "transport_errors", "stored", "expected", "failed", "duplicates_suppressed",
	"callbacks_lost", "compensated", "late_after_compensation", "integrity_errors", "complete", "client_cpu_s", "mock_cpu_s", "peak_rss_bytes"}

func renderCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, run := range r.Runs {
		ledger := ""
		if run.LedgerCredits != nil {
			ledger = f(*run.LedgerCredits)
		}
		row := []string{run.Strategy, strconv.Itoa(run.Repetition), f(run.TimeScale), strconv.Itoa(run.Jobs),
			f(run.CompletionAPIs), f(run.CompletionWallS), f(run.ModelAPIs), f(run.ModelRatio), f(run.ThroughputAPIPerS),
			f(run.LatencyAPIms.P50), f(run.LatencyAPIms.P95), f(run.LatencyAPIms.P99), f(run.LatencyAPIms.Max),
			f(run.Credits), ledger, strconv.FormatInt(run.Requests, 10), strconv.FormatInt(run.Retries, 10),
			strconv.FormatInt(run.TransportErrors, 10), strconv.FormatInt(run.Stored, 10), strconv.Itoa(run.Expected),
			strconv.FormatInt(run.Failed, 10), strconv.FormatInt(run.DuplicatesSuppressed, 10), strconv.FormatInt(run.CallbacksLost, 10),
			strconv.FormatInt(run.Compensated, 10), strconv.FormatInt(run.LateAfterCompensation, 10),
			strconv.FormatInt(run.IntegrityErrors, 10), strconv.FormatBool(run.Complete), f(run.ClientCPUs), f(run.MockCPUs),
			strconv.FormatInt(run.PeakRSSBytes, 10)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
