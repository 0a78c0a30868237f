package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is the state of a delivery ledger row.
type Status string

// Delivery statuses. A row is claimed as Sending before the provider is
// called and settled to one of the others after.
const (
	StatusSending  Status = "sending"
	StatusSent     Status = "sent"
	StatusFailed   Status = "failed"
	StatusSkipped  Status = "skipped"
	StatusDeferred Status = "deferred"
	StatusUnknown  Status = "unknown"
)

// DeliveryKey names one ledger row: what the UNIQUE constraint covers.
type DeliveryKey struct {
	Campaign   string
	Occurrence string
	CustomerID int64
	Channel    string
}

// ID is the key as one string, campaign.occurrence.customer.channel: the
// message's delivery id (Message-ID, idempotency key, the SMS status
// callback's delivery parameter).
func (k DeliveryKey) ID() string {
	return fmt.Sprintf("%s.%s.%d.%s", k.Campaign, k.Occurrence, k.CustomerID, k.Channel)
}

// compare orders keys as the ledger's unique index does on PostgreSQL:
// customer, campaign, occurrence, channel.
func (k DeliveryKey) compare(o DeliveryKey) int {
	return cmp.Or(cmp.Compare(k.CustomerID, o.CustomerID), strings.Compare(k.Campaign, o.Campaign),
		strings.Compare(k.Occurrence, o.Occurrence), strings.Compare(k.Channel, o.Channel))
}

// ParseDeliveryID reads a key written by ID. Campaign names have no dots;
// an occurrence may.
func ParseDeliveryID(id string) (DeliveryKey, bool) {
	campaign, rest, ok1 := strings.Cut(id, ".")
	rest, channel, ok2 := cutLast(rest, ".")
	occurrence, cust, ok3 := cutLast(rest, ".")
	n, err := strconv.ParseInt(cust, 10, 64)
	if !ok1 || !ok2 || !ok3 || err != nil || campaign == "" || occurrence == "" || channel == "" {
		return DeliveryKey{}, false
	}
	return DeliveryKey{Campaign: campaign, Occurrence: occurrence, CustomerID: n, Channel: channel}, true
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// Delivery is one ledger row.
type Delivery struct {
	DeliveryKey
	// Run is the run that wrote the row: the occurrence itself, except for
	// birthday campaigns, whose daily runs share a yearly occurrence.
	Run        string
	Status     Status
	Reason     string
	Address    string
	ProviderID string
	Coupon     string
	Attempts   int
	ClaimedAt  time.Time
	SettledAt  time.Time
}

// ReasonCustomerDeleted is the reason of a skipped row for a customer
// deleted (or erased) after the run paged its audience.
const ReasonCustomerDeleted = "customer_deleted"

// GetDelivery loads one ledger row, or returns ErrNotFound.
func (s *DB) GetDelivery(ctx context.Context, k DeliveryKey) (Delivery, error) {
	d := Delivery{DeliveryKey: k}
	var run, reason, address, provider, coupon sql.NullString
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT run, status, reason, address, provider_id, coupon, attempts, claimed_at, settled_at
		FROM deliveries WHERE campaign = ? AND occurrence = ? AND customer_id = ? AND channel = ?`),
		k.Campaign, k.Occurrence, k.CustomerID, k.Channel).
		Scan(&run, &d.Status, &reason, &address, &provider, &coupon, &d.Attempts, scanTime{&d.ClaimedAt}, scanTime{&d.SettledAt})
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("get delivery: %w", err)
	}
	d.Run, d.Reason, d.Address, d.ProviderID, d.Coupon = run.String, reason.String, address.String, provider.String, coupon.String
	return d, nil
}

// Suppress adds an address to a channel's suppression list, or updates the
// reason of one already there (see suppressSQL).
func (s *DB) Suppress(ctx context.Context, channel, address, reason string) error {
	_, err := s.db.ExecContext(ctx, s.rebind(suppressSQL), channel, address, reason, s.timeArg(s.now()))
	if err != nil {
		return fmt.Errorf("suppress %s %s: %w", channel, address, err)
	}
	return nil
}

// suppressSQL adds (channel, address, reason, created_at) to the
// suppression list. An entry already there takes the new reason unless
// that would turn an opt-out (or a reason Tidings does not write) into a
// bounce: a send in flight when the recipient unsubscribed may still come
// back "no such user", and the opt-out must stay one — an erasure removes
// bounces, and `suppressions lift` lifts them without --force (CauseOf).
const suppressSQL = `INSERT INTO suppressions (channel, address, reason, created_at) VALUES (?, ?, ?, ?)
	ON CONFLICT (channel, address) DO UPDATE SET reason = excluded.reason
	WHERE suppressions.reason LIKE '` + ReasonNoSuchUser + `%' OR excluded.reason NOT LIKE '` + ReasonNoSuchUser + `%'`

// Suppressed reports whether an address is on a channel's suppression list,
// and why.
func (s *DB) Suppressed(ctx context.Context, channel, address string) (bool, string, error) {
	sup, found, err := s.suppression(ctx, s.db, channel, address)
	if err != nil {
		return false, "", fmt.Errorf("suppression lookup: %w", err)
	}
	return found, sup.Reason, nil
}

// SuppressedAmong returns which of addresses are on a channel's suppression
// list, with their reasons: one query for a whole batch.
func (s *DB) SuppressedAmong(ctx context.Context, channel string, addresses []string) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(addresses); start += 1000 {
		chunk := addresses[start:min(start+1000, len(addresses))]
		args := []any{channel}
		for _, a := range chunk {
			args = append(args, a)
		}
		rows, err := s.db.QueryContext(ctx, s.rebind("SELECT address, reason FROM suppressions WHERE channel = ? AND address IN ("+placeholders(len(chunk))+")"), args...)
		if err != nil {
			return nil, fmt.Errorf("suppression lookup: %w", err)
		}
		for rows.Next() {
			var a, r string
			if err := rows.Scan(&a, &r); err != nil {
				rows.Close()
				return nil, err
			}
			out[a] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SentSince counts, per customer and channel, the messages sent to the
// given customers since a time, across every campaign: what frequency caps
// are checked against. One query for a whole batch.
func (s *DB) SentSince(ctx context.Context, ids []int64, since time.Time) (map[int64]map[string]int, error) {
	out := map[int64]map[string]int{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{s.timeArg(since)}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT customer_id, channel, COUNT(*) FROM deliveries
		WHERE status = 'sent' AND claimed_at >= ? AND customer_id IN (`+placeholders(len(ids))+`)
		GROUP BY customer_id, channel`), args...)
	if err != nil {
		return nil, fmt.Errorf("sent since: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var ch string
		var n int
		if err := rows.Scan(&id, &ch, &n); err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[string]int{}
		}
		out[id][ch] = n
	}
	return out, rows.Err()
}

