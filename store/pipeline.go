package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tidings/tidings/customer"
)

// Run statuses.
const (
	RunRunning = "running" // the run task is paging the audience
	RunSending = "sending" // every batch is enqueued; deliveries go on
	RunDone    = "done"    // every batch has finished (or was abandoned)
	RunFailed  = "failed"  // the run task itself was given up while paging
	RunPaused  = "paused"  // deliveries wait: the provider refused our credentials or kept failing
)

// PauseRun stops a run's deliveries until ResumeRun, saying why. Batches
// wait without using up retries; nothing is failed.
func (s *DB) PauseRun(ctx context.Context, campaign, run, reason string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE runs SET status = ?, error = ? WHERE campaign = ? AND occurrence = ? AND status IN (?, ?)`),
		RunPaused, reason, campaign, run, RunRunning, RunSending)
	if err != nil {
		return false, fmt.Errorf("pause run: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ResumeRun lets a paused run's deliveries go on.
func (s *DB) ResumeRun(ctx context.Context, campaign, run string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE runs SET status = CASE WHEN paged = 1 THEN ? ELSE ? END, error = NULL
		WHERE campaign = ? AND occurrence = ? AND status = ?`), RunSending, RunRunning, campaign, run, RunPaused)
	if err != nil {
		return false, fmt.Errorf("resume run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	return true, s.completeRun(ctx, campaign, run)
}

// abandonedOfRun selects a run's abandoned batches, in id order.
const abandonedOfRun = `WHERE campaign = ? AND occurrence = ? AND status = 'abandoned' ORDER BY first_id`

// AbandonedBatches lists a run's abandoned batches, in id order.
func (s *DB) AbandonedBatches(ctx context.Context, campaign, run string) ([]Batch, error) {
	return s.batches(ctx, abandonedOfRun, campaign, run)
}

// PendingBatches lists a run's batches not yet done, in id order.
func (s *DB) PendingBatches(ctx context.Context, campaign, run string) ([]Batch, error) {
	return s.batches(ctx, `WHERE campaign = ? AND occurrence = ? AND status = 'pending' ORDER BY first_id`, campaign, run)
}

// ReviveRun takes back what was given up on in a run: its abandoned
// batches become pending again (the rows they never wrote no longer count
// as failed; a finished run is sending again), and a failed run (its run
// task was archived while paging) is running again. Each change applies
// only from the state it undoes, so a run that moved on meanwhile is left
// as it is. It returns the batches revived and whether the run must be
// paged again. The caller deletes the archived tasks first and enqueues
// new ones after: the ledger keeps anyone from getting a second message.
func (s *DB) ReviveRun(ctx context.Context, campaign, run string) ([]Batch, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("revive run: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE runs SET status = ?, error = NULL, finished_at = NULL
		WHERE campaign = ? AND occurrence = ? AND status = ?`), RunRunning, campaign, run, RunFailed)
	if err != nil {
		return nil, false, fmt.Errorf("revive run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, false, fmt.Errorf("revive run: %w", err)
	}
	revived, err := s.batchesIn(ctx, tx, abandonedOfRun, campaign, run)
	if err != nil {
		return nil, false, err
	}
	if len(revived) > 0 {
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE run_batches SET status = 'pending', abandoned = 0, reason = NULL, done_at = NULL, created_at = ?
			WHERE campaign = ? AND occurrence = ? AND status = 'abandoned'`), s.timeArg(s.now()), campaign, run); err != nil {
			return nil, false, fmt.Errorf("revive run: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE runs SET status = ?, finished_at = NULL WHERE campaign = ? AND occurrence = ? AND status = ?`),
			RunSending, campaign, run, RunDone); err != nil {
			return nil, false, fmt.Errorf("revive run: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("revive run: %w", err)
	}
	return revived, n == 1, nil
}

// BeginRun returns the occurrence's run record, creating it as running. A
// retried run task gets the original record back: its StartedAt is the
// instant the audience is evaluated at, so a retry selects the same people.
// queue is the Asynq queue of its tasks, for the reconciler.
func (s *DB) BeginRun(ctx context.Context, campaign, occurrence, queue string) (Run, error) {
	if _, err := s.StartRun(ctx, campaign, occurrence); err != nil {
		return Run{}, err
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE runs SET queue = ? WHERE campaign = ? AND occurrence = ? AND queue IS NULL`),
		queue, campaign, occurrence); err != nil {
		return Run{}, fmt.Errorf("begin run: %w", err)
	}
	return s.GetRun(ctx, campaign, occurrence)
}

// Batch is one batch of a run.
type Batch struct {
	Campaign    string
	Run         string
	CustomerIDs []int64 // in id order
	PerCustomer int
	Queue       string
	// NotBefore is when the batch is due: its recipients' send window opens
	// then (zero: at once).
	NotBefore time.Time
	Status    string
	CreatedAt time.Time
}

// FirstID names the batch.
func (b Batch) FirstID() int64 { return b.CustomerIDs[0] }

// AddBatch records a batch before it is enqueued; recording it again is a
// no-op that keeps the first version.
func (s *DB) AddBatch(ctx context.Context, b Batch) error {
	return s.AddBatches(ctx, []Batch{b})
}

// AddBatches records batches in one transaction: all of them or none, so a
// run that crashes midway never leaves part of a page recorded.
func (s *DB) AddBatches(ctx context.Context, bs []Batch) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add batch: %w", err)
	}
	defer tx.Rollback()
	now := s.timeArg(s.now())
	for _, b := range bs {
		ids, _ := json.Marshal(b.CustomerIDs)
		_, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO run_batches
			(campaign, occurrence, first_id, last_id, size, per_customer, ids, queue, not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (campaign, occurrence, first_id) DO NOTHING`),
			b.Campaign, b.Run, b.CustomerIDs[0], b.CustomerIDs[len(b.CustomerIDs)-1], len(b.CustomerIDs), b.PerCustomer,
			string(ids), b.Queue, s.timeArg(b.NotBefore), now)
		if err != nil {
			return fmt.Errorf("add batch: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add batch: %w", err)
	}
	return nil
}

// GetBatch loads one batch of a run by its first customer id, or returns
// ErrNotFound.
func (s *DB) GetBatch(ctx context.Context, campaign, run string, firstID int64) (Batch, error) {
	bs, err := s.batches(ctx, `WHERE campaign = ? AND occurrence = ? AND first_id = ?`, campaign, run, firstID)
	if err == nil && len(bs) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return Batch{}, err
	}
	return bs[0], nil
}

