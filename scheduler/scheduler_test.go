package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/scheduler"
)

func load(t *testing.T) *campaigns.Config {
	t.Helper()
	cfg, err := campaigns.Load("testdata/configs", "testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestResolveDST(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	wall := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, time.UTC) }
	for _, tc := range []struct {
		wall time.Time
		want string
	}{
		{wall(2026, 3, 8, 2, 30), "2026-03-08T07:00:00Z"},  // in the spring-forward gap: at the transition (03:00 EDT)
		{wall(2026, 3, 8, 3, 30), "2026-03-08T07:30:00Z"},  // just after it
		{wall(2026, 11, 1, 1, 30), "2026-11-01T05:30:00Z"}, // twice (EDT, then EST): the first
		{wall(2026, 11, 1, 2, 30), "2026-11-01T07:30:00Z"}, // once, EST
		{wall(2026, 7, 1, 2, 30), "2026-07-01T06:30:00Z"},
	} {
		if got := scheduler.Resolve(tc.wall, ny).UTC().Format(time.RFC3339); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.wall.Format("2006-01-02 15:04"), got, tc.want)
		}
	}
}

// America/New_York 02:30 on both transition days of 2026 fires once each.
func TestDSTDaysFireOnce(t *testing.T) {
	c := load(t).Campaigns["night-owl"]
	ny := c.Schedule.Location
	for _, day := range []time.Time{time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 11, 1, 0, 0, 0, 0, ny)} {
		fires := scheduler.Fires(c, day, day.AddDate(0, 0, 1).Add(-time.Second))
		if len(fires) != 1 || fires[0].Occurrence != day.Format("2006-01-02") {
			t.Errorf("%s: %+v", day.Format("2006-01-02"), fires)
		}
	}
}

// expected lists every occurrence the test configuration has in [start, end).
func expected(t *testing.T, cfg *campaigns.Config, start, end time.Time) map[string]bool {
	want := map[string]bool{"launch|once": true}
	for _, d := range []string{"2026-02-17", "2026-09-25"} { // 2027-02-06 is past the end
		want["festival|"+d] = true
	}
	for _, name := range []string{"birthday", "night-owl"} {
		loc := cfg.Campaigns[name].Schedule.Location
		first := start.In(loc)
		for d := time.Date(first.Year(), first.Month(), first.Day(), 12, 0, 0, 0, loc); d.Before(end); d = d.AddDate(0, 0, 1) {
			fire := scheduler.Fires(cfg.Campaigns[name], d.Add(-12*time.Hour), d.Add(12*time.Hour))
			if len(fire) == 1 && !fire[0].At.Before(start) && fire[0].At.Before(end) {
				want[name+"|"+fire[0].Occurrence] = true
			}
		}
	}
	return want
}

// 400 simulated days, ticking every 7 minutes against a real Redis: every
// expected occurrence is enqueued exactly once, with one scheduler, with
// three, and with one that is down for two hours across a fire time.
func TestFourHundredDays(t *testing.T) {
	cfg := load(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 400)
	want := expected(t, cfg, start, end)
	if len(want) < 800 {
		t.Fatalf("only %d expected occurrences", len(want))
	}
	for _, tc := range []struct {
		name       string
		schedulers int
		outage     bool
	}{{"one", 1, false}, {"three", 3, false}, {"one with an outage", 1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := redistest.Start(t)
			client := asynq.NewClient(r.Opt())
			defer client.Close()
			var mu sync.Mutex
			got := map[string]int{}
			enqueue := func(ctx context.Context, c *campaigns.Campaign, occ string) (bool, error) {
				ok, err := delivery.EnqueueRun(ctx, client, c, occ)
				if ok {
					mu.Lock()
					got[c.Name+"|"+occ]++
					mu.Unlock()
				}
				return ok, err
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			newScheduler := func() *scheduler.Scheduler {
				return &scheduler.Scheduler{Config: func() *campaigns.Config { return cfg }, Enqueue: enqueue,
					MaxLateness: 3 * time.Hour, Lookback: 7 * 24 * time.Hour, Log: log}
			}
			scheds := make([]*scheduler.Scheduler, tc.schedulers)
			for i := range scheds {
				scheds[i] = newScheduler()
			}
			// The outage: 2026-05-10 08:00–10:00 Shanghai spans the 09:00 fires.
			sh := cfg.Campaigns["birthday"].Schedule.Location
			downFrom, downTo := time.Date(2026, 5, 10, 8, 0, 0, 0, sh), time.Date(2026, 5, 10, 10, 0, 0, 0, sh)
			ctx := context.Background()
			for now := start; now.Before(end); now = now.Add(7 * time.Minute) {
				if tc.outage && !now.Before(downFrom) && now.Before(downTo) {
					scheds[0] = newScheduler() // down, and restarted afresh afterwards
					continue
				}
				for i, s := range scheds {
					if _, err := s.Tick(ctx, now.Add(time.Duration(i)*time.Second)); err != nil {
						t.Fatal(err)
					}
				}
			}
			for k := range want {
				if got[k] != 1 {
					t.Errorf("%s enqueued %d times", k, got[k])
				}
			}
			for k, n := range got {
				if !want[k] {
					t.Errorf("unexpected %s (%d)", k, n)
				}
			}
		})
	}
}
