package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tidings/tidings/store"
)

// settleAfter is the longest an outcome waits to be written: a slow
// provider still has its outcomes flushed while its batch is under way.
const settleAfter = 250 * time.Millisecond

// settler writes the outcomes of every batch a worker runs in groups: every
// settleEvery outcomes or every settleAfter, whichever comes first, one
// statement per group (see store.DB.Settle). One settler serves all of a
// worker's batches: each batch alone sends too slowly (a sixteenth of the
// worker's rate at concurrency 16) to fill a group before the timer, and
// the groups would be small. A batch waits for its own outcomes to be
// written before it finishes (see tally.wait).
type settler struct {
	db  *store.DB
	log *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a write ends
	buf     []pending
	writing bool        // a group is being written
	timer   *time.Timer // armed while buf holds outcomes
}

// pending is an outcome and the batch that waits for it.
type pending struct {
	store.Outcome
	t *tally
}

// tally is one batch's outcomes in the settler: how many are not written
// yet, and the first write that failed.
type tally struct {
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

func newSettler(db *store.DB, log *slog.Logger) *settler {
	s := &settler{db: db, log: log}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// add queues an outcome of t's batch, and writes the group when it is full.
// While a full group waits for the write before it, add waits too: so the
// worker never holds more than two groups of outcomes unwritten (one being
// written, one filling), which is what bounds a crash (see UnsettledBound).
func (s *settler) add(t *tally, o store.Outcome) {
	t.wg.Add(1)
	s.mu.Lock()
	for len(s.buf) >= settleEvery {
		s.cond.Wait()
	}
	s.buf = append(s.buf, pending{o, t})
	if len(s.buf) < settleEvery {
		if s.timer == nil {
			s.timer = time.AfterFunc(settleAfter, s.flush)
		}
		s.mu.Unlock()
		return
	}
	s.writeLocked()
	s.mu.Unlock()
}

// flush writes whatever is queued.
func (s *settler) flush() {
	s.mu.Lock()
	if len(s.buf) > 0 {
		s.writeLocked()
	}
	s.mu.Unlock()
}

// writeLocked waits for the write before it, then writes the queued group,
// with s.mu held except while writing.
func (s *settler) writeLocked() {
	for s.writing {
		s.cond.Wait()
	}
	group := s.buf
	s.buf = nil
	s.cond.Broadcast() // room in buf again
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if len(group) == 0 {
		return // written by the one waited for
	}
	s.writing = true
	s.mu.Unlock()
	s.write(group)
	s.mu.Lock()
	s.writing = false
	s.cond.Broadcast()
}

// wait writes what is queued and waits until every outcome of t's batch is
// written, and reports the first write of them that failed.
func (s *settler) wait(t *tally) error {
	s.flush()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// write settles a group, trying again for about 8 s when the database
// fails (a failover, a restart): a row left sending is reported unknown,
// never sent again, so an outcome lost here costs that recipient a message
// they may well have received, or one they never got.
// Once a row is claimed its outcome is recorded even if the worker is
// shutting down, so the writes have a context of their own.
func (s *settler) write(group []pending) {
	outs := make([]store.Outcome, len(group))
	for i, p := range group {
		outs[i] = p.Outcome
	}
	var err error
	for try := range 5 {
		if try > 0 {
			time.Sleep(100 * time.Millisecond << (2 * (try - 1))) // 0.1, 0.4, 1.6, 6.4 s
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var n int64
		n, err = s.db.Settle(ctx, outs)
		cancel()
		if err == nil {
			if n != int64(len(outs)) {
				// Rows settled already: another execution of the batch
				// took them over after this one's lease expired.
				s.log.Warn("outcomes for rows no longer sending were dropped", "outcomes", len(outs), "written", n)
			}
			break
		}
	}
	if err != nil {
		s.log.Error("settle: outcomes not written; their rows stay sending and will be reported unknown",
			"outcomes", len(outs), "err", err)
	}
	for _, p := range group {
		if err != nil {
			p.t.mu.Lock()
			if p.t.err == nil {
				p.t.err = err
			}
			p.t.mu.Unlock()
		}
		p.t.wg.Done()
	}
}