// RunBatches lists a run's batches in id order.
func (s *DB) RunBatches(ctx context.Context, campaign, run string) ([]Batch, error) {
	return s.batches(ctx, `WHERE campaign = ? AND occurrence = ? ORDER BY first_id`, campaign, run)
}

// StaleBatches lists batches still pending that were recorded, and due,
// before olderThan ago: candidates for the reconciler. Batches waiting for
// their send window are left out until it opens, so thousands of them
// cannot crowd a lost or archived batch out of the list.
func (s *DB) StaleBatches(ctx context.Context, olderThan time.Duration) ([]Batch, error) {
	before := s.timeArg(s.now().Add(-olderThan))
	return s.batches(ctx, `WHERE status = 'pending' AND created_at < ? AND (not_before IS NULL OR not_before < ?)
		ORDER BY created_at LIMIT 1000`, before, before)
}

func (s *DB) batches(ctx context.Context, where string, args ...any) ([]Batch, error) {
	return s.batchesIn(ctx, s.db, where, args...)
}

// batchesIn is batches on q: the database, or a transaction.
func (s *DB) batchesIn(ctx context.Context, q querier, where string, args ...any) ([]Batch, error) {
	rows, err := q.QueryContext(ctx, s.rebind(`SELECT campaign, occurrence, ids, per_customer, queue, not_before, status, created_at FROM run_batches `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		var b Batch
		var ids string
		if err := rows.Scan(&b.Campaign, &b.Run, &ids, &b.PerCustomer, &b.Queue, scanTime{&b.NotBefore}, &b.Status, scanTime{&b.CreatedAt}); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(ids), &b.CustomerIDs); err != nil || len(b.CustomerIDs) == 0 {
			return nil, fmt.Errorf("batch of %s %s: bad ids: %v", b.Campaign, b.Run, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// AbandonBatch gives up a batch whose task will never run again (archived
// after its retries, or lost). The ledger rows it never wrote are counted
// as failed with the reason, so the run still adds up and can finish; its
// rows still waiting for a retry fail with the reason, and its claims left
// sending by a worker that stopped become unknown (they may have been sent).
func (s *DB) AbandonBatch(ctx context.Context, b Batch, reason string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("abandon batch: %w", err)
	}
	defer tx.Rollback()
	ids := placeholders(len(b.CustomerIDs))
	args := []any{b.Campaign, b.Run}
	for _, id := range b.CustomerIDs {
		args = append(args, id)
	}
	now := s.timeArg(s.now())
	for _, u := range []struct{ from, to, reason string }{
		{string(StatusDeferred), string(StatusFailed), "batch abandoned: " + reason},
		{string(StatusSending), string(StatusUnknown), ReasonSwept},
	} {
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE deliveries SET status = ?, reason = ?, settled_at = ?, updated_at = ?
			WHERE status = ? AND campaign = ? AND run = ? AND customer_id IN (`+ids+`)`),
			append([]any{u.to, u.reason, now, now, u.from}, args...)...); err != nil {
			return fmt.Errorf("abandon batch: %w", err)
		}
	}
	var written int64
	if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM deliveries WHERE campaign = ? AND run = ? AND customer_id IN (`+ids+`)`),
		args...).Scan(&written); err != nil {
		return fmt.Errorf("abandon batch: %w", err)
	}
	missing := max(int64(len(b.CustomerIDs)*b.PerCustomer)-written, 0)
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE run_batches SET status = 'abandoned', abandoned = ?, reason = ?, done_at = ?
		WHERE campaign = ? AND occurrence = ? AND first_id = ? AND status = 'pending'`),
		missing, reason, now, b.Campaign, b.Run, b.FirstID()); err != nil {
		return fmt.Errorf("abandon batch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("abandon batch: %w", err)
	}
	return s.completeRun(ctx, b.Campaign, b.Run)
}

// StaleRuns lists runs still paging their audience that started before
// olderThan ago.
func (s *DB) StaleRuns(ctx context.Context, olderThan time.Duration) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT campaign, occurrence, COALESCE(queue, '') FROM runs WHERE status = ? AND started_at < ?`),
		RunRunning, s.timeArg(s.now().Add(-olderThan)))
	if err != nil {
		return nil, fmt.Errorf("stale runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		if err := rows.Scan(&r.Campaign, &r.Occurrence, &r.Queue); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// FailRun records that a run's own task was given up while it was still
// paging the audience: the batches it enqueued go on, the rest never will.
func (s *DB) FailRun(ctx context.Context, campaign, run, reason string) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE campaign = ? AND occurrence = ? AND status = ?`),
		RunFailed, reason, s.timeArg(s.now()), campaign, run, RunRunning)
	if err != nil {
		return fmt.Errorf("fail run: %w", err)
	}
	return nil
}

// RunEnqueued marks a run's audience as fully paged: targeted is the ledger
// rows its recorded batches call for. It then completes the run if every
// batch is finished.
func (s *DB) RunEnqueued(ctx context.Context, campaign, occurrence string) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE runs SET paged = 1,
		status = CASE WHEN status = ? THEN ? ELSE status END,
		targeted = (SELECT COALESCE(SUM(size * per_customer), 0) FROM run_batches b WHERE b.campaign = runs.campaign AND b.occurrence = runs.occurrence)
		WHERE campaign = ? AND occurrence = ?`),
		RunRunning, RunSending, campaign, occurrence)
	if err != nil {
		return fmt.Errorf("run enqueued: %w", err)
	}
	return s.completeRun(ctx, campaign, occurrence)
}

