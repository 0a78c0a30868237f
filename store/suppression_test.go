package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// The reasons the writers of the list use (web/unsubscribe.go,
// web/twilio.go, delivery/pipeline.go) and what they mean.
func TestCauseOf(t *testing.T) {
	for _, tc := range []struct {
		reason string
		want   store.Cause
	}{
		{"unsubscribed by link", store.CauseOptOut},
		{"unsubscribed by one-click (List-Unsubscribe-Post)", store.CauseOptOut},
		{"unsubscribed at the provider", store.CauseOptOut},
		{"replied STOP", store.CauseOptOut},
		{"replied 退订", store.CauseOptOut},
		{store.ReasonErasureRequest, store.CauseOptOut},
		{"no such user: no_such_user (permanent): smtp RCPT TO:<x@example.com>: 550 5.1.1 no such user", store.CauseBounce},
		{"bounced", store.CauseOther},
		{"550 no such user", store.CauseOther},
		{"", store.CauseOther},
	} {
		if got := store.CauseOf(tc.reason); got != tc.want {
			t.Errorf("CauseOf(%q) = %v, want %v", tc.reason, got, tc.want)
		}
	}
}

func TestSuppressionListAndLift(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		entries := []store.Suppression{
			{Channel: "email", Address: "Wang.Fang@example.com", Reason: "no such user: no_such_user (permanent): smtp RCPT TO:<Wang.Fang@example.com>: 550 5.1.1"},
			{Channel: "sms", Address: "+8613800000001", Reason: "replied STOP"},
			{Channel: "email", Address: "li@example.com", Reason: "unsubscribed by link"},
			{Channel: "sms", Address: "+8613800000002", Reason: "added by hand"},
		}
		for i, e := range entries {
			at := start.Add(time.Duration(i) * time.Hour)
			entries[i].Since = at
			db.SetClock(func() time.Time { return at })
			if err := db.Suppress(ctx, e.Channel, e.Address, e.Reason); err != nil {
				t.Fatal(err)
			}
		}
		db.SetClock(nil)

		all, err := db.Suppressions(ctx, "", 0)
		if want := []store.Suppression{entries[3], entries[2], entries[1], entries[0]}; err != nil || !reflect.DeepEqual(all, want) {
			t.Errorf("the whole list, newest first:\n got %+v\nwant %+v (%v)", all, want, err)
		}
		sms, _ := db.Suppressions(ctx, "sms", 1)
		if len(sms) != 1 || sms[0] != entries[3] {
			t.Errorf("the newest SMS entry: %+v", sms)
		}
		if n, err := db.CountSuppressions(ctx, "email"); n != 2 || err != nil {
			t.Errorf("%d email entries, %v", n, err)
		}
		if similar, _ := db.SimilarSuppressions(ctx, "email", "wang.fang@example.com"); !reflect.DeepEqual(similar, []string{"Wang.Fang@example.com"}) {
			t.Errorf("similar: %v", similar)
		}

		// A bounce is lifted: the address is sendable again.
		got, err := db.LiftSuppression(ctx, "email", "Wang.Fang@example.com", false)
		if err != nil || got != entries[0] {
			t.Errorf("lift the bounce: %+v %v", got, err)
		}
		if s, _ := db.SuppressedAmong(ctx, "email", []string{"Wang.Fang@example.com", "li@example.com"}); len(s) != 1 || s["li@example.com"] == "" {
			t.Errorf("suppressed after the lift: %v", s)
		}
		if _, err := db.LiftSuppression(ctx, "email", "Wang.Fang@example.com", false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("lift again: %v", err)
		}
		if _, err := db.LiftSuppression(ctx, "sms", "li@example.com", true); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another channel's address: %v", err)
		}

		// An opt-out, or a reason Tidings does not know, needs force.
		for _, e := range entries[1:] {
			_, err := db.LiftSuppression(ctx, e.Channel, e.Address, false)
			var optOut *store.OptOutError
			if !errors.As(err, &optOut) || optOut.Suppression != e {
				t.Errorf("lift %s %s without force: %v", e.Channel, e.Address, err)
			}
			if ok, _, _ := db.Suppressed(ctx, e.Channel, e.Address); !ok {
				t.Errorf("%s %s was lifted without force", e.Channel, e.Address)
			}
		}
		if got, err := db.LiftSuppression(ctx, "sms", "+8613800000001", true); err != nil || got != entries[1] {
			t.Errorf("lift an opt-out with force: %+v %v", got, err)
		}
		if ok, _, _ := db.Suppressed(ctx, "sms", "+8613800000001"); ok {
			t.Error("still suppressed after a forced lift")
		}
	})
}

// A bounce that comes back after an opt-out (a send in flight when the
// person clicked unsubscribe) does not turn the opt-out into a bounce: the
// entry survives an erasure and is not lifted without --force. An opt-out
// after a bounce does replace it.
func TestBounceDoesNotReplaceOptOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := addPeople(t, db, customer.Customer{ExternalID: "E1", Name: "W", Email: "w@example.com"})
		if _, err := db.Unsubscribe(ctx, cs[0].ID, "email", "unsubscribed by link"); err != nil {
			t.Fatal(err)
		}
		if err := db.Suppress(ctx, "email", "w@example.com", "no such user: 550 5.1.1"); err != nil {
			t.Fatal(err)
		}
		if _, reason, _ := db.Suppressed(ctx, "email", "w@example.com"); reason != "unsubscribed by link" {
			t.Errorf("after a late bounce the entry says %q, want the opt-out", reason)
		}
		if _, err := db.EraseCustomer(ctx, "E1", store.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		if ok, _, _ := db.Suppressed(ctx, "email", "w@example.com"); !ok {
			t.Errorf("the opt-out of w@example.com is gone after erasure")
		}

		if err := db.Suppress(ctx, "email", "x@example.com", "no such user: 550 5.1.1"); err != nil {
			t.Fatal(err)
		}
		if err := db.Suppress(ctx, "email", "x@example.com", "unsubscribed at the provider"); err != nil {
			t.Fatal(err)
		}
		if _, reason, _ := db.Suppressed(ctx, "email", "x@example.com"); reason != "unsubscribed at the provider" {
			t.Errorf("an opt-out after a bounce: %q, want the opt-out", reason)
		}
	})
}
