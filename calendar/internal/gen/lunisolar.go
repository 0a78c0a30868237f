package main

import (
	"fmt"
	"math"
	"time"
)

// beijing is the zone of the Chinese calendar: GB/T 33661-2017 counts days
// from midnight at UTC+8.
var beijing = time.FixedZone("UTC+8", 8*3600)

// event is an astronomical instant and the Beijing day it falls on.
type event struct {
	at  time.Time
	day int // days since 1970-01-01 in Beijing time
}

func newEvent(jde float64, shift time.Duration) event {
	at := toTime(jde).Add(shift)
	_, off := at.In(beijing).Zone()
	return event{at: at, day: int(math.Floor(float64(at.Unix()+int64(off)) / 86400))}
}

// margin is how far e lies from the nearest Beijing midnight.
func (e event) margin() time.Duration {
	l := e.at.In(beijing)
	midnight := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, beijing)
	since := l.Sub(midnight)
	return min(since, 24*time.Hour-since)
}

func dayDate(day int) time.Time { return time.Unix(int64(day)*86400, 0).UTC() }

// month is one lunar month: it starts on the Beijing day of a new moon.
type month struct {
	start, end int // [start, end) in Beijing days
	num        int // 1–12
	leap       bool
	year       int // the Gregorian year in which its lunar year's month 1 starts
}

// lunisolar holds the events from which months are numbered.
type lunisolar struct {
	newMoons []event // in order
	majors   []event // the major solar terms (zhongqi), longitudes 0°, 30°, …
	solstice []event // winter solstices (270°), a subset of majors
}

// observe computes new moons and major solar terms from shortly before from
// to shortly after to, every new moon moved by moonShift and every solar term
// by sunShift (to test how sensitive the calendar is to their errors).
func observe(from, to time.Time, moonShift, sunShift time.Duration) lunisolar {
	var ls lunisolar
	start, end := toJDE(from.AddDate(0, -14, 0)), toJDE(to.AddDate(0, 14, 0))
	for k := math.Floor((start-2451550.1)/29.530588861) - 1; ; k++ {
		jde := newMoon(k)
		if jde < start {
			continue
		}
		if jde > end {
			break
		}
		ls.newMoons = append(ls.newMoons, newEvent(jde, moonShift))
	}
	lon := math.Ceil(sunLongitude(start)/30) * 30
	for jde := start; ; lon += 30 {
		lon = math.Mod(lon, 360)
		jde = sunReaches(lon, jde)
		if jde > end {
			break
		}
		e := newEvent(jde, sunShift)
		ls.majors = append(ls.majors, e)
		if lon == 270 {
			ls.solstice = append(ls.solstice, e)
		}
		jde += 20 // well past this term, well before the next
	}
	return ls
}

// months numbers the lunar months between the first and the last winter
// solstice observed, by the rules of GB/T 33661-2017:
//   - a month begins on the Beijing day of a new moon;
//   - the month containing the winter solstice is month 11;
//   - when 13 months separate one month 11 from the next, the first of them
//     without a major solar term is a leap month, numbered as the month
//     before it.
func (ls lunisolar) months() ([]month, error) {
	var all []month
	for i := 0; i+1 < len(ls.newMoons); i++ {
		all = append(all, month{start: ls.newMoons[i].day, end: ls.newMoons[i+1].day})
	}
	containing := func(day int) int {
		for i, m := range all {
			if m.start <= day && day < m.end {
				return i
			}
		}
		return -1
	}
	hasMajor := func(m month) bool {
		for _, e := range ls.majors {
			if m.start <= e.day && e.day < m.end {
				return true
			}
		}
		return false
	}
	var out []month
	for s := 0; s+1 < len(ls.solstice); s++ {
		a, b := containing(ls.solstice[s].day), containing(ls.solstice[s+1].day)
		if a < 0 || b < 0 {
			return nil, fmt.Errorf("the winter solstices of %s and %s are not both in observed months", ls.solstice[s].at, ls.solstice[s+1].at)
		}
		leap := -1
		switch b - a {
		case 12:
		case 13:
			for i := a + 1; i < b; i++ {
				if !hasMajor(all[i]) {
					leap = i
					break
				}
			}
		default:
			return nil, fmt.Errorf("%d months between the winter solstices of %s and %s", b-a, ls.solstice[s].at, ls.solstice[s+1].at)
		}
		num := 11
		for i := a; i < b; i++ {
			m := all[i]
			switch {
			case i == a:
			case i == leap:
				m.leap = true
			default:
				num = num%12 + 1
			}
			m.num = num
			out = append(out, m)
		}
	}
	// A lunar year is named after the Gregorian year its month 1 starts in;
	// the months observed before the first month 1 belong to the year before.
	year := 0
	for i := range out {
		if out[i].num == 1 && !out[i].leap {
			year = dayDate(out[i].start).Year()
		}
		out[i].year = year
	}
	for i := 0; i < len(out) && out[i].year == 0; i++ {
		out[i].year = dayDate(out[i].start).Year() - 1
		if dayDate(out[i].start).Month() >= time.November {
			out[i].year++
		}
	}
	return out, nil
}
