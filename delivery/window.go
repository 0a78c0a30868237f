package delivery

import (
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/scheduler"
)

// SendAtGrace is how long after send_at_local a recipient may still get the
// message when the run or the queue is late; past it, they get it at that
// time the next day. Without a grace a backlog of a few minutes would push
// a greeting to the next day.
const SendAtGrace = time.Hour

// localWindow is the daily local-time window a campaign may send in, or
// false when it may send at any time.
func localWindow(c *campaigns.Campaign) (campaigns.Window, bool) {
	switch {
	case c.SendWindow != nil:
		return *c.SendWindow, true
	case c.SendAtLocal != nil:
		end := (int(*c.SendAtLocal) + int(SendAtGrace/time.Minute)) % (24 * 60)
		return campaigns.Window{Start: *c.SendAtLocal, End: campaigns.Clock(end)}, true
	}
	return campaigns.Window{}, false
}

// Windowed reports whether a campaign restricts sending to a local time.
func Windowed(c *campaigns.Campaign) bool {
	_, ok := localWindow(c)
	return ok
}

// RecipientZone is the zone a recipient's local time is read in: their own,
// else the campaign's.
func RecipientZone(c *campaigns.Campaign, zone string) *time.Location {
	if zone != "" {
		if loc, err := time.LoadLocation(zone); err == nil {
			return loc
		}
	}
	return c.Schedule.Location
}

// DueAt is the earliest instant, not before now, at which run of c may be
// sent to a recipient in loc: now itself when the campaign has no send
// window or the recipient's local time is inside it, else the window's next
// opening in their zone. A holiday campaign's window also opens no earlier
// than the holiday's local midnight, so a run that starts on the holiday in
// Shanghai does not greet Los Angeles on the eve.
func DueAt(c *campaigns.Campaign, run string, loc *time.Location, now time.Time) time.Time {
	w, ok := localWindow(c)
	if !ok {
		return now
	}
	t := now
	if c.Kind == campaigns.KindHoliday {
		if d, err := time.ParseInLocation("2006-01-02", run, time.UTC); err == nil {
			if midnight := scheduler.Resolve(d, loc); midnight.After(t) {
				t = midnight
			}
		}
	}
	if inWindow(w, t.In(loc)) {
		return t
	}
	// The next opening: the window's start on t's local date, else on the
	// next. Resolve handles a start that falls in a daylight-saving gap.
	l := t.In(loc)
	for day := 0; day < 3; day++ {
		wall := time.Date(l.Year(), l.Month(), l.Day()+day, int(w.Start)/60, int(w.Start)%60, 0, 0, time.UTC)
		if open := scheduler.Resolve(wall, loc); open.After(t) {
			return open
		}
	}
	return t.Add(24 * time.Hour) // unreachable: a start recurs daily
}

// inWindow reports whether a local time is inside [Start, End); a window
// whose end is before its start spans midnight.
func inWindow(w campaigns.Window, local time.Time) bool {
	m := campaigns.Clock(local.Hour()*60 + local.Minute())
	if w.Start <= w.End {
		return m >= w.Start && m < w.End
	}
	return m >= w.Start || m < w.End
}
