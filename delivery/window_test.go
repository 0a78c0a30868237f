package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/ratelimit"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
)

// windowZones are the recipients' zones: both sides of the date line,
// half- and quarter-hour offsets, and zones with daylight saving in both
// hemispheres (New York changes its clocks on the test's date).
var windowZones = []string{
	"Pacific/Kiritimati", "Pacific/Tongatapu", "Pacific/Chatham", "Pacific/Auckland", "Asia/Kamchatka",
	"Australia/Lord_Howe", "Australia/Sydney", "Australia/Adelaide", "Australia/Darwin", "Asia/Tokyo",
	"Asia/Shanghai", "Asia/Singapore", "Asia/Yangon", "Asia/Kathmandu", "Asia/Kolkata",
	"Asia/Kabul", "Asia/Dubai", "Asia/Tehran", "Europe/Moscow", "Africa/Johannesburg",
	"Europe/Berlin", "Africa/Lagos", "Europe/London", "Atlantic/Azores", "Atlantic/Cape_Verde",
	"America/Noronha", "America/Sao_Paulo", "America/St_Johns", "America/Halifax", "America/New_York",
	"America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles", "America/Anchorage",
	"Pacific/Marquesas", "Pacific/Honolulu", "Pacific/Pago_Pago", "Etc/GMT+12",
	"", // no zone: the campaign's (Asia/Shanghai)
}

// simClock is a simulated clock the tests set.
type simClock interface {
	Now() time.Time
	Set(time.Time)
}

// clock is the simulated time the pipeline and the recording sender read.
// It stands still between Sets.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// flowing is a simulated clock that runs at real speed from each Set.
type flowing struct {
	mu     sync.Mutex
	offset time.Duration
}

func (f *flowing) Now() time.Time  { f.mu.Lock(); defer f.mu.Unlock(); return time.Now().Add(f.offset) }
func (f *flowing) Set(t time.Time) { f.mu.Lock(); f.offset = time.Until(t); f.mu.Unlock() }

// timed records when (on the simulated clock) each message went out.
type timed struct {
	clock simClock
	mu    sync.Mutex
	sent  map[int64][]time.Time // customer id → send instants
}

func (s *timed) Send(_ context.Context, m channels.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent[m.CustomerID] = append(s.sent[m.CustomerID], s.clock.Now())
	return fmt.Sprintf("t%d", len(s.sent)), nil
}

