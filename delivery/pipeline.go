package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// Pipeline holds what the task handlers need. Config and Templates are
// functions so that a reload can swap them between tasks.
type Pipeline struct {
	Store     *store.DB
	Client    *asynq.Client
	Config    func() *campaigns.Config
	Templates func() *templates.Set
	Senders   map[string]channels.Sender
	Signer    *signing.Signer
	Log       *slog.Logger
	// Now is the clock the handlers decide by; nil is the store's (see
	// store.DB.SetClock), so that the rows it stamps and the decisions
	// agree.
	Now func() time.Time
	// OnHandBack, when set, is called for each task handed back because
	// this worker's configuration lacks its campaign, follow-up or
	// template (see handBack): task is "run" or "batch", missing one of
	// the Missing constants. The worker counts it in a metric.
	OnHandBack func(task, campaign, missing string)

	breaker     breaker
	strangers   strangers
	settlerOnce sync.Once
	settle      *settler
}

// Mux routes the task types to their handlers.
func (p *Pipeline) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeRun, p.HandleRun)
	mux.HandleFunc(TypeBatch, p.HandleBatch)
	return mux
}

func (p *Pipeline) now() time.Time {
	switch {
	case p.Now != nil:
		return p.Now()
	case p.Store != nil:
		return p.Store.Now()
	}
	return time.Now()
}

// campaign returns the named campaign as the run delivers it (a product
// follow-up has its own template and audience), or a *notConfigured when
// this worker's configuration lacks it or the follow-up: the caller hands
// the task back (see handBack), since another worker may know it.
func (p *Pipeline) campaign(name, run string) (*campaigns.Campaign, *notConfigured) {
	c := p.Config().Campaigns[name]
	if c == nil {
		return nil, &notConfigured{Missing: MissingCampaign, Campaign: name, Run: run,
			msg: fmt.Sprintf("campaign %q is not in this worker's configuration", name)}
	}
	// A follow-up run of a follow-up the campaign no longer has (removed by
	// a reload, added by a configuration this worker does not have yet, or
	// a typo in `tidings send`) must not fall back to sending the launch to
	// the whole segment.
	if named, exists := c.IsFollowUpRun(run); named && !exists {
		return nil, &notConfigured{Missing: MissingFollowUp, Campaign: name, Run: run,
			msg: fmt.Sprintf("campaign %q has no %s in this worker's configuration (follow_ups lists %d)", name, run, len(c.FollowUps))}
	}
	return c.ForRun(run), nil
}

// LedgerOccurrence is the occurrence ledger rows are unique by. A birthday
// campaign runs daily, but each customer gets one gift a year, so its runs
// (dates) share the year as their occurrence.
func LedgerOccurrence(c *campaigns.Campaign, run string) string {
	if c.Kind == campaigns.KindBirthday && len(run) >= 4 {
		return run[:4]
	}
	return run
}

