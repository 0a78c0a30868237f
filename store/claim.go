package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The batch's ledger writes. A batch claims its recipients' rows a chunk at
// a time, in one statement per chunk (multi-row INSERT … ON CONFLICT DO
// NOTHING RETURNING), and settles their outcomes in groups, one statement
// per group (UPDATE … FROM a VALUES list). Both dialects take the same SQL:
// the VALUES list is a common table expression, because SQLite has no
// column aliases on a subquery, and its columns are cast where PostgreSQL
// cannot infer a parameter's type (see castTime).

// LedgerRow is what a batch needs to know of a row that exists already.
type LedgerRow struct {
	Run       string // the run that wrote it
	Status    Status
	Attempts  int
	ClaimedAt time.Time
	// NotBefore is when a row deferred for a retry may be tried again.
	NotBefore time.Time
}

// Final reports whether the row's outcome is settled for good: neither in
// a worker's hands (sending) nor waiting for a retry (deferred).
func (r LedgerRow) Final() bool { return r.Status != StatusSending && r.Status != StatusDeferred }

// LedgerRows returns the rows an occurrence already has for some
// customers: customer id → channel → row.
func (s *DB) LedgerRows(ctx context.Context, campaign, occurrence string, ids []int64) (map[int64]map[string]LedgerRow, error) {
	out := map[int64]map[string]LedgerRow{}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		in, args := s.inList(chunk)
		rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT customer_id, channel, COALESCE(run, ''), status, attempts, claimed_at, not_before
			FROM deliveries WHERE customer_id `+in+` AND campaign = ? AND occurrence = ?`), append(args, campaign, occurrence)...)
		if err != nil {
			return nil, fmt.Errorf("ledger rows: %w", err)
		}
		for rows.Next() {
			var id int64
			var ch string
			var r LedgerRow
			if err := rows.Scan(&id, &ch, &r.Run, &r.Status, &r.Attempts, scanTime{&r.ClaimedAt}, scanTime{&r.NotBefore}); err != nil {
				rows.Close()
				return nil, err
			}
			if out[id] == nil {
				out[id] = map[string]LedgerRow{}
			}
			out[id][ch] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("ledger rows: %w", err)
		}
	}
	return out, nil
}

// NewRow is a ledger row a batch writes: a claim (StatusSending), or a
// recipient skipped before anything is sent.
type NewRow struct {
	CustomerID int64
	Channel    string
	Status     Status // StatusSending or StatusSkipped
	Reason     string
	Address    string
	Coupon     string
}

// Resolution settles a row an earlier attempt left unfinished, without a
// send: a claim older than sending_timeout becomes unknown (ReasonSwept),
// a retry of an erased customer is skipped.
type Resolution struct {
	CustomerID int64
	Channel    string
	From       Status // the status it must still have
	Status     Status
	Reason     string
}

// ClaimSet is what one claim writes, in one transaction.
type ClaimSet struct {
	Campaign, Occurrence, Run string
	New                       []NewRow
	// Retry names rows deferred for a retry that are due, with the address
	// they go to now (Status is not used): they are claimed again, their
	// attempts counted up.
	Retry []NewRow
	// Resolve settles rows left unfinished by an earlier attempt.
	Resolve []Resolution
}

// Claimed is a row a claim took: the caller, and only the caller, sends it.
type Claimed struct {
	CustomerID int64
	Channel    string
	Attempts   int // this one included
}

// ClaimResult is what a claim did.
type ClaimResult struct {
	Claimed []Claimed
	// Taken counts the rows of New and Retry that someone else had written
	// or claimed between the caller's plan and this claim: another
	// execution of the same batch. The caller did not plan for them.
	Taken int
}

// Claim writes a ClaimSet in one transaction and returns the rows it
// claimed. A row that exists already is left as it is and not returned:
// whoever wrote it handled that recipient, which is what makes each send
// happen at most once. Rows are claimed only while their customer exists;
// for one erased since the batch loaded it, the row is skipped with
// ReasonCustomerDeleted and no address instead, so an erased customer gets
// no message and leaves no address in the ledger.
func (s *DB) Claim(ctx context.Context, cs ClaimSet) (ClaimResult, error) {
	var res ClaimResult
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("claim: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	for _, r := range cs.Resolve {
		address := "address"
		if r.Reason == ReasonCustomerDeleted {
			address = "NULL"
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE deliveries SET status = ?, reason = ?, address = `+address+`, settled_at = ?, updated_at = ?
			WHERE customer_id = ? AND campaign = ? AND occurrence = ? AND channel = ? AND status = ?`),
			string(r.Status), nullString(r.Reason), s.timeArg(now), s.timeArg(now),
			r.CustomerID, cs.Campaign, cs.Occurrence, r.Channel, string(r.From)); err != nil {
			return res, fmt.Errorf("claim: resolve: %w", err)
		}
	}
	for _, step := range []struct {
		rows []NewRow
		do   func(context.Context, *sql.Tx, ClaimSet, time.Time) ([]Claimed, int, error)
	}{{cs.Retry, s.reclaim}, {cs.New, s.insertRows}} {
		if len(step.rows) == 0 {
			continue
		}
		got, gone, err := step.do(ctx, tx, cs, now)
		if err != nil {
			return res, err
		}
		res.Claimed = append(res.Claimed, got...)
		res.Taken += len(step.rows) - len(got) - gone
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("claim: %w", err)
	}
	return res, nil
}

