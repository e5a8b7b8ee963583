package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scrapebench/scrapebench/bench"
	"github.com/scrapebench/scrapebench/mockapi"
)

// TestMain lets the test binary stand in for scrapebench: the runner starts
// the mock as `<this executable> mock ...`, and the child runs main.
func TestMain(m *testing.M) {
	if os.Getenv("SCRAPEBENCH_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Setenv("SCRAPEBENCH_TEST_AS_MAIN", "1") // inherited by the mock children only
	os.Exit(m.Run())
}

func runWithEnv(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := run(context.Background(), args, &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }})
	return code, out.String(), errb.String()
}

// TestRunSmokeWithMockProcess runs the smoke scenario the way a user does:
// the mock is a child process, the report goes to stdout and to files.
func TestRunSmokeWithMockProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errs := runWithEnv(t, nil, "run", "--scenario", "smoke", "--asins", "25", "--progress", "off",
		"--out", filepath.Join(dir, "r.json"), "--out", filepath.Join(dir, "r.md"), "--out", filepath.Join(dir, "r.csv"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "25/25 ✓") || !strings.Contains(out, "COMPLETION (API TIME)") {
		t.Errorf("stdout:\n%s", out)
	}
	rep, err := bench.ReadReport(filepath.Join(dir, "r.json"))
	if err != nil || len(rep.Runs) != 4 || rep.Manifest.Mock != bench.MockProcess {
		t.Fatalf("report: %v %+v", err, rep)
	}
	for _, r := range rep.Runs {
		if r.MockCPUs <= 0 {
			t.Errorf("%s: the mock child's CPU was not measured", r.Strategy)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "r.md"))
	cs, _ := os.ReadFile(filepath.Join(dir, "r.csv"))
	if !strings.Contains(string(md), "| serial") || !strings.HasPrefix(string(cs), "strategy,repetition") {
		t.Errorf("md/csv not written as their extensions say")
	}
}

