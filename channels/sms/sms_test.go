package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidings/tidings/channels"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "f00dfacef00dfacef00dfacef00dface"
	testMG    = "MGfedcba9876543210fedcba9876543210"
	testFrom  = "+14155550100"
	testTo    = "+8613800138000"
)

// fakeTwilio speaks the Messages API: POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, with HTTP
// basic auth, answering 201 and the Message resource, or Twilio's error
// JSON. reply, when set, answers instead, after the request was read and
// authenticated.
type fakeTwilio struct {
	srv   *httptest.Server
	reply http.HandlerFunc

	mu       sync.Mutex
	requests []received
}

type received struct {
	path        string
	contentType string
	user, pass  string
	form        url.Values
}

var messagesPath = regexp.MustCompile(`^(?:/[^/]+)*/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$`)

func newFakeTwilio(t *testing.T, reply http.HandlerFunc) *fakeTwilio {
	t.Helper()
	f := &fakeTwilio{reply: reply}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTwilio) serve(w http.ResponseWriter, r *http.Request) {
	m := messagesPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		writeTwilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeTwilioError(w, http.StatusBadRequest, 0, err.Error())
		return
	}
	user, pass, _ := r.BasicAuth()
	f.mu.Lock()
	f.requests = append(f.requests, received{r.URL.Path, r.Header.Get("Content-Type"), user, pass, r.PostForm})
	f.mu.Unlock()
	if user != testSID || pass != testToken || m[1] != user {
		writeTwilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if f.reply != nil {
		f.reply(w, r)
		return
	}
	_, _, segments := Segments(r.PostForm.Get("Body"))
	sid := fmt.Sprintf("SM%032x", len(f.received())) // stable per server
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"account_sid":           user,
		"api_version":           "2010-04-01",
		"body":                  r.PostForm.Get("Body"),
		"date_created":          "Thu, 24 Dec 2026 01:00:00 +0000",
		"date_sent":             nil,
		"date_updated":          "Thu, 24 Dec 2026 01:00:00 +0000",
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  r.PostForm.Get("From"),
		"messaging_service_sid": r.PostForm.Get("MessagingServiceSid"),
		"num_media":             "0",
		"num_segments":          strconv.Itoa(segments),
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   sid,
		"status":                "queued",
		"subresource_uris":      map[string]string{"media": "/2010-04-01/Accounts/" + user + "/Messages/" + sid + "/Media.json"},
		"to":                    r.PostForm.Get("To"),
		"uri":                   "/2010-04-01/Accounts/" + user + "/Messages/" + sid + ".json",
	})
}

func (f *fakeTwilio) received() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.requests...)
}

func writeTwilioError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"message": message, "status": status}
	if code != 0 {
		body["code"] = code
		body["more_info"] = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)
	}
	json.NewEncoder(w).Encode(body)
}

func twilioError(status, code int, message string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		writeTwilioError(w, status, code, message)
	}
}

func testConfig(baseURL string) Config {
	return Config{AccountSID: testSID, AuthToken: testToken, From: testFrom, BaseURL: baseURL}
}

func testMessage() channels.Message {
	return channels.Message{
		DeliveryID: "birthday-gift/2027/42/sms",
		Channel:    channels.SMS,
		Campaign:   "birthday-gift",
		Occurrence: "2027",
		CustomerID: 42,
		To:         testTo,
		Body:       birthdaySMS,
	}
}

func newSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSendForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cfg      func(*Config)
		prefix   string
		wantForm url.Values
	}{
		{
			name: "from number, callback, validity",
			cfg: func(c *Config) {
				c.StatusCallback = "https://hooks.example.com/twilio/status"
				c.ValidityPeriod = 2 * time.Hour
			},
			wantForm: url.Values{
				"To":             {testTo},
				"From":           {testFrom},
				"Body":           {birthdaySMS},
				"StatusCallback": {"https://hooks.example.com/twilio/status?delivery=birthday-gift%2F2027%2F42%2Fsms"},
				"ValidityPeriod": {"7200"},
			},
		},
		{
			name: "messaging service, nothing optional",
			cfg:  func(c *Config) { c.From, c.MessagingServiceSID = "", testMG },
			wantForm: url.Values{
				"To":                  {testTo},
				"MessagingServiceSid": {testMG},
				"Body":                {birthdaySMS},
			},
		},
		{
			name: "callback with a query, validity rounded up",
			cfg: func(c *Config) {
				c.StatusCallback = "https://hooks.example.com/status?src=tidings"
				c.ValidityPeriod = 1500 * time.Millisecond
			},
			wantForm: url.Values{
				"To":             {testTo},
				"From":           {testFrom},
				"Body":           {birthdaySMS},
				"StatusCallback": {"https://hooks.example.com/status?src=tidings&delivery=birthday-gift%2F2027%2F42%2Fsms"},
				"ValidityPeriod": {"2"},
			},
		},
		{
			name:   "base URL with a path prefix",
			prefix: "/twilio-gw",
			wantForm: url.Values{
				"To":   {testTo},
				"From": {testFrom},
				"Body": {birthdaySMS},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTwilio(t, nil)
			cfg := testConfig(f.srv.URL + tc.prefix + "/")
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s := newSender(t, cfg)

			sid, err := s.Send(context.Background(), testMessage())
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if want := fmt.Sprintf("SM%032x", 1); sid != want {
				t.Errorf("provider id %q, want the message SID %q", sid, want)
			}
			reqs := f.received()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if want := tc.prefix + "/2010-04-01/Accounts/" + testSID + "/Messages.json"; r.path != want {
				t.Errorf("path %q, want %q", r.path, want)
			}
			if r.user != testSID || r.pass != testToken {
				t.Errorf("basic auth %q:%q, want the account SID and auth token", r.user, r.pass)
			}
			if r.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("content type %q", r.contentType)
			}
			if !equalForm(r.form, tc.wantForm) {
				t.Errorf("form\n got %v\nwant %v", r.form, tc.wantForm)
			}
		})
	}
}

func equalForm(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") || len(b[k]) != len(v) {
			return false
		}
	}
	return true
}

func TestSendInvalidTo(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, nil)
	s := newSender(t, testConfig(f.srv.URL))
	for _, to := range []string{"", "13800138000", "+0123456789", "+86 138 0013 8000", "+12345", "+1234567890123456", "tel:+14155550100", "+1415555０100"} {
		m := testMessage()
		m.To = to
		_, err := s.Send(context.Background(), m)
		var ce *channels.Error
		if !errors.As(err, &ce) || ce.Reason != channels.ReasonInvalidAddress || ce.Retryable || ce.Ambiguous {
			t.Errorf("To %q: %v, want a permanent invalid_address", to, err)
		}
	}
	if n := len(f.received()); n != 0 {
		t.Errorf("%d requests reached Twilio, want none", n)
	}
}

func TestSendEmptyBody(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, nil)
	s := newSender(t, testConfig(f.srv.URL))
	m := testMessage()
	m.Body = ""
	_, err := s.Send(context.Background(), m)
	var ce *channels.Error
	if !errors.As(err, &ce) || ce.Reason != channels.ReasonRejected || ce.Retryable {
		t.Errorf("empty body: %v, want a permanent rejected", err)
	}
	if n := len(f.received()); n != 0 {
		t.Errorf("%d requests reached Twilio, want none", n)
	}
}

