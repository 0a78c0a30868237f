package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
	Now       func() time.Time
}

// Mux routes the task types to their handlers.
func (p *Pipeline) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeRun, p.HandleRun)
	mux.HandleFunc(TypeBatch, p.HandleBatch)
	return mux
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// campaign returns the named campaign, or an error that archives the task:
// retrying cannot make a deleted campaign appear.
func (p *Pipeline) campaign(name string) (*campaigns.Campaign, error) {
	c := p.Config().Campaigns[name]
	if c == nil {
		return nil, fmt.Errorf("campaign %q is not in the configuration: %w", name, asynq.SkipRetry)
	}
	return c, nil
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

// HandleRun pages the campaign's audience by keyset and enqueues one batch
// task per page. It can run twice, or be retried half-way: batches are
// recorded and enqueued under deterministic ids, so a repeat adds nothing,
// and the audience is evaluated at the run's recorded start, so a retry
// selects the same customers.
func (p *Pipeline) HandleRun(ctx context.Context, t *asynq.Task) error {
	var pl RunPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("bad run payload: %v: %w", err, asynq.SkipRetry)
	}
	c, err := p.campaign(pl.Campaign)
	if err != nil {
		return err
	}
	log := p.Log.With("campaign", c.Name, "run", pl.Occurrence)
	run, err := p.Store.BeginRun(ctx, c.Name, pl.Occurrence)
	if err != nil {
		return err
	}
	if run.Status != store.RunRunning {
		log.Info("run already enqueued", "status", run.Status)
		return nil
	}
	aud, err := p.Store.Compile(ctx, c.Condition(), store.AudienceOptions{Now: run.StartedAt, DefaultZone: c.Schedule.Location})
	if err != nil {
		return err
	}
	perCustomer := int64(1)
	if c.Delivery == campaigns.DeliveryAll {
		perCustomer = int64(len(c.Channels))
	}
	size := p.Config().Settings.Delivery.BatchSize
	maxRetry := p.Config().Settings.Delivery.MaxRetries
	var after, targeted int64
	batches := 0
	for {
		ids, err := p.Store.AudienceIDs(ctx, aud, after, size)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		if err := p.Store.AddBatch(ctx, c.Name, pl.Occurrence, ids[0], len(ids)); err != nil {
			return err
		}
		payload, _ := json.Marshal(BatchPayload{Campaign: c.Name, Occurrence: pl.Occurrence, CustomerIDs: ids})
		_, err = p.Client.EnqueueContext(ctx, asynq.NewTask(TypeBatch, payload),
			asynq.TaskID(BatchTaskID(c.Name, pl.Occurrence, ids[0])), asynq.Queue(QueueFor(c.Priority)),
			asynq.MaxRetry(maxRetry), asynq.Retention(retention), asynq.Timeout(30*time.Minute))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue batch: %w", err)
		}
		targeted += int64(len(ids)) * perCustomer
		batches++
		after = ids[len(ids)-1]
	}
	if err := p.Store.RunEnqueued(ctx, c.Name, pl.Occurrence, targeted); err != nil {
		return err
	}
	log.Info("run enqueued", "batches", batches, "targeted", targeted)
	return nil
}

// step is one ledger row a batch will write for a recipient: a send, or a
// skip with its reason.
type step struct {
	channel string
	address string
	skip    string
}

// plan decides a recipient's channels. delivery: first sends on the first
// channel the customer can receive and, when there is none, writes one
// skipped row on the first listed channel with every channel's reason;
// delivery: all writes a row per channel.
func (p *Pipeline) plan(ctx context.Context, c *campaigns.Campaign, cust customer.Customer) ([]step, error) {
	var steps []step
	for _, ch := range c.Channels {
		st := step{channel: ch}
		granted := false
		switch ch {
		case channels.Email:
			st.address, granted = cust.Email, cust.EmailConsent.Granted
		case channels.SMS:
			st.address, granted = cust.Phone, cust.SMSConsent.Granted
		}
		switch {
		case st.address == "":
			st.skip = "no_address"
		case !granted:
			st.skip = "no_consent"
		default:
			suppressed, why, err := p.Store.Suppressed(ctx, ch, st.address)
			if err != nil {
				return nil, err
			}
			if suppressed {
				st.skip = "suppressed: " + why
			}
		}
		steps = append(steps, st)
	}
	if c.Delivery == campaigns.DeliveryAll {
		return steps, nil
	}
	var reasons []string
	for _, st := range steps {
		if st.skip == "" {
			return []step{st}, nil
		}
		reasons = append(reasons, st.channel+" "+st.skip)
	}
	first := steps[0]
	if len(steps) > 1 {
		first.skip = strings.Join(reasons, "; ")
	}
	return []step{first}, nil
}

