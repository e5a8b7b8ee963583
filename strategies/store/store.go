// Package store is the Pebble-backed registry of a collection run: job
// states, task id → job, results, per-ASIN fingerprints, and callbacks
// parked because they beat their submit answer.
//
// It owns exactly-once storage: Claim is the only way a result is written,
// and the first claim of a job wins atomically among callbacks, duplicate
// callbacks and compensations. It knows nothing of HTTP or of strategies.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Key prefixes. Every key is prefix + id.
const (
	prefixJob     = "j/" // job id → JobRecord
	prefixTask    = "t/" // task id → job id
	prefixResult  = "r/" // job id → Result
	prefixFinger  = "f/" // ASIN → fingerprint
	prefixParked  = "e/" // task id → callback body that came before its task was known
	stripes       = 256
	maxParkedBody = 8 << 20
)

// State is where a job is in its life.
type State uint8

// Job states. Done and Failed are final.
const (
	StatePending   State = iota // registered, never submitted
	StateSubmitted              // submitted; waiting for its callback
	StateDone                   // its result is stored
	StateFailed                 // given up: the reason is in JobRecord.Error
)

func (s State) String() string {
	return [...]string{"pending", "submitted", "done", "failed"}[s]
}

// JobRecord is the registry's entry for one job.
type JobRecord struct {
	State        State  `json:"state"`
	TaskID       string `json:"task_id,omitempty"`      // latest submitted task
	SubmittedAt  int64  `json:"submitted_at,omitempty"` // unix nanoseconds, wall clock
	Submits      int    `json:"submits,omitempty"`
	Compensating bool   `json:"compensating,omitempty"` // the sync API was asked for it
	Source       string `json:"source,omitempty"`       // who stored the result
	Error        string `json:"error,omitempty"`
}

// Result is a stored result.
type Result struct {
	JobID       string          `json:"job"`
	ASIN        string          `json:"asin,omitempty"`
	Source      string          `json:"source"` // sync, callback or compensation
	TaskID      string          `json:"task_id,omitempty"`
	Data        json.RawMessage `json:"data"` // the scrape data, as pangolin.ScrapeData JSON
	Fingerprint string          `json:"fingerprint,omitempty"`
	StoredAt    int64           `json:"stored_at"` // unix nanoseconds
}

// Claim is the outcome of Store.Claim.
type Claim struct {
	Won bool // this result is now the job's; false: a duplicate, nothing written
	// Prior is the job record before the claim (for a lost claim: who won).
	Prior JobRecord
	// Changed: the ASIN had a different fingerprint before this result.
	Changed bool
	// New: the ASIN had no fingerprint before this result.
	New bool
}

// Options configure Open.
type Options struct {
	// FS is the file system; nil means the disk. Tests pass vfs.NewMem().
	FS vfs.FS
	// NoSync commits without fsync: faster, but a machine crash (not a
	// process crash) may lose the last writes. Reported by Durability.
	NoSync bool
	// Log receives Pebble's error messages; nil discards them.
	Log io.Writer
}

// Store is an open registry. It is safe for concurrent use.
type Store struct {
	db      *pebble.DB
	wo      *pebble.WriteOptions
	nosync  bool
	stripes [stripes]sync.Mutex
}

// Open opens or creates the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	po := &pebble.Options{FS: opts.FS, Logger: quietLogger{opts.Log}}
	if po.FS == nil {
		po.FS = vfs.Default
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w (is another run using it?)", dir, err)
	}
	s := &Store{db: db, wo: pebble.Sync, nosync: opts.NoSync}
	if opts.NoSync {
		s.wo = pebble.NoSync
	}
	return s, nil
}

// Close flushes and closes the store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Durability returns "sync" (every commit fsynced) or "nosync".
func (s *Store) Durability() string {
	if s.nosync {
		return "nosync"
	}
	return "sync"
}

func (s *Store) lock(id string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	m := &s.stripes[h.Sum32()%stripes]
	m.Lock()
	return m
}

// get returns a copy of the value at key, or nil and false.
func (s *Store) get(key string) ([]byte, bool, error) {
	v, closer, err := s.db.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store get %q: %w", key, err)
	}
	out := append([]byte(nil), v...)
	if err := closer.Close(); err != nil {
		return nil, false, fmt.Errorf("store get %q: %w", key, err)
	}
	return out, true, nil
}

