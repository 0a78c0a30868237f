package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/outbox"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
	"github.com/tidings/tidings/templates"
)

// counting wraps a sender and counts sends per delivery id, in process.
type counting struct {
	channels.Sender
	mu    sync.Mutex
	sends map[string]int
	total atomic.Int64
}

func (c *counting) Send(ctx context.Context, m channels.Message) (string, error) {
	id, err := c.Sender.Send(ctx, m)
	if err == nil {
		c.mu.Lock()
		c.sends[m.DeliveryID]++
		c.mu.Unlock()
		c.total.Add(1)
	}
	return id, err
}

type bundle struct {
	db       *store.DB
	redis    *redistest.Server
	client   *asynq.Client
	cfg      *campaigns.Config
	pipeline *delivery.Pipeline
	sender   *counting
	outbox   string
}

func setup(t *testing.T, d store.Dialect) *bundle {
	t.Helper()
	cfg, err := campaigns.Load("testdata/configs", "testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load("testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.Start(t)
	client := asynq.NewClient(r.Opt())
	t.Cleanup(func() { client.Close() })
	dir := t.TempDir()
	sender := &counting{Sender: outbox.New(dir, mailAddress(), 0), sends: map[string]int{}}
	db := storetest.Open(t, d)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &delivery.Pipeline{
		Store: db, Client: client,
		Config:    func() *campaigns.Config { return cfg },
		Templates: func() *templates.Set { return tmpl },
		Senders:   map[string]channels.Sender{channels.Email: sender, channels.SMS: sender},
		Signer:    signing.New("test"),
		Log:       log,
	}
	return &bundle{db: db, redis: r, client: client, cfg: cfg, pipeline: p, sender: sender, outbox: dir}
}

// startWorker runs an Asynq server with the pipeline until the test ends.
func (b *bundle) startWorker(t *testing.T, concurrency int) {
	srv := asynq.NewServer(b.redis.Opt(), delivery.ServerConfig(concurrency, slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err := srv.Start(b.pipeline.Mux()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

func (b *bundle) waitDone(t *testing.T, campaign, run string, timeout time.Duration) store.RunSummary {
	t.Helper()
	r, err := storetest.WaitRun(b.db, campaign, run, store.RunDone, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// addCustomers generates n customers and suppresses every 50th one's phone
// and email.
func addCustomers(t *testing.T, db *store.DB, n int) []customer.Customer {
	t.Helper()
	g := customer.NewGenerator(3, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	cs := make([]customer.Customer, n)
	for i := range cs {
		cs[i] = g.Next()
	}
	ctx := context.Background()
	if err := db.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if i%50 == 0 {
			if c.Phone != "" {
				db.Suppress(ctx, "sms", c.Phone, "replied STOP")
			}
			if c.Email != "" {
				db.Suppress(ctx, "email", c.Email, "bounced")
			}
		}
	}
	loaded, err := db.CustomersByID(ctx, allIDs(t, db))
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

func allIDs(t *testing.T, db *store.DB) []int64 {
	var ids []int64
	rows, err := db.SQL().Query("SELECT id FROM customers ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

// expectFirst computes, independently of the pipeline, the channel each
// customer of the greeting campaign (delivery: first over sms, email) should
// get, or "" with the reason they are skipped.
func expectFirst(t *testing.T, db *store.DB, c customer.Customer) (channel string) {
	ctx := context.Background()
	if c.Tier == customer.TierEliminated {
		return "-"
	}
	if c.Phone != "" && c.SMSConsent.Granted {
		if s, _, _ := db.Suppressed(ctx, "sms", c.Phone); !s {
			return "sms"
		}
	}
	if c.Email != "" && c.EmailConsent.Granted {
		if s, _, _ := db.Suppressed(ctx, "email", c.Email); !s {
			return "email"
		}
	}
	return ""
}

func TestCampaignTo10000Customers(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Postgres)
	customers := addCustomers(t, b.db, 10000)
	b.startWorker(t, 8)
	ctx := context.Background()
	greeting := b.cfg.Campaigns["greeting"]
	if ok, err := delivery.EnqueueRun(ctx, b.client, greeting, "2027-02-06"); !ok || err != nil {
		t.Fatalf("enqueue: %v %v", ok, err)
	}
	sum := b.waitDone(t, "greeting", "2027-02-06", 2*time.Minute)

	var eligible, skipped int
	for _, c := range customers {
		want := expectFirst(t, b.db, c)
		if want == "-" {
			continue
		}
		k := store.DeliveryKey{Campaign: "greeting", Occurrence: "2027-02-06", CustomerID: c.ID, Channel: want}
		if want == "" {
			k.Channel = "sms" // a skip is recorded on the first listed channel
		}
		d, err := b.db.GetDelivery(ctx, k)
		if err != nil {
			t.Fatalf("customer %s: no ledger row on %s: %v", c.ExternalID, k.Channel, err)
		}
		if want == "" {
			skipped++
			if d.Status != store.StatusSkipped || d.Reason == "" {
				t.Errorf("customer %s: %s %q, want skipped with a reason", c.ExternalID, d.Status, d.Reason)
			}
			continue
		}
		eligible++
		id := fmt.Sprintf("greeting.2027-02-06.%d.%s", c.ID, want)
		if d.Status != store.StatusSent || b.sender.sends[id] != 1 {
			t.Errorf("customer %s: %s on %s, sent %d times", c.ExternalID, d.Status, want, b.sender.sends[id])
		}
		if d.Coupon == "" {
			t.Errorf("customer %s: no coupon recorded", c.ExternalID)
		}
	}
	if int(b.sender.total.Load()) != eligible {
		t.Errorf("%d messages sent, %d eligible customers", b.sender.total.Load(), eligible)
	}
	log, _ := outbox.ReadSentLog(b.outbox)
	if len(log) != eligible {
		t.Errorf("sent.log has %d deliveries, want %d", len(log), eligible)
	}
	// Opt-outs and suppressions are skipped with their reasons.
	reasons := map[string]int64{}
	for _, c := range sum.Counts {
		if c.Status == store.StatusSkipped {
			reasons[c.Reason] += c.N
		}
	}
	if reasons["sms no_consent; email no_consent"] == 0 || len(reasons) < 3 {
		t.Errorf("skip reasons: %v", reasons)
	}
	var suppressed bool
	for r := range reasons {
		if len(r) > 0 && contains(r, "suppressed: replied STOP") {
			suppressed = true
		}
	}
	if !suppressed {
		t.Errorf("no skip for a suppressed phone: %v", reasons)
	}
	total := sum.Total(store.StatusSent) + sum.Total(store.StatusSkipped) + sum.Total(store.StatusFailed) +
		sum.Total(store.StatusDeferred) + sum.Total(store.StatusUnknown)
	if sum.Targeted != int64(eligible+skipped) || total != sum.Targeted {
		t.Errorf("targeted %d; sent+skipped+failed+deferred+unknown = %d; eligible %d + skipped %d", sum.Targeted, total, eligible, skipped)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// Enqueuing an occurrence twice is a no-op, and its run task running twice
// at once (as at-least-once delivery allows) sends nothing extra.
func TestOccurrenceTwiceSendsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Postgres)
	addCustomers(t, b.db, 2000)
	ctx := context.Background()
	c := b.cfg.Campaigns["announce"] // delivery: all, both channels
	if ok, err := delivery.EnqueueRun(ctx, b.client, c, "once"); !ok || err != nil {
		t.Fatalf("first enqueue: %v %v", ok, err)
	}
	if ok, err := delivery.EnqueueRun(ctx, b.client, c, "once"); ok || err != nil {
		t.Fatalf("second enqueue: %v %v, want a no-op", ok, err)
	}
	// The run task, twice at once, by hand, while a worker also runs it.
	task := asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"announce","occurrence":"once"}`))
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.pipeline.HandleRun(ctx, task); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	b.startWorker(t, 8)
	sum := b.waitDone(t, "announce", "once", 2*time.Minute)
	for id, n := range b.sender.sends {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
	log, _ := outbox.ReadSentLog(b.outbox)
	if int64(len(log)) != sum.Total(store.StatusSent) || sum.Total(store.StatusSent) == 0 {
		t.Errorf("sent.log %d deliveries, ledger %d sent", len(log), sum.Total(store.StatusSent))
	}
	var eliminated int64
	b.db.SQL().QueryRow("SELECT COUNT(*) FROM customers WHERE tier <> 'eliminated'").Scan(&eliminated)
	if sum.Targeted != 2*eliminated || sum.Total("") != sum.Targeted {
		t.Errorf("targeted %d, rows %d, want 2 per customer = %d", sum.Targeted, sum.Total(""), 2*eliminated)
	}
	// Running the finished run's task yet again adds nothing either.
	if err := b.pipeline.HandleRun(ctx, task); err != nil {
		t.Fatal(err)
	}
	if after, _ := b.db.RunSummaryOf(ctx, "announce", "once"); after.Total("") != sum.Total("") {
		t.Errorf("rows %d after a repeated run, %d before", after.Total(""), sum.Total(""))
	}
}

// A birthday campaign runs daily but gives one gift a year: a second run in
// the same year writes no new row for a customer who already got theirs,
// and counts them as handled by the earlier run.
func TestBirthdayOneGiftAYear(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 6000) // ~16 birthdays today
	b.startWorker(t, 4)
	ctx := context.Background()
	gift := b.cfg.Campaigns["gift"]
	delivery.EnqueueRun(ctx, b.client, gift, "2027-03-10")
	first := b.waitDone(t, "gift", "2027-03-10", time.Minute)
	if first.Targeted == 0 || first.Total("") != first.Targeted {
		t.Fatalf("first run: targeted %d, rows %d", first.Targeted, first.Total(""))
	}
	sent := b.sender.total.Load()
	delivery.EnqueueRun(ctx, b.client, gift, "2027-03-11") // same people: birthdays are evaluated now
	second := b.waitDone(t, "gift", "2027-03-11", time.Minute)
	if b.sender.total.Load() != sent {
		t.Errorf("the second run sent %d more", b.sender.total.Load()-sent)
	}
	var earlier int64
	for _, c := range second.Counts {
		if c.Reason == store.ReasonEarlierRun {
			earlier = c.N
		}
	}
	if earlier != second.Targeted || second.Total("") != second.Targeted {
		t.Errorf("second run: targeted %d, earlier %d, counted %d", second.Targeted, earlier, second.Total(""))
	}
	// The coupon is recorded under the year and is the same code a resend would carry.
	rows, _ := b.db.SQL().Query("SELECT occurrence, coupon FROM deliveries WHERE campaign = 'gift' AND status = 'sent'")
	defer rows.Close()
	for rows.Next() {
		var occ, coupon string
		rows.Scan(&occ, &coupon)
		if occ != "2027" || len(coupon) != len("BDAY-XXXX-XXXX-XXXX") {
			t.Errorf("row occurrence %q coupon %q", occ, coupon)
		}
	}
}

// A batch task enqueued before batch tasks named their batch by its first
// id carries the customer ids itself; a worker after the upgrade still
// delivers it.
func TestBatchTaskWithItsIDs(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	want := map[int64]string{}
	var ids []int64
	for _, c := range addCustomers(t, b.db, 40) {
		if ch := expectFirst(t, b.db, c); ch == "sms" || ch == "email" {
			want[c.ID] = ch
			ids = append(ids, c.ID)
		}
	}
	payload, _ := json.Marshal(map[string]any{"campaign": "greeting", "occurrence": "2027-02-06", "customer_ids": ids})
	if err := b.pipeline.HandleBatch(ctx, asynq.NewTask(delivery.TypeBatch, payload)); err != nil {
		t.Fatal(err)
	}
	for id, ch := range want {
		d, err := b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "greeting", Occurrence: "2027-02-06", CustomerID: id, Channel: ch})
		if err != nil || d.Status != store.StatusSent {
			t.Errorf("customer %d on %s: %s %v", id, ch, d.Status, err)
		}
	}
	if len(want) == 0 || int(b.sender.total.Load()) != len(want) {
		t.Errorf("%d sent, %d eligible", b.sender.total.Load(), len(want))
	}
}
