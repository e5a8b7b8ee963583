package mockapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scrapebench/scrapebench/mockapi"
	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// quietConfig is the seed profile with zero latency and no faults: tests
// switch on what they check.
func quietConfig() mockapi.Config {
	c, _ := mockapi.Profile("seed")
	c.Latency = mockapi.Fixed(0)
	c.SubmitLatency = mockapi.Fixed(0)
	c.CallbackRetries = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	c.CallbackTimeout = 5 * time.Second
	c.DupSpread = 20 * time.Millisecond
	return c
}

type harness struct {
	mock   *mockapi.Mock
	srv    *httptest.Server
	client *pangolin.Client
}

func startMock(t *testing.T, mutate func(*mockapi.Config)) *harness {
	t.Helper()
	cfg := quietConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := mockapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	t.Cleanup(func() {
		m.Close() // ends sleeping handlers first, so that srv.Close does not wait for them
		srv.Close()
	})
	c, err := pangolin.NewClient(srv.URL, cfg.Token, pangolin.WithHTTPClient(pangolin.NewHTTPClient(16, 30*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{mock: m, srv: srv, client: c}
}

func scrapeReq(asin string) pangolin.ScrapeRequest {
	return pangolin.ScrapeRequest{URL: pangolin.ProductURL(asin), ParserName: pangolin.ParserProductDetail,
		Format: pangolin.FormatJSON, BizContext: &pangolin.BizContext{Zipcode: "10041"}}
}

func submitReq(asin, callbackURL string) pangolin.SubmitRequest {
	return pangolin.SubmitRequest{URL: pangolin.ProductURL(asin), CallbackURL: callbackURL,
		BizKey: pangolin.ParserProductDetail, Zipcode: "10041"}
}

// receiver is a callback endpoint that records what it gets.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    map[string][]*pangolin.Callback // task id → callbacks, in arrival order
	at     map[string]time.Time            // task id → first arrival
	auth   []string
	posts  int
	status func(n int) int // status for the n-th POST (1-based); nil: 200
	notify chan string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{got: map[string][]*pangolin.Callback{}, at: map[string]time.Time{}, notify: make(chan string, 1<<16)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.posts++
		n := rc.posts
		rc.auth = append(rc.auth, r.Header.Get("Authorization"))
		status := http.StatusOK
		if rc.status != nil {
			status = rc.status(n)
		}
		var id string
		if status == http.StatusOK {
			cb, err := pangolin.ParseCallback(body)
			if err != nil {
				t.Errorf("callback does not parse: %v: %s", err, body)
				status = http.StatusBadRequest
			} else {
				id = cb.ID()
				if _, seen := rc.at[id]; !seen {
					rc.at[id] = time.Now()
				}
				rc.got[id] = append(rc.got[id], cb)
			}
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
		if id != "" {
			rc.notify <- id
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + "/api/callback" }

// waitCallbacks waits until n callbacks (duplicates included) have arrived.
func (rc *receiver) waitCallbacks(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-rc.notify:
		case <-deadline:
			t.Fatalf("got %d of %d callbacks within 20s", i, n)
		}
	}
}

func (rc *receiver) count(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got[id])
}

// eventually polls cond until it holds, failing after 20 s: for state that
// has no event to wait on (counters of the mock).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
