package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
)

// Erased replaces personal data in the rows an erasure keeps.
const Erased = "erased"

// EraseOptions are the choices of an erasure.
type EraseOptions struct {
	// Suppress puts the customer's addresses on their channels' suppression
	// lists (ReasonErasureRequest), for a person who also asked never to be
	// contacted again: a later import of the same address stays unmessaged.
	Suppress bool
}

// Erasure is what EraseCustomer did.
type Erasure struct {
	ExternalID string
	CustomerID int64
	// Deliveries counts the customer's ledger rows: kept, so runs still add
	// up and no occurrence is delivered twice, with every address in them
	// replaced by Erased.
	Deliveries int64
	// Kept are the entries of the customer's addresses on the suppression
	// lists that stay as they are: opt-outs, and reasons Tidings does not
	// write (which may be opt-outs). A later import of the address stays
	// suppressed.
	Kept []Suppression
	// Removed are the bounces of the customer's addresses, deleted: they
	// hold the address for no wish of the person's.
	Removed []Suppression
	// Added are the entries EraseOptions.Suppress added.
	Added []Suppression
}

// EraseCustomer erases a customer (the right to erasure, GDPR article 17),
// in one transaction: the customer row and their tags are deleted; their
// ledger rows are kept with the address, and any mention of it in a reason,
// replaced by Erased; a mention of their addresses in a run's or a batch's
// error is replaced too. Opt-outs of their addresses stay on the
// suppression lists, as they are, because the pipeline checks the list by
// address; bounces of them are removed. It returns ErrNotFound for an
// unknown external id.
//
// The ledger keeps the customer's internal id, which names nobody once the
// customer row is gone, and the provider's message id and coupon code,
// which name nobody either: the first is what a provider needs to erase
// its own copy, the second what a shop checks a presented coupon against.
func (s *DB) EraseCustomer(ctx context.Context, externalID string, opt EraseOptions) (Erasure, error) {
	e := Erasure{ExternalID: externalID}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return e, fmt.Errorf("erase %s: %w", externalID, err)
	}
	defer tx.Rollback()
	var email, phone sql.NullString
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT id, email, phone FROM customers WHERE external_id = ?`), externalID).
		Scan(&e.CustomerID, &email, &phone)
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("erase %s: %w", externalID, err)
	}
	addrs := []channelAddress{{"email", email.String}, {"sms", phone.String}}
	if addrs, err = s.ledgerAddresses(ctx, tx, e.CustomerID, addrs); err != nil {
		return e, fmt.Errorf("erase %s: %w", externalID, err)
	}

	// The customer first: from here on, a batch that loaded them before
	// can claim no row for them (ClaimDelivery checks that they exist).
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM customer_tags WHERE customer_id = ?`), e.CustomerID); err != nil {
		return e, fmt.Errorf("erase %s: tags: %w", externalID, err)
	}
	res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM customers WHERE id = ?`), e.CustomerID)
	if err != nil {
		return e, fmt.Errorf("erase %s: %w", externalID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return e, ErrNotFound // erased by someone else meanwhile
	}
	if s.dialect == SQLite {
		// Never given again (see idFloor).
		if _, err := tx.ExecContext(ctx, `INSERT INTO customer_id_floor (id, floor) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET floor = MAX(floor, excluded.floor)`, e.CustomerID); err != nil {
			return e, fmt.Errorf("erase %s: id floor: %w", externalID, err)
		}
	}
	if err := s.scrub(ctx, tx, e.CustomerID, addrs); err != nil {
		return e, fmt.Errorf("erase %s: %w", externalID, err)
	}
	if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM deliveries WHERE customer_id = ?`), e.CustomerID).Scan(&e.Deliveries); err != nil {
		return e, fmt.Errorf("erase %s: %w", externalID, err)
	}
	if err := s.eraseSuppressions(ctx, tx, &e, addrs, opt); err != nil {
		return e, fmt.Errorf("erase %s: %w", externalID, err)
	}
	if err := tx.Commit(); err != nil {
		return e, fmt.Errorf("erase %s: %w", externalID, err)
	}
	// On PostgreSQL a claim whose statement began just before the commit
	// still saw the customer; its row is scrubbed now. (SQLite runs one
	// writer at a time, so there none can.)
	if s.dialect == Postgres {
		if err := s.scrub(ctx, s.db, e.CustomerID, addrs); err != nil {
			return e, fmt.Errorf("erase %s: erased, but scrubbing the ledger again: %w", externalID, err)
		}
	}
	return e, nil
}

// channelAddress is an address on a channel.
type channelAddress struct{ channel, address string }

