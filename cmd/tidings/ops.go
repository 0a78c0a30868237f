package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidings/tidings/internal/metrics"
	"github.com/tidings/tidings/store"
)

// serveOps serves /metrics, /healthz and /readyz on listen until ctx ends,
// for the processes that have no web server of their own (workers and
// schedulers): what Prometheus scrapes and what container health checks
// (`tidings healthcheck`) ask. An empty listen serves nothing. The
// endpoints need no login: bind them to an internal network.
func (a *app) serveOps(ctx context.Context, listen string, db *store.DB, rdb redis.UniversalClient) (stop func(), err error) {
	if listen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", listen, err)
	}
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
	}, nil
}
