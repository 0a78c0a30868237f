-- What the carrier reported about a sent message (Twilio status callbacks:
-- delivered, undelivered, failed), apart from status, which stays what
-- Tidings did: "sent" means the provider took the message.
ALTER TABLE deliveries ADD COLUMN carrier_status TEXT;
ALTER TABLE deliveries ADD COLUMN carrier_status_at TIMESTAMPTZ;
ALTER TABLE deliveries ADD COLUMN carrier_error TEXT;
-- Status callbacks find their row by the provider's message id.
CREATE INDEX deliveries_provider ON deliveries (provider_id) WHERE provider_id IS NOT NULL;
-- The dashboard pages a run's recipients by ledger id.
CREATE INDEX deliveries_run_page ON deliveries (campaign, run, id);
