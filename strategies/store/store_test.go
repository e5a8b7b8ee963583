package store_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/scrapebench/scrapebench/strategies/store"
)

func openMem(t *testing.T, fs vfs.FS) *store.Store {
	t.Helper()
	s, err := store.Open("db", store.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClaimRace: 64 goroutines claim one job; exactly one wins, and the
// stored result is the winner's.
func TestClaimRace(t *testing.T) {
	t.Parallel()
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	if _, err := s.Register([]string{"job"}); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			src := fmt.Sprintf("claimant-%d", i)
			c, err := s.Claim(store.Result{JobID: "job", Source: src, Data: json.RawMessage(`{}`)})
			if err != nil {
				t.Error(err)
				return
			}
			if c.Won {
				wins.Add(1)
				winner.Store(src)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims won, want exactly 1", wins.Load())
	}
	r, ok, err := s.Result("job")
	if err != nil || !ok || r.Source != winner.Load().(string) {
		t.Errorf("stored %+v (%v %v), winner %v", r, ok, err, winner.Load())
	}
	rec, _, _ := s.Job("job")
	if rec.State != store.StateDone || rec.Source != r.Source {
		t.Errorf("job record %+v", rec)
	}
}

func TestRegistryLifecycleSurvivesReopen(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	s := openMem(t, fs)
	counts, err := s.Register([]string{"a", "b", "c"})
	if err != nil || counts[store.StatePending] != 3 {
		t.Fatalf("Register: %v %v", counts, err)
	}
	now := time.Now()
	if ok, err := s.MarkSubmitted("a", "task-a", now); !ok || err != nil {
		t.Fatalf("MarkSubmitted: %v %v", ok, err)
	}
	if _, err := s.MarkSubmitted("b", "task-b", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(store.Result{JobID: "b", ASIN: "B1", Source: "callback", Fingerprint: "f1", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.MarkSubmitted("b", "task-b2", now); ok {
		t.Error("MarkSubmitted changed a done job")
	}
	if ok, _ := s.MarkFailed("c", "bad zipcode"); !ok {
		t.Error("MarkFailed refused a pending job")
	}
	if fresh, err := s.Park("orphan", []byte(`{"taskId":"orphan"}`)); err != nil || !fresh {
		t.Fatal(fresh, err)
	}
	if fresh, err := s.Park("orphan", []byte(`{"taskId":"orphan","dup":1}`)); err != nil || fresh {
		t.Fatalf("a second park of one task: fresh=%v err=%v", fresh, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openMem(t, fs)
	defer s.Close()
	counts, _ = s.Register([]string{"a", "b", "c", "d"})
	if counts[store.StateSubmitted] != 1 || counts[store.StateDone] != 1 || counts[store.StateFailed] != 1 || counts[store.StatePending] != 1 {
		t.Errorf("after reopen: %v", counts)
	}
	if id, ok, _ := s.JobForTask("task-a"); !ok || id != "a" {
		t.Errorf("JobForTask(task-a) = %q %v", id, ok)
	}
	rec, _, _ := s.Job("a")
	if rec.State != store.StateSubmitted || rec.SubmittedAt != now.UnixNano() || rec.Submits != 1 {
		t.Errorf("job a: %+v", rec)
	}
	states := map[string]store.State{}
	_ = s.Jobs(func(id string, rec store.JobRecord) error { states[id] = rec.State; return nil })
	if len(states) != 4 || states["c"] != store.StateFailed {
		t.Errorf("Jobs: %v", states)
	}
	if ids, _ := s.ParkedTasks(); len(ids) != 1 || ids[0] != "orphan" {
		t.Errorf("ParkedTasks = %v", ids)
	}
	body, ok, err := s.TakeParked("orphan")
	if !ok || err != nil || string(body) != `{"taskId":"orphan"}` {
		t.Errorf("TakeParked = %s %v %v", body, ok, err)
	}
	if _, ok, _ := s.TakeParked("orphan"); ok {
		t.Error("a parked callback was taken twice")
	}
	var n int
	_ = s.Results(func(store.Result) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d results", n)
	}
}

func TestFingerprintChange(t *testing.T) {
	t.Parallel()
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	claim := func(job, fp string) store.Claim {
		c, err := s.Claim(store.Result{JobID: job, ASIN: "B1", Source: "sync", Fingerprint: fp, Data: json.RawMessage(`{}`)})
		if err != nil || !c.Won {
			t.Fatalf("claim %s: %+v %v", job, c, err)
		}
		return c
	}
	if c := claim("r0", "x"); !c.New || c.Changed {
		t.Errorf("first sighting: %+v", c)
	}
	if c := claim("r1", "x"); c.New || c.Changed {
		t.Errorf("same fingerprint: %+v", c)
	}
	if c := claim("r2", "y"); c.New || !c.Changed {
		t.Errorf("new fingerprint: %+v", c)
	}
	if fp, _, _ := s.Fingerprint("B1"); fp != "y" {
		t.Errorf("fingerprint %q", fp)
	}
}

func TestDurabilityReported(t *testing.T) {
	t.Parallel()
	for _, nosync := range []bool{false, true} {
		s, err := store.Open("db", store.Options{FS: vfs.NewMem(), NoSync: nosync})
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "sync", true: "nosync"}[nosync]
		if s.Durability() != want {
			t.Errorf("Durability() = %q, want %q", s.Durability(), want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenLockedStoreFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := store.Open(dir, store.Options{}); err == nil {
		t.Error("a second Open of a store in use succeeded")
	}
}
