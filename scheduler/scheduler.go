package scheduler

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/tidings/tidings/campaigns"
)

// Fire is one firing of a campaign: its instant and the occurrence (run)
// key it enqueues.
type Fire struct {
	Campaign   *campaigns.Campaign
	At         time.Time
	Occurrence string
}

// Fires returns the fires of c in (from, to], in time order; none for a
// disabled campaign.
func Fires(c *campaigns.Campaign, from, to time.Time) []Fire {
	if !c.Enabled {
		return nil
	}
	return Scheduled(c, from, to, 0)
}

// Scheduled returns the first limit fires (0: all) of c's schedule in
// (from, to], in time order, whether c is enabled or not.
func Scheduled(c *campaigns.Campaign, from, to time.Time, limit int) []Fire {
	if c.Kind == campaigns.KindProduct {
		var out []Fire
		if c.At.After(from) && !c.At.After(to) {
			out = append(out, Fire{Campaign: c, At: c.At, Occurrence: campaigns.LaunchOccurrence})
		}
		for i, f := range c.FollowUps {
			if at := c.At.Add(f.After); at.After(from) && !at.After(to) {
				out = append(out, Fire{Campaign: c, At: at, Occurrence: campaigns.FollowUpOccurrence(i + 1)})
			}
		}
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return out
	}
	if c.Schedule.Parsed == nil {
		return nil
	}
	loc := c.Schedule.Location
	// Walk the schedule on naive wall-clock time (wall time written as UTC),
	// with a margin for the hours a transition moves.
	naive := func(t time.Time) time.Time {
		l := t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
	}
	start, end := naive(from).Add(-3*time.Hour), naive(to).Add(3*time.Hour)
	var out []Fire
	for w := c.Schedule.Parsed.Next(start); !w.After(end); w = c.Schedule.Parsed.Next(w) {
		at := Resolve(w, loc)
		if !at.After(from) || at.After(to) {
			continue
		}
		date := w.Format("2006-01-02")
		if c.Kind == campaigns.KindHoliday && !slices.Contains(c.Dates, campaigns.Date{Year: w.Year(), Month: w.Month(), Day: w.Day()}) {
			continue
		}
		out = append(out, Fire{Campaign: c, At: at, Occurrence: date})
		if len(out) == limit {
			break
		}
	}
	return out
}

// Resolve returns the instant at which the wall-clock time wall (its fields
// read as a time in loc) happens: the first of two in a fall-back overlap,
// the transition itself when wall falls in a spring-forward gap.
func Resolve(wall time.Time, loc *time.Location) time.Time {
	// The zone's offsets around that wall time.
	probe := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, loc)
	_, offBefore := probe.Add(-24 * time.Hour).Zone()
	_, offAfter := probe.Add(24 * time.Hour).Zone()
	var best time.Time
	for _, off := range []int{offBefore, offAfter} {
		inst := wall.Add(-time.Duration(off) * time.Second)
		l := inst.In(loc)
		if l.Year() == wall.Year() && l.YearDay() == wall.YearDay() && l.Hour() == wall.Hour() && l.Minute() == wall.Minute() && l.Second() == wall.Second() {
			if best.IsZero() || inst.Before(best) {
				best = inst
			}
		}
	}
	if !best.IsZero() {
		return best
	}
	// A gap: the transition is the first instant with the later offset,
	// between wall read with the new offset and wall read with the old one.
	lo := wall.Add(-time.Duration(offAfter) * time.Second)
	hi := wall.Add(-time.Duration(offBefore) * time.Second)
	if hi.Before(lo) {
		lo, hi = hi, lo
	}
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if _, off := mid.In(loc).Zone(); off == offAfter {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi.Truncate(time.Second)
}

// Enqueuer enqueues an occurrence, reporting false when it was enqueued
// already (by another scheduler, or before a restart).
type Enqueuer func(ctx context.Context, c *campaigns.Campaign, occurrence string) (bool, error)

