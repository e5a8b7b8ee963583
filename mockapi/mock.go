// Package mockapi is a mock of the Pangolinfo Scrape API that speaks the
// contract of shared/API-CONTRACT.md: sync and async scrapes, auth, error
// codes, credits, server-side limits, a callback sender with retries, and a
// seeded, replayable fault plan. Products are a pure function of the seed
// (Catalog), which makes them the ground truth for verifying results.
//
// It works in wall-clock time; converting from API time (Config.Scaled) is
// the caller's job. It imports no scrapebench package but the wire package.
package mockapi

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// maxRequestBody bounds a request body the mock reads.
const maxRequestBody = 1 << 20

// Mock is the mock API as an http.Handler. Create it with New and stop its
// callback sender and async workers with Close.
type Mock struct {
	cfg      Config
	plan     Plan
	catalog  Catalog
	limiter  *rate.Limiter
	ledger   *ledger
	attempts *attemptCounter
	products atomic.Pointer[productCache]
	round    atomic.Int64
	st       *counters
	pool     *pool
	sender   *sender
	timers   *timerSet
	reg      *prometheus.Registry
	mux      *http.ServeMux
	bearer   []byte

	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// New validates cfg and returns a running mock.
func New(cfg Config) (*Mock, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mock config: %w", err)
	}
	cfg.ErrorCodes = append([]pangolin.Code(nil), cfg.ErrorCodes...)
	cfg.CallbackRetries = append([]time.Duration(nil), cfg.CallbackRetries...)
	cfg.Zipcodes = append([]string(nil), cfg.Zipcodes...)
	m := &Mock{
		cfg:      cfg,
		plan:     Plan{Seed: cfg.Seed, Rates: cfg.Faults},
		catalog:  Catalog{Seed: cfg.Seed, Churn: cfg.Churn},
		ledger:   newLedger(cfg.Credits),
		attempts: newAttemptCounter(),
		st:       newCounters(),
		timers:   newTimerSet(),
		reg:      prometheus.NewRegistry(),
		mux:      http.NewServeMux(),
		bearer:   []byte("Bearer " + cfg.Token),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.products.Store(&productCache{})
	m.round.Store(int64(cfg.Round))
	if cfg.QPS > 0 {
		burst := cfg.Burst
		if burst == 0 {
			burst = max(1, int(math.Ceil(cfg.QPS)))
		}
		m.limiter = rate.NewLimiter(rate.Limit(cfg.QPS), burst)
	}
	m.pool = &pool{m: m, workers: cfg.Workers, limit: cfg.Queue}
	m.sender = newSender(m)
	m.reg.MustRegister(newCollector(m))

	m.mux.HandleFunc("POST "+pangolin.PathAuth, m.handleAuth)
	m.mux.HandleFunc("POST "+pangolin.PathScrape, m.handleScrape)
	m.mux.HandleFunc("POST "+pangolin.PathSubmit, m.handleSubmit)
	m.mux.HandleFunc("GET /__admin/stats", m.handleStats)
	m.mux.HandleFunc("GET /__admin/config", m.handleConfig)
	m.mux.HandleFunc("POST /__admin/round", m.handleRound)
	m.mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	m.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	return m, nil
}

// ServeHTTP implements http.Handler.
func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Close stops the callback sender, pending callbacks and async tasks, and
// waits for them. Pending callbacks are not delivered.
func (m *Mock) Close() {
	m.closeOnce.Do(func() {
		m.cancel()
		m.timers.close()
		m.sender.close()
	})
}

// Stats returns a snapshot of the counters.
func (m *Mock) Stats() Stats { return m.snapshot() }

// Catalog returns the ground truth of the products the mock serves.
func (m *Mock) Catalog() Catalog { return m.catalog }

// Config returns the configuration the mock runs with.
func (m *Mock) Config() Config { return m.cfg }

// SetRound sets the product round served from now on.
func (m *Mock) SetRound(n int) { m.round.Store(int64(n)) }

// Registry returns the Prometheus registry behind /metrics.
func (m *Mock) Registry() *prometheus.Registry { return m.reg }

// job is a validated request: one product page in one format.
type job struct {
	asin, url, parser, format, zipcode string
}

// key is the fault-plan identity of the job in round.
func (j *job) key(round int) string {
	return j.asin + "|" + j.format + "|" + j.zipcode + "|" + strconv.Itoa(round)
}

// apiError is a code and message to answer with.
type apiError struct {
	code pangolin.Code
	msg  string
}

func (m *Mock) parseJob(rawURL, site, content, parser, format, zipcode string) (job, *apiError) {
	j := job{parser: parser, format: format, zipcode: zipcode}
	switch {
	case rawURL != "":
		asin, ok := pangolin.ASINFromURL(rawURL)
		if !ok {
			return j, &apiError{pangolin.CodeInvalidParameter, fmt.Sprintf(
				"invalid parameter: url %q is not an Amazon product page such as https://www.amazon.com/dp/B0DYTF8L2W", rawURL)}
		}
		j.asin, j.url = asin, rawURL
	case content != "":
		if !strings.HasPrefix(site, "amz_") {
			return j, &apiError{pangolin.CodeInvalidParameter, fmt.Sprintf("invalid parameter: site %q: want an Amazon site such as amz_us", site)}
		}
		if !pangolin.ValidASIN(content) {
			return j, &apiError{pangolin.CodeInvalidParameter, fmt.Sprintf("invalid parameter: content %q is not an ASIN (ten letters or digits)", content)}
		}
		j.asin = strings.ToUpper(content)
		j.url = pangolin.ProductURL(j.asin)
	default:
		return j, &apiError{pangolin.CodeNullParameter, "null parameter: url is required (or site and content)"}
	}
	if _, ok := pangolin.CreditCost(format); !ok {
		return j, &apiError{pangolin.CodeInvalidParameter, fmt.Sprintf("invalid parameter: format %q: want json, rawHtml or markdown", format)}
	}
	if format == pangolin.FormatJSON && parser == "" {
		return j, &apiError{pangolin.CodeNullParameter, "null parameter: parserName is required for format json"}
	}
	if parser != "" && parser != pangolin.ParserProductDetail {
		return j, &apiError{pangolin.CodeInvalidParser, fmt.Sprintf("invalid parserName %q: this mock serves %s", parser, pangolin.ParserProductDetail)}
	}
	if !m.cfg.zipcodeSupported(zipcode) {
		return j, &apiError{pangolin.CodeUnsupportedZipcode, fmt.Sprintf("unsupported zipcode %q: supported are %s", zipcode, m.cfg.zipcodeList())}
	}
	return j, nil
}

func (m *Mock) authorized(r *http.Request) bool {
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), m.bearer) == 1
}

