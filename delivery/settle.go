package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tidings/tidings/store"
)

// settleAfter is the longest an outcome waits to be written: a slow
// provider still has its outcomes flushed while the batch is under way.
const settleAfter = 250 * time.Millisecond

// settler writes a batch's outcomes in groups: every settleEvery outcomes
// or every settleAfter, whichever comes first, one statement per group
// (see store.DB.Settle). Writes are serialized; the senders only append.
type settler struct {
	ctx        context.Context
	db         *store.DB
	campaign   string
	occurrence string
	log        *slog.Logger

	mu   sync.Mutex
	buf  []store.Outcome
	err  error // the first failed write
	wmu  sync.Mutex
	stop chan struct{}
	done chan struct{}
}

func newSettler(ctx context.Context, db *store.DB, campaign, occurrence string, log *slog.Logger) *settler {
	s := &settler{ctx: ctx, db: db, campaign: campaign, occurrence: occurrence, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.tick()
	return s
}

// add queues an outcome, and writes the group when it is full.
func (s *settler) add(o store.Outcome) {
	s.mu.Lock()
	s.buf = append(s.buf, o)
	var full []store.Outcome
	if len(s.buf) >= settleEvery {
		full, s.buf = s.buf, make([]store.Outcome, 0, settleEvery)
	}
	s.mu.Unlock()
	if full != nil {
		s.write(full)
	}
}

func (s *settler) tick() {
	defer close(s.done)
	t := time.NewTicker(settleAfter)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.flush()
		}
	}
}

func (s *settler) flush() {
	s.mu.Lock()
	group := s.buf
	s.buf = nil
	s.mu.Unlock()
	if len(group) > 0 {
		s.write(group)
	}
}

// write settles a group, trying again briefly when the database fails: a
// row left sending is reported unknown, never sent again, so an outcome
// lost here costs that recipient a message they may well have received.
func (s *settler) write(group []store.Outcome) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var err error
	for try, wait := 0, 100*time.Millisecond; try < 3; try, wait = try+1, wait*4 {
		var n int64
		if n, err = s.db.Settle(s.ctx, s.campaign, s.occurrence, group); err == nil {
			if n != int64(len(group)) {
				// Rows settled already: another execution of this batch
				// that took them over after this one's lease expired.
				s.log.Warn("outcomes for rows no longer sending were dropped", "campaign", s.campaign, "occurrence", s.occurrence,
					"outcomes", len(group), "written", n)
			}
			return
		}
		select {
		case <-s.ctx.Done():
			try = 3
		case <-time.After(wait):
		}
	}
	s.log.Error("settle: outcomes not written; their rows stay sending and will be reported unknown", "campaign", s.campaign,
		"occurrence", s.occurrence, "outcomes", len(group), "err", err)
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// close writes what is left and reports the first failed write.
func (s *settler) close() error {
	close(s.stop)
	<-s.done
	s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
