package main

import (
	"fmt"
	"time"
)

// testNowEnv sets the clock of a whole tidings process, for tests only. The
// demo, the worker, the scheduler and the dashboard decide by the hour and
// the date (send windows, birthdays, the day's occurrence), so a test that
// runs the binary on the wall clock passes at some hours and fails at
// others. With TIDINGS_TEST_NOW=2027-02-06T08:59:50+08:00 the process's
// clock starts at that instant and runs at real speed from there, so a test
// can start just before a send window opens and watch it open.
//
// Everything the process stamps, schedules and decides goes by this clock;
// what it hands to Redis (a batch's process-at time, a rate limiter's
// deadline) is converted to a duration first, since Redis and Asynq keep
// the real time. Never set it in production.
const testNowEnv = "TIDINGS_TEST_NOW"

// clock returns the process's clock: the wall clock, or the one
// TIDINGS_TEST_NOW starts.
func clock(getenv func(string) string) (func() time.Time, error) {
	v := getenv(testNowEnv)
	if v == "" {
		return time.Now, nil
	}
	start, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: want an RFC 3339 instant such as 2027-02-06T08:59:50+08:00 (it is for tests only)", testNowEnv, v)
	}
	offset := time.Until(start)
	return func() time.Time { return time.Now().Add(offset) }, nil
}
