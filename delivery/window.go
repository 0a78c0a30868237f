package delivery

import (
	"sync"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
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
// else the campaign's. Zones are loaded once per process: LoadLocation
// parses the zone's file on every call, and this runs for every recipient.
func RecipientZone(c *campaigns.Campaign, zone string) *time.Location {
	if zone == "" {
		return c.Schedule.Location
	}
	if loc, ok := zoneCache.Load(zone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return c.Schedule.Location
	}
	zoneCache.Store(zone, loc)
	return loc
}

var zoneCache sync.Map // zone name → *time.Location

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
	if c.Kind == campaigns.KindHoliday {
		if d, err := time.ParseInLocation("2006-01-02", run, time.UTC); err == nil {
			if midnight := scheduler.Resolve(d, loc); midnight.After(now) {
				// Before the holiday: its first opening. A window across
				// midnight opens at its start on the holiday, not in the
				// tail of the eve's window (send_at_local 23:30 greets at
				// 23:30 on the day, not at 00:00).
				if w.Start > w.End {
					return scheduler.Resolve(d.Add(time.Duration(w.Start)*time.Minute), loc)
				}
				return openFrom(w, loc, midnight)
			}
		}
	}
	return openFrom(w, loc, now)
}

// openFrom is the first instant at or after t inside the window in loc.
func openFrom(w campaigns.Window, loc *time.Location, t time.Time) time.Time {
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

// closesAt is when the window that t is inside (see inWindow) ends in loc:
// the first instant after t at which a recipient there is outside it.
func closesAt(w campaigns.Window, loc *time.Location, t time.Time) time.Time {
	l := t.In(loc)
	day := 0
	if w.Start > w.End && campaigns.Clock(l.Hour()*60+l.Minute()) >= w.Start {
		day = 1 // a window across midnight, entered before midnight
	}
	wall := time.Date(l.Year(), l.Month(), l.Day()+day, int(w.End)/60, int(w.End)%60, 0, 0, time.UTC)
	if end := scheduler.Resolve(wall, loc); end.After(t) {
		return end
	}
	// On the second pass through a fall-back night's repeated hour, the
	// end's first occurrence has passed: the window ends at its second,
	// read with the offset in effect now.
	_, off := l.Zone()
	return wall.Add(-time.Duration(off) * time.Second)
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

// BirthdayDue is when a birthday campaign's run delivers to a customer in
// loc born on month/day, and whether it is that run's to deliver at all.
// A daily run cannot start before the send window in every zone (they span
// 26 hours), so each run takes the customers whose window opens on their
// birthday from the run's scheduled time (anchor, see BirthdayAnchor) up to
// the next day's run's: a run at 09:00 in Shanghai greets New York at 10:00
// on the New York birthday (the next evening in Shanghai), and leaves an
// Auckland birthday whose 10:00 came before 09:00 Shanghai time to the run
// of the day before. Consecutive daily runs so share out every opening
// exactly once — 23 or 25 hours apart across a daylight-saving change in
// the campaign's zone — however late each actually starts. The audience of
// such a run is the customers whose birthday is within two days of the
// anchor in their own zone (see campaigns.Campaign.Condition; HandleRun
// evaluates it at the anchor). A 29 February birthday is celebrated on 28
// February in common years.
func BirthdayDue(c *campaigns.Campaign, anchor time.Time, loc *time.Location, month time.Month, day int) (time.Time, bool) {
	return birthdayDue(c, anchor, nextAnchor(c, anchor), loc, month, day)
}

// birthdayDue is BirthdayDue with the next run's anchor, end, worked out
// once per run by the caller rather than for every recipient.
func birthdayDue(c *campaigns.Campaign, anchor, end time.Time, loc *time.Location, month time.Month, day int) (time.Time, bool) {
	w, ok := localWindow(c)
	if !ok {
		return anchor, true
	}
	l := anchor.In(loc)
	for i := range 3 {
		date := time.Date(l.Year(), l.Month(), l.Day()+i, int(w.Start)/60, int(w.Start)%60, 0, 0, time.UTC)
		if !(customer.Birthday{Month: month, Day: day}).FallsOn(date) {
			continue
		}
		if open := scheduler.Resolve(date, loc); !open.Before(anchor) && open.Before(end) {
			return open, true
		}
	}
	return time.Time{}, false
}

// nextAnchor is the anchor of the next day's run: the cron's time on the
// next date in the campaign's zone.
func nextAnchor(c *campaigns.Campaign, anchor time.Time) time.Time {
	l := anchor.In(c.Schedule.Location)
	next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	return BirthdayAnchor(c, next, anchor.Add(24*time.Hour))
}

// BirthdayAnchor is the instant a birthday campaign's run (its date) is
// scheduled for: the cron's first time on that date in the campaign's zone.
// A run sent by hand outside the schedule is anchored at its start.
func BirthdayAnchor(c *campaigns.Campaign, run string, started time.Time) time.Time {
	d, err := time.ParseInLocation("2006-01-02", run, c.Schedule.Location)
	if err != nil {
		return started
	}
	// Scheduled, not Fires: a campaign disabled since keeps the anchors it
	// ran with.
	if f := scheduler.Scheduled(c, d.Add(-time.Second), d.AddDate(0, 0, 1).Add(-time.Second), 1); len(f) > 0 {
		return f[0].At
	}
	return started
}
