package mockapi_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scrapebench/scrapebench/mockapi"
)

func TestParseLatency(t *testing.T) {
	t.Parallel()
	good := []struct{ in, canonical string }{
		{"fixed:5s", "fixed:5s"},
		{"5s", "fixed:5s"},
		{"0", "fixed:0s"},
		{"uniform:2s-8s", "uniform:2s-8s"},
		{"normal:mean=5s,sd=1s", "normal:mean=5s,sd=1s"},
		{"normal:sd=1s,mean=5s,cap=7s", "normal:mean=5s,sd=1s,cap=7s"},
		{"lognormal:median=5s,p99=12s", "lognormal:median=5s,p99=12s"},
		{"lognormal:median=5s,sigma=0.4,cap=30s", "lognormal:median=5s,sigma=0.4,cap=30s"},
		{"fixed:200ms,cap=100ms", "fixed:200ms,cap=100ms"},
	}
	for _, tt := range good {
		l, err := mockapi.ParseLatency(tt.in)
		if err != nil {
			t.Errorf("ParseLatency(%q): %v", tt.in, err)
			continue
		}
		if l.String() != tt.canonical {
			t.Errorf("ParseLatency(%q).String() = %q, want %q", tt.in, l.String(), tt.canonical)
		}
		again, err := mockapi.ParseLatency(l.String())
		if err != nil || again.String() != l.String() {
			t.Errorf("%q does not round-trip: %v", l, err)
		}
	}
	bad := []string{"", "fixed", "fixed:", "fixed:-1s", "fixed:5", "uniform:8s-2s", "uniform:2s", "normal:mean=5s",
		"normal:mean=5s,sd=1s,foo=2", "lognormal:median=5s", "lognormal:median=5s,p99=2s", "lognormal:median=0s,p99=2s",
		"lognormal:median=5s,p99=12s,sigma=1", "lognormal:median=5s,sigma=-1", "pareto:1s", "fixed:5s,cap=0s",
		"normal:mean=5s,mean=6s,sd=1s", "fixed:5s,x"}
	for _, in := range bad {
		if _, err := mockapi.ParseLatency(in); err == nil {
			t.Errorf("ParseLatency(%q) accepted", in)
		} else if !strings.Contains(err.Error(), "want fixed:5s") {
			t.Errorf("ParseLatency(%q) error does not show the accepted forms: %v", in, err)
		}
	}
}

// TestLatencyPercentiles samples each model with a fixed seed and checks
// the sample percentiles against the values the spec names. Tolerance: 2%
// of the spec value (the sampling error at n=100k is well under 1%).
func TestLatencyPercentiles(t *testing.T) {
	t.Parallel()
	const n = 100000
	tests := []struct {
		spec string
		want map[float64]time.Duration // quantile → value the spec implies
		mean time.Duration
	}{
		{"fixed:5s", map[float64]time.Duration{0.5: 5 * time.Second, 0.99: 5 * time.Second}, 5 * time.Second},
		{"uniform:2s-8s", map[float64]time.Duration{0.25: 3500 * time.Millisecond, 0.5: 5 * time.Second, 0.9: 7400 * time.Millisecond}, 5 * time.Second},
		{"normal:mean=5s,sd=1s", map[float64]time.Duration{0.5: 5 * time.Second, 0.8413: 6 * time.Second, 0.1587: 4 * time.Second}, 5 * time.Second},
		{"lognormal:median=5s,p99=12s", map[float64]time.Duration{0.5: 5 * time.Second, 0.99: 12 * time.Second}, 0},
		{"lognormal:median=5s,sigma=0.5", map[float64]time.Duration{0.5: 5 * time.Second, 0.8413: time.Duration(5 * math.Exp(0.5) * float64(time.Second))}, 0},
		{"lognormal:median=5s,p99=12s,cap=8s", map[float64]time.Duration{0.5: 5 * time.Second, 0.99: 8 * time.Second}, 0},
	}
	for _, tt := range tests {
		l := mockapi.MustLatency(tt.spec)
		rng := rand.New(rand.NewPCG(1, 2))
		samples := make([]time.Duration, n)
		var sum float64
		for i := range samples {
			samples[i] = l.Sample(rng.Float64())
			sum += float64(samples[i])
		}
		slices.Sort(samples)
		for q, want := range tt.want {
			got := samples[int(q*n)]
			if d := math.Abs(float64(got-want)) / float64(want); d > 0.02 {
				t.Errorf("%s: p%g = %v, want %v ± 2%%", tt.spec, q*100, got, want)
			}
		}
		if tt.mean > 0 {
			if got := time.Duration(sum / n); math.Abs(float64(got-tt.mean))/float64(tt.mean) > 0.01 {
				t.Errorf("%s: mean %v, want %v ± 1%%", tt.spec, got, tt.mean)
			}
		}
		// The analytic mean the harness's model uses agrees with the samples.
		if m := l.Mean(); math.Abs(float64(m)-sum/n)/(sum/n) > 0.01 {
			t.Errorf("%s: Mean() = %v, sample mean %v", tt.spec, m, time.Duration(sum/n))
		}
		if strings.Contains(tt.spec, "cap=8s") && samples[n-1] > 8*time.Second {
			t.Errorf("%s: max %v exceeds the cap", tt.spec, samples[n-1])
		}
	}
}

func TestLatencyScale(t *testing.T) {
	t.Parallel()
	l := mockapi.MustLatency("lognormal:median=5s,p99=12s,cap=30s").Scale(100)
	if got := l.Quantile(0.5); got != 50*time.Millisecond {
		t.Errorf("scaled median %v, want 50ms", got)
	}
	if got := l.Quantile(0.99); math.Abs(float64(got-120*time.Millisecond)) > float64(time.Millisecond) {
		t.Errorf("scaled p99 %v, want 120ms", got)
	}
	if got := mockapi.MustLatency("uniform:2s-8s").Scale(2).Quantile(0.999999); got < 3990*time.Millisecond || got > 4*time.Second {
		t.Errorf("scaled uniform max %v, want 4s", got)
	}
}
