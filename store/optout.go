package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// consentColumns are a channel's consent, consent time and address columns
// in the customers table.
var consentColumns = map[string]struct{ consent, at, address string }{
	"email": {"email_consent", "email_consent_at", "email"},
	"sms":   {"sms_consent", "sms_consent_at", "phone"},
}

// Unsubscribe withdraws a customer's consent to a channel, recording when,
// and puts their address on that channel's suppression list with the
// reason, in one transaction. The suppression is what the pipeline checks
// by address, so it holds even if a later import grants consent again.
// It returns the address (possibly ""), or ErrNotFound for an unknown
// customer. Unsubscribing twice changes nothing the second time except the
// suppression's reason.
func (s *DB) Unsubscribe(ctx context.Context, customerID int64, channel, reason string) (string, error) {
	cols, ok := consentColumns[channel]
	if !ok {
		return "", fmt.Errorf("unsubscribe: unknown channel %q", channel)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("unsubscribe: %w", err)
	}
	defer tx.Rollback()
	var address sql.NullString
	err = tx.QueryRowContext(ctx, s.rebind("SELECT "+cols.address+" FROM customers WHERE id = ?"), customerID).Scan(&address)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("unsubscribe: %w", err)
	}
	now := s.timeArg(s.now())
	// Only a granted consent is withdrawn, so the time of the first
	// withdrawal is kept.
	if _, err := tx.ExecContext(ctx, s.rebind("UPDATE customers SET "+cols.consent+" = ?, "+cols.at+" = ?, updated_at = ? WHERE id = ? AND "+cols.consent+" = ?"),
		false, now, now, customerID, true); err != nil {
		return "", fmt.Errorf("unsubscribe: %w", err)
	}
	if address.String != "" {
		if err := s.suppressTx(ctx, tx, channel, address.String, reason, now); err != nil {
			return "", err
		}
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("unsubscribe: %w", err)
	}
	return address.String, nil
}

// OptOutPhone handles an SMS opt-out ("STOP") from a phone number: every
// customer with that number loses SMS consent, and the number goes on the
// SMS suppression list with the reason, even if no customer has it. It
// returns how many customers' consent it withdrew.
func (s *DB) OptOutPhone(ctx context.Context, phone, reason string) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sms opt-out: %w", err)
	}
	defer tx.Rollback()
	now := s.timeArg(s.now())
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE customers SET sms_consent = ?, sms_consent_at = ?, updated_at = ? WHERE phone = ? AND sms_consent = ?`),
		false, now, now, phone, true)
	if err != nil {
		return 0, fmt.Errorf("sms opt-out: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := s.suppressTx(ctx, tx, "sms", phone, reason, now); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sms opt-out: %w", err)
	}
	return n, nil
}

// OptInPhone handles an SMS opt-in ("START") from a phone number: the number
// leaves the SMS suppression list, whatever put it there, and the customers
// with that number whose SMS consent was withdrawn when or after it was
// suppressed (by the STOP this START answers) get it back, recording when.
// A customer who never consented does not gain consent from a reply. It
// returns how many customers' consent it restored.
func (s *DB) OptInPhone(ctx context.Context, phone string) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sms opt-in: %w", err)
	}
	defer tx.Rollback()
	var since time.Time
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT created_at FROM suppressions WHERE channel = 'sms' AND address = ?`), phone).Scan(scanTime{&since})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // not opted out: nothing to undo
	}
	if err != nil {
		return 0, fmt.Errorf("sms opt-in: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM suppressions WHERE channel = 'sms' AND address = ?`), phone); err != nil {
		return 0, fmt.Errorf("sms opt-in: %w", err)
	}
	now := s.timeArg(s.now())
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE customers SET sms_consent = ?, sms_consent_at = ?, updated_at = ?
		WHERE phone = ? AND sms_consent = ? AND sms_consent_at >= ?`),
		true, now, now, phone, false, s.timeArg(since))
	if err != nil {
		return 0, fmt.Errorf("sms opt-in: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sms opt-in: %w", err)
	}
	return n, nil
}

// suppressTx is Suppress within a transaction, stamped with now (the time
// the consent was withdrawn, which OptInPhone compares with).
func (s *DB) suppressTx(ctx context.Context, tx *sql.Tx, channel, address, reason string, now any) error {
	_, err := tx.ExecContext(ctx, s.rebind(suppressSQL), channel, address, reason, now)
	if err != nil {
		return fmt.Errorf("suppress %s address: %w", channel, err)
	}
	return nil
}
