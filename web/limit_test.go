package web_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/web"
)

const (
	attacker = "192.0.2.7:51000"
	other    = "198.51.100.9:52000"
)

func formLogin(from, user, pass string) request {
	return request{method: "POST", path: "/login", remote: from, html: true,
		form: url.Values{"username": {user}, "password": {pass}, "next": {"/campaigns/greeting"}}}
}

func sessionOf(resp response) *http.Cookie {
	for _, c := range resp.resp.Cookies() {
		if c.Name == "tidings_session" && c.Value != "" {
			return c
		}
	}
	return nil
}

// wantLoginFailed checks an answer to wrong credentials: 401 and the form
// again, not 429.
func wantLoginFailed(t *testing.T, what string, got response) {
	t.Helper()
	if got.code != 401 || !strings.Contains(got.body, "Wrong user name or password.") || !strings.Contains(got.body, `action="/login"`) {
		t.Fatalf("%s: %d, want 401 with the form\n%s", what, got.code, got.body)
	}
}

// wantThrottled checks an answer to a client over the limit: 429,
// Retry-After, no session, no form, no Basic challenge.
func wantThrottled(t *testing.T, what string, got response, retryAfter, says string) {
	t.Helper()
	if got.code != 429 || got.header.Get("Retry-After") != retryAfter || !strings.Contains(got.body, says) ||
		sessionOf(got) != nil || strings.Contains(got.body, `action="/login"`) || got.header.Get("WWW-Authenticate") != "" {
		t.Fatalf("%s: %d Retry-After %q %v, want 429 Retry-After %s saying %q\n%s",
			what, got.code, got.header.Get("Retry-After"), got.header, retryAfter, says, got.body)
	}
}

// Five wrong passwords from an address, and its next attempt is refused
// with 429, right password or not, until the oldest failure is 15 minutes
// old. Other addresses, and sessions already open, are not affected; a
// successful login clears the address's failures at that account.
func TestFailedLoginsAreLimited(t *testing.T) {
	b := setup(t, store.SQLite)
	for i := range 5 {
		wantLoginFailed(t, fmt.Sprintf("wrong password %d", i+1), b.do(t, formLogin(attacker, "admin", fmt.Sprintf("guess number %d", i))))
	}
	const msg = "Too many failed logins from your address. Try again in 15 minutes."
	wantThrottled(t, "6th attempt, right password", b.do(t, formLogin(attacker, "admin", adminPassword)), "900", msg)
	wantThrottled(t, "right Basic credentials", b.do(t, request{method: "GET", path: "/queues/api/queues", remote: attacker, user: "admin", pass: adminPassword}), "900", "429 too many requests: "+msg)

	// Another address logs in; its session works from the refused address
	// too, since a session is not a password check.
	got := b.do(t, formLogin(other, "admin", adminPassword))
	session := sessionOf(got)
	if got.code != 303 || session == nil {
		t.Fatalf("login from another address: %d %v", got.code, got.resp.Cookies())
	}
	if got := b.do(t, request{method: "GET", path: "/", remote: attacker, cookie: session}); got.code != 200 {
		t.Errorf("session used from the refused address: %d", got.code)
	}

	b.now = b.now.Add(14 * time.Minute)
	wantThrottled(t, "14 minutes later", b.do(t, formLogin(attacker, "admin", adminPassword)), "60", "Try again in a minute.")
	b.now = b.now.Add(time.Minute)
	if got := b.do(t, formLogin(attacker, "admin", adminPassword)); got.code != 303 || sessionOf(got) == nil {
		t.Fatalf("login once the window has passed: %d\n%s", got.code, got.body)
	}

	// The success cleared the failures: 4 more, a success as the same
	// account, and 5 more are needed before the next refusal.
	for i := range 4 {
		wantLoginFailed(t, fmt.Sprintf("after the window, wrong password %d", i+1), b.do(t, formLogin(attacker, "admin", "still guessing")))
	}
	if got := b.do(t, formLogin(attacker, "admin", adminPassword)); got.code != 303 {
		t.Fatalf("login after 4 failures: %d", got.code)
	}
	for i := range 5 {
		wantLoginFailed(t, fmt.Sprintf("after a success, wrong password %d", i+1), b.do(t, formLogin(attacker, "admin", "still guessing")))
	}
	wantThrottled(t, "after a success and 5 failures", b.do(t, formLogin(attacker, "viewer", viewerPassword)), "900", msg)
}

