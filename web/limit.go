package web

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// The failed-login limit: a client that gives a wrong user name or
// password loginFailures times within loginWindow is refused (429) until
// the oldest of those failures is loginWindow old, its passwords not
// checked. With passwords of at least MinPasswordLength characters that
// leaves a guesser 480 tries a day per address.
//
// There is no limit per user name: the names are few and well known
// ("admin", "viewer"), so a lock per name would let anyone on the
// internet lock the operators out of the dashboard.
const (
	loginFailures = 5
	loginWindow   = 15 * time.Minute
	// loginClients bounds the clients remembered, each a key and at most
	// loginFailures times: a few megabytes at most.
	loginClients = 10_000
)

// verdict is what became of a password check behind the limiter.
type verdict int

const (
	passed  verdict = iota // the check ran and succeeded
	failed                 // the check ran and failed
	refused                // the check did not run: too many failures
)

// loginLimiter counts failed password checks per client, from the login
// form and from HTTP Basic alike. It is in-process: each replica of
// `tidings web` counts on its own, so behind a load balancer a client may
// fail up to loginFailures times per replica in a window.
type loginLimiter struct {
	max    int
	window time.Duration
	cap    int
	now    func() time.Time

	mu sync.Mutex
	// failures holds each client's failure times, oldest first; entries
	// are pruned as clients come back and swept when the map is full or
	// a window has passed since the last sweep.
	failures map[string][]failure
	swept    time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{
		max: loginFailures, window: loginWindow, cap: loginClients, now: now,
		failures: map[string][]failure{},
	}
}

// guard runs check, a password comparison, for a client giving user's
// name, unless the client has failed max times within the window, under
// any name. A failure is counted; a success clears the client's failures
// under that name only, so logging in as viewer does not wipe out the
// client's guesses at admin's password. It returns, after a failure, the
// client's failures in the window, this one included; when refused, how
// long until the client may try again.
//
// check runs under the lock, so concurrent guesses cannot all pass the
// count before any is recorded; it must be quick (compare hashes, do not
// compute them).
func (l *loginLimiter) guard(client, user string, check func() bool) (v verdict, failures int, wait time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.recent(client, now)
	if len(recent) >= l.max {
		return refused, len(recent), recent[0].at.Add(l.window).Sub(now)
	}
	if check() {
		recent = slices.DeleteFunc(recent, func(f failure) bool { return f.user == user })
		if len(recent) == 0 {
			delete(l.failures, client)
		} else {
			l.failures[client] = recent
		}
		return passed, 0, 0
	}
	if len(recent) == 0 {
		l.makeRoom(now)
	}
	recent = append(recent, failure{at: now, user: user})
	l.failures[client] = recent
	return failed, len(recent), 0
}

// failure is a failed password check: when, and the user name given (an
// account's, or one string for every other name).
type failure struct {
	at   time.Time
	user string
}

// recent returns a client's failures within the window ending now and
// forgets the older ones.
func (l *loginLimiter) recent(client string, now time.Time) []failure {
	fs := l.failures[client]
	i := 0
	for i < len(fs) && !fs[i].at.After(now.Add(-l.window)) {
		i++
	}
	if i == len(fs) {
		delete(l.failures, client)
		return nil
	}
	fs = fs[i:]
	l.failures[client] = fs
	return fs
}

// makeRoom is called before a client is added. Once a window has passed
// since the last sweep, or when the map is full, it forgets the clients
// whose failures are all older than the window; if the map is still full,
// it forgets the client whose last failure is oldest, so an attacker with
// more than cap addresses gets some of them back early, rather than the
// memory growing.
func (l *loginLimiter) makeRoom(now time.Time) {
	if len(l.failures) < l.cap && now.Sub(l.swept) < l.window {
		return
	}
	l.swept = now
	var (
		oldest   string
		oldestAt time.Time
		found    bool
	)
	for c, fs := range l.failures {
		last := fs[len(fs)-1].at
		if !last.After(now.Add(-l.window)) {
			delete(l.failures, c)
			continue
		}
		if !found || last.Before(oldestAt) {
			oldest, oldestAt, found = c, last, true
		}
	}
	if len(l.failures) >= l.cap {
		delete(l.failures, oldest)
	}
}

// clientOf returns the address a request came from, for the log, and the
// key it counts under in the limiter: the address, but for IPv6 its /64,
// since one host commonly holds a whole /64.
//
// The address is r.RemoteAddr, the peer of the TCP connection, unless that
// peer is one of the trusted proxies (tidings.yaml `trusted_proxies`):
// then X-Forwarded-For is read from its right end, where that proxy wrote
// the address it saw, past any further trusted proxies, to the first
// address that is not one. Entries to the left of that are the client's
// own to write and are never believed. Without trusted proxies the header
// is ignored: behind a reverse proxy every client then has the proxy's
// address and shares one count.
func clientOf(r *http.Request, trusted []netip.Prefix) (addr, key string) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr, r.RemoteAddr
	}
	a := ap.Addr().Unmap()
	if isTrusted(a, trusted) {
		hops := forwardedFor(r)
		for i := len(hops) - 1; i >= 0; i-- {
			h, ok := parseHop(hops[i])
			if !ok {
				break // garbage: the last trusted hop is all we know
			}
			a = h
			if !isTrusted(a, trusted) {
				break
			}
		}
	}
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return a.String(), p.String()
	}
	return a.String(), a.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor is every X-Forwarded-For entry, in order, over all the
// header's lines (a proxy may add a line rather than extend the last).
func forwardedFor(r *http.Request) []string {
	var hops []string
	for _, line := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(line, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// parseHop reads one X-Forwarded-For entry: an address, or (from some
// proxies) an address with a port, or an IPv6 address in brackets.
func parseHop(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
