package mockapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scrapebench/scrapebench/mockapi"
	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// post sends body to path with the given bearer token and decodes the
// envelope.
func post(t *testing.T, h *harness, path, token, body string) pangolin.Envelope {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200 (the API reports errors as codes)", path, resp.StatusCode)
	}
	var env pangolin.Envelope
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s: %v: %s", path, err, raw)
	}
	return env
}

func TestAuthEndpoint(t *testing.T) {
	t.Parallel()
	h := startMock(t, func(c *mockapi.Config) { c.Email, c.Password = "a@b.c", "pw" })
	tests := []struct {
		body string
		code pangolin.Code
	}{
		{`{"email":"a@b.c","password":"pw"}`, 0},
		{`{"email":"a@b.c","password":"nope"}`, pangolin.CodeInvalidParameter},
		{`{"email":"a@b.c"}`, pangolin.CodeNullParameter},
		{`not json`, pangolin.CodeInvalidParameter},
	}
	for _, tt := range tests {
		env := post(t, h, pangolin.PathAuth, "", tt.body)
		if env.Code != tt.code {
			t.Errorf("auth %s: code %d (%s), want %d", tt.body, env.Code, env.Message, tt.code)
		}
	}
	token, err := h.client.Auth(ctx(t), "a@b.c", "pw")
	if err != nil || token != h.mock.Config().Token {
		t.Errorf("Auth() = %q, %v", token, err)
	}
}

