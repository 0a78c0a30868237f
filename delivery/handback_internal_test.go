package delivery

import (
	"slices"
	"testing"
	"time"
)

// A worker's grace for a task runs from the first time it handed the task
// back, and starts afresh once it has not met the task for forgetAfter
// (another worker had it meanwhile).
func TestStrangersGraceRunsFromFirstMeeting(t *testing.T) {
	var s strangers
	t0 := time.Date(2027, 2, 6, 9, 0, 0, 0, time.UTC)
	m, f := time.Minute, forgetAfter
	steps := []struct {
		id        string
		at, since time.Duration
	}{
		{"a", 0, 0},
		{"b", 30 * m, 30 * m},
		{"a", f - 10*m, 0},
		{"c", f + m, f + m}, // the first pruning since the start: a and b were met within forgetAfter
		// b was last met more than forgetAfter ago, between two prunings: afresh.
		{"b", f + 35*m, f + 35*m},
		{"a", f + 40*m, 0}, // within forgetAfter since it was last met
		{"a", 2*f + 40*m + time.Second, 2*f + 40*m + time.Second},
	}
	for _, st := range steps {
		if got := s.met(st.id, t0.Add(st.at)); !got.Equal(t0.Add(st.since)) {
			t.Errorf("%s met at +%s: handed back since +%s, want +%s", st.id, st.at, got.Sub(t0), st.since)
		}
	}
	s.forget("a")
	if at := 3 * f; !s.met("a", t0.Add(at)).Equal(t0.Add(at)) {
		t.Errorf("after forget: not afresh at +%s", at)
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

// One WARN a minute per campaign: a run's batches handed back together
// would otherwise log one line each.
func TestHandBackWarnsOnceAMinutePerCampaign(t *testing.T) {
	var s strangers
	t0 := time.Date(2027, 2, 6, 9, 0, 0, 0, time.UTC)
	var got []bool
	for _, st := range []struct {
		campaign string
		at       time.Duration
	}{{"a", 0}, {"a", time.Second}, {"b", 2 * time.Second}, {"a", 59 * time.Second}, {"a", warnEvery}, {"b", warnEvery}} {
		got = append(got, s.warnDue(st.campaign, t0.Add(st.at)))
	}
	if want := []bool{true, false, true, false, true, false}; !slices.Equal(got, want) {
		t.Errorf("warnDue %v, want %v", got, want)
	}
}
