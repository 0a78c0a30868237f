package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// redisMeasure is what a run's batch tasks hold in Redis while they wait.
type redisMeasure struct {
	Bytes      int64 // growth of the keyspace while the run paged its audience
	Tasks      int   // batch tasks the run enqueued
	Recipients int64 // the ledger rows those batches call for
}

func (m redisMeasure) perRecipient() float64 {
	if m.Recipients == 0 {
		return 0
	}
	return float64(m.Bytes) / float64(m.Recipients)
}

// measureRedis pages one more occurrence of the campaign with no worker
// running, so that every batch task waits in Redis, and measures them. It
// runs after the timed phases, on the same Redis and database, once the
// worker has stopped: a run left behind in the database would otherwise be
// re-enqueued by the timed run's sweeper, and its batches sent.
//
// The run task is enqueued as `tidings send` enqueues it, taken back out
// of Redis and handed to the pipeline's run handler directly, which records
// and enqueues the batches exactly as a worker would. The measure is the
// growth of the whole keyspace across that call, counted as the data Redis
// keeps: each key's name and, by type, its value, hash fields and values,
// list, set or sorted-set members (plus 8 bytes per score). So it reads what
// is there, whatever the payloads carry (ids or not) and whatever else a
// run stores, and it reads the same on miniredis and redis-server. Redis'
// own bookkeeping per key (dictionary entries, encodings: tens of bytes) is
// not included; it is per task, that is per batch, not per recipient.
//
// Afterwards the measured tasks are deleted from Redis, and their batches
// abandoned in the database, so that nothing of this run is ever sent.
func (a *app) measureRedis(ctx context.Context, opt asynq.RedisConnOpt, db *store.DB, cfg *campaigns.Config, tmpl *templates.Set, c *campaigns.Campaign, occurrence string) (m redisMeasure, err error) {
	client := asynq.NewClient(opt)
	defer client.Close()
	inspector := asynq.NewInspector(opt)
	defer inspector.Close()
	rdb, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return m, errors.New("redis: no client for this connection")
	}
	defer rdb.Close()
	queue := delivery.QueueFor(c.Priority)

	task, err := takeRunTask(ctx, client, inspector, c, occurrence)
	if err != nil {
		return m, err
	}
	before, err := waitingTasks(inspector, queue)
	if err != nil {
		return m, err
	}
	bytesBefore, err := keyspaceBytes(ctx, rdb)
	if err != nil {
		return m, err
	}
	// From here on the run may have batches: they go, whatever happens.
	defer func() {
		if ferr := forgetRun(context.WithoutCancel(ctx), db, inspector, queue, before, c.Name, occurrence); err == nil {
			err = ferr
		}
	}()
	secret, _ := a.secret()
	p := &delivery.Pipeline{
		Store: db, Client: client, Signer: signing.New(secret), Log: slog.New(slog.DiscardHandler),
		Config: func() *campaigns.Config { return cfg }, Templates: func() *templates.Set { return tmpl },
	}
	if err := p.HandleRun(ctx, task); err != nil {
		return m, fmt.Errorf("page the measured run: %w", err)
	}
	bytesAfter, err := keyspaceBytes(ctx, rdb)
	if err != nil {
		return m, err
	}
	after, err := waitingTasks(inspector, queue)
	if err != nil {
		return m, err
	}
	run, err := db.GetRun(ctx, c.Name, occurrence)
	if err != nil {
		return m, err
	}
	m.Bytes, m.Recipients = bytesAfter-bytesBefore, run.Targeted
	for id := range after {
		if !before[id] {
			m.Tasks++
		}
	}
	return m, nil
}

// takeRunTask enqueues the occurrence's run task as `tidings send` does,
// then takes it back out of Redis, so that no worker runs it.
func takeRunTask(ctx context.Context, client *asynq.Client, inspector *asynq.Inspector, c *campaigns.Campaign, occurrence string) (*asynq.Task, error) {
	if _, err := delivery.EnqueueRun(ctx, client, c, occurrence); err != nil {
		return nil, err
	}
	queue, id := delivery.QueueFor(c.Priority), delivery.RunTaskID(c.Name, occurrence)
	info, err := inspector.GetTaskInfo(queue, id)
	if err != nil {
		return nil, fmt.Errorf("look up the run task: %w", err)
	}
	if err := inspector.DeleteTask(queue, id); err != nil {
		return nil, fmt.Errorf("take the run task out of Redis: %w", err)
	}
	return asynq.NewTask(info.Type, info.Payload), nil
}

