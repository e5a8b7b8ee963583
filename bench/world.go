package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/scrapebench/scrapebench/mockapi"
)

// WorldFlags are the flags that describe the mock's world: a profile plus
// overrides, the seed and the time scale. mock, run and sweep share them,
// and a scenario file's "world" object sets the same names. Every duration
// is API time; the time scale converts once, in Config.
type WorldFlags struct {
	fs      *pflag.FlagSet
	Profile Choice
	Scale   PositiveFloat
	Seed    uint64
	file    string
	v       struct {
		token, callbackToken                                     string
		latency, submitLatency                                   mockapi.Latency
		workers, queue, maxConc, burst, round                    NonNegInt
		cbWorkers                                                PositiveInt
		qps, credits                                             NonNegFloat
		dup, loss, delayRate, early, errRate, reset, trunc, slow Probability
		variant, churn                                           Probability
		delay, dupSpread, slowBody                               NonNegDuration
		cbTimeout                                                PositiveDuration
		cbRetries                                                DurationList
		errorCodes                                               CodeList
		zipcodes                                                 []string
	}
	apply map[string]func(c *mockapi.Config)
}

// AddWorldFlags defines the world flags on fs; the defaults shown are the
// seed profile's.
func AddWorldFlags(fs *pflag.FlagSet) *WorldFlags {
	w := &WorldFlags{fs: fs, apply: map[string]func(*mockapi.Config){}}
	d, _ := mockapi.Profile("seed")
	w.Profile = Choice{Value: "seed", Allowed: mockapi.ProfileNames()}
	w.Scale = 1
	v := &w.v
	fs.Var(&w.Profile, "profile", "world to start from: seed (the article's: ~5 s scrapes, ~200 ms submits, no limits, no faults), strict (~2 req/s, 2 concurrent, ~10 s), chaos (seed timing, every fault on); the flags below override its fields")
	fs.Var(&w.Scale, "time-scale", "run S times faster than the real API: every latency, timeout and interval is divided by S, every rate multiplied by S")
	fs.Uint64Var(&w.Seed, "seed", d.Seed, "seed of the fault plan and the product catalog: the same seed replays the same faults and products")
	fs.StringVar(&w.file, "world-file", "", "JSON file of a whole world in API time (as GET /__admin/config shows it), used instead of --profile; other flags still override it")

	def := func(name string, value pflag.Value, usage string, set func(c *mockapi.Config)) {
		fs.Var(value, name, usage)
		w.apply[name] = set
	}
	v.token, v.callbackToken = d.Token, d.CallbackToken
	fs.StringVar(&v.token, "token", v.token, "bearer token the mock accepts")
	w.apply["token"] = func(c *mockapi.Config) { c.Token = v.token }
	fs.StringVar(&v.callbackToken, "callback-token", v.callbackToken, "bearer token the mock sends with callbacks")
	w.apply["callback-token"] = func(c *mockapi.Config) { c.CallbackToken = v.callbackToken }

	v.latency, v.submitLatency = d.Latency, d.SubmitLatency
	def("latency", &v.latency, "time to scrape a page (sync answer, or async task): "+mockapi.LatencyForms,
		func(c *mockapi.Config) { c.Latency = v.latency })
	def("submit-latency", &v.submitLatency, "time to answer an async submit, same forms as --latency",
		func(c *mockapi.Config) { c.SubmitLatency = v.submitLatency })
	v.qps = NonNegFloat(d.QPS)
	def("qps", &v.qps, "requests/s the server accepts over sync and submit (token bucket; above it answers 4029); 0: no limit",
		func(c *mockapi.Config) { c.QPS = float64(v.qps) })
	v.burst = NonNegInt(d.Burst)
	def("burst", &v.burst, "token bucket depth for --qps; 0: max(1, qps)", func(c *mockapi.Config) { c.Burst = int(v.burst) })
	v.maxConc = NonNegInt(d.MaxConcurrency)
	def("max-concurrency", &v.maxConc, "sync scrapes served at once (one more gets 9200); 0: no limit",
		func(c *mockapi.Config) { c.MaxConcurrency = int(v.maxConc) })
	v.workers = NonNegInt(d.Workers)
	def("workers", &v.workers, "async tasks processed in parallel by the server; 0: no limit",
		func(c *mockapi.Config) { c.Workers = int(v.workers) })
	v.queue = NonNegInt(d.Queue)
	def("queue", &v.queue, "async tasks that may wait for a worker (one more gets 4030); 0: no limit",
		func(c *mockapi.Config) { c.Queue = int(v.queue) })
	v.credits = NonNegFloat(d.Credits)
	def("credits", &v.credits, "account balance in credits (json 1, rawHtml/markdown 0.75; 2001 when spent); 0: unlimited",
		func(c *mockapi.Config) { c.Credits = float64(v.credits) })
	v.churn = Probability(d.Churn)
	def("churn", &v.churn, "fraction of ASINs whose price and star change in each round",
		func(c *mockapi.Config) { c.Churn = float64(v.churn) })
	v.round = NonNegInt(d.Round)
	def("round", &v.round, "product round served at start (POST /__admin/round changes it)",
		func(c *mockapi.Config) { c.Round = int(v.round) })

	rate := func(name string, p *Probability, cur float64, usage string, set func(c *mockapi.Config, r float64)) {
		*p = Probability(cur)
		def(name, p, usage, func(c *mockapi.Config) { set(c, float64(*p)) })
	}
	f := d.Faults
	rate("dup-rate", &v.dup, f.Duplicate, "Probability that a callback is delivered again later (a quarter of them concurrently)",
		func(c *mockapi.Config, r float64) { c.Faults.Duplicate = r })
	rate("loss-rate", &v.loss, f.Loss, "Probability that a callback is never delivered",
		func(c *mockapi.Config, r float64) { c.Faults.Loss = r })
	rate("delay-rate", &v.delayRate, f.Delay, "Probability that a callback comes --delay late",
		func(c *mockapi.Config, r float64) { c.Faults.Delay = r })
	rate("early-rate", &v.early, f.Early, "Probability that a callback is delivered before the submit answer",
		func(c *mockapi.Config, r float64) { c.Faults.Early = r })
	rate("error-rate", &v.errRate, f.Error, "Probability that a sync scrape or submit answers one of --error-codes",
		func(c *mockapi.Config, r float64) { c.Faults.Error = r })
	rate("reset-rate", &v.reset, f.Reset, "Probability that the connection is reset instead of answered",
		func(c *mockapi.Config, r float64) { c.Faults.Reset = r })
	rate("truncate-rate", &v.trunc, f.Truncate, "Probability that an answer body is cut in half (the credit is still charged)",
		func(c *mockapi.Config, r float64) { c.Faults.Truncate = r })
	rate("slow-rate", &v.slow, f.SlowBody, "Probability that an answer body trickles over --slow-body",
		func(c *mockapi.Config, r float64) { c.Faults.SlowBody = r })
	rate("variant-rate", &v.variant, f.Variant, "Probability that an answer uses the alternative envelope (data.json[i] as a string, task id at data.taskId)",
		func(c *mockapi.Config, r float64) { c.Faults.Variant = r })
	v.errorCodes = d.ErrorCodes
	def("error-codes", &v.errorCodes, "codes an error fault answers with, chosen per attempt by the seed",
		func(c *mockapi.Config) { c.ErrorCodes = v.errorCodes })
	v.delay = NonNegDuration(d.Delay)
	def("delay", &v.delay, "how late a delayed callback comes (make it longer than the client's callback timeout)",
		func(c *mockapi.Config) { c.Delay = time.Duration(v.delay) })
	v.dupSpread = NonNegDuration(d.DupSpread)
	def("dup-spread", &v.dupSpread, "a duplicate callback comes up to this long after the first",
		func(c *mockapi.Config) { c.DupSpread = time.Duration(v.dupSpread) })
	v.slowBody = NonNegDuration(d.SlowBody)
	def("slow-body", &v.slowBody, "how long a slow answer body trickles", func(c *mockapi.Config) { c.SlowBody = time.Duration(v.slowBody) })
	v.cbTimeout = PositiveDuration(d.CallbackTimeout)
	def("callback-post-timeout", &v.cbTimeout, "time the mock waits for the receiver to answer one callback POST",
		func(c *mockapi.Config) { c.CallbackTimeout = time.Duration(v.cbTimeout) })
	v.cbRetries = d.CallbackRetries
	def("callback-retries", &v.cbRetries, "waits before each retry of a callback answered non-2xx or not at all (empty: no retries)",
		func(c *mockapi.Config) { c.CallbackRetries = v.cbRetries })
	v.cbWorkers = PositiveInt(d.CallbackWorkers)
	def("callback-workers", &v.cbWorkers, "callbacks the mock delivers at once", func(c *mockapi.Config) { c.CallbackWorkers = int(v.cbWorkers) })
	fs.StringSliceVar(&v.zipcodes, "zipcodes", d.Zipcodes, "zipcodes the mock supports (others get 1011); empty: any")
	w.apply["zipcodes"] = func(c *mockapi.Config) { c.Zipcodes = v.zipcodes }
	return w
}

