package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// provider is a scripted stand-in for an SMS or email provider's answers;
// the queue, the ledger and the outbox behind it are real.
type provider struct {
	channels.Sender
	mu          sync.Mutex
	rateLimits  int            // answer "rate limited, retry in 50 ms" to this many sends first
	unavailable map[int64]bool // answer 5xx once to these customers
	permanent   map[int64]bool // reject these customers' addresses
	ambiguous   map[int64]bool // drop the connection after the message went out
	sends       map[int64]int  // successful sends per customer
}

func (p *provider) Send(ctx context.Context, m channels.Message) (string, error) {
	p.mu.Lock()
	switch {
	case p.rateLimits > 0:
		p.rateLimits--
		p.mu.Unlock()
		return "", channels.Retryable(channels.ReasonRateLimited, 50*time.Millisecond, errors.New("429 Too Many Requests"))
	case p.unavailable[m.CustomerID]:
		delete(p.unavailable, m.CustomerID)
		p.mu.Unlock()
		return "", channels.Retryable(channels.ReasonUnavailable, 50*time.Millisecond, errors.New("503 Service Unavailable"))
	case p.permanent[m.CustomerID]:
		p.mu.Unlock()
		return "", channels.Permanent(channels.ReasonInvalidAddress, errors.New("21211 invalid To number"))
	case p.ambiguous[m.CustomerID]:
		p.sends[m.CustomerID]++
		p.mu.Unlock()
		return "", channels.Ambiguous(errors.New("connection reset after DATA"))
	}
	p.sends[m.CustomerID]++
	p.mu.Unlock()
	return p.Sender.Send(ctx, m)
}

func TestProviderErrors(t *testing.T) {
	t.Parallel() // waits for Asynq's retries
	b := setup(t, store.SQLite)
	customers := addCustomers(t, b.db, 400)
	ctx := context.Background()
	prov := &provider{Sender: b.sender, rateLimits: 12, // more than max_retries: 3
		unavailable: map[int64]bool{}, permanent: map[int64]bool{}, ambiguous: map[int64]bool{}, sends: map[int64]int{}}
	var eligible []int64
	for _, c := range customers {
		if expectFirst(t, b.db, c) == "sms" || expectFirst(t, b.db, c) == "email" {
			eligible = append(eligible, c.ID)
		}
	}
	for i, id := range eligible {
		switch i % 20 {
		case 3:
			prov.permanent[id] = true
		case 7:
			prov.unavailable[id] = true
		case 11:
			prov.ambiguous[id] = true
		}
	}
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: prov, channels.Email: prov}
	b.startWorker(t, 2)
	delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns["greeting"], "2027-02-06")
	sum := b.waitDone(t, "greeting", "2027-02-06", 2*time.Minute)

	for _, id := range eligible {
		var row store.Delivery
		for _, ch := range []string{"sms", "email"} {
			if d, err := b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "greeting", Occurrence: "2027-02-06", CustomerID: id, Channel: ch}); err == nil {
				row = d
			}
		}
		switch {
		case prov.permanent[id]:
			if row.Status != store.StatusFailed || row.Reason != string(channels.ReasonInvalidAddress) || prov.sends[id] != 0 {
				t.Errorf("customer %d (rejected address): %s %q, %d sends", id, row.Status, row.Reason, prov.sends[id])
			}
		case prov.ambiguous[id]:
			if row.Status != store.StatusUnknown || prov.sends[id] != 1 {
				t.Errorf("customer %d (ambiguous): %s, %d sends, want unknown after one", id, row.Status, prov.sends[id])
			}
		default:
			if row.Status != store.StatusSent || prov.sends[id] != 1 {
				t.Errorf("customer %d: %s %q, %d sends, want sent once", id, row.Status, row.Reason, prov.sends[id])
			}
		}
	}
	if prov.rateLimits != 0 || len(prov.unavailable) != 0 {
		t.Errorf("provider script not used up: %d rate limits, %d unavailable left", prov.rateLimits, len(prov.unavailable))
	}
	for _, c := range sum.Counts {
		if strings.HasPrefix(c.Reason, "gave up") {
			t.Errorf("%d recipients given up: rate-limit waits used up the retries", c.N)
		}
	}
	if sum.Total("") != sum.Targeted {
		t.Errorf("targeted %d, accounted %d", sum.Targeted, sum.Total(""))
	}
}