// notListening returns a URL on which nothing accepts connections.
func notListening(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// hangUp reads the whole request and closes the connection without an
// answer: Twilio may or may not have queued the message.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 24, 1, 0, 0, 0, time.UTC)
	type want struct {
		reason     channels.Reason
		retryable  bool
		ambiguous  bool
		retryAfter time.Duration
		code       int    // the *APIError's code, when there is one
		text       string // in the error's text
	}
	for _, tc := range []struct {
		name  string
		reply http.HandlerFunc
		cfg   func(*Config)
		want  want
	}{
		{
			name:  "21610 unsubscribed",
			reply: twilioError(400, 21610, "Attempt to send to unsubscribed recipient"),
			want:  want{reason: channels.ReasonUnsubscribed, code: 21610, text: "twilio 21610: Attempt to send to unsubscribed recipient"},
		},
		{
			name:  "21211 invalid To",
			reply: twilioError(400, 21211, "Invalid 'To' Phone Number: +86138001380XX"),
			want:  want{reason: channels.ReasonInvalidAddress, code: 21211, text: "twilio 21211: Invalid 'To' Phone Number"},
		},
		{
			name:  "21614 not a mobile number",
			reply: twilioError(400, 21614, "'To' number is not a valid mobile number"),
			want:  want{reason: channels.ReasonInvalidAddress, code: 21614, text: "twilio 21614:"},
		},
		{
			name:  "21408 region not enabled",
			reply: twilioError(400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +86138001380XX"),
			want:  want{reason: channels.ReasonInvalidAddress, code: 21408, text: "twilio 21408:"},
		},
		{
			name:  "21612 unreachable",
			reply: twilioError(400, 21612, "The 'To' phone number is not currently reachable via SMS"),
			want:  want{reason: channels.ReasonInvalidAddress, code: 21612, text: "twilio 21612:"},
		},
		{
			name:  "20429 with Retry-After seconds",
			reply: twilioError(429, 20429, "Too Many Requests", "Retry-After", "7"),
			want:  want{reason: channels.ReasonRateLimited, retryable: true, retryAfter: 7 * time.Second, code: 20429, text: "twilio 20429: Too Many Requests"},
		},
		{
			name:  "HTTP 429 with Retry-After date",
			reply: twilioError(429, 0, "Too Many Requests", "Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)),
			want:  want{reason: channels.ReasonRateLimited, retryable: true, retryAfter: 90 * time.Second, text: "twilio: HTTP 429: Too Many Requests"},
		},
		{
			name:  "HTTP 429 without Retry-After",
			reply: twilioError(429, 20429, "Too Many Requests"),
			want:  want{reason: channels.ReasonRateLimited, retryable: true, code: 20429, text: "twilio 20429"},
		},
		{
			name:  "21611 queue full",
			reply: twilioError(400, 21611, "This 'From' number has exceeded the maximum number of queued messages"),
			want:  want{reason: channels.ReasonRateLimited, retryable: true, code: 21611, text: "twilio 21611"},
		},
		{
			name:  "500",
			reply: twilioError(500, 20500, "An internal server error has occurred"),
			want:  want{reason: channels.ReasonUnavailable, retryable: true, code: 20500, text: "twilio 20500: An internal server error has occurred"},
		},
		{
			name: "503 with Retry-After and an HTML body",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, "<html><body>Service Unavailable</body></html>")
			},
			want: want{reason: channels.ReasonUnavailable, retryable: true, retryAfter: 30 * time.Second, text: `twilio: HTTP 503: unreadable error body "<html><body>Service Unavailable`},
		},
		{
			name:  "504 may have been queued",
			reply: twilioError(504, 0, "Gateway Timeout"),
			want:  want{reason: channels.ReasonAmbiguous, ambiguous: true, text: "twilio: HTTP 504: Gateway Timeout"},
		},
		{
			name: "20003 wrong auth token",
			cfg:  func(c *Config) { c.AuthToken = "0000000000000000000000000000dead" },
			want: want{reason: channels.ReasonAuth, code: 20003, text: "twilio 20003: Authenticate"},
		},
		{
			name:  "401 without a code",
			reply: twilioError(401, 0, ""),
			want:  want{reason: channels.ReasonAuth, text: "twilio: HTTP 401: Unauthorized"},
		},
		{
			name:  "generic 400",
			reply: twilioError(400, 21606, "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account"),
			want:  want{reason: channels.ReasonRejected, code: 21606, text: "twilio 21606: The 'From' phone number"},
		},
		{
			name: "malformed JSON error body",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"code": 21610, "message": "Attempt to`)
			},
			want: want{reason: channels.ReasonRejected, text: `twilio: HTTP 400: unreadable error body "{\"code\": 21610`},
		},
		{
			name: "redirect",
			reply: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://example.com/", http.StatusFound)
			},
			want: want{reason: channels.ReasonRejected, text: "unexpected redirect (HTTP 302)"},
		},
		{
			name: "201 with a garbled body",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				fmt.Fprint(w, `{"sid": "SM`)
			},
			want: want{reason: channels.ReasonAmbiguous, ambiguous: true, text: "HTTP 201 with an unreadable body"},
		},
		{
			name: "201 without a sid",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				fmt.Fprint(w, `{"status": "queued"}`)
			},
			want: want{reason: channels.ReasonAmbiguous, ambiguous: true, text: "HTTP 201 without a message SID"},
		},
		{
			name:  "connection closed after the request was read",
			reply: hangUp,
			want:  want{reason: channels.ReasonAmbiguous, ambiguous: true, text: "request sent, no response"},
		},
		{
			name: "timeout after the request was read",
			reply: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done() // until the client gives up
			},
			cfg:  func(c *Config) { c.Timeout = 100 * time.Millisecond },
			want: want{reason: channels.ReasonAmbiguous, ambiguous: true, text: "context deadline exceeded"},
		},
		{
			name: "server not listening",
			cfg:  func(c *Config) { c.BaseURL = notListening(t) },
			want: want{reason: channels.ReasonUnavailable, retryable: true, text: "request not sent"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTwilio(t, tc.reply)
			cfg := testConfig(f.srv.URL)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s := newSender(t, cfg)
			s.now = func() time.Time { return now }

			sid, err := s.Send(context.Background(), testMessage())
			if sid != "" {
				t.Errorf("provider id %q on failure", sid)
			}
			var ce *channels.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *channels.Error", err, err)
			}
			got := want{reason: ce.Reason, retryable: ce.Retryable, ambiguous: ce.Ambiguous, retryAfter: ce.RetryAfter, text: tc.want.text}
			var ae *APIError
			if errors.As(err, &ae) {
				got.code = ae.Code
			}
			if got != tc.want {
				t.Errorf("classified %+v\n                want %+v", got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want.text) {
				t.Errorf("error %q does not contain %q", err, tc.want.text)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q shows the auth token", err)
			}
		})
	}
}

