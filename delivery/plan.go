package delivery

import (
	"strings"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
)

// A batch runs in four stages (see HandleBatch): gather loads what plan
// needs, plan decides, claim writes the rows, send delivers the claims and
// settle writes their outcomes. plan is the only one that decides, and it
// does no I/O.

// planInput is what plan decides from: the batch's customers and, loaded
// for them, their ledger rows, suppressions and frequency-cap counts, and
// the clock.
type planInput struct {
	Campaign *campaigns.Campaign
	Run      string // the run; its ledger occurrence may differ (see LedgerOccurrence)
	IDs      []int64
	// Customers are the batch's customers that still exist.
	Customers map[int64]customer.Customer
	// Rows are the ledger rows the occurrence already has for them.
	Rows map[int64]map[string]store.LedgerRow
	// Suppressed is channel → address → reason.
	Suppressed map[string]map[string]string
	// SentRecently is customer → channel → messages within the cap's period.
	SentRecently   map[int64]map[string]int
	Cap            campaigns.FrequencyCap
	Now            time.Time
	SendingTimeout time.Duration
	// Anchor and End bound a windowed birthday run's share of window
	// openings (see BirthdayDue); zero for every other run.
	Anchor, End time.Time
}

// send is a row to claim and send.
type send struct {
	Customer   customer.Customer
	CustomerID int64
	Channel    string
	Address    string
	// NotAfter is the end of the recipient's send window (pipeline clock),
	// zero when the campaign has none.
	NotAfter time.Time
	// Retry is a row deferred for a retry by an earlier attempt: it is
	// claimed again rather than inserted.
	Retry bool
}

// batchPlan is what plan decided for a batch.
type batchPlan struct {
	Sends []send
	// Skips are rows written skipped, with their reason.
	Skips []store.NewRow
	// Resolve settles rows an earlier attempt left unfinished.
	Resolve []store.Resolution
	// Earlier counts recipients an earlier run of the occurrence handled.
	Earlier int
	// Waiting counts the ledger rows not written because the recipient is
	// outside their send window.
	Waiting int
	// Held counts rows written but not final that this attempt leaves be:
	// deferred for a retry not yet due, or claimed by an attempt that may
	// still be sending.
	Held int
	// WakeAt is when the batch must run again for the waiting and held
	// rows: the soonest of their times. Zero when there are none.
	WakeAt time.Time
}

func (bp *batchPlan) wake(at time.Time) {
	if bp.WakeAt.IsZero() || at.Before(bp.WakeAt) {
		bp.WakeAt = at
	}
}

// plan decides, for every recipient of a batch and every channel, whether
// to send, to skip (with the reason), or to wait (until when).
//
//   - A row an earlier run of the occurrence wrote means that recipient was
//     handled; under delivery: first any row settles the customer, so a
//     consent change between attempts cannot add a second channel.
//   - A row of this run that is still sending belongs to an attempt that
//     may still be running: it is waited for, and once sending_timeout has
//     passed it is reported unknown, never sent again.
//   - A row deferred for a retry is claimed again when due, if the
//     recipient may still receive it.
//   - The send window is checked whenever the batch runs (late, retried or
//     moved by hand in asynqmon): those outside it wait, unwritten, for the
//     batch's next run when the first window opens.
//   - A customer deleted since the run paged its audience gets a skipped
//     row per row the run counted on.
func plan(in planInput) batchPlan {
	c := in.Campaign
	var bp batchPlan
	window, windowed := localWindow(c)
	for _, id := range in.IDs {
		have := in.Rows[id]
		cust, exists := in.Customers[id]
		var due, notAfter time.Time // the window's next opening (if later), and its close
		if windowed && exists {
			loc := RecipientZone(c, cust.TimeZone)
			due = DueAt(c, in.Run, loc, in.Now)
			if !in.Anchor.IsZero() {
				// Not before the window opens on their birthday.
				if at, ok := birthdayDue(c, in.Anchor, in.End, loc, cust.Birthday.Month, cust.Birthday.Day); ok && at.After(in.Now) {
					due = at
				}
			}
			if !due.After(in.Now) {
				due = time.Time{}
				notAfter = closesAt(window, loc, in.Now)
			}
		}
		// Rows this recipient has: handled by an earlier run, or this
		// run's, final or not.
		ours := 0
		for ch, r := range have {
			if r.Run != in.Run {
				if c.Delivery == campaigns.DeliveryAll {
					bp.Earlier++
				}
				continue
			}
			ours++
			bp.unfinished(in, id, ch, r, cust, exists, due, notAfter)
		}
		if c.Delivery == campaigns.DeliveryFirst && len(have) > 0 {
			if ours == 0 {
				bp.Earlier++
			}
			continue
		}
		var missing []string // channels this recipient still lacks a row on
		for _, ch := range c.Channels[:perCustomer(c)] {
			if _, ok := have[ch]; !ok {
				missing = append(missing, ch)
			}
		}
		switch {
		case len(missing) == 0:
		case !exists:
			for _, ch := range missing {
				bp.Skips = append(bp.Skips, store.NewRow{CustomerID: id, Channel: ch, Status: store.StatusSkipped, Reason: store.ReasonCustomerDeleted})
			}
		case !due.IsZero():
			bp.Waiting += len(missing)
			bp.wake(due)
		default:
			for _, st := range choose(in, cust, missing) {
				if st.skip != "" {
					bp.Skips = append(bp.Skips, store.NewRow{CustomerID: id, Channel: st.channel, Status: store.StatusSkipped, Reason: st.skip, Address: st.address})
					continue
				}
				bp.Sends = append(bp.Sends, send{Customer: cust, CustomerID: id, Channel: st.channel, Address: st.address, NotAfter: notAfter})
			}
		}
	}
	return bp
}

