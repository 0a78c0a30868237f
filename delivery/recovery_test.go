package delivery_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
)

// A run task that recorded a batch and crashed, retried after the audience
// changed: the recorded batch is enqueued unchanged and paging resumes after
// it, so nobody falls between two pages.
func TestRetriedRunKeepsItsPages(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 1000)
	ctx := context.Background()
	c := b.cfg.Campaigns["greeting"]
	run, err := b.db.BeginRun(ctx, c.Name, "r1", delivery.QueueFor(c.Priority))
	if err != nil {
		t.Fatal(err)
	}
	aud, _ := b.db.Compile(ctx, c.Condition(), store.AudienceOptions{Now: run.StartedAt, DefaultZone: c.Schedule.Location})
	locals, _ := b.db.AudienceLocals(ctx, aud, 0, 200)
	var page1 []int64
	for _, l := range locals {
		page1 = append(page1, l.ID)
	}
	if err := b.db.AddBatch(ctx, store.Batch{Campaign: c.Name, Run: "r1", CustomerIDs: page1, PerCustomer: 1, Queue: delivery.QueueFor(c.Priority)}); err != nil {
		t.Fatal(err)
	}
	// The crash. Then a member of page 1 leaves the audience.
	if _, err := b.db.SQL().Exec("UPDATE customers SET tier = 'eliminated' WHERE id = ?", page1[50]); err != nil {
		t.Fatal(err)
	}
	if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"greeting","occurrence":"r1"}`))); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, 4)
	sum := b.waitDone(t, "greeting", "r1", time.Minute)
	var covered int64
	b.db.SQL().QueryRow("SELECT COUNT(DISTINCT customer_id) FROM deliveries WHERE campaign = 'greeting' AND run = 'r1'").Scan(&covered)
	var want int64
	b.db.SQL().QueryRow("SELECT COUNT(*) FROM customers WHERE tier <> 'eliminated'").Scan(&want)
	// Everyone now in the audience, plus the one who left after page 1 was fixed.
	if covered != want+1 || sum.Targeted != covered || sum.Total("") != sum.Targeted {
		t.Errorf("covered %d customers, audience %d+1; targeted %d, accounted %d", covered, want, sum.Targeted, sum.Total(""))
	}
}

// A campaign removed from the configuration between enqueue and work: its
// batch tasks are handed back for delivery.unknown_campaign_grace (here two
// seconds), then archived; the reconciler abandons them, the run finishes
// and still adds up.
func TestArchivedBatchesAreAbandoned(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 500)
	ctx := context.Background()
	if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"greeting","occurrence":"r2"}`))); err != nil {
		t.Fatal(err)
	}
	without := *b.cfg
	without.Campaigns = map[string]*campaigns.Campaign{}
	without.Settings.Delivery.UnknownCampaignGrace = 2 * time.Second
	b.pipeline.Config = func() *campaigns.Config { return &without }
	started := time.Now()
	b.startWorker(t, 2)
	inspector := asynq.NewInspector(b.redis.Opt())
	defer inspector.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	deadline := time.Now().Add(time.Minute)
	for {
		if err := delivery.Reconcile(ctx, b.db, inspector, b.client, 0, 3, log); err != nil {
			t.Fatal(err)
		}
		s, _ := b.db.RunSummaryOf(ctx, "greeting", "r2")
		if s.Status == store.RunDone {
			if s.Total(store.StatusFailed) != s.Targeted || s.Targeted == 0 {
				t.Errorf("targeted %d, counts %+v", s.Targeted, s.Counts)
			}
			if time.Since(started) < 2*time.Second {
				t.Errorf("abandoned after %s, within the grace", time.Since(started))
			}
			if len(s.Counts) == 0 || !strings.HasPrefix(s.Counts[0].Reason, `batch abandoned: campaign "greeting" is not in this worker's configuration (handed back for `) ||
				!strings.HasSuffix(s.Counts[0].Reason, `s): skip retry for the task`) {
				t.Errorf("reason: %+v", s.Counts)
			}
			// The campaign is restored and the run revived (`tidings
			// resume`): the abandoned batches run, and the run adds up with
			// nobody failed.
			b.pipeline.Config = func() *campaigns.Config { return b.cfg }
			n, repaged, err := delivery.Revive(ctx, b.db, inspector, b.client, b.cfg.Campaigns["greeting"], "r2", 3)
			if err != nil || n == 0 || repaged {
				t.Fatalf("revive: %d batches, repaged %v, %v", n, repaged, err)
			}
			after := b.waitDone(t, "greeting", "r2", time.Minute)
			if after.Targeted != s.Targeted || after.Total("") != after.Targeted || after.Total(store.StatusFailed) != 0 || after.Total(store.StatusSent) == 0 {
				t.Errorf("after revival: targeted %d (before %d), counts %+v", after.Targeted, s.Targeted, after.Counts)
			}
			if n, _, _ := delivery.Revive(ctx, b.db, inspector, b.client, b.cfg.Campaigns["greeting"], "r2", 3); n != 0 {
				t.Errorf("a second revival re-enqueued %d batches", n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not done: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Under delivery: first, a customer who got the SMS and then withdrew SMS
// consent is not sent the email when the batch runs again.
func TestFirstIsOncePerCustomer(t *testing.T) {
	b := setup(t, store.SQLite)
	customers := addCustomers(t, b.db, 300)
	ctx := context.Background()
	b.startWorker(t, 2)
	delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns["greeting"], "r3")
	b.waitDone(t, "greeting", "r3", time.Minute)
	sent := b.sender.total.Load()
	var ids []int64
	for _, c := range customers {
		if expectFirst(t, b.db, c) == "sms" && c.Email != "" && c.EmailConsent.Granted {
			ids = append(ids, c.ID)
			b.db.SQL().Exec("UPDATE customers SET sms_consent = FALSE WHERE id = ?", c.ID)
		}
	}
	if len(ids) == 0 {
		t.Fatal("no customer reachable on both channels")
	}
	payload := []byte(`{"campaign":"greeting","occurrence":"r3","customer_ids":[` + joinIDs(ids) + `]}`)
	if err := b.pipeline.HandleBatch(ctx, asynq.NewTask(delivery.TypeBatch, payload)); err != nil {
		t.Fatal(err)
	}
	if n := b.sender.total.Load() - sent; n != 0 {
		t.Errorf("%d more messages after consent changed; want none", n)
	}
}

// A customer deleted between the run and its batch, under delivery: all,
// gets a skipped row on every channel the run counted.
func TestDeletedCustomerUnderAll(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 300)
	ctx := context.Background()
	if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"announce","occurrence":"once"}`))); err != nil {
		t.Fatal(err)
	}
	var id int64
	b.db.SQL().QueryRow("SELECT MIN(id) FROM customers WHERE tier <> 'eliminated'").Scan(&id)
	if _, err := b.db.SQL().Exec("DELETE FROM customers WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, 2)
	s := b.waitDone(t, "announce", "once", time.Minute)
	if s.Total("") != s.Targeted {
		t.Errorf("targeted %d, accounted %d", s.Targeted, s.Total(""))
	}
	var n int
	b.db.SQL().QueryRow("SELECT COUNT(*) FROM deliveries WHERE customer_id = ? AND reason = 'customer_deleted'", id).Scan(&n)
	if n != 2 {
		t.Errorf("%d skipped rows for the deleted customer, want 2", n)
	}
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// A run whose own task was archived while it paged is failed by the
// reconciler. `tidings resume` (Revive) deletes the archived task before it
// revives the run, so a sweeper tick right after cannot fail it again, and
// the new run task pages the audience.
func TestReviveFailedRun(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 50)
	ctx := context.Background()
	c := b.cfg.Campaigns["greeting"]
	queue := delivery.QueueFor(c.Priority)
	b.db.SetClock(func() time.Time { return time.Now().Add(-10 * time.Minute) }) // started long ago: stale
	if _, err := b.db.BeginRun(ctx, "greeting", "r3", queue); err != nil {
		t.Fatal(err)
	}
	b.db.SetClock(nil)
	if _, err := delivery.EnqueueRun(ctx, b.client, c, "r3"); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(b.redis.Opt())
	defer insp.Close()
	if err := insp.ArchiveTask(queue, delivery.RunTaskID("greeting", "r3")); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tick := func() {
		if err := delivery.Reconcile(ctx, b.db, insp, b.client, delivery.StaleAfter, 3, log); err != nil {
			t.Fatal(err)
		}
	}
	tick()
	if r, _ := b.db.GetRun(ctx, "greeting", "r3"); r.Status != store.RunFailed {
		t.Fatalf("setup: run %s, want failed", r.Status)
	}

	n, repaged, err := delivery.Revive(ctx, b.db, insp, b.client, c, "r3", 3)
	if err != nil || n != 0 || !repaged {
		t.Fatalf("revive: %d %v %v", n, repaged, err)
	}
	tick() // the sweeper, at once
	if r, _ := b.db.GetRun(ctx, "greeting", "r3"); r.Status != store.RunRunning {
		t.Fatalf("after revive and a sweep: run %s, want running", r.Status)
	}
	b.startWorker(t, 2)
	sum := b.waitDone(t, "greeting", "r3", time.Minute)
	if sum.Targeted == 0 || sum.Total("") != sum.Targeted || sum.Total(store.StatusFailed) != 0 {
		t.Errorf("revived run: targeted %d, counts %+v", sum.Targeted, sum.Counts)
	}
}

// The run task run again after Redis lost everything (the demo's
// in-process Redis on its next start, a Redis without persistence)
// enqueues the run's unfinished batches at once, not when the reconciler
// notices them minutes later; the finished ones are not sent again.
func TestRunAgainAfterRedisLostItsTasks(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 1200)
	b.cfg.Settings.Delivery.BatchSize = 100
	ctx := context.Background()
	c := b.cfg.Campaigns["announce"]
	task := asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"announce","occurrence":"once"}`))
	if err := b.pipeline.HandleRun(ctx, task); err != nil {
		t.Fatal(err)
	}
	// Three batches are delivered, then Redis loses every task.
	insp := asynq.NewInspector(b.redis.Opt())
	defer insp.Close()
	pending, err := insp.ListPendingTasks(delivery.QueueFor(c.Priority), asynq.PageSize(100))
	if err != nil || len(pending) < 5 {
		t.Fatalf("%d pending batch tasks %v, want several", len(pending), err)
	}
	for _, ti := range pending[:3] {
		if err := b.pipeline.HandleBatch(ctx, asynq.NewTask(ti.Type, ti.Payload)); err != nil {
			t.Fatal(err)
		}
	}
	sentBefore := b.sender.total.Load()
	rdb := b.redis.Client(t)
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	if err := b.pipeline.HandleRun(ctx, task); err != nil {
		t.Fatal(err)
	}
	// Read off Redis itself: the Inspector no longer knows the queue (an
	// asynq.Client registers a queue's name once per process, so it is not
	// written again after the loss; servers find their queues by name).
	again, err := rdb.LLen(ctx, "asynq:{"+delivery.QueueFor(c.Priority)+"}:pending").Result()
	if err != nil || int(again) != len(pending)-3 {
		t.Fatalf("%d batch tasks after the run task ran again %v, want the %d unfinished", again, err, len(pending)-3)
	}
	b.startWorker(t, 4)
	sum := b.waitDone(t, "announce", "once", 30*time.Second) // the reconciler would take minutes
	for id, n := range b.sender.sends {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
	if sum.Total(store.StatusSent) != b.sender.total.Load() || b.sender.total.Load() <= sentBefore {
		t.Errorf("ledger %d sent, sender %d (%d before the loss)", sum.Total(store.StatusSent), b.sender.total.Load(), sentBefore)
	}
}