// insertRows inserts cs.New. It returns the claims among the rows it wrote
// and how many others it wrote: the skips, and the rows of customers gone
// since, skipped with no address. What is left of cs.New someone else had
// written (ClaimResult.Taken).
func (s *DB) insertRows(ctx context.Context, tx *sql.Tx, cs ClaimSet, now time.Time) ([]Claimed, int, error) {
	args := make([]any, 0, 6*len(cs.New)+8)
	values := valuesList(len(cs.New), "(CAST(? AS BIGINT), ?, ?, ?, ?, ?)")
	for _, r := range cs.New {
		args = append(args, r.CustomerID, r.Channel, string(r.Status), nullString(r.Reason), nullString(r.Address), nullString(r.Coupon))
	}
	with := `WITH v (customer_id, channel, status, reason, address, coupon) AS (VALUES ` + values + `) `
	ts := s.timeArg(now)
	// claimed_at is a claim's, settled_at a skipped row's. A chunk's rows
	// get their ledger ids in customer order.
	rows, err := tx.QueryContext(ctx, s.rebind(with+`INSERT INTO deliveries
		(campaign, occurrence, customer_id, channel, run, status, reason, address, coupon, attempts, claimed_at, settled_at, created_at, updated_at)
		SELECT ?, ?, v.customer_id, v.channel, ?, v.status, v.reason, v.address, v.coupon,
			CASE WHEN v.status = 'sending' THEN 1 ELSE 0 END,
			CASE WHEN v.status = 'sending' THEN `+s.castTime()+` END,
			CASE WHEN v.status = 'sending' THEN NULL ELSE `+s.castTime()+` END, `+s.castTime()+`, `+s.castTime()+`
		FROM v JOIN customers c ON c.id = v.customer_id WHERE TRUE ORDER BY v.customer_id, v.channel
		ON CONFLICT (campaign, occurrence, customer_id, channel) DO NOTHING
		RETURNING customer_id, channel, status`),
		append(args, cs.Campaign, cs.Occurrence, nullString(cs.Run), ts, ts, ts, ts)...)
	if err != nil {
		return nil, 0, fmt.Errorf("claim: %w", err)
	}
	var claimed []Claimed
	inserted, skipped, gone := 0, 0, 0
	for rows.Next() {
		var c Claimed
		var st Status
		if err := rows.Scan(&c.CustomerID, &c.Channel, &st); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("claim: %w", err)
		}
		inserted++
		if st == StatusSending {
			c.Attempts = 1
			claimed = append(claimed, c)
		} else {
			skipped++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("claim: %w", err)
	}
	if inserted < len(cs.New) {
		// Rows that existed already, or whose customer is gone: the
		// latter get their skipped row.
		res, err := tx.ExecContext(ctx, s.rebind(with+`INSERT INTO deliveries
			(campaign, occurrence, customer_id, channel, run, status, reason, settled_at, created_at, updated_at)
			SELECT ?, ?, v.customer_id, v.channel, ?, 'skipped', ?, `+s.castTime()+`, `+s.castTime()+`, `+s.castTime()+`
			FROM v WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = v.customer_id)
			ON CONFLICT (campaign, occurrence, customer_id, channel) DO NOTHING`),
			append(slices.Clip(args[:6*len(cs.New)]), cs.Campaign, cs.Occurrence, nullString(cs.Run), ReasonCustomerDeleted, ts, ts, ts)...)
		if err != nil {
			return nil, 0, fmt.Errorf("claim: erased customers: %w", err)
		}
		n, _ := res.RowsAffected()
		gone = int(n)
	}
	return claimed, skipped + gone, nil
}