// HandleRun pages the campaign's audience by keyset and enqueues its
// batches (see pager). Each batch is recorded, with its customer ids, before
// it is enqueued under a deterministic id; a retried or repeated run task
// re-enqueues the recorded batches unchanged and batches only the audience
// they do not hold, so a change to the audience meanwhile cannot shift a
// page and drop someone. The audience is evaluated at the run's recorded
// start.
func (p *Pipeline) HandleRun(ctx context.Context, t *asynq.Task) error {
	var pl RunPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("bad run payload: %v: %w", err, asynq.SkipRetry)
	}
	c, nc := p.campaign(pl.Campaign, pl.Occurrence)
	if nc != nil {
		return p.handBack(ctx, "run", nc)
	}
	log := p.Log.With("campaign", c.Name, "run", pl.Occurrence)
	queue := QueueFor(c.Priority)
	run, err := p.Store.BeginRun(ctx, c.Name, pl.Occurrence, queue)
	if err != nil {
		return err
	}
	if run.Paged || run.Status == store.RunFailed {
		if run.Status == store.RunSending || run.Status == store.RunPaused {
			// The run task again, in a Redis that lost the batches' tasks
			// (the demo's in-process Redis after a restart, a Redis
			// without persistence): its pending batches are enqueued
			// again now rather than when the reconciler notices them.
			// Those whose tasks are there are left be.
			if err := p.reenqueuePending(ctx, c.Name, pl.Occurrence); err != nil {
				return err
			}
		}
		log.Info("run already enqueued", "status", run.Status)
		return nil
	}
	recorded, err := p.Store.RunBatches(ctx, c.Name, pl.Occurrence)
	if err != nil {
		return err
	}
	var done map[int64]bool // the recipients of recorded batches
	for _, b := range recorded {
		if err := p.enqueueBatch(ctx, b); err != nil {
			return err
		}
		if done == nil {
			done = map[int64]bool{}
		}
		for _, id := range b.CustomerIDs {
			done[id] = true
		}
	}
	// The audience as of the run's start; a birthday run with a send window
	// picks its candidates around its anchor (see BirthdayDue), so that a
	// run that starts late selects the same people.
	audienceAt, anchor := run.StartedAt, time.Time{}
	if c.Kind == campaigns.KindBirthday && Windowed(c) {
		anchor = BirthdayAnchor(c, run.Occurrence, run.StartedAt)
		audienceAt = anchor
	}
	aud, err := p.Store.Compile(ctx, c.Condition(), store.AudienceOptions{Now: audienceAt, DefaultZone: c.Schedule.Location})
	if err != nil {
		return err
	}
	pager := p.pager(c, run, queue, anchor)
	var after int64
	for {
		page, err := p.Store.AudienceLocals(ctx, aud, after, pager.size)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		if done != nil {
			page = slices.DeleteFunc(page, func(l store.Local) bool { return done[l.ID] })
		}
		full := pager.add(page)
		if err := p.addBatches(ctx, full); err != nil {
			return err
		}
	}
	if err := p.addBatches(ctx, pager.rest()); err != nil {
		return err
	}
	if err := p.Store.RunEnqueued(ctx, c.Name, pl.Occurrence); err != nil {
		return err
	}
	log.Info("run enqueued", "batches", len(recorded)+pager.batches)
	return nil
}

