-- One row per batch of a run, written before the batch is enqueued. It keeps
-- the batch's customer ids, so a retried run task re-enqueues exactly the
-- same batches even if the audience changed meanwhile, and the run is done
-- when none is pending.
CREATE TABLE run_batches (
    campaign     TEXT    NOT NULL,
    occurrence   TEXT    NOT NULL, -- the run
    first_id     BIGINT  NOT NULL,
    last_id      BIGINT  NOT NULL,
    size         INTEGER NOT NULL,
    per_customer INTEGER NOT NULL, -- ledger rows per customer: 1, or the channel count for delivery: all
    ids          TEXT    NOT NULL, -- JSON array of customer ids
    queue        TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'abandoned')),
    -- Recipients an earlier run of the same occurrence had handled (a
    -- birthday edited after this year's gift): they get no second row.
    earlier      INTEGER NOT NULL DEFAULT 0,
    -- Ledger rows never written because the batch task was given up.
    abandoned    INTEGER NOT NULL DEFAULT 0,
    reason       TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    done_at      TIMESTAMPTZ,
    PRIMARY KEY (campaign, occurrence, first_id)
);
CREATE INDEX run_batches_pending ON run_batches (status, created_at);

-- The run that wrote a ledger row. For most campaigns it equals the
-- occurrence; a birthday campaign runs daily (run 2027-03-10) but each
-- customer's gift is once a year (occurrence 2027).
ALTER TABLE deliveries ADD COLUMN run TEXT;
CREATE INDEX deliveries_by_run ON deliveries (campaign, run, status);

ALTER TABLE runs ADD COLUMN queue TEXT;
-- 1 once the run task has paged the whole audience (targeted is final).
ALTER TABLE runs ADD COLUMN paged INTEGER NOT NULL DEFAULT 0;
