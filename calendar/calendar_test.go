package calendar_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tidings/tidings/calendar"
)

// Dates as commonly published for these years, independently of how the
// table was made: the computed calendar must agree with every one.
func TestPublishedDates(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"spring_festival": {"2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03",
			"2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08"},
		"mid_autumn": {"2025-10-06", "2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22", "2030-09-12",
			"2031-10-01", "2032-09-19", "2033-09-08", "2034-09-27", "2035-09-16"},
		"dragon_boat": {"2025-05-31", "2026-06-19", "2027-06-09", "2028-05-28", "2029-06-16", "2030-06-05",
			"2031-06-24", "2032-06-12", "2033-06-01", "2034-06-20", "2035-06-10"},
		"spring_festival_eve": {"2025-01-28", "2026-02-16"}, // lunar 12/29: month 12 has 29 days
		"lantern_festival":    {"2025-02-12", "2026-03-03"},
		"qixi":                {"2025-08-29", "2026-08-19"},
		"double_ninth":        {"2025-10-29", "2026-10-18"},
		"laba":                {"2025-01-07", "2026-01-26"},
		"mothers_day":         {"2025-05-11", "2026-05-10"},
		"fathers_day":         {"2025-06-15", "2026-06-21"},
		"national_day":        {"2025-10-01", "2026-10-01"},
	}
	for name, dates := range want {
		for i, w := range dates {
			if got, ok := calendar.Lookup(name, 2025+i); !ok || got.String() != w {
				t.Errorf("%s %d: got %v (%v), want %s", name, 2025+i, got, ok, w)
			}
		}
	}
}

func TestCoverage(t *testing.T) {
	t.Parallel()
	first, last := calendar.Years()
	if first > 2025 || last < 2035 {
		t.Fatalf("covers %d–%d, want at least 2025–2035", first, last)
	}
	names := calendar.Names()
	for _, name := range []string{"spring_festival", "lantern_festival", "dragon_boat", "qixi", "mid_autumn",
		"national_day", "new_year", "valentines_day", "womens_day", "mothers_day", "christmas"} {
		if !slices.Contains(names, name) {
			t.Errorf("no %s in %v", name, names)
		}
	}
	for _, name := range names {
		dates := calendar.Dates(name)
		if len(dates) != last-first+1 {
			t.Errorf("%s: %d dates", name, len(dates))
		}
		for y := first; y <= last; y++ {
			if d, ok := calendar.Lookup(name, y); !ok || d.Year != y {
				t.Errorf("%s %d: %v %v", name, y, d, ok)
			}
		}
	}
	eve, sf := calendar.Dates("spring_festival_eve"), calendar.Dates("spring_festival")
	for i := range min(len(eve), len(sf)) {
		day := time.Date(sf[i].Year, sf[i].Month, sf[i].Day-1, 0, 0, 0, 0, time.UTC)
		if eve[i] != (calendar.Date{Year: day.Year(), Month: day.Month(), Day: day.Day()}) {
			t.Errorf("spring_festival_eve %v is not the day before %v", eve[i], sf[i])
		}
	}
	if _, ok := calendar.Lookup("spring_festival", first-1); ok {
		t.Error("a year before the calendar")
	}
	if _, ok := calendar.Lookup("easter", 2026); ok {
		t.Error("an unknown holiday")
	}
}

func ExampleLookup() {
	d, ok := calendar.Lookup("mid_autumn", 2026)
	fmt.Println(d, ok)
	// Output: 2026-09-25 true
}
