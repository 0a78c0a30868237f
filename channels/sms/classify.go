package sms

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/channels"
)

// APIError is an error answer from Twilio's API.
type APIError struct {
	Status   int    // HTTP status
	Code     int    // Twilio error code (https://www.twilio.com/docs/api/errors), 0 if none
	Message  string // Twilio's message
	MoreInfo string // link to the error's documentation
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("twilio %d: %s", e.Code, e.Message)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("twilio: HTTP %d: %s", e.Status, msg)
}

// codeUnsubscribed is Twilio's "attempt to send to unsubscribed recipient".
const codeUnsubscribed = 21610

// Twilio error codes by outcome. Codes change over time (Twilio split
// 21211 and 21614 into finer codes in 2024); HTTP status decides when a
// code is not listed.
var (
	invalidAddressCodes = map[int]bool{
		21211: true, // invalid 'To' phone number
		21214: true, // 'To' phone number cannot be reached
		21217: true, // phone number does not appear to be valid
		21265: true, // 'To' number cannot be a short code
		21401: true, // invalid phone number
		21407: true, // number type does not support SMS
		21408: true, // SMS not enabled for the region of the 'To' number
		21421: true, // phone number is invalid
		21612: true, // 'To' not reachable from this 'From' via SMS
		21614: true, // 'To' is not a valid mobile number
		21635: true, // 'To' is a landline
	}
	rateLimitCodes = map[int]bool{
		20429: true, // too many requests
		14107: true, // send rate limit between two numbers
		21611: true, // 'From' number's queue is full
		63017: true, // account rate limit exceeded
	}
	authCodes = map[int]bool{
		20003: true, // authentication failed
		20005: true, // account not active
		20151: true, // authentication failed
		10001: true, // account is not active
	}
	unavailableCodes = map[int]bool{
		21730: true, // system under maintenance
	}
)

// classifyAPI classifies an error answer; wait comes from Retry-After.
func classifyAPI(e *APIError, wait time.Duration) *channels.Error {
	switch {
	case e.Code == codeUnsubscribed:
		return channels.Permanent(channels.ReasonUnsubscribed, e)
	case invalidAddressCodes[e.Code]:
		return channels.Permanent(channels.ReasonInvalidAddress, e)
	case rateLimitCodes[e.Code] || e.Status == http.StatusTooManyRequests:
		return channels.Retryable(channels.ReasonRateLimited, wait, e)
	case authCodes[e.Code] || e.Status == http.StatusUnauthorized:
		return channels.Permanent(channels.ReasonAuth, e)
	case e.Status == http.StatusGatewayTimeout:
		// The gateway gave up waiting for Twilio, which may have queued the
		// message all the same.
		return channels.Ambiguous(e)
	case e.Status >= 500 || e.Status == http.StatusRequestTimeout || unavailableCodes[e.Code]:
		return channels.Retryable(channels.ReasonUnavailable, wait, e)
	default:
		return channels.Permanent(channels.ReasonRejected, e)
	}
}

// maxRetryAfter caps Retry-After, so a bogus header cannot park a
// delivery for months.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
// Anything else, or a date in the past, is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(n, 0), int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// maxErrBody bounds how much of an error body is kept.
const maxErrBody = 64 << 10

// exchange is the http.RoundTripper of one Send: twilio-go has no context,
// no base URL option and keeps the response to itself, so this is where
// the request gets Send's context and the configured host, and where the
// status, Retry-After and "was it written" are recorded.
type exchange struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper

	// Set by trace hooks, which may run on the transport's goroutines.
	conns     atomic.Int32 // connections obtained, one per attempt
	writeErrs atomic.Int32 // attempts whose request write failed
	wrote     atomic.Bool  // an attempt wrote the whole request

	// Set in RoundTrip, read after the call returns.
	status     int
	retryAfter string
	errBody    []byte
}

func (x *exchange) RoundTrip(req *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { x.conns.Add(1) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err != nil {
				x.writeErrs.Add(1)
			} else {
				x.wrote.Store(true)
			}
		},
	}
	r := req.Clone(httptrace.WithClientTrace(x.ctx, trace))
	r.URL.Scheme = x.base.Scheme
	r.URL.Host = x.base.Host
	r.URL.Path = x.base.Path + req.URL.Path
	r.URL.RawPath = ""
	r.Host = ""
	resp, err := x.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	x.status = resp.StatusCode
	x.retryAfter = resp.Header.Get("Retry-After")
	if resp.StatusCode >= 400 {
		// twilio-go decodes an error body without closing it, which would
		// pin the connection; hand it a copy in memory. A read error leaves
		// a truncated copy, which fails to decode and is classified by
		// status.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
		resp.Body.Close()
		x.errBody = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// maybeSent reports whether, after a failure without a response, Twilio
// may have received the whole request. It is false only when no
// connection was obtained or every attempt's write failed.
func (x *exchange) maybeSent() bool {
	return x.wrote.Load() || x.conns.Load() > x.writeErrs.Load()
}