// Wrong HTTP Basic credentials, on the dashboard or on asynqmon, count
// toward the same limit as the form.
func TestFailedBasicAuthCountsTowardTheLimit(t *testing.T) {
	b := setup(t, store.SQLite)
	for _, r := range []request{
		{method: "GET", path: "/", user: "admin", pass: "wrong password!"},
		{method: "GET", path: "/queues/api/queues", user: "viewer", pass: adminPassword},
		{method: "DELETE", path: "/queues/api/queues/tidings:normal", user: "nobody", pass: adminPassword},
	} {
		r.remote = attacker
		if got := b.do(t, r); got.code != 401 || got.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s %s with wrong Basic credentials: %d %v", r.method, r.path, got.code, got.header)
		}
	}
	wantLoginFailed(t, "4th failure, by form", b.do(t, formLogin(attacker, "admin", "wrong password!")))
	got := b.do(t, request{method: "GET", path: "/queues/", remote: attacker, user: "admin", pass: "wrong password!", html: true})
	wantLoginFailed(t, "5th failure, Basic from a browser", got)

	wantThrottled(t, "form, right password", b.do(t, formLogin(attacker, "admin", adminPassword)), "900", "Too many failed logins")
	for _, path := range []string{"/", "/queues/", "/queues/api/queues"} {
		got := b.do(t, request{method: "GET", path: path, remote: attacker, user: "admin", pass: adminPassword})
		wantThrottled(t, "Basic, right password, "+path, got, "900", "429 too many requests: Too many failed logins")
	}
	if got := b.do(t, request{method: "GET", path: "/queues/api/queues", remote: other, user: "admin", pass: adminPassword}); got.code != 200 {
		t.Errorf("Basic from another address: %d", got.code)
	}
}

// An IPv6 client counts by its /64, which one host commonly holds whole;
// an IPv4 address written as IPv6 is the IPv4 address.
func TestLoginLimitAddresses(t *testing.T) {
	for _, tc := range []struct {
		name            string
		fail, same, not string
	}{
		{"IPv6", "[2001:db8:1:2::7]:4000", "[2001:db8:1:2:ffff::8]:4001", "[2001:db8:1:3::7]:4000"},
		{"IPv4-mapped", "[::ffff:192.0.2.7]:4000", "192.0.2.7:4001", "192.0.2.8:4000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, store.SQLite)
			for range 5 {
				wantLoginFailed(t, "wrong password from "+tc.fail, b.do(t, formLogin(tc.fail, "admin", "wrong password!")))
			}
			wantThrottled(t, "from "+tc.same, b.do(t, formLogin(tc.same, "admin", adminPassword)), "900", "Too many failed logins")
			if got := b.do(t, formLogin(tc.not, "admin", adminPassword)); got.code != 303 {
				t.Errorf("from %s: %d", tc.not, got.code)
			}
		})
	}
}

