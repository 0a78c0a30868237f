package main

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// Published instants the astronomy must reproduce: Meeus's worked example,
// the new moons of solar eclipses and of two Spring Festivals decided by
// minutes, and the equinoxes and solstices of 2025 (UTC, to the minute).
func TestNewMoons(t *testing.T) {
	t.Parallel()
	if got := newMoon(-283); math.Abs(got-2443192.65118) > 1e-5 {
		t.Errorf("Meeus example 49.a: JDE %.5f, want 2443192.65118", got)
	}
	for _, want := range []string{
		"2017-08-21T18:30:00Z", // total solar eclipse
		"2024-04-08T18:21:00Z", // total solar eclipse
		"2026-02-17T12:01:00Z", // annular solar eclipse; Spring Festival 2026
		"2027-02-06T15:56:00Z", // 23:56 in Beijing: Spring Festival 2027 is 02-06
		"2030-02-02T16:07:00Z", // 00:07 in Beijing: Spring Festival 2030 is 02-03
	} {
		w, _ := time.Parse(time.RFC3339, want)
		k := math.Round((toJDE(w) - 2451550.1) / 29.530588861)
		if got := toTime(newMoon(k)); got.Sub(w).Abs() > time.Minute {
			t.Errorf("new moon %s: computed %s", want, got.Format(time.RFC3339))
		}
	}
}

func TestSolarTerms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lon  float64
		want string
	}{
		{0, "2025-03-20T09:01:00Z"},
		{90, "2025-06-21T02:42:00Z"},
		{180, "2025-09-22T18:19:00Z"},
		{270, "2025-12-21T15:03:00Z"},
	} {
		w, _ := time.Parse(time.RFC3339, tc.want)
		got := toTime(sunReaches(tc.lon, toJDE(w.AddDate(0, 0, -10))))
		if got.Sub(w).Abs() > 15*time.Minute {
			t.Errorf("the Sun at %v°: computed %s, want %s", tc.lon, got.Format(time.RFC3339), tc.want)
		}
	}
}

// The months of 2025–2036 by GB/T 33661-2017, including the leap month 11
// of 2033 that older rules placed elsewhere.
func TestLeapMonths(t *testing.T) {
	t.Parallel()
	ls := observe(time.Date(2025, 1, 1, 0, 0, 0, 0, beijing), time.Date(2035, 12, 31, 0, 0, 0, 0, beijing), 0, 0)
	months, err := ls.months()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range months {
		if m.leap {
			got = append(got, fmt.Sprintf("%s leap %d", dayDate(m.start).Format("2006-01-02"), m.num))
		}
	}
	want := []string{"2025-07-25 leap 6", "2028-06-23 leap 5", "2031-04-22 leap 3", "2033-12-22 leap 11", "2036-07-23 leap 6"}
	if len(got) != len(want) {
		t.Fatalf("leap months %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("leap months %v, want %v", got, want)
			break
		}
	}
}
