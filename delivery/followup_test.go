package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
)

// A product launch's follow-up goes to those who were sent the launch and
// have not bought since, on the follow-up's own channels and template.
func TestFollowUpToNonResponders(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	announce := b.cfg.Campaigns["announce"] // launch on email and sms; follow-up by email after 3d
	launch := announce.At
	mk := func(ext string, email, sms bool) customer.Customer {
		return customer.Customer{ExternalID: ext, Name: "Li " + ext, Email: ext + "@example.com", Phone: "+861380000" + ext[len(ext)-4:],
			Tier: customer.TierGold, EmailConsent: customer.Consent{Granted: email}, SMSConsent: customer.Consent{Granted: sms}}
	}
	cs := []customer.Customer{
		mk("quiet-0001", true, true),  // got the launch, bought nothing: follow-up
		mk("buyer-0002", true, true),  // got the launch, bought after it: no follow-up
		mk("sms-0003", false, true),   // got the launch by SMS only: follow-up by email? no consent → skipped
		mk("none-0004", false, false), // got nothing at launch: not in the follow-up audience
		mk("older-0005", true, false), // bought before the launch only: follow-up
	}
	cs[4].LastPurchase = launch.Add(-48 * time.Hour)
	if err := b.db.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, 2)
	if _, err := delivery.EnqueueRun(ctx, b.client, announce, "once"); err != nil {
		t.Fatal(err)
	}
	b.waitDone(t, "announce", "once", time.Minute)
	// buyer-0002 buys a day after the launch (a later import).
	cs[1].LastPurchase = launch.Add(24 * time.Hour)
	if err := b.db.UpsertCustomers(ctx, cs[1:2]); err != nil {
		t.Fatal(err)
	}

	if _, err := delivery.EnqueueRun(ctx, b.client, announce, "follow-up-1"); err != nil {
		t.Fatal(err)
	}
	sum := b.waitDone(t, "announce", "follow-up-1", time.Minute)
	got := map[string]string{}
	rows, err := b.db.SQL().Query(`SELECT c.external_id, d.channel || ' ' || d.status FROM deliveries d JOIN customers c ON c.id = d.customer_id
		WHERE d.campaign = 'announce' AND d.occurrence = 'follow-up-1'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var ext, what string
		rows.Scan(&ext, &what)
		got[ext] = what
	}
	want := map[string]string{"quiet-0001": "email sent", "sms-0003": "email skipped", "older-0005": "email sent"}
	if len(got) != len(want) {
		t.Errorf("follow-up rows %v, want %v", got, want)
	}
	for ext, w := range want {
		if got[ext] != w {
			t.Errorf("%s: follow-up %q, want %q", ext, got[ext], w)
		}
	}
	if sum.Targeted != 3 {
		t.Errorf("follow-up targeted %d, want 3", sum.Targeted)
	}
}

// A follow-up repeats the launch's coupon code; a follow-up the campaign
// does not have is handed back (a worker with a newer configuration may
// have it), never sent as the launch.
func TestFollowUpCouponAndUnknownFollowUp(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	announce := *b.cfg.Campaigns["announce"]
	announce.Gift = &campaigns.Gift{Coupon: &campaigns.Coupon{Prefix: "SPRING", Amount: 30, Currency: "CNY", ValidDays: 14}}
	b.cfg.Campaigns["announce"] = &announce
	cu := customer.Customer{ID: 7, Name: "Li"}
	now := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC) // one instant: two reads of the wall clock could straddle midnight
	launch := b.pipeline.TemplateData(&announce, "once", cu, "email", now)
	reminder := b.pipeline.TemplateData(announce.ForRun("follow-up-1"), "follow-up-1", cu, "email", now.Add(7*24*time.Hour))
	if launch.Coupon.Code != reminder.Coupon.Code {
		t.Errorf("launch coupon %s, follow-up coupon %s: want the same", launch.Coupon.Code, reminder.Coupon.Code)
	}
	isFailure := delivery.ServerConfig(1, slog.New(slog.NewTextHandler(io.Discard, nil))).IsFailure
	for _, run := range []string{"follow-up-2", "follow-up-01"} {
		payload, _ := json.Marshal(delivery.RunPayload{Campaign: "announce", Occurrence: run})
		err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, payload))
		if err == nil || errors.Is(err, asynq.SkipRetry) || isFailure(err) || !strings.Contains(err.Error(), "has no "+run) {
			t.Errorf("run %s: %v, want it handed back", run, err)
		}
		if _, err := b.db.GetRun(ctx, "announce", run); err == nil {
			t.Errorf("run %s was started", run)
		}
	}
}