// TestSendWindowAcrossZones runs a holiday greeting for 2027-03-14 (the
// day New York moves its clocks forward) to recipients in 40 zones, on a
// simulated clock: the run starts at 09:00 in Shanghai, every batch task is
// executed at the time Asynq would hand it out, and each one is also tried
// too early. Nobody gets a message outside 09:00–21:00 of their own
// 2027-03-14, and everybody gets one.
func TestSendWindowAcrossZones(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(c *campaigns.Campaign)
		// check the local time of a send; start is the run's start there
		check func(t *testing.T, zone string, local, start time.Time)
	}{
		{"send_window", func(c *campaigns.Campaign) { c.SendWindow = &campaigns.Window{Start: 9 * 60, End: 21 * 60} },
			func(t *testing.T, zone string, local, _ time.Time) {
				if local.Format("2006-01-02") != "2027-03-14" || local.Hour() < 9 || local.Hour() >= 21 {
					t.Errorf("%s: sent at %s local, outside 09:00-21:00 on 2027-03-14", zone, local)
				}
			}},
		{"send_at_local", func(c *campaigns.Campaign) { at := campaigns.Clock(10 * 60); c.SendAtLocal = &at },
			func(t *testing.T, zone string, local, start time.Time) {
				// 10:00 on the holiday; at once where the run started
				// within the hour's grace after it; the next day at 10:00
				// where the grace had passed too.
				want := time.Date(2027, 3, 14, 10, 0, 0, 0, local.Location())
				switch {
				case !start.After(want):
				case start.Before(want.Add(delivery.SendAtGrace)):
					want = start
				default:
					want = want.AddDate(0, 0, 1)
				}
				if !local.Equal(want) {
					t.Errorf("%s: sent at %s local, want %s", zone, local, want)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, store.SQLite)
			ctx := context.Background()
			start := time.Date(2027, 3, 14, 9, 0, 0, 0, mustZone(t, "Asia/Shanghai"))
			clk, rec := simulate(b, start)
			c := *b.cfg.Campaigns["greeting"]
			c.Name = "windowed"
			tc.setup(&c)
			b.cfg.Campaigns["windowed"] = &c
			b.cfg.Settings.Delivery.BatchSize = 7 // several batches per zone group

			var custs []customer.Customer
			for i, z := range windowZones {
				for j := range 9 {
					custs = append(custs, customer.Customer{
						ExternalID: fmt.Sprintf("w%02d-%d", i, j), Name: "Recipient", Phone: fmt.Sprintf("+8613%09d", i*100+j),
						TimeZone: z, Tier: customer.TierGold, SMSConsent: customer.Consent{Granted: true},
					})
				}
			}
			if err := b.db.UpsertCustomers(ctx, custs); err != nil {
				t.Fatal(err)
			}
			loaded, err := b.db.CustomersByID(ctx, allIDs(t, b.db))
			if err != nil {
				t.Fatal(err)
			}

			payload, _ := json.Marshal(delivery.RunPayload{Campaign: "windowed", Occurrence: "2027-03-14"})
			if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, payload)); err != nil {
				t.Fatal(err)
			}

			// The batches as Asynq holds them: due now (pending) or later
			// (scheduled), by window opening.
			queue := newTasks(t, b, map[string]bool{}, start)
			pending := 0
			for _, d := range queue {
				if d.at.Equal(start) {
					pending++
				}
			}
			if scheduled := len(queue) - pending; scheduled == 0 || pending == 0 {
				t.Fatalf("want batches due now and later, got %d pending, %d scheduled", pending, scheduled)
			}
			sum, err := b.db.RunSummaryOf(ctx, "windowed", "2027-03-14")
			if err != nil {
				t.Fatal(err)
			}
			var waiting int64
			for _, cn := range sum.Counts {
				if cn.Status == store.StatusDeferred && cn.Reason == store.ReasonWaitingForWindow {
					waiting = cn.N
				}
			}
			if waiting == 0 || waiting >= int64(len(custs)) {
				t.Errorf("run summary: %d deferred for the window, want some of %d: %+v", waiting, len(custs), sum.Counts)
			}

			// Every scheduled batch tried at the run's start, as if a worker
			// ran it early: it sends nobody and asks to wait for its time.
			for _, d := range queue {
				if d.at.Equal(start) {
					continue
				}
				err := b.pipeline.HandleBatch(ctx, d.task)
				if err == nil {
					t.Fatal("a batch due later ran to completion at the run's start")
				}
				if w := retryDelay(0, err, d.task); !start.Add(w).Equal(d.at) {
					t.Errorf("early batch asks to wait until %s, scheduled for %s", start.Add(w), d.at)
				}
			}
			if n := len(rec.sent); n != 0 {
				// the pending ones have not run yet; nothing went out early
				t.Fatalf("%d recipients got a message from a batch run too early", n)
			}

			drain(t, b, clk, queue)

			for _, cu := range loaded {
				times := rec.sent[cu.ID]
				if len(times) != 1 {
					t.Errorf("customer %d (%q): %d messages, want 1", cu.ID, cu.TimeZone, len(times))
					continue
				}
				loc := delivery.RecipientZone(&c, cu.TimeZone)
				tc.check(t, cu.TimeZone, times[0].In(loc), start.In(loc))
			}
			sum, err = b.db.RunSummaryOf(ctx, "windowed", "2027-03-14")
			if err != nil || sum.Status != store.RunDone || sum.Total(store.StatusSent) != int64(len(custs)) {
				t.Errorf("run: %+v %v, want done with %d sent", sum, err, len(custs))
			}
		})
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestDueAt(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	window := &campaigns.Campaign{Kind: campaigns.KindBirthday, SendWindow: &campaigns.Window{Start: 9 * 60, End: 21 * 60},
		Schedule: campaigns.Schedule{Location: ny}}
	night := &campaigns.Campaign{Kind: campaigns.KindBirthday, SendWindow: &campaigns.Window{Start: 22 * 60, End: 2 * 60},
		Schedule: campaigns.Schedule{Location: ny}}
	gap := &campaigns.Campaign{Kind: campaigns.KindBirthday, SendWindow: &campaigns.Window{Start: 2*60 + 30, End: 4 * 60},
		Schedule: campaigns.Schedule{Location: ny}}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		c        *campaigns.Campaign
		now, due string
	}{
		{window, "2026-06-01 10:00", "2026-06-01 10:00"}, // inside: now
		{window, "2026-06-01 08:59", "2026-06-01 09:00"}, // before: today's opening
		{window, "2026-06-01 21:00", "2026-06-02 09:00"}, // the end is exclusive
		{night, "2026-06-01 23:30", "2026-06-01 23:30"},  // a window across midnight
		{night, "2026-06-02 01:59", "2026-06-02 01:59"},
		{night, "2026-06-02 02:00", "2026-06-02 22:00"},
		// 02:30 does not exist on 2026-03-08 in New York: the window opens
		// at the transition, 03:00 EDT.
		{gap, "2026-03-08 00:00", "2026-03-08 03:00"},
	} {
		if got := delivery.DueAt(tc.c, "2026", ny, at(tc.now)); !got.Equal(at(tc.due)) {
			t.Errorf("window %s at %s: due %s, want %s", tc.c.SendWindow, tc.now, got.In(ny), tc.due)
		}
	}

	// 29 February birthdays: on 28 February in common years, on the day in
	// leap years.
	ten := campaigns.Clock(10 * 60)
	gift := &campaigns.Campaign{Kind: campaigns.KindBirthday, SendAtLocal: &ten, Schedule: campaigns.Schedule{Location: ny}}
	for _, tc := range []struct {
		anchor, due string // due "": not this run's
	}{
		{"2027-02-28 09:00", "2027-02-28 10:00"},
		{"2027-02-27 09:00", ""}, // the 28th's opening is more than a day away
		{"2028-02-28 09:00", ""}, // 2028 is a leap year
		{"2028-02-29 09:00", "2028-02-29 10:00"},
		{"2028-02-28 10:30", "2028-02-29 10:00"}, // within the 24 hours from the anchor
	} {
		got, ok := delivery.BirthdayDue(gift, at(tc.anchor), ny, time.February, 29)
		if (tc.due == "") == ok || ok && !got.Equal(at(tc.due)) {
			t.Errorf("29 Feb birthday, run anchored %s: %s %v, want %q", tc.anchor, got.In(ny), ok, tc.due)
		}
	}
}

