package scheduler_test

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/internal/syncbuf"
	"github.com/tidings/tidings/scheduler"
)

// missedLines are the "missed" WARN lines of a log, by campaign and
// occurrence.
func missedLines(log string) map[string]int {
	re := regexp.MustCompile(`level=WARN msg="missed while no scheduler ran[^"]*" campaign=(\S+) occurrence=(\S+)`)
	out := map[string]int{}
	for _, l := range strings.Split(log, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			out[m[1]+" "+m[2]]++
		}
	}
	return out
}

// A scheduler starting after downtime logs each occurrence it missed once,
// however often the cron fired for it (a greeting cron'd every minute of
// its holiday fires 1,440 times for one occurrence), however often its
// first tick fails and is tried again (Redis not up yet), and not at all
// for an occurrence it still enqueues from a later fire.
func TestMissedOccurrencesLoggedOnce(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, map[string]string{
		"campaigns/every-minute.yaml": `name: every-minute
kind: holiday
dates: [2027-02-06]
schedule: {cron: "* * * * *", timezone: Asia/Shanghai}
audience: {segment: all}
channels: [sms]
template: t
`,
		"campaigns/daily.yaml": `name: daily
kind: birthday
schedule: {cron: "30 10 * * *", timezone: Asia/Shanghai}
audience: {segment: all}
channels: [sms]
template: t
`,
	})
	sh := cfg.Campaigns["daily"].Schedule.Location
	r := redistest.Start(t)
	up := asynq.NewClient(r.Opt())
	defer up.Close()
	// Nothing listens on this socket: the client fails as it does while
	// Redis is down.
	down := asynq.NewClient(asynq.RedisClientOpt{Network: "unix", Addr: t.TempDir() + "/no-redis.sock", DialTimeout: 100 * time.Millisecond})
	defer down.Close()

	for _, tc := range []struct {
		name       string
		now        time.Time
		failFirst  int // ticks that fail before Redis is up
		wantMissed []string
		wantQueued []string
	}{
		{
			name: "a day of minute fires", now: time.Date(2027, 2, 8, 12, 0, 0, 0, sh),
			wantMissed: []string{"every-minute 2027-02-06", "daily 2027-02-02", "daily 2027-02-03",
				"daily 2027-02-04", "daily 2027-02-05", "daily 2027-02-06", "daily 2027-02-07"},
			wantQueued: []string{"daily 2027-02-08"},
		},
		{
			name: "retried first tick", now: time.Date(2027, 2, 8, 12, 0, 0, 0, sh), failFirst: 2,
			wantMissed: []string{"every-minute 2027-02-06", "daily 2027-02-02", "daily 2027-02-03",
				"daily 2027-02-04", "daily 2027-02-05", "daily 2027-02-06", "daily 2027-02-07"},
			wantQueued: []string{"daily 2027-02-08"},
		},
		{
			// 01:00 the day after: the holiday's fires of 22:00–24:00 are
			// within max lateness, so its occurrence goes out, not missed.
			name: "late fires of the same occurrence", now: time.Date(2027, 2, 7, 1, 0, 0, 0, sh),
			wantMissed: []string{"daily 2027-01-31", "daily 2027-02-01", "daily 2027-02-02", "daily 2027-02-03",
				"daily 2027-02-04", "daily 2027-02-05", "daily 2027-02-06"},
			wantQueued: []string{"every-minute 2027-02-06"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.Client(t).FlushAll(context.Background())
			var log syncbuf.Buffer
			queued := map[string]int{}
			client := down
			s := &scheduler.Scheduler{Config: func() *campaigns.Config { return cfg },
				Enqueue: func(ctx context.Context, c *campaigns.Campaign, occ string) (bool, error) {
					ok, err := delivery.EnqueueRun(ctx, client, c, occ)
					if ok {
						queued[c.Name+" "+occ]++
					}
					return ok, err
				},
				MaxLateness: 3 * time.Hour, Lookback: 7 * 24 * time.Hour, Log: slog.New(slog.NewTextHandler(&log, nil))}
			ctx := context.Background()
			now := tc.now
			for range tc.failFirst {
				if _, err := s.Tick(ctx, now); err == nil {
					t.Fatal("a tick with Redis down succeeded")
				}
				now = now.Add(10 * time.Second)
			}
			client = up
			if _, err := s.Tick(ctx, now); err != nil {
				t.Fatal(err)
			}
			missed := missedLines(log.String())
			total := 0
			for _, n := range missed {
				total += n
			}
			if total != len(tc.wantMissed) {
				t.Errorf("%d missed lines, want %d, one per occurrence: %v", total, len(tc.wantMissed), missed)
			}
			for _, k := range tc.wantMissed {
				if missed[k] != 1 {
					t.Errorf("%s: logged missed %d times, want once", k, missed[k])
				}
			}
			for _, k := range tc.wantQueued {
				if queued[k] != 1 || missed[k] != 0 {
					t.Errorf("%s: enqueued %d times and logged missed %d times; want enqueued once, not missed", k, queued[k], missed[k])
				}
			}
		})
	}
}
