// Command gen writes calendar/holidays.csv: the dates of Tidings' named
// holidays, lunar ones computed from the new moons and solar terms by the
// rules of GB/T 33661-2017. Run it through `go generate ./calendar/`; it
// fails rather than write a date that an error in its astronomy could move.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"time"
)

// holiday is one named holiday and the rule that places it.
type holiday struct {
	name, rule string
	// Lunar holidays: the day of a (non-leap) lunar month; day 0 is the
	// day before month 1 begins, the last day of the year.
	lunarMonth, lunarDay int
	// Gregorian holidays: a fixed day of a month, or the nth weekday.
	month   time.Month
	day     int
	nth     int
	weekday time.Weekday
}

var holidays = []holiday{
	{name: "new_year", rule: "January 1", month: time.January, day: 1},
	{name: "spring_festival_eve", rule: "the day before the Spring Festival: lunar 12/30, or 12/29 when month 12 is short (除夕)", lunarMonth: 1, lunarDay: 0},
	{name: "spring_festival", rule: "lunar 1/1, the Chinese New Year (春节)", lunarMonth: 1, lunarDay: 1},
	{name: "lantern_festival", rule: "lunar 1/15 (元宵节)", lunarMonth: 1, lunarDay: 15},
	{name: "valentines_day", rule: "February 14", month: time.February, day: 14},
	{name: "womens_day", rule: "March 8", month: time.March, day: 8},
	{name: "labour_day", rule: "May 1", month: time.May, day: 1},
	{name: "mothers_day", rule: "the second Sunday of May", month: time.May, nth: 2, weekday: time.Sunday},
	{name: "dragon_boat", rule: "lunar 5/5 (端午节)", lunarMonth: 5, lunarDay: 5},
	{name: "fathers_day", rule: "the third Sunday of June", month: time.June, nth: 3, weekday: time.Sunday},
	{name: "qixi", rule: "lunar 7/7 (七夕)", lunarMonth: 7, lunarDay: 7},
	{name: "mid_autumn", rule: "lunar 8/15 (中秋节)", lunarMonth: 8, lunarDay: 15},
	{name: "national_day", rule: "October 1, China (国庆节)", month: time.October, day: 1},
	{name: "double_ninth", rule: "lunar 9/9 (重阳节)", lunarMonth: 9, lunarDay: 9},
	{name: "singles_day", rule: "November 11 (双十一)", month: time.November, day: 11},
	{name: "christmas", rule: "December 25", month: time.December, day: 25},
	{name: "laba", rule: "lunar 12/8 (腊八节)", lunarMonth: 12, lunarDay: 8},
}

// row is one line of the table.
type row struct {
	date  time.Time
	name  string
	lunar string // MM-DD in the lunar calendar, for lunar holidays
}

// Uncertainties the table must survive unchanged: Meeus's new moons are
// good to well under a minute, his low-accuracy Sun to about 15 minutes.
const (
	moonSlack = 2 * time.Minute
	sunSlack  = 45 * time.Minute
)

func main() {
	out := flag.String("o", "holidays.csv", "the file to write")
	first := flag.Int("from", 2025, "the first year")
	last := flag.Int("to", 2035, "the last year")
	flag.Parse()
	log.SetFlags(0)

	from := time.Date(*first, 1, 1, 0, 0, 0, 0, beijing)
	to := time.Date(*last, 12, 31, 0, 0, 0, 0, beijing)
	ls := observe(from, to, 0, 0)
	rows, months, err := table(ls, *first, *last)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range [][2]time.Duration{{moonSlack, sunSlack}, {-moonSlack, -sunSlack}, {moonSlack, -sunSlack}, {-moonSlack, sunSlack}} {
		shifted, _, err := table(observe(from, to, s[0], s[1]), *first, *last)
		if err != nil {
			log.Fatal(err)
		}
		if !slices.Equal(rows, shifted) {
			log.Fatalf("the table changes when new moons move by %v and solar terms by %v: too close to call", s[0], s[1])
		}
	}

	var b bytes.Buffer
	header(&b, ls, months, *first, *last)
	b.WriteString("date,name,lunar\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s,%s\n", r.date.Format("2006-01-02"), r.name, r.lunar)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}

