package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/ratelimit"
	"github.com/tidings/tidings/internal/redistest"
)

type stamp struct {
	mu    sync.Mutex
	times []time.Time
}

func (s *stamp) Send(context.Context, channels.Message) (string, error) {
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	return "ok", nil
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]string{"30/s": "30/s", " 600/m": "600/m", "10000/h": "10000/h"} {
		r, err := ratelimit.ParseRate(in)
		if err != nil || r.String() != want {
			t.Errorf("%q: %v %v", in, r, err)
		}
	}
	for _, bad := range []string{"", "30", "30/d", "0/s", "-1/s", "x/s"} {
		if _, err := ratelimit.ParseRate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Two limiters on one Redis, as two workers would be, share one rate.
func TestSharedRate(t *testing.T) {
	r := redistest.Start(t)
	rate, _ := ratelimit.ParseRate("100/s")
	got := &stamp{}
	var sent atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		l := ratelimit.Wrap(got, redis_rate.NewLimiter(r.Client(t)), "sms", rate)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if _, err := l.Send(ctx, channels.Message{}); err == nil {
						sent.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	// 3 seconds at 100/s, plus the burst of 10: at most 310.
	if n := sent.Load(); n > 310 || n < 250 {
		t.Errorf("%d sends in 3 s at 100/s", n)
	}
}
