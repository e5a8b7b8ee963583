package mockapi

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// LatencyForms is the accepted syntax of a latency model, for error messages.
const LatencyForms = "fixed:5s, uniform:2s-8s, normal:mean=5s,sd=1s, lognormal:median=5s,p99=12s or lognormal:median=5s,sigma=0.4, each optionally followed by ,cap=30s"

// Latency is a distribution of durations. The zero value is fixed:0.
// Samples are drawn by inverse transform from a uniform number the caller
// supplies, so a sample is a pure function of that number.
type Latency struct {
	kind  string        // fixed, uniform, normal, lognormal
	a, b  time.Duration // fixed: a; uniform: a..b; normal: mean a, sd b; lognormal: median a
	sigma float64       // lognormal
	p99   time.Duration // lognormal given by p99 (kept for String)
	cap   time.Duration // 0: none
}

// Fixed returns a latency that is always d.
func Fixed(d time.Duration) Latency { return Latency{kind: "fixed", a: d} }

// MustLatency parses s and panics on error; for literals in code.
func MustLatency(s string) Latency {
	l, err := ParseLatency(s)
	if err != nil {
		panic(err)
	}
	return l
}

// z99 is the standard normal quantile of 0.99.
var z99 = math.Sqrt2 * math.Erfinv(0.98)

// ParseLatency parses a model such as "lognormal:median=5s,p99=12s,cap=30s".
// A bare duration ("5s") means fixed.
func ParseLatency(s string) (Latency, error) {
	bad := func(why string) (Latency, error) {
		return Latency{}, fmt.Errorf("latency %q: %s; want %s", s, why, LatencyForms)
	}
	s = strings.TrimSpace(s)
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		d, err := parseNonNegDuration(s)
		if err != nil {
			return bad(err.Error())
		}
		return Fixed(d), nil
	}
	parts := strings.Split(rest, ",")
	var l Latency
	l.kind = kind
	kv := map[string]string{}
	positional := ""
	for i, p := range parts {
		k, v, isKV := strings.Cut(p, "=")
		if !isKV {
			if i != 0 {
				return bad(fmt.Sprintf("%q is not key=value", p))
			}
			positional = p
			continue
		}
		if _, dup := kv[k]; dup {
			return bad(fmt.Sprintf("%s given twice", k))
		}
		kv[k] = v
	}
	dur := func(key string) (time.Duration, error) {
		v, ok := kv[key]
		if !ok {
			return 0, fmt.Errorf("missing %s=", key)
		}
		delete(kv, key)
		d, err := parseNonNegDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return d, nil
	}
	if _, ok := kv["cap"]; ok {
		c, err := dur("cap")
		if err != nil {
			return bad(err.Error())
		}
		if c == 0 {
			return bad("cap must be positive")
		}
		l.cap = c
	}
	var err error
	switch kind {
	case "fixed":
		if positional == "" {
			return bad("fixed needs a duration, as in fixed:5s")
		}
		l.a, err = parseNonNegDuration(positional)
	case "uniform":
		lo, hi, ok := strings.Cut(positional, "-")
		if !ok {
			return bad("uniform needs lo-hi, as in uniform:2s-8s")
		}
		if l.a, err = parseNonNegDuration(lo); err == nil {
			if l.b, err = parseNonNegDuration(hi); err == nil && l.b < l.a {
				err = errors.New("uniform hi is below lo")
			}
		}
	case "normal":
		if positional != "" {
			return bad("normal takes mean= and sd=")
		}
		if l.a, err = dur("mean"); err == nil {
			l.b, err = dur("sd")
		}
	case "lognormal":
		if positional != "" {
			return bad("lognormal takes median= and p99= or sigma=")
		}
		if l.a, err = dur("median"); err != nil {
			break
		}
		if l.a == 0 {
			err = errors.New("median must be positive")
			break
		}
		sig, hasSigma := kv["sigma"]
		if hasSigma {
			delete(kv, "sigma")
			l.sigma, err = strconv.ParseFloat(sig, 64)
			if err == nil && (l.sigma < 0 || math.IsNaN(l.sigma) || math.IsInf(l.sigma, 0)) {
				err = errors.New("sigma must be a non-negative number")
			}
			if _, both := kv["p99"]; both && err == nil {
				err = errors.New("give p99= or sigma=, not both")
			}
			break
		}
		if l.p99, err = dur("p99"); err == nil {
			if l.p99 < l.a {
				err = errors.New("p99 is below the median")
			} else {
				l.sigma = math.Log(float64(l.p99)/float64(l.a)) / z99
			}
		}
	default:
		return bad(fmt.Sprintf("unknown model %q", kind))
	}
	if err != nil {
		return bad(err.Error())
	}
	for k := range kv {
		return bad(fmt.Sprintf("unknown key %q for %s", k, kind))
	}
	return l, nil
}

func parseNonNegDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 200ms or 5s", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// String returns the model in the syntax ParseLatency accepts.
func (l Latency) String() string {
	var s string
	switch l.kind {
	case "", "fixed":
		s = "fixed:" + l.a.String()
	case "uniform":
		s = fmt.Sprintf("uniform:%s-%s", l.a, l.b)
	case "normal":
		s = fmt.Sprintf("normal:mean=%s,sd=%s", l.a, l.b)
	case "lognormal":
		if l.p99 > 0 {
			s = fmt.Sprintf("lognormal:median=%s,p99=%s", l.a, l.p99)
		} else {
			s = fmt.Sprintf("lognormal:median=%s,sigma=%g", l.a, l.sigma)
		}
	}
	if l.cap > 0 {
		s += ",cap=" + l.cap.String()
	}
	return s
}

// Set implements pflag.Value.
func (l *Latency) Set(s string) error {
	v, err := ParseLatency(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Type implements pflag.Value.
func (l *Latency) Type() string { return "latency" }

// MarshalText encodes the model as its String.
func (l Latency) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText parses the model.
func (l *Latency) UnmarshalText(b []byte) error { return l.Set(string(b)) }

// Quantile returns the q-quantile (0 ≤ q < 1) of the model, cap applied.
func (l Latency) Quantile(q float64) time.Duration {
	q = math.Min(math.Max(q, 0), math.Nextafter(1, 0))
	var d float64
	switch l.kind {
	case "", "fixed":
		d = float64(l.a)
	case "uniform":
		d = float64(l.a) + q*float64(l.b-l.a)
	case "normal":
		d = float64(l.a) + float64(l.b)*normQuantile(q)
	case "lognormal":
		d = float64(l.a) * math.Exp(l.sigma*normQuantile(q))
	}
	if d < 0 || math.IsNaN(d) {
		d = 0
	}
	if l.cap > 0 && d > float64(l.cap) {
		d = float64(l.cap)
	}
	if d > math.MaxInt64/2 {
		d = math.MaxInt64 / 2
	}
	return time.Duration(d)
}

// Sample returns the sample of the model for the uniform number u in [0,1).
func (l Latency) Sample(u float64) time.Duration { return l.Quantile(u) }

// Mean returns the mean of the model, cap and clamping at zero included,
// by numerical integration of the quantile function.
func (l Latency) Mean() time.Duration {
	switch l.kind {
	case "", "fixed":
		return l.Quantile(0)
	}
	const n = 20000
	var sum float64
	for i := 0; i < n; i++ {
		sum += float64(l.Quantile((float64(i) + 0.5) / n))
	}
	return time.Duration(sum / n)
}

// Scale divides every duration of the model by f (f > 0): API time to wall
// time under --time-scale f.
func (l Latency) Scale(f float64) Latency {
	div := func(d time.Duration) time.Duration { return time.Duration(float64(d) / f) }
	l.a, l.cap, l.p99 = div(l.a), div(l.cap), div(l.p99)
	if l.kind == "uniform" || l.kind == "normal" {
		l.b = div(l.b)
	}
	return l
}

func normQuantile(q float64) float64 { return math.Sqrt2 * math.Erfinv(2*q-1) }
