-- A batch of a campaign with a send window is due when the window opens in
-- its recipients' zone; its task is enqueued to be processed then. NULL:
-- due at once.
ALTER TABLE run_batches ADD COLUMN not_before TIMESTAMPTZ;