// reclaim claims again the rows of cs.Retry that are still deferred, for
// the address they go to now, and skips those whose customer is gone (with
// no address); it returns the claims and how many it skipped.
func (s *DB) reclaim(ctx context.Context, tx *sql.Tx, cs ClaimSet, now time.Time) ([]Claimed, int, error) {
	var args []any
	values := valuesList(len(cs.Retry), "(CAST(? AS BIGINT), ?, ?)")
	for _, r := range cs.Retry {
		args = append(args, r.CustomerID, r.Channel, nullString(r.Address))
	}
	with := `WITH v (customer_id, channel, address) AS (VALUES ` + values + `) `
	match := ` FROM v WHERE deliveries.customer_id = v.customer_id AND deliveries.campaign = ? AND deliveries.occurrence = ?
		AND deliveries.channel = v.channel AND deliveries.status = 'deferred'
		AND `
	ts := s.timeArg(now)
	res, err := tx.ExecContext(ctx, s.rebind(with+`UPDATE deliveries SET status = 'skipped', reason = ?, address = NULL,
			not_before = NULL, settled_at = ?, updated_at = ?`+match+`NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = deliveries.customer_id)`),
		append(slices.Clip(args), ReasonCustomerDeleted, ts, ts, cs.Campaign, cs.Occurrence)...)
	if err != nil {
		return nil, 0, fmt.Errorf("claim retries: erased customers: %w", err)
	}
	gone, _ := res.RowsAffected()
	rows, err := tx.QueryContext(ctx, s.rebind(with+`UPDATE deliveries SET status = 'sending', attempts = deliveries.attempts + 1, address = v.address,
			claimed_at = ?, updated_at = ?, not_before = NULL, settled_at = NULL`+match+`EXISTS (SELECT 1 FROM customers c WHERE c.id = deliveries.customer_id)
		RETURNING deliveries.customer_id, deliveries.channel, deliveries.attempts`),
		append(args, ts, ts, cs.Campaign, cs.Occurrence)...)
	if err != nil {
		return nil, 0, fmt.Errorf("claim retries: %w", err)
	}
	defer rows.Close()
	var claimed []Claimed
	for rows.Next() {
		var c Claimed
		if err := rows.Scan(&c.CustomerID, &c.Channel, &c.Attempts); err != nil {
			return nil, 0, fmt.Errorf("claim retries: %w", err)
		}
		claimed = append(claimed, c)
	}
	return claimed, int(gone), rows.Err()
}

// Outcome is what became of a claimed row.
type Outcome struct {
	DeliveryKey
	// Status is the row's outcome; StatusDeferred waits for a retry at
	// NotBefore. The zero Status releases the claim, because the send
	// certainly did not happen (a rate limit, a window that closed,
	// credentials refused, a shutdown): a first claim is deleted, and a
	// later attempt claims it afresh; a retry waits again, its attempts as
	// they were.
	Status     Status
	Reason     string
	ProviderID string
	NotBefore  time.Time
}

