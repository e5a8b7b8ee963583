// Package pangolin owns the wire contract of the Pangolinfo Scrape API
// (shared/API-CONTRACT.md): request and answer types, the result codes and
// their classes, the amzProductDetail product, callback parsing, and an HTTP
// Client for the sync and async endpoints.
//
// It is shared by the mock (mockapi) and the strategies, so both sides of
// every test speak one contract. It is liberal in what it accepts (both
// envelope variants, numbers as strings, task ids in either place) and exact
// in what it sends. It must not import anything else of scrapebench.
package pangolin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Paths of the API, relative to the base URL.
const (
	PathAuth   = "/api/v1/auth"
	PathScrape = "/api/v1/scrape"
	PathSubmit = "/api/v1/scrape/async"
)

// Formats a scrape can return, and their credit cost in hundredths.
const (
	FormatJSON     = "json"
	FormatRawHTML  = "rawHtml"
	FormatMarkdown = "markdown"
)

// ParserProductDetail is the parser for Amazon product pages.
const ParserProductDetail = "amzProductDetail"

// CreditCost returns the credits one successful scrape in format costs, in
// hundredths of a credit (json 100, rawHtml and markdown 75), and false for
// an unknown format.
func CreditCost(format string) (hundredths int64, ok bool) {
	switch format {
	case FormatJSON:
		return 100, true
	case FormatRawHTML, FormatMarkdown:
		return 75, true
	}
	return 0, false
}

// BizContext carries request context such as the delivery zipcode.
type BizContext struct {
	Zipcode string `json:"zipcode,omitempty"`
}

// ScrapeRequest is the body of POST /api/v1/scrape. Address a page either by
// URL or by Site and Content (an ASIN).
type ScrapeRequest struct {
	URL        string      `json:"url,omitempty"`
	ParserName string      `json:"parserName,omitempty"`
	Format     string      `json:"format,omitempty"`
	Formats    []string    `json:"formats,omitempty"` // older clients; accepted, never sent
	BizContext *BizContext `json:"bizContext,omitempty"`
	Timeout    int         `json:"timeout,omitempty"` // milliseconds
	Site       string      `json:"site,omitempty"`
	Content    string      `json:"content,omitempty"`
}

// EffectiveFormat returns Format, else the first of Formats, else json.
func (r *ScrapeRequest) EffectiveFormat() string {
	return effectiveFormat(r.Format, r.Formats)
}

// Zipcode returns the zipcode in BizContext, or "".
func (r *ScrapeRequest) Zipcode() string {
	if r.BizContext == nil {
		return ""
	}
	return r.BizContext.Zipcode
}

func effectiveFormat(format string, formats []string) string {
	if format != "" {
		return format
	}
	if len(formats) > 0 && formats[0] != "" {
		return formats[0]
	}
	return FormatJSON
}

// SubmitRequest is the body of POST /api/v1/scrape/async. The vendor's
// documentation names the parser BizKey and sends a flat Zipcode; the seed
// article sends ParserName and Format. Both are accepted.
type SubmitRequest struct {
	URL         string      `json:"url,omitempty"`
	CallbackURL string      `json:"callbackUrl"`
	BizKey      string      `json:"bizKey,omitempty"`
	ParserName  string      `json:"parserName,omitempty"`
	Format      string      `json:"format,omitempty"`
	Formats     []string    `json:"formats,omitempty"`
	Zipcode     string      `json:"zipcode,omitempty"`
	BizContext  *BizContext `json:"bizContext,omitempty"`
	Site        string      `json:"site,omitempty"`
	Content     string      `json:"content,omitempty"`
}

// Parser returns BizKey, else ParserName.
func (r *SubmitRequest) Parser() string {
	if r.BizKey != "" {
		return r.BizKey
	}
	return r.ParserName
}

// EffectiveFormat returns Format, else the first of Formats, else json.
func (r *SubmitRequest) EffectiveFormat() string {
	return effectiveFormat(r.Format, r.Formats)
}

// EffectiveZipcode returns Zipcode, else the zipcode in BizContext.
func (r *SubmitRequest) EffectiveZipcode() string {
	if r.Zipcode != "" {
		return r.Zipcode
	}
	if r.BizContext != nil {
		return r.BizContext.Zipcode
	}
	return ""
}

