package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/store"
)

// ServerConfig is the Asynq configuration of a worker: the weighted queues,
// and the one place where a channel error becomes an Asynq outcome.
func ServerConfig(concurrency int, log *slog.Logger) asynq.Config {
	return asynq.Config{
		Concurrency: concurrency,
		Queues:      Queues,
		// A batch that waits (for a window, a rate limit, a paused run, its
		// recipients' retries) is not failing: Asynq neither counts it
		// against MaxRetry nor in the queue's failure stats. Each
		// recipient's attempts are counted on their ledger row instead.
		// Nor is a task handed back by a worker that does not know its
		// campaign (see handBack).
		IsFailure: func(err error) bool {
			var r *retryLater
			return !errors.As(err, &r)
		},
		RetryDelayFunc:  retryDelay,
		Logger:          NewAsynqLogger(log),
		LogLevel:        asynq.WarnLevel, // its start and stop lines would only repeat ours
		ShutdownTimeout: 20 * time.Second,
		// Retries wait at least this long before Asynq moves them back to
		// pending (a crashed worker's tasks come back through the recoverer,
		// about a minute after their 30-second lease expires).
		DelayedTaskCheckInterval: time.Second,
		// How long an idle worker waits before it looks for a task again
		// (Asynq's default is 1 s). A send pays it twice, for the run task
		// and then for its batches: the first message left 0.13–2.4 s after
		// `tidings send` with 1 s, 0.09–0.26 s with 100 ms. The cost is
		// one dequeue script per idle worker process every 100 ms.
		TaskCheckInterval: 100 * time.Millisecond,
	}
}

// retryDelay is a waiting batch's wait; a batch that failed otherwise backs
// off (see jittered).
func retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var r *retryLater
	if errors.As(err, &r) {
		return max(r.Wait, 0)
	}
	return jittered(n)
}

// jittered backs off exponentially with jitter over the attempts made,
// from 10 s to 10 min.
func jittered(n int) time.Duration {
	d := 10 * time.Second << min(max(n, 0), 6)
	d = min(d, 10*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// Sweep keeps the runs honest, every interval until ctx ends: it
// reconciles batches and runs whose tasks will never run again (see
// Reconcile). Any number of workers may sweep: each step is idempotent.
// (Claims a stopped worker left "sending" are its batch's: the batch's next
// attempt reports them unknown once sending_timeout has passed, and
// AbandonBatch does when there is none.)
func Sweep(ctx context.Context, db *store.DB, inspector *asynq.Inspector, client *asynq.Client, interval time.Duration, maxRetries int, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := Reconcile(ctx, db, inspector, client, StaleAfter, maxRetries, log); err != nil && ctx.Err() == nil {
			log.Error("reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StaleAfter is how long a batch or run may stay unfinished before the
// sweeper looks its task up in Redis.
const StaleAfter = 2 * time.Minute

// Reconcile looks up, in Redis, the task of every batch pending for a while
// and of every run still paging. A task archived by Asynq (its retries used
// up, or a campaign that a worker handed back for all of
// delivery.unknown_campaign_grace) will not run again: its
// batch is abandoned, the rows it never wrote counted as failed, so the run
// still finishes and adds up; its run is marked failed. A task that is
// missing altogether (Redis lost its data) is enqueued again from the
// database; the ledger makes running it twice harmless.
func Reconcile(ctx context.Context, db *store.DB, inspector *asynq.Inspector, client *asynq.Client, staleAfter time.Duration, maxRetries int, log *slog.Logger) error {
	batches, err := db.StaleBatches(ctx, staleAfter)
	if err != nil {
		return err
	}
	for _, b := range batches {
		info, err := inspector.GetTaskInfo(b.Queue, BatchTaskID(b.Campaign, b.Run, b.FirstID()))
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
			run, rerr := db.GetRun(ctx, b.Campaign, b.Run)
			if rerr != nil || run.Status == store.RunRunning {
				continue // the run task is still paging; it enqueues its batches
			}
			if err := enqueueBatch(ctx, client, b, maxRetries, db.Now()); err != nil {
				return err
			}
			log.Warn("re-enqueued a batch whose task was missing from Redis", "campaign", b.Campaign, "run", b.Run, "first_id", b.FirstID())
		case err != nil:
			return err
		case info.State == asynq.TaskStateArchived:
			if err := db.AbandonBatch(ctx, b, info.LastErr); err != nil {
				return err
			}
			log.Error("abandoned a batch: its task was archived", "campaign", b.Campaign, "run", b.Run, "first_id", b.FirstID(), "last_error", info.LastErr)
		}
	}
	runs, err := db.StaleRuns(ctx, staleAfter)
	if err != nil {
		return err
	}
	for _, r := range runs {
		info, err := inspector.GetTaskInfo(r.Queue, RunTaskID(r.Campaign, r.Occurrence))
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
			if _, err := enqueueRun(ctx, client, r.Campaign, r.Occurrence, r.Queue); err != nil {
				return err
			}
			log.Warn("re-enqueued a run whose task was missing from Redis", "campaign", r.Campaign, "run", r.Occurrence)
		case err != nil:
			return err
		case info.State == asynq.TaskStateArchived:
			if err := db.FailRun(ctx, r.Campaign, r.Occurrence, info.LastErr); err != nil {
				return err
			}
			log.Error("run failed: its task was archived", "campaign", r.Campaign, "run", r.Occurrence, "last_error", info.LastErr)
		}
	}
	return nil
}

// asynqLogger adapts slog to asynq.Logger.
type asynqLogger struct{ log *slog.Logger }

// NewAsynqLogger returns an asynq.Logger writing to log with component=asynq.
func NewAsynqLogger(log *slog.Logger) asynq.Logger {
	return asynqLogger{log.With("component", "asynq")}
}

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)); os.Exit(1) }

