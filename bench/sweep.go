package bench

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/scrapebench/scrapebench/strategies"
)

// Sweep parameters.
const (
	ParamConcurrency       = "concurrency"        // concurrent:N
	ParamSubmitConcurrency = "submit-concurrency" // async:N
	ParamSubmitQPS         = "submit-qps"         // async, settings.submit_qps
	ParamCallbackTimeout   = "callback-timeout"   // async, settings.callback_timeout
)

// SweepOptions configure Sweep: Base is a run's options whose scenario's
// strategies are replaced by one per setting.
type SweepOptions struct {
	Base   Options
	Param  string
	Values []string
	// Crossover, when set, also finds from which job count async beats the
	// recommended concurrent:N (model), and checks it by measuring both at
	// a count below and one above.
	Crossover bool
}

// SweepPoint is one setting's figures (medians over repetitions).
type SweepPoint struct {
	Setting           string           `json:"setting"`
	Strategy          string           `json:"strategy"`
	CompletionAPIs    float64          `json:"completion_api_s"`
	ModelAPIs         float64          `json:"model_api_s"`
	ThroughputAPIPerS float64          `json:"throughput_api_per_s"`
	Requests          int64            `json:"requests"`
	Retries           int64            `json:"retries"`
	Codes             map[string]int64 `json:"codes"`
	WastedRequests    int64            `json:"wasted_requests"` // requests that stored nothing
	ErrorRate         float64          `json:"error_rate"`      // answers with a non-zero code or a transport error / requests
	Credits           float64          `json:"credits"`
	Failed            int64            `json:"failed"`           // jobs given up (retries exhausted): the setting's verdict
	IntegrityErrors   int64            `json:"integrity_errors"` // wrong or duplicated results: the harness's or strategy's fault
	Complete          bool             `json:"complete"`
	// InService is Little's law: throughput × mean scrape latency, the jobs
	// the server is working on at once on average.
	InService float64 `json:"in_service"`
}

// Recommendation is the setting to use and why.
type Recommendation struct {
	Setting   string `json:"setting"`
	Reason    string `json:"reason"`
	LittleLaw string `json:"little_law"`
}

// Crossover is where async starts to beat concurrent:N in this world.
type Crossover struct {
	Against   string       `json:"against"`        // concurrent:N
	ModelJobs int          `json:"model_jobs"`     // 0: async never wins below 1,000,000 jobs
	Checks    []CrossCheck `json:"checks"`         // measured at two job counts
	Agrees    bool         `json:"agrees"`         // no measurement contradicts the model (opposite winners, each by >5%)
	Note      string       `json:"note,omitempty"` // what the model assumes
}

// CrossCheck is both strategies measured at one job count.
type CrossCheck struct {
	Jobs            int     `json:"jobs"`
	AsyncAPIs       float64 `json:"async_api_s"`
	ConcurrentAPIs  float64 `json:"concurrent_api_s"`
	ModelAsyncAPIs  float64 `json:"model_async_api_s"`
	ModelConcurAPIs float64 `json:"model_concurrent_api_s"`
	AsyncWins       bool    `json:"async_wins"`
	ModelAsyncWins  bool    `json:"model_async_wins"`
	Verdict         string  `json:"verdict"`       // measured: async, concurrent or tie (within 5%)
	ModelVerdict    string  `json:"model_verdict"` // the model's, same rule
}

// verdict names the faster of two times, or a tie within 5%.
func verdict(async, conc float64) string {
	switch {
	case async < conc*0.95:
		return "async"
	case conc < async*0.95:
		return "concurrent"
	}
	return "tie"
}

// SweepReport is what scrapebench sweep writes.
type SweepReport struct {
	Manifest       Manifest       `json:"manifest"`
	Parameter      string         `json:"parameter"`
	Points         []SweepPoint   `json:"points"`
	Recommendation Recommendation `json:"recommendation"`
	Crossover      *Crossover     `json:"crossover,omitempty"`
	Runs           []RunResult    `json:"runs"`
}

