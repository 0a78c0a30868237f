-- How many ledger rows a pending batch still lacks for recipients waiting
-- for their send window, when the batch ran and found some outside it (the
-- others were sent). NULL: the whole batch waits (or none does).
ALTER TABLE run_batches ADD COLUMN waiting INTEGER;
