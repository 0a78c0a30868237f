package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
)

// As TestBirthdayAtLocalTime, with daylight saving in the campaign's own
// zone (cron 09:00 America/New_York) and the birthdays on the day clocks
// change: consecutive runs are 25 (or 23) hours apart, and still every
// customer gets one gift, at 10:00 on the day their time.
func TestBirthdayDaylightSavingInCampaignZone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bday     int
		month    time.Month
		from, to int
	}{
		{"fall-back", 7, time.November, 5, 8},
		{"spring-forward", 14, time.March, 12, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, store.SQLite)
			ctx := context.Background()
			ny := mustZone(t, "America/New_York")
			clk, rec := simulate(b, time.Date(2027, tc.month, 1, 0, 0, 0, 0, time.UTC))
			gift := *b.cfg.Campaigns["gift"]
			at := campaigns.Clock(10 * 60)
			gift.SendAtLocal = &at
			gift.Schedule.Location = ny
			gift.Schedule.TimeZone = "America/New_York"
			b.cfg.Campaigns["gift"] = &gift

			var custs []customer.Customer
			for i, z := range windowZones {
				custs = append(custs, customer.Customer{
					ExternalID: fmt.Sprintf("b%02d", i), Name: "Recipient", Phone: fmt.Sprintf("+8613%09d", i),
					TimeZone: z, Tier: customer.TierGold, SMSConsent: customer.Consent{Granted: true},
					Birthday: customer.Birthday{Year: 1990, Month: tc.month, Day: tc.bday},
				})
			}
			if err := b.db.UpsertCustomers(ctx, custs); err != nil {
				t.Fatal(err)
			}
			loaded, _ := b.db.CustomersByID(ctx, allIDs(t, b.db))
			seen := map[string]bool{}
			for day := tc.from; day <= tc.to; day++ {
				run := fmt.Sprintf("2027-%02d-%02d", tc.month, day)
				runDay(t, b, clk, seen, "gift", run, time.Date(2027, tc.month, day, 9, 0, 0, 0, ny))
				sum, _ := b.db.RunSummaryOf(ctx, "gift", run)
				t.Logf("run %s: %s targeted %d %+v", run, sum.Status, sum.Targeted, sum.Counts)
			}
			for _, cu := range loaded {
				if n := len(rec.sent[cu.ID]); n != 1 {
					t.Errorf("customer in %q: %d messages, want 1", cu.TimeZone, n)
					continue
				}
				local := rec.sent[cu.ID][0].In(delivery.RecipientZone(&gift, cu.TimeZone))
				if want := fmt.Sprintf("%02d-%02d 10:00", tc.month, tc.bday); local.Format("01-02 15:04") != want {
					t.Errorf("customer in %q: gift at %s local, want %s", cu.TimeZone, local, want)
				}
			}
		})
	}
}