// sweepStrategy returns the strategy name and scenario settings of one value.
func sweepStrategy(param, value string, sc *Scenario) (string, error) {
	switch param {
	case ParamConcurrency, ParamSubmitConcurrency:
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return "", fmt.Errorf("--%s value %q: want whole numbers ≥ 1 such as 1,2,4,8", param, value)
		}
		if param == ParamConcurrency {
			return "concurrent:" + value, nil
		}
		return "async:" + value, nil
	case ParamSubmitQPS:
		q, err := strconv.ParseFloat(value, 64)
		if err != nil || q <= 0 {
			return "", fmt.Errorf("--%s value %q: want numbers > 0 such as 1,2,5", param, value)
		}
		sc.Settings.SubmitQPS = q
		return "async", nil
	case ParamCallbackTimeout:
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return "", fmt.Errorf("--%s value %q: want durations such as 30s,60s,120s", param, value)
		}
		sc.Settings.CallbackTimeout = Duration(d)
		return "async", nil
	}
	return "", fmt.Errorf("sweep parameter %q: want %s, %s, %s or %s", param, ParamConcurrency, ParamSubmitConcurrency, ParamSubmitQPS, ParamCallbackTimeout)
}

// SweepStrategies returns the strategy each setting runs, for a dry run.
func SweepStrategies(param string, values []string, sc Scenario) ([]string, error) {
	out := make([]string, len(values))
	for i, v := range values {
		name, err := sweepStrategy(param, v, &sc)
		if err != nil {
			return nil, err
		}
		out[i] = name
	}
	return out, nil
}

// Sweep runs one strategy per setting, repetitions interleaved across
// settings, and recommends a setting.
func Sweep(ctx context.Context, o SweepOptions) (*SweepReport, error) {
	if len(o.Values) == 0 {
		return nil, fmt.Errorf("sweep: no settings to try")
	}
	base := o.Base.Scenario
	if o.Base.Budget == nil && o.Base.MaxCredits > 0 {
		o.Base.Budget = strategies.NewBudget(o.Base.MaxCredits) // one budget for every point
	}
	rep := &SweepReport{Parameter: o.Param}
	names := make([]string, len(o.Values))
	scs := make([]Scenario, len(o.Values))
	for i, v := range o.Values {
		scs[i] = base
		name, err := sweepStrategy(o.Param, v, &scs[i])
		if err != nil {
			return nil, err
		}
		names[i] = name
	}
	byPoint := make([][]RunResult, len(o.Values))
	for r := 1; r <= base.Repeat; r++ {
		for i := range o.Values {
			opts := o.Base
			opts.Scenario = scs[i]
			opts.Scenario.Strategies = []string{names[i]}
			opts.Scenario.Repeat = 1
			one, err := Run(ctx, opts)
			if err != nil {
				return nil, err
			}
			rep.Manifest = one.Manifest
			for _, run := range one.Runs {
				run.Repetition = r
				byPoint[i] = append(byPoint[i], run)
				rep.Runs = append(rep.Runs, run)
			}
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			if o.Base.Budget != nil && o.Base.Budget.Exhausted() {
				return rep, fmt.Errorf("the credit budget ran out at %s %s: the sweep stops there", o.Param, o.Values[i])
			}
		}
	}
	rep.Manifest.Repeat = base.Repeat
	L := o.Base.World.Latency.Mean().Seconds()
	for i, runs := range byPoint {
		rep.Points = append(rep.Points, sweepPoint(o.Values[i], names[i], runs, L))
	}
	rep.Recommendation = recommend(o.Param, rep.Points, L)
	if o.Crossover && o.Base.Endpoint == "" {
		against := "concurrent:1"
		if o.Param == ParamConcurrency {
			against = "concurrent:" + rep.Recommendation.Setting
		}
		cross, err := crossover(ctx, o.Base, against)
		if err != nil {
			return rep, err
		}
		rep.Crossover = cross
	}
	return rep, nil
}

