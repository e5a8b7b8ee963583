package bench

import (
	"fmt"
	"math"
	"time"

	"github.com/scrapebench/scrapebench/mockapi"
)

// Prediction is the model's completion time for a run, in API time.
type Prediction struct {
	Seconds float64 `json:"seconds"`
	Basis   string  `json:"basis"` // the formula with the numbers put in
}

// Predict returns the analytic completion time of spec collecting n jobs
// in world (API time) with settings:
//   - serial: N·L̄;
//   - concurrent:c: ⌈N/c'⌉·L̄ with c' = min(c, the server's concurrency
//     limit), and no faster than the server's (or client's) QPS allows;
//   - async: the later of the last submit plus L̄ and the server's workers
//     draining ⌈N/W⌉·L̄; submits go at c/(S̄+pause) per second, capped by
//     the QPS limits; when callbacks are expected to be lost or late, the
//     last of them is compensated a callback timeout after its submit.
//
// L̄ and S̄ are the mean scrape and submit latencies (caps included).
func Predict(spec StrategySpec, world mockapi.Config, set Settings, n int) Prediction {
	L := world.Latency.Mean().Seconds()
	S := world.SubmitLatency.Mean().Seconds()
	N := float64(n)
	switch spec.Kind {
	case "serial", "concurrent":
		c := 1
		if spec.Kind == "concurrent" {
			c = spec.N
		}
		eff := c
		if world.MaxConcurrency > 0 && eff > world.MaxConcurrency {
			eff = world.MaxConcurrency
		}
		t := math.Ceil(N/float64(eff)) * L
		basis := fmt.Sprintf("⌈N/c⌉·L̄ = ⌈%d/%d⌉·%s", n, eff, secs(L))
		if spec.Kind == "serial" {
			basis = fmt.Sprintf("N·L̄ = %d·%s", n, secs(L))
		}
		for _, q := range []struct {
			qps  float64
			what string
		}{{world.QPS, "server QPS"}, {set.ClientQPS, "client QPS"}} {
			if q.qps > 0 && N/q.qps > t {
				t = N / q.qps
				basis = fmt.Sprintf("N/QPS = %d/%g (%s)", n, q.qps, q.what)
			}
		}
		return Prediction{t, basis}
	}
	c := float64(set.SubmitConcurrency)
	pause := 0.0
	if spec.Kind == "async-seed" {
		c, pause = 1, time.Duration(set.SeedPause).Seconds()
	} else if spec.N > 0 {
		c = float64(spec.N)
	}
	rate := c / (S + pause)
	rateWhy := fmt.Sprintf("%g/(%s+%s)", c, secs(S), secs(pause))
	for _, q := range []float64{set.SubmitQPS, world.QPS} {
		if q > 0 && q < rate {
			rate, rateWhy = q, fmt.Sprintf("QPS %g", q)
		}
	}
	tSubmit := N / rate
	t := tSubmit + L
	basis := fmt.Sprintf("N/rate + L̄ = %d/(%s) + %s", n, rateWhy, secs(L))
	if world.Workers > 0 {
		if tServer := math.Ceil(N/float64(world.Workers))*L + S; tServer > t {
			t = tServer
			basis = fmt.Sprintf("⌈N/W⌉·L̄ + S̄ = ⌈%d/%d⌉·%s + %s (server workers)", n, world.Workers, secs(L), secs(S))
		}
	}
	timeout := time.Duration(set.CallbackTimeout).Seconds()
	if world.Workers > 0 && !set.NoCompensation {
		// The job at queue position i calls back about ⌈(i+1)/W⌉·L̄ after
		// its submit; beyond the callback timeout it is compensated through
		// the sync API as well, and paid twice.
		if within := float64(world.Workers) * math.Floor(timeout/L); within < N && L > 0 {
			basis += fmt.Sprintf("; the server queue holds callbacks up to %s, past the callback timeout %s: expect ~%.0f jobs compensated through the sync API and paid twice (raise --callback-timeout)",
				secs(math.Ceil(N/float64(world.Workers))*L), secs(timeout), N-within)
		}
	}
	late := world.Faults.Loss
	if world.Delay.Seconds() > timeout {
		late += world.Faults.Delay
	}
	if late*N >= 0.5 && !set.NoCompensation {
		if tc := tSubmit + timeout + L; tc > t {
			t = tc
			basis += fmt.Sprintf("; last lost callback compensated: N/rate + τ + L̄ = %s", secs(tc))
		}
	}
	return Prediction{t, basis}
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