// Settle writes a group of outcomes of claimed rows, of any campaigns, in
// one transaction: one UPDATE for the outcomes, one DELETE for the
// releases. Only rows still sending are changed, so an outcome is never
// overwritten; a claim already called unknown (the send outlasted
// sending_timeout) gets its real outcome after all. It returns how many
// rows it changed.
//
// The columns it writes (status, reason, provider_id, not_before,
// settled_at, updated_at) are in no index of deliveries, so on PostgreSQL
// the UPDATE can be a HOT update: no index entry is written.
func (s *DB) Settle(ctx context.Context, outs []Outcome) (int64, error) {
	// In key order, so that two writers lock rows in the same order and
	// cannot deadlock.
	outs = slices.Clone(outs)
	slices.SortFunc(outs, func(a, b Outcome) int { return a.DeliveryKey.compare(b.DeliveryKey) })
	var settle, release []Outcome
	for _, o := range outs {
		if o.Status == StatusSending {
			return 0, fmt.Errorf("settle: %q is not an outcome", o.Status)
		}
		if o.Status == "" {
			release = append(release, o)
		} else {
			settle = append(settle, o)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("settle: %w", err)
	}
	defer tx.Rollback()
	var n int64
	unsettled := `(deliveries.status = 'sending' OR (deliveries.status = 'unknown' AND deliveries.reason = ?))`
	if len(settle) > 0 {
		var args []any
		values := valuesList(len(settle), "(?, ?, CAST(? AS BIGINT), ?, ?, ?, ?, "+s.castTime()+")")
		for _, o := range settle {
			args = append(args, o.Campaign, o.Occurrence, o.CustomerID, o.Channel,
				string(o.Status), nullString(o.Reason), nullString(o.ProviderID), s.timeArg(o.NotBefore))
		}
		now := s.timeArg(s.now())
		res, err := tx.ExecContext(ctx, s.rebind(`WITH v (campaign, occurrence, customer_id, channel, status, reason, provider_id, not_before) AS (VALUES `+values+`)
			UPDATE deliveries SET status = v.status, reason = v.reason, provider_id = v.provider_id, not_before = v.not_before,
				settled_at = `+s.castTime()+`, updated_at = `+s.castTime()+`
			FROM v WHERE deliveries.campaign = v.campaign AND deliveries.occurrence = v.occurrence
			AND deliveries.customer_id = v.customer_id AND deliveries.channel = v.channel AND `+unsettled),
			append(args, now, now, ReasonSwept)...)
		if err != nil {
			return 0, fmt.Errorf("settle: %w", err)
		}
		m, _ := res.RowsAffected()
		n += m
	}
	if len(release) > 0 {
		var args []any
		values := valuesList(len(release), "(?, ?, CAST(? AS BIGINT), ?)")
		for _, o := range release {
			args = append(args, o.Campaign, o.Occurrence, o.CustomerID, o.Channel)
		}
		released := `(campaign, occurrence, customer_id, channel) IN (VALUES ` + values + `) AND ` + unsettled
		// A retry goes back to waiting, its attempts as they were; a first
		// claim is deleted.
		now := s.timeArg(s.now())
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE deliveries SET status = 'deferred', attempts = attempts - 1, not_before = `+s.castTime()+`,
			updated_at = `+s.castTime()+` WHERE attempts > 1 AND `+released), append([]any{now, now}, append(slices.Clip(args), ReasonSwept)...)...)
		if err != nil {
			return 0, fmt.Errorf("settle: release: %w", err)
		}
		m, _ := res.RowsAffected()
		n += m
		if res, err = tx.ExecContext(ctx, s.rebind(`DELETE FROM deliveries WHERE attempts <= 1 AND `+released), append(args, ReasonSwept)...); err != nil {
			return 0, fmt.Errorf("settle: release: %w", err)
		}
		m, _ = res.RowsAffected()
		n += m
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("settle: %w", err)
	}
	return n, nil
}

// inList is `IN (?, ?, …)` with the ids as its arguments, or on
// PostgreSQL `= ANY(?)` with one array: a statement with 500 parameters
// costs PostgreSQL more to plan than to run.
func (s *DB) inList(ids []int64) (string, []any) {
	if s.dialect == Postgres {
		return "= ANY(?)", []any{ids}
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "IN (" + placeholders(len(ids)) + ")", args
}

// valuesList is n times item, comma-separated: a VALUES list of n rows
// (item is a row's parameters in parentheses), or placeholders.
func valuesList(n int, row string) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// castTime is a timestamp parameter where PostgreSQL cannot infer its type
// (a VALUES list, a CASE); SQLite stores timestamps as text and takes it as
// it is.
func (s *DB) castTime() string {
	if s.dialect == Postgres {
		return "CAST(? AS TIMESTAMPTZ)"
	}
	return "?"
}

// ClaimDelivery claims one row (see Claim). It reports false when the row
// already exists, or when the customer no longer exists (the row is then
// recorded as skipped with ReasonCustomerDeleted). run names the run that
// claims it (see Delivery.Run).
func (s *DB) ClaimDelivery(ctx context.Context, k DeliveryKey, run, address, coupon string) (bool, error) {
	claimed, err := s.Claim(ctx, ClaimSet{Campaign: k.Campaign, Occurrence: k.Occurrence, Run: run,
		New: []NewRow{{CustomerID: k.CustomerID, Channel: k.Channel, Status: StatusSending, Address: address, Coupon: coupon}}})
	return len(claimed.Claimed) == 1, err
}

// SettleDelivery moves one Sending row to its outcome (see Settle). It
// fails if the row is not Sending.
func (s *DB) SettleDelivery(ctx context.Context, k DeliveryKey, status Status, reason, providerID string) error {
	if status == "" {
		return fmt.Errorf("settle delivery: no status")
	}
	n, err := s.Settle(ctx, []Outcome{{DeliveryKey: k, Status: status, Reason: reason, ProviderID: providerID}})
	if err == nil && n != 1 {
		err = fmt.Errorf("settle delivery %v: no row in status sending", k)
	}
	return err
}