func sweepPoint(setting, strategy string, runs []RunResult, L float64) SweepPoint {
	p := SweepPoint{Setting: setting, Strategy: strategy, Codes: map[string]int64{}, Complete: true}
	var comp, thr, cred []float64
	var errs int64
	for _, r := range runs {
		comp = append(comp, r.CompletionAPIs)
		thr = append(thr, r.ThroughputAPIPerS)
		cred = append(cred, r.Credits)
		p.ModelAPIs = r.ModelAPIs
		p.Requests += r.Requests
		p.Retries += r.Retries
		p.WastedRequests += r.Requests - r.Stored
		for k, v := range r.Codes {
			p.Codes[k] += v
			errs += v
		}
		errs += r.TransportErrors
		p.Failed += r.Failed
		p.IntegrityErrors += r.IntegrityErrors
		p.Complete = p.Complete && r.Complete
	}
	n := int64(len(runs))
	p.Requests, p.Retries, p.WastedRequests, p.Failed = p.Requests/n, p.Retries/n, p.WastedRequests/n, p.Failed/n
	if p.Requests > 0 {
		p.ErrorRate = round3(float64(errs) / float64(n) / float64(p.Requests))
	}
	for k := range p.Codes {
		p.Codes[k] /= n
	}
	p.CompletionAPIs, p.ThroughputAPIPerS, p.Credits = median(comp), median(thr), median(cred)
	p.InService = round3(p.ThroughputAPIPerS * L)
	return p
}

// recommend picks the smallest setting within 5% of the best completion
// whose error rate stays under 1%.
func recommend(param string, points []SweepPoint, L float64) Recommendation {
	best := math.Inf(1)
	for _, p := range points {
		if p.Complete && p.CompletionAPIs < best {
			best = p.CompletionAPIs
		}
	}
	var pick *SweepPoint
	for i := range points {
		p := &points[i]
		if !p.Complete || p.CompletionAPIs > best*1.05 || p.ErrorRate >= 0.01 {
			continue
		}
		if pick == nil || settingLess(p.Setting, pick.Setting) {
			pick = p
		}
	}
	if pick == nil {
		return Recommendation{Reason: "no setting finished within 5% of the best completion with an error rate under 1%: widen the sweep or lower the concurrency"}
	}
	reason := fmt.Sprintf("%s %s is the smallest setting within 5%% of the best completion (%s, here %s) with an error rate under 1%% (%.1f%%)",
		param, pick.Setting, human(best), human(pick.CompletionAPIs), pick.ErrorRate*100)
	for _, p := range points {
		if settingLess(pick.Setting, p.Setting) && p.ErrorRate >= 0.01 {
			reason += fmt.Sprintf("; %s %s already meets errors on %.0f%% of requests", param, p.Setting, p.ErrorRate*100)
			break
		}
	}
	little := fmt.Sprintf("throughput %.3g jobs/s × mean scrape latency %s = %.2f jobs in service at once", pick.ThroughputAPIPerS, secs(L), pick.InService)
	if param == ParamConcurrency {
		n, _ := strconv.Atoi(pick.Setting)
		if math.Abs(pick.InService-float64(n)) <= 0.1*float64(n) {
			little += fmt.Sprintf(" ≈ concurrency %d: every worker is busy scraping", n)
		} else {
			little += fmt.Sprintf(" against concurrency %d: workers wait on errors, backoff or the server's limits", n)
		}
	}
	return Recommendation{Setting: pick.Setting, Reason: reason, LittleLaw: little}
}

func settingLess(a, b string) bool {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	if ea == nil && eb == nil {
		return fa < fb
	}
	if da, err := time.ParseDuration(a); err == nil {
		if db, err := time.ParseDuration(b); err == nil {
			return da < db
		}
	}
	return a < b
}