// Guesses sent at once cannot all pass the count before any is recorded:
// of 40 concurrent wrong passwords exactly 5 are checked.
func TestConcurrentGuessesAreCounted(t *testing.T) {
	b := setup(t, store.SQLite)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
	)
	for i := range 40 {
		wg.Go(func() {
			req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"username": {"admin"}, "password": {fmt.Sprint("guess ", i)}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.RemoteAddr = attacker
			rec := httptest.NewRecorder()
			b.srv.ServeHTTP(rec, req)
			mu.Lock()
			codes[rec.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[401] != 5 || codes[429] != 35 {
		t.Errorf("answers to 40 concurrent guesses: %v, want 5×401 and 35×429", codes)
	}
}

// A failed login is logged at WARN with the address and the user name if
// it is an account's; never the password, nor a name that is no account's
// (people type passwords into it).
func TestFailedLoginIsLogged(t *testing.T) {
	var buf bytes.Buffer
	b := setup(t, store.SQLite, func(o *web.Options) {
		o.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	})
	b.do(t, formLogin(attacker, "admin", "typed-secret-1"))
	b.do(t, formLogin("[2001:db8::5]:4000", "typed-secret-2", adminPassword))
	b.do(t, request{method: "GET", path: "/", remote: attacker, user: "viewer", pass: "typed-secret-3"})
	log := buf.String()
	for _, want := range []string{
		`level=WARN msg="dashboard login failed" remote=192.0.2.7 user=admin via=form failures=1 limit=5`,
		`level=WARN msg="dashboard login failed" remote=2001:db8::5 user=(other) via=form failures=1 limit=5`,
		`level=WARN msg="dashboard login failed" remote=192.0.2.7 user=viewer via=basic failures=2 limit=5`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(log, "typed-secret") || strings.Contains(log, adminPassword) {
		t.Errorf("log shows what was typed")
	}
	if t.Failed() {
		t.Log(log)
	}
}

// Behind a trusted proxy (tidings.yaml trusted_proxies) each client is
// counted by the address the proxy put in X-Forwarded-For: one guesser is
// refused, another client behind the same proxy still logs in. Addresses a
// client wrote itself, left of the proxy's entry, change nothing; and a
// peer that is not a trusted proxy is counted as itself, whatever it sends.
func TestLoginLimitBehindTrustedProxy(t *testing.T) {
	b := setup(t, store.SQLite)
	b.cfg.Settings.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	const proxy = "10.1.2.3:40000"
	via := func(r request, xff string) request {
		r.header = map[string]string{"X-Forwarded-For": xff}
		return r
	}
	for i := range 5 {
		// A fresh forged entry each time, left of what the proxies saw.
		forged := fmt.Sprintf("203.0.113.%d, 192.0.2.7, 10.9.9.9", i)
		wantLoginFailed(t, "guess through the proxy", b.do(t, via(formLogin(proxy, "admin", "wrong password!"), forged)))
	}
	wantThrottled(t, "the guesser through the proxy", b.do(t, via(formLogin(proxy, "admin", adminPassword), "192.0.2.7")), "900", "Too many failed logins")
	if got := b.do(t, via(formLogin(proxy, "admin", adminPassword), "198.51.100.9")); got.code != 303 {
		t.Errorf("another client through the proxy: %d, want 303 (logged in)", got.code)
	}

	// Not a trusted proxy: its own address counts, not the header.
	for range 5 {
		wantLoginFailed(t, "guess from an untrusted peer", b.do(t, via(formLogin(other, "admin", "wrong password!"), "10.0.0.1")))
	}
	wantThrottled(t, "the untrusted peer", b.do(t, via(formLogin(other, "admin", adminPassword), "203.0.113.50")), "900", "Too many failed logins")
}

// Logging in as one account does not clear the address's failures at
// another's password: a viewer cannot guess the admin password for ever by
// logging in between guesses. The admin's own login does clear their typos.
func TestAnotherAccountsLoginDoesNotResetTheCount(t *testing.T) {
	b := setup(t, store.SQLite)
	for i := range 8 {
		for range 2 {
			got := b.do(t, formLogin(attacker, "admin", fmt.Sprint("guess ", i)))
			if got.code == 429 {
				if i < 2 {
					t.Fatalf("refused after %d guesses", 2*i)
				}
				return
			}
		}
		if got := b.do(t, request{method: "GET", path: "/", remote: attacker, user: "viewer", pass: viewerPassword}); got.code != 200 {
			t.Fatalf("viewer: %d", got.code)
		}
	}
	t.Errorf("16 wrong admin passwords from one address, with viewer logins between them, none refused")
}

func TestOwnLoginClearsOwnTypos(t *testing.T) {
	b := setup(t, store.SQLite)
	for range 3 {
		for range 4 {
			wantLoginFailed(t, "admin's typo", b.do(t, formLogin(attacker, "admin", "typo typo typo")))
		}
		if got := b.do(t, formLogin(attacker, "admin", adminPassword)); got.code != 303 {
			t.Fatalf("admin after 4 typos: %d, want 303", got.code)
		}
	}
}
