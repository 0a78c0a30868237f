// Package campaigns holds what marketers write: segments (who), campaigns
// (what and when) and the settings of configs/tidings.yaml, with the strict
// loader that reads them. Every problem in a file is an *Error naming the
// file, line and column, and Load reports all of them at once as Errors.
//
// A segment's condition tree (All, Any, Not, Ref, Compare, Age, TagMatch,
// BirthdayIn) is compiled to SQL by the store.
package campaigns