func (s *Store) getJSON(key string, v any) (bool, error) {
	b, ok, err := s.get(key)
	if err != nil || !ok {
		return ok, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("store %q holds bad JSON: %w", key, err)
	}
	return true, nil
}

// commit applies the batch built by fill with the store's durability.
func (s *Store) commit(fill func(b *pebble.Batch) error) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := fill(b); err != nil {
		return err
	}
	if err := b.Commit(s.wo); err != nil {
		return fmt.Errorf("store commit: %w", err)
	}
	return nil
}

func setJSON(b *pebble.Batch, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Set([]byte(key), data, nil)
}

// Job returns the record of job id.
func (s *Store) Job(id string) (JobRecord, bool, error) {
	var rec JobRecord
	ok, err := s.getJSON(prefixJob+id, &rec)
	return rec, ok, err
}

// Register records ids as pending unless the store knows them already,
// and returns how many of ids it found in each state.
func (s *Store) Register(ids []string) (map[State]int, error) {
	counts := map[State]int{}
	const chunk = 4096
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		err := s.commit(func(b *pebble.Batch) error {
			for _, id := range part {
				rec, ok, err := s.Job(id)
				if err != nil {
					return err
				}
				if ok {
					counts[rec.State]++
					continue
				}
				counts[StatePending]++
				if err := setJSON(b, prefixJob+id, JobRecord{State: StatePending}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// update applies f to job id's record under the job's lock, unless the job
// is final; it reports whether it wrote.
func (s *Store) update(id string, f func(rec *JobRecord, b *pebble.Batch) error) (bool, error) {
	mu := s.lock(id)
	defer mu.Unlock()
	rec, _, err := s.Job(id)
	if err != nil {
		return false, err
	}
	if rec.State == StateDone || rec.State == StateFailed {
		return false, nil
	}
	return true, s.commit(func(b *pebble.Batch) error {
		if err := f(&rec, b); err != nil {
			return err
		}
		return setJSON(b, prefixJob+id, rec)
	})
}

// MarkSubmitted records that job id was submitted as task taskID at at.
// A job already done or failed is left alone (false).
func (s *Store) MarkSubmitted(id, taskID string, at time.Time) (bool, error) {
	return s.update(id, func(rec *JobRecord, b *pebble.Batch) error {
		rec.State, rec.TaskID, rec.SubmittedAt = StateSubmitted, taskID, at.UnixNano()
		rec.Submits++
		return b.Set([]byte(prefixTask+taskID), []byte(id), nil)
	})
}

// MarkCompensating records that the sync API was asked for job id.
func (s *Store) MarkCompensating(id string) (bool, error) {
	return s.update(id, func(rec *JobRecord, _ *pebble.Batch) error {
		rec.Compensating = true
		return nil
	})
}

// MarkFailed gives job id up with reason, unless it is done.
func (s *Store) MarkFailed(id, reason string) (bool, error) {
	return s.update(id, func(rec *JobRecord, _ *pebble.Batch) error {
		rec.State, rec.Error = StateFailed, reason
		return nil
	})
}

// JobForTask returns the job a task id was submitted for.
func (s *Store) JobForTask(taskID string) (string, bool, error) {
	b, ok, err := s.get(prefixTask + taskID)
	return string(b), ok, err
}

// Claim stores r as the result of r.JobID if no result is stored yet: the
// first claim wins, atomically (the job's lock is held until the commit
// returns, because Pebble makes a write visible before it is synced). It
// also marks the job done and updates the ASIN's fingerprint.
func (s *Store) Claim(r Result) (Claim, error) {
	mu := s.lock(r.JobID)
	defer mu.Unlock()
	var c Claim
	if _, err := s.getJSON(prefixJob+r.JobID, &c.Prior); err != nil {
		return c, err
	}
	if _, done, err := s.get(prefixResult + r.JobID); err != nil || done {
		return c, err
	}
	if r.StoredAt == 0 {
		r.StoredAt = time.Now().UnixNano()
	}
	if r.ASIN != "" && r.Fingerprint != "" {
		prev, ok, err := s.get(prefixFinger + r.ASIN)
		if err != nil {
			return c, err
		}
		c.New, c.Changed = !ok, ok && string(prev) != r.Fingerprint
	}
	rec := c.Prior
	rec.State, rec.Source, rec.Error = StateDone, r.Source, ""
	if r.TaskID != "" {
		rec.TaskID = r.TaskID
	}
	err := s.commit(func(b *pebble.Batch) error {
		if err := setJSON(b, prefixResult+r.JobID, r); err != nil {
			return err
		}
		if r.ASIN != "" && r.Fingerprint != "" {
			if err := b.Set([]byte(prefixFinger+r.ASIN), []byte(r.Fingerprint), nil); err != nil {
				return err
			}
		}
		return setJSON(b, prefixJob+r.JobID, rec)
	})
	if err != nil {
		return Claim{}, err
	}
	c.Won = true
	return c, nil
}

// Result returns the stored result of job id.
func (s *Store) Result(id string) (Result, bool, error) {
	var r Result
	ok, err := s.getJSON(prefixResult+id, &r)
	return r, ok, err
}

// Fingerprint returns the stored fingerprint of asin.
func (s *Store) Fingerprint(asin string) (string, bool, error) {
	b, ok, err := s.get(prefixFinger + asin)
	return string(b), ok, err
}

// Park keeps the body of a callback whose task id is not known (yet); a
// task keeps its first parked callback. It reports whether the task had
// none parked, and refuses bodies over 8 MiB.
func (s *Store) Park(taskID string, body []byte) (bool, error) {
	if len(body) > maxParkedBody {
		return false, fmt.Errorf("park %s: body of %d bytes is over %d", taskID, len(body), maxParkedBody)
	}
	mu := s.lock(prefixParked + taskID)
	defer mu.Unlock()
	if _, had, err := s.get(prefixParked + taskID); err != nil || had {
		return false, err
	}
	return true, s.commit(func(b *pebble.Batch) error { return b.Set([]byte(prefixParked+taskID), body, nil) })
}

// TakeParked removes and returns the parked callback of taskID.
func (s *Store) TakeParked(taskID string) ([]byte, bool, error) {
	mu := s.lock(prefixParked + taskID)
	defer mu.Unlock()
	body, ok, err := s.get(prefixParked + taskID)
	if err != nil || !ok {
		return nil, ok, err
	}
	return body, true, s.commit(func(b *pebble.Batch) error { return b.Delete([]byte(prefixParked+taskID), nil) })
}

// Jobs calls f for every job, in id order, until f returns an error.
func (s *Store) Jobs(f func(id string, rec JobRecord) error) error {
	return s.scan(prefixJob, func(k, v []byte) error {
		var rec JobRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("job %q: %w", k, err)
		}
		return f(string(k), rec)
	})
}

// Results calls f for every stored result, in job id order.
func (s *Store) Results(f func(r Result) error) error {
	return s.scan(prefixResult, func(k, v []byte) error {
		var r Result
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("result %q: %w", k, err)
		}
		return f(r)
	})
}

// ParkedTasks returns the task ids of parked callbacks.
func (s *Store) ParkedTasks() ([]string, error) {
	var ids []string
	err := s.scan(prefixParked, func(k, _ []byte) error {
		ids = append(ids, string(k))
		return nil
	})
	return ids, err
}

// scan calls f with the key (prefix removed) and value of every key under
// prefix. The slices are valid only during the call.
func (s *Store) scan(prefix string, f func(k, v []byte) error) (err error) {
	upper := []byte(prefix)
	upper[len(upper)-1]++
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: upper})
	if err != nil {
		return fmt.Errorf("store scan %q: %w", prefix, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("store scan %q: %w", prefix, cerr)
		}
	}()
	for it.First(); it.Valid(); it.Next() {
		v, verr := it.ValueAndErr()
		if verr != nil {
			return fmt.Errorf("store scan %q: %w", prefix, verr)
		}
		if err := f(it.Key()[len(prefix):], v); err != nil {
			return err
		}
	}
	return it.Error()
}

// quietLogger drops Pebble's informational messages and writes errors to w.
type quietLogger struct{ w io.Writer }

func (l quietLogger) Infof(string, ...any) {}
func (l quietLogger) Errorf(format string, args ...any) {
	if l.w != nil {
		fmt.Fprintf(l.w, "pebble: "+format+"\n", args...)
	}
}
func (l quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...)) // Pebble's contract: Fatalf must not return
}
