package mockapi

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
)

// task is an accepted async task.
type task struct {
	id          string
	key         string // fault-plan job key
	attempt     int
	job         job
	round       int
	callbackURL string
}

// timerSet runs functions after a delay and can stop all pending ones and
// wait for running ones: the owner of every goroutine time.AfterFunc makes.
type timerSet struct {
	mu     sync.Mutex
	closed bool
	timers map[*time.Timer]struct{}
	wg     sync.WaitGroup
}

func newTimerSet() *timerSet { return &timerSet{timers: map[*time.Timer]struct{}{}} }

// after runs f after d, unless the set is closed first.
func (ts *timerSet) after(d time.Duration, f func()) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		return
	}
	ts.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer ts.wg.Done()
		ts.mu.Lock() // waits until after() has recorded t
		delete(ts.timers, t)
		ts.mu.Unlock()
		f()
	})
	ts.timers[t] = struct{}{}
}

// close stops every pending timer and waits for running functions.
func (ts *timerSet) close() {
	ts.mu.Lock()
	ts.closed = true
	for t := range ts.timers {
		if t.Stop() {
			ts.wg.Done()
		}
		delete(ts.timers, t)
	}
	ts.mu.Unlock()
	ts.wg.Wait()
}

// pool is the server-side async parallelism: at most workers tasks are
// processed at once (0: no limit) and at most limit wait (0: no limit).
// It is event-driven: a running task is a timer, not a goroutine.
type pool struct {
	m       *Mock
	mu      sync.Mutex
	workers int
	limit   int
	running int
	queue   []*task
}

// admit starts t or queues it; false when the queue is full.
func (p *pool) admit(t *task) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.workers == 0 || p.running < p.workers {
		p.start(t)
		return true
	}
	if p.limit > 0 && len(p.queue) >= p.limit {
		return false
	}
	p.queue = append(p.queue, t)
	p.m.st.tasks.queued.Add(1)
	return true
}

// start runs t; p.mu is held.
func (p *pool) start(t *task) {
	p.running++
	p.m.st.tasks.running.Add(1)
	d := p.m.cfg.Latency.Sample(p.m.plan.U(t.key, t.attempt, drawLatency))
	p.m.timers.after(d, func() {
		p.m.complete(t, false)
		p.finished()
	})
}

func (p *pool) finished() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running--
	p.m.st.tasks.running.Add(-1)
	if len(p.queue) > 0 {
		next := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.m.st.tasks.queued.Add(-1)
		p.start(next)
	}
}

// delivery is one callback on its way, possibly a retry or a duplicate.
type delivery struct {
	t       *task
	body    []byte
	attempt int // 1-based POST attempt of this delivery
}

// sender delivers callbacks at least once with a fixed pool of workers.
type sender struct {
	m      *Mock
	client *http.Client
	queue  chan *delivery
	wg     sync.WaitGroup
}

func newSender(m *Mock) *sender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = m.cfg.CallbackWorkers
	tr.MaxIdleConnsPerHost = m.cfg.CallbackWorkers
	s := &sender{
		m:      m,
		client: &http.Client{Transport: tr, Timeout: m.cfg.CallbackTimeout},
		queue:  make(chan *delivery, 4*m.cfg.CallbackWorkers),
	}
	s.wg.Add(m.cfg.CallbackWorkers)
	for i := 0; i < m.cfg.CallbackWorkers; i++ {
		go s.work()
	}
	return s
}

func (s *sender) work() {
	defer s.wg.Done()
	for {
		select {
		case d := <-s.queue:
			s.post(d)
		case <-s.m.ctx.Done():
			return
		}
	}
}

// deliver sends the callback of t as the fault plan says: dropped, delayed,
// duplicated, or (early) posted once right now by the caller's goroutine.
func (s *sender) deliver(t *task, body []byte, early bool) {
	plan, st := s.m.plan, s.m.st
	if plan.Hit(t.key, t.attempt, FaultLoss) {
		st.cb.dropped.Add(1)
		return
	}
	var wait time.Duration
	if !early && plan.Hit(t.key, t.attempt, FaultDelay) {
		st.cb.delayed.Add(1)
		wait = s.m.cfg.Delay
	}
	if plan.Hit(t.key, t.attempt, FaultDuplicate) {
		st.cb.duplicated.Add(1)
		// A quarter of duplicates race the first delivery; the rest come
		// up to DupSpread later.
		gap := time.Duration(0)
		if u := plan.U(t.key, t.attempt, drawDupGap); u >= 0.25 {
			gap = time.Duration((u - 0.25) / 0.75 * float64(s.m.cfg.DupSpread))
		}
		s.schedule(&delivery{t: t, body: body, attempt: 1}, wait+gap)
	}
	first := &delivery{t: t, body: body, attempt: 1}
	if early {
		st.cb.early.Add(1)
		s.post(first)
		return
	}
	s.schedule(first, wait)
}

func (s *sender) schedule(d *delivery, wait time.Duration) {
	if wait <= 0 {
		s.enqueue(d)
		return
	}
	s.m.timers.after(wait, func() { s.enqueue(d) })
}

func (s *sender) enqueue(d *delivery) {
	select {
	case s.queue <- d:
	case <-s.m.ctx.Done():
	}
}

// post makes one delivery attempt and schedules a retry on failure.
func (s *sender) post(d *delivery) {
	st, cfg := s.m.st, &s.m.cfg
	st.cb.attempts.Add(1)
	ok := false
	req, err := http.NewRequestWithContext(s.m.ctx, http.MethodPost, d.t.callbackURL, bytes.NewReader(d.body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cfg.CallbackToken)
		var resp *http.Response
		if resp, err = s.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			ok = resp.StatusCode >= 200 && resp.StatusCode < 300
		}
	}
	if ok {
		st.cb.delivered.Add(1)
		return
	}
	if s.m.ctx.Err() != nil {
		return
	}
	if d.attempt > len(cfg.CallbackRetries) {
		st.cb.exhausted.Add(1)
		return
	}
	st.cb.retried.Add(1)
	wait := cfg.CallbackRetries[d.attempt-1]
	s.schedule(&delivery{t: d.t, body: d.body, attempt: d.attempt + 1}, wait)
}

func (s *sender) close() { s.wg.Wait() }
