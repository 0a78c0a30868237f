package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// addPeople stores customers with consent on both channels (granted a year
// ago) and returns them as loaded back, in the order given.
func addPeople(t *testing.T, db *store.DB, cs ...customer.Customer) []customer.Customer {
	t.Helper()
	ctx := context.Background()
	yes := customer.Consent{Granted: true, At: time.Now().AddDate(-1, 0, 0).UTC().Truncate(time.Second)}
	for i := range cs {
		cs[i].EmailConsent, cs[i].SMSConsent = yes, yes
	}
	if err := db.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	out := make([]customer.Customer, len(cs))
	for i, c := range cs {
		got, err := db.CustomerByExternalID(ctx, c.ExternalID)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = got
	}
	return out
}

func reload(t *testing.T, db *store.DB, c customer.Customer) customer.Customer {
	t.Helper()
	got, err := db.CustomerByID(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestUnsubscribe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := addPeople(t, db,
			customer.Customer{ExternalID: "U1", Email: "u1@example.com", Phone: "+8613800000001"},
			customer.Customer{ExternalID: "U2", Phone: "+8613800000002"})
		before := time.Now().Add(-time.Second)

		addr, err := db.Unsubscribe(ctx, cs[0].ID, "email", "unsubscribed by link")
		if err != nil || addr != "u1@example.com" {
			t.Fatalf("unsubscribe: %q %v", addr, err)
		}
		got := reload(t, db, cs[0])
		if got.EmailConsent.Granted || got.EmailConsent.At.Before(before) {
			t.Errorf("email consent %+v, want withdrawn just now", got.EmailConsent)
		}
		if got.SMSConsent != cs[0].SMSConsent {
			t.Errorf("sms consent changed: %+v, was %+v", got.SMSConsent, cs[0].SMSConsent)
		}
		if ok, why, _ := db.Suppressed(ctx, "email", "u1@example.com"); !ok || why != "unsubscribed by link" {
			t.Errorf("suppressed %v %q", ok, why)
		}
		if ok, _, _ := db.Suppressed(ctx, "sms", "+8613800000001"); ok {
			t.Error("the phone was suppressed too")
		}

		// Again: the first withdrawal's time is kept.
		if _, err := db.Unsubscribe(ctx, cs[0].ID, "email", "unsubscribed by link"); err != nil {
			t.Fatal(err)
		}
		if again := reload(t, db, cs[0]); !again.EmailConsent.At.Equal(got.EmailConsent.At) {
			t.Errorf("consent time moved from %v to %v", got.EmailConsent.At, again.EmailConsent.At)
		}

		// No email on file: consent goes, nothing is suppressed.
		if addr, err := db.Unsubscribe(ctx, cs[1].ID, "email", "x"); err != nil || addr != "" {
			t.Errorf("no address: %q %v", addr, err)
		}
		if _, err := db.Unsubscribe(ctx, 999999, "email", "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown customer: %v, want ErrNotFound", err)
		}
		if _, err := db.Unsubscribe(ctx, cs[0].ID, "fax", "x"); err == nil || err.Error() != `unsubscribe: unknown channel "fax"` {
			t.Errorf("unknown channel: %v", err)
		}
	})
}

func TestOptOutAndInByPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const phone = "+8613800000009"
		cs := addPeople(t, db,
			customer.Customer{ExternalID: "P1", Phone: phone, Email: "p1@example.com"},
			customer.Customer{ExternalID: "P2", Phone: phone}, // one family phone
			customer.Customer{ExternalID: "P3", Phone: "+8613800000010"})

		n, err := db.OptOutPhone(ctx, phone, "replied STOP")
		if err != nil || n != 2 {
			t.Fatalf("opt-out: %d %v, want 2 customers", n, err)
		}
		for _, c := range cs[:2] {
			got := reload(t, db, c)
			if got.SMSConsent.Granted || !got.EmailConsent.Granted {
				t.Errorf("%s: sms %v email %v, want sms withdrawn only", c.ExternalID, got.SMSConsent.Granted, got.EmailConsent.Granted)
			}
		}
		if !reload(t, db, cs[2]).SMSConsent.Granted {
			t.Error("another number lost its consent")
		}
		if ok, why, _ := db.Suppressed(ctx, "sms", phone); !ok || why != "replied STOP" {
			t.Errorf("suppressed %v %q", ok, why)
		}
		// A number no customer has is suppressed all the same.
		if n, err := db.OptOutPhone(ctx, "+15005550006", "replied STOP"); err != nil || n != 0 {
			t.Errorf("unknown number: %d %v", n, err)
		}
		if ok, _, _ := db.Suppressed(ctx, "sms", "+15005550006"); !ok {
			t.Error("unknown number not suppressed")
		}

		n, err = db.OptInPhone(ctx, phone)
		if err != nil || n != 2 {
			t.Fatalf("opt-in: %d %v, want 2 customers", n, err)
		}
		if ok, _, _ := db.Suppressed(ctx, "sms", phone); ok {
			t.Error("still suppressed after START")
		}
		for _, c := range cs[:2] {
			if !reload(t, db, c).SMSConsent.Granted {
				t.Errorf("%s: no sms consent after START", c.ExternalID)
			}
		}

		// START gives back what STOP took, nothing more: a customer on the
		// number who never consented to SMS does not gain consent.
		never := customer.Customer{ExternalID: "P4", Phone: phone, SMSConsent: customer.Consent{Granted: false}}
		if err := db.UpsertCustomers(ctx, []customer.Customer{never}); err != nil {
			t.Fatal(err)
		}
		db.OptOutPhone(ctx, phone, "replied STOP")
		if n, err := db.OptInPhone(ctx, phone); err != nil || n != 2 {
			t.Errorf("second opt-in: %d %v, want the 2 who had consent", n, err)
		}
		if got, _ := db.CustomerByExternalID(ctx, "P4"); got.SMSConsent.Granted {
			t.Error("START granted SMS consent to a customer who never gave it")
		}
		// START from a number that never sent STOP changes nothing.
		if n, err := db.OptInPhone(ctx, "+8613800000010"); err != nil || n != 0 {
			t.Errorf("opt-in without opt-out: %d %v", n, err)
		}
	})
}