var (
	errInvalidToken = &apiError{pangolin.CodeInvalidToken, "invalid token: send the header Authorization: Bearer <token>, with the token from POST /api/v1/auth"}
	errRateLimited  = &apiError{pangolin.CodeTooManyRequests, "Rate limit exceeded, please reduce QPS and retry"}
)

// admit runs the checks every scrape endpoint shares: token, rate limit and
// a JSON body decoded into v.
func (m *Mock) admit(r *http.Request, v any) *apiError {
	if !m.authorized(r) {
		return errInvalidToken
	}
	if m.limiter != nil && !m.limiter.Allow() {
		return errRateLimited
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return &apiError{pangolin.CodeInvalidParameter, "invalid parameter: cannot read body: " + err.Error()}
	}
	if len(body) > maxRequestBody {
		return &apiError{pangolin.CodeInvalidParameter, fmt.Sprintf("invalid parameter: body larger than %d bytes", maxRequestBody)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{pangolin.CodeInvalidParameter, "invalid parameter: body is not the JSON object expected: " + err.Error()}
	}
	return nil
}

// plannedFault returns the HTTP-level fault of (key, attempt), if any.
func (m *Mock) plannedFault(key string, attempt int) Fault {
	for _, f := range []Fault{FaultReset, FaultTruncate, FaultSlowBody} {
		if m.plan.Hit(key, attempt, f) {
			return f
		}
	}
	return 0
}

func (m *Mock) handleScrape(w http.ResponseWriter, r *http.Request) {
	var req pangolin.ScrapeRequest
	if e := m.admit(r, &req); e != nil {
		m.fail(w, EndpointScrape, e)
		return
	}
	j, e := m.parseJob(req.URL, req.Site, req.Content, req.ParserName, req.EffectiveFormat(), req.Zipcode())
	if e != nil {
		m.fail(w, EndpointScrape, e)
		return
	}
	round := int(m.round.Load())
	key := j.key(round)
	attempt := m.attempts.next(key)
	cost, _ := pangolin.CreditCost(j.format)
	if e := m.ledger.reserve(cost); e != nil {
		m.fail(w, EndpointScrape, e)
		return
	}
	n := m.st.syncInFlight.Add(1)
	defer m.st.syncInFlight.Add(-1)
	if limit := m.cfg.MaxConcurrency; limit > 0 && n > int64(limit) {
		m.ledger.refund(cost)
		m.fail(w, EndpointScrape, &apiError{pangolin.CodeNoContent, fmt.Sprintf(
			"no content: too many concurrent requests (this account may run %d at once); retry", limit)})
		return
	}
	fault := m.plannedFault(key, attempt)
	var planned *apiError
	if m.plan.Hit(key, attempt, FaultError) {
		planned = m.plannedError(key, attempt)
	}
	if planned == nil || planned.code != pangolin.CodeTooManyRequests {
		if !m.sleep(r.Context(), m.cfg.Latency.Sample(m.plan.U(key, attempt, drawLatency))) {
			m.ledger.refund(cost)
			return
		}
	}
	if fault == FaultReset {
		m.ledger.refund(cost)
		m.reset(w)
		return
	}
	if planned != nil {
		m.ledger.refund(cost)
		m.fail(w, EndpointScrape, planned)
		return
	}
	variant := m.plan.Hit(key, attempt, FaultVariant)
	taskID := m.taskID(key, attempt)
	var body []byte
	var err error
	if j.format == pangolin.FormatJSON && !variant {
		body = m.syncAnswer(j, round, taskID)
	} else {
		body, err = json.Marshal(struct {
			Code    pangolin.Code        `json:"code"`
			Message string               `json:"message"`
			Data    *pangolin.ScrapeData `json:"data"`
		}{pangolin.CodeOK, "ok", m.scrapeData(j, round, taskID, variant)})
	}
	if err != nil {
		m.ledger.refund(cost)
		m.fail(w, EndpointScrape, &apiError{pangolin.CodeSystemError, "system error: " + err.Error()})
		return
	}
	m.st.creditsCharged.Add(cost)
	m.st.answered(EndpointScrape, pangolin.CodeOK)
	m.write(r.Context(), w, body, fault)
}

func (m *Mock) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var req pangolin.SubmitRequest
	if e := m.admit(r, &req); e != nil {
		m.fail(w, EndpointSubmit, e)
		return
	}
	j, e := m.parseJob(req.URL, req.Site, req.Content, req.Parser(), req.EffectiveFormat(), req.EffectiveZipcode())
	if e == nil && req.CallbackURL == "" {
		e = &apiError{pangolin.CodeNullParameter, "null parameter: callbackUrl is required for async scrapes"}
	}
	if e == nil {
		if err := ValidateCallbackURL(req.CallbackURL); err != nil {
			e = &apiError{pangolin.CodeInvalidParameter, "invalid parameter: " + err.Error()}
		}
	}
	if e != nil {
		m.fail(w, EndpointSubmit, e)
		return
	}
	round := int(m.round.Load())
	key := j.key(round)
	attempt := m.attempts.next(key)
	cost, _ := pangolin.CreditCost(j.format)
	if e := m.ledger.reserve(cost); e != nil {
		m.fail(w, EndpointSubmit, e)
		return
	}
	fault := m.plannedFault(key, attempt)
	var planned *apiError
	if m.plan.Hit(key, attempt, FaultError) {
		planned = m.plannedError(key, attempt)
	}
	if !m.sleep(r.Context(), m.cfg.SubmitLatency.Sample(m.plan.U(key, attempt, drawSubmit))) {
		m.ledger.refund(cost)
		return
	}
	if fault == FaultReset {
		m.ledger.refund(cost)
		m.reset(w)
		return
	}
	if planned != nil {
		m.ledger.refund(cost)
		m.fail(w, EndpointSubmit, planned)
		return
	}
	t := &task{id: m.taskID(key, attempt), key: key, attempt: attempt, job: j, round: round, callbackURL: req.CallbackURL}
	if m.plan.Hit(key, attempt, FaultEarly) {
		// The task completes and its callback is posted before the submit
		// answer leaves: the client sees a callback for a task id it has
		// not been told yet.
		m.st.tasks.accepted.Add(1)
		m.st.creditsCharged.Add(cost)
		m.complete(t, true)
	} else {
		if !m.pool.admit(t) {
			m.ledger.refund(cost)
			m.fail(w, EndpointSubmit, &apiError{pangolin.CodeServiceBusy, fmt.Sprintf(
				"service busy: the async queue is full (%d tasks waiting); retry later", m.cfg.Queue)})
			return
		}
		m.st.tasks.accepted.Add(1)
		m.st.creditsCharged.Add(cost)
	}
	body, _ := json.Marshal(pangolin.Envelope{Code: pangolin.CodeOK, Message: "ok",
		Data: mustJSON(pangolin.SubmitData{Data: t.id, BizMsg: "ok", BizCode: 0})})
	m.st.answered(EndpointSubmit, pangolin.CodeOK)
	m.write(r.Context(), w, body, fault)
}

