// Package bench is the harness: scenarios, the runner that starts the mock
// and runs strategies against it (or the real API), measurement, the
// analytic model, and the reports (tables, JSON, CSV).
//
// It owns the conversion between API time and wall time: everything it
// hands mockapi and strategies is wall time, everything it reports is API
// time with the wall figure and the scale beside it.
package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Duration is a time.Duration that reads and writes JSON as "60s".
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "60s" (or a number of nanoseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ns int64
		if err2 := json.Unmarshal(b, &ns); err2 != nil {
			return fmt.Errorf("duration: want a string such as \"60s\"")
		}
		*d = Duration(ns)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a string such as \"60s\"", s)
	}
	*d = Duration(v)
	return nil
}

// Settings are the strategies' knobs, in API time.
type Settings struct {
	// CallbackTimeout: how long async waits for a callback before it
	// compensates through the sync API.
	CallbackTimeout Duration `json:"callback_timeout"`
	// SubmitConcurrency: async submits in flight ("async:N" overrides).
	SubmitConcurrency int `json:"submit_concurrency"`
	// SubmitQPS: async submits per second, 0: no limit.
	SubmitQPS float64 `json:"submit_qps,omitempty"`
	// SeedPause: async-seed's pause after each submit (the article's 0.1 s).
	SeedPause Duration `json:"seed_pause"`
	// CompensateConcurrency: compensation calls in flight.
	CompensateConcurrency int `json:"compensate_concurrency"`
	// NoCompensation: give up jobs whose callback times out.
	NoCompensation bool `json:"no_compensation,omitempty"`
	// ClientQPS: sync requests per second the client allows itself, 0: none.
	ClientQPS float64 `json:"client_qps,omitempty"`
	// RequestTimeout bounds one API call.
	RequestTimeout Duration `json:"request_timeout"`
	// MaxAttempts per job and call, first included.
	MaxAttempts int `json:"max_attempts"`
	// RetryBase and RetryMax shape the exponential backoff.
	RetryBase Duration `json:"retry_base"`
	RetryMax  Duration `json:"retry_max"`
}

// DefaultSettings are the settings a scenario starts from.
func DefaultSettings() Settings {
	return Settings{
		CallbackTimeout:       Duration(60 * time.Second),
		SubmitConcurrency:     4,
		SeedPause:             Duration(100 * time.Millisecond),
		CompensateConcurrency: 4,
		RequestTimeout:        Duration(2 * time.Minute),
		MaxAttempts:           8,
		RetryBase:             Duration(time.Second),
		RetryMax:              Duration(time.Minute),
	}
}

// sweepSettings are the default settings with a callback timeout longer
// than the strict world's async queue (200 jobs on 2 workers wait up to
// ~17 min): a shorter one compensates queued jobs and pays for them twice.
func sweepSettings() Settings {
	s := DefaultSettings()
	s.CallbackTimeout = Duration(time.Hour)
	return s
}

// Scenario is a benchmark: which jobs, in which world, by which strategies.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	ASINs       int    `json:"asins,omitempty"`     // generated ASINs B000000000, B000000001, ...
	ASINFile    string `json:"asin_file,omitempty"` // or one ASIN (or product URL) per line
	Profile     string `json:"profile"`
	// World overrides the profile's fields by world flag name, such as
	// {"latency": "fixed:5s", "qps": "2"}.
	World      map[string]string `json:"world,omitempty"`
	Strategies []string          `json:"strategies"`
	// TimeScale: API time runs this many times faster than wall time.
	TimeScale float64 `json:"time_scale"`
	// TimeScales overrides TimeScale per strategy: runs whose critical path
	// is short API intervals (async submits) need a smaller scale so that
	// the harness's own per-job cost stays small beside them.
	TimeScales map[string]float64 `json:"time_scales,omitempty"`
	Repeat     int                `json:"repeat"`
	Seed       uint64             `json:"seed"`
	// Durability of the store: sync (fsync every commit) or nosync. The
	// built-in scenarios use nosync: at a time scale of 250 an fsync (~0.3
	// ms here) weighs 250 times what it does in real time. Scenario files
	// default to sync, and so does --endpoint.
	Durability string   `json:"durability"`
	Settings   Settings `json:"settings"`
}

