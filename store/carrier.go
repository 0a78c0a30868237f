package store

import (
	"context"
	"fmt"
)

// CarrierReport is what a provider's status callback says about a message.
type CarrierReport struct {
	Channel    string
	ProviderID string // the provider's message id, as the ledger row has it
	Status     string // delivered, undelivered, failed
	ErrorCode  string // the provider's error code, or ""
	// Key, when set, names the row to update if no row has ProviderID yet:
	// a callback can outrun the worker's settle, which writes the id.
	Key *DeliveryKey
}

// RecordCarrierStatus writes a carrier's report on the ledger row it is
// about. The row's status is left alone: "sent" means the provider took the
// message, and the report goes in carrier_status, carrier_error and
// carrier_status_at. It reports whether a row was found.
func (s *DB) RecordCarrierStatus(ctx context.Context, r CarrierReport) (bool, error) {
	now := s.timeArg(s.now())
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE deliveries SET carrier_status = ?, carrier_error = ?, carrier_status_at = ?, updated_at = ?
		WHERE provider_id = ? AND channel = ?`),
		r.Status, nullString(r.ErrorCode), now, now, r.ProviderID, r.Channel)
	if err != nil {
		return false, fmt.Errorf("record carrier status: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 || r.Key == nil {
		return n > 0, nil
	}
	k := r.Key
	res, err = s.db.ExecContext(ctx, s.rebind(`UPDATE deliveries SET carrier_status = ?, carrier_error = ?, carrier_status_at = ?, updated_at = ?
		WHERE campaign = ? AND occurrence = ? AND customer_id = ? AND channel = ? AND provider_id IS NULL`),
		r.Status, nullString(r.ErrorCode), now, now, k.Campaign, k.Occurrence, k.CustomerID, k.Channel)
	if err != nil {
		return false, fmt.Errorf("record carrier status: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