// complete finishes task t and hands its callback to the sender.
func (m *Mock) complete(t *task, early bool) {
	m.st.tasks.completed.Add(1)
	m.sender.deliver(t, m.callbackBody(t), early)
}

// callbackBody is the callback of t: assembled around the cached product
// for the common case (json format, task id at the top level), marshalled
// for the alternative envelope and the other formats.
func (m *Mock) callbackBody(t *task) []byte {
	variant := m.plan.Hit(t.key, t.attempt, FaultVariant)
	if t.job.format == pangolin.FormatJSON && !variant {
		product := m.productJSON(t.job.asin, t.round)
		url, _ := json.Marshal(t.job.url)
		b := make([]byte, 0, len(product)+len(url)+160)
		b = append(b, `{"code":0,"message":"ok","taskId":"`...)
		b = append(b, t.id...)
		b = append(b, `","data":{"json":[{"code":0,"message":"ok","data":{"results":[`...)
		b = append(b, product...)
		b = append(b, `]}}],"url":`...)
		b = append(b, url...)
		return append(b, `}}`...)
	}
	data := m.scrapeData(t.job, t.round, "", variant)
	cb := pangolin.Callback{Code: pangolin.CodeOK, Message: "ok", Data: data}
	if variant {
		data.TaskID = t.id
	} else {
		cb.TaskID = t.id
	}
	return mustJSON(&cb)
}

