-- How many of a pending batch's recipients wait for their send window when
-- the batch ran and found some outside it (the others were sent). NULL:
-- the whole batch waits (or none does).
ALTER TABLE run_batches ADD COLUMN waiting INTEGER;
