// Package delivery runs campaign occurrences on Asynq: the campaign:run task
// pages a campaign's audience by keyset and enqueues campaign:batch tasks;
// each batch decides every recipient's channel (consent, suppression,
// `delivery: first` or `all`), claims a ledger row, renders, sends and
// settles the row. Asynq executes tasks at least once; the ledger's unique
// row per (campaign, occurrence, customer, channel), claimed before the
// provider is called, makes every send happen at most once, and the sweeper
// accounts for rows a crashed worker left "sending".
//
// DESIGN.md places these handlers in package campaigns; they live here
// because they need the store, and the store already imports campaigns for
// segment conditions (campaigns importing store would be an import cycle).
package delivery
