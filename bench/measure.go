package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/scrapebench/scrapebench/strategies"
	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Percentiles of a latency, in API milliseconds.
type Percentiles struct {
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Count int64   `json:"count"`
}

// histogram is an HDR histogram of wall microseconds, safe for concurrent use.
type histogram struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newHistogram() *histogram {
	return &histogram{h: hdrhistogram.New(1, int64(2*time.Hour/time.Microsecond), 3)}
}

func (h *histogram) record(d time.Duration) {
	us := max(1, d.Microseconds())
	h.mu.Lock()
	_ = h.h.RecordValue(us) // values over 2 h are clamped by the error; they do not occur at any sane scale
	h.mu.Unlock()
}

// api returns the percentiles in API milliseconds under time scale scale.
func (h *histogram) api(scale float64) Percentiles {
	h.mu.Lock()
	defer h.mu.Unlock()
	ms := func(us int64) float64 { return round3(float64(us) * scale / 1000) }
	return Percentiles{P50: ms(h.h.ValueAtQuantile(50)), P95: ms(h.h.ValueAtQuantile(95)),
		P99: ms(h.h.ValueAtQuantile(99)), Max: ms(h.h.Max()), Count: h.h.TotalCount()}
}

func round3(v float64) float64 {
	return float64(int64(v*1000+0.5)) / 1000
}

// recorder measures one run through the strategies' hooks.
type recorder struct {
	request   *histogram // one sync scrape call (compensations included)
	submitAck *histogram // one async submit call
	job       *histogram // sync: job's first request → stored; async: submit → stored
}

func newRecorder() *recorder {
	return &recorder{request: newHistogram(), submitAck: newHistogram(), job: newHistogram()}
}

func (r *recorder) hooks() strategies.Hooks {
	return strategies.Hooks{
		OnRequest: func(kind string, d time.Duration, _ pangolin.Code, _ error) {
			if kind == "submit" {
				r.submitAck.record(d)
			} else {
				r.request.record(d)
			}
		},
		OnStored: func(_, _ string, d time.Duration) { r.job.record(d) },
	}
}

// chainHooks calls each set of hooks in turn.
func chainHooks(all ...strategies.Hooks) strategies.Hooks {
	var h strategies.Hooks
	h.OnStart = func(kind string) {
		for _, x := range all {
			if x.OnStart != nil {
				x.OnStart(kind)
			}
		}
	}
	h.OnRequest = func(kind string, d time.Duration, code pangolin.Code, err error) {
		for _, x := range all {
			if x.OnRequest != nil {
				x.OnRequest(kind, d, code, err)
			}
		}
	}
	h.OnStored = func(id, source string, d time.Duration) {
		for _, x := range all {
			if x.OnStored != nil {
				x.OnStored(id, source, d)
			}
		}
	}
	h.OnFailed = func(id, reason string) {
		for _, x := range all {
			if x.OnFailed != nil {
				x.OnFailed(id, reason)
			}
		}
	}
	h.OnCallback = func(outcome string) {
		for _, x := range all {
			if x.OnCallback != nil {
				x.OnCallback(outcome)
			}
		}
	}
	return h
}

// cpuSeconds returns this process's user + system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// resetPeakRSS resets the kernel's high-water mark of this process's RSS
// (Linux ≥ 4.0), so that peakRSS measures one run; it reports whether it
// could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns the process's peak resident set in bytes: VmHWM, or the
// rusage maximum where /proc is not there.
func peakRSS() int64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		return ru.Maxrss * 1024
	}
	return 0
}

// lagProbe measures how late a 10 ms ticker fires: when the harness's
// goroutines are starved, its own timing is suspect.
type lagProbe struct {
	h    *histogram
	stop chan struct{}
	done chan struct{}
}

func startLagProbe() *lagProbe {
	p := &lagProbe{h: newHistogram(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		const every = 10 * time.Millisecond
		next := time.Now().Add(every)
		t := time.NewTimer(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case now := <-t.C:
				p.h.record(now.Sub(next))
				next = now.Add(every)
				t.Reset(every)
			}
		}
	}()
	return p
}

// p99 stops the probe and returns its 99th-percentile lateness.
func (p *lagProbe) finish() time.Duration {
	close(p.stop)
	<-p.done
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	return time.Duration(p.h.h.ValueAtQuantile(99)) * time.Microsecond
}

func numCPU() int { return runtime.NumCPU() }
