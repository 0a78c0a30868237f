package store

import (
	"context"
	"database/sql"
	"fmt"
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

// Existing returns the rows an occurrence already has for some customers:
// customer id → channel → the run that wrote it.
func (s *DB) Existing(ctx context.Context, campaign, occurrence string, ids []int64) (map[int64]map[string]string, error) {
	rows, err := s.LedgerRows(ctx, campaign, occurrence, ids)
	out := make(map[int64]map[string]string, len(rows))
	for id, chs := range rows {
		out[id] = make(map[string]string, len(chs))
		for ch, r := range chs {
			out[id][ch] = r.Run
		}
	}
	return out, err
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
	// Retry names rows deferred for a retry that are due: they are claimed
	// again, their attempts counted up.
	Retry []DeliveryKey
	// Resolve settles rows left unfinished by an earlier attempt.
	Resolve []Resolution
}

// Claimed is a row a claim took: the caller, and only the caller, sends it.
type Claimed struct {
	CustomerID int64
	Channel    string
	Attempts   int // this one included
}

// Claim writes a ClaimSet in one transaction and returns the rows it
// claimed. A row that exists already is left as it is and not returned:
// whoever wrote it handled that recipient, which is what makes each send
// happen at most once. New rows are written only while their customer
// exists; for one erased since the batch loaded it, a skipped row with
// ReasonCustomerDeleted and no address is written instead, so an erased
// customer gets no message and leaves no address in the ledger.
func (s *DB) Claim(ctx context.Context, cs ClaimSet) ([]Claimed, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	var claimed []Claimed
	for _, r := range cs.Resolve {
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE deliveries SET status = ?, reason = ?, settled_at = ?, updated_at = ?
			WHERE campaign = ? AND occurrence = ? AND customer_id = ? AND channel = ? AND status = ?`),
			string(r.Status), nullString(r.Reason), s.timeArg(now), s.timeArg(now),
			cs.Campaign, cs.Occurrence, r.CustomerID, r.Channel, string(r.From)); err != nil {
			return nil, fmt.Errorf("claim: resolve: %w", err)
		}
	}
	if len(cs.Retry) > 0 {
		got, err := s.reclaim(ctx, tx, cs, now)
		if err != nil {
			return nil, err
		}
		claimed = append(claimed, got...)
	}
	if len(cs.New) > 0 {
		got, err := s.insertRows(ctx, tx, cs, now)
		if err != nil {
			return nil, err
		}
		claimed = append(claimed, got...)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return claimed, nil
}

// insertRows inserts cs.New and returns the claims among them.
func (s *DB) insertRows(ctx context.Context, tx *sql.Tx, cs ClaimSet, now time.Time) ([]Claimed, error) {
	var values strings.Builder
	args := make([]any, 0, 6*len(cs.New)+8)
	for i, r := range cs.New {
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(CAST(? AS BIGINT), ?, ?, ?, ?, ?)")
		args = append(args, r.CustomerID, r.Channel, string(r.Status), nullString(r.Reason), nullString(r.Address), nullString(r.Coupon))
	}
	with := `WITH v (customer_id, channel, status, reason, address, coupon) AS (VALUES ` + values.String() + `) `
	ts := s.timeArg(now)
	// claimed_at is a claim's, settled_at a skipped row's. Rows get their
	// ledger ids in customer order, which the dashboard pages by.
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
		return nil, fmt.Errorf("claim: %w", err)
	}
	var claimed []Claimed
	inserted := 0
	for rows.Next() {
		var c Claimed
		var st Status
		if err := rows.Scan(&c.CustomerID, &c.Channel, &st); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim: %w", err)
		}
		inserted++
		if st == StatusSending {
			c.Attempts = 1
			claimed = append(claimed, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if inserted < len(cs.New) {
		// Rows that existed already, or whose customer is gone: the
		// latter get their skipped row.
		if _, err := tx.ExecContext(ctx, s.rebind(with+`INSERT INTO deliveries
			(campaign, occurrence, customer_id, channel, run, status, reason, settled_at, created_at, updated_at)
			SELECT ?, ?, v.customer_id, v.channel, ?, 'skipped', ?, `+s.castTime()+`, `+s.castTime()+`, `+s.castTime()+`
			FROM v WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = v.customer_id)
			ON CONFLICT (campaign, occurrence, customer_id, channel) DO NOTHING`),
			append(args[:6*len(cs.New)], cs.Campaign, cs.Occurrence, nullString(cs.Run), ReasonCustomerDeleted, ts, ts, ts)...); err != nil {
			return nil, fmt.Errorf("claim: erased customers: %w", err)
		}
	}
	return claimed, nil
}

// reclaim claims again the rows of cs.Retry that are still deferred.
func (s *DB) reclaim(ctx context.Context, tx *sql.Tx, cs ClaimSet, now time.Time) ([]Claimed, error) {
	var values strings.Builder
	args := []any{s.timeArg(now), s.timeArg(now), cs.Campaign, cs.Occurrence}
	for i, k := range cs.Retry {
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(CAST(? AS BIGINT), ?)")
		args = append(args, k.CustomerID, k.Channel)
	}
	rows, err := tx.QueryContext(ctx, s.rebind(`UPDATE deliveries SET status = 'sending', attempts = attempts + 1, claimed_at = ?, updated_at = ?,
			not_before = NULL, settled_at = NULL
		WHERE campaign = ? AND occurrence = ? AND status = 'deferred' AND (customer_id, channel) IN (VALUES `+values.String()+`)
		RETURNING customer_id, channel, attempts`), args...)
	if err != nil {
		return nil, fmt.Errorf("claim retries: %w", err)
	}
	defer rows.Close()
	var claimed []Claimed
	for rows.Next() {
		var c Claimed
		if err := rows.Scan(&c.CustomerID, &c.Channel, &c.Attempts); err != nil {
			return nil, fmt.Errorf("claim retries: %w", err)
		}
		claimed = append(claimed, c)
	}
	return claimed, rows.Err()
}

// Outcome is what became of a claimed row.
type Outcome struct {
	DeliveryKey
	// Status is the row's outcome; StatusDeferred waits for a retry at
	// NotBefore. The zero Status releases the claim: the row is deleted,
	// because the send certainly did not happen (a rate limit, a window
	// that closed, credentials refused), and a later attempt claims it
	// afresh.
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
		var values strings.Builder
		var args []any
		for i, o := range settle {
			if i > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(?, ?, CAST(? AS BIGINT), ?, ?, ?, ?, " + s.castTime() + ")")
			args = append(args, o.Campaign, o.Occurrence, o.CustomerID, o.Channel,
				string(o.Status), nullString(o.Reason), nullString(o.ProviderID), s.timeArg(o.NotBefore))
		}
		now := s.timeArg(s.now())
		res, err := tx.ExecContext(ctx, s.rebind(`WITH v (campaign, occurrence, customer_id, channel, status, reason, provider_id, not_before) AS (VALUES `+values.String()+`)
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
		var values strings.Builder
		var args []any
		for i, o := range release {
			if i > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(?, ?, CAST(? AS BIGINT), ?)")
			args = append(args, o.Campaign, o.Occurrence, o.CustomerID, o.Channel)
		}
		res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM deliveries
			WHERE (campaign, occurrence, customer_id, channel) IN (VALUES `+values.String()+`) AND `+unsettled), append(args, ReasonSwept)...)
		if err != nil {
			return 0, fmt.Errorf("settle: release: %w", err)
		}
		m, _ := res.RowsAffected()
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
	return len(claimed) == 1, err
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

// ReleaseDelivery deletes a claim whose send certainly did not happen (see
// Outcome), so a retry can claim it again.
func (s *DB) ReleaseDelivery(ctx context.Context, k DeliveryKey) error {
	_, err := s.Settle(ctx, []Outcome{{DeliveryKey: k}})
	return err
}
