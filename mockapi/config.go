package mockapi

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Config is everything the mock can be told. Durations are wall-clock
// values: callers that speak API time convert with Scaled once, at the edge.
type Config struct {
	Seed          uint64 `json:"seed"`
	Token         string `json:"-"` // bearer token the API accepts
	CallbackToken string `json:"-"` // bearer token sent with callbacks
	// Email and Password, when Email is set, are the only credentials
	// /api/v1/auth accepts; otherwise any non-empty pair is accepted.
	Email    string `json:"-"`
	Password string `json:"-"`

	Latency       Latency `json:"latency"`        // sync scrape and async task processing time
	SubmitLatency Latency `json:"submit_latency"` // time to answer an async submit

	QPS            float64 `json:"qps"`             // accepted requests/s over sync and submit, 0: no limit (4029 above)
	Burst          int     `json:"burst"`           // token bucket depth, 0: max(1, QPS)
	MaxConcurrency int     `json:"max_concurrency"` // concurrent sync scrapes, 0: no limit (9200 above)
	Workers        int     `json:"workers"`         // async tasks processed in parallel, 0: no limit
	Queue          int     `json:"queue"`           // async tasks waiting for a worker, 0: no limit (4030 above)
	Credits        float64 `json:"credits"`         // account balance, 0: unlimited (2001 when spent)

	Churn float64 `json:"churn"` // fraction of ASINs whose price/star change each round
	Round int     `json:"round"` // the round served at start (see POST /__admin/round)

	Faults     FaultRates      `json:"faults"`
	ErrorCodes []pangolin.Code `json:"error_codes"` // codes an error fault answers with
	Delay      time.Duration   `json:"delay"`       // how late a delayed callback comes
	DupSpread  time.Duration   `json:"dup_spread"`  // a duplicate comes up to this long after the first
	SlowBody   time.Duration   `json:"slow_body"`   // how long a slow body trickles

	CallbackTimeout time.Duration   `json:"callback_timeout"` // per delivery attempt
	CallbackRetries []time.Duration `json:"callback_retries"` // waits before each retry on failure
	CallbackWorkers int             `json:"callback_workers"` // concurrent deliveries

	Zipcodes []string `json:"zipcodes"` // supported zipcodes (1011 otherwise); empty: any
}

// Profiles are the named starting points; flags override their fields.
var profileNames = []string{"seed", "strict", "chaos"}

// ProfileNames returns the names Profile accepts.
func ProfileNames() []string { return slices.Clone(profileNames) }

// Profile returns a named configuration, in API time (scale 1):
//   - seed: the article's world, ~5 s per scrape, ~200 ms per submit, no
//     server limits, no faults;
//   - strict: observed limits, ~2 accepted requests/s, at most 2 concurrent
//     sync scrapes (a third gets 9200), 2 async workers, ~10 s per scrape;
//   - chaos: seed's timing with every fault on.
func Profile(name string) (Config, error) {
	c := Config{
		Seed:            1,
		Token:           "scrapebench-mock-token",
		CallbackToken:   "scrapebench-callback-token",
		Latency:         MustLatency("normal:mean=5s,sd=1s"),
		SubmitLatency:   MustLatency("normal:mean=200ms,sd=30ms"),
		ErrorCodes:      []pangolin.Code{pangolin.CodeTooManyRequests, pangolin.CodeNoContent, pangolin.CodeCrawlFailed, pangolin.CodeSystemError},
		Delay:           10 * time.Minute,
		DupSpread:       30 * time.Second,
		SlowBody:        20 * time.Second,
		CallbackTimeout: 5 * time.Second,
		CallbackRetries: []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute},
		CallbackWorkers: 128,
		Zipcodes:        []string{"10041", "90001", "60601", "98101", "30301", "77001", "33101", "94105"},
	}
	switch name {
	case "seed":
	case "strict":
		c.Latency = MustLatency("normal:mean=10s,sd=2s")
		c.QPS, c.Burst = 2, 2
		c.MaxConcurrency = 2
		c.Workers = 2
	case "chaos":
		c.Faults = FaultRates{Duplicate: 0.2, Loss: 0.05, Delay: 0.05, Early: 0.05, Error: 0.05,
			Reset: 0.01, Truncate: 0.01, SlowBody: 0.01, Variant: 0.5}
		c.Delay = 2 * time.Minute
	default:
		return Config{}, fmt.Errorf("unknown profile %q: want one of %s", name, strings.Join(profileNames, ", "))
	}
	return c, nil
}

