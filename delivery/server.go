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

	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/store"
)

// ServerConfig is the Asynq configuration of a worker: the weighted queues,
// and the one place where a channel error becomes an Asynq outcome.
func ServerConfig(concurrency int, log *slog.Logger) asynq.Config {
	return asynq.Config{
		Concurrency: concurrency,
		Queues:      Queues,
		// A rate limit is a wait, not a failure: Asynq then neither counts
		// the attempt against MaxRetry nor in the queue's failure stats.
		IsFailure: func(err error) bool {
			var r *retryLater
			return !errors.As(err, &r) || r.Err.Reason != channels.ReasonRateLimited
		},
		RetryDelayFunc:  retryDelay,
		Logger:          NewAsynqLogger(log),
		LogLevel:        asynq.WarnLevel, // its start and stop lines would only repeat ours
		ShutdownTimeout: 20 * time.Second,
		// A crashed worker's tasks come back after their lease expires;
		// checking often keeps that close to the lease itself.
		DelayedTaskCheckInterval: time.Second,
	}
}

// retryDelay honours a provider's Retry-After; otherwise it backs off
// exponentially with jitter, from 10 s to 10 min.
func retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var r *retryLater
	if errors.As(err, &r) && r.Wait > 0 {
		return r.Wait
	}
	d := 10 * time.Second << min(n, 6)
	d = min(d, 10*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// Sweep marks rows left "sending" longer than timeout as unknown, every
// interval, until ctx ends. Any number of workers may sweep: the UPDATE is
// idempotent.
func Sweep(ctx context.Context, db *store.DB, timeout, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := db.SweepSending(ctx, timeout)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("sweep", "err", err)
		case n > 0:
			log.Warn("marked deliveries unknown: a worker stopped between claiming and settling them", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