// simulate puts the pipeline and the store on a simulated clock set at
// start, and records every message with the time it went out.
func simulate(b *bundle, start time.Time) (*clock, *timed) {
	clk := &clock{now: start}
	return clk, simulateWith(b, clk)
}

// simulateWith is simulate on a given clock, already set.
func simulateWith(b *bundle, clk simClock) *timed {
	rec := &timed{clock: clk, sent: map[int64][]time.Time{}}
	b.pipeline.Now = clk.Now
	b.db.SetClock(clk.Now)
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: rec, channels.Email: rec}
	return rec
}

// runDay runs a campaign's run at start on the simulated clock, then its
// batches, each when Asynq would hand it out: the day's batches go out
// before the next day's run starts.
func runDay(t *testing.T, b *bundle, clk simClock, seen map[string]bool, campaign, run string, start time.Time) {
	t.Helper()
	clk.Set(start)
	payload, _ := json.Marshal(delivery.RunPayload{Campaign: campaign, Occurrence: run})
	if err := b.pipeline.HandleRun(context.Background(), asynq.NewTask(delivery.TypeRun, payload)); err != nil {
		t.Fatal(err)
	}
	drain(t, b, clk, newTasks(t, b, seen, start))
}

// due is a batch task as Asynq holds it, and when it hands it out.
type due struct {
	at   time.Time
	task *asynq.Task
}

