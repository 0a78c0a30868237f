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
	// Key names the row: the SMS adapter puts the delivery id in every
	// message's callback URL. A report without one finds no row.
	Key *DeliveryKey
}

// RecordCarrierStatus writes a carrier's report on the ledger row it is
// about. The row's status is left alone: "sent" means the provider took the
// message, and the report goes in carrier_status, carrier_error and
// carrier_status_at. It reports whether a row was found.
//
// The row is found by its key, and must have the report's provider id, or
// none yet: a callback can outrun the worker's settle, which writes the id.
// Not by the provider id alone: an index on provider_id would make every
// settle, which writes it, a non-HOT update (see Settle), for the sake of
// callbacks that Tidings never asks for.
func (s *DB) RecordCarrierStatus(ctx context.Context, r CarrierReport) (bool, error) {
	k := r.Key
	if k == nil || k.Channel != r.Channel {
		return false, nil
	}
	now := s.timeArg(s.now())
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE deliveries SET carrier_status = ?, carrier_error = ?, carrier_status_at = ?, updated_at = ?
		WHERE campaign = ? AND occurrence = ? AND customer_id = ? AND channel = ? AND (provider_id = ? OR provider_id IS NULL)`),
		r.Status, nullString(r.ErrorCode), now, now, k.Campaign, k.Occurrence, k.CustomerID, k.Channel, r.ProviderID)
	if err != nil {
		return false, fmt.Errorf("record carrier status: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
