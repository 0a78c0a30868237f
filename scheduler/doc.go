// Package scheduler turns campaigns into occurrences at their times and
// enqueues each once. Any number of schedulers may run: an occurrence's run
// task has a deterministic id, so a second enqueue is a no-op.
//
// Cron expressions (robfig/cron/v3) are evaluated on the campaign's wall
// clock and each wall time is then resolved to an instant here, because
// robfig's own Next skips a time that falls in a spring-forward gap (the
// whole day's run would be lost) and Go's time.Date may move such a time
// backwards. A wall time in a gap fires at the transition; one that occurs
// twice (fall-back) fires once, at its first instant.
package scheduler
