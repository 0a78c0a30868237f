package delivery_test

import (
	"context"
	"encoding/json"
	"mime"
	"net/mail"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
)

// sendGreeting adds the customers, runs the greeting campaign's batch for
// them and returns each one's ledger row, by external id.
func sendGreeting(t *testing.T, b *bundle, cs []customer.Customer, after func(ids map[string]int64)) map[string]store.Delivery {
	t.Helper()
	ctx := context.Background()
	for i := range cs {
		cs[i].Tier = customer.TierGeneral
		cs[i].EmailConsent = customer.Consent{Granted: cs[i].Email != "", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		cs[i].SMSConsent = customer.Consent{Granted: cs[i].Phone != "", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	if err := b.db.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	loaded, err := b.db.CustomersByID(ctx, allIDs(t, b.db))
	if err != nil {
		t.Fatal(err)
	}
	var list []int64
	for _, c := range loaded {
		ids[c.ExternalID] = c.ID
		list = append(list, c.ID)
	}
	if after != nil {
		after(ids)
	}
	payload, _ := json.Marshal(map[string]any{"campaign": "greeting", "occurrence": "2027-02-06", "customer_ids": list})
	if err := b.pipeline.HandleBatch(ctx, asynq.NewTask(delivery.TypeBatch, payload)); err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Delivery{}
	for _, c := range cs {
		ch := "sms"
		if c.Phone == "" {
			ch = "email"
		}
		d, err := b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "greeting", Occurrence: "2027-02-06", CustomerID: ids[c.ExternalID], Channel: ch})
		if err != nil {
			t.Fatalf("%s: %v", c.ExternalID, err)
		}
		out[c.ExternalID] = d
	}
	return out
}

// A name with a line break, written to the database past the import's
// checks, is sent to on one line rather than failing its recipient.
func TestNameWithLineBreakSentOnOneLine(t *testing.T) {
	b := setup(t, store.SQLite)
	got := sendGreeting(t, b, []customer.Customer{{ExternalID: "C-1", Name: "Li Wei", Email: "liwei@example.com", Locale: "en"}},
		func(ids map[string]int64) {
			if _, err := b.db.SQL().Exec("UPDATE customers SET name = ? WHERE id = ?", "Li\r\nWei", ids["C-1"]); err != nil {
				t.Fatal(err)
			}
		})
	d := got["C-1"]
	if d.Status != store.StatusSent {
		t.Fatalf("delivery %s (%s), want sent", d.Status, d.Reason)
	}
	f, err := os.Open(d.ProviderID) // the outbox's file
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	if err != nil || to.Name != "Li Wei" {
		t.Errorf("To %q (%v), want Li Wei", msg.Header.Get("To"), err)
	}
	var dec mime.WordDecoder
	if subject, err := dec.DecodeHeader(msg.Header.Get("Subject")); err != nil || subject != "Happy new year, Li Wei" {
		t.Errorf("Subject %q (%v), want %q", subject, err, "Happy new year, Li Wei")
	}
}
