-- The ledger's key, customer first. A batch looks up its recipients' rows
-- with `campaign = ? AND occurrence = ? AND customer_id IN (…500 ids)`.
-- With the key in the order (campaign, occurrence, customer_id, channel),
-- PostgreSQL 15 used the list as a filter over every row of the run
-- whenever its statistics were stale (a run's rows are all new): 360 ms
-- per batch at 50,000 recipients, and growing with the run, which was most
-- of PostgreSQL's CPU in the bench. Customer first, the list is the index
-- condition: 500 probes, whatever the statistics. Building the new index
-- locks the table for the time it takes.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_campaign_occurrence_customer_id_channel_key;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_key UNIQUE (customer_id, campaign, occurrence, channel);
