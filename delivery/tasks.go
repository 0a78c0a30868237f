package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
)

// Task types.
const (
	TypeRun   = "campaign:run"
	TypeBatch = "campaign:batch"
)

// RunPayload is the payload of a campaign:run task.
type RunPayload struct {
	Campaign   string `json:"campaign"`
	Occurrence string `json:"occurrence"`
}

// BatchPayload is the payload of a campaign:batch task. It names the
// batch by its first customer id; the batch's record in the database holds
// its customer ids (see store.Batch), so a task costs Redis well under a
// byte per recipient, whatever the batch size.
type BatchPayload struct {
	Campaign   string `json:"campaign"`
	Occurrence string `json:"occurrence"`
	FirstID    int64  `json:"first_id"`
	// CustomerIDs are the ids of a task enqueued by an earlier version,
	// which carried them; such a task is still run.
	CustomerIDs []int64 `json:"customer_ids,omitempty"`
}

// RunTaskID names the run task of an occurrence: enqueuing it twice is a no-op.
func RunTaskID(campaign, occurrence string) string {
	return "run:" + campaign + ":" + occurrence
}

// BatchTaskID names a batch by its first customer id.
func BatchTaskID(campaign, occurrence string, firstID int64) string {
	return "batch:" + campaign + ":" + occurrence + ":" + strconv.FormatInt(firstID, 10)
}

// Queues and their weights: workers take from high six times as often as
// from low, but never starve low (weighted, not strict, priority).
var Queues = map[string]int{"tidings:high": 6, "tidings:normal": 3, "tidings:low": 1}

// QueueFor returns the queue of a campaign priority.
func QueueFor(priority string) string {
	if _, ok := Queues["tidings:"+priority]; ok {
		return "tidings:" + priority
	}
	return "tidings:normal"
}

// retention keeps a finished task's id in Redis, so an occurrence enqueued
// again within it conflicts instead of running again. Beyond it, the ledger
// still stops every duplicate send; a new run just finds nothing to do.
const retention = 7 * 24 * time.Hour

// EnqueueRun enqueues an occurrence of a campaign. It reports false, with
// no error, when the occurrence is already enqueued or ran recently.
func EnqueueRun(ctx context.Context, client *asynq.Client, c *campaigns.Campaign, occurrence string) (bool, error) {
	return enqueueRun(ctx, client, c.Name, occurrence, QueueFor(c.Priority))
}

// enqueueRun enqueues a run task on a queue: the campaign's, or for a run
// task enqueued again, the queue its run recorded.
func enqueueRun(ctx context.Context, client *asynq.Client, campaign, occurrence, queue string) (bool, error) {
	payload, _ := json.Marshal(RunPayload{Campaign: campaign, Occurrence: occurrence})
	_, err := client.EnqueueContext(ctx, asynq.NewTask(TypeRun, payload),
		asynq.TaskID(RunTaskID(campaign, occurrence)), asynq.Queue(queue),
		asynq.MaxRetry(10), asynq.Retention(retention), asynq.Timeout(time.Hour))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue %s: %w", RunTaskID(campaign, occurrence), err)
	}
	return true, nil
}

// DefaultOccurrence is the run key `tidings send` uses when none is given:
// the date in the campaign's zone, or "once" for a product launch. (A
// birthday campaign's daily runs share the year as their ledger occurrence:
// see LedgerOccurrence.)
func DefaultOccurrence(c *campaigns.Campaign, now time.Time) string {
	if c.Kind == campaigns.KindProduct {
		return campaigns.LaunchOccurrence
	}
	return now.In(c.Schedule.Location).Format("2006-01-02")
}
