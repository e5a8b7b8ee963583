package mockapi

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Endpoints named in Stats.Requests.
const (
	EndpointAuth   = "auth"
	EndpointScrape = "scrape"
	EndpointSubmit = "submit"
)

var endpoints = []string{EndpointAuth, EndpointScrape, EndpointSubmit}

// Stats is the JSON of GET /__admin/stats.
type Stats struct {
	// Requests counts answers by endpoint and code ("0", "4029", ...).
	Requests map[string]map[string]int64 `json:"requests"`
	// CreditsCharged is the ledger's total: only code-0 answers are charged.
	CreditsCharged float64 `json:"credits_charged"`
	// CreditsBalance is what is left, absent when the balance is unlimited.
	CreditsBalance *float64       `json:"credits_balance,omitempty"`
	Round          int            `json:"round"`
	SyncInFlight   int64          `json:"sync_in_flight"`
	Tasks          TaskStats      `json:"tasks"`
	Callbacks      CallbackStats  `json:"callbacks"`
	HTTPFaults     HTTPFaultStats `json:"http_faults"`
}

// TaskStats counts async tasks.
type TaskStats struct {
	Accepted  int64 `json:"accepted"`
	Completed int64 `json:"completed"`
	Queued    int64 `json:"queued"`
	Running   int64 `json:"running"`
}

// CallbackStats counts callback deliveries.
type CallbackStats struct {
	Attempts   int64 `json:"attempts"`   // POSTs made, retries included
	Delivered  int64 `json:"delivered"`  // POSTs answered 2xx
	Retried    int64 `json:"retried"`    // retries scheduled after a failed POST
	Exhausted  int64 `json:"exhausted"`  // deliveries given up after the last retry
	Duplicated int64 `json:"duplicated"` // extra deliveries scheduled by the duplicate fault
	Dropped    int64 `json:"dropped"`    // callbacks never sent (loss fault)
	Delayed    int64 `json:"delayed"`    // callbacks held back by the delay fault
	Early      int64 `json:"early"`      // callbacks sent before the submit answer
}

// HTTPFaultStats counts HTTP-level faults served.
type HTTPFaultStats struct {
	Reset     int64 `json:"reset"`
	Truncated int64 `json:"truncated"`
	SlowBody  int64 `json:"slow_body"`
}

// Total returns the number of answers to endpoint with code.
func (s *Stats) Total(endpoint string, code pangolin.Code) int64 {
	return s.Requests[endpoint][strconv.Itoa(int(code))]
}

// counters is the single source of every figure in Stats and /metrics.
type counters struct {
	requests map[string]map[pangolin.Code]*atomic.Int64 // built once, read-only after
	other    map[string]*atomic.Int64                   // codes outside the contract

	creditsCharged atomic.Int64 // hundredths
	syncInFlight   atomic.Int64
	tasks          struct{ accepted, completed, queued, running atomic.Int64 }
	cb             struct {
		attempts, delivered, retried, exhausted, duplicated, dropped, delayed, early atomic.Int64
	}
	faults struct{ reset, truncated, slow atomic.Int64 }
}

func newCounters() *counters {
	c := &counters{requests: map[string]map[pangolin.Code]*atomic.Int64{}, other: map[string]*atomic.Int64{}}
	for _, e := range endpoints {
		m := map[pangolin.Code]*atomic.Int64{}
		for _, code := range pangolin.Codes() {
			m[code] = new(atomic.Int64)
		}
		c.requests[e] = m
		c.other[e] = new(atomic.Int64)
	}
	return c
}

func (c *counters) answered(endpoint string, code pangolin.Code) {
	if n, ok := c.requests[endpoint][code]; ok {
		n.Add(1)
		return
	}
	c.other[endpoint].Add(1)
}

