// Package metrics is what Tidings exposes to operations: Prometheus metrics
// and the /healthz and /readyz probes, shared by `tidings web` and workers.
//
// Figures that describe the whole cluster come from where the cluster
// keeps them, at scrape time: ledger counts from the database
// ([LedgerCollector], cached for a few seconds so a large ledger is not
// counted on every scrape) and queue sizes from Redis (asynq's collector).
// Figures about one process, such as [RateLimitWaits], are counted in the
// process and exported by it.
package metrics
