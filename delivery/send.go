package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/sms"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// sendResult is what the send stage leaves for the batch to decide on.
type sendResult struct {
	// halt, when set, stops the batch: a rate limit, a window that
	// closed, a paused run, a shutdown. The batch runs again later; the
	// rows this attempt did not send were released.
	halt error
	// deferred counts rows that failed with a retryable error and wait for
	// a retry, the soonest at retryAt.
	deferred int
	retryAt  time.Time
	// taken counts rows another execution of the batch wrote between this
	// one's plan and its claims (see store.ClaimResult).
	taken int
}

// job is a claimed row on its way to the provider.
type job struct {
	send
	attempts int
	data     templates.Data
}

// send claims the plan's sends a chunk at a time and delivers them over
// SendConcurrency goroutines, settling their outcomes in groups. The plan's
// skips and resolutions are written with the first chunk's claim, in one
// transaction. A chunk is claimed only once the previous one is all in the
// senders' hands, so a worker that is killed leaves at most a chunk, the
// sends in flight and the outcomes not yet flushed "sending" (see
// UnsettledBound).
func (p *Pipeline) send(ctx context.Context, b *batch, bp *batchPlan) (sendResult, error) {
	set, mine := p.settler(), &tally{}
	var res sendResult
	var mu sync.Mutex // guards res
	halted := func() bool { mu.Lock(); defer mu.Unlock(); return res.halt != nil }
	halt := func(err error) {
		mu.Lock()
		if res.halt == nil {
			res.halt = err
		}
		mu.Unlock()
	}

	jobs := make(chan job)
	var wg sync.WaitGroup
	tmpl := p.Templates()
	for range min(SendConcurrency, len(bp.Sends)) {
		wg.Go(func() {
			for j := range jobs {
				if halted() {
					set.add(mine, store.Outcome{DeliveryKey: j.key(b)}) // released: not sent
					continue
				}
				o, stop := p.deliver(ctx, b, j, tmpl)
				set.add(mine, o)
				mu.Lock()
				if o.Status == store.StatusDeferred {
					res.deferred++
					if res.retryAt.IsZero() || o.NotBefore.Before(res.retryAt) {
						res.retryAt = o.NotBefore
					}
				}
				mu.Unlock()
				if stop != nil {
					halt(stop)
				}
			}
		})
	}

	taken, err := p.claimAll(ctx, b, bp, jobs, halted, halt)
	res.taken = taken
	close(jobs)
	wg.Wait()
	if ferr := set.wait(mine); err == nil {
		err = ferr
	}
	return res, err
}

// settler is the worker's (see settler), made on first use.
func (p *Pipeline) settler() *settler {
	p.settlerOnce.Do(func() { p.settle = newSettler(p.Store, p.Log) })
	return p.settle
}

func (j job) key(b *batch) store.DeliveryKey {
	return store.DeliveryKey{Campaign: b.c.Name, Occurrence: b.occurrence, CustomerID: j.CustomerID, Channel: j.Channel}
}