var retryDelay = delivery.ServerConfig(1, slog.New(slog.NewTextHandler(io.Discard, nil))).RetryDelayFunc

// drain runs the batches in Asynq's order on the simulated clock: each at
// its time; one that asks to wait is retried after the wait it asks for.
func drain(t *testing.T, b *bundle, clk simClock, queue []due) {
	t.Helper()
	for len(queue) > 0 {
		slices.SortStableFunc(queue, func(a, b due) int { return a.at.Compare(b.at) })
		d := queue[0]
		queue = queue[1:]
		clk.Set(d.at)
		if err := b.pipeline.HandleBatch(context.Background(), d.task); err != nil {
			w := retryDelay(0, err, d.task)
			if w <= 0 || w > 48*time.Hour {
				t.Fatalf("batch error %v: retry after %s", err, w)
			}
			queue = append(queue, due{clk.Now().Add(w), d.task})
		}
	}
}

// newTasks lists the batch tasks in Redis not seen before, with the time
// (on the simulated clock, which reads now) Asynq would hand each out: now
// for pending ones, the batch's not_before for scheduled ones. Asynq keeps
// the real clock, so a scheduled task must be held for the wait until then,
// not until that instant, which the test checks.
func newTasks(t *testing.T, b *bundle, seen map[string]bool, now time.Time) []due {
	t.Helper()
	insp := asynq.NewInspector(b.redis.Opt())
	defer insp.Close()
	notBefore := map[string]time.Time{} // by task id, from the database
	dueAt := func(payload []byte) time.Time {
		var pl delivery.BatchPayload
		if err := json.Unmarshal(payload, &pl); err != nil {
			t.Fatal(err)
		}
		id := delivery.BatchTaskID(pl.Campaign, pl.Occurrence, pl.FirstID)
		if _, ok := notBefore[id]; !ok {
			batches, err := b.db.RunBatches(context.Background(), pl.Campaign, pl.Occurrence)
			if err != nil {
				t.Fatal(err)
			}
			for _, bt := range batches {
				notBefore[delivery.BatchTaskID(bt.Campaign, bt.Run, bt.FirstID())] = bt.NotBefore
			}
		}
		at, ok := notBefore[id]
		if !ok {
			t.Fatalf("no batch %s %s %d in the database", pl.Campaign, pl.Occurrence, pl.FirstID)
		}
		return at
	}
	var out []due
	for _, q := range []string{"tidings:high", "tidings:normal", "tidings:low"} {
		pending, _ := insp.ListPendingTasks(q, asynq.PageSize(1000))
		scheduled, _ := insp.ListScheduledTasks(q, asynq.PageSize(1000))
		for _, ti := range append(pending, scheduled...) {
			if seen[ti.ID] || ti.Type != delivery.TypeBatch {
				continue
			}
			seen[ti.ID] = true
			at := now
			if ti.State == asynq.TaskStateScheduled {
				at = dueAt(ti.Payload)
				// Asynq stores whole seconds; the enqueue was a moment ago.
				if held, want := time.Until(ti.NextProcessAt), at.Sub(now); (held - want).Abs() > 2*time.Second {
					t.Errorf("a batch due in %s (simulated) is held by Asynq for %s (real)", want, held.Round(time.Second))
				}
			}
			out = append(out, due{at, asynq.NewTask(ti.Type, ti.Payload)})
		}
	}
	return out
}

