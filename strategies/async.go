package strategies

import (
	"container/heap"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
	"github.com/scrapebench/scrapebench/strategies/store"
)

// CallbackPath is where the receiver takes callbacks.
const CallbackPath = "/api/callback"

// maxCallbackBody bounds a callback body; larger ones get 413.
const maxCallbackBody = 8 << 20

// AsyncOptions configure async and async-seed.
type AsyncOptions struct {
	Client *pangolin.Client
	// Listen is the receiver's local address (default 127.0.0.1:0).
	Listen string
	// CallbackURL is the URL the API is told to post to; default
	// http://<Listen address>/api/callback. Against the real API it must be
	// public (a tunnel or a server that forwards to Listen).
	CallbackURL string
	// CallbackToken is the bearer token callbacks must carry; callbacks
	// without it get 401. Empty accepts any (not recommended).
	CallbackToken string
	// SubmitConcurrency is how many submits are in flight (default 4).
	SubmitConcurrency int
	// SubmitQPS limits submits per second, 0: none.
	SubmitQPS float64
	// SeedPause, when positive, makes this async-seed: the article's
	// bulk_submit, one submit at a time with this pause after each.
	SeedPause time.Duration
	// CallbackTimeout is how long after its submit a job waits for its
	// callback before the sweeper compensates it through the sync API.
	CallbackTimeout time.Duration
	// NoCompensation gives a job up when its callback times out, instead of
	// compensating: shows what losses cost without the safety net.
	NoCompensation bool
	// CompensateConcurrency bounds compensation calls in flight (default 4).
	CompensateConcurrency int
	// SweepEvery is how often the sweeper looks for timed-out jobs
	// (default CallbackTimeout/20, at least 1ms).
	SweepEvery time.Duration
	// MaxParked bounds callbacks kept for task ids not known yet (default
	// 2×jobs + 1000); beyond it, such callbacks get 503 and are retried by
	// the API.
	MaxParked      int
	Retry          RetryPolicy
	RequestTimeout time.Duration
	// Budget, if set, caps the credits spent (shared across runs).
	Budget *Budget
	// Resume continues a run in the same store after a crash: jobs never
	// submitted are submitted, submitted ones are waited for (or
	// compensated), done ones are skipped. Without Resume a store that
	// already holds jobs is refused.
	Resume bool
	Hooks  Hooks
	// Ready, if set, is called once with the callback URL when the
	// receiver listens.
	Ready func(callbackURL string)
}

// Async submits jobs, takes results from callbacks, and compensates
// missing callbacks through the sync API.
type Async struct {
	o AsyncOptions
}

