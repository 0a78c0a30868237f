-- SQLite numbers a new row one above the table's largest id, so it would
-- give an erased customer's id to the next new one — who would inherit
-- their ledger rows and their place in batches waiting for a send window.
-- The largest id ever erased; new customers are numbered above it.
-- (PostgreSQL's identity column never reuses a number.)
CREATE TABLE customer_id_floor (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    floor INTEGER NOT NULL
);