// syncAnswer assembles the common sync answer — json format, data.json[0]
// as an object — around the cached product JSON. It is the same document
// scrapeData and json.Marshal produce, without encoding the product three
// times (marshal, then compaction by each enclosing Marshal).
func (m *Mock) syncAnswer(j job, round int, taskID string) []byte {
	product := m.productJSON(j.asin, round)
	url, _ := json.Marshal(j.url)
	b := make([]byte, 0, len(product)+len(url)+160)
	b = append(b, `{"code":0,"message":"ok","data":{"json":[{"code":0,"message":"ok","data":{"results":[`...)
	b = append(b, product...)
	b = append(b, `]}}],"url":`...)
	b = append(b, url...)
	b = append(b, `,"taskId":"`...)
	b = append(b, taskID...)
	return append(b, `"}}`...)
}

// productCacheSize bounds the cached product JSON (about 1.3 KB each).
const productCacheSize = 100_000

// productJSON returns the JSON of asin's product in round. Products are a
// pure function of (seed, ASIN, round), so it is cached; the cache is
// dropped whole when full, which keeps it bounded.
func (m *Mock) productJSON(asin string, round int) []byte {
	key := asin + "|" + strconv.Itoa(round)
	cache := m.products.Load()
	if b, ok := cache.m.Load(key); ok {
		return b.([]byte)
	}
	p := m.catalog.Product(asin, round)
	b := mustJSON(&p)
	if cache.n.Add(1) > productCacheSize {
		m.products.CompareAndSwap(cache, &productCache{})
	} else {
		cache.m.Store(key, []byte(b))
	}
	return b
}

