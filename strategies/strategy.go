// Package strategies holds the ways to collect results from the scrape
// API that scrapebench compares: serial, concurrent:N (sync API), async
// (submit, callback, compensation) and async-seed (the article's loop).
// Each stores every job's result exactly once in a store.Store, whatever
// duplicates, losses and errors the API serves, and returns Stats.
//
// Durations given to strategies are wall-clock values; converting from API
// time is the caller's job. It must not import mockapi or bench.
package strategies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
	"github.com/scrapebench/scrapebench/strategies/store"
)

// Job is one page to collect.
type Job struct {
	ID      string // unique within a run; the store's key
	ASIN    string
	URL     string
	Parser  string
	Format  string
	Zipcode string
}

// ProductJob returns the job that collects asin's product page as json,
// identified by the ASIN.
func ProductJob(asin string) Job {
	return Job{ID: asin, ASIN: asin, URL: pangolin.ProductURL(asin), Parser: pangolin.ParserProductDetail, Format: pangolin.FormatJSON}
}

func (j *Job) scrapeRequest() pangolin.ScrapeRequest {
	r := pangolin.ScrapeRequest{URL: j.URL, ParserName: j.Parser, Format: j.Format}
	if j.Zipcode != "" {
		r.BizContext = &pangolin.BizContext{Zipcode: j.Zipcode}
	}
	return r
}

func (j *Job) submitRequest(callbackURL string) pangolin.SubmitRequest {
	return pangolin.SubmitRequest{URL: j.URL, CallbackURL: callbackURL, BizKey: j.Parser, Format: j.Format, Zipcode: j.Zipcode}
}

func (j *Job) cost() int64 {
	c, ok := pangolin.CreditCost(j.Format)
	if !ok {
		return 100
	}
	return c
}

// Strategy collects jobs into a store.
type Strategy interface {
	// Name is the strategy as the user wrote it, such as concurrent:20.
	Name() string
	// Run collects every job whose result the store does not hold yet and
	// returns what happened. The error is non-nil when the run could not
	// finish: an *AbortError for a fatal API code, or ctx's error.
	Run(ctx context.Context, jobs []Job, sink *store.Store) (*Stats, error)
}

// Hooks let a caller observe a run as it goes (measurement, progress).
// Each may be nil; they are called from many goroutines.
type Hooks struct {
	// OnStart precedes every API call, with the kind OnRequest will report.
	OnStart func(kind string)
	// OnRequest follows every API call: kind is "scrape", "submit" or
	// "compensate"; code is the API code (0 on success or transport error).
	OnRequest func(kind string, d time.Duration, code pangolin.Code, err error)
	// OnStored follows every result stored: source is sync, callback or
	// compensation; d is the job's time from its first request (sync) or
	// from its submit (async) to stored.
	OnStored func(jobID, source string, d time.Duration)
	// OnFailed follows a job given up.
	OnFailed func(jobID, reason string)
	// OnCallback follows every callback the receiver answers: outcome is
	// stored, duplicate, parked, rejected or error.
	OnCallback func(outcome string)
}

// RetryPolicy bounds retries of retriable answers, timeouts and connection
// errors: exponential backoff with full jitter.
type RetryPolicy struct {
	MaxAttempts int           // attempts per job, first included (default 8)
	Base        time.Duration // backoff before the second attempt (default 1s)
	Max         time.Duration // backoff cap (default 1m)
}

// DefaultRetry is the policy in API time; callers scale it to wall time.
var DefaultRetry = RetryPolicy{MaxAttempts: 8, Base: time.Second, Max: time.Minute}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetry.MaxAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultRetry.Base
	}
	if p.Max <= 0 {
		p.Max = DefaultRetry.Max
	}
	return p
}

// Scale divides the policy's durations by s.
func (p RetryPolicy) Scale(s float64) RetryPolicy {
	p.Base = time.Duration(float64(p.Base) / s)
	p.Max = time.Duration(float64(p.Max) / s)
	return p
}

