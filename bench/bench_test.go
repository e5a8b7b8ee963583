package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scrapebench/scrapebench/mockapi"
	"github.com/scrapebench/scrapebench/strategies"
	"github.com/scrapebench/scrapebench/strategies/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

func seedWorld(t *testing.T) mockapi.Config {
	t.Helper()
	c, err := mockapi.Profile("seed")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPredict(t *testing.T) {
	t.Parallel()
	seed := seedWorld(t)
	strict, _ := mockapi.Profile("strict")
	set := DefaultSettings()
	spec := func(s string) StrategySpec { p, _ := ParseStrategy(s); return p }
	tests := []struct {
		strategy string
		world    mockapi.Config
		n        int
		want     float64 // API seconds
	}{
		{"serial", seed, 5000, 25000},
		{"concurrent:20", seed, 5000, 1250},
		{"concurrent:20", seed, 5010, 1255},       // ⌈5010/20⌉ = 251 rounds
		{"async", seed, 5000, 5000/(4/0.2) + 5},   // submit-bound
		{"async:8", seed, 5000, 5000/(8/0.2) + 5}, // more submits in flight
		{"async-seed", seed, 5000, 5000*0.3 + 5},  // the article's loop: ~25 min
		{"concurrent:20", strict, 1000, 500 * 10}, // 2 concurrent at 10 s binds before QPS 2
		{"concurrent:20", func() mockapi.Config { w := strict; w.Latency = mockapi.Fixed(time.Second); return w }(), 1000, 1000.0 / 2}, // then QPS binds
		{"serial", strict, 100, 100 * 10},                   // one at a time: 10 s each
		{"async", strict, 100, math.Ceil(100.0/2)*10 + 0.2}, // 2 server workers
	}
	for _, tt := range tests {
		got := Predict(spec(tt.strategy), tt.world, set, tt.n)
		if math.Abs(got.Seconds-tt.want)/tt.want > 0.002 {
			t.Errorf("%s n=%d: %v s (%s), want %v s", tt.strategy, tt.n, got.Seconds, got.Basis, tt.want)
		}
		if got.Basis == "" {
			t.Errorf("%s: no basis", tt.strategy)
		}
	}
	lossy := seed
	lossy.Faults.Loss = 0.01
	got := Predict(spec("async"), lossy, set, 5000)
	if want := 5000.0/20 + 60 + 5; math.Abs(got.Seconds-want) > 0.5 || !strings.Contains(got.Basis, "compensated") {
		t.Errorf("lossy async: %v (%s), want %v", got.Seconds, got.Basis, want)
	}
}

func TestParseStrategy(t *testing.T) {
	t.Parallel()
	good := map[string]StrategySpec{
		"serial": {"serial", "serial", 0}, "concurrent:20": {"concurrent:20", "concurrent", 20},
		"async": {"async", "async", 0}, "async:8": {"async:8", "async", 8}, "async-seed": {"async-seed", "async-seed", 0},
	}
	for in, want := range good {
		if got, err := ParseStrategy(in); err != nil || got != want {
			t.Errorf("ParseStrategy(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "concurrent", "concurrent:0", "concurrent:x", "serial:2", "async-seed:2", "bulk", "async:-1"} {
		if _, err := ParseStrategy(in); err == nil || !strings.Contains(err.Error(), "want serial") {
			t.Errorf("ParseStrategy(%q) = %v", in, err)
		}
	}
}

func TestLoadScenario(t *testing.T) {
	t.Parallel()
	for _, name := range ScenarioNames() {
		sc, err := LoadScenario(name)
		if err != nil || sc.Validate() != nil {
			t.Errorf("built-in %s: %v", name, err)
		}
	}
	cb, _ := LoadScenario("cost-benefit")
	if cb.ASINs != 5000 || strings.Join(cb.Strategies, ",") != "serial,concurrent:20,async,async-seed" {
		t.Errorf("cost-benefit is %+v", cb)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sc, err := LoadScenario(write("ok.json", `{"asins": 10, "strategies": ["serial", "async:2"], "world": {"latency": "fixed:1s"}, "settings": {"callback_timeout": "30s"}}`))
	if err != nil || sc.Durability != "sync" || time.Duration(sc.Settings.CallbackTimeout) != 30*time.Second || sc.Settings.MaxAttempts != 8 {
		t.Errorf("file scenario: %+v %v", sc, err)
	}
	bad := map[string]string{
		"unknown field": `{"asins": 10, "strategies": ["serial"], "asin": 3}`,
		"bad strategy":  `{"asins": 10, "strategies": ["parallel"]}`,
		"no jobs":       `{"strategies": ["serial"]}`,
		"bad duration":  `{"asins": 1, "strategies": ["serial"], "settings": {"callback_timeout": "soon"}}`,
	}
	for name, body := range bad {
		if _, err := LoadScenario(write(strings.ReplaceAll(name, " ", "_")+".json", body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadScenario("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "cost-benefit") {
		t.Errorf("unknown scenario: %v", err)
	}
}

func TestReadASINs(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "asins.txt")
	os.WriteFile(p, []byte("# list\nB0DYTF8L2W\n\nhttps://www.amazon.com/dp/b07xyz1234\nB0DYTF8L2W\n"), 0o644)
	got, err := ReadASINs(p)
	if err != nil || strings.Join(got, ",") != "B0DYTF8L2W,B07XYZ1234" {
		t.Errorf("ReadASINs = %v, %v", got, err)
	}
	os.WriteFile(p, []byte("B0DYTF8L2W\nnot-an-asin\n"), 0o644)
	if _, err := ReadASINs(p); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
}

// TestVerifyCatchesWrongAndMissing: a result that is not the ground truth
// and a job with no result make the run incomplete, naming both.
func TestVerifyCatchesWrongAndMissing(t *testing.T) {
	t.Parallel()
	cat := mockapi.Catalog{Seed: 1}
	s, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	jobs := []strategies.Job{strategies.ProductJob("B000000001"), strategies.ProductJob("B000000002"), strategies.ProductJob("B000000003")}
	put := func(id, asin string) {
		p := cat.Product(asin, 0)
		data, _ := json.Marshal(map[string]any{"json": []any{map[string]any{"code": 0, "message": "ok", "data": map[string]any{"results": []any{p}}}}})
		if _, err := s.Claim(store.Result{JobID: id, ASIN: asin, Source: "sync", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	put("B000000001", "B000000001")
	put("B000000002", "B000000009") // someone else's product
	res := &RunResult{Expected: 3}
	if err := verify(s, jobs, &cat, 0, &strategies.Stats{Stored: 2}, res); err != nil {
		t.Fatal(err)
	}
	if res.Complete || res.Stored != 2 || res.IntegrityErrors != 1 ||
		strings.Join(res.Wrong, ",") != "B000000002" || strings.Join(res.Missing, ",") != "B000000003" {
		t.Errorf("verify: %+v", res)
	}
	r := &Report{Runs: []RunResult{*res}}
	if lines := r.Incomplete(); len(lines) != 1 || !strings.Contains(lines[0], "missing B000000003") || !strings.Contains(lines[0], "wrong B000000002") {
		t.Errorf("Incomplete() = %v", lines)
	}
}

// smallRun runs every strategy over a few ASINs with the mock in process.
func smallRun(t *testing.T, metrics *Metrics) *Report {
	t.Helper()
	sc, _ := LoadScenario("smoke")
	sc.ASINs = 30
	rep, err := Run(context.Background(), Options{Scenario: sc, World: seedWorld(t), Mock: MockInProcess, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRunAndEveryFormat(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	rep := smallRun(t, NewMetrics(reg))
	if len(rep.Runs) != 4 || len(rep.Incomplete()) != 0 {
		t.Fatalf("runs %d, incomplete %v", len(rep.Runs), rep.Incomplete())
	}
	for _, r := range rep.Runs {
		if r.Stored != 30 || r.IntegrityErrors != 0 || r.ModelAPIs <= 0 || r.CompletionAPIs <= 0 ||
			r.LedgerCredits == nil || *r.LedgerCredits != r.Credits || r.Credits != 30 {
			t.Errorf("%s: %+v", r.Strategy, r)
		}
		if math.Abs(r.CompletionAPIs-r.CompletionWallS*r.TimeScale) > 0.01*r.CompletionAPIs+0.01 {
			t.Errorf("%s: API %v != wall %v × scale %v", r.Strategy, r.CompletionAPIs, r.CompletionWallS, r.TimeScale)
		}
	}
	m := rep.Manifest
	if m.Tool != "scrapebench" || m.GoVersion == "" || m.GOMAXPROCS < 1 || m.CPU == "" || m.Scenario != "smoke" || m.TimeScale != 200 || m.Seed != 1 || m.GitCommit == "" {
		t.Errorf("manifest %+v", m)
	}

	var table, md, js, cs bytes.Buffer
	for f, buf := range map[string]*bytes.Buffer{"table": &table, "markdown": &md, "json": &js, "csv": &cs} {
		if err := Render(buf, rep, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	for _, want := range []string{"COMPLETION (API TIME)", "THE ARTICLE SAYS", "ENGINEERING EFFORT", "30/30 ✓", "MEASURED/MODEL", "Model for serial: N·L̄"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if !strings.Contains(md.String(), "| serial ") || !strings.Contains(md.String(), "# scrapebench: smoke") {
		t.Errorf("markdown:\n%s", md.String())
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil || len(rows) != 5 || rows[0][0] != "strategy" || len(rows[1]) != len(csvColumns) {
		t.Errorf("csv: %v rows, %v", len(rows), err)
	}
	p := filepath.Join(t.TempDir(), "r.json")
	os.WriteFile(p, js.Bytes(), 0o644)
	back, err := ReadReport(p)
	if err != nil || len(back.Runs) != 4 || back.Runs[0].Stored != 30 {
		t.Errorf("ReadReport: %v", err)
	}
	if err := Render(&table, rep, "yaml"); err == nil {
		t.Error("Render accepted yaml")
	}

	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP scrapebench_credits_spent_total Credits of code-0 answers, as the client counts them.
# TYPE scrapebench_credits_spent_total counter
scrapebench_credits_spent_total{strategy="async"} 30
scrapebench_credits_spent_total{strategy="async-seed"} 30
scrapebench_credits_spent_total{strategy="concurrent:20"} 30
scrapebench_credits_spent_total{strategy="serial"} 30
`), "scrapebench_credits_spent_total"); err != nil {
		t.Error(err)
	}
	checkDashboard(t)
}

// checkDashboard: every metric the Grafana dashboard queries exists.
func checkDashboard(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	have := map[string]bool{}
	for _, n := range NewMetrics(prometheus.NewRegistry()).names() {
		have[n] = true
	}
	used := regexp.MustCompile(`scrapebench_[a-z_]+`).FindAllString(string(b), -1)
	if len(used) == 0 {
		t.Fatal("dashboard queries no scrapebench metric")
	}
	for _, name := range used {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !have[base] {
			t.Errorf("dashboard queries %s, which the client does not export", name)
		}
	}
}

// TestJSONSchemaGolden pins the JSON report's schema: field names and
// types, recursively. Run with -update to accept a deliberate change.
func TestJSONSchemaGolden(t *testing.T) {
	t.Parallel()
	rep := smallRun(t, nil)
	var buf bytes.Buffer
	if err := Render(&buf, rep, "json"); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	schema("", v, lines)
	var got []string
	for l := range lines {
		got = append(got, l)
	}
	sort.Strings(got)
	golden := filepath.Join("testdata", "report.schema")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./bench -run TestJSONSchemaGolden -update)", err)
	}
	if g := strings.Join(got, "\n") + "\n"; g != string(want) {
		t.Errorf("JSON schema changed; if deliberate, run with -update.\ngot:\n%s\nwant:\n%s", g, want)
	}
	// The fields the issue names are there.
	for _, f := range []string{"runs[].strategy", "runs[].jobs", "runs[].completion_api_s", "runs[].completion_wall_s", "runs[].model_api_s",
		"runs[].throughput_api_per_s", "runs[].latency_api_ms.p50", "runs[].latency_api_ms.p95", "runs[].latency_api_ms.p99",
		"runs[].latency_api_ms.max", "runs[].credits", "runs[].requests", "runs[].retries", "runs[].stored",
		"runs[].duplicates_suppressed", "runs[].callbacks_lost", "runs[].compensated", "runs[].integrity_errors",
		"runs[].client_cpu_s", "runs[].peak_rss_bytes", "manifest.version", "manifest.git_commit", "manifest.go_version",
		"manifest.gomaxprocs", "manifest.cpu", "manifest.time_scale", "manifest.seed", "manifest.scenario"} {
		if !strings.Contains(string(want), f+" ") {
			t.Errorf("schema lacks %s", f)
		}
	}
}

// schema records "path type" for every field of v; maps keyed by data
// (codes) are recorded as {}.
func schema(path string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if strings.HasSuffix(path, "codes") || strings.HasSuffix(path, "time_scales") {
			out[path+" map"] = true
			return
		}
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			schema(p, e, out)
		}
	case []any:
		for _, e := range x {
			schema(path+"[]", e, out)
		}
		if len(x) == 0 {
			out[path+" []"] = true
		}
	default:
		out[fmt.Sprintf("%s %T", path, v)] = true
	}
}
