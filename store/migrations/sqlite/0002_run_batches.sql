-- One row per batch of a run: the run is done when all its batches are.
CREATE TABLE run_batches (
    campaign   TEXT    NOT NULL,
    occurrence TEXT    NOT NULL,
    first_id   INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    status     TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    done_at    TEXT,
    PRIMARY KEY (campaign, occurrence, first_id)
);


-- The run that wrote a ledger row. For most campaigns it equals the
-- occurrence; a birthday campaign runs daily (run 2027-03-10) but each
-- customer's gift is once a year (occurrence 2027).
ALTER TABLE deliveries ADD COLUMN run TEXT;
CREATE INDEX deliveries_by_run ON deliveries (campaign, run, status);

-- Recipients of a batch whose ledger row an earlier run of the same
-- occurrence wrote (a birthday edited after this year's gift): counted
-- here, since they get no second row.
ALTER TABLE run_batches ADD COLUMN earlier INTEGER NOT NULL DEFAULT 0;