// When the provider stays down, every recipient is tried max_retries+1
// times and then failed, saying so, instead of being left unaccounted.
func TestGiveUpAfterMaxRetries(t *testing.T) {
	t.Parallel() // waits for Asynq's retries
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 150)
	b.cfg.Settings.Channels.BreakAfter = 0 // without the circuit breaker, which would pause the run first
	down := &flaky{failures: map[int64]int{}, tries: map[int64]int{}, always: true}
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: down, channels.Email: down}
	b.startWorker(t, 2)
	delivery.EnqueueRun(context.Background(), b.client, b.cfg.Campaigns["greeting"], "2027-02-06")
	sum := b.waitDone(t, "greeting", "2027-02-06", 2*time.Minute)
	var gaveUp int64
	for _, c := range sum.Counts {
		if c.Status == store.StatusFailed && c.Reason == "gave up after 4 attempts: provider_unavailable" {
			gaveUp += c.N
		}
	}
	if gaveUp == 0 || gaveUp != sum.Total(store.StatusFailed) || sum.Total(store.StatusSent) != 0 || sum.Total("") != sum.Targeted {
		t.Errorf("counts %+v, targeted %d", sum.Counts, sum.Targeted)
	}
	if int64(len(down.tries)) != gaveUp {
		t.Errorf("%d recipients tried, %d given up", len(down.tries), gaveUp)
	}
	for id, n := range down.tries {
		if n != 4 { // max_retries 3: the first attempt and three retries
			t.Errorf("customer %d tried %d times, want 4", id, n)
		}
	}
}

// flaky fails chosen recipients with a retryable error: each of failures
// that many times (a greylisting server: 451, then 250), or every time when
// always is set.
type flaky struct {
	channels.Sender // nil when always is set
	mu              sync.Mutex
	always          bool
	failures        map[int64]int
	tries           map[int64]int
	sentAt          map[int64]time.Time
}

func (f *flaky) Send(ctx context.Context, m channels.Message) (string, error) {
	f.mu.Lock()
	f.tries[m.CustomerID]++
	fail := f.always || f.failures[m.CustomerID] > 0
	if fail {
		f.failures[m.CustomerID]--
		f.mu.Unlock()
		return "", channels.Retryable(channels.ReasonUnavailable, 20*time.Millisecond, errors.New("451 4.7.1 greylisted, try again later"))
	}
	if f.sentAt != nil {
		f.sentAt[m.CustomerID] = time.Now()
	}
	f.mu.Unlock()
	return f.Sender.Send(ctx, m)
}

