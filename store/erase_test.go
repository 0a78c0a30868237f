package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

func TestEraseCustomer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const (
			email    = "Wang.Fang@example.com"
			oldEmail = "fang.w@example.com" // the email an earlier import had
			phone    = "+8613800000001"
			name     = "王芳 Wang Fang"
		)
		cs := addPeople(t, db,
			customer.Customer{ExternalID: "E1", Name: name, Email: email, Phone: phone, Tags: []string{"vip"},
				Attributes: map[string]any{"city": "Hangzhou"}},
			customer.Customer{ExternalID: "K1", Name: "Li Lei", Email: "li.lei@example.com"})
		wang, li := cs[0], cs[1]

		// Wang got the SMS of notice/once and a coupon; an older greeting
		// to the old email was skipped because that mailbox bounced; Li
		// got the email.
		sent := func(c customer.Customer, ch, addr, provider string) store.DeliveryKey {
			k := store.DeliveryKey{Campaign: "notice", Occurrence: "once", CustomerID: c.ID, Channel: ch}
			if ok, err := db.ClaimDelivery(ctx, k, "once", addr, "GIFT-AAAA-BBBB-CCCC"); !ok || err != nil {
				t.Fatalf("claim %v: %v %v", k, ok, err)
			}
			if err := db.SettleDelivery(ctx, k, store.StatusSent, "", provider); err != nil {
				t.Fatal(err)
			}
			return k
		}
		if _, err := db.BeginRun(ctx, "notice", "once", "tidings:normal"); err != nil {
			t.Fatal(err)
		}
		wangKey := sent(wang, "sms", phone, "SMwang")
		liKey := sent(li, "email", li.Email, "<li@tidings>")
		bounce := "no such user: no_such_user (permanent): smtp RCPT TO:<" + oldEmail + ">: 550 5.1.1 no such user"
		if err := db.Suppress(ctx, "email", oldEmail, bounce); err != nil {
			t.Fatal(err)
		}
		oldKey := store.DeliveryKey{Campaign: "greeting", Occurrence: "2026-02-17", CustomerID: wang.ID, Channel: "email"}
		skip := store.NewRow{CustomerID: wang.ID, Channel: "email", Status: store.StatusSkipped, Reason: "suppressed: " + bounce, Address: oldEmail}
		if _, err := db.Claim(ctx, store.ClaimSet{Campaign: oldKey.Campaign, Occurrence: oldKey.Occurrence, Run: oldKey.Occurrence, New: []store.NewRow{skip}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RecordCarrierStatus(ctx, store.CarrierReport{Channel: "sms", ProviderID: "SMwang", Status: "delivered", Key: &wangKey}); err != nil {
			t.Fatal(err)
		}
		// Wang replied STOP; a run was paused on an error naming the email.
		if _, err := db.OptOutPhone(ctx, phone, "replied STOP"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.StartRun(ctx, "digest", "2026-12"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PauseRun(ctx, "digest", "2026-12", "circuit breaker: 5 provider failures in a row, the last: smtp RCPT TO:<"+email+">: 451 4.7.1 try later"); err != nil {
			t.Fatal(err)
		}
		before, err := db.RunSummaryOf(ctx, "notice", "once")
		if err != nil {
			t.Fatal(err)
		}

		e, err := db.EraseCustomer(ctx, "E1", store.EraseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if e.CustomerID != wang.ID || e.Deliveries != 2 || len(e.Kept) != 1 || e.Kept[0].Reason != "replied STOP" ||
			len(e.Removed) != 1 || e.Removed[0].Address != oldEmail || len(e.Added) != 0 {
			t.Errorf("erasure = %+v", e)
		}

		// The customer is gone, and nothing but the suppression list names them.
		if _, err := db.CustomerByExternalID(ctx, "E1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("customer still there: %v", err)
		}
		for _, table := range []string{"customers", "customer_tags", "deliveries", "runs", "run_batches"} {
			if cells := storetest.CellsContaining(t, db, []string{table}, email, oldEmail, phone, name, "Hangzhou"); len(cells) > 0 {
				t.Errorf("personal data left after erasure:\n%s", strings.Join(cells, "\n"))
			}
		}
		var tags int
		db.SQL().QueryRow("SELECT COUNT(*) FROM customer_tags").Scan(&tags)
		if tags != 0 {
			t.Errorf("%d tags left", tags)
		}

		// The ledger rows stay, counted as before, with the address replaced.
		after, err := db.RunSummaryOf(ctx, "notice", "once")
		if err != nil || !reflect.DeepEqual(after.Counts, before.Counts) {
			t.Errorf("run counts %+v, were %+v (%v)", after.Counts, before.Counts, err)
		}
		d, err := db.GetDelivery(ctx, wangKey)
		if err != nil || d.Status != store.StatusSent || d.Address != store.Erased || d.ProviderID != "SMwang" || d.Coupon != "GIFT-AAAA-BBBB-CCCC" {
			t.Errorf("Wang's row = %+v, %v", d, err)
		}
		d, _ = db.GetDelivery(ctx, oldKey)
		if want := "suppressed: no such user: no_such_user (permanent): smtp RCPT TO:<erased>: 550 5.1.1 no such user"; d.Reason != want || d.Address != store.Erased {
			t.Errorf("the old row: reason %q, address %q", d.Reason, d.Address)
		}
		if d, _ := db.GetDelivery(ctx, liKey); d.Address != li.Email {
			t.Errorf("another customer's row was scrubbed: %+v", d)
		}
		// So is the occurrence's claim: a batch that loaded Wang before the
		// erasure cannot send to them now, nor write their address.
		if ok, err := db.ClaimDelivery(ctx, wangKey, "once", phone, ""); ok || err != nil {
			t.Errorf("the settled row was claimed again: %v %v", ok, err)
		}
		late := store.DeliveryKey{Campaign: "notice", Occurrence: "once", CustomerID: wang.ID, Channel: "email"}
		if ok, err := db.ClaimDelivery(ctx, late, "once", email, ""); ok || err != nil {
			t.Errorf("an erased customer was claimed: %v %v", ok, err)
		}
		if d, _ := db.GetDelivery(ctx, late); d.Status != store.StatusSkipped || d.Reason != store.ReasonCustomerDeleted || d.Address != "" {
			t.Errorf("the late claim wrote %+v", d)
		}
		lateSkip := store.DeliveryKey{Campaign: "notice", Occurrence: "twice", CustomerID: wang.ID, Channel: "sms"}
		lateRow := store.NewRow{CustomerID: wang.ID, Channel: "sms", Status: store.StatusSkipped, Reason: "suppressed: replied STOP", Address: phone}
		if _, err := db.Claim(ctx, store.ClaimSet{Campaign: "notice", Occurrence: "twice", Run: "twice", New: []store.NewRow{lateRow}}); err != nil {
			t.Fatal(err)
		}
		if d, _ := db.GetDelivery(ctx, lateSkip); d.Reason != store.ReasonCustomerDeleted || d.Address != "" {
			t.Errorf("the late skip wrote %+v", d)
		}

		// The opt-out stays; the bounce, which was about the mailbox, goes.
		if ok, why, _ := db.Suppressed(ctx, "sms", phone); !ok || why != "replied STOP" {
			t.Errorf("the STOP was lost: %v %q", ok, why)
		}
		if ok, _, _ := db.Suppressed(ctx, "email", oldEmail); ok {
			t.Error("the bounce of the old email is still listed")
		}
		if _, err := db.EraseCustomer(ctx, "E1", store.EraseOptions{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("erasing again: %v", err)
		}

		// Imported again, Wang is a new customer: the ledger no longer
		// knows them (a run that has paged its audience adds nobody, so the
		// occurrence they had does not reach them again; a new one can),
		// but their number stays suppressed for every campaign.
		again := addPeople(t, db, customer.Customer{ExternalID: "E1", Name: name, Email: email, Phone: phone})[0]
		if again.ID == wang.ID {
			t.Errorf("the re-imported customer got the erased id %d", wang.ID)
		}
		if had, _ := db.LedgerRows(ctx, "notice", "once", []int64{again.ID}); len(had) != 0 {
			t.Errorf("the re-imported customer inherited ledger rows: %v", had)
		}
		if s, _ := db.SuppressedAmong(ctx, "sms", []string{again.Phone}); s[phone] != "replied STOP" {
			t.Errorf("re-imported number not suppressed: %v", s)
		}
	})
}

func TestEraseAndSuppress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := addPeople(t, db, customer.Customer{ExternalID: "E2", Email: "li@example.com", Phone: "+8613800000002"})[0]
		if err := db.Suppress(ctx, "sms", c.Phone, "unsubscribed at the provider"); err != nil {
			t.Fatal(err)
		}
		e, err := db.EraseCustomer(ctx, "E2", store.EraseOptions{Suppress: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Kept) != 1 || e.Kept[0].Channel != "sms" || len(e.Added) != 1 || e.Added[0].Channel != "email" {
			t.Errorf("erasure = %+v", e)
		}
		// The provider's opt-out keeps its reason; the email is added.
		if ok, why, _ := db.Suppressed(ctx, "sms", c.Phone); !ok || why != "unsubscribed at the provider" {
			t.Errorf("sms: %v %q", ok, why)
		}
		ok, why, _ := db.Suppressed(ctx, "email", "li@example.com")
		if !ok || why != store.ReasonErasureRequest || store.CauseOf(why) != store.CauseOptOut {
			t.Errorf("email: %v %q", ok, why)
		}
	})
}

// SQLite numbers a new row one above the largest id: after the newest
// customer is erased, the next new one must not get their id and, with it,
// their history.
func TestErasedIDsAreNotGivenAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := addPeople(t, db, customer.Customer{ExternalID: "A"}, customer.Customer{ExternalID: "B", Phone: "+8613800000003"})
		k := store.DeliveryKey{Campaign: "notice", Occurrence: "once", CustomerID: cs[1].ID, Channel: "sms"}
		if ok, err := db.ClaimDelivery(ctx, k, "once", cs[1].Phone, ""); !ok || err != nil {
			t.Fatal(ok, err)
		}
		db.SettleDelivery(ctx, k, store.StatusSent, "", "SM1")
		if _, err := db.EraseCustomer(ctx, "B", store.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		// A, updated in the same import, keeps its id.
		got := addPeople(t, db, customer.Customer{ExternalID: "A", Name: "updated"}, customer.Customer{ExternalID: "C"}, customer.Customer{ExternalID: "D"})
		if got[0].ID != cs[0].ID || got[0].Name != "updated" {
			t.Errorf("A became %+v, was id %d", got[0], cs[0].ID)
		}
		for _, c := range got[1:] {
			if c.ID <= cs[1].ID {
				t.Errorf("%s got id %d, not above the erased %d", c.ExternalID, c.ID, cs[1].ID)
			}
		}
		ids := []int64{got[1].ID, got[2].ID}
		if had, _ := db.LedgerRows(ctx, "notice", "once", ids); len(had) != 0 {
			t.Errorf("new customers inherited ledger rows: %v", had)
		}
		// Once a new customer is above the floor, SQLite numbers them again.
		more := addPeople(t, db, customer.Customer{ExternalID: "E"})
		if more[0].ID != got[2].ID+1 {
			t.Errorf("E got %d after D's %d", more[0].ID, got[2].ID)
		}
	})
}

// An erased customer's id is not given again even when the ledger never
// saw it (they were in a batch still waiting for their send window, which
// would otherwise message whoever got the id next).
func TestErasedIDWithoutLedgerRowsIsNotGivenAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := addPeople(t, db, customer.Customer{ExternalID: "A"}, customer.Customer{ExternalID: "B"})
		if _, err := db.EraseCustomer(ctx, "B", store.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		got := addPeople(t, db, customer.Customer{ExternalID: "C"})
		if got[0].ID <= cs[1].ID {
			t.Errorf("C got id %d, not above the erased B's %d", got[0].ID, cs[1].ID)
		}
		// Erasing the newest again moves the floor up.
		if _, err := db.EraseCustomer(ctx, "C", store.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		if d := addPeople(t, db, customer.Customer{ExternalID: "D"}); d[0].ID <= got[0].ID {
			t.Errorf("D got id %d, not above the erased C's %d", d[0].ID, got[0].ID)
		}
	})
}
