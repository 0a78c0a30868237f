// Package store keeps the customer database, the delivery ledger, the
// suppression list and the record of runs in SQL: SQLite (modernc.org/sqlite,
// no cgo) as the embedded default and PostgreSQL (pgx) in production, chosen
// by the database URL. Migrations are embedded and applied when the store is
// opened. Segments are compiled here into parameterized SQL for either
// dialect: every value a marketer writes is a bound parameter, never spliced.
package store