func TestScrapeEveryFormat(t *testing.T) {
	t.Parallel()
	h := startMock(t, nil)
	truth := h.mock.Catalog().Product("B0DYTF8L2W", 0)
	tests := []struct {
		name    string
		req     pangolin.ScrapeRequest
		credits float64
		check   func(*pangolin.ScrapeData) error
	}{
		{"json", scrapeReq("B0DYTF8L2W"), 1, func(d *pangolin.ScrapeData) error {
			ps, err := d.Products()
			if err != nil || len(ps) != 1 || !ps[0].Equal(&truth) {
				return fmt.Errorf("products %v, %v", ps, err)
			}
			return nil
		}},
		{"legacy formats and site+content", pangolin.ScrapeRequest{Site: "amz_us", Content: "B0DYTF8L2W",
			ParserName: pangolin.ParserProductDetail, Formats: []string{"json"}}, 1, func(d *pangolin.ScrapeData) error {
			ps, err := d.Products()
			if err != nil || len(ps) != 1 || !ps[0].Equal(&truth) {
				return fmt.Errorf("products %v, %v", ps, err)
			}
			return nil
		}},
		{"rawHtml", pangolin.ScrapeRequest{URL: pangolin.ProductURL("B0DYTF8L2W"), Format: "rawHtml"}, 0.75,
			func(d *pangolin.ScrapeData) error {
				if len(d.RawHTML) != 1 || d.RawHTML[0] != mockapi.RawHTML(&truth) {
					return fmt.Errorf("rawHtml %v", d.RawHTML)
				}
				return nil
			}},
		{"markdown", pangolin.ScrapeRequest{URL: pangolin.ProductURL("B0DYTF8L2W"), Format: "markdown"}, 0.75,
			func(d *pangolin.ScrapeData) error {
				if len(d.Markdown) != 1 || d.Markdown[0] != mockapi.Markdown(&truth) {
					return fmt.Errorf("markdown %v", d.Markdown)
				}
				return nil
			}},
	}
	for _, tt := range tests {
		before := h.mock.Stats().CreditsCharged
		d, err := h.client.Scrape(ctx(t), tt.req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if err := tt.check(d); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if len(d.TaskID) != 32 {
			t.Errorf("%s: taskId %q", tt.name, d.TaskID)
		}
		if got := h.mock.Stats().CreditsCharged - before; got != tt.credits {
			t.Errorf("%s: charged %v credits, want %v", tt.name, got, tt.credits)
		}
	}
}

// TestEveryErrorCode drives each code of the contract the mock can answer
// and checks that failed requests are never charged.
func TestEveryErrorCode(t *testing.T) {
	t.Parallel()
	good := scrapeReq("B0DYTF8L2W")
	tests := []struct {
		name   string
		mutate func(*mockapi.Config)
		token  string
		req    pangolin.ScrapeRequest
		code   pangolin.Code
		msg    string // a part of the message that says what to change
	}{
		{"no url", nil, "", pangolin.ScrapeRequest{ParserName: "amzProductDetail"}, 1001, "url is required"},
		{"no parser for json", nil, "", pangolin.ScrapeRequest{URL: good.URL, Format: "json"}, 1001, "parserName is required"},
		{"not amazon", nil, "", pangolin.ScrapeRequest{URL: "https://example.com/dp/B0DYTF8L2W", ParserName: "amzProductDetail"}, 1002, "not an Amazon product page"},
		{"bad format", nil, "", pangolin.ScrapeRequest{URL: good.URL, Format: "pdf"}, 1002, "want json, rawHtml or markdown"},
		{"bad content", nil, "", pangolin.ScrapeRequest{Site: "amz_us", Content: "short", ParserName: "amzProductDetail"}, 1002, "not an ASIN"},
		{"bad token", nil, "wrong", good, 1004, "Authorization: Bearer"},
		{"bad parser", nil, "", pangolin.ScrapeRequest{URL: good.URL, ParserName: "amzNope"}, 1009, "amzProductDetail"},
		{"bad zipcode", nil, "", pangolin.ScrapeRequest{URL: good.URL, ParserName: "amzProductDetail", BizContext: &pangolin.BizContext{Zipcode: "00000"}}, 1011, "supported are"},
		{"qps", func(c *mockapi.Config) { c.QPS, c.Burst = 0.0001, 1 }, "", good, 4029, "reduce QPS"},
	}
	for _, code := range []pangolin.Code{4029, 9200, 10000, 5000} {
		tests = append(tests, struct {
			name   string
			mutate func(*mockapi.Config)
			token  string
			req    pangolin.ScrapeRequest
			code   pangolin.Code
			msg    string
		}{fmt.Sprintf("seeded %d", code), func(c *mockapi.Config) {
			c.Faults.Error, c.ErrorCodes = 1, []pangolin.Code{code}
		}, "", good, code, "retry"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startMock(t, tt.mutate)
			c := h.client
			if tt.token != "" {
				c, _ = pangolin.NewClient(h.srv.URL, tt.token)
			}
			var err error
			if tt.name == "qps" { // the first request takes the only token
				if _, err := c.Scrape(ctx(t), tt.req); err != nil {
					t.Fatalf("first request: %v", err)
				}
			}
			_, err = c.Scrape(ctx(t), tt.req)
			var apiErr *pangolin.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code {
				t.Fatalf("err = %v, want code %d", err, tt.code)
			}
			if !strings.Contains(apiErr.Message, tt.msg) {
				t.Errorf("message %q does not say %q", apiErr.Message, tt.msg)
			}
			st := h.mock.Stats()
			if st.Total(mockapi.EndpointScrape, tt.code) != 1 {
				t.Errorf("stats: %v", st.Requests)
			}
			if want := float64(st.Total(mockapi.EndpointScrape, 0)); st.CreditsCharged != want {
				t.Errorf("charged %v credits for %v successes", st.CreditsCharged, want)
			}
		})
	}
}

func TestCreditsRunOut(t *testing.T) {
	t.Parallel()
	h := startMock(t, func(c *mockapi.Config) { c.Credits = 1.5 })
	if _, err := h.client.Scrape(ctx(t), scrapeReq("B000000001")); err != nil {
		t.Fatal(err)
	}
	_, err := h.client.Scrape(ctx(t), scrapeReq("B000000002"))
	if code, _ := pangolin.CodeOf(err); code != pangolin.CodeInsufficientCredits {
		t.Fatalf("err = %v, want 2001", err)
	}
	// 0.5 left: a markdown scrape (0.75) is refused too, and nothing is charged.
	_, err = h.client.Scrape(ctx(t), pangolin.ScrapeRequest{URL: pangolin.ProductURL("B000000003"), Format: "markdown"})
	if code, _ := pangolin.CodeOf(err); code != pangolin.CodeInsufficientCredits {
		t.Fatalf("err = %v, want 2001", err)
	}
	st := h.mock.Stats()
	if st.CreditsCharged != 1 || st.CreditsBalance == nil || *st.CreditsBalance != 0.5 {
		t.Errorf("charged %v, balance %v", st.CreditsCharged, st.CreditsBalance)
	}
}

func TestMaxConcurrencyAnswers9200(t *testing.T) {
	t.Parallel()
	h := startMock(t, func(c *mockapi.Config) {
		c.MaxConcurrency = 1
		c.Latency = mockapi.Fixed(time.Hour)
	})
	holdCtx, release := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.client.Scrape(holdCtx, scrapeReq("B000000001"))
		done <- err
	}()
	eventually(t, "one sync request in flight", func() bool { return h.mock.Stats().SyncInFlight == 1 })
	_, err := h.client.Scrape(ctx(t), scrapeReq("B000000002"))
	if code, _ := pangolin.CodeOf(err); code != pangolin.CodeNoContent {
		t.Errorf("second concurrent request: %v, want 9200", err)
	}
	release()
	<-done
	eventually(t, "the held request to end", func() bool { return h.mock.Stats().SyncInFlight == 0 })
	if st := h.mock.Stats(); st.CreditsCharged != 0 {
		t.Errorf("charged %v for requests that never answered 0", st.CreditsCharged)
	}
}

