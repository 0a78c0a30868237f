package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/syncbuf"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// handBacks counts a pipeline's OnHandBack calls by task kind.
type handBacks struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *handBacks) add(task, campaign, missing string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[task+" "+campaign+" "+missing]++
}

func (h *handBacks) get(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[key]
}

// without returns a copy of the bundle's pipeline whose configuration lacks
// the campaign, logging to log.
func (b *bundle) without(campaign string, log io.Writer) (*delivery.Pipeline, *campaigns.Config) {
	cfg := *b.cfg
	cfg.Campaigns = map[string]*campaigns.Campaign{}
	for name, c := range b.cfg.Campaigns {
		if name != campaign {
			cfg.Campaigns[name] = c
		}
	}
	p := &delivery.Pipeline{
		Store: b.db, Client: b.client,
		Config:    func() *campaigns.Config { return &cfg },
		Templates: b.pipeline.Templates,
		Senders:   b.pipeline.Senders,
		Signer:    b.pipeline.Signer,
		Log:       slog.New(slog.NewTextHandler(log, nil)),
	}
	return p, &cfg
}

func startWorkerOf(t *testing.T, b *bundle, p *delivery.Pipeline, concurrency int) {
	t.Helper()
	srv := asynq.NewServer(b.redis.Opt(), delivery.ServerConfig(concurrency, slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err := srv.Start(p.Mux()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A rolling deploy: one worker runs a configuration without the campaign,
// the other one with it, on the same Redis and database, and the sweeper
// runs. The worker without it meets the run task and then every batch
// first, and hands each back (a warning, a metric, no retry used up); the
// other worker delivers them all. Nobody fails.
func TestRollingDeployHandsBackUnknownCampaign(t *testing.T) {
	b := setup(t, store.Postgres)
	b.cfg.Settings.Delivery.BatchSize = 50
	customers := addCustomers(t, b.db, 600)
	ctx := context.Background()
	logs := &syncbuf.Buffer{}
	old, _ := b.without("greeting", logs)
	counted := &handBacks{}
	old.OnHandBack = counted.add
	startWorkerOf(t, b, old, 2)

	const run = "2027-02-06"
	if ok, err := delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns["greeting"], run); !ok || err != nil {
		t.Fatalf("enqueue: %v %v", ok, err)
	}
	insp := asynq.NewInspector(b.redis.Opt())
	defer insp.Close()
	queue := delivery.QueueFor(b.cfg.Campaigns["greeting"].Priority)
	met := func(id string) bool {
		info, err := insp.GetTaskInfo(queue, id)
		return err == nil && info.LastErr != ""
	}
	waitFor(t, "the old worker to meet the run task", 10*time.Second, func() bool { return met(delivery.RunTaskID("greeting", run)) })
	if info, err := insp.GetTaskInfo(queue, delivery.RunTaskID("greeting", run)); err != nil {
		t.Fatal(err)
	} else if info.State == asynq.TaskStateArchived || info.Retried != 0 {
		t.Errorf("the run task after the old worker: %s, retried %d; want it handed back with no retry used", info.State, info.Retried)
	}
	if counted.get("run greeting campaign") == 0 {
		t.Error("no run hand-back counted")
	}
	// The run is paged (as the new worker would), and the old worker meets
	// every batch before the new one starts.
	if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"greeting","occurrence":"`+run+`"}`))); err != nil {
		t.Fatal(err)
	}
	batches, err := b.db.RunBatches(ctx, "greeting", run)
	if err != nil || len(batches) < 10 {
		t.Fatalf("%d batches %v, want at least 10", len(batches), err)
	}
	waitFor(t, "the old worker to meet every batch", 20*time.Second, func() bool {
		for _, bt := range batches {
			if !met(delivery.BatchTaskID(bt.Campaign, bt.Run, bt.FirstID())) {
				return false
			}
		}
		return true
	})
	for _, bt := range batches {
		info, err := insp.GetTaskInfo(queue, delivery.BatchTaskID(bt.Campaign, bt.Run, bt.FirstID()))
		if err != nil {
			t.Fatal(err)
		}
		if info.State == asynq.TaskStateArchived || info.Retried != 0 {
			t.Errorf("batch %d after the old worker: %s, retried %d; want it handed back with no retry used", bt.FirstID(), info.State, info.Retried)
		}
	}
	if n := counted.get("batch greeting campaign"); n < len(batches) {
		t.Errorf("%d batch hand-backs counted, want at least %d", n, len(batches))
	}

	// The new worker, and the sweeper, which abandons any batch Asynq archived.
	startWorkerOf(t, b, b.pipeline, 2)
	sweep, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		for sweep.Err() == nil {
			delivery.Reconcile(sweep, b.db, insp, b.client, 0, 3, quiet)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	sum := b.waitDone(t, "greeting", run, time.Minute)

	eligible := 0
	for _, c := range customers {
		if ch := expectFirst(t, b.db, c); ch == "sms" || ch == "email" {
			eligible++
		}
	}
	if f := sum.Total(store.StatusFailed); f != 0 {
		t.Errorf("%d failed, want 0: %+v", f, sum.Counts)
	}
	if sum.Total(store.StatusSent) != int64(eligible) || b.sender.total.Load() != int64(eligible) || sum.Total("") != sum.Targeted {
		t.Errorf("sent %d (sender %d), eligible %d; targeted %d, accounted %d", sum.Total(store.StatusSent), b.sender.total.Load(), eligible, sum.Targeted, sum.Total(""))
	}
	for id, n := range b.sender.sends {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "campaign=greeting") && strings.Contains(line, "run="+run) &&
			strings.Contains(line, "deploy the configuration that has it to every worker") {
			warned = true
			break
		}
	}
	if !warned {
		t.Errorf("no warning naming the campaign, the run and what to do in:\n%.2000s", logs.String())
	}
}

// A worker whose templates lack the campaign's template, or its SMS
// message, hands the batch back before it claims anyone, rather than
// failing each recipient on a template error; with
// delivery.unknown_campaign_grace: 0 it gives the batch up at once.
func TestBatchHandedBackWithoutItsTemplate(t *testing.T) {
	sets := map[string]fstest.MapFS{
		"no template": {"other/sms.txt": {Data: []byte("hi")}},
		"no sms message": {
			"greeting/email.subject.txt": {Data: []byte("Happy new year")},
			"greeting/email.txt":         {Data: []byte("Happy new year, {{.Customer.Name}}")},
		},
	}
	for name, fsys := range sets {
		t.Run(name, func(t *testing.T) {
			b := setup(t, store.SQLite)
			addCustomers(t, b.db, 100)
			ctx := context.Background()
			if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"greeting","occurrence":"r1"}`))); err != nil {
				t.Fatal(err)
			}
			set, err := templates.LoadFS(fsys)
			if err != nil {
				t.Fatal(err)
			}
			b.pipeline.Templates = func() *templates.Set { return set }
			counted := &handBacks{}
			b.pipeline.OnHandBack = counted.add
			batches, _ := b.db.RunBatches(ctx, "greeting", "r1")
			if len(batches) != 1 {
				t.Fatalf("%d batches, want 1", len(batches))
			}
			payload, _ := json.Marshal(delivery.BatchPayload{Campaign: "greeting", Occurrence: "r1", FirstID: batches[0].FirstID()})
			task := asynq.NewTask(delivery.TypeBatch, payload)
			isFailure := delivery.ServerConfig(1, slog.New(slog.NewTextHandler(io.Discard, nil))).IsFailure
			err = b.pipeline.HandleBatch(ctx, task)
			if err == nil || isFailure(err) || errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), `campaign "greeting"`) {
				t.Errorf("HandleBatch: %v; want it handed back, naming the campaign", err)
			}
			if counted.get("batch greeting template") != 1 {
				t.Errorf("hand-backs %v, want one for the template", counted.n)
			}
			s, _ := b.db.RunSummaryOf(ctx, "greeting", "r1")
			if s.Total("") != 0 || b.sender.total.Load() != 0 {
				t.Errorf("%d ledger rows, %d sent; want none", s.Total(""), b.sender.total.Load())
			}

			b.cfg.Settings.Delivery.UnknownCampaignGrace = 0
			if err := b.pipeline.HandleBatch(ctx, task); !errors.Is(err, asynq.SkipRetry) {
				t.Errorf("with no grace: %v, want it given up", err)
			}
		})
	}
}