// retryLater is returned by a batch that met a retryable provider error:
// Asynq runs the batch again after Wait, and the settled recipients are
// skipped then. A rate limit is a wait, not a failure: it does not use up
// one of the batch's retries (see IsFailure).
type retryLater struct {
	Wait time.Duration
	Err  *channels.Error
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
	c, err := p.campaign(pl.Campaign)
	if err != nil {
		return err
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, hasMax := asynq.GetMaxRetry(ctx)
	lastAttempt := hasMax && retried >= maxRetry
	occurrence := LedgerOccurrence(c, pl.Occurrence)

	custs, err := p.Store.CustomersByID(ctx, pl.CustomerIDs)
	if err != nil {
		return err
	}
	byID := make(map[int64]customer.Customer, len(custs))
	for _, cu := range custs {
		byID[cu.ID] = cu
	}
	tmpl := p.Templates()
	earlier := 0 // recipients whose row an earlier run of this occurrence wrote
	for _, id := range pl.CustomerIDs {
		if err := ctx.Err(); err != nil {
			return err // shutting down: the rest is retried
		}
		key := store.DeliveryKey{Campaign: c.Name, Occurrence: occurrence, CustomerID: id}
		cust, ok := byID[id]
		if !ok {
			key.Channel = c.Channels[0]
			if _, err := p.Store.RecordOutcome(ctx, key, pl.Occurrence, store.StatusSkipped, "customer_deleted", ""); err != nil {
				return err
			}
			continue
		}
		steps, err := p.plan(ctx, c, cust)
		if err != nil {
			return err
		}
		for _, st := range steps {
			key.Channel = st.channel
			var wrote bool
			if st.skip != "" {
				wrote, err = p.Store.RecordOutcome(ctx, key, pl.Occurrence, store.StatusSkipped, st.skip, st.address)
			} else {
				wrote, err = p.deliver(ctx, c, pl.Occurrence, key, cust, st, tmpl, lastAttempt, retried)
			}
			if err != nil {
				return err
			}
			if !wrote {
				if d, err := p.Store.GetDelivery(ctx, key); err == nil && d.Run != pl.Occurrence {
					earlier++
				}
			}
		}
	}
	return p.Store.BatchDone(ctx, c.Name, pl.Occurrence, pl.CustomerIDs[0], earlier)
}

// deliver claims, renders, sends and settles one row. It reports false when
// the row existed already (this recipient was handled before).
func (p *Pipeline) deliver(ctx context.Context, c *campaigns.Campaign, run string, key store.DeliveryKey, cust customer.Customer,
	st step, tmpl *templates.Set, lastAttempt bool, retried int) (bool, error) {
	settle := func(status store.Status, reason, providerID string) (bool, error) {
		return true, p.Store.SettleDelivery(ctx, key, status, reason, providerID)
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
	m := channels.Message{
		DeliveryID: fmt.Sprintf("%s.%s.%d.%s", c.Name, key.Occurrence, cust.ID, st.channel),
		Channel:    st.channel, Campaign: c.Name, Occurrence: key.Occurrence, CustomerID: cust.ID,
		To: st.address, ToName: cust.Name,
		Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Body: msg.Body,
		UnsubscribeURL: data.UnsubscribeURL,
	}
	sender := p.Senders[st.channel]
	if sender == nil {
		return settle(store.StatusFailed, "no sender configured for "+st.channel, "")
	}
	providerID, err := sender.Send(ctx, m)
	if err == nil {
		return settle(store.StatusSent, "", providerID)
	}
	ce := channels.Classify(err)
	switch {
	case ce.Ambiguous:
		return settle(store.StatusUnknown, string(ce.Reason), "")
	case ce.Retryable && !lastAttempt:
		if err := p.Store.ReleaseDelivery(ctx, key); err != nil {
			return true, err
		}
		return true, &retryLater{Wait: ce.RetryAfter, Err: ce}
	case ce.Retryable:
		return settle(store.StatusFailed, fmt.Sprintf("gave up after %d retries: %s", retried, ce.Reason), "")
	}
	return settle(store.StatusFailed, string(ce.Reason), "")
}

// TemplateData is what a recipient's templates render with: the customer, the
// coupon derived for them, their unsubscribe link, their zone.
func (p *Pipeline) TemplateData(c *campaigns.Campaign, occurrence string, cust customer.Customer, channel string, now time.Time) templates.Data {
	settings := p.Config().Settings
	zone := c.Schedule.Location
	if cust.TimeZone != "" {
		if loc, err := time.LoadLocation(cust.TimeZone); err == nil {
			zone = loc
		}
	}
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
			Code:   p.Signer.Coupon(cp.Prefix, c.Name, occurrence, cust.ID),
			Amount: cp.Amount, Currency: cp.Currency,
			ValidUntil: now.In(zone).AddDate(0, 0, cp.ValidDays),
		}
	}
	return d
}