// unfinished decides for a row of this run that is not final.
func (bp *batchPlan) unfinished(in planInput, id int64, ch string, r store.LedgerRow, cust customer.Customer, exists bool, due, notAfter time.Time) {
	switch {
	case r.Final():
	case r.Status == store.StatusSending:
		if expires := r.ClaimedAt.Add(in.SendingTimeout); expires.After(in.Now) {
			bp.Held++
			bp.wake(expires)
		} else {
			bp.Resolve = append(bp.Resolve, store.Resolution{CustomerID: id, Channel: ch,
				From: store.StatusSending, Status: store.StatusUnknown, Reason: store.ReasonSwept})
		}
	case !exists:
		bp.Resolve = append(bp.Resolve, store.Resolution{CustomerID: id, Channel: ch,
			From: store.StatusDeferred, Status: store.StatusSkipped, Reason: store.ReasonCustomerDeleted})
	case !due.IsZero() || r.NotBefore.After(in.Now):
		bp.Held++
		bp.wake(later(due, r.NotBefore))
	default:
		// Retried only if they may still get it: an opt-out or a cap
		// reached meanwhile skips it.
		address, why := reach(in, cust, ch)
		if why != "" {
			bp.Resolve = append(bp.Resolve, store.Resolution{CustomerID: id, Channel: ch,
				From: store.StatusDeferred, Status: store.StatusSkipped, Reason: why})
			return
		}
		bp.Sends = append(bp.Sends, send{Customer: cust, CustomerID: id, Channel: ch, Address: address, NotAfter: notAfter, Retry: true})
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// step is a recipient's decision on one channel: a send, or a skip with
// its reason.
type step struct {
	channel string
	address string
	skip    string
}

// choose decides a recipient's channels among those given. delivery:
// first sends on the first channel the customer can receive and, when
// there is none, writes one skipped row on the first listed channel with
// every channel's reason; delivery: all writes a row per channel.
func choose(in planInput, cust customer.Customer, chans []string) []step {
	c := in.Campaign
	if c.Delivery == campaigns.DeliveryFirst {
		chans = c.Channels
	}
	steps := make([]step, 0, len(chans))
	for _, ch := range chans {
		st := step{channel: ch}
		st.address, st.skip = reach(in, cust, ch)
		if c.Delivery == campaigns.DeliveryFirst && st.skip == "" {
			return []step{st}
		}
		steps = append(steps, st)
	}
	if c.Delivery == campaigns.DeliveryAll {
		return steps
	}
	first := steps[0]
	if len(steps) > 1 {
		reasons := make([]string, len(steps))
		for i, st := range steps {
			reasons[i] = st.channel + " " + st.skip
		}
		first.skip = strings.Join(reasons, "; ")
	}
	return []step{first}
}

// reach returns a customer's address on a channel and, when they may not
// be sent to on it, why.
func reach(in planInput, cust customer.Customer, ch string) (address, skip string) {
	address, granted := Contact(cust, ch)
	// A suppression is checked before consent: an opt-out (a STOP reply, an
	// unsubscribe link) also withdraws consent, and its own reason says
	// more than no_consent.
	why, suppressed := in.Suppressed[ch][address]
	switch {
	case address == "":
		return "", "no_address"
	case suppressed:
		return address, "suppressed: " + why
	case !granted:
		return address, "no_consent"
	case !in.Cap.IsZero() && in.SentRecently[cust.ID][ch] >= in.Cap.Max:
		return address, "frequency_cap: " + in.Cap.String()
	}
	return address, ""
}

// Contact returns a customer's address on a channel and whether they
// consented to it.
func Contact(cu customer.Customer, channel string) (address string, consent bool) {
	switch channel {
	case channels.Email:
		return cu.Email, cu.EmailConsent.Granted
	case channels.SMS:
		return cu.Phone, cu.SMSConsent.Granted
	}
	return "", false
}

// addressFields are the segment fields of each channel's address.
var addressFields = map[string]string{channels.Email: "email", channels.SMS: "phone"}

// ReceivableAudience is a run's audience narrowed to the customers with an
// address and consent on at least one of its channels: those a dry run
// shows messages of. (Suppressions and frequency caps are left to plan.)
func ReceivableAudience(c *campaigns.Campaign) campaigns.Condition {
	var either []campaigns.Condition
	for _, ch := range c.Channels {
		either = append(either, &campaigns.All{Of: []campaigns.Condition{
			&campaigns.Compare{Field: "consent." + ch, Type: campaigns.TypeBool, Op: campaigns.OpEq, Value: true},
			&campaigns.Compare{Field: addressFields[ch], Type: campaigns.TypeString, Op: campaigns.OpExists, Value: true},
		}})
	}
	return &campaigns.All{Of: []campaigns.Condition{c.Condition(), &campaigns.Any{Of: either}}}
}

// ChannelsFor returns the channels a customer would get a run on, by
// address and consent as plan decides them: under delivery: first the
// first such channel, under delivery: all every one.
func ChannelsFor(c *campaigns.Campaign, cu customer.Customer) []string {
	var out []string
	for _, ch := range c.Channels {
		if address, granted := Contact(cu, ch); address != "" && granted {
			if c.Delivery == campaigns.DeliveryFirst {
				return []string{ch}
			}
			out = append(out, ch)
		}
	}
	return out
}
