package main

import (
	"context"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/store/storetest"
)

// sendEnv is a database with customers, a Redis and a clock, for `tidings
// send` in process with the shipped configuration.
type sendEnv struct {
	env   map[string]string
	redis *redistest.Server
}

func newSendEnv(t *testing.T, now string) *sendEnv {
	t.Helper()
	r := redistest.Start(t)
	e := &sendEnv{redis: r, env: map[string]string{
		"TIDINGS_DATABASE_URL": storetest.SQLiteURL(t), "TIDINGS_REDIS_URL": r.URL(), "TIDINGS_SECRET": "test", testNowEnv: now,
	}}
	if code, _, stderr := e.tidings(t, "customers", "generate", "--count", "300"); code != 0 {
		t.Fatalf("generate: %s", stderr)
	}
	return e
}

func (e *sendEnv) tidings(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr lockedBuffer
	args = append([]string{"--config", "../../configs", "--templates", "../../templates"}, args...)
	code := run(context.Background(), args, nil, &stdout, &stderr, func(k string) string { return e.env[k] })
	return code, stdout.String(), stderr.String()
}

// enqueued reports whether the run task of an occurrence is in Redis.
func (e *sendEnv) enqueued(t *testing.T, campaign, occurrence string) bool {
	t.Helper()
	inspector := asynq.NewInspector(e.redis.Opt())
	defer inspector.Close()
	for _, q := range []string{"tidings:high", "tidings:normal", "tidings:low"} {
		if _, err := inspector.GetTaskInfo(q, delivery.RunTaskID(campaign, occurrence)); err == nil {
			return true
		}
	}
	return false
}

// In December, `tidings send spring-festival` (today's date) and a typo
// are refused with the next fires and nothing is enqueued; --force sends a
// well-formed date off the schedule and never a malformed key.
func TestSendRefusesAnOccurrenceThatIsNotAFire(t *testing.T) {
	e := newSendEnv(t, "2026-12-04T12:00:00+08:00")

	code, stdout, stderr := e.tidings(t, "send", "spring-festival")
	want := `campaign spring-festival: occurrence "2026-12-04" is not one of its fires of the last 7 days or the next 400 days, nor a run it has; ` +
		`its next fires: 2027-02-06 (2027-02-06 09:00 CST)`
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, `add --force to send "2026-12-04" anyway`) || stdout != "" {
		t.Errorf("send on a day it does not fire: exit %d\nstdout %q\nstderr %s", code, stdout, stderr)
	}
	if e.enqueued(t, "spring-festival", "2026-12-04") {
		t.Error("the refused occurrence was enqueued")
	}

	for _, tc := range []struct{ campaign, occurrence, want string }{
		{"spring-festival", "feb-6", `occurrence "feb-6" is not a date (YYYY-MM-DD)`},
		{"new-product", "follow-up-9", `occurrence "follow-up-9" names a follow-up it does not have (follow_ups lists 1)`},
	} {
		for _, force := range []bool{false, true} {
			args := []string{"send", tc.campaign, "--occurrence", tc.occurrence}
			if force {
				args = append(args, "--force")
			}
			code, stdout, stderr := e.tidings(t, args...)
			if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stdout, "enqueued") {
				t.Errorf("%v: exit %d\nstdout %q\nstderr %s", args, code, stdout, stderr)
			}
			if e.enqueued(t, tc.campaign, tc.occurrence) {
				t.Errorf("%v enqueued the run", args)
			}
		}
	}

	// The holiday itself, two months early, and today's date forced.
	for _, args := range [][]string{
		{"send", "spring-festival", "--occurrence", "2027-02-06"},
		{"send", "spring-festival", "--occurrence", "2026-12-04", "--force"},
	} {
		code, stdout, stderr := e.tidings(t, args...)
		if code != 0 || !strings.Contains(stdout, "enqueued run:spring-festival:"+args[3]) || !e.enqueued(t, "spring-festival", args[3]) {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %s", args, code, stdout, stderr)
		}
	}
}

// A follow-up's dry run counts the follow-up's audience (the launch's
// recipients who have not bought since: none before the launch ran), not
// the launch's.
func TestSendDryRunOfAFollowUp(t *testing.T) {
	e := newSendEnv(t, "2027-03-08T10:30:00+08:00")
	code, stdout, stderr := e.tidings(t, "send", "new-product", "--dry-run", "--occurrence", "follow-up-1")
	if code != 0 || !strings.Contains(stdout, "campaign new-product follow-up-1 (the launch's recipients who have not bought since): 0 of 300 customers") {
		t.Errorf("dry run of follow-up-1: exit %d\n%s%s", code, stdout, stderr)
	}
	// The launch, a week ago and not run: --force, to compare.
	code, stdout, stderr = e.tidings(t, "send", "new-product", "--dry-run", "--occurrence", "once", "--force")
	if code != 0 || !strings.Contains(stdout, "campaign new-product: ") || strings.Contains(stdout, "campaign new-product: 0 of") {
		t.Errorf("dry run of the launch: exit %d\n%s%s", code, stdout, stderr)
	}
}