func TestAsyncQueueFullAnswers4030(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	h := startMock(t, func(c *mockapi.Config) {
		c.Workers, c.Queue = 1, 1
		c.Latency = mockapi.Fixed(time.Hour)
	})
	for i, want := range []pangolin.Code{0, 0, pangolin.CodeServiceBusy} {
		_, err := h.client.Submit(ctx(t), submitReq(fmt.Sprintf("B00000000%d", i), rc.url()))
		if code, _ := pangolin.CodeOf(err); code != want || (want == 0) != (err == nil) {
			t.Errorf("submit %d: %v, want code %d", i, err, want)
		}
	}
	st := h.mock.Stats()
	if st.Tasks.Running != 1 || st.Tasks.Queued != 1 || st.Tasks.Accepted != 2 || st.CreditsCharged != 2 {
		t.Errorf("tasks %+v, charged %v", st.Tasks, st.CreditsCharged)
	}
}

func TestSubmitValidation(t *testing.T) {
	t.Parallel()
	h := startMock(t, nil)
	tok := h.mock.Config().Token
	tests := []struct {
		body string
		code pangolin.Code
	}{
		{`{"url":"https://www.amazon.com/dp/B0DYTF8L2W","bizKey":"amzProductDetail"}`, 1001},
		{`{"url":"https://www.amazon.com/dp/B0DYTF8L2W","bizKey":"amzProductDetail","callbackUrl":"not a url"}`, 1002},
		{`{"url":"https://www.amazon.com/dp/B0DYTF8L2W","parserName":"amzProductDetail","format":"json","callbackUrl":"http://127.0.0.1:9/cb"}`, 0},
		{`{"url":"https://www.amazon.com/dp/B0DYTF8L2W","bizKey":"amzProductDetail","zipcode":"99999","callbackUrl":"http://127.0.0.1:9/cb"}`, 1011},
	}
	for _, tt := range tests {
		env := post(t, h, pangolin.PathSubmit, tok, tt.body)
		if env.Code != tt.code {
			t.Errorf("%s: code %d (%s), want %d", tt.body, env.Code, env.Message, tt.code)
		}
		if env.Code == 0 {
			var d pangolin.SubmitData
			if err := json.Unmarshal(env.Data, &d); err != nil || len(d.Data) != 32 {
				t.Errorf("task id at data.data: %s", env.Data)
			}
		}
	}
}

