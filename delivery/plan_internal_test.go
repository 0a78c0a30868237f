package delivery

import (
	"reflect"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
)

// plan, table-driven: one recipient per case, on a product launch that
// sends on SMS, else email.
func TestPlan(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2027, 3, 1, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	const timeout = 10 * time.Minute
	both := customer.Customer{ID: 1, Phone: "+8613800000001", Email: "a@example.com", TimeZone: "Asia/Shanghai",
		SMSConsent: customer.Consent{Granted: true}, EmailConsent: customer.Consent{Granted: true}}
	with := func(f func(*customer.Customer)) customer.Customer { c := both; f(&c); return c }
	emailOnly := with(func(c *customer.Customer) { c.SMSConsent.Granted = false })
	row := func(run string, st store.Status) map[string]store.LedgerRow {
		return map[string]store.LedgerRow{"sms": {Run: run, Status: st, Attempts: 1, ClaimedAt: now.Add(-time.Minute)}}
	}
	window := &campaigns.Window{Start: 9 * 60, End: 21 * 60}
	lateWindow := &campaigns.Window{Start: 20 * 60, End: 21 * 60}

	type plan_ = batchPlan // the expected plan, with Sends' Customer left out
	for _, tc := range []struct {
		name       string
		delivery   string
		window     *campaigns.Window
		cust       *customer.Customer // nil: deleted since the run paged
		rows       map[string]store.LedgerRow
		suppressed map[string]map[string]string
		sent       int // SMS this week, against a cap of 1 a week
		want       plan_
	}{
		{name: "reachable on the first channel", cust: &both,
			want: plan_{Sends: []send{{Channel: "sms", Address: both.Phone}}}},
		{name: "no SMS consent: email", cust: &emailOnly,
			want: plan_{Sends: []send{{Channel: "email", Address: both.Email}}}},
		{name: "SMS suppressed: email", cust: &both, suppressed: map[string]map[string]string{"sms": {both.Phone: "replied STOP"}},
			want: plan_{Sends: []send{{Channel: "email", Address: both.Email}}}},
		{name: "SMS capped: email", cust: &both, sent: 1,
			want: plan_{Sends: []send{{Channel: "email", Address: both.Email}}}},
		{name: "no channel: one skipped row, every reason", cust: ptr(with(func(c *customer.Customer) { c.SMSConsent.Granted, c.Email = false, "" })),
			want: plan_{Skips: []store.NewRow{{CustomerID: 1, Channel: "sms", Status: store.StatusSkipped, Reason: "sms no_consent; email no_address", Address: both.Phone}}}},
		{name: "delivery all: a row per channel", delivery: campaigns.DeliveryAll, cust: &emailOnly,
			want: plan_{Sends: []send{{Channel: "email", Address: both.Email}},
				Skips: []store.NewRow{{CustomerID: 1, Channel: "sms", Status: store.StatusSkipped, Reason: "no_consent", Address: both.Phone}}}},
		{name: "delivery all: only the channels without a row", delivery: campaigns.DeliveryAll, cust: &both, rows: row("launch", store.StatusSent),
			want: plan_{Sends: []send{{Channel: "email", Address: both.Email}}}},
		{name: "handled by an earlier run", cust: &both, rows: row("earlier", store.StatusSent),
			want: plan_{Earlier: 1}},
		{name: "settled by an earlier attempt", cust: &both, rows: row("launch", store.StatusFailed)},
		{name: "claimed by an attempt that may still be sending", cust: &both, rows: row("launch", store.StatusSending),
			want: plan_{Held: 1, WakeAt: now.Add(-time.Minute + timeout)}},
		{name: "claimed longer than sending_timeout ago: unknown, not sent again", cust: &both,
			rows: map[string]store.LedgerRow{"sms": {Run: "launch", Status: store.StatusSending, ClaimedAt: now.Add(-timeout - time.Second)}},
			want: plan_{Resolve: []store.Resolution{{CustomerID: 1, Channel: "sms", From: store.StatusSending, Status: store.StatusUnknown, Reason: store.ReasonSwept}}}},
		{name: "deferred for a retry, due", cust: &both, rows: row("launch", store.StatusDeferred),
			want: plan_{Sends: []send{{Channel: "sms", Address: both.Phone, Retry: true}}}},
		{name: "deferred for a retry, not yet due", cust: &both,
			rows: map[string]store.LedgerRow{"sms": {Run: "launch", Status: store.StatusDeferred, NotBefore: now.Add(time.Minute)}},
			want: plan_{Held: 1, WakeAt: now.Add(time.Minute)}},
		{name: "deferred, suppressed meanwhile: skipped", cust: &both, rows: row("launch", store.StatusDeferred),
			suppressed: map[string]map[string]string{"sms": {both.Phone: "replied STOP"}},
			want:       plan_{Resolve: []store.Resolution{{CustomerID: 1, Channel: "sms", From: store.StatusDeferred, Status: store.StatusSkipped, Reason: "suppressed: replied STOP"}}}},
		{name: "deferred, customer deleted meanwhile", rows: row("launch", store.StatusDeferred),
			want: plan_{Resolve: []store.Resolution{{CustomerID: 1, Channel: "sms", From: store.StatusDeferred, Status: store.StatusSkipped, Reason: store.ReasonCustomerDeleted}}}},
		{name: "customer deleted", want: plan_{Skips: []store.NewRow{{CustomerID: 1, Channel: "sms", Status: store.StatusSkipped, Reason: store.ReasonCustomerDeleted}}}},
		{name: "inside the window: sent, with the window's end", cust: &both, window: window,
			want: plan_{Sends: []send{{Channel: "sms", Address: both.Phone, NotAfter: time.Date(2027, 3, 1, 21, 0, 0, 0, shanghai)}}}},
		{name: "before the window: waits, unwritten", cust: &both, window: lateWindow,
			want: plan_{Waiting: 1, WakeAt: time.Date(2027, 3, 1, 20, 0, 0, 0, shanghai)}},
		{name: "a retry before the window: held until it opens", cust: &both, window: lateWindow, rows: row("launch", store.StatusDeferred),
			want: plan_{Held: 1, WakeAt: time.Date(2027, 3, 1, 20, 0, 0, 0, shanghai)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &campaigns.Campaign{Name: "launch", Kind: campaigns.KindProduct, Channels: []string{"sms", "email"},
				Delivery: campaigns.DeliveryFirst, SendWindow: tc.window, At: now.Add(-time.Hour),
				Schedule: campaigns.Schedule{Location: shanghai}}
			if tc.delivery != "" {
				c.Delivery = tc.delivery
			}
			in := planInput{Campaign: c, Run: "launch", IDs: []int64{1}, Customers: map[int64]customer.Customer{},
				Rows: map[int64]map[string]store.LedgerRow{}, Suppressed: tc.suppressed,
				SentRecently: map[int64]map[string]int{1: {"sms": tc.sent}}, Cap: campaigns.FrequencyCap{Max: 1, Per: 7 * 24 * time.Hour},
				Now: now, SendingTimeout: timeout}
			if tc.cust != nil {
				in.Customers[1] = *tc.cust
			}
			if tc.rows != nil {
				in.Rows[1] = tc.rows
			}
			got := plan(in)
			for i := range got.Sends {
				if got.Sends[i].CustomerID != 1 || got.Sends[i].Customer.ID != 1 {
					t.Errorf("send %d is not the recipient's: %+v", i, got.Sends[i])
				}
				got.Sends[i].Customer, got.Sends[i].CustomerID = customer.Customer{}, 0
			}
			if !got.WakeAt.Equal(tc.want.WakeAt) {
				t.Errorf("wake at %v, want %v", got.WakeAt, tc.want.WakeAt)
			}
			got.WakeAt, tc.want.WakeAt = time.Time{}, time.Time{}
			for i := range got.Sends {
				if !got.Sends[i].NotAfter.Equal(tc.want.Sends[min(i, len(tc.want.Sends)-1)].NotAfter) {
					t.Errorf("send %d not after %v, want %v", i, got.Sends[i].NotAfter, tc.want.Sends[i].NotAfter)
				}
				got.Sends[i].NotAfter = time.Time{}
			}
			for i := range tc.want.Sends {
				tc.want.Sends[i].NotAfter = time.Time{}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
