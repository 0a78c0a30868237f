package web

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// The limiter's memory stays bounded: clients whose failures have left the
// window are swept, and when every remembered client is recent, the one
// whose last failure is oldest makes room.
func TestLoginLimiterIsBounded(t *testing.T) {
	now := time.Date(2027, 2, 6, 9, 0, 0, 0, time.UTC)
	l := newLoginLimiter(func() time.Time { return now })
	l.cap = 3
	fail := func() bool { return false }
	for i := range 3 {
		l.guard(fmt.Sprint("client ", i), "admin", fail)
		now = now.Add(time.Minute)
	}
	l.guard("client 3", "admin", fail)
	if len(l.failures) != 3 || l.failures["client 0"] != nil || l.failures["client 3"] == nil {
		t.Errorf("full: %v, want client 0 evicted", l.failures)
	}

	now = now.Add(loginWindow)
	l.guard("client 4", "admin", fail)
	if len(l.failures) != 1 || l.failures["client 4"] == nil {
		t.Errorf("a window later: %v, want only client 4", l.failures)
	}

	// A sweep also runs once a window has passed, full or not.
	now = now.Add(loginWindow + time.Second)
	l.guard("client 5", "admin", fail)
	if len(l.failures) != 1 || l.failures["client 5"] == nil {
		t.Errorf("after a sweep: %v, want only client 5", l.failures)
	}

	// A success forgets the client.
	if v, _, _ := l.guard("client 5", "admin", func() bool { return true }); v != passed || len(l.failures) != 0 {
		t.Errorf("success: %v %v", v, l.failures)
	}
}

// The client behind a trusted proxy, however the proxy writes the address.
func TestClientBehindTrustedProxy(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for xff, want := range map[string]string{
		"192.0.2.7":                        "192.0.2.7",
		"192.0.2.7:5123":                   "192.0.2.7",
		"[2001:db8:1:2::7]":                "2001:db8:1:2::7",
		"[2001:db8:1:2::7]:443":            "2001:db8:1:2::7",
		"203.0.113.9, 192.0.2.7, 10.0.0.3": "192.0.2.7", // the client's own entry is not believed
		"not an address":                   "10.0.0.2",  // garbage: the proxy
	} {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = "10.0.0.2:40000"
		r.Header.Set("X-Forwarded-For", xff)
		if addr, _ := clientOf(r, trusted); addr != want {
			t.Errorf("X-Forwarded-For %q: client %s, want %s", xff, addr, want)
		}
	}
}
