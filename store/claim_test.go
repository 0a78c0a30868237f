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

// A claim's life through retries: claimed, deferred by a temporary error,
// claimed again (attempts counted, for the address it goes to now),
// released by a halt (waiting again, its attempts as they were), and a
// first claim released is gone, for a later attempt to claim afresh.
func TestClaimRetryAndRelease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := addPeople(t, db, customer.Customer{ExternalID: "r1", Phone: "+8613800000001"},
			customer.Customer{ExternalID: "r2", Phone: "+8613800000002"})
		key := func(i int) store.DeliveryKey {
			return store.DeliveryKey{Campaign: "c", Occurrence: "o", CustomerID: cs[i].ID, Channel: "sms"}
		}
		claim := func(set store.ClaimSet) store.ClaimResult {
			t.Helper()
			set.Campaign, set.Occurrence, set.Run = "c", "o", "o"
			res, err := db.Claim(ctx, set)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		settle := func(outs ...store.Outcome) {
			t.Helper()
			if n, err := db.Settle(ctx, outs); err != nil || n != int64(len(outs)) {
				t.Fatalf("settle: %d of %d, %v", n, len(outs), err)
			}
		}
		rows := func(i int) store.Delivery {
			t.Helper()
			d, err := db.GetDelivery(ctx, key(i))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			return d
		}

		res := claim(store.ClaimSet{New: []store.NewRow{
			{CustomerID: cs[0].ID, Channel: "sms", Status: store.StatusSending, Address: cs[0].Phone},
			{CustomerID: cs[1].ID, Channel: "sms", Status: store.StatusSending, Address: cs[1].Phone}}})
		if len(res.Claimed) != 2 || res.Taken != 0 {
			t.Fatalf("first claim: %+v", res)
		}
		settle(store.Outcome{DeliveryKey: key(0), Status: store.StatusDeferred, Reason: "retrying: provider_unavailable", NotBefore: time.Now()},
			store.Outcome{DeliveryKey: key(1)}) // released
		if d := rows(1); d.Status != "" {
			t.Fatalf("a released first claim is %s, want gone", d.Status)
		}

		// Claimed again: a new address since, one more attempt; the same
		// claim again finds it taken.
		retry := []store.NewRow{{CustomerID: cs[0].ID, Channel: "sms", Address: "+8613800000009"}}
		if res := claim(store.ClaimSet{Retry: retry}); len(res.Claimed) != 1 || res.Claimed[0].Attempts != 2 {
			t.Fatalf("retry: %+v", res)
		}
		if d := rows(0); d.Status != store.StatusSending || d.Attempts != 2 || d.Address != "+8613800000009" {
			t.Fatalf("retried row: %+v", d)
		}
		if res := claim(store.ClaimSet{Retry: retry}); len(res.Claimed) != 0 || res.Taken != 1 {
			t.Fatalf("a retry claimed twice: %+v", res)
		}
		// Released by a halt: waiting again, one attempt as before.
		settle(store.Outcome{DeliveryKey: key(0)})
		if d := rows(0); d.Status != store.StatusDeferred || d.Attempts != 1 {
			t.Fatalf("released retry: %+v", d)
		}

		// Erased while it waits: the retry skips it, with no address.
		if _, err := db.EraseCustomer(ctx, "r1", store.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		if res := claim(store.ClaimSet{Retry: retry}); len(res.Claimed) != 0 || res.Taken != 0 {
			t.Fatalf("an erased customer's retry was claimed: %+v", res)
		}
		if d := rows(0); d.Status != store.StatusSkipped || d.Reason != store.ReasonCustomerDeleted || d.Address != "" {
			t.Errorf("erased customer's row: %+v", d)
		}
	})
}
