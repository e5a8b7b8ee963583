package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Flag values that check their own range, so that pflag's error names the
// flag and the accepted form: invalid argument "1.5" for "--dup-rate" flag:
// want a probability from 0 to 1. They are exported for cmd/scrapebench.

// Probability is a number from 0 to 1.
type Probability float64

func (p *Probability) String() string { return strconv.FormatFloat(float64(*p), 'g', -1, 64) }
func (p *Probability) Type() string   { return "0..1" }
func (p *Probability) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return fmt.Errorf("want a probability from 0 to 1, such as 0.05")
	}
	*p = Probability(v)
	return nil
}

// NonNegFloat is a number ≥ 0.
type NonNegFloat float64

func (f *NonNegFloat) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }
func (f *NonNegFloat) Type() string   { return "number" }
func (f *NonNegFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || v > 1e15 {
		return fmt.Errorf("want a number ≥ 0, such as 2 or 0.5")
	}
	*f = NonNegFloat(v)
	return nil
}

// PositiveFloat is a number > 0.
type PositiveFloat float64

func (f *PositiveFloat) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }
func (f *PositiveFloat) Type() string   { return "number" }
func (f *PositiveFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || v > 1e9 {
		return fmt.Errorf("want a number > 0, such as 1 or 600")
	}
	*f = PositiveFloat(v)
	return nil
}

// NonNegInt is a whole number ≥ 0.
type NonNegInt int

func (n *NonNegInt) String() string { return strconv.Itoa(int(*n)) }
func (n *NonNegInt) Type() string   { return "int" }
func (n *NonNegInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a whole number ≥ 0 (0 means no limit where the flag says so)")
	}
	*n = NonNegInt(v)
	return nil
}

// PositiveInt is a whole number ≥ 1.
type PositiveInt int

func (n *PositiveInt) String() string { return strconv.Itoa(int(*n)) }
func (n *PositiveInt) Type() string   { return "int" }
func (n *PositiveInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return fmt.Errorf("want a whole number ≥ 1")
	}
	*n = PositiveInt(v)
	return nil
}

// NonNegDuration is a duration ≥ 0.
type NonNegDuration time.Duration

func (d *NonNegDuration) String() string { return time.Duration(*d).String() }
func (d *NonNegDuration) Type() string   { return "duration" }
func (d *NonNegDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if s == "0" {
		v, err = 0, nil
	}
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration ≥ 0 such as 500ms, 5s or 2m")
	}
	*d = NonNegDuration(v)
	return nil
}

// PositiveDuration is a duration > 0.
type PositiveDuration time.Duration

func (d *PositiveDuration) String() string { return time.Duration(*d).String() }
func (d *PositiveDuration) Type() string   { return "duration" }
func (d *PositiveDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("want a duration > 0 such as 500ms, 5s or 2m")
	}
	*d = PositiveDuration(v)
	return nil
}

// DurationList is a comma-separated list of durations.
type DurationList []time.Duration

func (l *DurationList) String() string {
	parts := make([]string, len(*l))
	for i, d := range *l {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}
func (l *DurationList) Type() string { return "durations" }
func (l *DurationList) Set(s string) error {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		var d NonNegDuration
		if err := d.Set(p); err != nil {
			return fmt.Errorf("%q: want a comma-separated list of durations such as 5s,30s,2m (empty: no retries)", p)
		}
		out = append(out, time.Duration(d))
	}
	*l = out
	return nil
}

// CodeList is a comma-separated list of API error codes.
type CodeList []pangolin.Code

func (l *CodeList) String() string {
	parts := make([]string, len(*l))
	for i, c := range *l {
		parts[i] = strconv.Itoa(int(c))
	}
	return strings.Join(parts, ",")
}
func (l *CodeList) Type() string { return "codes" }
func (l *CodeList) Set(s string) error {
	var out []pangolin.Code
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v == 0 || !pangolin.Code(v).Known() {
			return fmt.Errorf("%q: want a comma-separated list of API error codes such as 4029,9200,10000,5000", p)
		}
		out = append(out, pangolin.Code(v))
	}
	*l = out
	return nil
}

// Choice is one of a fixed set of words.
type Choice struct {
	Value   string
	Allowed []string
}

func (c *Choice) String() string { return c.Value }
func (c *Choice) Type() string   { return strings.Join(c.Allowed, "|") }
func (c *Choice) Set(s string) error {
	for _, a := range c.Allowed {
		if s == a {
			c.Value = s
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(c.Allowed, ", "))
}
