package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/internal/syncbuf"
	"github.com/tidings/tidings/store/storetest"
)

// sendEnv is a database with customers, a Redis and a clock, for `tidings
// send` in process with the shipped configuration.
type sendEnv struct {
	env   map[string]string
	redis *redistest.Server
}

func newSendEnv(t *testing.T, now string, customers int) *sendEnv {
	t.Helper()
	r := redistest.Start(t)
	e := &sendEnv{redis: r, env: map[string]string{
		"TIDINGS_DATABASE_URL": storetest.SQLiteURL(t), "TIDINGS_REDIS_URL": r.URL(), "TIDINGS_SECRET": "test", testNowEnv: now,
	}}
	if customers > 0 {
		if code, _, stderr := e.tidings(t, "customers", "generate", "--count", strconv.Itoa(customers)); code != 0 {
			t.Fatalf("generate: %s", stderr)
		}
	}
	return e
}

func (e *sendEnv) tidings(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncbuf.Buffer
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
	e := newSendEnv(t, "2026-12-04T12:00:00+08:00", 300)

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
	e := newSendEnv(t, "2027-03-08T10:30:00+08:00", 300)
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

// shopCustomers are a few customers with birthdays on 4 December: one with
// SMS and email, one with email only, one with no address; one restricted
// member who bought nothing, and a gold member who bought last month.
const shopCustomers = `external_id,name,email,phone,email_consent,sms_consent,birthday,tier,last_purchase_at
B1,Both,both@example.com,+8613800000001,yes,yes,1990-12-04,general,
B2,Mail Only,mail@example.com,,yes,no,1991-12-04,general,
B3,Nowhere,,,no,no,1992-12-04,general,
C123,Restricted,r@example.com,,yes,no,1980-05-01,restricted,
G1,Gold,g@example.com,,yes,no,1980-05-02,gold,2026-11-01T10:00:00+08:00
`

func (e *sendEnv) importCustomers(t *testing.T, csv string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := e.tidings(t, "customers", "import", file); code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
}

// A dry run shows the messages of customers who would get one, on the
// channel they would get under delivery: first, and none of a customer
// without an address.
func TestSendDryRunShowsWhatEachCustomerWouldGet(t *testing.T) {
	e := newSendEnv(t, "2026-12-04T08:00:00+08:00", 0)
	e.importCustomers(t, shopCustomers)
	code, stdout, stderr := e.tidings(t, "send", "birthday-gift", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"campaign birthday-gift: 3 of 5 customers", "\n--- sms to B1 Both (+8613800000001", "\n--- email to B2 Mail Only (mail@example.com"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	for _, not := range []string{"email to B1", "sms to B2", "B3"} {
		if strings.Contains(stdout, "--- "+not) || (not == "B3" && strings.Contains(stdout, "to B3")) {
			t.Errorf("dry run shows %q", not)
		}
	}
	if t.Failed() {
		t.Log(stdout)
	}
}

// A preview of a customer outside the audience says so, and which
// conditions they fail with what their record holds.
func TestPreviewOfACustomerOutsideTheAudience(t *testing.T) {
	e := newSendEnv(t, "2026-12-04T08:00:00+08:00", 0)
	e.importCustomers(t, shopCustomers)
	code, stdout, stderr := e.tidings(t, "preview", "new-product", "--customer", "C123")
	want := "customer C123 is not in the audience of new-product: tier is restricted (segment loyal-members wants tier in gold, key); " +
		"last_purchase_at is never (segment loyal-members wants last_purchase_at within 180d)\n"
	if code != 0 || !strings.HasPrefix(stdout, want) || !strings.Contains(stdout, "--- email to C123") {
		t.Errorf("exit %d\n%s%s\nwant it to start with %s", code, stdout, stderr, want)
	}
	code, stdout, _ = e.tidings(t, "preview", "birthday-gift", "--customer", "C123")
	want = "customer C123 is not in the audience of birthday-gift: birthday is 1980-05-01 (birthday-gift wants a birthday today or in the next 2 days (in the customer's time zone))\n"
	if code != 0 || !strings.HasPrefix(stdout, want) {
		t.Errorf("birthday-gift: exit %d\n%s\nwant it to start with %s", code, stdout, want)
	}
	// Those in it get no such line.
	for _, args := range [][]string{{"preview", "new-product", "--customer", "G1"}, {"preview", "birthday-gift", "--customer", "B1"}} {
		if code, stdout, stderr := e.tidings(t, args...); code != 0 || strings.Contains(stdout, "not in the audience") || !strings.Contains(stdout, "--- ") {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
}

// A preview shows the SMS as it is sent: the opt-out of the number's
// country, not of the customer's locale.
func TestPreviewShowsTheDestinationsFooter(t *testing.T) {
	e := newSendEnv(t, "2026-12-04T08:00:00+08:00", 0)
	e.importCustomers(t, "external_id,name,phone,locale,sms_consent\nU1,王芳,+14155550123,zh-CN,yes\nZ1,李雷,+8613800000002,zh-CN,yes\n")
	for _, tc := range []struct{ id, want, not string }{
		{"U1", "Reply STOP to opt out", "回T退订"},
		{"Z1", "回T退订", "Reply STOP"},
	} {
		code, stdout, stderr := e.tidings(t, "preview", "spring-festival", "--customer", tc.id)
		if code != 0 || !strings.Contains(stdout, tc.want) || strings.Contains(stdout, tc.not) {
			t.Errorf("%s: exit %d, want %q and no %q in\n%s%s", tc.id, code, tc.want, tc.not, stdout, stderr)
		}
	}
}