// ledgerAddresses adds to addrs, which may hold blanks, the addresses a
// customer's ledger rows were sent to (an earlier email, say), and returns
// the non-blank ones without repeats.
func (s *DB) ledgerAddresses(ctx context.Context, tx *sql.Tx, id int64, addrs []channelAddress) ([]channelAddress, error) {
	rows, err := tx.QueryContext(ctx, s.rebind(`SELECT DISTINCT channel, address FROM deliveries
		WHERE customer_id = ? AND address IS NOT NULL AND address <> ?`), id, Erased)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ca channelAddress
		if err := rows.Scan(&ca.channel, &ca.address); err != nil {
			return nil, err
		}
		addrs = append(addrs, ca)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	addrs = slices.DeleteFunc(addrs, func(ca channelAddress) bool { return ca.address == "" })
	slices.SortFunc(addrs, func(a, b channelAddress) int {
		return cmp.Or(cmp.Compare(a.channel, b.channel), cmp.Compare(a.address, b.address))
	})
	return slices.Compact(addrs), nil
}

// scrub replaces a customer's addresses in their ledger rows, and any
// mention of them in those rows' reasons (a skipped row's reason quotes the
// suppression's, and a bounce's quotes the SMTP reply, which names the
// mailbox) and in runs' and batches' errors (a circuit breaker's pause
// quotes the last failure).
func (s *DB) scrub(ctx context.Context, q querier, id int64, addrs []channelAddress) error {
	seen := map[string]bool{}
	for _, ca := range addrs {
		a := ca.address
		if seen[a] {
			continue
		}
		seen[a] = true
		for _, stmt := range []struct {
			sql  string
			args []any
		}{
			{`UPDATE deliveries SET reason = REPLACE(reason, ?, ?) WHERE customer_id = ? AND reason IS NOT NULL`, []any{a, Erased, id}},
			{`UPDATE runs SET error = REPLACE(error, ?, ?) WHERE error IS NOT NULL AND REPLACE(error, ?, ?) <> error`, []any{a, Erased, a, Erased}},
			{`UPDATE run_batches SET reason = REPLACE(reason, ?, ?) WHERE reason IS NOT NULL AND REPLACE(reason, ?, ?) <> reason`, []any{a, Erased, a, Erased}},
		} {
			if _, err := q.ExecContext(ctx, s.rebind(stmt.sql), stmt.args...); err != nil {
				return fmt.Errorf("scrub: %w", err)
			}
		}
	}
	if _, err := q.ExecContext(ctx, s.rebind(`UPDATE deliveries SET address = ?, updated_at = ?
		WHERE customer_id = ? AND address IS NOT NULL AND address <> ?`), Erased, s.timeArg(s.now()), id, Erased); err != nil {
		return fmt.Errorf("scrub: %w", err)
	}
	return nil
}

// eraseSuppressions sorts the suppression entries of an erased customer's
// addresses into kept and removed, and adds them if asked.
func (s *DB) eraseSuppressions(ctx context.Context, tx *sql.Tx, e *Erasure, addrs []channelAddress, opt EraseOptions) error {
	now := s.timeArg(s.now())
	for _, ca := range addrs {
		sup, found, err := s.suppression(ctx, tx, ca.channel, ca.address)
		if err != nil {
			return fmt.Errorf("suppressions: %w", err)
		}
		if found && CauseOf(sup.Reason) == CauseBounce {
			if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM suppressions WHERE channel = ? AND address = ?`), ca.channel, ca.address); err != nil {
				return fmt.Errorf("suppressions: %w", err)
			}
			e.Removed = append(e.Removed, sup)
			found = false
		}
		switch {
		case found:
			e.Kept = append(e.Kept, sup)
		case opt.Suppress:
			if err := s.suppressTx(ctx, tx, ca.channel, ca.address, ReasonErasureRequest, now); err != nil {
				return err
			}
			e.Added = append(e.Added, Suppression{Channel: ca.channel, Address: ca.address, Reason: ReasonErasureRequest, Since: s.now().UTC()})
		}
	}
	return nil
}

// idFloor returns, on SQLite, the number above which the next new customers
// must be numbered, or 0 to let SQLite number them. SQLite gives a new row
// the largest id in the table plus one, so once the newest customer is
// erased (or deleted) the next new one would get their id — and with it
// their ledger rows (occurrences counted as had, messages counted against
// the frequency cap, the unsubscribe links and coupon codes in the messages
// they were sent) and their place in batches still waiting for a send
// window. An id erased (customer_id_floor) or seen by the ledger is never
// given again. PostgreSQL's identity column never reuses a number.
func (s *DB) idFloor(ctx context.Context, tx *sql.Tx) (int64, error) {
	if s.dialect != SQLite {
		return 0, nil
	}
	// Each maximum is read off an index.
	var floor, customers int64
	err := tx.QueryRowContext(ctx, `SELECT MAX(COALESCE((SELECT MAX(customer_id) FROM deliveries), 0),
		COALESCE((SELECT floor FROM customer_id_floor WHERE id = 1), 0)), COALESCE((SELECT MAX(id) FROM customers), 0)`).
		Scan(&floor, &customers)
	if err != nil {
		return 0, fmt.Errorf("customer ids: %w", err)
	}
	if floor > customers {
		return floor, nil
	}
	return 0, nil
}