// backoff returns the wait before attempt+1 after attempt failed.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	ceil := p.Base << min(attempt-1, 30)
	if ceil > p.Max || ceil <= 0 {
		ceil = p.Max
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// run calls try until it succeeds, its error's class says stop, or the
// attempts run out, backing off between attempts. A fatal class cancels the
// run (abortFrom names the cause). It returns whether the job failed and
// why (prefixed with what), or false when it succeeded or the run ended.
func (p RetryPolicy) run(ctx context.Context, c *counters, cancel context.CancelCauseFunc, what string, try func() error) (failed bool, reason string) {
	var last error
	for attempt := 1; attempt <= p.MaxAttempts; attempt++ {
		if attempt > 1 {
			c.retries.Add(1)
		}
		err := try()
		if err == nil || ctx.Err() != nil {
			return false, ""
		}
		last = err
		switch pangolin.ClassOf(err) {
		case pangolin.ClassAbortRun:
			cancel(abortFrom(err))
			return false, ""
		case pangolin.ClassFailJob:
			return true, what + err.Error()
		}
		if attempt < p.MaxAttempts && !sleep(ctx, p.backoff(attempt)) {
			return false, ""
		}
	}
	return true, fmt.Sprintf("%sgave up after %d attempts: %v", what, p.MaxAttempts, last)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// AbortError stops a run: the API answered a code that makes every further
// request useless (bad token, no credits, expired account).
type AbortError struct {
	Code    pangolin.Code
	Status  int // HTTP status when the abort came from one (401, 403)
	Message string
}

func (e *AbortError) Error() string {
	what := fmt.Sprintf("code %d (%s): %s", int(e.Code), e.Code.Meaning(), e.Message)
	if e.Status != 0 {
		what = fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return "run aborted by " + what + "; " + abortAdvice(e.Code, e.Status)
}

func abortAdvice(code pangolin.Code, status int) string {
	switch {
	case code == pangolin.CodeInvalidToken || status == 401 || status == 403:
		return "check the API token (PANGOLIN_TOKEN)"
	case code == pangolin.CodeInsufficientCredits:
		return "top up the account's credits"
	case code == pangolin.CodeAccountExpired:
		return "renew the account"
	case code == pangolin.CodeUsageLimit:
		return "the account's usage limit is reached; wait or raise it"
	}
	return "fix the account before running again"
}

func abortFrom(err error) *AbortError {
	var apiErr *pangolin.APIError
	if errors.As(err, &apiErr) {
		return &AbortError{Code: apiErr.Code, Message: apiErr.Message}
	}
	var httpErr *pangolin.HTTPError
	if errors.As(err, &httpErr) {
		return &AbortError{Status: httpErr.Status, Message: httpErr.Body}
	}
	return &AbortError{Message: err.Error()}
}

// Stats is what a run did, from the client's side.
type Stats struct {
	Strategy   string `json:"strategy"`
	Durability string `json:"durability"` // the store's: sync or nosync
	Jobs       int    `json:"jobs"`
	Stored     int64  `json:"stored"`  // results stored by this run
	Skipped    int64  `json:"skipped"` // jobs already done in the store (resume)
	Failed     int64  `json:"failed"`  // jobs given up

	Requests        int64            `json:"requests"`         // API calls: scrapes + submits + compensations
	Scrapes         int64            `json:"scrapes"`          // sync scrape calls, compensations excluded
	Submits         int64            `json:"submits"`          // async submit calls
	Compensations   int64            `json:"compensations"`    // sync calls made to compensate a missing callback
	Retries         int64            `json:"retries"`          // calls that repeated a failed one
	Codes           map[string]int64 `json:"codes"`            // non-zero API codes answered
	TransportErrors int64            `json:"transport_errors"` // timeouts, resets, truncated bodies, bad HTTP status
	Credits         float64          `json:"credits"`          // client's count: code-0 answers × cost

	CallbacksReceived     int64 `json:"callbacks_received"`      // authorised, well-formed callbacks
	CallbacksRejected     int64 `json:"callbacks_rejected"`      // bad token, bad body, too large
	CallbackErrors        int64 `json:"callback_errors"`         // callbacks carrying a non-zero code
	DuplicatesSuppressed  int64 `json:"duplicates_suppressed"`   // results that lost the claim
	Parked                int64 `json:"parked"`                  // tasks whose callback came before their id was known (duplicates of a parked callback count as suppressed)
	Unparked              int64 `json:"unparked"`                // parked callbacks processed once their task was known
	Unknown               int64 `json:"unknown"`                 // parked callbacks whose task id this run never learned (forged or orphaned); never stored
	CallbacksLost         int64 `json:"callbacks_lost"`          // jobs whose callback did not come within the timeout
	Compensated           int64 `json:"compensated"`             // results stored through compensation
	LateAfterCompensation int64 `json:"late_after_compensation"` // callbacks that came after compensation stored the result

	Changed int64 `json:"changed"` // products whose fingerprint changed since the previous round
	New     int64 `json:"new"`     // products seen for the first time

	FailedJobs []FailedJob `json:"failed_jobs,omitempty"` // the first 100
	Aborted    string      `json:"aborted,omitempty"`
}

// FailedJob is a job given up and why.
type FailedJob struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// counters is a run's live tally; snapshot turns it into Stats.
type counters struct {
	stored, skipped, failed                                                 atomic.Int64
	requests, scrapes, submits, compensations, retries, transport           atomic.Int64
	creditHundredths                                                        atomic.Int64
	cbReceived, cbRejected, cbErrors, dups, parked, unparked, unknown, lost atomic.Int64
	compensated, late, changed, fresh                                       atomic.Int64
	mu                                                                      sync.Mutex
	codes                                                                   map[pangolin.Code]int64
	failedJobs                                                              []FailedJob
}

func newCounters() *counters { return &counters{codes: map[pangolin.Code]int64{}} }

func (c *counters) code(code pangolin.Code) {
	c.mu.Lock()
	c.codes[code]++
	c.mu.Unlock()
}

func (c *counters) failedJob(id, reason string) {
	c.failed.Add(1)
	c.mu.Lock()
	if len(c.failedJobs) < 100 {
		c.failedJobs = append(c.failedJobs, FailedJob{id, reason})
	}
	c.mu.Unlock()
}

// answer counts one API call's outcome.
func (c *counters) answer(err error, cost int64) {
	c.requests.Add(1)
	if err == nil {
		c.creditHundredths.Add(cost)
		return
	}
	if code, ok := pangolin.CodeOf(err); ok {
		c.code(code)
		return
	}
	c.transport.Add(1)
}

func (c *counters) claimed(cl store.Claim) {
	if cl.Changed {
		c.changed.Add(1)
	}
	if cl.New {
		c.fresh.Add(1)
	}
}

func (c *counters) snapshot(name string, jobs int, durability string) *Stats {
	s := &Stats{Strategy: name, Jobs: jobs, Durability: durability,
		Stored: c.stored.Load(), Skipped: c.skipped.Load(), Failed: c.failed.Load(),
		Requests: c.requests.Load(), Scrapes: c.scrapes.Load(), Submits: c.submits.Load(),
		Compensations: c.compensations.Load(), Retries: c.retries.Load(),
		TransportErrors: c.transport.Load(), Credits: float64(c.creditHundredths.Load()) / 100,
		CallbacksReceived: c.cbReceived.Load(), CallbacksRejected: c.cbRejected.Load(), CallbackErrors: c.cbErrors.Load(),
		DuplicatesSuppressed: c.dups.Load(), Parked: c.parked.Load(), Unparked: c.unparked.Load(), Unknown: c.unknown.Load(),
		CallbacksLost: c.lost.Load(), Compensated: c.compensated.Load(), LateAfterCompensation: c.late.Load(),
		Changed: c.changed.Load(), New: c.fresh.Load(), Codes: map[string]int64{}}
	c.mu.Lock()
	for code, n := range c.codes {
		s.Codes[strconv.Itoa(int(code))] = n
	}
	s.FailedJobs = append([]FailedJob(nil), c.failedJobs...)
	c.mu.Unlock()
	sort.Slice(s.FailedJobs, func(i, j int) bool { return s.FailedJobs[i].ID < s.FailedJobs[j].ID })
	return s
}

// giveUp records job id as failed for reason, unless it is already final,
// counts it and tells the hooks; it reports whether it did.
func giveUp(sink *store.Store, c *counters, hooks Hooks, id, reason string) bool {
	if ok, err := sink.MarkFailed(id, reason); err != nil || !ok {
		return false
	}
	c.failedJob(id, reason)
	if hooks.OnFailed != nil {
		hooks.OnFailed(id, reason)
	}
	return true
}

// resultFor turns a scrape answer into the result to claim for job, with
// the data normalised (every data.json item as an object) and the product
// fingerprint. It fails when the answer holds no usable result.
func resultFor(j *Job, data *pangolin.ScrapeData, source, taskID string) (store.Result, error) {
	fp := fnv.New64a()
	switch j.Format {
	case pangolin.FormatRawHTML, pangolin.FormatMarkdown:
		texts := data.RawHTML
		if j.Format == pangolin.FormatMarkdown {
			texts = data.Markdown
		}
		if len(texts) == 0 {
			return store.Result{}, fmt.Errorf("answer has no %s", j.Format)
		}
		_, _ = fp.Write([]byte(strings.Join(texts, "\x00")))
	default:
		products, err := data.Products()
		if err != nil {
			return store.Result{}, err
		}
		if len(products) == 0 {
			return store.Result{}, errors.New("answer has no product")
		}
		p := products[0]
		for _, f := range []pangolin.FlexString{p.Price, p.Star, p.Rating, p.Sales, p.Coupon, p.HasCart, p.Title} {
			_, _ = fp.Write([]byte(f))
			_, _ = fp.Write([]byte{0})
		}
	}
	norm := *data
	norm.JSON = append([]pangolin.JSONItem(nil), data.JSON...)
	for i := range norm.JSON {
		norm.JSON[i].Stringified = false
	}
	raw, err := json.Marshal(&norm)
	if err != nil {
		return store.Result{}, err
	}
	return store.Result{JobID: j.ID, ASIN: j.ASIN, Source: source, TaskID: taskID, Data: raw,
		Fingerprint: strconv.FormatUint(fp.Sum64(), 16)}, nil
}

// jobIDs returns the ids of jobs and an error naming a duplicated or empty id.
func jobIDs(jobs []Job) ([]string, error) {
	ids := make([]string, len(jobs))
	seen := make(map[string]struct{}, len(jobs))
	for i, j := range jobs {
		if j.ID == "" {
			return nil, fmt.Errorf("job %d has no id", i)
		}
		if _, dup := seen[j.ID]; dup {
			return nil, fmt.Errorf("job id %q appears twice: every job needs its own id", j.ID)
		}
		seen[j.ID] = struct{}{}
		ids[i] = j.ID
	}
	return ids, nil
}