func TestSendContextCanceled(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, nil)
	s := newSender(t, testConfig(f.srv.URL))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Send(ctx, testMessage())
	var ce *channels.Error
	if !errors.As(err, &ce) || ce.Reason != channels.ReasonUnavailable || !ce.Retryable || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled before sending: %v, want a retryable provider_unavailable wrapping context.Canceled", err)
	}
	if n := len(f.received()); n != 0 {
		t.Errorf("%d requests reached Twilio, want none", n)
	}
}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, nil)
	s := newSender(t, testConfig(f.srv.URL))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			m := testMessage()
			m.DeliveryID = fmt.Sprintf("d%d", i)
			if _, err := s.Send(context.Background(), m); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(f.received()); got != n {
		t.Errorf("%d requests, want %d", got, n)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	valid := testConfig("")
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want string // the error, "" for none
	}{
		{"defaults", nil, ""},
		{"messaging service", func(c *Config) { c.From, c.MessagingServiceSID = "", testMG }, ""},
		{"full", func(c *Config) {
			c.BaseURL = "https://api.dublin.ie1.twilio.com"
			c.StatusCallback = "https://hooks.example.com/status?src=tidings"
			c.ValidityPeriod = 10 * time.Hour
			c.Timeout = time.Minute
		}, ""},
		{"account SID", func(c *Config) { c.AccountSID = "AC123" },
			`sms: account SID "AC123": want "AC" and 32 hex digits`},
		{"API key instead of account SID", func(c *Config) { c.AccountSID = "SK0123456789abcdef0123456789abcdef" },
			`sms: account SID "SK0123456789abcdef0123456789abcdef": want "AC" and 32 hex digits`},
		{"no token", func(c *Config) { c.AuthToken = "" },
			`sms: auth token is empty`},
		{"token with symbols", func(c *Config) { c.AuthToken = "s3cr3t!token" },
			`sms: auth token: want letters and digits only`},
		{"no sender", func(c *Config) { c.From = "" },
			`sms: set a messaging service SID or a From number`},
		{"two senders", func(c *Config) { c.MessagingServiceSID = testMG },
			`sms: set a messaging service SID or a From number, not both`},
		{"messaging service SID", func(c *Config) { c.From, c.MessagingServiceSID = "", "MG12" },
			`sms: messaging service SID "MG12": want "MG" and 32 hex digits`},
		{"From not E.164", func(c *Config) { c.From = "4155550100" },
			`sms: from "4155550100": want an E.164 number such as +14155550100`},
		{"base URL scheme", func(c *Config) { c.BaseURL = "api.twilio.com" },
			`sms: base URL "api.twilio.com": want an http or https URL`},
		{"base URL query", func(c *Config) { c.BaseURL = "https://api.twilio.com/?x=1" },
			`sms: base URL "https://api.twilio.com/?x=1": no query allowed`},
		{"status callback host", func(c *Config) { c.StatusCallback = "https:///status" },
			`sms: status callback "https:///status": no host`},
		{"status callback password hidden", func(c *Config) { c.StatusCallback = "ftp://user:hunter2@example.com/" },
			`sms: status callback "ftp://user:xxxxx@example.com/": want an http or https URL`},
		{"validity too long", func(c *Config) { c.ValidityPeriod = 11 * time.Hour },
			`sms: validity period 11h0m0s: want 1s to 10h`},
		{"validity too short", func(c *Config) { c.ValidityPeriod = time.Millisecond },
			`sms: validity period 1ms: want 1s to 10h`},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second },
			`sms: timeout -1s is negative`},
		{"several problems at once", func(c *Config) { c.AccountSID, c.AuthToken = "", "" },
			`sms: account SID "": want "AC" and 32 hex digits; auth token is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := New(cfg, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("New: %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestConfigHidesAuthToken(t *testing.T) {
	t.Parallel()
	cfg := testConfig("https://user:basepass@api.twilio.com")
	cfg.StatusCallback = "https://hook:cbpass@hooks.example.com/status"
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "sms", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "sms", cfg)
	for name, out := range map[string]string{
		"String":  cfg.String(),
		"%v":      fmt.Sprintf("%v", cfg),
		"%+v":     fmt.Sprintf("%+v", cfg),
		"%#v":     fmt.Sprintf("%#v", cfg),
		"pointer": fmt.Sprint(&cfg),
		"slog":    logged.String(),
	} {
		for _, secret := range []string{testToken, "basepass", "cbpass"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows a secret: %s", name, out)
			}
		}
		if !strings.Contains(out, "<secret>") || !strings.Contains(out, testSID) {
			t.Errorf("%s does not show the account SID and <secret>: %s", name, out)
		}
	}
	if !strings.Contains(logged.String(), `"auth_token":"<secret>"`) {
		t.Errorf("JSON log lacks auth_token <secret>: %s", logged.String())
	}
}

func TestSendLogsNoSecrets(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, nil)
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(testConfig(f.srv.URL), log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	out := logged.String()
	if !strings.Contains(out, `"segments":2`) || !strings.Contains(out, `"delivery_id":"birthday-gift/2027/42/sms"`) {
		t.Errorf("debug log lacks the delivery: %s", out)
	}
	if strings.Contains(out, testToken) {
		t.Errorf("log shows the auth token: %s", out)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 24, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"99999999999", maxRetryAfter},
		{now.Add(time.Minute).Format(http.TimeFormat), time.Minute},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Thursday, 24-Dec-26 01:00:30 GMT", 30 * time.Second}, // RFC 850
		{"soon", 0},
	} {
		if got := retryAfter(tc.header, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}
