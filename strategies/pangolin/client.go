package pangolin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultMaxBody bounds the size of an answer the Client reads.
const DefaultMaxBody = 32 << 20

// Client calls the API. It is safe for concurrent use. It never prints,
// logs or returns its token in an error.
type Client struct {
	base    string
	token   string
	http    *http.Client
	maxBody int64
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the *http.Client; its Timeout bounds each call.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithMaxBody bounds the bytes read from one answer.
func WithMaxBody(n int64) Option { return func(c *Client) { c.maxBody = n } }

// NewHTTPClient returns an *http.Client whose transport keeps up to
// maxConns idle connections per host (the default transport keeps 2, which
// makes a concurrent client open and close a connection per request), with
// the given per-request timeout (0: none).
func NewHTTPClient(maxConns int, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if maxConns < 2 {
		maxConns = 2
	}
	tr.MaxIdleConns = maxConns
	tr.MaxIdleConnsPerHost = maxConns
	return &http.Client{Transport: tr, Timeout: timeout}
}

// NewClient returns a client of the API at baseURL (such as
// https://scrapeapi.pangolinfo.com) that sends token as a bearer token.
func NewClient(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host[:port], such as https://scrapeapi.pangolinfo.com", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), token: token, maxBody: DefaultMaxBody}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = NewHTTPClient(64, 0)
	}
	return c, nil
}

// BaseURL returns the base URL the client calls.
func (c *Client) BaseURL() string { return c.base }

// Scrape calls the sync endpoint and returns the data of a code-0 answer.
// A non-zero code is an *APIError; a non-200 status an *HTTPError; a body
// that does not decode a *DecodeError; transport failures are returned
// wrapped as they come (classify any of them with ClassOf).
func (c *Client) Scrape(ctx context.Context, req ScrapeRequest) (*ScrapeData, error) {
	env, err := c.call(ctx, "scrape", PathScrape, req, true)
	if err != nil {
		return nil, err
	}
	var data ScrapeData
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return nil, &DecodeError{Endpoint: "scrape", Err: fmt.Errorf("data: %w", err), Body: head(env.Data)}
	}
	return &data, nil
}

// Submit calls the async endpoint and returns the task id of a code-0 answer.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (string, error) {
	env, err := c.call(ctx, "submit", PathSubmit, req, true)
	if err != nil {
		return "", err
	}
	var data SubmitData
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return "", &DecodeError{Endpoint: "submit", Err: fmt.Errorf("data: %w", err), Body: head(env.Data)}
	}
	if data.Data == "" {
		return "", &DecodeError{Endpoint: "submit", Err: errors.New("no task id at data.data"), Body: head(env.Data)}
	}
	return data.Data, nil
}

// Auth exchanges an email and password for a token.
func (c *Client) Auth(ctx context.Context, email, password string) (string, error) {
	body := map[string]string{"email": email, "password": password}
	env, err := c.call(ctx, "auth", PathAuth, body, false)
	if err != nil {
		return "", err
	}
	var token string
	if err := json.Unmarshal(env.Data, &token); err != nil || token == "" {
		return "", &DecodeError{Endpoint: "auth", Err: errors.New("no token string at data"), Body: "(withheld: may hold a token)"}
	}
	return token, nil
}

func (c *Client) call(ctx context.Context, endpoint, path string, body any, auth bool) (*Envelope, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("pangolin %s: encode request: %w", endpoint, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("pangolin %s: %w", endpoint, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if auth {
		hreq.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("pangolin %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("pangolin %s: read answer: %w", endpoint, err)
	}
	if int64(len(raw)) > c.maxBody {
		return nil, &DecodeError{Endpoint: endpoint, Err: fmt.Errorf("answer larger than %d bytes", c.maxBody), Body: head(raw)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Endpoint: endpoint, Status: resp.StatusCode, Body: head(raw)}
	}
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, &DecodeError{Endpoint: endpoint, Err: err, Body: head(raw)}
	}
	if env.Code != CodeOK {
		return nil, &APIError{Endpoint: endpoint, Code: env.Code, Message: env.Message}
	}
	return &env, nil
}

func head(b []byte) string {
	if len(b) > 256 {
		b = b[:256]
	}
	return string(b)
}
