package bench

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scrapebench/scrapebench/strategies"
	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Metrics are the client's Prometheus metrics during a run, labelled by
// strategy. Durations are API time (wall time × the run's scale).
type Metrics struct {
	stored        *prometheus.CounterVec
	failed        *prometheus.CounterVec
	inFlight      *prometheus.GaugeVec
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	callbacks     *prometheus.CounterVec
	duplicates    *prometheus.CounterVec
	compensations *prometheus.CounterVec
	credits       *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scrapebench_jobs_stored_total",
			Help: "Jobs whose result was stored, by strategy and source (sync, callback, compensation)."}, []string{"strategy", "source"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scrapebench_jobs_failed_total",
			Help: "Jobs given up."}, []string{"strategy"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "scrapebench_requests_in_flight",
			Help: "API calls under way, by kind (scrape, submit, compensate)."}, []string{"strategy", "kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scrapebench_requests_total",
			Help: "API calls answered, by kind and API code (transport errors: code \"transport\")."}, []string{"strategy", "kind", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "scrapebench_request_duration_seconds",
			Help:    "API call latency in API time.",
			Buckets: []float64{0.05, 0.1, 0.2, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60}}, []string{"strategy", "kind"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scrapebench_callbacks_total",
			Help: "Callbacks answered by the receiver, by outcome (stored, duplicate, parked, rejected, error)."}, []string{"strategy", "outcome"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scrapebench_duplicates_suppressed_total",
			Help: "Results that lost the exactly-once claim."}, []string{"strategy"}),
		compensations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scrapebench_compensations_total",
			Help: "Sync calls made to compensate a missing callback."}, []string{"strategy"}),
		credits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scrapebench_credits_spent_total",
			Help: "Credits of code-0 answers, as the client counts them."}, []string{"strategy"}),
	}
	reg.MustRegister(m.collectors()...)
	return m
}

func (m *Metrics) hooks(strategy string, scale float64) strategies.Hooks {
	return strategies.Hooks{
		OnStart: func(kind string) { m.inFlight.WithLabelValues(strategy, kind).Inc() },
		OnRequest: func(kind string, d time.Duration, code pangolin.Code, err error) {
			m.inFlight.WithLabelValues(strategy, kind).Dec()
			m.duration.WithLabelValues(strategy, kind).Observe(d.Seconds() * scale)
			label := "0"
			if err != nil {
				label = "transport"
				if c, ok := pangolin.CodeOf(err); ok {
					label = strconv.Itoa(int(c))
				}
			}
			m.requests.WithLabelValues(strategy, kind, label).Inc()
			if kind == "compensate" {
				m.compensations.WithLabelValues(strategy).Inc()
			}
			if err == nil {
				m.credits.WithLabelValues(strategy).Add(1) // json: 1 credit; the harness collects json
			}
		},
		OnStored: func(_, source string, _ time.Duration) { m.stored.WithLabelValues(strategy, source).Inc() },
		OnFailed: func(string, string) { m.failed.WithLabelValues(strategy).Inc() },
		OnCallback: func(outcome string) {
			m.callbacks.WithLabelValues(strategy, outcome).Inc()
			if outcome == "duplicate" {
				m.duplicates.WithLabelValues(strategy).Inc()
			}
		},
	}
}

// collectors returns every metric of m.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.stored, m.failed, m.inFlight, m.requests, m.duration, m.callbacks, m.duplicates, m.compensations, m.credits}
}

// names returns the metric names m exports.
func (m *Metrics) names() []string {
	ch := make(chan *prometheus.Desc, 16)
	go func() {
		for _, c := range m.collectors() {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		s := d.String() // Desc{fqName: "name", ...}
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			rest := s[i+len(`fqName: "`):]
			out = append(out, rest[:strings.Index(rest, `"`)])
		}
	}
	return out
}
