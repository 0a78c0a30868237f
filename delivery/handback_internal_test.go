package delivery

import (
	"testing"
	"time"
)

// A worker's grace for a task runs from the first time it handed the task
// back, and starts afresh once it has not met the task for forgetAfter
// (another worker had it meanwhile).
func TestStrangersGraceRunsFromFirstMeeting(t *testing.T) {
	var s strangers
	t0 := time.Date(2027, 2, 6, 9, 0, 0, 0, time.UTC)
	m := time.Minute
	steps := []struct {
		id        string
		at, since time.Duration
	}{
		{"a", 0, 0},
		{"b", 30 * m, 30 * m},
		{"a", 50 * m, 0},
		{"c", 61 * m, 61 * m}, // the first pruning since the start: a and b were met within the hour
		// b was last met 65 minutes ago, between two prunings: afresh.
		{"b", 95 * m, 95 * m},
		{"a", 100 * m, 0}, // within the hour since it was last met
		{"a", 100*m + forgetAfter + time.Second, 100*m + forgetAfter + time.Second},
	}
	for _, st := range steps {
		if got := s.met(st.id, t0.Add(st.at)); !got.Equal(t0.Add(st.since)) {
			t.Errorf("%s met at +%s: handed back since +%s, want +%s", st.id, st.at, got.Sub(t0), st.since)
		}
	}
	s.forget("a")
	if got := s.met("a", t0.Add(3*time.Hour)); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("after forget: since +%s, want +3h", got.Sub(t0))
	}
}

// A task handed back comes back after a second at first, and after at most
// a minute and a half (jitter included) however long it has been handed back.
func TestHandBackWait(t *testing.T) {
	for _, tc := range []struct{ for_, lo, hi time.Duration }{
		{0, time.Second, 1500 * time.Millisecond},
		{time.Minute, 6 * time.Second, 9 * time.Second},
		{24 * time.Hour, time.Minute, 90 * time.Second},
	} {
		for range 100 {
			if w := handBackWait(tc.for_); w < tc.lo || w > tc.hi {
				t.Fatalf("handed back for %s: wait %s, want %s–%s", tc.for_, w, tc.lo, tc.hi)
			}
		}
	}
}