// crossover finds by the model the smallest job count at which async
// finishes before against, and measures both at half and twice that count.
func crossover(ctx context.Context, base Options, against string) (*Crossover, error) {
	spec, _ := ParseStrategy(against)
	asyncSpec, _ := ParseStrategy("async")
	sc := base.Scenario
	model := func(s StrategySpec, n int) float64 { return Predict(s, base.World, sc.Settings, n).Seconds }
	c := &Crossover{Against: against, Note: "model: " + Predict(spec, base.World, sc.Settings, 100).Basis + " vs " + Predict(asyncSpec, base.World, sc.Settings, 100).Basis}
	for n := 1; n <= 1_000_000; n = nextCount(n) {
		if model(asyncSpec, n) < model(spec, n) {
			// refine between the previous count and n
			lo := max(1, n/2)
			for m := lo; m <= n; m++ {
				if model(asyncSpec, m) < model(spec, m) {
					c.ModelJobs = m
					break
				}
			}
			break
		}
	}
	n := sc.ASINs
	if n <= 0 {
		n = 200
	}
	points := []int{min(n, max(20, n/4)), n}
	if c.ModelJobs > 0 {
		points = []int{max(1, c.ModelJobs/2), c.ModelJobs * 2}
	}
	c.Agrees = true
	for _, n := range points {
		o := base
		o.Scenario.Strategies = []string{against, "async"}
		o.Scenario.Repeat = 1
		o.Scenario.ASINs, o.Scenario.ASINFile, o.ASINs = n, "", nil
		rep, err := Run(ctx, o)
		if err != nil {
			return c, err
		}
		if len(rep.Runs) != 2 {
			return c, fmt.Errorf("crossover check at %d jobs: %d runs", n, len(rep.Runs))
		}
		check := CrossCheck{Jobs: n, ConcurrentAPIs: rep.Runs[0].CompletionAPIs, AsyncAPIs: rep.Runs[1].CompletionAPIs,
			ModelConcurAPIs: round3(model(spec, n)), ModelAsyncAPIs: round3(model(asyncSpec, n))}
		check.AsyncWins = check.AsyncAPIs < check.ConcurrentAPIs
		check.ModelAsyncWins = check.ModelAsyncAPIs < check.ModelConcurAPIs
		check.Verdict = verdict(check.AsyncAPIs, check.ConcurrentAPIs)
		check.ModelVerdict = verdict(check.ModelAsyncAPIs, check.ModelConcurAPIs)
		// A tie on either side is compatible; only opposite winners, each by
		// more than 5%, contradict the model.
		contradicts := check.Verdict != "tie" && check.ModelVerdict != "tie" && check.Verdict != check.ModelVerdict
		c.Agrees = c.Agrees && !contradicts
		c.Checks = append(c.Checks, check)
	}
	return c, nil
}

func nextCount(n int) int {
	if n < 100 {
		return n + 1
	}
	return n + n/10
}

// crossoverLine describes c in a sentence.
func crossoverLine(c *Crossover) string {
	var b strings.Builder
	if c.ModelJobs > 0 {
		fmt.Fprintf(&b, "Crossover: async beats %s from %d jobs on (model).", c.Against, c.ModelJobs)
	} else {
		fmt.Fprintf(&b, "Crossover: async never beats %s in this world (model, up to 1,000,000 jobs).", c.Against)
	}
	for _, ch := range c.Checks {
		fmt.Fprintf(&b, " Measured at %d jobs: async %s, %s %s, faster: %s (model %s vs %s: %s).", ch.Jobs, human(ch.AsyncAPIs), c.Against,
			human(ch.ConcurrentAPIs), ch.Verdict, human(ch.ModelAsyncAPIs), human(ch.ModelConcurAPIs), ch.ModelVerdict)
	}
	if c.Agrees {
		b.WriteString(" No measurement contradicts the model (times within 5% count as a tie).")
	} else {
		b.WriteString(" A measurement CONTRADICTS the model: read the detail tables.")
	}
	return b.String()
}