// TestCallbackCarriesTheSyncProduct: an async task's callback carries
// exactly the product that the sync endpoint returns for the same ASIN and
// round, in both envelope variants.
func TestCallbackCarriesTheSyncProduct(t *testing.T) {
	t.Parallel()
	for _, variant := range []float64{0, 1} {
		t.Run(fmt.Sprintf("variant-rate=%v", variant), func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t)
			h := startMock(t, func(c *mockapi.Config) { c.Faults.Variant = variant; c.Churn = 0.5 })
			asins := []string{"B0DYTF8L2W", "B000000001", "B07XYZ1234"}
			for round := 0; round < 2; round++ {
				h.mock.SetRound(round)
				ids := map[string]string{}
				for _, a := range asins {
					id, err := h.client.Submit(ctx(t), submitReq(a, rc.url()))
					if err != nil {
						t.Fatal(err)
					}
					ids[a] = id
				}
				rc.waitCallbacks(t, len(asins))
				for _, a := range asins {
					sync, err := h.client.Scrape(ctx(t), scrapeReq(a))
					if err != nil {
						t.Fatal(err)
					}
					want, _ := sync.Products()
					rc.mu.Lock()
					cbs := rc.got[ids[a]]
					rc.mu.Unlock()
					if len(cbs) != 1 {
						t.Fatalf("%s: %d callbacks", a, len(cbs))
					}
					cb := cbs[0]
					got, err := cb.Data.Products()
					if err != nil || len(got) != 1 || !got[0].Equal(&want[0]) {
						t.Errorf("round %d %s: callback product %+v, sync %+v (%v)", round, a, got, want, err)
					}
					truth := h.mock.Catalog().Product(a, round)
					if !got[0].Equal(&truth) {
						t.Errorf("round %d %s: product is not the catalog's", round, a)
					}
					if stringified := cb.Data.JSON[0].Stringified; stringified != (variant == 1) {
						t.Errorf("variant %v: data.json[0] stringified=%v", variant, stringified)
					}
					if (cb.TaskID == "") != (variant == 1) || cb.ID() != ids[a] {
						t.Errorf("variant %v: top-level taskId %q, ID %q, want %q", variant, cb.TaskID, cb.ID(), ids[a])
					}
					if stringified := sync.JSON[0].Stringified; stringified != (variant == 1) {
						t.Errorf("variant %v: sync data.json[0] stringified=%v", variant, stringified)
					}
				}
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			for _, a := range rc.auth {
				if a != "Bearer "+h.mock.Config().CallbackToken {
					t.Errorf("callback Authorization %q", a)
				}
			}
		})
	}
}

func TestStringEnvelopeOnTheWire(t *testing.T) {
	t.Parallel()
	h := startMock(t, func(c *mockapi.Config) { c.Faults.Variant = 1 })
	env := post(t, h, pangolin.PathScrape, h.mock.Config().Token,
		`{"url":"https://www.amazon.com/dp/B0DYTF8L2W","parserName":"amzProductDetail","format":"json"}`)
	var raw struct {
		JSON      []json.RawMessage `json:"json"`
		PointCost json.RawMessage   `json:"pointCost"`
	}
	if err := json.Unmarshal(env.Data, &raw); err != nil || len(raw.JSON) != 1 || raw.JSON[0][0] != '"' {
		t.Fatalf("data.json[0] is not a JSON string: %s", env.Data)
	}
	if string(raw.PointCost) != `"1"` {
		t.Errorf("pointCost %s", raw.PointCost)
	}
}

