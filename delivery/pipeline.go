package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/sms"
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

	breaker breaker
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
// follow-up has its own template and audience), or an error that archives
// the task: retrying cannot make a deleted campaign appear.
func (p *Pipeline) campaign(name, run string) (*campaigns.Campaign, error) {
	c := p.Config().Campaigns[name]
	if c == nil {
		return nil, fmt.Errorf("campaign %q is not in the configuration: %w", name, asynq.SkipRetry)
	}
	// A follow-up run of a follow-up the campaign no longer has (removed by
	// a reload, or a typo in `tidings send`) must not fall back to sending
	// the launch to the whole segment.
	if named, exists := c.IsFollowUpRun(run); named && !exists {
		return nil, fmt.Errorf("campaign %q has no %s (follow_ups lists %d): %w", name, run, len(c.FollowUps), asynq.SkipRetry)
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
	c, err := p.campaign(pl.Campaign, pl.Occurrence)
	if err != nil {
		return err
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
	payload, _ := json.Marshal(BatchPayload{Campaign: b.Campaign, Occurrence: b.Run, CustomerIDs: b.CustomerIDs})
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

// step is one ledger row a batch will write for a recipient: a send, or a
// skip with its reason.
type step struct {
	channel string
	address string
	skip    string
	// notAfter is the end of the recipient's send window (pipeline clock),
	// zero when the campaign has none.
	notAfter time.Time
}

// plan decides a recipient's channels. delivery: first sends on the first
// channel the customer can receive and, when there is none, writes one
// skipped row on the first listed channel with every channel's reason;
// delivery: all writes a row per channel.
func (p *Pipeline) plan(c *campaigns.Campaign, cust customer.Customer, suppressed map[string]map[string]string, capped func(channel string) string) []step {
	var steps []step
	for _, ch := range c.Channels {
		st := step{channel: ch}
		var granted bool
		st.address, granted = Contact(cust, ch)
		// A suppression is checked before consent: an opt-out (a STOP
		// reply, an unsubscribe link) also withdraws consent, and its own
		// reason says more than no_consent.
		why, isSuppressed := suppressed[ch][st.address]
		switch {
		case st.address == "":
			st.skip = "no_address"
		case isSuppressed:
			st.skip = "suppressed: " + why
		case !granted:
			st.skip = "no_consent"
		default:
			st.skip = capped(ch)
		}
		steps = append(steps, st)
	}
	if c.Delivery == campaigns.DeliveryAll {
		return steps
	}
	var reasons []string
	for _, st := range steps {
		if st.skip == "" {
			return []step{st}
		}
		reasons = append(reasons, st.channel+" "+st.skip)
	}
	first := steps[0]
	if len(steps) > 1 {
		first.skip = strings.Join(reasons, "; ")
	}
	return []step{first}
}

// suppressions loads, in one query per channel, which of the batch's
// addresses are suppressed. On loopback this measures the same as a lookup
// per recipient; against a database across a network it saves a round trip
// per recipient.
func (p *Pipeline) suppressions(ctx context.Context, c *campaigns.Campaign, custs []customer.Customer) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, ch := range c.Channels {
		var addrs []string
		for _, cu := range custs {
			if a, _ := Contact(cu, ch); a != "" {
				addrs = append(addrs, a)
			}
		}
		m, err := p.Store.SuppressedAmong(ctx, ch, addrs)
		if err != nil {
			return nil, err
		}
		out[ch] = m
	}
	return out, nil
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

// retryLater is returned by a batch that met a retryable provider error:
// Asynq runs the batch again after Wait, and the settled recipients are
// skipped then. Only an attempt that got nowhere uses up one of the batch's
// max_retries (see ServerConfig's IsFailure): a rate limit is a wait, and an
// attempt that settled recipients before a 503 made progress. So the budget
// counts consecutive attempts without progress, and one flaky recipient in a
// batch of 500 cannot exhaust it for the rest.
type retryLater struct {
	Wait       time.Duration
	Err        *channels.Error
	Progressed bool // this attempt settled at least one row
}

func (r *retryLater) Error() string { return "retry later: " + r.Err.Error() }
func (r *retryLater) Unwrap() error { return r.Err }

// HandleBatch delivers one batch. Each recipient's row is claimed before
// the provider is called and settled after; a row that exists already was
// handled by an earlier attempt (or is in flight elsewhere) and is left
// alone. A permanent error fails that recipient only; a retryable one stops
// the batch and retries it later; an ambiguous one settles as unknown.
func (p *Pipeline) HandleBatch(ctx context.Context, t *asynq.Task) error {
	var pl BatchPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil || len(pl.CustomerIDs) == 0 {
		return fmt.Errorf("bad batch payload: %v: %w", err, asynq.SkipRetry)
	}
	c, err := p.campaign(pl.Campaign, pl.Occurrence)
	if err != nil {
		return err
	}
	run, runErr := p.Store.GetRun(ctx, c.Name, pl.Occurrence)
	if runErr == nil && run.Status == store.RunPaused {
		return &retryLater{Wait: pausedWait, Err: channels.Retryable(reasonPaused, pausedWait, errors.New(run.Error)), Progressed: true}
	}
	retried, _ := asynq.GetRetryCount(ctx)
	lastAttempt := retried >= p.Config().Settings.Delivery.MaxRetries
	occurrence := LedgerOccurrence(c, pl.Occurrence)

	custs, err := p.Store.CustomersByID(ctx, pl.CustomerIDs)
	if err != nil {
		return err
	}
	byID := make(map[int64]customer.Customer, len(custs))
	for _, cu := range custs {
		byID[cu.ID] = cu
	}
	// Rows this occurrence already has: from an earlier attempt of this
	// batch, or from an earlier run of a birthday campaign's yearly
	// occurrence. Under delivery: first any row settles the customer, so a
	// consent change between attempts cannot add a second channel.
	existing, err := p.Store.Existing(ctx, c.Name, occurrence, pl.CustomerIDs)
	if err != nil {
		return err
	}
	suppressed, err := p.suppressions(ctx, c, custs)
	if err != nil {
		return err
	}
	// Frequency cap: messages each customer got per channel, from every
	// campaign, within the cap's period. Counted at the start of the batch;
	// two campaigns sending to one customer at the same moment can both pass.
	fcap := c.FrequencyCap
	if fcap.IsZero() {
		fcap = p.Config().Settings.FrequencyCap
	}
	var sentRecently map[int64]map[string]int
	if !fcap.IsZero() {
		if sentRecently, err = p.Store.SentSince(ctx, pl.CustomerIDs, p.now().Add(-fcap.Per)); err != nil {
			return err
		}
	}
	tmpl := p.Templates()
	earlier := 0        // recipients whose row an earlier run of this occurrence wrote
	progressed := false // this attempt wrote a row
	// On the last attempt, a provider that has taken nothing yet is given up
	// on for every remaining recipient at once; one that took messages
	// before failing is worth another attempt.
	sentAny := false
	window, windowed := localWindow(c)
	// A birthday run's share of openings (see BirthdayDue), once per batch.
	var anchor, end time.Time
	birthdayRun := windowed && c.Kind == campaigns.KindBirthday && runErr == nil
	if birthdayRun {
		anchor = BirthdayAnchor(c, pl.Occurrence, run.StartedAt)
		end = nextAnchor(c, anchor)
	}
	var waitUntil time.Time // the soonest window opening of a deferred recipient
	deferred := 0           // ledger rows the deferred recipients lack
	for _, id := range pl.CustomerIDs {
		if err := ctx.Err(); err != nil {
			return err // shutting down: nothing more is claimed; the rest is retried
		}
		// Asynq counts a timed-out attempt as failed whatever it did; stop
		// claiming well before the deadline and hand the rest to a retry.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 2*time.Minute {
			return &retryLater{Wait: time.Second, Err: channels.Retryable(channels.ReasonInternal, time.Second, errors.New("batch time is up")), Progressed: progressed}
		}
		key := store.DeliveryKey{Campaign: c.Name, Occurrence: occurrence, CustomerID: id}
		have := existing[id]
		if c.Delivery == campaigns.DeliveryFirst && len(have) > 0 {
			if !ranIn(have, pl.Occurrence) {
				earlier++
			}
			continue
		}
		// Ledger rows this recipient still lacks: one under delivery:
		// first, one per channel without a row under all.
		missing := perCustomer(c)
		if c.Delivery == campaigns.DeliveryAll {
			missing = 0
			for _, ch := range c.Channels {
				if _, ok := have[ch]; !ok {
					missing++
				}
			}
			if missing == 0 {
				// Settled on every channel by an earlier attempt or run.
				for _, r := range have {
					if r != pl.Occurrence {
						earlier++
					}
				}
				continue
			}
		}
		var steps []step
		var notAfter time.Time
		if cust, ok := byID[id]; ok {
			// The window is checked at the moment of sending, whenever the
			// batch runs: a batch run late, retried or moved by hand in
			// asynqmon still sends nobody outside it. Those outside wait,
			// unwritten, for a retry of the batch when the first opens.
			if windowed {
				now, loc := p.now(), RecipientZone(c, cust.TimeZone)
				due := DueAt(c, pl.Occurrence, loc, now)
				if birthdayRun {
					// Not before the window opens on their birthday.
					if at, ok := birthdayDue(c, anchor, end, loc, cust.Birthday.Month, cust.Birthday.Day); ok && at.After(now) {
						due = at
					}
				}
				if due.After(now) {
					if waitUntil.IsZero() || due.Before(waitUntil) {
						waitUntil = due
					}
					deferred += missing
					continue
				}
				notAfter = closesAt(window, loc, now)
			}
			steps = p.plan(c, cust, suppressed, func(ch string) string {
				if !fcap.IsZero() && sentRecently[id][ch] >= fcap.Max {
					return "frequency_cap: " + fcap.String()
				}
				return ""
			})
			for i := range steps {
				steps[i].notAfter = notAfter
			}
		} else {
			// Deleted since the run paged the audience: a skipped row per
			// row the run counted on.
			for _, ch := range c.Channels[:perCustomer(c)] {
				steps = append(steps, step{channel: ch, skip: store.ReasonCustomerDeleted})
			}
		}
		for _, st := range steps {
			key.Channel = st.channel
			if run, ok := have[st.channel]; ok {
				if run != pl.Occurrence {
					earlier++
				}
				continue
			}
			var wrote bool
			if st.skip != "" {
				wrote, err = p.Store.RecordOutcome(ctx, key, pl.Occurrence, store.StatusSkipped, st.skip, st.address)
			} else {
				wrote, err = p.deliver(ctx, c, pl.Occurrence, key, byID[id], st, tmpl, lastAttempt && !sentAny, retried, &sentAny)
			}
			var rl *retryLater
			if errors.As(err, &rl) {
				rl.Progressed = rl.Progressed || progressed
			}
			if err != nil {
				return err
			}
			progressed = progressed || wrote
			if !wrote {
				// Another execution of this batch wrote it meanwhile.
				if d, err := p.Store.GetDelivery(ctx, key); err == nil && d.Run != pl.Occurrence {
					earlier++
				}
			}
		}
	}
	if deferred > 0 {
		wait := waitUntil.Sub(p.now())
		p.Log.Info("recipients outside their send window; the batch waits for it", "campaign", c.Name, "run", pl.Occurrence,
			"first_id", pl.CustomerIDs[0], "deferred", deferred, "until", waitUntil)
		if err := p.Store.DeferBatch(ctx, c.Name, pl.Occurrence, pl.CustomerIDs[0], waitUntil, deferred); err != nil {
			return err
		}
		return &retryLater{Wait: wait, Progressed: true,
			Err: channels.Retryable(channels.ReasonOutsideWindow, wait, fmt.Errorf("%d deliveries wait for the send window", deferred))}
	}
	return p.Store.BatchDone(ctx, c.Name, pl.Occurrence, pl.CustomerIDs[0], earlier)
}

func perCustomer(c *campaigns.Campaign) int {
	if c.Delivery == campaigns.DeliveryAll {
		return len(c.Channels)
	}
	return 1
}

func ranIn(rows map[string]string, run string) bool {
	for _, r := range rows {
		if r == run {
			return true
		}
	}
	return false
}

// deliver claims, renders, sends and settles one row. It reports false when
// the row existed already (this recipient was handled before). giveUp is
// true when a retry now would count against max_retries and none is left:
// a retryable failure then settles as failed.
func (p *Pipeline) deliver(ctx context.Context, c *campaigns.Campaign, run string, key store.DeliveryKey, cust customer.Customer,
	st step, tmpl *templates.Set, giveUp bool, retried int, sent *bool) (bool, error) {
	// Once a row is claimed, its outcome is recorded even if the worker is
	// shutting down: a cancelled context must not leave a sent message
	// looking unsent, or an unsent one looking "sending".
	settleCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	// A claimed row was written, so settling reports true.
	settle := func(status store.Status, reason, providerID string) (bool, error) {
		return true, p.Store.SettleDelivery(settleCtx, key, status, reason, providerID)
	}
	now := p.now()
	data := p.TemplateData(c, key.Occurrence, cust, st.channel, now)
	coupon := ""
	if data.Coupon != nil {
		coupon = data.Coupon.Code
	}
	claimed, err := p.Store.ClaimDelivery(ctx, key, run, st.address, coupon)
	if err != nil || !claimed {
		return false, err
	}
	msg, err := tmpl.Render(c.Template, st.channel, cust.Locale, data)
	if err != nil {
		return settle(store.StatusFailed, "template: "+err.Error(), "")
	}
	if st.channel == channels.SMS {
		// validate checks a sample customer; this one's name or coupon may
		// make the message longer.
		if limit := c.SMSSegmentLimit(p.Config().Settings.Channels.SMS); limit > 0 {
			if _, _, parts := sms.Segments(msg.Body); parts > limit {
				return settle(store.StatusFailed, string(channels.ReasonSMSTooLong), "")
			}
		}
	}
	m := channels.Message{
		DeliveryID: key.ID(),
		Channel:    st.channel, Campaign: c.Name, Occurrence: key.Occurrence, CustomerID: cust.ID,
		To: st.address, ToName: cust.Name,
		Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Body: msg.Body,
		UnsubscribeURL: data.UnsubscribeURL,
	}
	if !st.notAfter.IsZero() {
		// On the senders' clock (the real one), which p.now may not be.
		m.NotAfter = time.Now().Add(st.notAfter.Sub(now))
	}
	sender := p.Senders[st.channel]
	if sender == nil {
		return settle(store.StatusFailed, "no sender configured for "+st.channel, "")
	}
	providerID, err := sender.Send(ctx, m)
	if err == nil {
		*sent = true
		p.breaker.success(c.Name, run)
		return settle(store.StatusSent, "", providerID)
	}
	ce := channels.Classify(err)
	paused, pauseErr := p.afterFailure(settleCtx, c, run, ce)
	// The recipient's row is settled (or released) first, whatever else
	// goes wrong, so no row is left "sending" for the sweeper.
	err = p.settleFailure(settleCtx, key, st, ce, giveUp && !paused, retried)
	var rl *retryLater
	if err != nil && !errors.As(err, &rl) {
		return true, err
	}
	if pauseErr != nil {
		return true, pauseErr
	}
	if paused {
		// The batch stops and waits with the run.
		return true, &retryLater{Wait: pausedWait, Err: ce, Progressed: true}
	}
	return true, err
}

// settleFailure records a failed send's outcome by its classification.
func (p *Pipeline) settleFailure(settleCtx context.Context, key store.DeliveryKey, st step, ce *channels.Error, giveUp bool, retried int) error {
	settle := func(status store.Status, reason, providerID string) error {
		return p.Store.SettleDelivery(settleCtx, key, status, reason, providerID)
	}
	switch {
	case ce.Reason == channels.ReasonOutsideWindow:
		// The window closes before a rate-limit token is free: nothing
		// left. The batch stops and is retried just after the close, when
		// it defers this recipient (and the others whose window closed) to
		// the next opening and sends to those whose window is still open.
		if err := p.Store.ReleaseDelivery(settleCtx, key); err != nil {
			return err
		}
		wait := max(time.Second, st.notAfter.Sub(p.now())+time.Second)
		return &retryLater{Wait: wait, Err: ce, Progressed: true}
	case ce.Reason == channels.ReasonAuth:
		// Our credentials, not this recipient: the run is paused (above),
		// and this recipient waits with the others.
		if err := p.Store.ReleaseDelivery(settleCtx, key); err != nil {
			return err
		}
		return &retryLater{Wait: pausedWait, Err: ce, Progressed: true}
	case ce.Reason == channels.ReasonUnsubscribed:
		if err := p.Store.Suppress(settleCtx, st.channel, st.address, store.ReasonProviderOptOut); err != nil {
			return err
		}
		return settle(store.StatusSkipped, store.ReasonProviderOptOut, "")
	case ce.Reason == channels.ReasonNoSuchUser:
		if err := p.Store.Suppress(settleCtx, st.channel, st.address, store.ReasonNoSuchUser+": "+ce.Error()); err != nil {
			return err
		}
		return settle(store.StatusFailed, string(ce.Reason), "")
	case ce.Ambiguous:
		return settle(store.StatusUnknown, string(ce.Reason), "")
	case ce.Retryable && (!giveUp || ce.Reason == channels.ReasonRateLimited):
		// A rate limit is a wait, never a reason to give up.
		if err := p.Store.ReleaseDelivery(settleCtx, key); err != nil {
			return err
		}
		return &retryLater{Wait: ce.RetryAfter, Err: ce}
	case ce.Retryable:
		return settle(store.StatusFailed, fmt.Sprintf("gave up after %d retries: %s", retried, ce.Reason), "")
	}
	return settle(store.StatusFailed, string(ce.Reason), "")
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
			ID: cust.ID, ExternalID: cust.ExternalID, Name: cust.Name, Email: cust.Email, Phone: cust.Phone,
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