// reenqueuePending enqueues a run's pending batches whose tasks are missing.
func (p *Pipeline) reenqueuePending(ctx context.Context, campaign, run string) error {
	batches, err := p.Store.PendingBatches(ctx, campaign, run)
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := p.enqueueBatch(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// addBatches records batches, all or none, then enqueues them.
func (p *Pipeline) addBatches(ctx context.Context, bs []store.Batch) error {
	if len(bs) == 0 {
		return nil
	}
	if err := p.Store.AddBatches(ctx, bs); err != nil {
		return err
	}
	for _, b := range bs {
		if err := p.enqueueBatch(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// enqueueBatch enqueues a recorded batch; one already enqueued is left be.
func (p *Pipeline) enqueueBatch(ctx context.Context, b store.Batch) error {
	return enqueueBatch(ctx, p.Client, b, p.Config().Settings.Delivery.MaxRetries, p.now())
}

// enqueueBatch enqueues b to be processed at b.NotBefore on the clock now
// is read from (the pipeline's or the store's, which tests may set).
func enqueueBatch(ctx context.Context, client *asynq.Client, b store.Batch, maxRetries int, now time.Time) error {
	payload, _ := json.Marshal(BatchPayload{Campaign: b.Campaign, Occurrence: b.Run, FirstID: b.FirstID()})
	opts := []asynq.Option{asynq.TaskID(BatchTaskID(b.Campaign, b.Run, b.FirstID())), asynq.Queue(b.Queue),
		asynq.MaxRetry(asynqMaxRetry(maxRetries)), asynq.Retention(retention), asynq.Timeout(batchTimeout)}
	if !b.NotBefore.IsZero() {
		// As a wait, not an instant: Asynq compares instants with the real
		// clock, which the pipeline's may not be. A wait of zero or less
		// is processed at once.
		opts = append(opts, asynq.ProcessIn(b.NotBefore.Sub(now)))
	}
	_, err := client.EnqueueContext(ctx, asynq.NewTask(TypeBatch, payload), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue batch: %w", err)
	}
	return nil
}

// pager cuts a run's audience into batches. Without a send window a page
// of the audience is a batch. With one, recipients are grouped by when
// their window opens (in practice, by time zone), each group is cut into
// batches of batch_size, and each batch is enqueued to be processed then.
type pager struct {
	c       *campaigns.Campaign
	run     string
	queue   string
	size    int
	now     time.Time
	anchor  time.Time         // a birthday run's scheduled time (see BirthdayAnchor)
	end     time.Time         // the next day's run's
	groups  map[int64][]int64 // due (Unix seconds, 0: now) → customer ids, in id order
	batches int
}

// pager batches a run's audience; anchor is a windowed birthday run's (see
// BirthdayAnchor), zero for any other.
func (p *Pipeline) pager(c *campaigns.Campaign, run store.Run, queue string, anchor time.Time) *pager {
	g := &pager{c: c, run: run.Occurrence, queue: queue, size: p.Config().Settings.Delivery.BatchSize,
		now: p.now(), groups: map[int64][]int64{}}
	if !anchor.IsZero() {
		g.anchor, g.end = anchor, nextAnchor(c, anchor)
	}
	return g
}

func (g *pager) batch(ids []int64, due int64) store.Batch {
	g.batches++
	b := store.Batch{Campaign: g.c.Name, Run: g.run, CustomerIDs: ids, PerCustomer: perCustomer(g.c), Queue: g.queue}
	if due != 0 {
		b.NotBefore = time.Unix(due, 0)
	}
	return b
}

// add takes a page of the audience and returns the batches it filled.
func (g *pager) add(page []store.Local) []store.Batch {
	if len(page) == 0 {
		return nil
	}
	if !Windowed(g.c) {
		ids := make([]int64, len(page))
		for i, l := range page {
			ids[i] = l.ID
		}
		return []store.Batch{g.batch(ids, 0)}
	}
	var full []store.Batch
	for _, l := range page {
		id := l.ID
		loc := RecipientZone(g.c, l.Zone)
		var at time.Time
		if g.c.Kind == campaigns.KindBirthday {
			var ours bool
			if at, ours = birthdayDue(g.c, g.anchor, g.end, loc, l.BirthMonth, l.BirthDay); !ours {
				continue // the day before's run or the next day's greets them
			}
			if at.Before(g.now) { // a run retried late
				at = DueAt(g.c, g.run, loc, g.now)
			}
		} else {
			at = DueAt(g.c, g.run, loc, g.now)
		}
		var due int64
		if at.After(g.now) {
			due = at.Unix()
		}
		g.groups[due] = append(g.groups[due], id)
		if len(g.groups[due]) == g.size {
			full = append(full, g.batch(g.groups[due], due))
			delete(g.groups, due)
		}
	}
	return full
}

// rest returns the batches of the groups not yet full, soonest first.
func (g *pager) rest() []store.Batch {
	var out []store.Batch
	for _, due := range slices.Sorted(maps.Keys(g.groups)) {
		out = append(out, g.batch(g.groups[due], due))
	}
	clear(g.groups)
	return out
}

// batchTimeout bounds one attempt at a batch.
const batchTimeout = 30 * time.Minute

// asynqMaxRetry is one more than max_retries. Asynq archives a task whose
// retry count has reached MaxRetry before it asks IsFailure, so a wait (a
// paused run, a rate limit) on the last counted attempt would archive the
// batch; with one spare, the handler itself decides when it has given up.
func asynqMaxRetry(maxRetries int) int { return maxRetries + 1 }

func perCustomer(c *campaigns.Campaign) int {
	if c.Delivery == campaigns.DeliveryAll {
		return len(c.Channels)
	}
	return 1
}

// reasonPaused is the retry reason of a batch whose run is paused.
const reasonPaused channels.Reason = "run_paused"

// afterFailure pauses the run when the provider refuses our credentials, or
// when the circuit breaker has seen break_after provider failures in a row:
// thousands of recipients are better kept waiting than failed one by one.
// Failures that belong to one recipient (a bad number, an opt-out) do not
// count. The count is per worker process; the pause is for the whole run.
// It reports whether the run is paused now (by this failure or by another
// worker), so the batch stops.
func (p *Pipeline) afterFailure(ctx context.Context, c *campaigns.Campaign, run string, ce *channels.Error) (bool, error) {
	switch ce.Reason {
	case channels.ReasonOutsideWindow:
		return false, nil // no provider was asked
	case channels.ReasonInvalidAddress, channels.ReasonNoSuchUser, channels.ReasonUnsubscribed, channels.ReasonRateLimited:
		p.breaker.success(c.Name, run) // the provider answered: it is up
		return false, nil
	case channels.ReasonAuth:
		return true, p.pause(ctx, c.Name, run, "the provider refused our credentials: "+ce.Error())
	}
	limit := p.Config().Settings.Channels.BreakAfter
	if n := p.breaker.failure(c.Name, run); limit > 0 && n >= limit {
		p.breaker.success(c.Name, run)
		return true, p.pause(ctx, c.Name, run, fmt.Sprintf("circuit breaker: %d provider failures in a row, the last: %s", n, ce.Error()))
	}
	// Another worker may have paused the run meanwhile.
	r, err := p.Store.GetRun(ctx, c.Name, run)
	return err == nil && r.Status == store.RunPaused, nil
}

// pausedWait is how often a paused run's batches look whether it resumed.
const pausedWait = 15 * time.Second

func (p *Pipeline) pause(ctx context.Context, campaign, run, reason string) error {
	paused, err := p.Store.PauseRun(ctx, campaign, run, reason)
	if paused {
		p.Log.Error("run paused; resume it with `tidings resume`", "campaign", campaign, "run", run, "reason", reason)
	}
	return err
}

// breaker counts consecutive provider failures per run, in this process.
type breaker struct {
	mu     sync.Mutex
	counts map[string]int
}

func (b *breaker) failure(campaign, run string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.counts == nil {
		b.counts = map[string]int{}
	}
	b.counts[campaign+"\x00"+run]++
	return b.counts[campaign+"\x00"+run]
}

func (b *breaker) success(campaign, run string) {
	b.mu.Lock()
	delete(b.counts, campaign+"\x00"+run)
	b.mu.Unlock()
}

// TemplateData is what a recipient's templates render with: the customer, the
// coupon derived for them, their unsubscribe link, their zone.
func (p *Pipeline) TemplateData(c *campaigns.Campaign, occurrence string, cust customer.Customer, channel string, now time.Time) templates.Data {
	settings := p.Config().Settings
	zone := RecipientZone(c, cust.TimeZone)
	d := templates.Data{
		Customer: templates.Customer{
			// One line: a name written to the database around the import's
			// checks would otherwise fail its email's subject, or split it.
			ID: cust.ID, ExternalID: cust.ExternalID, Name: customer.OneLine(cust.Name), Email: cust.Email, Phone: cust.Phone,
			Locale: cust.Locale, Tier: string(cust.Tier), Birthday: cust.Birthday, Attributes: cust.Attributes,
		},
		Campaign: c.Name, Occurrence: occurrence, Brand: settings.Brand, Now: now, Zone: zone,
		UnsubscribeURL: settings.PublicURL + "/u/" + p.Signer.UnsubscribeToken(cust.ID, channel),
	}
	if c.Gift != nil && c.Gift.Coupon != nil {
		cp := c.Gift.Coupon
		d.Coupon = &templates.Coupon{
			Code:   p.Signer.Coupon(cp.Prefix, c.Name, c.CouponOccurrence(occurrence), cust.ID),
			Amount: cp.Amount, Currency: cp.Currency,
			ValidUntil: now.In(zone).AddDate(0, 0, cp.ValidDays),
		}
	}
	return d
}
