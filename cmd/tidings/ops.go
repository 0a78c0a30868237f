package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/metrics"
	"github.com/tidings/tidings/scheduler"
	"github.com/tidings/tidings/store"
)

// serveOps serves /metrics, /healthz and /readyz on listen until ctx ends,
// for the processes that have no web server of their own (workers and
// schedulers): what Prometheus scrapes and what container health checks
// (`tidings healthcheck`) ask. An empty listen serves nothing. The
// endpoints need no login: bind them to an internal network.
func (a *app) serveOps(ctx context.Context, listen string, db *store.DB, opt asynq.RedisConnOpt) (stop func(), err error) {
	if listen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", listen, err)
	}
	rdb, _ := opt.MakeRedisClient().(redis.UniversalClient)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(metrics.NewRegistry(), a.log))
	mux.Handle("GET /healthz", metrics.Healthz())
	mux.Handle("GET /readyz", metrics.Readyz(a.log, 3*time.Second, metrics.DatabaseCheck(db), metrics.RedisCheck(rdb)))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("ops listener", "err", err)
		}
	}()
	a.log.Info("serving /metrics, /healthz and /readyz", "listen", ln.Addr().String())
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
		rdb.Close()
	}, nil
}

// newScheduler is the scheduler of the scheduler command and the demo: it
// enqueues runs with client and asks db whether an occurrence ran.
func (a *app) newScheduler(config func() *campaigns.Config, client *asynq.Client, db *store.DB, maxLateness, lookback time.Duration) *scheduler.Scheduler {
	return &scheduler.Scheduler{
		Config: config,
		Enqueue: func(ctx context.Context, c *campaigns.Campaign, occurrence string) (bool, error) {
			return delivery.EnqueueRun(ctx, client, c, occurrence)
		},
		Ran: func(ctx context.Context, c *campaigns.Campaign, occurrence string) bool {
			_, err := db.GetRun(ctx, c.Name, occurrence)
			return err == nil
		},
		MaxLateness: maxLateness, Lookback: lookback, Log: a.log.With("component", "scheduler"), Now: a.now,
	}
}