func TestDuplicateRateOneGivesEveryTaskTwoCallbacks(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	h := startMock(t, func(c *mockapi.Config) { c.Faults.Duplicate = 1; c.DupSpread = 20 * time.Millisecond })
	const n = 40
	var ids []string
	for i := 0; i < n; i++ {
		id, err := h.client.Submit(ctx(t), submitReq(fmt.Sprintf("B%09d", i), rc.url()))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rc.waitCallbacks(t, 2*n)
	for _, id := range ids {
		if c := rc.count(id); c < 2 {
			t.Errorf("task %s got %d callbacks, want ≥ 2", id, c)
		}
	}
	if st := h.mock.Stats(); st.Callbacks.Duplicated != n || st.CreditsCharged != n {
		t.Errorf("duplicated %d, charged %v; want %d each", st.Callbacks.Duplicated, st.CreditsCharged, n)
	}
}

func TestLossRateOneDeliversNothing(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	h := startMock(t, func(c *mockapi.Config) { c.Faults.Loss = 1 })
	const n = 40
	for i := 0; i < n; i++ {
		if _, err := h.client.Submit(ctx(t), submitReq(fmt.Sprintf("B%09d", i), rc.url())); err != nil {
			t.Fatal(err)
		}
	}
	// A task's callback is dropped when the task completes; once all have,
	// nothing can be sent any more.
	eventually(t, "all tasks completed", func() bool { return h.mock.Stats().Tasks.Completed == n })
	h.mock.Close()
	st := h.mock.Stats()
	if st.Callbacks.Dropped != n || st.Callbacks.Attempts != 0 {
		t.Errorf("dropped %d, attempts %d", st.Callbacks.Dropped, st.Callbacks.Attempts)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.posts != 0 {
		t.Errorf("receiver got %d posts with loss-rate 1", rc.posts)
	}
}

func TestDelayedCallbacksComeLate(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	const delay = 150 * time.Millisecond
	h := startMock(t, func(c *mockapi.Config) { c.Faults.Delay = 1; c.Delay = delay })
	start := time.Now()
	id, err := h.client.Submit(ctx(t), submitReq("B0DYTF8L2W", rc.url()))
	if err != nil {
		t.Fatal(err)
	}
	rc.waitCallbacks(t, 1)
	rc.mu.Lock()
	late := rc.at[id].Sub(start)
	rc.mu.Unlock()
	if late < delay {
		t.Errorf("delayed callback came after %v, want ≥ %v", late, delay)
	}
	if st := h.mock.Stats(); st.Callbacks.Delayed != 1 {
		t.Errorf("delayed %d", st.Callbacks.Delayed)
	}
}

func TestEarlyCallbackBeatsTheSubmitAnswer(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	h := startMock(t, func(c *mockapi.Config) { c.Faults.Early = 1 })
	id, err := h.client.Submit(ctx(t), submitReq("B0DYTF8L2W", rc.url()))
	if err != nil {
		t.Fatal(err)
	}
	// No waiting: the callback was posted and answered before Submit returned.
	if c := rc.count(id); c != 1 {
		t.Fatalf("when Submit returned the receiver had %d callbacks for %s, want 1", c, id)
	}
	if st := h.mock.Stats(); st.Callbacks.Early != 1 {
		t.Errorf("early %d", st.Callbacks.Early)
	}
}

func TestCallbackRetriesWhenReceiverFails(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	rc.status = func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	h := startMock(t, nil)
	id, err := h.client.Submit(ctx(t), submitReq("B0DYTF8L2W", rc.url()))
	if err != nil {
		t.Fatal(err)
	}
	rc.waitCallbacks(t, 1)
	if c := rc.count(id); c != 1 {
		t.Errorf("task got %d good callbacks", c)
	}
	// The mock counts the delivery after the receiver has answered.
	eventually(t, "delivery counted", func() bool { return h.mock.Stats().Callbacks.Delivered == 1 })
	st := h.mock.Stats()
	if st.Callbacks.Attempts != 3 || st.Callbacks.Retried != 2 || st.Callbacks.Delivered != 1 {
		t.Errorf("callbacks %+v; want 3 attempts, 2 retries, 1 delivered", st.Callbacks)
	}
}

func TestCallbackRetriesExhaust(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	rc.status = func(int) int { return http.StatusServiceUnavailable }
	h := startMock(t, func(c *mockapi.Config) { c.CallbackRetries = []time.Duration{time.Millisecond, 2 * time.Millisecond} })
	if _, err := h.client.Submit(ctx(t), submitReq("B0DYTF8L2W", rc.url())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery given up", func() bool { return h.mock.Stats().Callbacks.Exhausted == 1 })
	if st := h.mock.Stats(); st.Callbacks.Attempts != 3 || st.Callbacks.Retried != 2 {
		t.Errorf("callbacks %+v; want 3 attempts, 2 retries", st.Callbacks)
	}
}

func TestHTTPFaults(t *testing.T) {
	t.Parallel()
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		h := startMock(t, func(c *mockapi.Config) { c.Faults.Reset = 1 })
		_, err := h.client.Scrape(ctx(t), scrapeReq("B0DYTF8L2W"))
		if err == nil || pangolin.ClassOf(err) != pangolin.ClassRetry {
			t.Fatalf("err = %v, want a retriable transport error", err)
		}
		if st := h.mock.Stats(); st.HTTPFaults.Reset != 1 || st.CreditsCharged != 0 {
			t.Errorf("faults %+v charged %v", st.HTTPFaults, st.CreditsCharged)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		t.Parallel()
		h := startMock(t, func(c *mockapi.Config) { c.Faults.Truncate = 1 })
		_, err := h.client.Scrape(ctx(t), scrapeReq("B0DYTF8L2W"))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want unexpected EOF", err)
		}
		// The API answered 0 as far as it knows: the credit is spent.
		if st := h.mock.Stats(); st.HTTPFaults.Truncated != 1 || st.CreditsCharged != 1 {
			t.Errorf("faults %+v charged %v", st.HTTPFaults, st.CreditsCharged)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		h := startMock(t, func(c *mockapi.Config) { c.Faults.SlowBody = 1; c.SlowBody = time.Hour })
		impatient, _ := pangolin.NewClient(h.srv.URL, h.mock.Config().Token,
			pangolin.WithHTTPClient(pangolin.NewHTTPClient(2, 300*time.Millisecond)))
		_, err := impatient.Scrape(ctx(t), scrapeReq("B0DYTF8L2W"))
		if err == nil || !strings.Contains(err.Error(), "Timeout") {
			t.Fatalf("err = %v, want the client's timeout while the body trickles", err)
		}
		if st := h.mock.Stats(); st.HTTPFaults.SlowBody != 1 {
			t.Errorf("faults %+v", st.HTTPFaults)
		}
	})
	t.Run("slow body completes", func(t *testing.T) {
		t.Parallel()
		h := startMock(t, func(c *mockapi.Config) { c.Faults.SlowBody = 1; c.SlowBody = 20 * time.Millisecond })
		if _, err := h.client.Scrape(ctx(t), scrapeReq("B0DYTF8L2W")); err != nil {
			t.Fatalf("a patient client gets the whole slow body: %v", err)
		}
	})
}

// TestSameSeedSameFaultPlan: two servers with one seed meet the same
// request sequence with the same faults; another seed meets other faults.
func TestSameSeedSameFaultPlan(t *testing.T) {
	t.Parallel()
	trace := func(seed uint64) (string, mockapi.Stats) {
		rc := newReceiver(t)
		h := startMock(t, func(c *mockapi.Config) {
			c.Seed = seed
			c.Faults = mockapi.FaultRates{Duplicate: 0.3, Loss: 0.2, Early: 0.2, Error: 0.3, Variant: 0.5}
		})
		var b strings.Builder
		for i := 0; i < 60; i++ {
			asin := fmt.Sprintf("B%09d", i%20) // repeated ASINs: attempts 1..3
			_, err := h.client.Scrape(ctx(t), scrapeReq(asin))
			code, _ := pangolin.CodeOf(err)
			id, err := h.client.Submit(ctx(t), submitReq(asin, rc.url()))
			scode, _ := pangolin.CodeOf(err)
			fmt.Fprintf(&b, "%s:%d:%d:%s ", asin, code, scode, id)
		}
		eventually(t, "tasks completed", func() bool {
			st := h.mock.Stats()
			return st.Tasks.Completed == st.Tasks.Accepted
		})
		st := h.mock.Stats()
		rc.waitCallbacks(t, int(st.Tasks.Completed-st.Callbacks.Dropped+st.Callbacks.Duplicated))
		return b.String(), h.mock.Stats()
	}
	a, sa := trace(7)
	b, sb := trace(7)
	c, _ := trace(8)
	if a != b {
		t.Errorf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	if a == c {
		t.Error("seeds 7 and 8 gave the same outcomes")
	}
	if sa.Callbacks.Dropped != sb.Callbacks.Dropped || sa.Callbacks.Duplicated != sb.Callbacks.Duplicated ||
		sa.Callbacks.Early != sb.Callbacks.Early || fmt.Sprint(sa.Requests) != fmt.Sprint(sb.Requests) {
		t.Errorf("same seed, different stats:\n%+v\n%+v", sa, sb)
	}
	if sa.Callbacks.Dropped == 0 || sa.Callbacks.Duplicated == 0 || sa.Callbacks.Early == 0 {
		t.Errorf("the plan hit nothing: %+v", sa.Callbacks)
	}
}

func TestFaultPlanRatesAndPurity(t *testing.T) {
	t.Parallel()
	p := mockapi.Plan{Seed: 42, Rates: mockapi.FaultRates{Duplicate: 0.2, Loss: 0.05}}
	q := mockapi.Plan{Seed: 42, Rates: p.Rates}
	const n = 200000
	hits := map[mockapi.Fault]int{}
	for i := 0; i < n; i++ {
		job := fmt.Sprintf("B%09d|json||0", i)
		for _, f := range []mockapi.Fault{mockapi.FaultDuplicate, mockapi.FaultLoss, mockapi.FaultEarly} {
			h := p.Hit(job, 1+i%3, f)
			if h != q.Hit(job, 1+i%3, f) {
				t.Fatalf("plan is not a pure function at %s/%v", job, f)
			}
			if h {
				hits[f]++
			}
		}
	}
	for f, want := range map[mockapi.Fault]float64{mockapi.FaultDuplicate: 0.2, mockapi.FaultLoss: 0.05, mockapi.FaultEarly: 0} {
		got := float64(hits[f]) / n
		// 5 standard deviations of a binomial proportion.
		if tol := 5 * sqrt(want*(1-want)/n); got < want-tol || got > want+tol {
			t.Errorf("%v: rate %.4f, want %.4f ± %.4f", f, got, want, tol)
		}
	}
	// Faults are drawn independently: loss does not follow duplicate.
	both := 0
	for i := 0; i < n; i++ {
		job := fmt.Sprintf("B%09d", i)
		if p.Hit(job, 1, mockapi.FaultDuplicate) && p.Hit(job, 1, mockapi.FaultLoss) {
			both++
		}
	}
	if got, want := float64(both)/n, 0.2*0.05; got < want*0.8 || got > want*1.2 {
		t.Errorf("P(dup and loss) = %.4f, want ≈ %.4f", got, want)
	}
}

func TestRoundsAndChurn(t *testing.T) {
	t.Parallel()
	cat := mockapi.Catalog{Seed: 3, Churn: 0.3}
	const n = 20000
	changed := 0
	for i := 0; i < n; i++ {
		asin := fmt.Sprintf("B%09d", i)
		p0, p1 := cat.Product(asin, 0), cat.Product(asin, 1)
		again := cat.Product(asin, 1)
		if !p1.Equal(&again) {
			t.Fatal("Product is not a pure function")
		}
		moved := p0.Price != p1.Price || p0.Star != p1.Star
		if moved && !cat.Changed(asin, 1) {
			t.Fatalf("%s: price or star moved but Changed is false", asin)
		}
		if cat.Changed(asin, 1) {
			changed++
		}
		p0.Price, p0.Star, p1.Price, p1.Star = "", "", "", ""
		if !p0.Equal(&p1) {
			t.Fatalf("%s: churn changed more than price and star", asin)
		}
	}
	if got := float64(changed) / n; got < 0.28 || got > 0.32 {
		t.Errorf("churn 0.3 changed %.3f of ASINs", got)
	}
	still := mockapi.Catalog{Seed: 3}
	a, b := still.Product("B000000001", 0), still.Product("B000000001", 5)
	if !a.Equal(&b) {
		t.Error("churn 0 changed a product")
	}
	other := mockapi.Catalog{Seed: 4}.Product("B000000001", 0)
	if a.Equal(&other) {
		t.Error("seeds 3 and 4 gave the same product")
	}
	for _, field := range []pangolin.FlexString{a.Price, a.Star, a.Rating} {
		if _, ok := field.Float(); !ok {
			t.Errorf("numeric field %q is not a number string", field)
		}
	}
}

func TestAdminRoundStatsAndHealth(t *testing.T) {
	t.Parallel()
	h := startMock(t, func(c *mockapi.Config) { c.Churn = 1 })
	before, _ := h.client.Scrape(ctx(t), scrapeReq("B0DYTF8L2W"))
	resp, err := http.Post(h.srv.URL+"/__admin/round", "application/json", bytes.NewReader([]byte(`{"round":3}`)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST round: %v %v", resp, err)
	}
	resp.Body.Close()
	after, _ := h.client.Scrape(ctx(t), scrapeReq("B0DYTF8L2W"))
	p0, _ := before.Products()
	p3, _ := after.Products()
	want := h.mock.Catalog().Product("B0DYTF8L2W", 3)
	if p0[0].Equal(&p3[0]) || !p3[0].Equal(&want) {
		t.Error("round 3 with churn 1 serves the round-0 product")
	}
	resp, _ = http.Post(h.srv.URL+"/__admin/round?round=-1", "", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("negative round: HTTP %d", resp.StatusCode)
	}
	resp.Body.Close()
	var st mockapi.Stats
	resp, _ = http.Get(h.srv.URL + "/__admin/stats")
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Round != 3 || st.Total("scrape", 0) != 2 {
		t.Errorf("stats %+v %v", st, err)
	}
	resp.Body.Close()
	resp, _ = http.Get(h.srv.URL + "/healthz")
	if resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = http.Get(h.srv.URL + "/__admin/config")
	cfg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(cfg, []byte(h.mock.Config().Token)) {
		t.Error("/__admin/config shows the token")
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := startMock(t, nil)
	if _, err := h.client.Scrape(ctx(t), scrapeReq("B0DYTF8L2W")); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(mockapi.NewCollectorForTest(h.mock))
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
	want := `
# HELP scrapebench_mock_credits_charged_total Credits charged (code-0 answers only).
# TYPE scrapebench_mock_credits_charged_total counter
scrapebench_mock_credits_charged_total 1
`
	if err := testutil.GatherAndCompare(h.mock.Registry(), strings.NewReader(want), "scrapebench_mock_credits_charged_total"); err != nil {
		t.Error(err)
	}
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`scrapebench_mock_requests_total{code="0",endpoint="scrape"} 1`)) {
		t.Errorf("/metrics lacks the request counter:\n%s", body)
	}
}

func sqrt(x float64) float64 { return math.Sqrt(x) }

// TestFastSyncAnswerIsTheGenericOne: the assembled sync answer is byte for
// byte what json.Marshal makes of the same data, URL escaping included.
func TestFastSyncAnswerIsTheGenericOne(t *testing.T) {
	t.Parallel()
	h := startMock(t, nil)
	for _, asin := range []string{"B0DYTF8L2W", "B000000001"} {
		fast, generic := mockapi.SyncAnswersForTest(h.mock, asin)
		if !bytes.Equal(fast, generic) {
			t.Errorf("%s:\nfast    %s\ngeneric %s", asin, fast, generic)
		}
		fast, generic = mockapi.CallbackBodiesForTest(h.mock, asin)
		if !bytes.Equal(fast, generic) {
			t.Errorf("callback %s:\nfast    %s\ngeneric %s", asin, fast, generic)
		}
	}
}
