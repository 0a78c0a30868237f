-- The ledger keeps only the indexes the hot path and the pages need, on
-- columns a settle leaves alone (see the PostgreSQL migration of the same
-- name, where that makes a settle a HOT update; here it saves the index
-- writes): a batch's next attempt resolves the claims an earlier one left
-- behind, status callbacks find their row by its delivery id, and the
-- frequency cap counts messages by when they were claimed.
DROP INDEX deliveries_status;
DROP INDEX deliveries_by_run;
DROP INDEX deliveries_provider;
DROP INDEX deliveries_customer;
CREATE INDEX deliveries_customer ON deliveries (customer_id, claimed_at);