// Retries are per recipient: a greylisted recipient (451 once, then 250)
// ends sent, after two tries; one that fails every time is given up after
// max_retries+1 tries; and neither holds back the others in its batch.
func TestRetriesArePerRecipient(t *testing.T) {
	t.Parallel() // waits for the retries
	b := setup(t, store.SQLite)
	customers := addCustomers(t, b.db, 300)
	b.cfg.Settings.Channels.BreakAfter = 0
	prov := &flaky{Sender: b.sender, failures: map[int64]int{}, tries: map[int64]int{}, sentAt: map[int64]time.Time{}}
	always := map[int64]bool{}
	var greylisted []int64
	for i, c := range customers {
		ch := expectFirst(t, b.db, c)
		if ch != "sms" && ch != "email" {
			continue
		}
		switch i % 10 {
		case 1:
			prov.failures[c.ID] = 1
			greylisted = append(greylisted, c.ID)
		case 5:
			prov.failures[c.ID] = 1 << 30
			always[c.ID] = true
		}
	}
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: prov, channels.Email: prov}
	// A retry waits a full second here (the provider says 20 ms; Asynq
	// looks at its retries every second), so the others' sends end well
	// before any retry when they are not held back.
	b.startWorker(t, 1)
	start := time.Now()
	delivery.EnqueueRun(context.Background(), b.client, b.cfg.Campaigns["greeting"], "2027-02-06")
	sum := b.waitDone(t, "greeting", "2027-02-06", 2*time.Minute)
	ctx := context.Background()
	row := func(id int64) store.Delivery {
		for _, ch := range []string{"sms", "email"} {
			if d, err := b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "greeting", Occurrence: "2027-02-06", CustomerID: id, Channel: ch}); err == nil {
				return d
			}
		}
		t.Fatalf("customer %d has no row", id)
		return store.Delivery{}
	}
	prov.mu.Lock()
	defer prov.mu.Unlock()
	var lastOther, firstRetry time.Time
	for _, id := range greylisted {
		if d := row(id); d.Status != store.StatusSent || d.Attempts != 2 || prov.tries[id] != 2 || b.sender.sends[d.DeliveryKey.ID()] != 1 {
			t.Errorf("greylisted customer %d: %s %q, %d attempts, %d tries", id, d.Status, d.Reason, d.Attempts, prov.tries[id])
		}
		if at := prov.sentAt[id]; firstRetry.IsZero() || at.Before(firstRetry) {
			firstRetry = at
		}
	}
	for id := range always {
		if d := row(id); d.Status != store.StatusFailed || d.Reason != "gave up after 4 attempts: provider_unavailable" || prov.tries[id] != 4 {
			t.Errorf("failing customer %d: %s %q, %d tries", id, d.Status, d.Reason, prov.tries[id])
		}
	}
	for id, at := range prov.sentAt {
		if prov.tries[id] == 1 && at.After(lastOther) {
			lastOther = at
		}
	}
	if len(greylisted) == 0 || len(always) == 0 || lastOther.IsZero() {
		t.Fatalf("nobody to test: %d greylisted, %d failing, %d sent", len(greylisted), len(always), len(prov.sentAt))
	}
	if !lastOther.Before(firstRetry) {
		t.Errorf("the last of the others was sent %v after the start, the first retry %v: the others were held back",
			lastOther.Sub(start), firstRetry.Sub(start))
	}
	if sum.Total(store.StatusSent) != sum.Targeted-sum.Total(store.StatusSkipped)-int64(len(always)) || sum.Total("") != sum.Targeted {
		t.Errorf("counts %+v, targeted %d", sum.Counts, sum.Targeted)
	}
}

// scripted answers every send with err until fixed.
type scripted struct {
	channels.Sender
	mu    sync.Mutex
	err   error
	calls int
}

func (s *scripted) Send(ctx context.Context, m channels.Message) (string, error) {
	s.mu.Lock()
	err := s.err
	s.calls++
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	return s.Sender.Send(ctx, m)
}

