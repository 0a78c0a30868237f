package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
)

// A birthday run (cron 09:00 Shanghai) that starts 2.5 h late (within the
// scheduler's default --max-lateness 3h), window 22:30-02:00. A São Paulo
// customer born 6 Nov: their window opens 22:30 on 6 Nov = 01:30 UTC 7 Nov,
// which belongs to run 2027-11-07 (anchor 01:00 UTC). That run starts at
// 03:30 UTC = 00:30 on 7 Nov in São Paulo, still inside the window: the
// audience is taken at the anchor, so the customer is not lost.
func TestBirthdayRunStartedLate(t *testing.T) {
	for _, late := range []time.Duration{0, 150 * time.Minute} {
		t.Run(late.String(), func(t *testing.T) {
			b := setup(t, store.SQLite)
			ctx := context.Background()
			sh := mustZone(t, "Asia/Shanghai")
			clk, rec := simulate(b, time.Date(2027, 11, 1, 0, 0, 0, 0, time.UTC))
			gift := *b.cfg.Campaigns["gift"]
			gift.SendWindow = &campaigns.Window{Start: 22*60 + 30, End: 2 * 60}
			b.cfg.Campaigns["gift"] = &gift
			if err := b.db.UpsertCustomers(ctx, []customer.Customer{{ExternalID: "sp", Name: "R", Phone: "+5511900000000",
				TimeZone: "America/Sao_Paulo", Tier: customer.TierGold, SMSConsent: customer.Consent{Granted: true},
				Birthday: customer.Birthday{Year: 1990, Month: time.November, Day: 6}}}); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, run := range []string{"2027-11-05", "2027-11-06", "2027-11-07", "2027-11-08"} {
				d, _ := time.ParseInLocation("2006-01-02", run, sh)
				start := d.Add(9 * time.Hour)
				if run == "2027-11-07" {
					start = start.Add(late)
				}
				runDay(t, b, clk, seen, "gift", run, start)
				sum, _ := b.db.RunSummaryOf(ctx, "gift", run)
				t.Logf("run %s (start %s): targeted %d", run, start.UTC(), sum.Targeted)
			}
			n := 0
			for _, ts := range rec.sent {
				n += len(ts)
				for _, at := range ts {
					t.Logf("sent at %s", at.In(mustZone(t, "America/Sao_Paulo")))
				}
			}
			if n != 1 {
				t.Errorf("São Paulo customer got %d gifts, want 1", n)
			}
		})
	}
}
