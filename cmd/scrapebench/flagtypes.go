package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Flag values that check their own range, so that pflag's error names the
// flag and the accepted form: invalid argument "1.5" for "--dup-rate" flag:
// want a probability from 0 to 1.

type probability float64

func (p *probability) String() string { return strconv.FormatFloat(float64(*p), 'g', -1, 64) }
func (p *probability) Type() string   { return "0..1" }
func (p *probability) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return fmt.Errorf("want a probability from 0 to 1, such as 0.05")
	}
	*p = probability(v)
	return nil
}

type nonNegFloat float64

func (f *nonNegFloat) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }
func (f *nonNegFloat) Type() string   { return "number" }
func (f *nonNegFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || v > 1e15 {
		return fmt.Errorf("want a number ≥ 0, such as 2 or 0.5")
	}
	*f = nonNegFloat(v)
	return nil
}

type positiveFloat float64

func (f *positiveFloat) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }
func (f *positiveFloat) Type() string   { return "number" }
func (f *positiveFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || v > 1e9 {
		return fmt.Errorf("want a number > 0, such as 1 or 600")
	}
	*f = positiveFloat(v)
	return nil
}

type nonNegInt int

func (n *nonNegInt) String() string { return strconv.Itoa(int(*n)) }
func (n *nonNegInt) Type() string   { return "int" }
func (n *nonNegInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a whole number ≥ 0 (0 means no limit where the flag says so)")
	}
	*n = nonNegInt(v)
	return nil
}

type positiveInt int

func (n *positiveInt) String() string { return strconv.Itoa(int(*n)) }
func (n *positiveInt) Type() string   { return "int" }
func (n *positiveInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return fmt.Errorf("want a whole number ≥ 1")
	}
	*n = positiveInt(v)
	return nil
}

type nonNegDuration time.Duration

func (d *nonNegDuration) String() string { return time.Duration(*d).String() }
func (d *nonNegDuration) Type() string   { return "duration" }
func (d *nonNegDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if s == "0" {
		v, err = 0, nil
	}
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration ≥ 0 such as 500ms, 5s or 2m")
	}
	*d = nonNegDuration(v)
	return nil
}

type positiveDuration time.Duration

func (d *positiveDuration) String() string { return time.Duration(*d).String() }
func (d *positiveDuration) Type() string   { return "duration" }
func (d *positiveDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("want a duration > 0 such as 500ms, 5s or 2m")
	}
	*d = positiveDuration(v)
	return nil
}

type durationList []time.Duration

func (l *durationList) String() string {
	parts := make([]string, len(*l))
	for i, d := range *l {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}
func (l *durationList) Type() string { return "durations" }
func (l *durationList) Set(s string) error {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		var d nonNegDuration
		if err := d.Set(p); err != nil {
			return fmt.Errorf("%q: want a comma-separated list of durations such as 5s,30s,2m (empty: no retries)", p)
		}
		out = append(out, time.Duration(d))
	}
	*l = out
	return nil
}

type codeList []pangolin.Code

func (l *codeList) String() string {
	parts := make([]string, len(*l))
	for i, c := range *l {
		parts[i] = strconv.Itoa(int(c))
	}
	return strings.Join(parts, ",")
}
func (l *codeList) Type() string { return "codes" }
func (l *codeList) Set(s string) error {
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

type choice struct {
	value   string
	allowed []string
}

func (c *choice) String() string { return c.value }
func (c *choice) Type() string   { return strings.Join(c.allowed, "|") }
func (c *choice) Set(s string) error {
	for _, a := range c.allowed {
		if s == a {
			c.value = s
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(c.allowed, ", "))
}
