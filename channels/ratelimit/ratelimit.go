// Package ratelimit holds a channel to a rate shared by every worker of the
// cluster: tokens come from Redis (GCRA, github.com/go-redis/redis_rate), so
// two workers with `rate: 50/s` send 50 messages a second between them, not
// 100. Waiting for a token happens inside the send: it is not an error and
// costs no retry.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/tidings/tidings/channels"
)

// Rate is a number of messages per period.
type Rate struct {
	N   int
	Per time.Duration
}

func (r Rate) String() string {
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	return fmt.Sprintf("%d/%s", r.N, unit)
}

// IsZero reports whether no rate is set (no limit).
func (r Rate) IsZero() bool { return r.N == 0 }

// ParseRate parses "30/s", "600/m" or "10000/h".
func ParseRate(s string) (Rate, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	count, err := strconv.Atoi(n)
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if !ok || err != nil || count < 1 || per == 0 {
		return Rate{}, fmt.Errorf("bad rate %q: want a count per s, m or h, such as 30/s", s)
	}
	return Rate{N: count, Per: per}, nil
}

// limit turns a rate into a GCRA limit. The burst is a tenth of a second's
// worth (at least 1): with redis_rate's default burst of the whole rate, a
// quiet limiter would let a full period's messages out at once on top of the
// steady rate, 10% more than the rate in a 10-second window.
func (r Rate) limit() redis_rate.Limit {
	return redis_rate.Limit{Rate: r.N, Period: r.Per, Burst: max(1, r.N/10)}
}

// Limited is a Sender that takes a token from Redis before each send.
type Limited struct {
	sender  channels.Sender
	limiter *redis_rate.Limiter
	key     string
	limit   redis_rate.Limit
	// OnWait, if set, is called each time a send has to wait for a token
	// (a metrics counter).
	OnWait func()
}

var _ channels.Sender = (*Limited)(nil)

// Wrap limits sender to rate across every worker sharing the Redis behind
// limiter; key names the channel ("email", "sms").
func Wrap(sender channels.Sender, limiter *redis_rate.Limiter, key string, rate Rate) *Limited {
	return &Limited{sender: sender, limiter: limiter, key: "tidings:rate:" + key, limit: rate.limit()}
}

// Send waits for a token, then sends. If Redis cannot be asked, nothing is
// sent and the error is retryable: sending unlimited could breach the
// provider's limit for the whole cluster. A message whose send window
// (m.NotAfter) would close before its token is free is not sent: it gets a
// retryable ReasonOutsideWindow error and waits for the next opening, so a
// contended limiter cannot push a greeting past 21:00.
func (l *Limited) Send(ctx context.Context, m channels.Message) (string, error) {
	for {
		if !m.NotAfter.IsZero() && !time.Now().Before(m.NotAfter) {
			return "", channels.Retryable(channels.ReasonOutsideWindow, 0, errWindowClosed)
		}
		res, err := l.limiter.Allow(ctx, l.key, l.limit)
		if err != nil {
			return "", channels.Retryable(channels.ReasonUnavailable, time.Second, fmt.Errorf("rate limiter: %w", err))
		}
		if res.Allowed > 0 {
			return l.sender.Send(ctx, m)
		}
		if !m.NotAfter.IsZero() && !time.Now().Add(res.RetryAfter).Before(m.NotAfter) {
			return "", channels.Retryable(channels.ReasonOutsideWindow, 0, errWindowClosed)
		}
		if l.OnWait != nil {
			l.OnWait()
		}
		t := time.NewTimer(res.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", channels.Retryable(channels.ReasonRateLimited, 0, ctx.Err())
		case <-t.C:
		}
	}
}

var errWindowClosed = errors.New("the send window closes before a rate-limit token is free")
