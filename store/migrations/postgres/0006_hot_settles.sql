-- A settle writes status, reason, provider_id, not_before, settled_at and
-- updated_at. When none of them is in an index, PostgreSQL can make the
-- UPDATE a HOT (heap-only tuple) update: the new version goes on the same
-- page and no index entry is written. So the ledger keeps only the indexes
-- the hot path and the pages need, on columns a settle leaves alone, and
-- drops these:
--   - the sweeper's (status, claimed_at): a batch's next attempt resolves
--     the claims an earlier one left behind (see delivery's plan);
--   - (campaign, run, status): deliveries_run_page's (campaign, run, id)
--     serves the same lookups;
--   - (provider_id): status callbacks find their row by the delivery id in
--     their URL;
--   - (customer_id, channel, settled_at) becomes (customer_id, claimed_at):
--     the frequency cap counts messages by when they were claimed, which a
--     settle does not change.
DROP INDEX deliveries_status;
DROP INDEX deliveries_by_run;
DROP INDEX deliveries_provider;
DROP INDEX deliveries_customer;
CREATE INDEX deliveries_customer ON deliveries (customer_id, claimed_at);
-- A HOT update needs room on the row's page. A claim is settled moments
-- after it is inserted, by when later claims have filled its page, and the
-- settled row is the larger (reason, provider id). Measured with the bench
-- over 20,000 recipients (pg_stat_user_tables.n_tup_hot_upd of n_tup_upd):
-- fillfactor 100 (the default) 0%, 60: 57%, 50: 79%, 40: 100%, and the
-- table no larger, since a HOT update writes its new version in place of
-- one on another page.
ALTER TABLE deliveries SET (fillfactor = 40);
