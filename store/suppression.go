package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Suppression is one entry of a channel's suppression list.
type Suppression struct {
	Channel string
	Address string
	Reason  string
	Since   time.Time
}

// Cause is why an address is suppressed, as far as its reason tells.
type Cause int

// Causes of a suppression.
const (
	// CauseOther is a reason Tidings does not write (one added by hand, or
	// by an older version): it may be an opt-out, so it is treated as one.
	CauseOther Cause = iota
	// CauseOptOut: the recipient asked to stop — an unsubscribe link or
	// one-click, an SMS STOP, an opt-out the provider reported, an erasure
	// request.
	CauseOptOut
	// CauseBounce: the address cannot receive (the mailbox does not exist).
	// It says nothing about the person's wishes.
	CauseBounce
)

func (c Cause) String() string {
	switch c {
	case CauseOptOut:
		return "opt-out"
	case CauseBounce:
		return "bounce"
	}
	return "other"
}

// ReasonErasureRequest is the suppression reason of the addresses of a
// customer erased with EraseOptions.Suppress: an opt-out.
const ReasonErasureRequest = "erasure request"

// ReasonProviderOptOut is the suppression (and skip) reason of an address
// the provider refused as opted out (Twilio error 21610): an opt-out.
const ReasonProviderOptOut = "unsubscribed at the provider"

// ReasonNoSuchUser begins the suppression reason of a mailbox the SMTP
// server said does not exist ("no such user: …"): a bounce.
const ReasonNoSuchUser = "no such user"

// CauseOf classifies a suppression reason by the prefixes the writers of
// the list use: "unsubscribed by link", "unsubscribed by one-click (…)" and
// "unsubscribed at the provider" (web, delivery), "replied STOP" and the
// other opt-out words (the Twilio webhook), ReasonErasureRequest; "no such
// user: …" (delivery, on a 5.1.1-style SMTP refusal).
func CauseOf(reason string) Cause {
	switch {
	case strings.HasPrefix(reason, ReasonNoSuchUser): // as suppressSQL tells a bounce
		return CauseBounce
	case strings.HasPrefix(reason, "unsubscribed "), strings.HasPrefix(reason, "replied "), reason == ReasonErasureRequest:
		return CauseOptOut
	}
	return CauseOther
}

// Suppressions lists a channel's suppression list ("" for every channel),
// newest first; limit <= 0 lists all of it.
func (s *DB) Suppressions(ctx context.Context, channel string, limit int) ([]Suppression, error) {
	q := `SELECT channel, address, reason, created_at FROM suppressions`
	var args []any
	if channel != "" {
		q += ` WHERE channel = ?`
		args = append(args, channel)
	}
	q += ` ORDER BY created_at DESC, channel, address`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var sup Suppression
		if err := rows.Scan(&sup.Channel, &sup.Address, &sup.Reason, scanTime{&sup.Since}); err != nil {
			return nil, fmt.Errorf("list suppressions: %w", err)
		}
		out = append(out, sup)
	}
	return out, rows.Err()
}

// CountSuppressions counts a channel's suppression list ("" for every
// channel).
func (s *DB) CountSuppressions(ctx context.Context, channel string) (int64, error) {
	q := `SELECT COUNT(*) FROM suppressions`
	var args []any
	if channel != "" {
		q += ` WHERE channel = ?`
		args = append(args, channel)
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, s.rebind(q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count suppressions: %w", err)
	}
	return n, nil
}

// SimilarSuppressions returns up to five addresses on a channel's list that
// equal address but for letter case: the local part of an email address
// keeps its case, so "wang@…" does not name "Wang@…".
func (s *DB) SimilarSuppressions(ctx context.Context, channel, address string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT address FROM suppressions
		WHERE channel = ? AND LOWER(address) = LOWER(?) AND address <> ? ORDER BY address LIMIT 5`), channel, address, address)
	if err != nil {
		return nil, fmt.Errorf("similar suppressions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// OptOutError is LiftSuppression refusing to lift, without force, an entry
// that is (or may be) the recipient's own opt-out.
type OptOutError struct {
	Suppression Suppression
}

func (e *OptOutError) Error() string {
	return fmt.Sprintf("%s %s is suppressed by an %s (%s), not a bounce", e.Suppression.Channel, e.Suppression.Address,
		CauseOf(e.Suppression.Reason), e.Suppression.Reason)
}

// ErrSuppressionChanged is returned by LiftSuppression when the entry's
// reason changed between reading and deleting it (a STOP arrived just then):
// nothing was lifted.
var ErrSuppressionChanged = errors.New("the suppression changed meanwhile; nothing was lifted")

// LiftSuppression removes an address from a channel's suppression list and
// returns the entry it removed, or ErrNotFound. Only a bounce is lifted
// without force: an opt-out (or a reason Tidings does not know) gives an
// *OptOutError and stays. Lifting never grants consent: an opt-out also
// withdrew it, and only an import gives it back.
func (s *DB) LiftSuppression(ctx context.Context, channel, address string, force bool) (Suppression, error) {
	sup, found, err := s.suppression(ctx, s.db, channel, address)
	if err != nil {
		return sup, fmt.Errorf("lift suppression: %w", err)
	}
	if !found {
		return sup, ErrNotFound
	}
	if !force && CauseOf(sup.Reason) != CauseBounce {
		return sup, &OptOutError{Suppression: sup}
	}
	// Only the entry as read: an opt-out that replaced a bounce's reason a
	// moment ago must not be lifted on the strength of the bounce.
	res, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM suppressions WHERE channel = ? AND address = ? AND reason = ?`),
		channel, address, sup.Reason)
	if err != nil {
		return sup, fmt.Errorf("lift suppression: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return sup, ErrSuppressionChanged
	}
	return sup, nil
}

// suppression reads an address's entry on a channel's suppression list, on
// the database or in a transaction; found is false when there is none.
func (s *DB) suppression(ctx context.Context, q querier, channel, address string) (sup Suppression, found bool, err error) {
	sup = Suppression{Channel: channel, Address: address}
	err = q.QueryRowContext(ctx, s.rebind(`SELECT reason, created_at FROM suppressions WHERE channel = ? AND address = ?`),
		channel, address).Scan(&sup.Reason, scanTime{&sup.Since})
	if errors.Is(err, sql.ErrNoRows) {
		return sup, false, nil
	}
	return sup, err == nil, err
}
