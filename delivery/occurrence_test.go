package delivery_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// An occurrence sent by hand must be one of the campaign's fires, recent
// or upcoming, or a run it has; --force accepts any other well-formed one
// and never one malformed for the campaign's kind.
func TestCheckOccurrence(t *testing.T) {
	cfg, err := campaigns.Load("testdata/configs", "testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	if _, err := db.BeginRun(ctx, "greeting", "2026-12-01", "tidings:normal"); err != nil {
		t.Fatal(err)
	}
	exists := func(ctx context.Context, campaign, occurrence string) (bool, error) {
		_, err := db.GetRun(ctx, campaign, occurrence)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	december := time.Date(2026, 12, 4, 12, 0, 0, 0, shanghai)
	holiday := time.Date(2027, 2, 6, 9, 0, 0, 0, shanghai)
	launch := cfg.Campaigns["announce"].At

	for _, tc := range []struct {
		campaign, occurrence string
		now                  time.Time
		force                bool
		want                 string // "" accepted; else a part of the error
		malformed            bool
	}{
		// The holiday's date, two months early (upcoming), on the day, and
		// three days late (a missed fire).
		{"greeting", "2027-02-06", december, false, "", false},
		{"greeting", "2027-02-06", holiday.Add(-time.Hour), false, "", false},
		{"greeting", "2027-02-06", holiday.Add(72 * time.Hour), false, "", false},
		// Today's date in December: the campaign does not fire on it.
		{"greeting", "2026-12-04", december, false, `campaign greeting: occurrence "2026-12-04" is not one of its fires of the last 7 days or the next 400 days, nor a run it has; its next fires: 2027-02-06 (2027-02-06 09:00 CST)`, false},
		{"greeting", "2026-12-04", december, true, "", false},
		// Too late, unless forced.
		{"greeting", "2027-02-06", holiday.Add(8 * 24 * time.Hour), false, "its fires of the last 7 days", false},
		{"greeting", "2027-02-06", holiday.Add(8 * 24 * time.Hour), true, "", false},
		// A run it has is always accepted (enqueued again, a no-op or a
		// recovery).
		{"greeting", "2026-12-01", december, false, "", false},
		// Typos: not a date, a follow-up of a holiday campaign; --force
		// does not help.
		{"greeting", "feb-6", december, false, `is not a date (YYYY-MM-DD): a holiday campaign's runs are named by the date they fire on; its next fires: 2027-02-06`, true},
		{"greeting", "feb-6", december, true, "is not a date", true},
		{"greeting", "2027-02-30", december, true, "is not a date", true},
		{"greeting", "follow-up-1", december, true, "only product campaigns have follow-ups", true},
		// A product launch and its follow-up, early or on time; one it
		// does not have, forced or not.
		{"announce", "once", december, false, "", false},
		{"announce", "follow-up-1", launch.Add(72*time.Hour + time.Minute), false, "", false},
		{"announce", "follow-up-9", launch.Add(-time.Hour), true, `occurrence "follow-up-9" names a follow-up it does not have (follow_ups lists 1); its next fires: once (2027-03-01 10:00 CST), follow-up-1`, true},
		{"announce", "relaunch", launch.Add(-time.Hour), false, `occurrence "relaunch" is not one of its fires`, false},
		{"announce", "relaunch", launch.Add(-time.Hour), true, "", false},
		// Not a key at all: it would be part of task ids and URLs.
		{"announce", "x:y ", launch.Add(-time.Hour), true, "is not a key", true},
		{"announce", "../once", launch.Add(-time.Hour), true, "is not a key", true},
		{"announce", "once", launch.Add(30 * 24 * time.Hour), false, "it has no fires in the next 400 days", false},
		// A birthday campaign fires daily: yesterday's and tomorrow's
		// dates are fires, its ledger year is not a run.
		{"gift", "2026-12-03", december, false, "", false},
		{"gift", "2026-12-05", december, false, "", false},
		{"gift", "2026", december, true, "is not a date", true},
	} {
		err := delivery.CheckOccurrence(ctx, cfg.Campaigns[tc.campaign], tc.occurrence, tc.now, exists, tc.force)
		name := tc.campaign + " " + tc.occurrence + " at " + tc.now.Format(time.RFC3339)
		if tc.force {
			name += " --force"
		}
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var oe *delivery.OccurrenceError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) || oe.Malformed != tc.malformed {
			t.Errorf("%s: %v (malformed %v), want an error with %q (malformed %v)", name, err, oe != nil && oe.Malformed, tc.want, tc.malformed)
		}
	}
}

// The refusal lists at most five fires of the last week and five next ones.
func TestCheckOccurrenceListsFiveNextFires(t *testing.T) {
	cfg, err := campaigns.Load("testdata/configs", "testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	err = delivery.CheckOccurrence(context.Background(), cfg.Campaigns["gift"], "2028-06-01", time.Date(2026, 12, 4, 12, 0, 0, 0, shanghai), nil, false)
	want := "its fires of the last 7 days: 2026-11-30 (2026-11-30 09:00 CST), 2026-12-01 (2026-12-01 09:00 CST), 2026-12-02 (2026-12-02 09:00 CST), 2026-12-03 (2026-12-03 09:00 CST), 2026-12-04 (2026-12-04 09:00 CST); " +
		"its next fires: 2026-12-05 (2026-12-05 09:00 CST), 2026-12-06 (2026-12-06 09:00 CST), 2026-12-07 (2026-12-07 09:00 CST), 2026-12-08 (2026-12-08 09:00 CST), 2026-12-09 (2026-12-09 09:00 CST)"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("got  %v\nwant …%s", err, want)
	}
}

func TestNextOccurrence(t *testing.T) {
	cfg, err := campaigns.Load("testdata/configs", "testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	launch := cfg.Campaigns["announce"].At
	for _, tc := range []struct {
		campaign string
		now      time.Time
		want     string
	}{
		{"greeting", time.Date(2026, 12, 4, 12, 0, 0, 0, shanghai), "2027-02-06"},
		// On the day, after its time: still the day's fire, not next year's.
		{"greeting", time.Date(2027, 2, 6, 15, 0, 0, 0, shanghai), "2027-02-06"},
		{"gift", time.Date(2026, 12, 4, 12, 0, 0, 0, shanghai), "2026-12-04"},
		{"announce", launch.Add(-time.Hour), "once"},
		{"announce", launch.Add(48 * time.Hour), "follow-up-1"},
	} {
		if got := delivery.NextOccurrence(cfg.Campaigns[tc.campaign], tc.now); got != tc.want {
			t.Errorf("%s at %s: %q, want %q", tc.campaign, tc.now, got, tc.want)
		}
	}
}