// Run is the record of one campaign occurrence.
type Run struct {
	Campaign   string
	Occurrence string
	Queue      string
	Status     string
	Targeted   int64
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
	Paged      bool // the run task has paged the whole audience
}

// StartRun records that an occurrence started. It reports false when the
// occurrence already has a run record.
func (s *DB) StartRun(ctx context.Context, campaign, occurrence string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO runs (campaign, occurrence, status, started_at) VALUES (?, ?, 'running', ?)
		ON CONFLICT (campaign, occurrence) DO NOTHING`), campaign, occurrence, s.timeArg(s.now()))
	if err != nil {
		return false, fmt.Errorf("start run: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishRun records an occurrence's outcome and how many customers it targeted.
func (s *DB) FinishRun(ctx context.Context, campaign, occurrence, status string, targeted int64, runErr string) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE runs SET status = ?, targeted = ?, finished_at = ?, error = ? WHERE campaign = ? AND occurrence = ?`),
		status, targeted, s.timeArg(s.now()), nullString(runErr), campaign, occurrence)
	if err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	return nil
}

// RunExists reports whether the campaign has a run of the occurrence.
func (s *DB) RunExists(ctx context.Context, campaign, occurrence string) (bool, error) {
	_, err := s.GetRun(ctx, campaign, occurrence)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GetRun loads one run record, or returns ErrNotFound.
func (s *DB) GetRun(ctx context.Context, campaign, occurrence string) (Run, error) {
	r := Run{Campaign: campaign, Occurrence: occurrence}
	var runErr sql.NullString
	var paged int
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT status, targeted, started_at, finished_at, error, paged FROM runs WHERE campaign = ? AND occurrence = ?`),
		campaign, occurrence).Scan(&r.Status, &r.Targeted, scanTime{&r.StartedAt}, scanTime{&r.FinishedAt}, &runErr, &paged)
	r.Paged = paged == 1
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	r.Error = runErr.String
	return r, err
}
