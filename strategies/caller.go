package strategies

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// caller makes API calls for a run: rate limit, credit budget, per-call
// timeout, counting and hooks, in one place for every strategy.
type caller struct {
	client  *pangolin.Client
	limiter *rate.Limiter // nil: none
	timeout time.Duration // 0: none
	c       *counters
	hooks   Hooks
	budget  *Budget // nil: none
	cancel  context.CancelCauseFunc
}

// begin waits for the limiter and takes j's cost from the budget; on a
// spent budget it cancels the run and returns the error.
func (k *caller) begin(ctx context.Context, j *Job, kind string) (context.Context, context.CancelFunc, error) {
	if k.limiter != nil {
		if err := k.limiter.Wait(ctx); err != nil {
			return nil, nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if k.budget != nil && !k.budget.reserve(j.cost()) {
		err := k.budget.err()
		k.cancel(err)
		return nil, nil, err
	}
	if k.hooks.OnStart != nil {
		k.hooks.OnStart(kind)
	}
	if k.timeout > 0 {
		rctx, cancel := context.WithTimeout(ctx, k.timeout)
		return rctx, cancel, nil
	}
	return ctx, func() {}, nil
}

// end counts one call's outcome; a call cut short by the run's end is not
// an answer and is not counted (its budget reservation is kept: the API
// may have charged it).
func (k *caller) end(ctx context.Context, j *Job, kind string, t0 time.Time, err error) {
	if ctx.Err() != nil {
		return
	}
	k.c.answer(err, j.cost())
	if _, isCode := pangolin.CodeOf(err); isCode && k.budget != nil {
		k.budget.refund(j.cost()) // a non-zero code is never charged
	}
	if k.hooks.OnRequest != nil {
		code, _ := pangolin.CodeOf(err)
		k.hooks.OnRequest(kind, time.Since(t0), code, err)
	}
}

// scrape makes one sync call for j; kind is "scrape" or "compensate".
func (k *caller) scrape(ctx context.Context, j *Job, kind string) (*pangolin.ScrapeData, error) {
	rctx, cancel, err := k.begin(ctx, j, kind)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if kind == "compensate" {
		k.c.compensations.Add(1)
	} else {
		k.c.scrapes.Add(1)
	}
	t0 := time.Now()
	data, err := k.client.Scrape(rctx, j.scrapeRequest())
	k.end(ctx, j, kind, t0, err)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return data, err
}

// submit makes one async submit of j.
func (k *caller) submit(ctx context.Context, j *Job, callbackURL string) (string, error) {
	rctx, cancel, err := k.begin(ctx, j, "submit")
	if err != nil {
		return "", err
	}
	defer cancel()
	k.c.submits.Add(1)
	t0 := time.Now()
	id, err := k.client.Submit(rctx, j.submitRequest(callbackURL))
	k.end(ctx, j, "submit", t0, err)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return id, err
}

// Budget caps the credits runs may spend: every call reserves its cost
// first, and answers with a non-zero code (never charged) give it back.
// Calls that fail in transit keep their reservation, since the API may
// have charged them. It is safe for concurrent use and may be shared.
type Budget struct {
	mu        sync.Mutex
	max       int64 // hundredths
	reserved  int64
	exhausted bool
}

// NewBudget returns a budget of credits.
func NewBudget(credits float64) *Budget { return &Budget{max: int64(credits*100 + 0.5)} }

func (b *Budget) reserve(cost int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reserved+cost > b.max {
		b.exhausted = true
		return false
	}
	b.reserved += cost
	return true
}

func (b *Budget) refund(cost int64) {
	b.mu.Lock()
	b.reserved -= cost
	b.mu.Unlock()
}

// Exhausted reports whether a call was refused for want of credits.
func (b *Budget) Exhausted() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exhausted
}

// Reserved returns the credits reserved so far (spent, or possibly spent).
func (b *Budget) Reserved() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return float64(b.reserved) / 100
}

func (b *Budget) err() error {
	return &BudgetError{Max: float64(b.max) / 100, Reserved: b.Reserved()}
}

// BudgetError stops a run that reached its credit budget.
type BudgetError struct{ Max, Reserved float64 }

func (e *BudgetError) Error() string {
	return fmt.Sprintf("credit budget reached: %.2f of --max-credits %.2f spent or in flight; no more requests were sent (raise --max-credits, then continue with --resume on the same --store)", e.Reserved, e.Max)
}