// TestBirthdayAtLocalTime runs a birthday campaign with send_at_local 10:00
// daily at 09:00 Shanghai over four days, on a simulated clock, to
// customers born on 14 March in 40 zones: each gets exactly one gift, at
// 10:00 on 14 March their time, whichever day's run it falls to.
func TestBirthdayAtLocalTime(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	clk, rec := simulate(b, time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC))
	gift := *b.cfg.Campaigns["gift"] // birthday, sms, cron 09:00 Asia/Shanghai
	at := campaigns.Clock(10 * 60)
	gift.SendAtLocal = &at
	b.cfg.Campaigns["gift"] = &gift

	var custs []customer.Customer
	for i, z := range windowZones {
		custs = append(custs, customer.Customer{
			ExternalID: fmt.Sprintf("b%02d", i), Name: "Recipient", Phone: fmt.Sprintf("+8613%09d", i),
			TimeZone: z, Tier: customer.TierGold, SMSConsent: customer.Consent{Granted: true},
			Birthday: customer.Birthday{Year: 1990, Month: time.March, Day: 14},
		})
	}
	// Someone born on 29 February: in 2027 their day is 28 February, which
	// no run here covers.
	custs = append(custs, customer.Customer{ExternalID: "leap", Name: "Leap", Phone: "+8613900000000", TimeZone: "Asia/Shanghai",
		Tier: customer.TierGold, SMSConsent: customer.Consent{Granted: true}, Birthday: customer.Birthday{Year: 1992, Month: time.February, Day: 29}})
	if err := b.db.UpsertCustomers(ctx, custs); err != nil {
		t.Fatal(err)
	}
	loaded, err := b.db.CustomersByID(ctx, allIDs(t, b.db))
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	var targeted int64
	for day := 12; day <= 15; day++ {
		run := fmt.Sprintf("2027-03-%02d", day)
		runDay(t, b, clk, seen, "gift", run, time.Date(2027, 3, day, 9, 0, 0, 0, mustZone(t, "Asia/Shanghai")))
		sum, err := b.db.RunSummaryOf(ctx, "gift", run)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Status != store.RunDone {
			t.Errorf("run %s: %s, want done: %+v", run, sum.Status, sum.Counts)
		}
		t.Logf("run %s: %d targeted", run, sum.Targeted)
		targeted += sum.Targeted
	}
	if targeted != int64(len(windowZones)) {
		t.Errorf("%d targeted over the four runs, want each of the %d customers born on 14 March once", targeted, len(windowZones))
	}
	for _, cu := range loaded {
		times := rec.sent[cu.ID]
		if cu.ExternalID == "leap" {
			if len(times) != 0 {
				t.Errorf("the 29 February customer got %d messages in March", len(times))
			}
			continue
		}
		if len(times) != 1 {
			t.Errorf("customer in %q: %d messages, want 1", cu.TimeZone, len(times))
			continue
		}
		local := times[0].In(delivery.RecipientZone(&gift, cu.TimeZone))
		if local.Format("01-02 15:04:05") != "03-14 10:00:00" {
			t.Errorf("customer in %q: gift at %s local, want 14 March 10:00", cu.TimeZone, local)
		}
	}
}

// TestRateLimitWaitEndsAtWindowClose sends to five recipients through a
// limiter of one SMS a second, starting 1.5 s before their 21:00 window
// close, on a clock that runs at real speed: the two sends before 21:00 go
// out, the third, whose token would come at 21:00:00.5, is not sent late
// but waits with the others for 09:00 the next morning.
func TestRateLimitWaitEndsAtWindowClose(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	shanghai := mustZone(t, "Asia/Shanghai")
	clk := &flowing{}
	clk.Set(time.Date(2027, 3, 1, 20, 59, 58, 500e6, shanghai))
	rec := simulateWith(b, clk)
	limited := ratelimit.Wrap(rec, redis_rate.NewLimiter(b.redis.Client(t)), "sms", ratelimit.Rate{N: 1, Per: time.Second})
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: limited}
	announceAt(t, b, campaigns.DeliveryFirst, []string{channels.SMS}, "l0", "l1", "l2", "l3", "l4")
	runDay(t, b, clk, map[string]bool{}, "announce", "once", clk.Now())

	evening, morning := eveningAndMorning(t, rec, shanghai)
	if evening != 2 || morning != 3 {
		t.Errorf("%d sent before 21:00 and %d the next morning, want 2 and 3", evening, morning)
	}
	if sum, err := b.db.RunSummaryOf(ctx, "announce", "once"); err != nil || sum.Status != store.RunDone || sum.Total(store.StatusSent) != 5 {
		t.Errorf("run: %+v %v, want done with 5 sent", sum, err)
	}
}