func (m *Mock) snapshot() Stats {
	c := m.st
	s := Stats{Requests: map[string]map[string]int64{}}
	for e, byCode := range c.requests {
		out := map[string]int64{}
		for code, n := range byCode {
			if v := n.Load(); v > 0 {
				out[strconv.Itoa(int(code))] = v
			}
		}
		if v := c.other[e].Load(); v > 0 {
			out["other"] = v
		}
		s.Requests[e] = out
	}
	s.CreditsCharged = float64(c.creditsCharged.Load()) / 100
	if bal, limited := m.ledger.balance(); limited {
		b := float64(bal) / 100
		s.CreditsBalance = &b
	}
	s.Round = int(m.round.Load())
	s.SyncInFlight = c.syncInFlight.Load()
	s.Tasks = TaskStats{c.tasks.accepted.Load(), c.tasks.completed.Load(), c.tasks.queued.Load(), c.tasks.running.Load()}
	s.Callbacks = CallbackStats{c.cb.attempts.Load(), c.cb.delivered.Load(), c.cb.retried.Load(), c.cb.exhausted.Load(),
		c.cb.duplicated.Load(), c.cb.dropped.Load(), c.cb.delayed.Load(), c.cb.early.Load()}
	s.HTTPFaults = HTTPFaultStats{c.faults.reset.Load(), c.faults.truncated.Load(), c.faults.slow.Load()}
	return s
}

// collector exposes the counters as Prometheus metrics at scrape time, so
// the request path pays for atomics only.
type collector struct {
	m                                       *Mock
	requests, credits, callbacks, faults    *prometheus.Desc
	tasks, tasksQueued, tasksRunning, round *prometheus.Desc
	syncInFlight, balance                   *prometheus.Desc
}

func newCollector(m *Mock) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("scrapebench_mock_"+name, help, labels, nil)
	}
	return &collector{
		m:            m,
		requests:     d("requests_total", "Answers by endpoint and API code.", "endpoint", "code"),
		credits:      d("credits_charged_total", "Credits charged (code-0 answers only)."),
		balance:      d("credits_balance", "Credits left; absent when unlimited."),
		callbacks:    d("callbacks_total", "Callback delivery events by kind.", "event"),
		faults:       d("http_faults_total", "HTTP-level faults served by kind.", "fault"),
		tasks:        d("tasks_total", "Async tasks by event.", "event"),
		tasksQueued:  d("tasks_queued", "Async tasks waiting for a worker."),
		tasksRunning: d("tasks_running", "Async tasks being processed."),
		syncInFlight: d("sync_in_flight", "Sync scrapes being served."),
		round:        d("round", "Product round being served."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.credits, c.balance, c.callbacks, c.faults,
		c.tasks, c.tasksQueued, c.tasksRunning, c.syncInFlight, c.round} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.snapshot()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	for e, byCode := range s.Requests {
		for code, n := range byCode {
			counter(c.requests, float64(n), e, code)
		}
	}
	counter(c.credits, s.CreditsCharged)
	if s.CreditsBalance != nil {
		gauge(c.balance, *s.CreditsBalance)
	}
	cb := s.Callbacks
	for event, v := range map[string]int64{"attempt": cb.Attempts, "delivered": cb.Delivered, "retried": cb.Retried,
		"exhausted": cb.Exhausted, "duplicated": cb.Duplicated, "dropped": cb.Dropped, "delayed": cb.Delayed, "early": cb.Early} {
		counter(c.callbacks, float64(v), event)
	}
	for fault, v := range map[string]int64{"reset": s.HTTPFaults.Reset, "truncated": s.HTTPFaults.Truncated, "slow_body": s.HTTPFaults.SlowBody} {
		counter(c.faults, float64(v), fault)
	}
	counter(c.tasks, float64(s.Tasks.Accepted), "accepted")
	counter(c.tasks, float64(s.Tasks.Completed), "completed")
	gauge(c.tasksQueued, float64(s.Tasks.Queued))
	gauge(c.tasksRunning, float64(s.Tasks.Running))
	gauge(c.syncInFlight, float64(s.SyncInFlight))
	gauge(c.round, float64(s.Round))
}