// RenderSweep writes a sweep report as table, markdown, json or csv.
func RenderSweep(w io.Writer, s *SweepReport, format string) error {
	switch format {
	case "json":
		return writeJSON(w, s)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"setting", "strategy", "completion_api_s", "model_api_s", "throughput_api_per_s", "error_rate",
			"code_4029", "code_9200", "retries", "wasted_requests", "credits", "in_service", "complete"})
		for _, p := range s.Points {
			_ = cw.Write([]string{p.Setting, p.Strategy, trimFloat(p.CompletionAPIs), trimFloat(p.ModelAPIs), trimFloat(p.ThroughputAPIPerS),
				trimFloat(p.ErrorRate), strconv.FormatInt(p.Codes["4029"], 10), strconv.FormatInt(p.Codes["9200"], 10),
				strconv.FormatInt(p.Retries, 10), strconv.FormatInt(p.WastedRequests, 10), trimFloat(p.Credits),
				trimFloat(p.InService), strconv.FormatBool(p.Complete)})
		}
		cw.Flush()
		return cw.Error()
	case "table", "markdown":
		m := s.Manifest
		t := table.NewWriter()
		t.SetTitle("Sweep of %s: %s world, %d jobs, %d repetition(s), medians (API time)", s.Parameter, m.Profile, m.Jobs, m.Repeat)
		t.AppendHeader(table.Row{"setting", "strategy", "completion", "model", "jobs/s", "error rate", "4029", "9200", "other codes",
			"retries", "wasted requests", "credits", "in service (λ·L̄)", "jobs given up", "complete"})
		for _, p := range s.Points {
			other := map[string]int64{}
			for k, v := range p.Codes {
				if k != "4029" && k != "9200" {
					other[k] = v
				}
			}
			mark := "✓"
			if !p.Complete {
				mark = "✗"
			}
			t.AppendRow(table.Row{p.Setting, p.Strategy, human(p.CompletionAPIs), human(p.ModelAPIs), fmt.Sprintf("%.3f", p.ThroughputAPIPerS),
				fmt.Sprintf("%.1f%%", p.ErrorRate*100), p.Codes["4029"], p.Codes["9200"], codesString(other, 0), p.Retries,
				p.WastedRequests, thousands(p.Credits), fmt.Sprintf("%.2f", p.InService), p.Failed, mark})
		}
		if format == "markdown" {
			fmt.Fprintf(w, "%s\n\n", t.RenderMarkdown())
		} else {
			t.SetStyle(table.StyleLight)
			fmt.Fprintln(w, t.Render())
		}
		bullet := ""
		if format == "markdown" {
			bullet = "- "
		}
		r := s.Recommendation
		if r.Setting != "" {
			fmt.Fprintf(w, "%sRecommendation: %s %s. %s.\n", bullet, s.Parameter, r.Setting, r.Reason)
			fmt.Fprintf(w, "%sLittle's law: %s.\n", bullet, r.LittleLaw)
		} else {
			fmt.Fprintf(w, "%sNo recommendation: %s.\n", bullet, r.Reason)
		}
		if s.Crossover != nil {
			fmt.Fprintf(w, "%s%s\n", bullet, crossoverLine(s.Crossover))
		}
		fmt.Fprintf(w, "%sscrapebench %s (%s), %s, %s, GOMAXPROCS %d; seed %d.\n", bullet, m.Version, shortCommit(m.GitCommit), m.GoVersion, m.CPU, m.GOMAXPROCS, m.Seed)
		return nil
	}
	return fmt.Errorf("format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// ReadSweep reads a sweep report written as JSON.
func ReadSweep(path string) (*SweepReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s SweepReport
	if err := json.Unmarshal(b, &s); err != nil || s.Parameter == "" {
		return nil, fmt.Errorf("%s is not a scrapebench sweep report", path)
	}
	return &s, nil
}