// MinNetworkTimeout is the floor of a scaled network timeout: a timeout
// guards the peer's real responsiveness (a GC pause, a disk stall), which
// does not speed up with the time scale.
const MinNetworkTimeout = 2 * time.Second

// Scaled converts c from API time to wall time under time scale s: every
// latency, timeout and interval is divided by s and every rate multiplied
// by s, except that the callback POST timeout stays at least
// MinNetworkTimeout. Scaled(1) returns c unchanged.
func (c Config) Scaled(s float64) Config {
	if s == 1 || s <= 0 {
		return c
	}
	div := func(d time.Duration) time.Duration { return time.Duration(float64(d) / s) }
	c.Latency = c.Latency.Scale(s)
	c.SubmitLatency = c.SubmitLatency.Scale(s)
	c.QPS *= s
	c.Delay, c.DupSpread, c.SlowBody = div(c.Delay), div(c.DupSpread), div(c.SlowBody)
	c.CallbackTimeout = max(div(c.CallbackTimeout), min(c.CallbackTimeout, MinNetworkTimeout))
	retries := make([]time.Duration, len(c.CallbackRetries))
	for i, d := range c.CallbackRetries {
		retries[i] = div(d)
	}
	c.CallbackRetries = retries
	return c
}

// Validate reports the first field that is out of range, naming it.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	check(c.Token != "", "token: must not be empty")
	check(c.QPS >= 0, "qps %v: want 0 (no limit) or a positive rate", c.QPS)
	check(c.Burst >= 0, "burst %d: want 0 or more", c.Burst)
	check(c.MaxConcurrency >= 0, "max-concurrency %d: want 0 (no limit) or more", c.MaxConcurrency)
	check(c.Workers >= 0, "workers %d: want 0 (no limit) or more", c.Workers)
	check(c.Queue >= 0, "queue %d: want 0 (no limit) or more", c.Queue)
	check(c.Credits >= 0, "credits %v: want 0 (unlimited) or a positive balance", c.Credits)
	check(c.Churn >= 0 && c.Churn <= 1, "churn %v: want a fraction from 0 to 1", c.Churn)
	check(c.Round >= 0, "round %d: want 0 or more", c.Round)
	if err := c.Faults.validate(); err != nil {
		errs = append(errs, err)
	}
	for _, code := range c.ErrorCodes {
		check(code != pangolin.CodeOK, "error-codes: 0 is success, not an error code")
	}
	check(c.Delay >= 0 && c.DupSpread >= 0 && c.SlowBody >= 0, "delay, dup-spread and slow-body must not be negative")
	check(c.CallbackTimeout > 0, "callback-timeout %s: must be positive", c.CallbackTimeout)
	for _, d := range c.CallbackRetries {
		check(d >= 0, "callback-retries: %s is negative", d)
	}
	check(c.CallbackWorkers > 0, "callback-workers %d: must be positive", c.CallbackWorkers)
	return errors.Join(errs...)
}

// ValidateCallbackURL checks a callbackUrl as the mock accepts it.
func ValidateCallbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("callbackUrl %q is not an absolute http(s) URL", raw)
	}
	return nil
}

func (c *Config) zipcodeSupported(z string) bool {
	return z == "" || len(c.Zipcodes) == 0 || slices.Contains(c.Zipcodes, z)
}

func (c *Config) zipcodeList() string {
	z := slices.Clone(c.Zipcodes)
	sort.Strings(z)
	return strings.Join(z, ", ")
}
