// Package customer holds the customer domain type and the pure-Go parts of
// getting customers into Tidings: normalization of contact data, a CSV
// importer and a generator of demo customers.
//
// # Normalization
//
// Everything a campaign keys on is normalized once, on the way in, so that
// segments and deduplication compare like with like: phone numbers become
// E.164 ([Normalizer.Phone]), e-mail domains are lower-cased
// ([Normalizer.Email]), time zones must be IANA names ([TimeZone]), birthdays
// may omit the year ([ParseBirthday]) and tiers accept their Chinese names
// ([ParseTier]). Every normalizer accepts the empty string as "unknown".
// Errors are short and meant for a marketer reading an import report.
//
// # CSV import
//
// [CSVReader] maps columns by header name, so a spreadsheet's column order
// does not matter but a misspelt header does: [NewCSVReader] rejects unknown
// and duplicate columns up front, with a "did you mean" hint, rather than
// silently dropping a column of data. A bad row is reported as a [*RowError]
// carrying its line number and the reader carries on, so one import run lists
// every bad row at once. A bad row costs only itself, even a stray quote
// (see records), and text PostgreSQL would refuse for a whole batch (not
// UTF-8, a NUL byte, over the limits of limits.go) is a bad row.
//
// # Demo data
//
// [Generator] produces a deterministic, realistic customer base for demos and
// load tests: mostly Chinese customers plus English-speaking and international
// ones, time zones on both sides of the date line and with odd offsets,
// birthdays on 29 February, and only example domains for e-mail.
//
// # Time zone data
//
// The package embeds the IANA time zone database (time/tzdata, about 450 KB)
// so that [TimeZone] validates the same way in a minimal container without
// /usr/share/zoneinfo as on a developer's machine.
package customer

import _ "time/tzdata" // see "Time zone data" above