// A paused run's batch, met by a worker without its campaign, waits with
// the run like any other: however long the pause, it is not handed back
// and never given up (here with no grace at all).
func TestPausedRunsBatchWaitsOnAWorkerWithoutItsCampaign(t *testing.T) {
	b := setup(t, store.SQLite)
	addCustomers(t, b.db, 50)
	ctx := context.Background()
	if err := b.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"greeting","occurrence":"r1"}`))); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.PauseRun(ctx, "greeting", "r1", "circuit breaker"); err != nil {
		t.Fatal(err)
	}
	old, cfg := b.without("greeting", io.Discard)
	cfg.Settings.Delivery.UnknownCampaignGrace = 0
	counted := &handBacks{}
	old.OnHandBack = counted.add
	batches, _ := b.db.RunBatches(ctx, "greeting", "r1")
	payload, _ := json.Marshal(delivery.BatchPayload{Campaign: "greeting", Occurrence: "r1", FirstID: batches[0].FirstID()})
	isFailure := delivery.ServerConfig(1, slog.New(slog.NewTextHandler(io.Discard, nil))).IsFailure
	err := old.HandleBatch(ctx, asynq.NewTask(delivery.TypeBatch, payload))
	if err == nil || isFailure(err) || errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "run_paused") {
		t.Errorf("HandleBatch: %v; want it to wait with the paused run", err)
	}
	if len(counted.n) != 0 {
		t.Errorf("hand-backs %v, want none", counted.n)
	}
}
