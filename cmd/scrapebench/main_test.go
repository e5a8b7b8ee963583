package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/scrapebench/scrapebench/bench"
	"github.com/scrapebench/scrapebench/mockapi"
)

// runCmd runs the CLI in-process and returns its exit status and output.
func runCmd(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(ctx, args, &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func TestUsageAndUnknownCommand(t *testing.T) {
	t.Parallel()
	if code, out, _ := runCmd(context.Background(), "--help"); code != exitOK || !strings.Contains(out, "mock") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, _, errs := runCmd(context.Background(), "bogus"); code != exitUsage || !strings.Contains(errs, `unknown command "bogus"`) {
		t.Errorf("bogus: %d %q", code, errs)
	}
	code, out, _ := runCmd(context.Background(), "mock", "--help")
	if code != exitOK {
		t.Errorf("mock --help exit %d", code)
	}
	// Every flag is explained, with its default.
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("addr", "", "")
	bench.AddWorldFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(out, "--"+f.Name+" ") {
			t.Errorf("mock --help does not list --%s", f.Name)
		}
	})
	for _, want := range []string{"(default 0)", "(default seed)", "(default normal:mean=5s,sd=1s)", "(default 5s,30s,2m0s,10m0s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("mock --help lacks %q", want)
		}
	}
}

func TestMockFlagValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args  []string
		ok    bool
		check func(api, wall mockapi.Config) bool
		msg   string // on error: must name the flag and the accepted form
	}{
		{[]string{}, true, func(a, w mockapi.Config) bool { return a.QPS == 0 && a.Latency.String() == "normal:mean=5s,sd=1s" }, ""},
		{[]string{"--profile", "strict"}, true, func(a, w mockapi.Config) bool { return a.QPS == 2 && a.MaxConcurrency == 2 }, ""},
		{[]string{"--profile", "strict", "--qps", "5"}, true, func(a, w mockapi.Config) bool { return a.QPS == 5 && a.MaxConcurrency == 2 }, ""},
		{[]string{"--qps", "5", "--profile", "strict"}, true, func(a, w mockapi.Config) bool { return a.QPS == 5 }, ""},
		{[]string{"--profile", "chaos"}, true, func(a, w mockapi.Config) bool { return a.Faults.Duplicate > 0 && a.Faults.Loss > 0 }, ""},
		{[]string{"--profile", "chaos", "--dup-rate", "0"}, true, func(a, w mockapi.Config) bool { return a.Faults.Duplicate == 0 && a.Faults.Loss > 0 }, ""},
		{[]string{"--time-scale", "100", "--qps", "2", "--latency", "fixed:5s", "--delay", "10m"}, true, func(a, w mockapi.Config) bool {
			return w.QPS == 200 && w.Latency.Quantile(0.5) == 50*time.Millisecond && w.Delay == 6*time.Second && a.Delay == 10*time.Minute &&
				w.CallbackTimeout == mockapi.MinNetworkTimeout // network timeouts keep a floor
		}, ""},
		{[]string{"--latency", "lognormal:median=5s,p99=12s,cap=30s"}, true, func(a, w mockapi.Config) bool { return a.Latency.Quantile(0.5) == 5*time.Second }, ""},
		{[]string{"--error-codes", "4029,10000", "--error-rate", "0.5"}, true, func(a, w mockapi.Config) bool { return len(a.ErrorCodes) == 2 && a.Faults.Error == 0.5 }, ""},
		{[]string{"--callback-retries", ""}, true, func(a, w mockapi.Config) bool { return len(a.CallbackRetries) == 0 }, ""},
		{[]string{"--callback-retries", "1s,2s"}, true, func(a, w mockapi.Config) bool { return len(a.CallbackRetries) == 2 }, ""},
		{[]string{"--seed", "9", "--credits", "100.5", "--churn", "0.1"}, true, func(a, w mockapi.Config) bool { return a.Seed == 9 && a.Credits == 100.5 && a.Churn == 0.1 }, ""},
		{[]string{"--profile", "lax"}, false, nil, `"--profile" flag: want one of seed, strict, chaos`},
		{[]string{"--dup-rate", "1.5"}, false, nil, `"--dup-rate" flag: want a probability from 0 to 1`},
		{[]string{"--loss-rate", "-0.1"}, false, nil, `"--loss-rate" flag: want a probability`},
		{[]string{"--latency", "normal:mean=5s"}, false, nil, `"--latency" flag: latency "normal:mean=5s": missing sd=`},
		{[]string{"--submit-latency", "fast"}, false, nil, `"--submit-latency" flag`},
		{[]string{"--time-scale", "0"}, false, nil, `"--time-scale" flag: want a number > 0`},
		{[]string{"--qps", "-1"}, false, nil, `"--qps" flag: want a number ≥ 0`},
		{[]string{"--workers", "two"}, false, nil, `"--workers" flag: want a whole number ≥ 0`},
		{[]string{"--max-concurrency", "-2"}, false, nil, `"--max-concurrency" flag`},
		{[]string{"--delay", "-5s"}, false, nil, `"--delay" flag: want a duration ≥ 0`},
		{[]string{"--callback-post-timeout", "0s"}, false, nil, `"--callback-post-timeout" flag: want a duration > 0`},
		{[]string{"--callback-workers", "0"}, false, nil, `"--callback-workers" flag: want a whole number ≥ 1`},
		{[]string{"--error-codes", "4029,0"}, false, nil, `"--error-codes" flag: "0": want a comma-separated list of API error codes`},
		{[]string{"--error-codes", "1234"}, false, nil, `"--error-codes" flag`},
		{[]string{"--callback-retries", "5s,soon"}, false, nil, `"--callback-retries" flag: "soon"`},
		{[]string{"--seed", "x"}, false, nil, `"--seed" flag`},
		{[]string{"--token", ""}, false, nil, "token: must not be empty"},
		{[]string{"--nope"}, false, nil, "unknown flag: --nope"},
		{[]string{"extra"}, false, nil, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			fs := pflag.NewFlagSet("mock", pflag.ContinueOnError)
			w := bench.AddWorldFlags(fs)
			err := parseFlags(fs, tt.args)
			var api, wall mockapi.Config
			if err == nil {
				api, wall, err = w.Config()
				if err != nil {
					err = usageError{err}
				}
			}
			if tt.ok {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !tt.check(api, wall) {
					t.Errorf("config not as expected: %+v", api)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if _, isUsage := err.(usageError); !isUsage {
				t.Errorf("error %v is not a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestMockBadFlagExits2(t *testing.T) {
	t.Parallel()
	code, _, errs := runCmd(context.Background(), "mock", "--dup-rate", "2")
	if code != exitUsage || !strings.Contains(errs, "--dup-rate") || !strings.Contains(errs, "--help") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// TestMockServesAndShutsDown runs the subcommand on a free port, talks to
// it, then cancels its context as SIGINT would.
func TestMockServesAndShutsDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"mock", "--addr", "127.0.0.1:0", "--time-scale", "1000"}, &env{stdout: pw, stderr: io.Discard, getenv: func(string) string { return "" }})
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "listening on http://127.0.0.1:") {
		t.Fatalf("first line %q", sc.Text())
	}
	base := strings.TrimPrefix(sc.Text(), "listening on ")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after SIGINT, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mock did not shut down within 10s of SIGINT")
	}
}