// table lists every holiday on every date from the first through the last
// year, in date order; each holiday falls exactly once a year.
func table(ls lunisolar, first, last int) ([]row, []month, error) {
	months, err := ls.months()
	if err != nil {
		return nil, nil, err
	}
	var rows []row
	for _, h := range holidays {
		var dates []row
		if h.lunarMonth == 0 {
			for y := first; y <= last; y++ {
				dates = append(dates, row{date: gregorian(h, y), name: h.name})
			}
		} else {
			for i, m := range months {
				if m.num != h.lunarMonth || m.leap {
					continue
				}
				r := row{date: dayDate(m.start + h.lunarDay - 1), name: h.name, lunar: fmt.Sprintf("%02d-%02d", m.num, h.lunarDay)}
				if h.lunarDay == 0 { // the last day of the month before
					if i == 0 {
						continue
					}
					prev := months[i-1]
					r.lunar = fmt.Sprintf("%02d-%02d", prev.num, prev.end-prev.start)
				}
				dates = append(dates, r)
			}
		}
		count := map[int]int{}
		for _, r := range dates {
			if y := r.date.Year(); y >= first && y <= last {
				count[y]++
				rows = append(rows, r)
			}
		}
		for y := first; y <= last; y++ {
			if count[y] != 1 {
				return nil, nil, fmt.Errorf("%s falls %d times in %d", h.name, count[y], y)
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.date.Compare(b.date) })
	return rows, months, nil
}

func gregorian(h holiday, year int) time.Time {
	if h.nth == 0 {
		return time.Date(year, h.month, h.day, 0, 0, 0, 0, time.UTC)
	}
	d := time.Date(year, h.month, 1, 0, 0, 0, 0, time.UTC)
	d = d.AddDate(0, 0, (int(h.weekday)-int(d.Weekday())+7)%7)
	return d.AddDate(0, 0, 7*(h.nth-1))
}

func header(b *bytes.Buffer, ls lunisolar, months []month, first, last int) {
	closest := func(events []event) event {
		var best event
		for _, e := range events {
			inRange := e.at.Year() >= first && e.at.Year() <= last
			if inRange && (best.at.IsZero() || e.margin() < best.margin()) {
				best = e
			}
		}
		return best
	}
	var leaps []string
	for _, m := range months {
		if m.leap && m.year >= first && m.year <= last {
			leaps = append(leaps, fmt.Sprintf("%d: after month %d", m.year, m.num))
		}
	}
	nm, zq := closest(ls.newMoons), closest(ls.majors)
	lines := []string{
		fmt.Sprintf("Named holidays of Tidings, %d–%d. Generated by calendar/internal/gen: do not edit;", first, last),
		"regenerate with `go generate ./calendar/`.",
		"",
		"Source of the lunar dates: computed, not typed in. New moons after Jean Meeus,",
		"Astronomical Algorithms (2nd ed., 1998), chapter 49; the Sun's apparent longitude",
		"after chapter 25; months numbered by the rules of GB/T 33661-2017, Calculation and",
		"promulgation of the Chinese calendar (the calendar of the Purple Mountain",
		"Observatory): days start at midnight Beijing time (UTC+8), a month starts on the",
		"day of a new moon, the month with the winter solstice is month 11, and when 13",
		"months separate two months 11, the first without a major solar term is leap.",
		"Leap months: " + strings.Join(leaps, "; ") + ".",
		fmt.Sprintf("Closest calls: the new moon of %s and the major solar term of %s,",
			nm.at.In(beijing).Format("2006-01-02 15:04"), zq.at.In(beijing).Format("2006-01-02 15:04")),
		fmt.Sprintf("%.0f and %.0f minutes from a Beijing midnight. The table is unchanged when every",
			nm.margin().Minutes(), zq.margin().Minutes()),
		fmt.Sprintf("new moon moves by %.0f minutes and every solar term by %.0f.", moonSlack.Minutes(), sunSlack.Minutes()),
		"",
		"Holidays (lunar: month-day in the lunar calendar):",
	}
	for _, h := range holidays {
		lines = append(lines, fmt.Sprintf("  %-20s %s", h.name, h.rule))
	}
	for _, l := range lines {
		b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
	}
}