// TestLostResultsWithoutCompensationExit1: a run that loses results (every
// callback lost, compensation off) exits 1 and names the missing jobs.
func TestLostResultsWithoutCompensationExit1(t *testing.T) {
	t.Parallel()
	code, out, errs := runWithEnv(t, nil, "run", "--scenario", "smoke", "--strategies", "async", "--asins", "12",
		"--loss-rate", "0.5", "--no-compensation", "--callback-timeout", "20s", "--mock", "inprocess", "--progress", "off")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "results are missing") || !strings.Contains(errs, "missing B0000000") {
		t.Errorf("stderr does not name the missing jobs:\n%s", errs)
	}
	if !strings.Contains(out, "/12 ✗") {
		t.Errorf("table does not mark the run incomplete:\n%s", out)
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	asins := filepath.Join(t.TempDir(), "asins.txt")
	os.WriteFile(asins, []byte("B0DYTF8L2W\n"), 0o644)
	tok := map[string]string{"PANGOLIN_TOKEN": "x"}
	tests := []struct {
		vars map[string]string
		args []string
		msg  string
	}{
		{tok, []string{"--endpoint", "http://127.0.0.1:9", "--asin-file", asins, "--strategies", "serial"}, "without --max-credits"},
		{nil, []string{"--endpoint", "http://127.0.0.1:9", "--max-credits", "5", "--asin-file", asins}, "PANGOLIN_TOKEN"},
		{tok, []string{"--endpoint", "http://127.0.0.1:9", "--max-credits", "5", "--strategies", "serial"}, "--asin-file"},
		{tok, []string{"--endpoint", "http://127.0.0.1:9", "--max-credits", "5", "--asin-file", asins, "--strategies", "async"}, "--callback-url"},
		{tok, []string{"--endpoint", "http://127.0.0.1:9", "--max-credits", "5", "--asin-file", asins, "--strategies", "serial", "--time-scale", "10"}, "--time-scale is for the mock"},
		{nil, []string{"--strategies", "parallel"}, `strategy "parallel"`},
		{nil, []string{"--scenario", "nope"}, "not a built-in"},
		{nil, []string{"--resume"}, "--resume needs --store"},
		{nil, []string{"--format", "yaml"}, "--format"},
		{nil, []string{"--progress", "sometimes"}, `"--progress" flag`},
		{nil, []string{"--callback-url", "http://x/cb"}, "for the real API"},
		{nil, []string{"--asin-file", "/no/such/file", "--dry-run"}, "asin file"},
	}
	for _, tt := range tests {
		code, _, errs := runWithEnv(t, tt.vars, append([]string{"run"}, tt.args...)...)
		if code != exitUsage || !strings.Contains(errs, tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errs, tt.msg)
		}
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	asins := filepath.Join(t.TempDir(), "asins.txt")
	os.WriteFile(asins, []byte("B0DYTF8L2W\nB07XYZ1234\nB000000001\n"), 0o644)
	code, out, errs := runWithEnv(t, map[string]string{"PANGOLIN_TOKEN": "x"}, "run", "--endpoint", "http://127.0.0.1:9",
		"--max-credits", "4", "--asin-file", asins, "--strategies", "serial,concurrent:2", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"nothing is sent", "serial", "3 sync scrape requests", "estimate: 6 credits", "over --max-credits 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
}

// TestTokenNeverWritten runs against an "endpoint" (a mock whose token is
// a recognisable string) with PANGOLIN_TOKEN, once with the right token and
// once with a wrong one, and looks for either token in everything written.
func TestTokenNeverWritten(t *testing.T) {
	t.Parallel()
	const secret = "tok-SECRET-7f3a9c2e51"
	const wrong = "tok-WRONG-0b8d44e6aa"
	cfg, _ := mockapi.Profile("seed")
	cfg.Token = secret
	cfg.Latency, cfg.SubmitLatency = mockapi.Fixed(0), mockapi.Fixed(0)
	m, err := mockapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	defer func() { m.Close(); srv.Close() }()
	dir := t.TempDir()
	asins := filepath.Join(dir, "asins.txt")
	os.WriteFile(asins, []byte("B0DYTF8L2W\nB07XYZ1234\nB000000001\n"), 0o644)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := ln.Addr().String()
	ln.Close()

	for _, token := range []string{secret, wrong} {
		vars := map[string]string{"PANGOLIN_TOKEN": token, "PANGOLIN_CALLBACK_TOKEN": cfg.CallbackToken}
		out := filepath.Join(dir, "report-"+token[:9]+".json")
		code, stdout, stderr := runWithEnv(t, vars, "run", "--endpoint", srv.URL, "--max-credits", "100", "--asin-file", asins,
			"--strategies", "serial,async", "--callback-url", "http://"+listen+"/api/callback", "--callback-listen", listen,
			"--store", filepath.Join(dir, "store-"+token[:9]), "--progress", "off", "--format", "json", "--out", out)
		if token == secret && code != exitOK {
			t.Fatalf("good token: exit %d\n%s", code, stderr)
		}
		if token == wrong && (code != exitFailed || !strings.Contains(stderr, "PANGOLIN_TOKEN")) {
			t.Errorf("wrong token: exit %d, stderr %q; want 1 and advice about PANGOLIN_TOKEN", code, stderr)
		}
		written := stdout + stderr
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && !strings.HasSuffix(p, "asins.txt") {
				b, _ := os.ReadFile(p)
				written += string(b)
			}
			return nil
		})
		for _, tk := range []string{secret, wrong} {
			if strings.Contains(written, tk) {
				t.Errorf("run with PANGOLIN_TOKEN=%s wrote the token %s (stdout, stderr, report or store)", token[:9], tk[:9])
			}
		}
		if token == secret {
			var rep bench.Report
			b, _ := os.ReadFile(out)
			if err := json.Unmarshal(b, &rep); err != nil || len(rep.Runs) != 2 || rep.Manifest.Endpoint != srv.URL || !rep.Runs[1].Complete {
				t.Errorf("report against the endpoint: %v %+v", err, rep.Manifest)
			}
		}
	}
}