// productCache is a generation of cached product JSON.
type productCache struct {
	m sync.Map
	n atomic.Int64
}

// scrapeData builds the data of a successful scrape of j in round.
func (m *Mock) scrapeData(j job, round int, taskID string, variant bool) *pangolin.ScrapeData {
	p := m.catalog.Product(j.asin, round)
	d := &pangolin.ScrapeData{URL: j.url, TaskID: taskID}
	switch j.format {
	case pangolin.FormatJSON:
		d.JSON = []pangolin.JSONItem{{Code: pangolin.CodeOK, Message: "ok",
			Data: pangolin.JSONItemData{Results: []json.RawMessage{m.productJSON(j.asin, round)}}, Stringified: variant}}
	case pangolin.FormatRawHTML:
		d.RawHTML = []string{RawHTML(&p)}
	case pangolin.FormatMarkdown:
		d.Markdown = []string{Markdown(&p)}
	}
	if variant {
		cost, _ := pangolin.CreditCost(j.format)
		pc := pangolin.FlexString(strconv.FormatFloat(float64(cost)/100, 'f', -1, 64))
		d.PointCost = &pc
	}
	return d
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("mockapi: marshal %T: %v", v, err)) // only our own fixed types reach here
	}
	return b
}

func (m *Mock) taskID(key string, attempt int) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], m.plan.Hash(key, attempt, drawTaskID))
	binary.BigEndian.PutUint64(raw[8:], m.plan.Hash(key, attempt, drawTaskIDSalt2))
	return hex.EncodeToString(raw[:])
}

func (m *Mock) plannedError(key string, attempt int) *apiError {
	code := m.plan.ErrorCode(m.cfg.ErrorCodes, key, attempt)
	if code == pangolin.CodeTooManyRequests {
		return errRateLimited
	}
	return &apiError{code, fmt.Sprintf("%s (seeded fault); retry", code.Meaning())}
}

// spinMargin is the last stretch of a latency the mock waits by yielding
// rather than by a timer: Go's timers fire 0.1–0.3 ms late on Linux, which
// a time scale of 100+ would turn into tens of milliseconds of API time.
const spinMargin = 500 * time.Microsecond

// sleep waits d unless ctx or the mock ends first; it reports whether d
// passed. It ends within a few microseconds of d.
func (m *Mock) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	deadline := time.Now().Add(d)
	if coarse := d - spinMargin; coarse > 0 {
		t := time.NewTimer(coarse)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		case <-m.ctx.Done():
			return false
		}
	}
	for time.Now().Before(deadline) {
		if ctx.Err() != nil || m.ctx.Err() != nil {
			return false
		}
		runtime.Gosched()
	}
	return true
}

// fail answers HTTP 200 with a non-zero code, as the real API does.
func (m *Mock) fail(w http.ResponseWriter, endpoint string, e *apiError) {
	m.st.answered(endpoint, e.code)
	body, _ := json.Marshal(pangolin.Envelope{Code: e.code, Message: e.msg})
	m.write(context.Background(), w, body, 0) // no trickle: ctx unused
}