// NewAsync returns the async strategy (async-seed when SeedPause > 0).
func NewAsync(o AsyncOptions) (*Async, error) {
	if o.Client == nil {
		return nil, errors.New("async strategy: no API client")
	}
	if o.CallbackTimeout <= 0 {
		return nil, errors.New("async strategy: callback timeout must be positive")
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.SubmitConcurrency <= 0 {
		o.SubmitConcurrency = 4
	}
	if o.SeedPause > 0 {
		o.SubmitConcurrency = 1
	}
	if o.CompensateConcurrency <= 0 {
		o.CompensateConcurrency = 4
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = max(time.Millisecond, o.CallbackTimeout/20)
	}
	o.Retry = o.Retry.withDefaults()
	return &Async{o: o}, nil
}

// Name implements Strategy.
func (a *Async) Name() string {
	if a.o.SeedPause > 0 {
		return "async-seed"
	}
	return "async"
}

// asyncRun is one Run's state.
type asyncRun struct {
	o        *AsyncOptions
	sink     *store.Store
	c        *counters
	jobs     map[string]*Job
	call     *caller // submits
	comp     *caller // compensations: not held back by the submit QPS limit
	cancel   context.CancelCauseFunc
	cbURL    string
	taskLock [256]sync.Mutex

	mu       sync.Mutex
	final    map[string]bool // job id → stored (true) or failed (false)
	allFinal chan struct{}
	waiting  deadlineHeap
	inHeap   map[string]bool
	// compensating: jobs handed to compensation, never handed twice.
	compensating map[string]bool
	submitted    map[string]time.Time // job id → latest submit, for OnStored
	parkedLeft   int                  // parked callbacks not processed yet
	compQueue    chan string
}

// Run implements Strategy.
func (a *Async) Run(ctx context.Context, jobs []Job, sink *store.Store) (*Stats, error) {
	ids, err := jobIDs(jobs)
	if err != nil {
		return nil, err
	}
	counts, err := sink.Register(ids)
	if err != nil {
		return nil, err
	}
	if known := len(ids) - counts[store.StatePending]; known > 0 && !a.o.Resume {
		return nil, fmt.Errorf("the store already holds %d of these jobs from an earlier run: pass --resume to continue it, or use a fresh --store", known)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &asyncRun{o: &a.o, sink: sink, c: newCounters(), jobs: make(map[string]*Job, len(jobs)), cancel: cancel,
		final: map[string]bool{}, allFinal: make(chan struct{}), inHeap: map[string]bool{}, compensating: map[string]bool{},
		submitted: map[string]time.Time{}, compQueue: make(chan string, len(jobs))}
	for i := range jobs {
		r.jobs[jobs[i].ID] = &jobs[i]
	}
	r.call = &caller{client: a.o.Client, timeout: a.o.RequestTimeout, c: r.c, hooks: a.o.Hooks, budget: a.o.Budget, cancel: cancel}
	comp := *r.call
	r.comp = &comp
	if a.o.SubmitQPS > 0 {
		r.call.limiter = rate.NewLimiter(rate.Limit(a.o.SubmitQPS), 1)
	}
	if r.o.MaxParked <= 0 {
		r.o.MaxParked = 2*len(jobs) + 1000
	}

	toSubmit, err := r.recover(jobs)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", a.o.Listen)
	if err != nil {
		return nil, fmt.Errorf("callback receiver: listen on %s: %w (choose another --callback-listen)", a.o.Listen, err)
	}
	r.cbURL = a.o.CallbackURL
	if r.cbURL == "" {
		r.cbURL = "http://" + ln.Addr().String() + CallbackPath
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		_ = srv.Serve(ln)
	}()
	if err := r.unparkKnown(); err != nil {
		cancel(err)
	}
	if a.o.Ready != nil {
		a.o.Ready(r.cbURL)
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.submitAll(ctx, toSubmit) }()
	go func() { defer wg.Done(); r.sweep(ctx) }()
	var compWG sync.WaitGroup
	compWG.Add(a.o.CompensateConcurrency)
	for i := 0; i < a.o.CompensateConcurrency; i++ {
		go func() { defer compWG.Done(); r.compensateLoop(ctx) }()
	}
	r.checkAllFinal()

	select {
	case <-r.allFinal:
	case <-ctx.Done():
	}
	runCtxErr := context.Cause(ctx)
	cancel(nil)
	wg.Wait()
	compWG.Wait()
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(shutCtx)
	shutCancel()
	<-srvDone

	if parked, err := sink.ParkedTasks(); err == nil {
		r.c.unknown.Store(int64(len(parked)))
	}
	st := r.c.snapshot(a.Name(), len(jobs), sink.Durability())
	if runCtxErr != nil {
		st.Aborted = runCtxErr.Error()
		return st, runCtxErr
	}
	return st, nil
}

// recover reads the store: done and failed jobs are final, submitted ones
// wait for their callback from their recorded submit time, pending ones
// are returned, in the caller's order, to be submitted.
func (r *asyncRun) recover(jobs []Job) ([]*Job, error) {
	var toSubmit []*Job
	now := time.Now()
	for i := range jobs {
		j := &jobs[i]
		rec, _, err := r.sink.Job(j.ID)
		if err != nil {
			return nil, err
		}
		switch rec.State {
		case store.StateDone:
			r.final[j.ID] = true
			r.c.skipped.Add(1)
		case store.StateFailed:
			r.final[j.ID] = false
		case store.StateSubmitted:
			at := time.Unix(0, rec.SubmittedAt)
			r.submitted[j.ID] = at
			deadline := at.Add(r.o.CallbackTimeout)
			if rec.Compensating { // a compensation was under way at the crash
				deadline = now
			}
			r.wait(j.ID, deadline, true)
		case store.StatePending:
			toSubmit = append(toSubmit, j)
		}
	}
	parked, err := r.sink.ParkedTasks()
	r.parkedLeft = len(parked)
	return toSubmit, err
}

// wait schedules id for compensation at deadline; timeout says whether
// that is a callback timeout (counted as lost) or a bad callback. r.mu is
// held or not needed yet.
func (r *asyncRun) wait(id string, deadline time.Time, timeout bool) {
	heap.Push(&r.waiting, deadlineEntry{id, deadline, timeout})
	r.inHeap[id] = true
}

func (r *asyncRun) submitAll(ctx context.Context, jobs []*Job) {
	workerPool(ctx, r.o.SubmitConcurrency, jobs, func(j *Job) bool {
		r.submit(ctx, j)
		return r.o.SeedPause <= 0 || sleep(ctx, r.o.SeedPause)
	})
}

// submit submits j until the API accepts it, then registers its task.
func (r *asyncRun) submit(ctx context.Context, j *Job) {
	failed, reason := r.o.Retry.run(ctx, r.c, r.cancel, "submit: ", func() error {
		taskID, err := r.call.submit(ctx, j, r.cbURL)
		if err == nil {
			r.registerTask(j, taskID)
		}
		return err
	})
	if failed {
		r.fail(j.ID, reason)
	}
}

func (r *asyncRun) lockTask(taskID string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(taskID))
	m := &r.taskLock[h.Sum32()%uint32(len(r.taskLock))]
	m.Lock()
	return m
}

// registerTask records j's task, starts its callback clock, and processes
// a callback that came before the submit answer. The task lock makes
// "register, then look for a parked callback" atomic with the receiver's
// "look up, else park", so an early callback is never missed.
func (r *asyncRun) registerTask(j *Job, taskID string) {
	now := time.Now()
	mu := r.lockTask(taskID)
	ok, err := r.sink.MarkSubmitted(j.ID, taskID, now)
	var body []byte
	var parked bool
	if err == nil && ok {
		body, parked, err = r.sink.TakeParked(taskID)
	}
	mu.Unlock()
	if err != nil {
		r.cancel(fmt.Errorf("store: %w", err))
		return
	}
	if !ok {
		return // already final
	}
	r.mu.Lock()
	r.submitted[j.ID] = now
	r.wait(j.ID, now.Add(r.o.CallbackTimeout), true)
	if parked {
		r.parkedLeft--
	}
	r.mu.Unlock()
	if parked {
		r.c.unparked.Add(1)
		r.processBody(j.ID, taskID, body)
	}
}

// unparkKnown processes parked callbacks whose task is known (after a
// resume, the crash may have come between registering and unparking).
func (r *asyncRun) unparkKnown() error {
	ids, err := r.sink.ParkedTasks()
	if err != nil {
		return err
	}
	for _, taskID := range ids {
		mu := r.lockTask(taskID)
		jobID, known, err := r.sink.JobForTask(taskID)
		var body []byte
		if err == nil && known {
			body, known, err = r.sink.TakeParked(taskID)
		}
		mu.Unlock()
		if err != nil {
			return err
		}
		if known {
			r.mu.Lock()
			r.parkedLeft--
			r.mu.Unlock()
			r.c.unparked.Add(1)
			r.processBody(jobID, taskID, body)
		}
	}
	return nil
}

func (r *asyncRun) callbackOutcome(outcome string) {
	if r.o.Hooks.OnCallback != nil {
		r.o.Hooks.OnCallback(outcome)
	}
}

// reject answers a callback the receiver refuses.
func (r *asyncRun) reject(w http.ResponseWriter, msg string, status int) {
	r.c.cbRejected.Add(1)
	r.callbackOutcome("rejected")
	http.Error(w, msg, status)
}

// ServeHTTP is the callback receiver.
func (r *asyncRun) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != CallbackPath {
		http.NotFound(w, req)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "callbacks are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if tok := r.o.CallbackToken; tok != "" &&
		subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte("Bearer "+tok)) != 1 {
		r.reject(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxCallbackBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			r.reject(w, "callback body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.reject(w, "cannot read body", http.StatusBadRequest)
		return
	}
	cb, err := pangolin.ParseCallback(body)
	if err != nil {
		r.reject(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.c.cbReceived.Add(1)
	taskID := cb.ID()
	mu := r.lockTask(taskID)
	jobID, known, err := r.sink.JobForTask(taskID)
	if err == nil && !known {
		r.mu.Lock()
		full := r.parkedLeft >= r.o.MaxParked
		r.mu.Unlock()
		if full {
			mu.Unlock()
			http.Error(w, "too many callbacks for unknown tasks; retry later", http.StatusServiceUnavailable)
			return
		}
		fresh, err := r.sink.Park(taskID, body)
		mu.Unlock()
		if err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if fresh {
			r.c.parked.Add(1)
			r.mu.Lock()
			r.parkedLeft++
			r.mu.Unlock()
			r.callbackOutcome("parked")
		} else {
			r.c.dups.Add(1) // a duplicate of a callback already parked
			r.callbackOutcome("duplicate")
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	mu.Unlock()
	if err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if err := r.process(jobID, taskID, cb); err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *asyncRun) processBody(jobID, taskID string, body []byte) {
	cb, err := pangolin.ParseCallback(body)
	if err == nil {
		err = r.process(jobID, taskID, cb)
	}
	if err != nil {
		r.compensateNow(jobID)
	}
}

// process claims the result a callback carries for jobID. A callback with
// an error code or no usable result sends the job to compensation.
func (r *asyncRun) process(jobID, taskID string, cb *pangolin.Callback) error {
	j, ours := r.jobs[jobID]
	if !ours {
		return nil // a job of another run sharing the store: not ours to store
	}
	if cb.Code != pangolin.CodeOK || cb.Data == nil {
		r.c.cbErrors.Add(1)
		r.callbackOutcome("error")
		r.compensateNow(jobID)
		return nil
	}
	res, err := resultFor(j, cb.Data, "callback", taskID)
	if err != nil {
		r.c.cbErrors.Add(1)
		r.callbackOutcome("error")
		r.compensateNow(jobID)
		return nil
	}
	won, err := r.claim(j, res)
	if err == nil {
		r.callbackOutcome(map[bool]string{true: "stored", false: "duplicate"}[won])
	}
	return err
}

// claim stores res; a lost claim is a suppressed duplicate, and late if
// compensation stored the result.
func (r *asyncRun) claim(j *Job, res store.Result) (bool, error) {
	cl, err := r.sink.Claim(res)
	if err != nil {
		return false, err
	}
	if !cl.Won {
		r.c.dups.Add(1)
		if res.Source == "callback" && cl.Prior.Source == "compensation" {
			r.c.late.Add(1)
		}
		return false, nil
	}
	r.c.stored.Add(1)
	r.c.claimed(cl)
	if res.Source == "compensation" {
		r.c.compensated.Add(1)
	}
	r.mu.Lock()
	at, ok := r.submitted[j.ID]
	r.mu.Unlock()
	if ok && r.o.Hooks.OnStored != nil {
		r.o.Hooks.OnStored(j.ID, res.Source, time.Since(at))
	}
	r.finish(j.ID, true)
	return true, nil
}

func (r *asyncRun) fail(id, reason string) {
	if giveUp(r.sink, r.c, r.o.Hooks, id, reason) {
		r.finish(id, false)
	}
}

// finish records a job as final; a failed job stored later counts as stored.
func (r *asyncRun) finish(id string, stored bool) {
	r.mu.Lock()
	if prev, seen := r.final[id]; seen && (prev || !stored) {
		r.mu.Unlock()
		return
	}
	r.final[id] = stored
	r.mu.Unlock()
	if stored {
		// A job given up and then stored by a late callback is not failed.
		r.c.mu.Lock()
		for i, f := range r.c.failedJobs {
			if f.ID == id {
				r.c.failedJobs = append(r.c.failedJobs[:i], r.c.failedJobs[i+1:]...)
				r.c.failed.Add(-1)
				break
			}
		}
		r.c.mu.Unlock()
	}
	r.checkAllFinal()
}

func (r *asyncRun) checkAllFinal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.final) == len(r.jobs) {
		select {
		case <-r.allFinal:
		default:
			close(r.allFinal)
		}
	}
}

func (r *asyncRun) isFinal(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.final[id]
	return ok
}

// compensateNow sends id to compensation without waiting for its deadline.
func (r *asyncRun) compensateNow(id string) {
	r.mu.Lock()
	r.wait(id, time.Time{}, false)
	r.mu.Unlock()
}

// sweep moves jobs whose callback deadline passed to compensation.
func (r *asyncRun) sweep(ctx context.Context) {
	tick := time.NewTicker(r.o.SweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			var due []deadlineEntry
			r.mu.Lock()
			for r.waiting.Len() > 0 && !r.waiting[0].deadline.After(now) {
				e := heap.Pop(&r.waiting).(deadlineEntry)
				if _, done := r.final[e.id]; !done && r.inHeap[e.id] && !r.compensating[e.id] {
					delete(r.inHeap, e.id)
					r.compensating[e.id] = true
					due = append(due, e)
				}
			}
			r.mu.Unlock()
			for _, e := range due {
				if e.timeout {
					r.c.lost.Add(1)
				}
				if r.o.NoCompensation {
					r.fail(e.id, fmt.Sprintf("no callback within %v and compensation is off", r.o.CallbackTimeout))
					continue
				}
				select {
				case r.compQueue <- e.id:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

func (r *asyncRun) compensateLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-r.compQueue:
			r.compensate(ctx, id)
		}
	}
}

// compensate collects id through the sync API, unless it is final.
func (r *asyncRun) compensate(ctx context.Context, id string) {
	j := r.jobs[id]
	if r.isFinal(id) {
		return
	}
	if ok, err := r.sink.MarkCompensating(id); err != nil {
		r.cancel(fmt.Errorf("store: %w", err))
		return
	} else if !ok {
		return
	}
	failed, reason := r.o.Retry.run(ctx, r.c, r.cancel, "compensate: ", func() error {
		if r.isFinal(id) {
			return nil // a late callback stored it meanwhile
		}
		data, err := r.comp.scrape(ctx, j, "compensate")
		if err != nil {
			return err
		}
		res, err := resultFor(j, data, "compensation", data.TaskID)
		if err != nil {
			return err
		}
		if _, err := r.claim(j, res); err != nil {
			r.cancel(fmt.Errorf("store: %w", err))
		}
		return nil
	})
	if failed {
		r.fail(id, reason)
	}
}

// deadlineHeap orders jobs waiting for their callback by deadline.
type deadlineEntry struct {
	id       string
	deadline time.Time
	timeout  bool // a callback timeout, not a bad callback
}

type deadlineHeap []deadlineEntry

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadlineEntry)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