// builtins are the scenarios scrapebench ships.
var builtins = map[string]func() Scenario{
	"cost-benefit": func() Scenario {
		return Scenario{Name: "cost-benefit",
			Description: "the article's 5,000-ASIN comparison: sync serial, sync 20 concurrent, async callback, and the article's own serial submit loop",
			ASINs:       5000, Profile: "seed",
			Strategies: []string{"serial", "concurrent:20", "async", "async-seed"},
			TimeScale:  150, TimeScales: map[string]float64{"concurrent:20": 100, "async": 20, "async-seed": 25},
			Repeat: 1, Seed: 1, Durability: "nosync", Settings: DefaultSettings()}
	},
	"ten-k": func() Scenario {
		return Scenario{Name: "ten-k",
			Description: "the article's 10,000-ASIN headline: sync serial vs async callback",
			ASINs:       10000, Profile: "seed", Strategies: []string{"serial", "async"},
			TimeScale: 500, TimeScales: map[string]float64{"async": 10},
			Repeat: 1, Seed: 1, Durability: "nosync", Settings: DefaultSettings()}
	},
	"sweep-strict": func() Scenario {
		return Scenario{Name: "sweep-strict",
			Description: "the base of scrapebench sweep: 200 ASINs under the observed limits (~2 req/s, 2 concurrent, ~10 s)",
			ASINs:       200, Profile: "strict", Strategies: []string{"concurrent:2"},
			TimeScale: 100, Repeat: 1, Seed: 1, Durability: "nosync", Settings: sweepSettings()}
	},
	"smoke": func() Scenario {
		return Scenario{Name: "smoke",
			Description: "small and fast, for CI: 100 ASINs in the seed world, every strategy",
			ASINs:       100, Profile: "seed",
			Strategies: []string{"serial", "concurrent:20", "async", "async-seed"},
			TimeScale:  200, TimeScales: map[string]float64{"concurrent:20": 100, "async": 20, "async-seed": 25},
			Repeat: 1, Seed: 1, Durability: "nosync", Settings: DefaultSettings()}
	},
}

// ScenarioNames lists the built-in scenarios.
func ScenarioNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LoadScenario returns a built-in scenario by name, or reads a JSON file.
// Fields a file leaves out keep the defaults of an empty scenario.
func LoadScenario(nameOrFile string) (Scenario, error) {
	if f, ok := builtins[nameOrFile]; ok {
		return f(), nil
	}
	b, err := os.ReadFile(nameOrFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Scenario{}, fmt.Errorf("scenario %q: not a built-in (%s) nor a file", nameOrFile, strings.Join(ScenarioNames(), ", "))
		}
		return Scenario{}, fmt.Errorf("scenario: %w", err)
	}
	sc := Scenario{Profile: "seed", TimeScale: 1, Repeat: 1, Seed: 1, Durability: "sync", Settings: DefaultSettings()}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return Scenario{}, fmt.Errorf("scenario file %s: %w", nameOrFile, err)
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(nameOrFile, ".json")
	}
	return sc, sc.Validate()
}

