// Package calendar holds the dates of named holidays, 2025 through 2035:
// lunar festivals such as the Spring Festival and Mid-Autumn, and
// fixed-date ones such as National Day and Valentine's Day. Holiday
// campaigns name them (`holidays: [spring_festival]`) instead of listing
// dates that change every year.
//
// The dates ship with the binary, in holidays.csv. Its lunar dates are
// computed, not typed in: internal/gen finds the instants of new moon
// (Meeus, Astronomical Algorithms, 2nd ed., chapter 49) and of the major
// solar terms (chapter 25) and numbers the months by the rules of GB/T
// 33661-2017, the national standard the Purple Mountain Observatory
// publishes the Chinese calendar by: days in Beijing time, a month from the
// day of a new moon, the winter solstice in month 11, and the first month
// without a major solar term leap in a year of 13 months. The generator
// refuses to write a table that would change if a new moon moved by two
// minutes or a solar term by 45 (Meeus's errors are well within that), and
// the tests hold the table to published dates.
//
// To extend the years: go generate ./calendar/ after changing the -from and
// -to flags below, and review the diff.
//
//go:generate go run ./internal/gen -o holidays.csv -from 2025 -to 2035
package calendar
