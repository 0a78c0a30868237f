package web

import (
	"fmt"
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
		l.guard(fmt.Sprint("client ", i), fail)
		now = now.Add(time.Minute)
	}
	l.guard("client 3", fail)
	if len(l.failures) != 3 || l.failures["client 0"] != nil || l.failures["client 3"] == nil {
		t.Errorf("full: %v, want client 0 evicted", l.failures)
	}

	now = now.Add(loginWindow)
	l.guard("client 4", fail)
	if len(l.failures) != 1 || l.failures["client 4"] == nil {
		t.Errorf("a window later: %v, want only client 4", l.failures)
	}

	// A sweep also runs once a window has passed, full or not.
	now = now.Add(loginWindow + time.Second)
	l.guard("client 5", fail)
	if len(l.failures) != 1 || l.failures["client 5"] == nil {
		t.Errorf("after a sweep: %v, want only client 5", l.failures)
	}

	// A success forgets the client.
	if v, _, _ := l.guard("client 5", func() bool { return true }); v != passed || len(l.failures) != 0 {
		t.Errorf("success: %v %v", v, l.failures)
	}
}