// Validate reports the first field a user must fix.
func (sc *Scenario) Validate() error {
	switch {
	case sc.ASINs < 0:
		return fmt.Errorf("scenario %s: asins %d: want a positive count", sc.Name, sc.ASINs)
	case sc.ASINs == 0 && sc.ASINFile == "":
		return fmt.Errorf("scenario %s: give asins (a count) or asin_file", sc.Name)
	case len(sc.Strategies) == 0:
		return fmt.Errorf("scenario %s: no strategies: want a list such as [\"serial\", \"concurrent:20\", \"async\"]", sc.Name)
	case !(sc.TimeScale > 0):
		return fmt.Errorf("scenario %s: time_scale %v: want a number > 0", sc.Name, sc.TimeScale)
	case sc.Repeat < 1:
		return fmt.Errorf("scenario %s: repeat %d: want 1 or more", sc.Name, sc.Repeat)
	case sc.Durability != "sync" && sc.Durability != "nosync":
		return fmt.Errorf("scenario %s: durability %q: want sync or nosync", sc.Name, sc.Durability)
	}
	for _, s := range sc.Strategies {
		if _, err := ParseStrategy(s); err != nil {
			return fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
	}
	for s, v := range sc.TimeScales {
		if !(v > 0) {
			return fmt.Errorf("scenario %s: time_scales[%s] %v: want a number > 0", sc.Name, s, v)
		}
	}
	st := sc.Settings
	if st.CallbackTimeout <= 0 || st.RequestTimeout <= 0 || st.MaxAttempts < 1 || st.SubmitConcurrency < 1 || st.CompensateConcurrency < 1 {
		return fmt.Errorf("scenario %s: settings: callback_timeout, request_timeout, max_attempts, submit_concurrency and compensate_concurrency must be positive", sc.Name)
	}
	return nil
}

// ScaleFor returns the time scale of strategy's runs.
func (sc *Scenario) ScaleFor(strategy string) float64 {
	if v, ok := sc.TimeScales[strategy]; ok {
		return v
	}
	return sc.TimeScale
}

// ApplyWorld applies the scenario's world overrides to w's flags.
func (sc *Scenario) ApplyWorld(w *WorldFlags) error {
	if sc.Profile != "" && !w.fs.Changed("profile") {
		if err := w.Set("profile", sc.Profile); err != nil {
			return err
		}
	}
	if !w.fs.Changed("seed") {
		if err := w.Set("seed", strconv.FormatUint(sc.Seed, 10)); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(sc.World))
	for k := range sc.World {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if w.fs.Changed(k) { // the command line beats the scenario
			continue
		}
		if err := w.Set(k, sc.World[k]); err != nil {
			return fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
	}
	return nil
}

// StrategySpec is a parsed strategy name.
type StrategySpec struct {
	Name string // as written: serial, concurrent:20, async, async:8, async-seed
	Kind string // serial, concurrent, async, async-seed
	N    int    // workers (concurrent) or submit concurrency (async:N); 0: default
}

// ParseStrategy parses serial, concurrent:N, async, async:N or async-seed.
func ParseStrategy(s string) (StrategySpec, error) {
	bad := fmt.Errorf("strategy %q: want serial, concurrent:N, async, async:N (N submits in flight) or async-seed", s)
	kind, arg, hasArg := strings.Cut(s, ":")
	spec := StrategySpec{Name: s, Kind: kind}
	switch kind {
	case "serial", "async-seed":
		if hasArg {
			return spec, bad
		}
	case "concurrent", "async":
		if !hasArg {
			if kind == "concurrent" {
				return spec, bad
			}
			break
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > 10000 {
			return spec, bad
		}
		spec.N = n
	default:
		return spec, bad
	}
	return spec, nil
}

// ReadASINs reads one ASIN or Amazon product URL per line; blank lines and
// lines starting with # are skipped. Errors name the line.
func ReadASINs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("asin file: %w", err)
	}
	defer f.Close()
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		asin := strings.ToUpper(t)
		if a, ok := pangolin.ASINFromURL(t); ok {
			asin = a
		} else if !pangolin.ValidASIN(t) {
			return nil, fmt.Errorf("asin file %s line %d: %q is not an ASIN (ten letters or digits) nor an Amazon product URL", path, line, t)
		}
		if !seen[asin] {
			seen[asin] = true
			out = append(out, asin)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("asin file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("asin file %s holds no ASIN", path)
	}
	return out, nil
}

// GeneratedASINs returns n ASINs B000000000, B000000001, ...
func GeneratedASINs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("B%09d", i)
	}
	return slices.Clip(out)
}
