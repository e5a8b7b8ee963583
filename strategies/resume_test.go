package strategies_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scrapebench/scrapebench/mockapi"
	"github.com/scrapebench/scrapebench/strategies"
	"github.com/scrapebench/scrapebench/strategies/pangolin"
	"github.com/scrapebench/scrapebench/strategies/store"
)

const childEnv = "SCRAPEBENCH_ASYNC_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(asyncChild())
	}
	os.Exit(m.Run())
}

// asyncChild runs the async strategy as the crash test's child process,
// configured by environment variables; it prints "stored <id>" as results
// are stored and "stats <json>" at the end.
func asyncChild() int {
	n, _ := strconv.Atoi(os.Getenv("CHILD_JOBS"))
	client, err := pangolin.NewClient(os.Getenv("CHILD_MOCK"), os.Getenv("CHILD_TOKEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := store.Open(os.Getenv("CHILD_STORE"), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	strat, err := strategies.NewAsync(strategies.AsyncOptions{
		Client: client, Listen: os.Getenv("CHILD_LISTEN"), CallbackToken: os.Getenv("CHILD_CB_TOKEN"),
		SubmitConcurrency: 4, CallbackTimeout: time.Second, Retry: fastRetry, RequestTimeout: 5 * time.Second,
		Resume: os.Getenv("CHILD_RESUME") != "",
		Hooks: strategies.Hooks{OnStored: func(id, _ string, _ time.Duration) {
			fmt.Fprintf(os.Stdout, "stored %s\n", id) // unbuffered: the parent counts these
		}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	st, err := strat.Run(context.Background(), productJobs(n, ""), s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(st)
	fmt.Fprintf(os.Stdout, "stats %s\n", b)
	return 0
}

// TestCrashAndResume: the async strategy, in a child process, is killed
// with SIGKILL after a third of the results are stored, then restarted with
// resume on the same store. Every job ends stored exactly once with the
// catalog's product, and the credits spent are N + resubmits +
// compensations, where resubmits (tasks the API accepted but the killed
// run never recorded) are at most the submits in flight at the kill.
func TestCrashAndResume(t *testing.T) {
	t.Parallel()
	const n = 400
	const submitConcurrency = 4
	cfg := fastChaos()
	cfg.Faults = mockapi.FaultRates{Duplicate: 0.2, Early: 0.1}
	cfg.Latency = mockapi.MustLatency("uniform:20ms-80ms")
	cfg.SubmitLatency = mockapi.MustLatency("fixed:5ms")
	// Callbacks refused while the child is dead are retried.
	cfg.CallbackRetries = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	w := newWorld(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port both children use
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()

	child := func(resume bool) (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_JOBS="+strconv.Itoa(n), "CHILD_MOCK="+w.srv.URL,
			"CHILD_TOKEN="+cfg.Token, "CHILD_CB_TOKEN="+cfg.CallbackToken, "CHILD_STORE="+dir, "CHILD_LISTEN="+listen)
		if resume {
			cmd.Env = append(cmd.Env, "CHILD_RESUME=1")
		}
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewScanner(out)
	}

	first, lines := child(false)
	storedBefore := 0
	for storedBefore < n/3 && lines.Scan() {
		if strings.HasPrefix(lines.Text(), "stored ") {
			storedBefore++
		}
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = first.Wait()
	if storedBefore < n/3 {
		t.Fatalf("the first run stored only %d results before it ended", storedBefore)
	}

	second, lines := child(true)
	var st strategies.Stats
	storedAfter := 0
	for lines.Scan() {
		line := lines.Text()
		switch {
		case strings.HasPrefix(line, "stored "):
			storedAfter++
		case strings.HasPrefix(line, "stats "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "stats ")), &st); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("resumed run: %v", err)
	}

	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bySource := verify(t, s, productJobs(n, ""), w.mock.Catalog(), 0)
	if st.Skipped+st.Stored != n {
		t.Errorf("resumed run: skipped %d + stored %d != %d", st.Skipped, st.Stored, n)
	}
	if st.Skipped < int64(storedBefore) {
		t.Errorf("resumed run skipped %d, but %d were stored before the kill", st.Skipped, storedBefore)
	}

	w.mock.Close()
	ms := w.mock.Stats()
	accepted, compensations := ms.Tasks.Accepted, ms.Total("scrape", 0)
	resubmits := accepted - n
	t.Logf("n=%d: %d stored before SIGKILL, %d after resume (skipped %d); by source %v", n, storedBefore, storedAfter, st.Skipped, bySource)
	t.Logf("credits %v = %d jobs + %d resubmits + %d compensations (accepted submits %d)", ms.CreditsCharged, n, resubmits, compensations, accepted)
	if resubmits < 0 || resubmits > submitConcurrency {
		t.Errorf("%d resubmits: want 0..%d (only the submits in flight at the kill can be lost)", resubmits, submitConcurrency)
	}
	if ms.CreditsCharged != float64(n+resubmits+compensations) {
		t.Errorf("credits %v != %d + %d + %d", ms.CreditsCharged, n, resubmits, compensations)
	}
}