// claimAll claims the plan's sends chunk by chunk and hands each claim to
// the senders on jobs, until the plan is done or the batch is halted.
func (p *Pipeline) claimAll(ctx context.Context, b *batch, bp *batchPlan, jobs chan<- job, halted func() bool, halt func(error)) (taken int, err error) {
	chunk := func(i int) []send { return bp.Sends[i:min(i+claimChunk, len(bp.Sends))] }
	for i := 0; i == 0 || i < len(bp.Sends); i += claimChunk {
		if err := ctx.Err(); err != nil {
			halt(err) // shutting down: nothing more is claimed; the rest is retried
			return taken, nil
		}
		// Asynq counts a timed-out attempt as failed whatever it did; stop
		// claiming well before the deadline and hand the rest to a retry.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 2*time.Minute {
			halt(&retryLater{Wait: time.Second, Err: channels.Retryable(channels.ReasonInternal, time.Second, errors.New("batch time is up"))})
			return taken, nil
		}
		if halted() {
			return taken, nil
		}
		cs := store.ClaimSet{Campaign: b.c.Name, Occurrence: b.occurrence, Run: b.run}
		if i == 0 { // the skips and resolutions go with the first claim
			cs.New, cs.Resolve = slices.Clip(bp.Skips), bp.Resolve
		}
		now := p.now()
		pending := map[store.DeliveryKey]job{}
		for _, s := range chunk(i) {
			j := job{send: s, data: p.TemplateData(b.c, b.occurrence, s.Customer, s.Channel, now)}
			pending[j.key(b)] = j
			if s.Retry {
				cs.Retry = append(cs.Retry, store.NewRow{CustomerID: s.CustomerID, Channel: s.Channel, Address: s.Address})
				continue
			}
			coupon := ""
			if j.data.Coupon != nil {
				coupon = j.data.Coupon.Code
			}
			cs.New = append(cs.New, store.NewRow{CustomerID: s.CustomerID, Channel: s.Channel, Status: store.StatusSending, Address: s.Address, Coupon: coupon})
		}
		if len(cs.New) == 0 && len(cs.Retry) == 0 && len(cs.Resolve) == 0 {
			return taken, nil
		}
		res, err := p.Store.Claim(ctx, cs)
		if err != nil {
			return taken, err
		}
		if n := swept(cs.Resolve); n > 0 {
			p.Log.Warn("marked deliveries unknown: a worker stopped between claiming and settling them", "campaign", b.c.Name, "run", b.run,
				"first_id", b.firstID, "count", n)
		}
		taken += res.Taken
		for _, cl := range res.Claimed {
			j := pending[store.DeliveryKey{Campaign: b.c.Name, Occurrence: b.occurrence, CustomerID: cl.CustomerID, Channel: cl.Channel}]
			j.attempts = cl.Attempts
			jobs <- j
		}
	}
	return taken, nil
}

// Render is campaign c's message on channel ch to address, with the
// template data of its recipient, as the worker sends it: the template of
// the recipient's locale and, for an SMS, the opt-out footer of the
// number's country (a zh-CN customer on a +1 number is told to reply
// STOP). Preview and dry run show it through here too.
func (p *Pipeline) Render(tmpl *templates.Set, c *campaigns.Campaign, ch, address string, data templates.Data) (templates.Message, error) {
	msg, err := tmpl.Render(c.Template, ch, data.Customer.Locale, data)
	if err == nil && ch == channels.SMS {
		msg.Body = p.Config().Settings.Channels.SMS.WithFooter(msg.Body, address, data.Customer.Locale)
	}
	return msg, err
}

// deliver renders and sends one claimed row and returns its outcome, and
// an error that stops the batch when the failure is not this recipient's
// alone (a rate limit, refused credentials, a paused run).
func (p *Pipeline) deliver(ctx context.Context, b *batch, j job, tmpl *templates.Set) (store.Outcome, error) {
	c := b.c
	if !j.NotAfter.IsZero() && !p.now().Before(j.NotAfter) {
		// The recipient's window closed since the batch planned: released,
		// and the batch stops; its next run defers them and whoever else
		// is outside their window now.
		return store.Outcome{DeliveryKey: j.key(b)}, &retryLater{Wait: time.Second,
			Err: channels.Retryable(channels.ReasonOutsideWindow, time.Second, errors.New("the send window closed"))}
	}
	key := j.key(b)
	out := store.Outcome{DeliveryKey: key}
	fail := func(reason string) (store.Outcome, error) {
		out.Status, out.Reason = store.StatusFailed, reason
		return out, nil
	}
	cust := j.data.Customer
	msg, err := p.Render(tmpl, c, j.Channel, j.Address, j.data)
	if err != nil {
		return fail("template: " + err.Error())
	}
	if j.Channel == channels.SMS {
		// validate checks a sample customer; this one's name or coupon, or
		// the footer, may make the message longer.
		if limit := c.SMSSegmentLimit(p.Config().Settings.Channels.SMS); limit > 0 {
			if _, _, parts := sms.Segments(msg.Body); parts > limit {
				return fail(string(channels.ReasonSMSTooLong))
			}
		}
	}
	sender := p.Senders[j.Channel]
	if sender == nil {
		return fail("no sender configured for " + j.Channel)
	}
	m := channels.Message{
		DeliveryID: key.ID(),
		Channel:    j.Channel, Campaign: c.Name, Occurrence: b.occurrence, CustomerID: cust.ID,
		To: j.Address, ToName: cust.Name,
		Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Body: msg.Body,
		UnsubscribeURL: j.data.UnsubscribeURL,
	}
	if !j.NotAfter.IsZero() {
		// On the senders' clock (the real one), which p.now may not be.
		m.NotAfter = time.Now().Add(j.NotAfter.Sub(p.now()))
	}
	providerID, err := sender.Send(ctx, m)
	if err == nil {
		p.breaker.success(c.Name, b.run)
		out.Status, out.ProviderID = store.StatusSent, providerID
		return out, nil
	}
	ce := channels.Classify(err)
	if ctx.Err() != nil && !ce.Ambiguous {
		// Shutting down, and the message did not go: released, for the
		// batch's next attempt; no attempt of the recipient's is counted.
		return out, ctx.Err()
	}
	// Once a row is claimed, its outcome is recorded even if the worker is
	// shutting down: what a failed send still writes (a suppression, a
	// pause) has a context of its own.
	settleCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	paused, pauseErr := p.afterFailure(settleCtx, c, b.run, ce)
	out, stop := p.failure(settleCtx, out, j, ce)
	switch {
	case stop != nil:
	case pauseErr != nil:
		stop = pauseErr
	case paused:
		// The batch stops and waits with the run.
		stop = &retryLater{Wait: pausedWait, Err: ce}
	}
	return out, stop
}

