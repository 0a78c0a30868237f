package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
)

// HandleBatch delivers one batch, in four stages:
//
//   - gather loads the batch's customers and, for them, the ledger rows,
//     suppressions and frequency-cap counts (a query each);
//   - plan decides who is sent to, skipped or waits (no I/O);
//   - send claims the sends a chunk at a time (one statement per chunk,
//     the skips in the first one's transaction), sends the claims over
//     bounded concurrency, and settles their outcomes in groups;
//   - the batch is then done, or waits for its next run: recipients
//     outside their window, rows deferred for a retry, claims of an
//     attempt that may still be sending.
//
// Each row is claimed before its provider is called, and a row that
// exists already is never sent again: that is what makes each send happen
// at most once, whatever the workers do.
func (p *Pipeline) HandleBatch(ctx context.Context, t *asynq.Task) error {
	b, err := p.loadBatch(ctx, t)
	if err != nil {
		return err
	}
	if b.runRecord.Status == store.RunPaused {
		return &retryLater{Wait: pausedWait, Err: channels.Retryable(reasonPaused, pausedWait, errors.New(b.runRecord.Error))}
	}
	in, err := p.gather(ctx, b)
	if err != nil {
		return err
	}
	bp := plan(in)
	res, err := p.send(ctx, b, &bp)
	if err != nil {
		return err
	}
	if res.halt != nil {
		return res.halt
	}
	if res.deferred > 0 {
		bp.Held += res.deferred
		bp.wake(res.retryAt)
	}
	if res.taken > 0 {
		// Another execution of this batch wrote rows after this one
		// planned (its lease had expired, say): it may still be sending
		// them. The batch runs again and plans with them.
		bp.Held += res.taken
		bp.wake(p.now().Add(time.Second))
	}
	if bp.Waiting > 0 || bp.Held > 0 {
		wait := bp.WakeAt.Sub(p.now())
		p.Log.Info("the batch waits: recipients outside their send window, or rows to retry", "campaign", b.c.Name, "run", b.run,
			"first_id", b.firstID, "deferred", bp.Waiting, "retrying", bp.Held, "until", bp.WakeAt)
		if err := p.Store.DeferBatch(ctx, b.c.Name, b.run, b.firstID, bp.WakeAt, bp.Waiting); err != nil {
			return err
		}
		reason := channels.ReasonOutsideWindow
		if bp.Waiting == 0 {
			reason = reasonRetrying
		}
		return &retryLater{Wait: wait, Err: channels.Retryable(reason, wait, fmt.Errorf("%d deliveries wait for the send window, %d to be retried", bp.Waiting, bp.Held))}
	}
	return p.Store.BatchDone(ctx, b.c.Name, b.run, b.firstID, bp.Earlier)
}

func swept(rs []store.Resolution) int {
	n := 0
	for _, r := range rs {
		if r.Status == store.StatusUnknown {
			n++
		}
	}
	return n
}

// reasonRetrying is the retry reason of a batch whose rows wait for a retry.
const reasonRetrying channels.Reason = "recipients_to_retry"

// batch is one batch task's work.
type batch struct {
	c          *campaigns.Campaign
	run        string // the run
	occurrence string // its ledger occurrence (see LedgerOccurrence)
	firstID    int64
	ids        []int64
	runRecord  store.Run
	runErr     error // loading runRecord
}

// loadBatch reads a batch task: its campaign, and its customer ids from
// the batch's record (a task carries no ids: the database holds them).
func (p *Pipeline) loadBatch(ctx context.Context, t *asynq.Task) (*batch, error) {
	var pl BatchPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil || (pl.FirstID == 0 && len(pl.CustomerIDs) == 0) {
		return nil, fmt.Errorf("bad batch payload: %v: %w", err, asynq.SkipRetry)
	}
	c, nc := p.campaign(pl.Campaign, pl.Occurrence)
	if nc == nil {
		nc = p.checkTemplate(c, pl.Occurrence)
	}
	if nc != nil {
		// A paused run's batches wait with it whoever takes them: a pause
		// of any length is no time this worker failed to know the campaign.
		if r, err := p.Store.GetRun(ctx, pl.Campaign, pl.Occurrence); err == nil && r.Status == store.RunPaused {
			return nil, &retryLater{Wait: pausedWait, Err: channels.Retryable(reasonPaused, pausedWait, errors.New(r.Error))}
		}
		return nil, p.handBack(ctx, "batch", nc)
	}
	b := &batch{c: c, run: pl.Occurrence, occurrence: LedgerOccurrence(c, pl.Occurrence), firstID: pl.FirstID, ids: pl.CustomerIDs}
	if len(b.ids) > 0 {
		b.firstID = b.ids[0] // a task enqueued before batches were recorded by id
	} else {
		rec, err := p.Store.GetBatch(ctx, c.Name, pl.Occurrence, pl.FirstID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("batch %s of %s %s is not in the database: %w", BatchTaskID(c.Name, pl.Occurrence, pl.FirstID), c.Name, pl.Occurrence, asynq.SkipRetry)
		}
		if err != nil {
			return nil, err
		}
		b.ids = rec.CustomerIDs
	}
	b.runRecord, b.runErr = p.Store.GetRun(ctx, c.Name, pl.Occurrence)
	return b, nil
}

// gather loads what plan decides from, a query each for the whole batch.
func (p *Pipeline) gather(ctx context.Context, b *batch) (planInput, error) {
	settings := p.Config().Settings
	in := planInput{Campaign: b.c, Run: b.run, IDs: b.ids, Now: p.now(), SendingTimeout: settings.Delivery.SendingTimeout,
		Cap: b.c.FrequencyCap}
	if in.Cap.IsZero() {
		in.Cap = settings.FrequencyCap
	}
	if b.c.Kind == campaigns.KindBirthday && Windowed(b.c) && b.runErr == nil {
		in.Anchor = BirthdayAnchor(b.c, b.run, b.runRecord.StartedAt)
		in.End = nextAnchor(b.c, in.Anchor)
	}
	custs, err := p.Store.CustomersByID(ctx, b.ids)
	if err != nil {
		return in, err
	}
	in.Customers = make(map[int64]customer.Customer, len(custs))
	for _, cu := range custs {
		in.Customers[cu.ID] = cu
	}
	if in.Rows, err = p.Store.LedgerRows(ctx, b.c.Name, b.occurrence, b.ids); err != nil {
		return in, err
	}
	if in.Suppressed, err = p.suppressions(ctx, b.c, custs); err != nil {
		return in, err
	}
	// The frequency cap: messages each customer got per channel, from
	// every campaign, within the cap's period. Counted at the start of the
	// batch; two campaigns sending to one customer at the same moment can
	// both pass.
	if !in.Cap.IsZero() {
		if in.SentRecently, err = p.Store.SentSince(ctx, b.ids, in.Now.Add(-in.Cap.Per)); err != nil {
			return in, err
		}
	}
	return in, nil
}

// suppressions loads, in one query per channel, which of the batch's
// addresses are suppressed.
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

// retryLater is returned by a batch that must run again later: Asynq runs
// it again after Wait (see ServerConfig's RetryDelayFunc), and it is not a
// failure that uses up the batch's retries. A batch waits for a window, a
// rate limit, a paused run or its rows' retries; each recipient's own
// attempts are counted on their ledger row. A batch or run task this
// worker's configuration cannot work is handed back as one too (see
// handBack).
type retryLater struct {
	Wait time.Duration
	Err  *channels.Error
}

func (r *retryLater) Error() string { return "retry later: " + r.Err.Error() }
func (r *retryLater) Unwrap() error { return r.Err }