func (s *scripted) set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func waitStatus(t *testing.T, b *bundle, run, status string) store.RunSummary {
	t.Helper()
	r, err := storetest.WaitRun(b.db, "greeting", run, status, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A provider refusing our credentials pauses the run at once; nobody is
// failed; after resume everyone is sent, once.
func TestAuthFailurePausesTheRun(t *testing.T) {
	t.Parallel() // waits for Asynq's retries
	// With max_retries 0 the pause happens on the last counted attempt:
	// the batches must wait, not be archived by Asynq.
	for _, retries := range []int{3, 0} {
		t.Run(fmt.Sprintf("max_retries=%d", retries), func(t *testing.T) { testAuthFailurePausesTheRun(t, retries) })
	}
}

func testAuthFailurePausesTheRun(t *testing.T, retries int) {
	b := setup(t, store.SQLite)
	b.cfg.Settings.Delivery.MaxRetries = retries
	addCustomers(t, b.db, 300)
	prov := &scripted{Sender: b.sender, err: channels.Permanent(channels.ReasonAuth, errors.New("twilio 20003: Authenticate"))}
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: prov, channels.Email: prov}
	b.startWorker(t, 2)
	ctx := context.Background()
	delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns["greeting"], "auth")
	paused := waitStatus(t, b, "auth", store.RunPaused)
	if !strings.Contains(paused.Error, "20003") || paused.Total(store.StatusFailed) != 0 {
		t.Errorf("paused run: %+v", paused)
	}
	time.Sleep(500 * time.Millisecond)
	prov.mu.Lock()
	calls := prov.calls
	prov.mu.Unlock()
	if calls > 2*delivery.SendConcurrency { // the sends in flight in each of the 2 workers' batches
		t.Errorf("%d sends tried after the credentials were refused; the run should stop at once", calls)
	}
	prov.set(nil)
	if ok, err := b.db.ResumeRun(ctx, "greeting", "auth"); !ok || err != nil {
		t.Fatalf("resume: %v %v", ok, err)
	}
	done := b.waitDone(t, "greeting", "auth", 3*time.Minute)
	if done.Total(store.StatusFailed) != 0 || done.Total(store.StatusSent) == 0 || done.Total("") != done.Targeted {
		t.Errorf("after resume: %+v", done)
	}
	for id, n := range b.sender.sends {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
}

// After break_after provider failures in a row the run pauses and says why,
// instead of failing recipient after recipient.
func TestCircuitBreakerPausesTheRun(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 300)
	prov := &scripted{Sender: b.sender, err: channels.Permanent(channels.ReasonRejected, errors.New("smtp 554 5.7.1 service unavailable"))}
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: prov, channels.Email: prov}
	b.startWorker(t, 1)
	delivery.EnqueueRun(context.Background(), b.client, b.cfg.Campaigns["greeting"], "cb")
	s := waitStatus(t, b, "cb", store.RunPaused)
	if !strings.Contains(s.Error, "circuit breaker: 4 provider failures in a row") {
		t.Errorf("error %q", s.Error)
	}
	// The breaker opens at the 4th failure; the other sends in flight then
	// finish.
	if f := s.Total(store.StatusFailed); f > 4+delivery.SendConcurrency-1 {
		t.Errorf("%d recipients failed before the breaker opened, want at most %d", f, 4+delivery.SendConcurrency-1)
	}
}

// A mailbox that does not exist (SMTP 550 5.1.1) fails that recipient and
// suppresses the address; an SMS opt-out at the provider (Twilio 21610)
// skips the recipient and suppresses the number. Neither is retried.
func TestProviderOptOutsAreSuppressed(t *testing.T) {
	b := setup(t, store.SQLite)
	customers := addCustomers(t, b.db, 300)
	ctx := context.Background()
	var smsID, emailID int64
	var smsTo, emailTo string
	for _, c := range customers {
		switch expectFirst(t, b.db, c) {
		case "sms":
			if smsID == 0 {
				smsID, smsTo = c.ID, c.Phone
			}
		case "email":
			if emailID == 0 {
				emailID, emailTo = c.ID, c.Email
			}
		}
	}
	prov := &provider{Sender: b.sender, unavailable: map[int64]bool{}, ambiguous: map[int64]bool{}, sends: map[int64]int{},
		permanent: map[int64]bool{}}
	optOut := &optOuts{Sender: prov, errs: map[int64]error{
		smsID:   channels.Permanent(channels.ReasonUnsubscribed, errors.New("twilio 21610: Attempt to send to unsubscribed recipient")),
		emailID: channels.Permanent(channels.ReasonNoSuchUser, errors.New("smtp 550 5.1.1 no such user")),
	}}
	b.pipeline.Senders = map[string]channels.Sender{channels.SMS: optOut, channels.Email: optOut}
	b.startWorker(t, 2)
	delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns["greeting"], "opt")
	s := b.waitDone(t, "greeting", "opt", time.Minute)
	d, _ := b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "greeting", Occurrence: "opt", CustomerID: smsID, Channel: "sms"})
	if d.Status != store.StatusSkipped || d.Reason != "unsubscribed at the provider" {
		t.Errorf("21610: %s %q", d.Status, d.Reason)
	}
	if ok, why, _ := b.db.Suppressed(ctx, "sms", smsTo); !ok || why != "unsubscribed at the provider" {
		t.Errorf("number not suppressed: %v %q", ok, why)
	}
	d, _ = b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "greeting", Occurrence: "opt", CustomerID: emailID, Channel: "email"})
	if d.Status != store.StatusFailed || d.Reason != "no_such_user" {
		t.Errorf("550: %s %q", d.Status, d.Reason)
	}
	if ok, _, _ := b.db.Suppressed(ctx, "email", emailTo); !ok {
		t.Error("address not suppressed")
	}
	if optOut.calls[smsID] != 1 || optOut.calls[emailID] != 1 || s.Status != store.RunDone {
		t.Errorf("calls %v, run %s", optOut.calls, s.Status)
	}
}