// forgetRun deletes the batch tasks that were not waiting before, and
// abandons the run's batches in the database, so that no worker or sweeper
// ever sends them.
func forgetRun(ctx context.Context, db *store.DB, inspector *asynq.Inspector, queue string, before map[string]bool, campaign, occurrence string) error {
	after, err := waitingTasks(inspector, queue)
	if err != nil {
		return err
	}
	for id := range after {
		if before[id] {
			continue
		}
		if err := inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return fmt.Errorf("delete a measured task: %w", err)
		}
	}
	pending, err := db.PendingBatches(ctx, campaign, occurrence)
	if err != nil {
		return err
	}
	for _, b := range pending {
		if err := db.AbandonBatch(ctx, b, "bench: measured in Redis, never sent"); err != nil {
			return err
		}
	}
	return nil
}

// waitingTasks lists the ids of a queue's batch tasks that wait to run:
// pending, or scheduled for later.
func waitingTasks(inspector *asynq.Inspector, queue string) (map[string]bool, error) {
	ids := map[string]bool{}
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){inspector.ListPendingTasks, inspector.ListScheduledTasks} {
		for page := 1; ; page++ {
			tasks, err := list(queue, asynq.PageSize(1000), asynq.Page(page))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("list the tasks of %s: %w", queue, err)
			}
			for _, t := range tasks {
				if t.Type == delivery.TypeBatch {
					ids[t.ID] = true
				}
			}
			if len(tasks) < 1000 {
				break
			}
		}
	}
	return ids, nil
}

// keyspaceBytes adds up the data of every key (see measureRedis), on every
// primary of a cluster.
func keyspaceBytes(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var total atomic.Int64 // the primaries are scanned at once
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			n, err := nodeBytes(ctx, c)
			total.Add(n)
			return err
		})
		return total.Load(), err
	}
	return nodeBytes(ctx, rdb)
}

func nodeBytes(ctx context.Context, rdb redis.Cmdable) (int64, error) {
	var total int64
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			return 0, fmt.Errorf("redis SCAN: %w", err)
		}
		for _, k := range keys {
			n, err := keyBytes(ctx, rdb, k)
			if err != nil {
				return 0, err
			}
			total += n
		}
		if cursor = next; cursor == 0 {
			return total, nil
		}
	}
}

// keyBytes is one key's name and data; a key gone meanwhile counts 0.
func keyBytes(ctx context.Context, rdb redis.Cmdable, key string) (int64, error) {
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		return 0, fmt.Errorf("redis TYPE: %w", err)
	}
	n := int64(len(key))
	var strs []string
	switch typ {
	case "none":
		return 0, nil
	case "string":
		v, err := rdb.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return 0, fmt.Errorf("redis GET: %w", err)
		}
		strs = []string{v}
	case "hash":
		h, err := rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return 0, fmt.Errorf("redis HGETALL: %w", err)
		}
		for f, v := range h {
			strs = append(strs, f, v)
		}
	case "list":
		if strs, err = rdb.LRange(ctx, key, 0, -1).Result(); err != nil {
			return 0, fmt.Errorf("redis LRANGE: %w", err)
		}
	case "set":
		if strs, err = rdb.SMembers(ctx, key).Result(); err != nil {
			return 0, fmt.Errorf("redis SMEMBERS: %w", err)
		}
	case "zset":
		if strs, err = rdb.ZRange(ctx, key, 0, -1).Result(); err != nil {
			return 0, fmt.Errorf("redis ZRANGE: %w", err)
		}
		n += 8 * int64(len(strs)) // a score is a double
	default:
		// Streams and others: asynq keeps none; count the name only.
	}
	for _, s := range strs {
		n += int64(len(s))
	}
	return n, nil
}
