package strategies

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
	"github.com/scrapebench/scrapebench/strategies/store"
)

// SyncOptions configure serial and concurrent:N.
type SyncOptions struct {
	Client  *pangolin.Client
	Workers int     // requests in flight at once (1: serial)
	QPS     float64 // client-side request rate limit, 0: none
	Burst   int     // token bucket depth for QPS, 0: 1
	Retry   RetryPolicy
	// RequestTimeout bounds one scrape call, 0: none (the client's own).
	RequestTimeout time.Duration
	// Budget, if set, caps the credits spent (shared across runs).
	Budget *Budget
	Hooks  Hooks
}

// Sync is the serial and concurrent:N strategy: a fixed pool of workers
// calls the sync API, retrying retriable failures with backoff.
type Sync struct {
	name string
	o    SyncOptions
}

// NewSync returns serial (Workers 1) or concurrent:N.
func NewSync(o SyncOptions) (*Sync, error) {
	if o.Client == nil {
		return nil, errors.New("sync strategy: no API client")
	}
	if o.Workers < 1 {
		return nil, fmt.Errorf("sync strategy: workers %d: want 1 or more", o.Workers)
	}
	o.Retry = o.Retry.withDefaults()
	name := fmt.Sprintf("concurrent:%d", o.Workers)
	if o.Workers == 1 {
		name = "serial"
	}
	return &Sync{name: name, o: o}, nil
}

// Name implements Strategy.
func (s *Sync) Name() string { return s.name }

// syncRun is one Run's state.
type syncRun struct {
	o      *SyncOptions
	sink   *store.Store
	c      *counters
	call   *caller
	cancel context.CancelCauseFunc
}

// Run implements Strategy. Workers take jobs from one feeder; there is no
// goroutine per job. A fatal code cancels the run: every worker stops
// before its next request, and in-flight requests are cancelled.
func (s *Sync) Run(ctx context.Context, jobs []Job, sink *store.Store) (*Stats, error) {
	ids, err := jobIDs(jobs)
	if err != nil {
		return nil, err
	}
	if _, err := sink.Register(ids); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &syncRun{o: &s.o, sink: sink, c: newCounters(), cancel: cancel}
	r.call = &caller{client: s.o.Client, timeout: s.o.RequestTimeout, c: r.c, hooks: s.o.Hooks, budget: s.o.Budget, cancel: cancel}
	if s.o.QPS > 0 {
		r.call.limiter = rate.NewLimiter(rate.Limit(s.o.QPS), max(1, s.o.Burst))
	}
	ptrs := make([]*Job, len(jobs))
	for i := range jobs {
		ptrs[i] = &jobs[i]
	}
	workerPool(ctx, s.o.Workers, ptrs, func(j *Job) bool {
		r.collect(ctx, j)
		return true
	})
	st := r.c.snapshot(s.name, len(jobs), sink.Durability())
	return st, runError(ctx, st)
}

// runError returns the run's abort or cancellation, noting it in st.
func runError(ctx context.Context, st *Stats) error {
	cause := context.Cause(ctx)
	if cause == nil {
		return nil
	}
	st.Aborted = cause.Error()
	return cause
}

// collect stores job j's result, retrying as the policy allows.
func (r *syncRun) collect(ctx context.Context, j *Job) {
	if rec, _, err := r.sink.Job(j.ID); err != nil {
		r.fail(j.ID, err.Error())
		return
	} else if rec.State == store.StateDone {
		r.c.skipped.Add(1)
		return
	}
	start := time.Now()
	failed, reason := r.o.Retry.run(ctx, r.c, r.cancel, "", func() error {
		data, err := r.call.scrape(ctx, j, "scrape")
		if err != nil {
			return err
		}
		res, err := resultFor(j, data, "sync", data.TaskID)
		if err != nil {
			return err
		}
		r.store(j, res, start)
		return nil
	})
	if failed {
		r.fail(j.ID, reason)
	}
}

func (r *syncRun) store(j *Job, res store.Result, start time.Time) {
	cl, err := r.sink.Claim(res)
	if err != nil {
		r.fail(j.ID, err.Error())
		return
	}
	if !cl.Won {
		r.c.dups.Add(1)
		return
	}
	r.c.stored.Add(1)
	r.c.claimed(cl)
	if r.o.Hooks.OnStored != nil {
		r.o.Hooks.OnStored(j.ID, res.Source, time.Since(start))
	}
}

func (r *syncRun) fail(id, reason string) { giveUp(r.sink, r.c, r.o.Hooks, id, reason) }
