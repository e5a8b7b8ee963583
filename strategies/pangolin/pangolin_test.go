package pangolin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

func TestScrapeDataAcceptsBothEnvelopeVariants(t *testing.T) {
	t.Parallel()
	product := `{"asin":"B0DYTF8L2W","price":"$19.99","star":4.4,"rating":"22","seller":{"name":"Acme","id":"A1"},"coupon":null}`
	object := `{"json":[{"code":0,"message":"ok","data":{"results":[` + product + `]}}],"url":"u","taskId":"t1"}`
	inner, _ := json.Marshal(`{"code":0,"message":"ok","data":{"results":[` + product + `]}}`)
	stringified := `{"json":[` + string(inner) + `],"url":"u","taskId":"t1","pointCost":"1"}`
	for name, raw := range map[string]string{"object": object, "string": stringified} {
		t.Run(name, func(t *testing.T) {
			var d pangolin.ScrapeData
			if err := json.Unmarshal([]byte(raw), &d); err != nil {
				t.Fatal(err)
			}
			ps, err := d.Products()
			if err != nil || len(ps) != 1 {
				t.Fatalf("Products() = %v, %v; want one product", ps, err)
			}
			p := ps[0]
			if p.ASIN != "B0DYTF8L2W" || p.Price != "$19.99" || p.Star != "4.4" || p.Rating != "22" {
				t.Errorf("product fields = %+v", p)
			}
			if p.Seller != `{"name":"Acme","id":"A1"}` || p.Coupon != "" || p.Coupon.Present() {
				t.Errorf("seller %q coupon %q", p.Seller, p.Coupon)
			}
			if d.JSON[0].Stringified != (name == "string") {
				t.Errorf("Stringified = %v", d.JSON[0].Stringified)
			}
		})
	}
}

func TestJSONItemMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	for _, stringified := range []bool{false, true} {
		it := pangolin.JSONItem{Code: 0, Message: "ok", Stringified: stringified,
			Data: pangolin.JSONItemData{Results: []json.RawMessage{json.RawMessage(`{"asin":"B000000001"}`)}}}
		b, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		if isString := b[0] == '"'; isString != stringified {
			t.Errorf("stringified=%v sent %s", stringified, b)
		}
		var back pangolin.JSONItem
		if err := json.Unmarshal(b, &back); err != nil || back.Stringified != stringified || len(back.Data.Results) != 1 {
			t.Errorf("round trip: %+v, %v", back, err)
		}
	}
}

func TestParseCallbackTaskIDPlacement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
		wantErr          error
	}{
		{"top level", `{"code":0,"message":"ok","taskId":"abc","data":{"json":[]}}`, "abc", nil},
		{"data level", `{"code":0,"message":"ok","data":{"taskId":"def","json":[]}}`, "def", nil},
		{"top level wins", `{"code":0,"taskId":"abc","data":{"taskId":"def"}}`, "abc", nil},
		{"none", `{"code":0,"message":"ok","data":{"json":[]}}`, "", pangolin.ErrNoTaskID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := pangolin.ParseCallback([]byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && cb.ID() != tt.want {
				t.Errorf("ID() = %q, want %q", cb.ID(), tt.want)
			}
		})
	}
	if _, err := pangolin.ParseCallback([]byte(`{not json`)); err == nil {
		t.Error("bad JSON parsed")
	}
}

func TestCodeClasses(t *testing.T) {
	t.Parallel()
	want := map[pangolin.Code]pangolin.Class{
		0: pangolin.ClassOK, 1001: pangolin.ClassFailJob, 1002: pangolin.ClassFailJob, 1004: pangolin.ClassAbortRun,
		1009: pangolin.ClassFailJob, 1011: pangolin.ClassFailJob, 2001: pangolin.ClassAbortRun, 2007: pangolin.ClassAbortRun,
		2009: pangolin.ClassAbortRun, 4029: pangolin.ClassRetry, 4030: pangolin.ClassRetry, 5000: pangolin.ClassRetry,
		5001: pangolin.ClassRetry, 9200: pangolin.ClassRetry, 10000: pangolin.ClassRetry, 10001: pangolin.ClassRetry,
		777: pangolin.ClassFailJob,
	}
	for code, class := range want {
		if got := code.Class(); got != class {
			t.Errorf("Code(%d).Class() = %v, want %v", code, got, class)
		}
	}
	if len(pangolin.Codes()) != len(want)-1 {
		t.Errorf("Codes() lists %d codes, the table %d", len(pangolin.Codes()), len(want)-1)
	}
}

func TestASINFromURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, want string
		ok        bool
	}{
		{"https://www.amazon.com/dp/B0DYTF8L2W", "B0DYTF8L2W", true},
		{"https://www.amazon.com/Some-Title/dp/b0dytf8l2w?th=1", "B0DYTF8L2W", true},
		{"https://www.amazon.de/gp/product/B0DYTF8L2W/", "B0DYTF8L2W", true},
		{"https://www.amazon.com/dp/B0DY", "", false},
		{"https://example.com/dp/B0DYTF8L2W", "", false},
		{"ftp://www.amazon.com/dp/B0DYTF8L2W", "", false},
		{"::", "", false},
	}
	for _, tt := range tests {
		got, ok := pangolin.ASINFromURL(tt.url)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ASINFromURL(%q) = %q, %v; want %q, %v", tt.url, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFlexStringFloat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   pangolin.FlexString
		want float64
		ok   bool
	}{
		{"$1,299.00", 1299, true}, {"4.4", 4.4, true}, {"22", 22, true}, {"null", 0, false}, {"", 0, false},
		{"4.4 out of 5", 4.4, true},
	}
	for _, tt := range tests {
		got, ok := tt.in.Float()
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q.Float() = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// apiStub answers every request with status and body and records the last
// request.
func apiStub(t *testing.T, status int, body string) (*pangolin.Client, *http.Request, *[]byte) {
	t.Helper()
	var last http.Request
	var lastBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = *r
		lastBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := pangolin.NewClient(srv.URL, "secret-token")
	if err != nil {
		t.Fatal(err)
	}
	return c, &last, &lastBody
}

func TestClientErrorsAreTyped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := pangolin.ScrapeRequest{URL: pangolin.ProductURL("B0DYTF8L2W"), ParserName: pangolin.ParserProductDetail, Format: "json"}
	tests := []struct {
		name   string
		status int
		body   string
		class  pangolin.Class
		check  func(error) bool
	}{
		{"api code", 200, `{"code":4029,"message":"Rate limit exceeded"}`, pangolin.ClassRetry,
			func(err error) bool { c, ok := pangolin.CodeOf(err); return ok && c == 4029 }},
		{"fatal code", 200, `{"code":1004,"message":"invalid token"}`, pangolin.ClassAbortRun,
			func(err error) bool {
				var e *pangolin.APIError
				return errors.As(err, &e) && e.Message == "invalid token"
			}},
		{"http status", 502, `bad gateway`, pangolin.ClassRetry,
			func(err error) bool { var e *pangolin.HTTPError; return errors.As(err, &e) && e.Status == 502 }},
		{"unauthorized", 401, ``, pangolin.ClassAbortRun,
			func(err error) bool { var e *pangolin.HTTPError; return errors.As(err, &e) }},
		{"not json", 200, `<html>`, pangolin.ClassRetry,
			func(err error) bool { var e *pangolin.DecodeError; return errors.As(err, &e) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := apiStub(t, tt.status, tt.body)
			_, err := c.Scrape(ctx, req)
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if got := pangolin.ClassOf(err); got != tt.class {
				t.Errorf("ClassOf = %v, want %v", got, tt.class)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestClientSendsContract(t *testing.T) {
	t.Parallel()
	c, last, body := apiStub(t, 200, `{"code":0,"message":"ok","data":{"data":"task-1","bizMsg":"ok","bizCode":0}}`)
	id, err := c.Submit(context.Background(), pangolin.SubmitRequest{URL: pangolin.ProductURL("B0DYTF8L2W"),
		CallbackURL: "http://127.0.0.1/cb", BizKey: pangolin.ParserProductDetail, Zipcode: "10041"})
	if err != nil || id != "task-1" {
		t.Fatalf("Submit = %q, %v", id, err)
	}
	if last.URL.Path != pangolin.PathSubmit || last.Method != http.MethodPost {
		t.Errorf("request %s %s", last.Method, last.URL.Path)
	}
	if got := last.Header.Get("Authorization"); got != "Bearer secret-token" {
		t.Errorf("Authorization = %q", got)
	}
	if got := last.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	var sent map[string]any
	if err := json.Unmarshal(*body, &sent); err != nil || sent["bizKey"] != "amzProductDetail" || sent["callbackUrl"] == nil {
		t.Errorf("body %s", *body)
	}
	if _, err := pangolin.NewClient("scrapeapi.pangolinfo.com", "x"); err == nil {
		t.Error("NewClient accepted a base URL without scheme")
	}
}
