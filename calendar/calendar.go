package calendar

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed holidays.csv
var holidaysCSV string

// Date is a calendar date with no time zone: a holiday is a day wherever
// the recipient is.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

type table struct {
	names       []string
	dates       map[string][]Date // per name, in order, one a year
	first, last int
}

// shipped is holidays.csv, parsed once. The file is generated and checked
// by the tests, so a parse error is a bug in this package.
var shipped = sync.OnceValue(func() *table {
	t, err := parse(holidaysCSV)
	if err != nil {
		panic("calendar: holidays.csv: " + err.Error())
	}
	return t
})

// parse reads lines of date,name,lunar after # comments and a header line.
func parse(text string) (*table, error) {
	t := &table{dates: map[string][]Date{}}
	header := false
	for i, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !header {
			if line != "date,name,lunar" {
				return nil, fmt.Errorf("line %d: header %q, want date,name,lunar", i+1, line)
			}
			header = true
			continue
		}
		fields := strings.Split(line, ",")
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: %d fields, want 3", i+1, len(fields))
		}
		d, err := time.Parse("2006-01-02", fields[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		name, date := fields[1], Date{d.Year(), d.Month(), d.Day()}
		if prev := t.dates[name]; len(prev) > 0 && prev[len(prev)-1].Year >= date.Year {
			return nil, fmt.Errorf("line %d: %s twice in %d, or out of order", i+1, name, date.Year)
		}
		if t.dates[name] == nil {
			t.names = append(t.names, name)
		}
		t.dates[name] = append(t.dates[name], date)
		if t.first == 0 || date.Year < t.first {
			t.first = date.Year
		}
		t.last = max(t.last, date.Year)
	}
	for _, name := range t.names {
		if n := len(t.dates[name]); n != t.last-t.first+1 {
			return nil, fmt.Errorf("%s on %d dates in %d years", name, n, t.last-t.first+1)
		}
	}
	slices.Sort(t.names)
	return t, nil
}

// Names returns the holiday names, sorted.
func Names() []string { return slices.Clone(shipped().names) }

// Years returns the first and last year the calendar covers. Every holiday
// falls exactly once in each of them.
func Years() (first, last int) {
	t := shipped()
	return t.first, t.last
}

// Dates returns every date of the named holiday, one a year, in order; nil
// for an unknown name.
func Dates(name string) []Date { return slices.Clone(shipped().dates[name]) }

// Lookup returns the date of the named holiday in a year, and false for an
// unknown name or a year the calendar does not cover.
func Lookup(name string, year int) (Date, bool) {
	t := shipped()
	if year < t.first || year > t.last {
		return Date{}, false
	}
	dates := t.dates[name]
	if dates == nil {
		return Date{}, false
	}
	return dates[year-t.first], true
}
