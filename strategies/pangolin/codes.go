package pangolin

import (
	"errors"
	"fmt"
)

// Code is an API result code. The API answers HTTP 200 with a non-zero code
// on failure; credits are charged only when the code is CodeOK.
type Code int

// The codes of API-CONTRACT.md.
const (
	CodeOK                  Code = 0
	CodeNullParameter       Code = 1001
	CodeInvalidParameter    Code = 1002
	CodeInvalidToken        Code = 1004
	CodeInvalidParser       Code = 1009
	CodeUnsupportedZipcode  Code = 1011
	CodeInsufficientCredits Code = 2001
	CodeAccountExpired      Code = 2007
	CodeUsageLimit          Code = 2009
	CodeTooManyRequests     Code = 4029
	CodeServiceBusy         Code = 4030
	CodeSystemError         Code = 5000
	CodeSystemError2        Code = 5001
	CodeNoContent           Code = 9200
	CodeCrawlFailed         Code = 10000
	CodeCrawlFailed2        Code = 10001
)

// Class says what a client should do with a code.
type Class int

// The classes of codes.
const (
	// ClassOK: store the result.
	ClassOK Class = iota
	// ClassRetry: back off and retry the same job.
	ClassRetry
	// ClassFailJob: the job itself is wrong; fail it without retrying.
	ClassFailJob
	// ClassAbortRun: the account or token is unusable; stop the whole run.
	ClassAbortRun
)

func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassRetry:
		return "retry"
	case ClassFailJob:
		return "fail-job"
	case ClassAbortRun:
		return "abort-run"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

type codeInfo struct {
	meaning string
	class   Class
}

var codeTable = map[Code]codeInfo{
	CodeOK:                  {"ok", ClassOK},
	CodeNullParameter:       {"null parameter", ClassFailJob},
	CodeInvalidParameter:    {"invalid parameter", ClassFailJob},
	CodeInvalidToken:        {"invalid token", ClassAbortRun},
	CodeInvalidParser:       {"invalid parserName", ClassFailJob},
	CodeUnsupportedZipcode:  {"unsupported zipcode", ClassFailJob},
	CodeInsufficientCredits: {"insufficient credits", ClassAbortRun},
	CodeAccountExpired:      {"account expired", ClassAbortRun},
	CodeUsageLimit:          {"usage limit reached", ClassAbortRun},
	CodeTooManyRequests:     {"too many requests", ClassRetry},
	CodeServiceBusy:         {"service busy", ClassRetry},
	CodeSystemError:         {"system error", ClassRetry},
	CodeSystemError2:        {"system error", ClassRetry},
	CodeNoContent:           {"no content or anti-bot challenge", ClassRetry},
	CodeCrawlFailed:         {"crawl failed", ClassRetry},
	CodeCrawlFailed2:        {"crawl failed", ClassRetry},
}

// Class returns the class of c. A code the contract does not list is
// ClassFailJob: retrying what nobody documents could burn credits forever.
func (c Code) Class() Class {
	if info, ok := codeTable[c]; ok {
		return info.class
	}
	return ClassFailJob
}

// Meaning returns a short description of c, or "unknown code".
func (c Code) Meaning() string {
	if info, ok := codeTable[c]; ok {
		return info.meaning
	}
	return "unknown code"
}

// Known reports whether c is one of the contract's codes.
func (c Code) Known() bool {
	_, ok := codeTable[c]
	return ok
}

// Codes returns every code of the contract, in ascending order.
func Codes() []Code {
	return []Code{CodeOK, CodeNullParameter, CodeInvalidParameter, CodeInvalidToken,
		CodeInvalidParser, CodeUnsupportedZipcode, CodeInsufficientCredits,
		CodeAccountExpired, CodeUsageLimit, CodeTooManyRequests, CodeServiceBusy,
		CodeSystemError, CodeSystemError2, CodeNoContent, CodeCrawlFailed, CodeCrawlFailed2}
}

// APIError is an answer whose code is not CodeOK.
type APIError struct {
	Endpoint string // "scrape", "submit" or "auth"
	Code     Code
	Message  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("pangolin %s: code %d (%s): %s", e.Endpoint, int(e.Code), e.Code.Meaning(), e.Message)
}

// Class returns the class of the error's code.
func (e *APIError) Class() Class { return e.Code.Class() }

// HTTPError is an answer whose HTTP status is not 200: the contract reports
// API errors with HTTP 200, so another status means a proxy, an outage or a
// wrong base URL.
type HTTPError struct {
	Endpoint string
	Status   int
	Body     string // at most the first 256 bytes
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("pangolin %s: HTTP status %d (want 200; check the base URL): %q", e.Endpoint, e.Status, e.Body)
}

// ClassOf returns how a client should treat err from Client: ClassOK for
// nil, the code's class for an *APIError, ClassAbortRun for HTTP 401/403,
// ClassFailJob for HTTP 400/404/413/422, and ClassRetry for anything else
// (timeouts, resets, truncated bodies, 5xx): those are transport trouble.
func ClassOf(err error) Class {
	if err == nil {
		return ClassOK
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Class()
	}
	var httpErr *HTTPError
	if errors.As(err, &httpErr) {
		switch httpErr.Status {
		case 401, 403:
			return ClassAbortRun
		case 400, 404, 413, 422:
			return ClassFailJob
		}
	}
	return ClassRetry
}

// CodeOf returns the API code carried by err, and false when err carries none.
func CodeOf(err error) (Code, bool) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code, true
	}
	return 0, false
}

// DecodeError is an answer that is not the JSON the contract describes: a
// truncated body, HTML from a proxy, or a new envelope shape.
type DecodeError struct {
	Endpoint string
	Err      error
	Body     string // at most the first 256 bytes
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("pangolin %s: cannot decode answer: %v (body starts %q)", e.Endpoint, e.Err, e.Body)
}

func (e *DecodeError) Unwrap() error { return e.Err }