// write sends body, cut short or trickled when fault says so; a trickle
// stops when ctx (the request's) ends.
func (m *Mock) write(ctx context.Context, w http.ResponseWriter, body []byte, fault Fault) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	switch fault {
	case FaultTruncate:
		m.st.faults.truncated.Add(1)
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		m.hangUp(w, false)
		return
	case FaultSlowBody:
		m.st.faults.slow.Add(1)
		const chunks = 10
		step := (len(body) + chunks - 1) / chunks
		for i := 0; i < len(body); i += step {
			if i > 0 && !m.sleep(ctx, m.cfg.SlowBody/chunks) {
				return
			}
			if _, err := w.Write(body[i:min(i+step, len(body))]); err != nil {
				return
			}
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
		return
	}
	_, _ = w.Write(body)
}

// reset drops the connection with an RST before any answer.
func (m *Mock) reset(w http.ResponseWriter) {
	m.st.faults.reset.Add(1)
	m.hangUp(w, true)
}

// hangUp closes the connection under the handler; with rst, abortively.
func (m *Mock) hangUp(w http.ResponseWriter, rst bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2: the server resets the stream
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok && rst {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func (m *Mock) handleAuth(w http.ResponseWriter, r *http.Request) {
	var req struct{ Email, Password string }
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	switch {
	case err != nil:
		m.fail(w, EndpointAuth, &apiError{pangolin.CodeInvalidParameter, "invalid parameter: body must be {\"email\":...,\"password\":...}"})
	case req.Email == "" || req.Password == "":
		m.fail(w, EndpointAuth, &apiError{pangolin.CodeNullParameter, "null parameter: email and password are required"})
	case m.cfg.Email != "" && (req.Email != m.cfg.Email || subtle.ConstantTimeCompare([]byte(req.Password), []byte(m.cfg.Password)) != 1):
		m.fail(w, EndpointAuth, &apiError{pangolin.CodeInvalidParameter, "invalid parameter: wrong email or password"})
	default:
		m.st.answered(EndpointAuth, pangolin.CodeOK)
		body, _ := json.Marshal(pangolin.Envelope{Code: pangolin.CodeOK, Message: "ok", Data: mustJSON(m.cfg.Token)})
		m.write(r.Context(), w, body, 0)
	}
}

func (m *Mock) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, m.snapshot())
}

func (m *Mock) handleConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, m.cfg)
}

func (m *Mock) handleRound(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Round *int `json:"round"`
	}
	if v := r.URL.Query().Get("round"); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil {
			req.Round = &n
		}
	} else {
		_ = json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req)
	}
	if req.Round == nil || *req.Round < 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"round": N} or ?round=N with N ≥ 0`})
		return
	}
	m.SetRound(*req.Round)
	writeJSON(w, http.StatusOK, map[string]int{"round": *req.Round})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ledger is the account's credit balance, in hundredths of a credit.
type ledger struct {
	mu        sync.Mutex
	unlimited bool
	left      int64
}

func newLedger(credits float64) *ledger {
	return &ledger{unlimited: credits == 0, left: int64(math.Round(credits * 100))}
}

// reserve takes cost from the balance, or answers 2001.
func (l *ledger) reserve(cost int64) *apiError {
	if l.unlimited {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.left < cost {
		return &apiError{pangolin.CodeInsufficientCredits, fmt.Sprintf(
			"insufficient credits: %.2f left, this request costs %.2f; top up the account", float64(l.left)/100, float64(cost)/100)}
	}
	l.left -= cost
	return nil
}

func (l *ledger) refund(cost int64) {
	if l.unlimited {
		return
	}
	l.mu.Lock()
	l.left += cost
	l.mu.Unlock()
}

func (l *ledger) balance() (int64, bool) {
	if l.unlimited {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.left, true
}

// attemptCounter numbers the attempts of each job key, from 1.
type attemptCounter struct {
	shards [64]struct {
		mu sync.Mutex
		m  map[string]int
	}
}

func newAttemptCounter() *attemptCounter {
	a := &attemptCounter{}
	for i := range a.shards {
		a.shards[i].m = map[string]int{}
	}
	return a
}

func (a *attemptCounter) next(key string) int {
	s := &a.shards[mix(0, key, 0, 0)%uint64(len(a.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key]++
	return s.m[key]
}
