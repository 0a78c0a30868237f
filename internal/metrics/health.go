package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidings/tidings/store"
)

// Check is one dependency /readyz checks.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// DatabaseCheck checks that the database answers a query.
func DatabaseCheck(db *store.DB) Check {
	return Check{Name: "database", Check: db.Ping}
}

// RedisCheck checks that Redis answers PING.
func RedisCheck(rdb redis.UniversalClient) Check {
	return Check{Name: "redis", Check: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
}

// Healthz answers 200 "ok" while the process serves HTTP at all: a
// liveness probe, which must not depend on the database or Redis (a
// restart would not bring those back).
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
}

// Readyz runs the checks at once, each within timeout, and answers 200 when
// all pass, else 503. The body names each check and whether it passed; the
// errors themselves, which may name hosts, are logged rather than served,
// since the probe needs no login.
func Readyz(log *slog.Logger, timeout time.Duration, checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		errs := make([]error, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() { errs[i] = c.Check(ctx) })
		}
		wg.Wait()
		var b strings.Builder
		status := http.StatusOK
		for i, c := range checks {
			if errs[i] != nil {
				status = http.StatusServiceUnavailable
				log.Warn("not ready", "check", c.Name, "err", errs[i])
				fmt.Fprintf(&b, "%s: failed\n", c.Name)
				continue
			}
			fmt.Fprintf(&b, "%s: ok\n", c.Name)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		fmt.Fprint(w, b.String())
	})
}