// Scheduler enqueues the fires of the current configuration as time passes.
type Scheduler struct {
	Config  func() *campaigns.Config
	Enqueue Enqueuer
	// MaxLateness is how late a missed fire may still be sent after a
	// scheduler was down; older ones within Lookback are reported, not sent.
	MaxLateness time.Duration
	Lookback    time.Duration
	// Ran reports whether an occurrence has a run already, so that a
	// restart does not report what an earlier scheduler enqueued as missed.
	// Nil: report every fire in Lookback before MaxLateness.
	Ran func(ctx context.Context, c *campaigns.Campaign, occurrence string) bool
	Log *slog.Logger
	// Now is the clock Run ticks by; nil is the wall clock.
	Now func() time.Time

	last time.Time
	// reported holds the missed occurrences logged by a first tick that
	// failed, so that the ticks retrying it do not log them again.
	reported map[string]bool
}

// Tick enqueues every fire since the previous tick, up to now. The first
// tick catches up the fires of the last MaxLateness and reports older ones
// of the last Lookback as missed: one line per occurrence however often its
// cron fired, and once however often that first tick fails and is tried
// again. It returns the fires it enqueued.
func (s *Scheduler) Tick(ctx context.Context, now time.Time) ([]Fire, error) {
	from, first := s.last, s.last.IsZero()
	if first {
		from = now.Add(-s.MaxLateness)
	}
	due := s.fires(from, now)
	if first {
		s.reportMissed(ctx, s.fires(now.Add(-s.Lookback), from), due)
	}
	var enqueued []Fire
	for _, f := range due {
		ok, err := s.Enqueue(ctx, f.Campaign, f.Occurrence)
		if err != nil {
			return enqueued, err // s.last stays: the next tick tries again
		}
		if ok {
			enqueued = append(enqueued, f)
			s.Log.Info("enqueued", "campaign", f.Campaign.Name, "occurrence", f.Occurrence, "due", f.At)
		}
	}
	s.last = now
	s.reported = nil // only a first tick reports
	return enqueued, nil
}

// reportMissed logs each occurrence of missed that never ran, once: at its
// first fire. A cron that fires many times a day (every minute, say) has
// one occurrence a day, and one line says it was missed. An occurrence
// that also fires in due is not missed: this tick enqueues it.
func (s *Scheduler) reportMissed(ctx context.Context, missed, due []Fire) {
	key := func(f Fire) string { return f.Campaign.Name + "\x00" + f.Occurrence }
	seen := map[string]bool{}
	for _, f := range due {
		seen[key(f)] = true
	}
	if s.reported == nil {
		s.reported = map[string]bool{}
	}
	for _, f := range missed { // each campaign's in time order: its first fire comes first
		k := key(f)
		if seen[k] || s.reported[k] {
			continue
		}
		seen[k] = true
		if s.Ran != nil && s.Ran(ctx, f.Campaign, f.Occurrence) {
			continue
		}
		s.reported[k] = true
		s.Log.Warn("missed while no scheduler ran; too late to send, not enqueued",
			"campaign", f.Campaign.Name, "occurrence", f.Occurrence, "was_due", f.At, "max_lateness", s.MaxLateness)
	}
}

func (s *Scheduler) fires(from, to time.Time) []Fire {
	cfg := s.Config()
	var out []Fire
	for _, name := range cfg.CampaignNames() {
		out = append(out, Fires(cfg.Campaigns[name], from, to)...)
	}
	return out
}

// Next returns when the next fire after now is due, or now+limit if sooner.
func (s *Scheduler) Next(now time.Time, limit time.Duration) time.Time {
	next := now.Add(limit)
	for _, f := range s.fires(now, next) {
		if f.At.Before(next) {
			next = f.At
		}
	}
	return next
}

// Run ticks at every fire time (and at least every minute, to follow
// configuration changes) until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	clock := s.Now
	if clock == nil {
		clock = time.Now
	}
	for {
		if _, err := s.Tick(ctx, clock()); err != nil && ctx.Err() == nil {
			s.Log.Error("scheduler tick", "err", err)
		}
		now := clock()
		wait := s.Next(now, time.Minute).Sub(now)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(wait, 100*time.Millisecond)):
		}
	}
}
