package delivery

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/scheduler"
)

// An occurrence sent by hand (`tidings send`, the dashboard's "Send now")
// must be one the campaign's schedule produces: a mistyped key or a date
// the campaign does not fire on would otherwise start a new run and send
// to the whole audience at once.
const (
	// RecentFires is how far back a fire may still be sent by hand: one
	// the scheduler missed (it was down longer than --max-lateness) is the
	// usual reason to send by hand, and it reports such misses for as long.
	RecentFires = 7 * 24 * time.Hour
	// UpcomingFires is how far ahead a fire may be sent early: the horizon
	// over which the dashboard lists a campaign's next fires.
	UpcomingFires = 400 * 24 * time.Hour
	// nextListed is how many upcoming fires a refusal lists.
	nextListed = 5
)

// RunExists reports whether a campaign already has a run of an occurrence.
// An existing run may always be enqueued again: the ledger keeps anyone
// who got it from getting it twice.
type RunExists func(ctx context.Context, campaign, occurrence string) (bool, error)

// OccurrenceError is why an occurrence may not be sent by hand.
type OccurrenceError struct {
	Campaign   string
	Occurrence string
	// Malformed is set when the key cannot name a run of the campaign's
	// kind at all (a follow-up it does not have, a holiday run that is not
	// a date): forcing it is refused too.
	Malformed bool
	Reason    string
	// Recent are the last few fires of the last RecentFires, Next the
	// first few upcoming ones: what the sender probably meant.
	Recent, Next []scheduler.Fire
}

func (e *OccurrenceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "campaign %s: occurrence %q %s", e.Campaign, e.Occurrence, e.Reason)
	if s := e.Fires(); s != "" {
		b.WriteString("; " + s)
	}
	return b.String()
}

// Fires lists the recent and next fires in words, in the campaign's zone.
func (e *OccurrenceError) Fires() string {
	list := func(fs []scheduler.Fire) string {
		out := make([]string, len(fs))
		for i, f := range fs {
			out[i] = fmt.Sprintf("%s (%s)", f.Occurrence, f.At.In(f.Campaign.Schedule.Location).Format("2006-01-02 15:04 MST"))
		}
		return strings.Join(out, ", ")
	}
	var parts []string
	if len(e.Recent) > 0 {
		parts = append(parts, fmt.Sprintf("its fires of the last %d days: ", days(RecentFires))+list(e.Recent))
	}
	if len(e.Next) > 0 {
		parts = append(parts, "its next fires: "+list(e.Next))
	} else if !e.Malformed {
		parts = append(parts, fmt.Sprintf("it has no fires in the next %d days", days(UpcomingFires)))
	}
	return strings.Join(parts, "; ")
}

// CheckOccurrence returns nil when occurrence may be sent by hand at now:
// it is a fire of the campaign's schedule from the last RecentFires or the
// next UpcomingFires (enabled or not: a disabled campaign is sent by hand
// on its own schedule), or it has a run already (exists may be nil when
// there is no store to ask). force accepts any other occurrence that is
// well formed for the campaign's kind. The error is an *OccurrenceError
// unless exists failed.
func CheckOccurrence(ctx context.Context, c *campaigns.Campaign, occurrence string, now time.Time, exists RunExists, force bool) error {
	refuse := func(malformed bool, reason string, args ...any) error {
		return &OccurrenceError{
			Campaign: c.Name, Occurrence: occurrence, Malformed: malformed, Reason: fmt.Sprintf(reason, args...),
			Recent: lastFires(scheduler.Scheduled(c, now.Add(-RecentFires), now, 0), nextListed),
			Next:   scheduler.Scheduled(c, now, now.Add(UpcomingFires), nextListed),
		}
	}
	if reason := malformed(c, occurrence); reason != "" {
		return refuse(true, "%s", reason)
	}
	if slices.ContainsFunc(scheduler.Scheduled(c, now.Add(-RecentFires), now.Add(UpcomingFires), 0),
		func(f scheduler.Fire) bool { return f.Occurrence == occurrence }) {
		return nil
	}
	if exists != nil {
		ok, err := exists(ctx, c.Name, occurrence)
		if err != nil {
			return fmt.Errorf("campaign %s: look up run %s: %w", c.Name, occurrence, err)
		}
		if ok {
			return nil
		}
	}
	if force {
		return nil
	}
	return refuse(false, "is not one of its fires of the last %d days or the next %d days, nor a run it has", days(RecentFires), days(UpcomingFires))
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

// lastFires returns the last n of fs.
func lastFires(fs []scheduler.Fire, n int) []scheduler.Fire {
	return fs[max(0, len(fs)-n):]
}

// occurrenceRe is what any occurrence key looks like: letters, digits,
// '.', '_' and '-', as the generated keys are. The key is part of task ids,
// Redis keys and the dashboard's URLs.
var occurrenceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// WellFormedOccurrence reports whether occurrence has the shape of a key:
// 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.
func WellFormedOccurrence(occurrence string) bool { return occurrenceRe.MatchString(occurrence) }

// malformed says why occurrence cannot name a run of c's kind, or "".
func malformed(c *campaigns.Campaign, occurrence string) string {
	if !WellFormedOccurrence(occurrence) {
		return "is not a key: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
	}
	if named, ok := c.IsFollowUpRun(occurrence); named {
		switch {
		case ok:
			return ""
		case c.Kind != campaigns.KindProduct:
			return fmt.Sprintf("names a follow-up, and only product campaigns have follow-ups (this one is a %s campaign)", c.Kind)
		default:
			return fmt.Sprintf("names a follow-up it does not have (follow_ups lists %d)", len(c.FollowUps))
		}
	}
	// A product campaign's other keys are new runs of its launch: --force
	// may send one (a second mailing, to the whole audience again).
	switch c.Kind {
	case campaigns.KindHoliday, campaigns.KindBirthday:
		// The run's date is its key: the ledger (a birthday's year), the
		// send window's anchor and the templates read it.
		if _, err := time.Parse("2006-01-02", occurrence); err != nil {
			return fmt.Sprintf("is not a date (YYYY-MM-DD): a %s campaign's runs are named by the date they fire on", c.Kind)
		}
	}
	return ""
}

// NextOccurrence is the occurrence the dashboard offers to send: the
// campaign's fire of today (in its zone; due or not yet), else its next
// fire, else DefaultOccurrence.
func NextOccurrence(c *campaigns.Campaign, now time.Time) string {
	l := now.In(c.Schedule.Location)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, c.Schedule.Location)
	if f := scheduler.Scheduled(c, today.Add(-time.Nanosecond), now.Add(UpcomingFires), 1); len(f) > 0 {
		return f[0].Occurrence
	}
	return DefaultOccurrence(c, now)
}
