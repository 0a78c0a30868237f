package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// ledger writes n ledger rows of campaign "c" run "r" for n new customers:
// every third skipped, the others sent with provider id SM<i>.
func ledger(t *testing.T, db *store.DB, n int) []customer.Customer {
	t.Helper()
	ctx := context.Background()
	var cs []customer.Customer
	for i := range n {
		cs = append(cs, customer.Customer{ExternalID: fmt.Sprintf("L%04d", i), Name: fmt.Sprintf("Name %d", i), Phone: fmt.Sprintf("+861380000%04d", i)})
	}
	cs = addPeople(t, db, cs...)
	for i, c := range cs {
		k := store.DeliveryKey{Campaign: "c", Occurrence: "r", CustomerID: c.ID, Channel: "sms"}
		if i%3 == 0 {
			skip := store.NewRow{CustomerID: c.ID, Channel: "sms", Status: store.StatusSkipped, Reason: "no_consent", Address: c.Phone}
			if _, err := db.Claim(ctx, store.ClaimSet{Campaign: "c", Occurrence: "r", Run: "r", New: []store.NewRow{skip}}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := db.ClaimDelivery(ctx, k, "r", c.Phone, ""); err != nil {
			t.Fatal(err)
		}
		if err := db.SettleDelivery(ctx, k, store.StatusSent, "", fmt.Sprintf("SM%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}

func TestRunRecipientsPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := ledger(t, db, 250)
		var all []store.Recipient
		pages := 0
		for after := int64(0); ; pages++ {
			page, err := db.RunRecipients(ctx, "c", "r", store.RecipientQuery{After: after, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = page[len(page)-1].ID
		}
		if len(all) != 250 || pages != 3 {
			t.Fatalf("%d rows in %d pages, want 250 in 3", len(all), pages)
		}
		for i, r := range all {
			c := cs[i]
			if r.CustomerID != c.ID || r.ExternalID != c.ExternalID || r.Name != c.Name || r.Address != c.Phone || r.At.IsZero() {
				t.Fatalf("row %d: %+v, customer %+v", i, r, c)
			}
			if (i%3 == 0) != (r.Status == store.StatusSkipped && r.Reason == "no_consent") {
				t.Fatalf("row %d: %s %q", i, r.Status, r.Reason)
			}
		}
		skipped, err := db.RunRecipients(ctx, "c", "r", store.RecipientQuery{Status: store.StatusSkipped, Limit: 1000})
		if err != nil || len(skipped) != 84 {
			t.Fatalf("skipped: %d rows, %v; want 84", len(skipped), err)
		}
		if other, _ := db.RunRecipients(ctx, "c", "other", store.RecipientQuery{}); len(other) != 0 {
			t.Errorf("another run has %d rows", len(other))
		}
	})
}

func TestRecordCarrierStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := ledger(t, db, 3) // rows 1 and 2 sent as SM1, SM2
		key := func(i int) *store.DeliveryKey {
			return &store.DeliveryKey{Campaign: "c", Occurrence: "r", CustomerID: cs[i].ID, Channel: "sms"}
		}
		ok, err := db.RecordCarrierStatus(ctx, store.CarrierReport{Channel: "sms", ProviderID: "SM2", Status: "undelivered", ErrorCode: "30003", Key: key(2)})
		if err != nil || !ok {
			t.Fatalf("record: %v %v", ok, err)
		}
		rows, _ := db.RunRecipients(ctx, "c", "r", store.RecipientQuery{})
		r := rows[2]
		if r.Status != store.StatusSent || r.CarrierStatus != "undelivered" || r.CarrierError != "30003" || r.CarrierAt.IsZero() {
			t.Errorf("row: %+v", r)
		}
		if rows[1].CarrierStatus != "" {
			t.Errorf("another row changed: %+v", rows[1])
		}
		if ok, err := db.RecordCarrierStatus(ctx, store.CarrierReport{Channel: "sms", ProviderID: "SMnope", Status: "delivered", Key: key(1)}); ok || err != nil {
			t.Errorf("another message's id: %v %v", ok, err)
		}
		if ok, err := db.RecordCarrierStatus(ctx, store.CarrierReport{Channel: "sms", ProviderID: "SM1", Status: "delivered"}); ok || err != nil {
			t.Errorf("no delivery id: %v %v", ok, err)
		}
		if ok, _ := db.RecordCarrierStatus(ctx, store.CarrierReport{Channel: "email", ProviderID: "SM1", Status: "delivered", Key: key(1)}); ok {
			t.Error("matched a row of another channel")
		}

		// A callback that outruns the settle finds the row by its key.
		extra := addPeople(t, db, customer.Customer{ExternalID: "late", Phone: "+8613899999999"})[0]
		k := store.DeliveryKey{Campaign: "c", Occurrence: "r", CustomerID: extra.ID, Channel: "sms"}
		if _, err := db.ClaimDelivery(ctx, k, "r", extra.Phone, ""); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.RecordCarrierStatus(ctx, store.CarrierReport{Channel: "sms", ProviderID: "SMlate", Status: "delivered", Key: &k}); !ok || err != nil {
			t.Fatalf("by key: %v %v", ok, err)
		}
		if err := db.SettleDelivery(ctx, k, store.StatusSent, "", "SMlate"); err != nil {
			t.Fatalf("settle after the callback: %v", err)
		}
		rows, _ = db.RunRecipients(ctx, "c", "r", store.RecipientQuery{After: rows[2].ID})
		if len(rows) != 1 || rows[0].Status != store.StatusSent || rows[0].CarrierStatus != "delivered" || rows[0].ProviderID != "SMlate" {
			t.Errorf("late row: %+v", rows)
		}

		counts, err := db.RunCarrierCounts(ctx, "c", "r")
		if err != nil || len(counts) != 2 {
			t.Fatalf("carrier counts: %+v %v", counts, err)
		}
	})
}

func TestLedgerCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := ledger(t, db, 9)
		db.RecordCarrierStatus(ctx, store.CarrierReport{Channel: "sms", ProviderID: "SM1", Status: "delivered",
			Key: &store.DeliveryKey{Campaign: "c", Occurrence: "r", CustomerID: cs[1].ID, Channel: "sms"}})
		counts, err := db.LedgerCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range counts {
			got[fmt.Sprintf("%s/%s/%s/%s", c.Campaign, c.Channel, c.Status, c.CarrierStatus)] = c.N
		}
		want := map[string]int64{"c/sms/skipped/": 3, "c/sms/sent/": 5, "c/sms/sent/delivered": 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("counts %v, want %v", got, want)
		}
		if err := db.Ping(ctx); err != nil {
			t.Error(err)
		}
	})
}
