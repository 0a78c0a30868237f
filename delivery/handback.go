package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
)

// What a worker's configuration can lack for a task (the metric label
// `missing`).
const (
	MissingCampaign = "campaign"
	MissingFollowUp = "follow_up"
	MissingTemplate = "template"
)

// notConfigured is why this worker cannot work a task: its configuration
// lacks the task's campaign, the follow-up its run names, or the campaign's
// template. During a rolling deploy two versions of the configuration run
// side by side, and a worker of the other one may know what this one does
// not, so the task is handed back rather than given up (see handBack).
type notConfigured struct {
	Missing  string // MissingCampaign, MissingFollowUp or MissingTemplate
	Campaign string
	Run      string
	msg      string
}

func (e *notConfigured) Error() string { return e.msg }

// reasonNotConfigured is the retry reason of a task handed back.
const reasonNotConfigured channels.Reason = "not_in_this_workers_configuration"

// checkTemplate reports a campaign (as its run delivers it: a follow-up
// has its own template) whose template this worker's template set lacks, or
// lacks for one of the campaign's channels. The loader checks the two
// against each other, but a worker's templates can come from another place,
// or another image, than its campaigns.
func (p *Pipeline) checkTemplate(c *campaigns.Campaign, run string) *notConfigured {
	set := p.Templates()
	if !set.Has(c.Template) {
		return &notConfigured{Missing: MissingTemplate, Campaign: c.Name, Run: run,
			msg: fmt.Sprintf("template %q of campaign %q is not in this worker's templates", c.Template, c.Name)}
	}
	have := set.Channels(c.Template)
	for _, ch := range c.Channels {
		if !slices.Contains(have, ch) {
			return &notConfigured{Missing: MissingTemplate, Campaign: c.Name, Run: run,
				msg: fmt.Sprintf("template %q of campaign %q has no %s message in this worker's templates", c.Template, c.Name, ch)}
		}
	}
	return nil
}

// handBack is what a task this worker cannot work returns: a retryLater,
// which Asynq neither counts against the task's retries nor as a failure
// (see ServerConfig), so the task comes back, to this worker or another,
// after a short wait. Only once this worker has handed the task back for
// delivery.unknown_campaign_grace does it give the task up: Asynq archives
// it, and the sweeper abandons its batch (or fails its run). task is the
// task's kind, "run" or "batch", for the log and the metric.
func (p *Pipeline) handBack(ctx context.Context, task string, nc *notConfigured) error {
	now := p.now()
	grace := p.Config().Settings.Delivery.UnknownCampaignGrace
	id, ok := asynq.GetTaskID(ctx)
	if !ok { // called outside Asynq, as tests do
		id = task + ":" + nc.Campaign + ":" + nc.Run
	}
	since := p.strangers.met(id, now)
	log := p.Log.With("campaign", nc.Campaign, "run", nc.Run, "task_id", id, "missing", nc.Missing)
	if met := now.Sub(since); met >= grace {
		p.strangers.forget(id)
		log.Error("gave a task up: this worker's configuration has lacked what it needs for delivery.unknown_campaign_grace",
			"reason", nc.Error(), "handed_back_for", met.Round(time.Second))
		return fmt.Errorf("%w (handed back for %s): %w", nc, met.Round(time.Second), asynq.SkipRetry)
	}
	wait := handBackWait(now.Sub(since))
	// A run's thousand batches are handed back together: one WARN a
	// minute per campaign says it, the metric counts them all.
	level := slog.LevelDebug
	if p.strangers.warnDue(nc.Campaign, now) {
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "task handed back: not in this worker's configuration; deploy the configuration that has it to every worker",
		"reason", nc.Error(), "retry_in", wait.Round(time.Millisecond), "gives_up_at", since.Add(grace))
	if p.OnHandBack != nil {
		p.OnHandBack(task, nc.Campaign, nc.Missing)
	}
	return &retryLater{Wait: wait, Err: channels.Retryable(reasonNotConfigured, wait, nc)}
}

// handBackWait is how long a task handed back waits before Asynq offers it
// again: a second at first, so that during a rolling deploy a worker that
// knows the campaign gets it at once, and longer the longer no worker that
// took it knew it (a tenth of that time, at most a minute), so that a
// campaign no worker knows costs little while its grace runs. Jittered, so
// that a run's batches handed back together do not come back together.
func handBackWait(handedBackFor time.Duration) time.Duration {
	d := min(max(handedBackFor/10, time.Second), time.Minute)
	return d + rand.N(d/2+1)
}

// forgetAfter is how long a task this worker handed back may go unseen by
// it before the worker forgets it: a task handed back comes back within a
// minute or so, to one of the workers, so a much longer absence means
// another worker took it (it may be waiting for a send window), and if
// this worker meets it again its grace starts afresh. With N workers each
// meets a task handed back about every N minutes, so 6 h keeps the count
// going in a fleet of a few hundred workers.
const forgetAfter = 6 * time.Hour

// warnEvery is how often a worker logs a WARN per campaign it hands back.
const warnEvery = time.Minute

// strangers remembers, per task, since when this worker has been handing it
// back. It lives in the worker's memory: each worker counts its own grace,
// and a restarted worker (most often with a new configuration) starts
// again. That keeps the grace out of the database and Redis, and a task is
// given up only by a worker that has itself failed to know it for all of
// the grace.
type strangers struct {
	mu     sync.Mutex
	seen   map[string]sighting // task id → its sighting
	pruned time.Time
	warned map[string]time.Time // campaign → its last WARN
}

// warnDue reports whether a hand-back of campaign's is to be logged as a
// WARN now: the first, then one every warnEvery.
func (s *strangers) warnDue(campaign string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.warned == nil {
		s.warned = map[string]time.Time{}
	}
	if last, ok := s.warned[campaign]; ok && now.Sub(last) < warnEvery {
		return false
	}
	s.warned[campaign] = now
	return true
}

type sighting struct{ first, last time.Time }

// met records that the task id was met now, and returns since when it has
// been handed back.
func (s *strangers) met(id string, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]sighting{}
	}
	if now.Sub(s.pruned) > forgetAfter {
		for k, v := range s.seen {
			if now.Sub(v.last) > forgetAfter {
				delete(s.seen, k)
			}
		}
		s.pruned = now
	}
	v, ok := s.seen[id]
	if !ok || now.Sub(v.last) > forgetAfter {
		v.first = now
	}
	v.last = now
	s.seen[id] = v
	return v.first
}

func (s *strangers) forget(id string) {
	s.mu.Lock()
	delete(s.seen, id)
	s.mu.Unlock()
}
