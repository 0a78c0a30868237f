package campaigns_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tidings/tidings/calendar"
	"github.com/tidings/tidings/campaigns"
)

// A holiday campaign's dates are its listed dates and its holidays' dates
// in every year of the calendar: sorted, each once.
func TestHolidaysMergeWithDates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "segments"), 0o755)
	os.MkdirAll(filepath.Join(dir, "campaigns"), 0o755)
	os.WriteFile(filepath.Join(dir, "segments", "everyone.yaml"), []byte("name: everyone\nwhere:\n  tier: {ne: eliminated}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "campaigns", "c.yaml"), []byte(`name: greeting
kind: holiday
dates: [2040-01-01, 2026-09-25]
holidays: [mid_autumn, spring_festival]
schedule: {cron: "0 9 * * *", timezone: Asia/Shanghai}
audience: {segment: everyone}
channels: [sms]
template: greeting
`), 0o644)
	cfg, err := campaigns.Load(dir, "testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Campaigns["greeting"]
	if !slices.Equal(c.Holidays, []string{"mid_autumn", "spring_festival"}) {
		t.Errorf("holidays %v", c.Holidays)
	}
	first, last := calendar.Years()
	if want := 2*(last-first+1) + 1; len(c.Dates) != want { // 2026-09-25 is mid_autumn's
		t.Errorf("%d dates, want %d: %v", len(c.Dates), want, c.Dates)
	}
	if !slices.IsSortedFunc(c.Dates, func(a, b campaigns.Date) int { return strings.Compare(a.String(), b.String()) }) {
		t.Errorf("dates out of order: %v", c.Dates)
	}
	for _, want := range []string{"2026-02-17", "2026-09-25", "2027-02-06", "2040-01-01"} {
		if !slices.ContainsFunc(c.Dates, func(d campaigns.Date) bool { return d.String() == want }) {
			t.Errorf("no %s in %v", want, c.Dates)
		}
	}
}
