package delivery

import (
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
)

// Whenever a recipient is inside their window, the window's end is still
// ahead — also on the second pass through a fall-back night's repeated
// hour, where the end's first occurrence has passed. (A past end would make
// every send refuse at once and the batch retry every second until the
// hour is over.)
func TestClosesAtIsAheadInsideTheWindow(t *testing.T) {
	for _, tc := range []struct {
		zone  string
		w     campaigns.Window
		start time.Time // UTC; scanned for 6 h by the minute
	}{
		// New York falls back 2027-11-07 02:00 EDT → 01:00 EST;
		// send_at_local 00:30 is the window 00:30-01:30.
		{"America/New_York", campaigns.Window{Start: 30, End: 90}, time.Date(2027, 11, 7, 3, 0, 0, 0, time.UTC)},
		{"America/New_York", campaigns.Window{Start: 18 * 60, End: 90}, time.Date(2027, 11, 7, 3, 0, 0, 0, time.UTC)}, // across midnight
		// Berlin falls back 2027-10-31 03:00 CEST → 02:00 CET.
		{"Europe/Berlin", campaigns.Window{Start: 105, End: 165}, time.Date(2027, 10, 30, 22, 0, 0, 0, time.UTC)},
		// Lord Howe falls back half an hour, 2027-04-04 02:00 → 01:30.
		{"Australia/Lord_Howe", campaigns.Window{Start: 60, End: 105}, time.Date(2027, 4, 3, 12, 0, 0, 0, time.UTC)},
		// New York springs forward 2027-03-14 02:00 → 03:00; the end 02:30 does not exist.
		{"America/New_York", campaigns.Window{Start: 60, End: 150}, time.Date(2027, 3, 14, 4, 0, 0, 0, time.UTC)},
	} {
		loc, err := time.LoadLocation(tc.zone)
		if err != nil {
			t.Fatal(err)
		}
		for now := tc.start; now.Before(tc.start.Add(6 * time.Hour)); now = now.Add(time.Minute) {
			if !inWindow(tc.w, now.In(loc)) {
				continue
			}
			end := closesAt(tc.w, loc, now)
			if !end.After(now) || end.Sub(now) > 3*time.Hour || inWindow(tc.w, end.In(loc)) {
				t.Errorf("%s %s at %s: closes at %s", tc.zone, tc.w, now.In(loc).Format("15:04 MST"), end.In(loc).Format("15:04 MST"))
				break
			}
		}
	}
}