// Config returns the profile (or --world-file) with every flag the user
// set applied, in API time, and the same converted to wall time by the
// time scale. Errors are the user's to fix.
func (w *WorldFlags) Config() (api, wall mockapi.Config, err error) {
	if w.file != "" {
		if api, err = LoadWorld(w.file); err != nil {
			return api, wall, err
		}
	} else if api, err = mockapi.Profile(w.Profile.Value); err != nil {
		return api, wall, err
	}
	if w.fs.Changed("seed") || w.file == "" {
		api.Seed = w.Seed
	}
	w.fs.Visit(func(f *pflag.Flag) {
		if set, ok := w.apply[f.Name]; ok {
			set(&api)
		}
	})
	if err := api.Validate(); err != nil {
		return api, wall, fmt.Errorf("world: %w", err)
	}
	return api, api.Scaled(float64(w.Scale)), nil
}

// Set sets a world flag by name, as a scenario file's "world" object does.
func (w *WorldFlags) Set(name, value string) error {
	if _, ok := w.apply[name]; !ok && name != "seed" && name != "profile" {
		return fmt.Errorf("unknown world setting %q", name)
	}
	if err := w.fs.Set(name, value); err != nil {
		return fmt.Errorf("world setting %s=%q: %w", name, value, err)
	}
	return nil
}

// LoadWorld reads a world (mockapi.Config JSON, API time) from a file. The
// tokens are not part of it: they come from the profile's defaults and
// --token / --callback-token.
func LoadWorld(path string) (mockapi.Config, error) {
	c, _ := mockapi.Profile("seed")
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("world file: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("world file %s: %w", path, err)
	}
	return c, nil
}