type optOuts struct {
	channels.Sender
	mu    sync.Mutex
	errs  map[int64]error
	calls map[int64]int
}

func (o *optOuts) Send(ctx context.Context, m channels.Message) (string, error) {
	o.mu.Lock()
	if o.calls == nil {
		o.calls = map[int64]int{}
	}
	o.calls[m.CustomerID]++
	err := o.errs[m.CustomerID]
	o.mu.Unlock()
	if err != nil {
		return "", err
	}
	return o.Sender.Send(ctx, m)
}

// A customer who got a message on a channel within the frequency cap's
// period is not sent another there by any campaign: skipped, with the reason.
func TestFrequencyCap(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 300)
	ctx := context.Background()
	b.startWorker(t, 2)
	delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns["announce"], "once") // delivery: all, email and sms
	first := b.waitDone(t, "announce", "once", time.Minute)
	if first.Total(store.StatusSent) == 0 {
		t.Fatal("the first campaign sent nothing")
	}
	sent := b.sender.total.Load()
	b.cfg.Settings.FrequencyCap = campaigns.FrequencyCap{Max: 1, Per: 7 * 24 * time.Hour}
	delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns["greeting"], "capped")
	s := b.waitDone(t, "greeting", "capped", time.Minute)
	if n := b.sender.total.Load() - sent; n != 0 {
		t.Errorf("%d messages past the cap", n)
	}
	var capped int64
	for _, c := range s.Counts {
		if strings.Contains(c.Reason, "frequency_cap: 1 per 7d") {
			capped += c.N
		}
	}
	if capped == 0 || s.Total("") != s.Targeted {
		t.Errorf("counts %+v", s.Counts)
	}
}

// An SMS that renders longer than the campaign allows (here a
// 5,000-character name, past the default three parts) is never sent: its
// row fails as sms_too_long, and the rest of the run goes out.
func TestSMSTooLongIsNotSent(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	var long customer.Customer
	for _, c := range addCustomers(t, b.db, 50) {
		if expectFirst(t, b.db, c) == "sms" {
			long = c
			break
		}
	}
	if long.ID == 0 {
		t.Fatal("no SMS recipient among the customers")
	}
	if _, err := b.db.SQL().Exec("UPDATE customers SET name = ? WHERE id = ?", strings.Repeat("王", 5000), long.ID); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, 2)
	delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns["greeting"], "2027-02-06")
	sum := b.waitDone(t, "greeting", "2027-02-06", time.Minute)
	key := store.DeliveryKey{Campaign: "greeting", Occurrence: "2027-02-06", CustomerID: long.ID, Channel: "sms"}
	if d, err := b.db.GetDelivery(ctx, key); err != nil || d.Status != store.StatusFailed || d.Reason != string(channels.ReasonSMSTooLong) {
		t.Errorf("the long SMS: %+v, %v; want failed: sms_too_long", d, err)
	}
	b.sender.mu.Lock()
	defer b.sender.mu.Unlock()
	if n := b.sender.sends[key.ID()]; n != 0 {
		t.Errorf("the long SMS was sent %d times", n)
	}
	if sent := sum.Total(store.StatusSent); sent == 0 || int(sent) != len(b.sender.sends) {
		t.Errorf("%d sent in the ledger, %d by the provider; want the others sent", sent, len(b.sender.sends))
	}
}