// failure turns a failed send into the row's outcome by its
// classification, and into an error that stops the batch when the failure
// is the provider's or ours rather than this recipient's.
func (p *Pipeline) failure(ctx context.Context, out store.Outcome, j job, ce *channels.Error) (store.Outcome, error) {
	switch {
	case ce.Reason == channels.ReasonOutsideWindow:
		// The window closes before a rate-limit token is free: nothing
		// left. The batch stops and runs again just after the close, when
		// it defers this recipient (and the others whose window closed) to
		// the next opening and sends to those whose window is still open.
		wait := max(time.Second, j.NotAfter.Sub(p.now())+time.Second)
		return out, &retryLater{Wait: wait, Err: ce}
	case ce.Reason == channels.ReasonAuth:
		// Our credentials, not this recipient: the run is paused (see
		// afterFailure), and this recipient waits with the others.
		return out, &retryLater{Wait: pausedWait, Err: ce}
	case ce.Reason == channels.ReasonRateLimited:
		// A rate limit is a wait, never a reason to give up. Without a
		// Retry-After the wait is a guess: a few seconds, not Asynq's next
		// look at its retries a second later, again and again.
		wait := ce.RetryAfter
		if wait <= 0 {
			wait = jittered(0)
		}
		return out, &retryLater{Wait: wait, Err: ce}
	case ce.Reason == channels.ReasonUnsubscribed:
		if err := p.Store.Suppress(ctx, j.Channel, j.Address, store.ReasonProviderOptOut); err != nil {
			return out, err // released: the next attempt skips them
		}
		out.Status, out.Reason = store.StatusSkipped, store.ReasonProviderOptOut
	case ce.Reason == channels.ReasonNoSuchUser:
		if err := p.Store.Suppress(ctx, j.Channel, j.Address, store.ReasonNoSuchUser+": "+ce.Error()); err != nil {
			return out, err
		}
		out.Status, out.Reason = store.StatusFailed, string(ce.Reason)
	case ce.Ambiguous:
		out.Status, out.Reason = store.StatusUnknown, string(ce.Reason)
	case ce.Retryable && j.attempts > p.Config().Settings.Delivery.MaxRetries:
		out.Status, out.Reason = store.StatusFailed, fmt.Sprintf("gave up after %d attempts: %s", j.attempts, ce.Reason)
	case ce.Retryable:
		// This recipient is tried again later; the others go on now.
		out.Status, out.Reason = store.StatusDeferred, "retrying: "+string(ce.Reason)
		out.NotBefore = p.now().Add(backoff(j.attempts, ce.RetryAfter))
	default:
		out.Status, out.Reason = store.StatusFailed, string(ce.Reason)
	}
	return out, nil
}

// backoff is the wait before a recipient's next attempt: the provider's
// Retry-After when it gave one, else exponential with jitter from 10 s to
// 10 min.
func backoff(attempts int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	return jittered(attempts)
}