// eveningAndMorning counts the messages sent on 1 March in the hour
// before 21:00 and on 2 March from 09:00 (Shanghai), and fails the test
// for a customer sent twice or a message at any other time.
func eveningAndMorning(t *testing.T, rec *timed, loc *time.Location) (evening, morning int) {
	t.Helper()
	for id, times := range rec.sent {
		if len(times) != 1 {
			t.Errorf("customer %d: %d messages, want 1", id, len(times))
		}
		for _, at := range times {
			switch local := at.In(loc); {
			case local.Day() == 1 && local.Hour() == 20:
				evening++
			case local.Day() == 2 && local.Hour() == 9:
				morning++
			default:
				t.Errorf("customer %d: sent at %s, outside 09:00-21:00", id, local.Format("01-02 15:04:05.000"))
			}
		}
	}
	return evening, morning
}

// slow sends a message, then takes its time: the provider's answer comes
// later than the message went out.
type slow struct {
	channels.Sender
	d time.Duration
}

func (s slow) Send(ctx context.Context, m channels.Message) (string, error) {
	id, err := s.Sender.Send(ctx, m)
	time.Sleep(s.d)
	return id, err
}

// Without a rate limit, a batch whose recipients' window closes while it
// sends (a slow provider, 21:00 on the way) sends nobody after the close:
// each send checks the window's end, and those left wait for the morning.
func TestWindowClosesDuringABatch(t *testing.T) {
	b := setup(t, store.SQLite)
	shanghai := mustZone(t, "Asia/Shanghai")
	clk := &flowing{}
	clk.Set(time.Date(2027, 3, 1, 20, 59, 59, 600e6, shanghai))
	rec := simulateWith(b, clk)
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: slow{rec, 150 * time.Millisecond}}
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprintf("w%02d", i)
	}
	announceAt(t, b, campaigns.DeliveryFirst, []string{channels.SMS}, names...)
	runDay(t, b, clk, map[string]bool{}, "announce", "once", clk.Now())

	evening, morning := eveningAndMorning(t, rec, shanghai)
	if evening == 0 || morning == 0 || evening+morning != len(names) {
		t.Errorf("%d sent before 21:00 and %d the next morning, want some of each and %d in all", evening, morning, len(names))
	}
}

// A batch that runs when its recipients' window has closed (a backlog, a
// worker down for the evening) shows them in the run's counts as waiting for
// the window, and the reconciler leaves the batch alone until it opens.
func TestLateBatchCountsItsWaitingRecipients(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			b := setup(t, d)
			ctx := context.Background()
			shanghai := mustZone(t, "Asia/Shanghai")
			clk, rec := simulate(b, time.Date(2027, 3, 1, 20, 0, 0, 0, shanghai))
			announceAt(t, b, campaigns.DeliveryFirst, []string{channels.SMS}, "s0", "s1", "s2", "s3")
			payload, _ := json.Marshal(delivery.RunPayload{Campaign: "announce", Occurrence: "once"})
			if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, payload)); err != nil {
				t.Fatal(err)
			}
			tasks := newTasks(t, b, map[string]bool{}, clk.Now())
			if len(tasks) != 1 {
				t.Fatalf("%d batches, want 1 due at once", len(tasks))
			}

			// The batch runs 90 minutes late, after 21:00.
			clk.Set(time.Date(2027, 3, 1, 21, 30, 0, 0, shanghai))
			if err := b.pipeline.HandleBatch(ctx, tasks[0].task); err == nil {
				t.Fatal("a batch outside its window finished")
			}
			if len(rec.sent) != 0 {
				t.Fatalf("%d sent after 21:00", len(rec.sent))
			}
			sum, err := b.db.RunSummaryOf(ctx, "announce", "once")
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.Counts) != 1 || sum.Counts[0] != (store.Count{Status: store.StatusDeferred, Reason: store.ReasonWaitingForWindow, N: 4}) {
				t.Errorf("run counts %+v, want 4 deferred %q", sum.Counts, store.ReasonWaitingForWindow)
			}
			stale, err := b.db.StaleBatches(ctx, delivery.StaleAfter)
			if err != nil || len(stale) != 0 {
				t.Errorf("reconciler candidates %d %v, want none before the window opens", len(stale), err)
			}

			// At 09:00 they are sent, and nothing is counted as waiting.
			drain(t, b, clk, []due{{time.Date(2027, 3, 2, 9, 0, 0, 0, shanghai), tasks[0].task}})
			sum, err = b.db.RunSummaryOf(ctx, "announce", "once")
			if err != nil || sum.Status != store.RunDone || sum.Total(store.StatusSent) != 4 || sum.Total(store.StatusDeferred) != 0 {
				t.Errorf("run: %+v %v, want done with 4 sent", sum, err)
			}
		})
	}
}