// Envelope is the outer shape of every answer and callback.
type Envelope struct {
	Code    Code            `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// ScrapeData is the data of a successful sync answer or callback.
type ScrapeData struct {
	JSON      []JSONItem  `json:"json,omitempty"`
	RawHTML   []string    `json:"rawHtml,omitempty"`
	Markdown  []string    `json:"markdown,omitempty"`
	URL       string      `json:"url,omitempty"`
	TaskID    string      `json:"taskId,omitempty"`
	PointCost *FlexString `json:"pointCost,omitempty"`
}

// Products decodes every product in the JSON items. It returns an error
// when an item carries a non-zero code or results that are not products.
func (d *ScrapeData) Products() ([]Product, error) {
	var out []Product
	for i := range d.JSON {
		item := &d.JSON[i]
		if item.Code != CodeOK {
			return nil, &APIError{Endpoint: "result", Code: item.Code, Message: item.Message}
		}
		for _, raw := range item.Data.Results {
			var p Product
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, fmt.Errorf("decode product %d of item %d: %w", len(out), i, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// JSONItem is one element of data.json. On the wire it is an object in some
// answers and a JSON-encoded string of that object in others; both decode.
// It is sent as an object unless Stringified is set (the mock uses that to
// exercise clients).
type JSONItem struct {
	Code        Code         `json:"code"`
	Message     string       `json:"message"`
	Data        JSONItemData `json:"data"`
	Stringified bool         `json:"-"`
}

// JSONItemData holds a parser's results.
type JSONItemData struct {
	Results []json.RawMessage `json:"results"`
}

type jsonItemWire struct {
	Code    Code         `json:"code"`
	Message string       `json:"message"`
	Data    JSONItemData `json:"data"`
}

// UnmarshalJSON accepts the item as an object or as a string holding one.
func (it *JSONItem) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	stringified := false
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
		stringified = true
	}
	var w jsonItemWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("data.json item: %w", err)
	}
	*it = JSONItem{Code: w.Code, Message: w.Message, Data: w.Data, Stringified: stringified}
	return nil
}

// MarshalJSON sends an object, or a string holding it when Stringified.
func (it JSONItem) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(jsonItemWire{Code: it.Code, Message: it.Message, Data: it.Data})
	if err != nil || !it.Stringified {
		return b, err
	}
	return json.Marshal(string(b))
}

// SubmitData is the data of a successful async submit answer: the task id
// is at data.data.
type SubmitData struct {
	Data    string `json:"data"`
	BizMsg  string `json:"bizMsg"`
	BizCode int    `json:"bizCode"`
}

// Callback is the body the API POSTs to callbackUrl when an async task is
// done. The task id is at the top level or at data.taskId.
type Callback struct {
	Code    Code        `json:"code"`
	Message string      `json:"message"`
	TaskID  string      `json:"taskId,omitempty"`
	Data    *ScrapeData `json:"data,omitempty"`
}

// ID returns the task id, from the top level or else from data.taskId.
func (c *Callback) ID() string {
	if c.TaskID != "" {
		return c.TaskID
	}
	if c.Data != nil {
		return c.Data.TaskID
	}
	return ""
}

// ErrNoTaskID is returned by ParseCallback for a callback with no task id.
var ErrNoTaskID = errors.New("callback carries no task id (neither taskId nor data.taskId)")

// ParseCallback decodes a callback body and checks it names a task.
func ParseCallback(body []byte) (*Callback, error) {
	var cb Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, fmt.Errorf("callback is not the JSON envelope: %w", err)
	}
	if cb.ID() == "" {
		return nil, ErrNoTaskID
	}
	return &cb, nil
}

// ProductURL returns the Amazon US product page of asin.
func ProductURL(asin string) string {
	return "https://www.amazon.com/dp/" + asin
}

// ValidASIN reports whether s looks like an ASIN: ten letters or digits.
func ValidASIN(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// ASINFromURL extracts the ASIN from an Amazon product URL such as
// https://www.amazon.com/dp/B0DYTF8L2W or .../gp/product/B0DYTF8L2W. The
// ASIN is returned upper-cased.
func ASINFromURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.Contains(u.Host, "amazon.") {
		return "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, p := range parts {
		if (p == "dp" || p == "product") && i+1 < len(parts) && ValidASIN(parts[i+1]) {
			return strings.ToUpper(parts[i+1]), true
		}
	}
	return "", false
}
