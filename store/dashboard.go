package store

import (
	"context"
	"fmt"
	"time"
)

// Recipient is one ledger row of a run, as the dashboard lists it.
type Recipient struct {
	ID         int64 // the ledger row's id: the cursor of the next page
	CustomerID int64
	ExternalID string // "" when the customer has been deleted since
	Name       string
	Channel    string
	Address    string
	Status     Status
	Reason     string
	Attempts   int
	ProviderID string
	// At is when the row was settled, else when it was claimed, else
	// when it was written.
	At time.Time
	// CarrierStatus is what the carrier reported later (delivered,
	// undelivered, failed), with its error code and time; "" if nothing.
	CarrierStatus string
	CarrierError  string
	CarrierAt     time.Time
}

// RecipientQuery selects a page of a run's recipients.
type RecipientQuery struct {
	Status Status // "" for every status
	After  int64  // rows with a larger ledger id
	Limit  int    // at most this many (1–1000; default 100)
}

// RunRecipients returns one page of the ledger rows a run wrote, in ledger
// id order, with the customers' external ids and names. Paging by id (keyset)
// keeps every page as cheap as the first on a run of a million rows.
func (s *DB) RunRecipients(ctx context.Context, campaign, run string, q RecipientQuery) ([]Recipient, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, 1000)
	query := `SELECT d.id, d.customer_id, COALESCE(c.external_id, ''), COALESCE(c.name, ''), d.channel, COALESCE(d.address, ''),
		d.status, COALESCE(d.reason, ''), d.attempts, COALESCE(d.provider_id, ''),
		COALESCE(d.settled_at, d.claimed_at, d.created_at), COALESCE(d.carrier_status, ''), COALESCE(d.carrier_error, ''), d.carrier_status_at
		FROM deliveries d LEFT JOIN customers c ON c.id = d.customer_id
		WHERE d.campaign = ? AND d.run = ? AND d.id > ?`
	args := []any{campaign, run, q.After}
	if q.Status != "" {
		query += ` AND d.status = ?`
		args = append(args, string(q.Status))
	}
	query += ` ORDER BY d.id LIMIT ?`
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("run recipients: %w", err)
	}
	defer rows.Close()
	var out []Recipient
	for rows.Next() {
		var r Recipient
		if err := rows.Scan(&r.ID, &r.CustomerID, &r.ExternalID, &r.Name, &r.Channel, &r.Address,
			&r.Status, &r.Reason, &r.Attempts, &r.ProviderID,
			scanTime{&r.At}, &r.CarrierStatus, &r.CarrierError, scanTime{&r.CarrierAt}); err != nil {
			return nil, fmt.Errorf("run recipients: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CarrierCount is a number of a run's ledger rows with one carrier status.
type CarrierCount struct {
	CarrierStatus string
	N             int64
}

// RunCarrierCounts counts a run's ledger rows by the status their carrier
// reported (rows without a report are not counted).
func (s *DB) RunCarrierCounts(ctx context.Context, campaign, run string) ([]CarrierCount, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT carrier_status, COUNT(*) FROM deliveries
		WHERE campaign = ? AND run = ? AND carrier_status IS NOT NULL GROUP BY carrier_status ORDER BY 2 DESC, 1`), campaign, run)
	if err != nil {
		return nil, fmt.Errorf("run carrier counts: %w", err)
	}
	defer rows.Close()
	var out []CarrierCount
	for rows.Next() {
		var c CarrierCount
		if err := rows.Scan(&c.CarrierStatus, &c.N); err != nil {
			return nil, fmt.Errorf("run carrier counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// LedgerCount is a number of ledger rows of one campaign, channel, status
// and carrier status ("" when the carrier reported nothing).
type LedgerCount struct {
	Campaign      string
	Channel       string
	Status        Status
	CarrierStatus string
	N             int64
}

// LedgerCounts counts every ledger row by campaign, channel, status and
// carrier status: the figures /metrics exports. It reads the whole table,
// so callers cache it.
func (s *DB) LedgerCounts(ctx context.Context) ([]LedgerCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT campaign, channel, status, COALESCE(carrier_status, ''), COUNT(*) FROM deliveries
		GROUP BY campaign, channel, status, COALESCE(carrier_status, '')`)
	if err != nil {
		return nil, fmt.Errorf("ledger counts: %w", err)
	}
	defer rows.Close()
	var out []LedgerCount
	for rows.Next() {
		var c LedgerCount
		if err := rows.Scan(&c.Campaign, &c.Channel, &c.Status, &c.CarrierStatus, &c.N); err != nil {
			return nil, fmt.Errorf("ledger counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Ping checks that the database answers.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s database: %w", s.dialect, err)
	}
	return nil
}