// BatchDone marks a batch finished, with the number of its recipients an
// earlier run had already handled, and completes the run when it was the last.
func (s *DB) BatchDone(ctx context.Context, campaign, occurrence string, firstID int64, earlier int) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE run_batches SET status = 'done', done_at = ?, earlier = ?
		WHERE campaign = ? AND occurrence = ? AND first_id = ? AND status <> 'abandoned'`),
		s.timeArg(s.now()), earlier, campaign, occurrence, firstID)
	if err != nil {
		return fmt.Errorf("batch done: %w", err)
	}
	return s.completeRun(ctx, campaign, occurrence)
}

// DeferBatch records that a batch ran and left recipients outside their
// send window waiting until until, lacking waiting ledger rows between
// them: the run's counts show those rows as deferred, and the reconciler
// leaves the batch alone until then.
func (s *DB) DeferBatch(ctx context.Context, campaign, occurrence string, firstID int64, until time.Time, waiting int) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE run_batches SET not_before = ?, waiting = ?
		WHERE campaign = ? AND occurrence = ? AND first_id = ? AND status = 'pending'`),
		s.timeArg(until), waiting, campaign, occurrence, firstID)
	if err != nil {
		return fmt.Errorf("defer batch: %w", err)
	}
	return nil
}

func (s *DB) completeRun(ctx context.Context, campaign, occurrence string) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE runs SET status = ?, finished_at = ?
		WHERE campaign = ? AND occurrence = ? AND status = ?
		AND NOT EXISTS (SELECT 1 FROM run_batches b WHERE b.campaign = runs.campaign AND b.occurrence = runs.occurrence AND b.status = 'pending')`),
		RunDone, s.timeArg(s.now()), campaign, occurrence, RunSending)
	if err != nil {
		return fmt.Errorf("complete run: %w", err)
	}
	return nil
}

// ReasonSwept is the reason of a row a worker claimed and never settled
// (it stopped while sending), reported unknown once sending_timeout passed.
const ReasonSwept = "worker stopped while sending; not re-sent"

// CustomersByID loads the customers with the given ids, in id order;
// deleted ones are simply absent.
func (s *DB) CustomersByID(ctx context.Context, ids []int64) ([]customer.Customer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return s.queryCustomers(ctx, selectCustomer+" WHERE c.id IN ("+placeholders(len(ids))+") ORDER BY c.id", args...)
}

// Local is what a send window needs to know of a customer: their zone
// ("" for none) and birthday (zero for none).
type Local struct {
	ID         int64
	Zone       string
	BirthMonth time.Month
	BirthDay   int
}

// CustomerByID loads one customer, or returns ErrNotFound.
func (s *DB) CustomerByID(ctx context.Context, id int64) (customer.Customer, error) {
	cs, err := s.CustomersByID(ctx, []int64{id})
	if err != nil {
		return customer.Customer{}, err
	}
	if len(cs) == 0 {
		return customer.Customer{}, ErrNotFound
	}
	return cs[0], nil
}

// Count is a number of ledger rows with one status and reason.
type Count struct {
	Status Status
	Reason string
	N      int64
}

// RunSummary is a run with its ledger counts.
type RunSummary struct {
	Run
	Counts []Count
}

// Total returns the number of ledger rows of a status ("" for all).
func (r RunSummary) Total(status Status) int64 {
	var n int64
	for _, c := range r.Counts {
		if status == "" || c.Status == status {
			n += c.N
		}
	}
	return n
}

// Runs lists runs, newest first, with their ledger counts by status and
// reason; campaign "" lists every campaign.
func (s *DB) Runs(ctx context.Context, campaign string, limit int) ([]RunSummary, error) {
	q := `SELECT campaign, occurrence, status, targeted, started_at, finished_at, error FROM runs`
	var args []any
	if campaign != "" {
		q += ` WHERE campaign = ?`
		args = append(args, campaign)
	}
	q += ` ORDER BY started_at DESC, campaign, occurrence LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var out []RunSummary
	for rows.Next() {
		var r RunSummary
		var runErr sql.NullString
		if err := rows.Scan(&r.Campaign, &r.Occurrence, &r.Status, &r.Targeted, scanTime{&r.StartedAt}, scanTime{&r.FinishedAt}, &runErr); err != nil {
			rows.Close()
			return nil, err
		}
		r.Error = runErr.String
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Counts, err = s.runCounts(ctx, out[i].Campaign, out[i].Occurrence); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReasonEarlierRun is the reason counted for recipients an earlier run of
// the same occurrence already handled.
const ReasonEarlierRun = "handled by an earlier run of this occurrence"

// ReasonWaitingForWindow is the reason counted for recipients whose batch
// waits for their send window to open.
const ReasonWaitingForWindow = "waiting for the send window"

// runCounts counts the ledger rows a run wrote, by status and reason; the
// recipients earlier runs had handled, as skipped; and the recipients of
// batches not yet due, as deferred.
func (s *DB) runCounts(ctx context.Context, campaign, run string) ([]Count, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT status, COALESCE(reason, ''), COUNT(*) FROM deliveries
		WHERE campaign = ? AND run = ? GROUP BY status, COALESCE(reason, '')
		UNION ALL
		SELECT 'skipped', ?, SUM(earlier) FROM run_batches WHERE campaign = ? AND occurrence = ? AND earlier > 0
		UNION ALL
		SELECT 'failed', 'batch abandoned: ' || COALESCE(reason, ''), SUM(abandoned) FROM run_batches
		WHERE campaign = ? AND occurrence = ? AND status = 'abandoned' GROUP BY reason
		UNION ALL
		SELECT 'deferred', ?, SUM(COALESCE(waiting, size * per_customer)) FROM run_batches
		WHERE campaign = ? AND occurrence = ? AND status = 'pending' AND not_before > ?
		ORDER BY 1, 3 DESC`), campaign, run, ReasonEarlierRun, campaign, run, campaign, run,
		ReasonWaitingForWindow, campaign, run, s.timeArg(s.now()))
	if err != nil {
		return nil, fmt.Errorf("run counts: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		var n sql.NullInt64 // SUM over no rows is NULL
		if err := rows.Scan(&c.Status, &c.Reason, &n); err != nil {
			return nil, err
		}
		if c.N = n.Int64; c.N > 0 {
			out = append(out, c)
		}
	}
	return out, rows.Err()
}

// RunSummaryOf returns one run with its counts, or ErrNotFound.
func (s *DB) RunSummaryOf(ctx context.Context, campaign, occurrence string) (RunSummary, error) {
	r, err := s.GetRun(ctx, campaign, occurrence)
	if errors.Is(err, ErrNotFound) || err != nil {
		return RunSummary{}, err
	}
	counts, err := s.runCounts(ctx, campaign, occurrence)
	return RunSummary{Run: r, Counts: counts}, err
}
