package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tidings/tidings/customer"
)

// Run statuses.
const (
	RunRunning = "running" // the run task is paging the audience
	RunSending = "sending" // every batch is enqueued; deliveries go on
	RunDone    = "done"    // every batch has finished
)

// BeginRun returns the occurrence's run record, creating it as running. A
// retried run task gets the original record back: its StartedAt is the
// instant the audience is evaluated at, so a retry selects the same people.
func (s *DB) BeginRun(ctx context.Context, campaign, occurrence string) (Run, error) {
	if _, err := s.StartRun(ctx, campaign, occurrence); err != nil {
		return Run{}, err
	}
	return s.GetRun(ctx, campaign, occurrence)
}

// AddBatch records a batch of a run before it is enqueued. It is idempotent.
func (s *DB) AddBatch(ctx context.Context, campaign, occurrence string, firstID int64, size int) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO run_batches (campaign, occurrence, first_id, size) VALUES (?, ?, ?, ?)
		ON CONFLICT (campaign, occurrence, first_id) DO NOTHING`), campaign, occurrence, firstID, size)
	if err != nil {
		return fmt.Errorf("add batch: %w", err)
	}
	return nil
}

// RunEnqueued marks a run's audience as fully paged: targeted deliveries are
// expected in the ledger. It then completes the run if every batch is done.
func (s *DB) RunEnqueued(ctx context.Context, campaign, occurrence string, targeted int64) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE runs SET status = ?, targeted = ? WHERE campaign = ? AND occurrence = ? AND status = ?`),
		RunSending, targeted, campaign, occurrence, RunRunning)
	if err != nil {
		return fmt.Errorf("run enqueued: %w", err)
	}
	return s.completeRun(ctx, campaign, occurrence)
}

// BatchDone marks a batch finished, with the number of its recipients an
// earlier run had already handled, and completes the run when it was the last.
func (s *DB) BatchDone(ctx context.Context, campaign, occurrence string, firstID int64, earlier int) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE run_batches SET status = 'done', done_at = ?, earlier = ? WHERE campaign = ? AND occurrence = ? AND first_id = ?`),
		s.timeArg(s.now()), earlier, campaign, occurrence, firstID)
	if err != nil {
		return fmt.Errorf("batch done: %w", err)
	}
	return s.completeRun(ctx, campaign, occurrence)
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

// RecordOutcome writes a settled row without a claim, for recipients that
// are skipped before anything is sent. It reports false when the row exists.
func (s *DB) RecordOutcome(ctx context.Context, k DeliveryKey, run string, status Status, reason, address string) (bool, error) {
	now := s.timeArg(s.now())
	res, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO deliveries
		(campaign, occurrence, customer_id, channel, run, status, reason, address, settled_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (campaign, occurrence, customer_id, channel) DO NOTHING`),
		k.Campaign, k.Occurrence, k.CustomerID, k.Channel, nullString(run), string(status), nullString(reason), nullString(address), now, now, now)
	if err != nil {
		return false, fmt.Errorf("record outcome: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseDelivery deletes a claim whose send certainly did not happen (the
// provider refused it with a retryable error), so a retry can claim it again.
func (s *DB) ReleaseDelivery(ctx context.Context, k DeliveryKey) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM deliveries
		WHERE campaign = ? AND occurrence = ? AND customer_id = ? AND channel = ? AND status = 'sending'`),
		k.Campaign, k.Occurrence, k.CustomerID, k.Channel)
	if err != nil {
		return fmt.Errorf("release delivery: %w", err)
	}
	return nil
}

// SweepSending marks rows claimed more than olderThan ago and never settled
// as unknown: the worker that claimed them died between claiming and
// settling, so the message may or may not have gone out. They are reported,
// never re-sent.
func (s *DB) SweepSending(ctx context.Context, olderThan time.Duration) (int64, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE deliveries SET status = 'unknown', reason = ?, settled_at = ?, updated_at = ?
		WHERE status = 'sending' AND claimed_at < ?`),
		"worker stopped while sending; not re-sent", s.timeArg(now), s.timeArg(now), s.timeArg(now.Add(-olderThan)))
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	return res.RowsAffected()
}

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

// runCounts counts the ledger rows a run wrote, by status and reason, and
// the recipients earlier runs had handled, as skipped.
func (s *DB) runCounts(ctx context.Context, campaign, run string) ([]Count, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT status, COALESCE(reason, ''), COUNT(*) FROM deliveries
		WHERE campaign = ? AND run = ? GROUP BY status, COALESCE(reason, '')
		UNION ALL
		SELECT 'skipped', ?, SUM(earlier) FROM run_batches WHERE campaign = ? AND occurrence = ? AND earlier > 0
		ORDER BY 1, 3 DESC`), campaign, run, ReasonEarlierRun, campaign, run)
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