// Revive runs again what a run gave up on, once its cause is fixed (a
// campaign restored to the configuration, a database back up): its
// abandoned batches, and its paging if its run task was archived. The
// archived tasks are deleted first — their ids would keep the new ones out
// — and only then is the run revived in the database, so a sweeper tick in
// between cannot fail it again. The ledger keeps anyone from getting a
// second message. It returns how many batches it re-enqueued and whether it
// re-enqueued the run task.
func Revive(ctx context.Context, db *store.DB, inspector *asynq.Inspector, client *asynq.Client, c *campaigns.Campaign, run string, maxRetries int) (int, bool, error) {
	r, err := db.GetRun(ctx, c.Name, run)
	if err != nil {
		return 0, false, err
	}
	abandoned, err := db.AbandonedBatches(ctx, c.Name, run)
	if err != nil {
		return 0, false, err
	}
	deleteArchived := func(queue, id string) error {
		info, err := inspector.GetTaskInfo(queue, id)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("look up task %s: %w", id, err)
		}
		if info.State != asynq.TaskStateArchived {
			return nil
		}
		if err := inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return fmt.Errorf("delete the archived task %s: %w", id, err)
		}
		return nil
	}
	for _, b := range abandoned {
		if err := deleteArchived(b.Queue, BatchTaskID(b.Campaign, b.Run, b.FirstID())); err != nil {
			return 0, false, err
		}
	}
	queue := r.Queue
	if queue == "" {
		queue = QueueFor(c.Priority)
	}
	if r.Status == store.RunFailed {
		if err := deleteArchived(queue, RunTaskID(c.Name, run)); err != nil {
			return 0, false, err
		}
	}
	batches, repage, err := db.ReviveRun(ctx, c.Name, run)
	if err != nil {
		return 0, false, err
	}
	for _, b := range batches {
		if err := enqueueBatch(ctx, client, b, maxRetries, db.Now()); err != nil {
			return 0, false, err
		}
	}
	if repage {
		if _, err := enqueueRun(ctx, client, c.Name, run, queue); err != nil {
			return len(batches), false, err
		}
	}
	return len(batches), repage, nil
}
