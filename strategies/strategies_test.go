package strategies_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/scrapebench/scrapebench/mockapi"
	"github.com/scrapebench/scrapebench/strategies"
	"github.com/scrapebench/scrapebench/strategies/pangolin"
	"github.com/scrapebench/scrapebench/strategies/store"
)

// fastChaos is the chaos profile in milliseconds: every fault on.
func fastChaos() mockapi.Config {
	c, _ := mockapi.Profile("chaos")
	c.Latency = mockapi.MustLatency("normal:mean=4ms,sd=1ms")
	c.SubmitLatency = mockapi.MustLatency("fixed:1ms")
	c.Delay = 400 * time.Millisecond // past the client's callback timeout below
	c.DupSpread = 50 * time.Millisecond
	c.SlowBody = 20 * time.Millisecond
	c.CallbackTimeout = time.Second
	c.CallbackRetries = []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond}
	return c
}

type world struct {
	mock   *mockapi.Mock
	srv    *httptest.Server
	client *pangolin.Client
}

func newWorld(t testing.TB, cfg mockapi.Config) *world {
	t.Helper()
	m, err := mockapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	t.Cleanup(func() { m.Close(); srv.Close() })
	c, err := pangolin.NewClient(srv.URL, cfg.Token, pangolin.WithHTTPClient(pangolin.NewHTTPClient(64, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return &world{mock: m, srv: srv, client: c}
}

func memStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open("db", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func productJobs(n int, suffix string) []strategies.Job {
	jobs := make([]strategies.Job, n)
	for i := range jobs {
		jobs[i] = strategies.ProductJob(fmt.Sprintf("B%09d", i))
		jobs[i].ID += suffix
	}
	return jobs
}

var fastRetry = strategies.RetryPolicy{MaxAttempts: 10, Base: time.Millisecond, Max: 20 * time.Millisecond}

func build(t testing.TB, name string, w *world, mutate func(*strategies.AsyncOptions)) strategies.Strategy {
	t.Helper()
	var s strategies.Strategy
	var err error
	switch {
	case name == "serial":
		s, err = strategies.NewSync(strategies.SyncOptions{Client: w.client, Workers: 1, Retry: fastRetry, RequestTimeout: time.Second})
	case strings.HasPrefix(name, "concurrent:"):
		var n int
		fmt.Sscanf(name, "concurrent:%d", &n)
		s, err = strategies.NewSync(strategies.SyncOptions{Client: w.client, Workers: n, Retry: fastRetry, RequestTimeout: time.Second})
	default:
		o := strategies.AsyncOptions{Client: w.client, CallbackToken: w.mock.Config().CallbackToken,
			SubmitConcurrency: 8, CallbackTimeout: 150 * time.Millisecond, Retry: fastRetry, RequestTimeout: time.Second}
		if name == "async-seed" {
			o.SeedPause = time.Millisecond
		}
		if mutate != nil {
			mutate(&o)
		}
		s, err = strategies.NewAsync(o)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != name {
		t.Fatalf("Name() = %q, want %q", s.Name(), name)
	}
	return s
}

// verify checks every job is stored exactly once with the catalog's
// product, and returns the stored results by source.
func verify(t *testing.T, s *store.Store, jobs []strategies.Job, cat mockapi.Catalog, round int) map[string]int {
	return verifyRounds(t, s, jobs, cat, func(string) int { return round })
}

// verifyRounds is verify with the round of each job id given by roundOf.
func verifyRounds(t *testing.T, s *store.Store, jobs []strategies.Job, cat mockapi.Catalog, roundOf func(id string) int) map[string]int {
	t.Helper()
	bySource := map[string]int{}
	seen := map[string]bool{}
	want := map[string]strategies.Job{}
	for _, j := range jobs {
		want[j.ID] = j
	}
	err := s.Results(func(r store.Result) error {
		if seen[r.JobID] {
			t.Errorf("job %s stored twice", r.JobID)
		}
		seen[r.JobID] = true
		bySource[r.Source]++
		j, ok := want[r.JobID]
		if !ok {
			t.Errorf("result for unknown job %s", r.JobID)
			return nil
		}
		var data pangolin.ScrapeData
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return err
		}
		ps, err := data.Products()
		if err != nil || len(ps) != 1 {
			t.Errorf("job %s: products %v %v", r.JobID, ps, err)
			return nil
		}
		truth := cat.Product(j.ASIN, roundOf(j.ID))
		if !ps[0].Equal(&truth) {
			t.Errorf("job %s: stored product differs from ground truth", r.JobID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(jobs) {
		var missing []string
		for _, j := range jobs {
			if !seen[j.ID] {
				missing = append(missing, j.ID)
			}
		}
		t.Errorf("stored %d of %d jobs; missing %v", len(seen), len(jobs), missing)
	}
	return bySource
}

func sumCodes(st *strategies.Stats) int64 {
	var n int64
	for _, v := range st.Codes {
		n += v
	}
	return n
}

// TestChaosEveryStrategy runs each strategy against the chaos profile and
// checks, beyond exactly-once storage and ground truth, these identities:
//   - every call is answered or failed: requests = scrapes + submits +
//     compensations, and for sync strategies scrapes = stored + Σcodes +
//     transport errors;
//   - the client's credits plus what the mock charged for answers that
//     never reached the client (truncated bodies) equal the mock's ledger;
//   - async: every callback the mock delivered was received; results
//     stored by compensation = Compensated; parked callbacks never matched
//     = Unknown.
func TestChaosEveryStrategy(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"serial", "concurrent:8", "async", "async-seed"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := fastChaos()
			w := newWorld(t, cfg)
			s := memStore(t)
			n := 300
			if name == "serial" || name == "async-seed" {
				n = 120
			}
			jobs := productJobs(n, "")
			st, err := build(t, name, w, nil).Run(context.Background(), jobs, s)
			if err != nil {
				t.Fatalf("run: %v (stats %+v)", err, st)
			}
			bySource := verify(t, s, jobs, w.mock.Catalog(), 0)
			if st.Stored != int64(n) || st.Failed != 0 {
				t.Errorf("stored %d failed %d of %d: %v", st.Stored, st.Failed, n, st.FailedJobs)
			}
			if st.Requests != st.Scrapes+st.Submits+st.Compensations {
				t.Errorf("requests %d != scrapes %d + submits %d + compensations %d", st.Requests, st.Scrapes, st.Submits, st.Compensations)
			}
			if !strings.HasPrefix(name, "async") {
				if st.Scrapes != st.Stored+sumCodes(st)+st.TransportErrors {
					t.Errorf("scrapes %d != stored %d + codes %d + transport %d", st.Scrapes, st.Stored, sumCodes(st), st.TransportErrors)
				}
				if st.Retries != st.Scrapes-int64(n) {
					t.Errorf("retries %d != scrapes %d - jobs %d", st.Retries, st.Scrapes, n)
				}
			}
			if sumCodes(st) == 0 || st.TransportErrors == 0 {
				t.Errorf("chaos served no error codes (%v) or no transport errors (%d)", st.Codes, st.TransportErrors)
			}
			if strings.HasPrefix(name, "async") {
				if int64(bySource["compensation"]) != st.Compensated || int64(bySource["callback"])+st.Compensated != st.Stored {
					t.Errorf("by source %v, compensated %d, stored %d", bySource, st.Compensated, st.Stored)
				}
				if st.Unknown != st.Parked-st.Unparked {
					t.Errorf("unknown %d != parked %d - unparked %d", st.Unknown, st.Parked, st.Unparked)
				}
				if st.DuplicatesSuppressed == 0 || st.CallbacksLost == 0 || st.Compensated == 0 {
					t.Errorf("chaos showed no duplicates (%d), losses (%d) or compensations (%d)", st.DuplicatesSuppressed, st.CallbacksLost, st.Compensated)
				}
				deadline := time.Now().Add(10 * time.Second)
				for w.mock.Stats().Callbacks.Delivered < st.CallbacksReceived && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			}
			w.mock.Close()
			ms := w.mock.Stats()
			if got, want := st.Credits+float64(ms.HTTPFaults.Truncated), ms.CreditsCharged; got != want {
				t.Errorf("client credits %v + truncated %d != ledger %v", st.Credits, ms.HTTPFaults.Truncated, want)
			}
			if strings.HasPrefix(name, "async") && ms.Callbacks.Delivered != st.CallbacksReceived {
				t.Errorf("mock delivered %d callbacks, receiver took %d", ms.Callbacks.Delivered, st.CallbacksReceived)
			}
			t.Logf("%s: %+v", name, *st)
		})
	}
}

// TestFatalCodeAbortsRun: a bad token (1004) stops the run after at most
// one request per worker, with an error that names the token.
func TestFatalCodeAbortsRun(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"concurrent:6", "async"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := fastChaos()
			cfg.Faults = mockapi.FaultRates{}
			w := newWorld(t, cfg)
			w.client, _ = pangolin.NewClient(w.srv.URL, "not-the-token")
			s := build(t, name, w, func(o *strategies.AsyncOptions) { o.SubmitConcurrency = 6 })
			st, err := s.Run(context.Background(), productJobs(500, ""), memStore(t))
			var abort *strategies.AbortError
			if !errors.As(err, &abort) || abort.Code != pangolin.CodeInvalidToken {
				t.Fatalf("err = %v, want an abort on 1004", err)
			}
			if !strings.Contains(err.Error(), "token") {
				t.Errorf("error does not name the token: %v", err)
			}
			ms := w.mock.Stats()
			if got := ms.Total("scrape", 1004) + ms.Total("submit", 1004); got > 6 {
				t.Errorf("%d requests after the first 1004 with 6 workers", got)
			}
			if st == nil || st.Aborted == "" {
				t.Errorf("stats do not record the abort: %+v", st)
			}
		})
	}
}

// TestGoroutinesBoundedByPool: concurrent:20 over 100,000 jobs keeps the
// goroutine count bounded by the pool, not the job count. It is not
// parallel, so that no other test's goroutines are counted. Under the race
// detector (10-30× slower) it runs 10,000 jobs; make test also runs it
// without -race at 100,000.
func TestGoroutinesBoundedByPool(t *testing.T) {
	n := 100000
	if raceEnabled || testing.Short() {
		n = 10000
	}
	cfg, _ := mockapi.Profile("seed")
	cfg.Latency, cfg.SubmitLatency = mockapi.Fixed(0), mockapi.Fixed(0)
	w := newWorld(t, cfg)
	s, err := store.Open("db", store.Options{FS: vfs.NewMem(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := runtime.NumGoroutine()
	var peak atomic.Int64
	var stored atomic.Int64
	strat, _ := strategies.NewSync(strategies.SyncOptions{Client: w.client, Workers: 20, Retry: fastRetry,
		Hooks: strategies.Hooks{OnStored: func(string, string, time.Duration) {
			if stored.Add(1)%500 == 0 {
				if g := int64(runtime.NumGoroutine()); g > peak.Load() {
					peak.Store(g)
				}
			}
		}}})
	st, err := strat.Run(context.Background(), productJobs(n, ""), s)
	if err != nil || st.Stored != int64(n) {
		t.Fatalf("stored %v of %d: %v", st.Stored, n, err)
	}
	// 20 workers, the feeder, and per keep-alive connection two client and
	// one server goroutines: about 90 over the baseline whatever the job
	// count; a goroutine per job would add thousands.
	if extra := peak.Load() - int64(base); extra > 120 {
		t.Errorf("peak goroutines %d over a baseline of %d with 20 workers", extra, base)
	}
	t.Logf("%d jobs: baseline %d goroutines, peak %d", n, base, peak.Load())
}

// TestChangeDetection: a second round in the same store reports the
// products whose price or star changed, as the catalog says.
func TestChangeDetection(t *testing.T) {
	t.Parallel()
	cfg := fastChaos()
	cfg.Faults = mockapi.FaultRates{}
	cfg.Churn = 0.3
	w := newWorld(t, cfg)
	s := memStore(t)
	const n = 200
	st0, err := build(t, "concurrent:8", w, nil).Run(context.Background(), productJobs(n, "@0"), s)
	if err != nil || st0.New != n || st0.Changed != 0 {
		t.Fatalf("round 0: new %d changed %d: %v", st0.New, st0.Changed, err)
	}
	w.mock.SetRound(1)
	jobs := productJobs(n, "@1")
	st1, err := build(t, "async", w, nil).Run(context.Background(), jobs, s)
	if err != nil {
		t.Fatal(err)
	}
	verifyRounds(t, s, append(productJobs(n, "@0"), jobs...), w.mock.Catalog(), func(id string) int {
		if strings.HasSuffix(id, "@1") {
			return 1
		}
		return 0
	})
	want := int64(0)
	for _, j := range jobs {
		if w.mock.Catalog().Changed(j.ASIN, 1) {
			want++
		}
	}
	if st1.Changed != want || st1.New != 0 || want == 0 {
		t.Errorf("round 1: changed %d new %d, catalog says %d changed", st1.Changed, st1.New, want)
	}
}

// TestReceiverRejects: the callback receiver answers 401 without the
// bearer token, 413 for an oversized body, 400 for bad JSON, 405 for GET;
// a forged task id is parked, never stored, and counted as unknown.
func TestReceiverRejects(t *testing.T) {
	t.Parallel()
	cfg := fastChaos()
	cfg.Faults = mockapi.FaultRates{Delay: 1} // the run lasts until the delayed callbacks come
	cfg.Delay = 2 * time.Second
	w := newWorld(t, cfg)
	s := memStore(t)
	ready := make(chan string, 1)
	strat := build(t, "async", w, func(o *strategies.AsyncOptions) {
		o.CallbackTimeout = 20 * time.Second // longer than the mock's delay: no compensation
		o.Ready = func(u string) { ready <- u }
	})
	done := make(chan *strategies.Stats, 1)
	go func() {
		st, err := strat.Run(context.Background(), productJobs(3, ""), s)
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	url := <-ready
	tok := "Bearer " + cfg.CallbackToken
	forged := `{"code":0,"message":"ok","taskId":"ffffffffffffffffffffffffffffffff","data":{"json":[{"code":0,"message":"ok","data":{"results":[{"asin":"B999999999","price":"$0.01"}]}}]}}`
	tests := []struct {
		name, method, auth, body string
		status                   int
	}{
		{"no token", "POST", "", forged, 401},
		{"wrong token", "POST", "Bearer nope", forged, 401},
		{"bad json", "POST", tok, `{"taskId":`, 400},
		{"no task id", "POST", tok, `{"code":0,"data":{}}`, 400},
		{"too large", "POST", tok, `{"taskId":"x","pad":"` + strings.Repeat("a", 9<<20) + `"}`, 413},
		{"get", "GET", tok, "", 405},
		{"forged task id", "POST", tok, forged, 202},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, url, strings.NewReader(tt.body))
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: HTTP %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
	st := <-done
	if st.Stored != 3 || st.Unknown != 1 || st.CallbacksRejected != 5 {
		t.Errorf("stored %d unknown %d rejected %d; want 3, 1, 5", st.Stored, st.Unknown, st.CallbacksRejected)
	}
	// verify fails on any result that is not one of the three jobs, or that
	// is not the catalog's product: the forged one is neither.
	verify(t, s, productJobs(3, ""), w.mock.Catalog(), 0)
}

// TestLostCallbacksWithoutCompensation: with every callback lost and
// compensation off, the run ends with every job failed and named.
func TestLostCallbacksWithoutCompensation(t *testing.T) {
	t.Parallel()
	cfg := fastChaos()
	cfg.Faults = mockapi.FaultRates{Loss: 1}
	w := newWorld(t, cfg)
	st, err := build(t, "async", w, func(o *strategies.AsyncOptions) { o.NoCompensation = true }).
		Run(context.Background(), productJobs(5, ""), memStore(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Stored != 0 || st.Failed != 5 || st.CallbacksLost != 5 || len(st.FailedJobs) != 5 ||
		!strings.Contains(st.FailedJobs[0].Reason, "compensation is off") {
		t.Errorf("stats %+v", st)
	}
}

// TestStoreReuseNeedsResume: a store holding the jobs of an earlier run is
// refused without Resume, with a message that says what to do.
func TestStoreReuseNeedsResume(t *testing.T) {
	t.Parallel()
	cfg := fastChaos()
	cfg.Faults = mockapi.FaultRates{}
	w := newWorld(t, cfg)
	s := memStore(t)
	jobs := productJobs(5, "")
	if _, err := build(t, "async", w, nil).Run(context.Background(), jobs, s); err != nil {
		t.Fatal(err)
	}
	_, err := build(t, "async", w, nil).Run(context.Background(), jobs, s)
	if err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("err = %v, want advice to pass --resume", err)
	}
	st, err := build(t, "async", w, func(o *strategies.AsyncOptions) { o.Resume = true }).Run(context.Background(), jobs, s)
	if err != nil || st.Skipped != 5 || st.Submits != 0 {
		t.Errorf("resume of a finished run: %+v %v", st, err)
	}
}

func TestDuplicateJobIDsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastChaos())
	jobs := append(productJobs(2, ""), productJobs(1, "")...)
	for _, name := range []string{"serial", "async"} {
		if _, err := build(t, name, w, nil).Run(context.Background(), jobs, memStore(t)); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// TestBudgetStopsRequests: with a budget of 10 credits, no strategy makes
// the API charge more than 10, and the run ends with a BudgetError that
// says what to change.
func TestBudgetStopsRequests(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"concurrent:4", "async"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := fastChaos()
			cfg.Faults = mockapi.FaultRates{Error: 0.3} // refunded codes must not eat the budget
			w := newWorld(t, cfg)
			budget := strategies.NewBudget(10)
			var s strategies.Strategy
			if name == "async" {
				s, _ = strategies.NewAsync(strategies.AsyncOptions{Client: w.client, CallbackToken: cfg.CallbackToken,
					CallbackTimeout: time.Second, Retry: fastRetry, Budget: budget})
			} else {
				s, _ = strategies.NewSync(strategies.SyncOptions{Client: w.client, Workers: 4, Retry: fastRetry, Budget: budget})
			}
			st, err := s.Run(context.Background(), productJobs(50, ""), memStore(t))
			var be *strategies.BudgetError
			if !errors.As(err, &be) || !strings.Contains(err.Error(), "--max-credits") {
				t.Fatalf("err = %v, want a BudgetError", err)
			}
			w.mock.Close()
			// Calls in flight when the budget ran out are cancelled, and the
			// API does not charge those: up to 4 (the concurrency) fewer.
			if charged := w.mock.Stats().CreditsCharged; charged > 10 || charged < 6 {
				t.Errorf("the API charged %v credits with a budget of 10", charged)
			}
			if st.Credits > 10 {
				t.Errorf("client counted %v credits", st.Credits)
			}
		})
	}
}