// failingFor fails one address with a retryable provider error.
type failingFor struct {
	channels.Sender
	to string
}

func (f failingFor) Send(ctx context.Context, m channels.Message) (string, error) {
	if m.To == f.to {
		return "", channels.Retryable(channels.ReasonUnavailable, time.Minute, errors.New("503 service unavailable"))
	}
	return f.Sender.Send(ctx, m)
}

// Under delivery: all, a batch retried after the window closed counts as
// waiting only the rows it still lacks: not a customer whose every channel
// was settled before, nor the channel a customer already got. The run's
// counts add up to what it targeted.
func TestLateBatchCountsOnlyMissingRows(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	shanghai := mustZone(t, "Asia/Shanghai")
	clk, rec := simulate(b, time.Date(2027, 3, 1, 20, 0, 0, 0, shanghai))
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: rec, channels.Email: failingFor{rec, "b@example.com"}}
	announceAt(t, b, campaigns.DeliveryAll, []string{channels.SMS, channels.Email}, "a", "b")
	payload, _ := json.Marshal(delivery.RunPayload{Campaign: "announce", Occurrence: "once"})
	if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, payload)); err != nil {
		t.Fatal(err)
	}
	tasks := newTasks(t, b, map[string]bool{}, clk.Now())
	// 20:00: a gets SMS and email, b the SMS; b's email provider fails.
	if err := b.pipeline.HandleBatch(ctx, tasks[0].task); err == nil {
		t.Fatal("the batch finished despite the provider's 503")
	}
	// 21:30: the retry finds the window closed.
	clk.Set(time.Date(2027, 3, 1, 21, 30, 0, 0, shanghai))
	if err := b.pipeline.HandleBatch(ctx, tasks[0].task); err == nil {
		t.Fatal("the batch finished outside the window")
	}
	sum, err := b.db.RunSummaryOf(ctx, "announce", "once")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Targeted != 4 || sum.Total(store.StatusSent) != 3 || sum.Total(store.StatusDeferred) != 1 || sum.Total("") != 4 {
		t.Errorf("targeted %d, counts %+v; want 3 sent and b's email deferred, 4 in all", sum.Targeted, sum.Counts)
	}
	if n := len(rec.sent); n != 2 {
		t.Errorf("%d customers got messages, want 2", n)
	}
}

// announceAt makes the test configuration's launch send on chs under
// delivery d inside 09:00-21:00, and adds a customer in Shanghai per name,
// with a phone, an email (name@example.com) and consent to both.
func announceAt(t *testing.T, b *bundle, d string, chs []string, names ...string) {
	t.Helper()
	c := *b.cfg.Campaigns["announce"]
	c.Channels, c.Delivery, c.FollowUps = chs, d, nil
	c.SendWindow = &campaigns.Window{Start: 9 * 60, End: 21 * 60}
	b.cfg.Campaigns["announce"] = &c
	var custs []customer.Customer
	for i, name := range names {
		custs = append(custs, customer.Customer{ExternalID: name, Name: name, Phone: fmt.Sprintf("+86139%08d", i),
			Email: name + "@example.com", TimeZone: "Asia/Shanghai", Tier: customer.TierGold,
			SMSConsent: customer.Consent{Granted: true}, EmailConsent: customer.Consent{Granted: true}})
	}
	if err := b.db.UpsertCustomers(context.Background(), custs); err != nil {
		t.Fatal(err)
	}
}
