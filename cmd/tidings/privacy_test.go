package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
	"github.com/tidings/tidings/templates"
)

// recorder is a channel provider that takes every message and keeps it.
type recorder struct {
	mu   sync.Mutex
	sent []channels.Message
}

func (r *recorder) Send(_ context.Context, m channels.Message) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return "id-" + m.DeliveryID, nil
}

// to lists the addresses messaged since message n, as "channel address".
func (r *recorder) to(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.sent[n:] {
		out = append(out, m.Channel+" "+m.To)
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

// notice delivers occurrences of testdata/pipeline's notice campaign
// (delivery: first over sms, email) through the real pipeline, in this
// process: the run task pages the audience and enqueues its batches on a
// private Redis, then every batch the run recorded is handled here, as a
// worker would — a batch handled before counts as retried.
type notice struct {
	db       *store.DB
	pipeline *delivery.Pipeline
	sent     *recorder
}

func newNotice(t *testing.T, dbURL string) *notice {
	t.Helper()
	cfg, err := campaigns.Load("testdata/pipeline/configs", "testdata/pipeline/templates")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load("testdata/pipeline/templates")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	client := asynq.NewClient(redistest.Start(t).Opt())
	t.Cleanup(func() { client.Close() })
	rec := &recorder{}
	return &notice{db: db, sent: rec, pipeline: &delivery.Pipeline{
		Store: db, Client: client,
		Config:    func() *campaigns.Config { return cfg },
		Templates: func() *templates.Set { return tmpl },
		Senders:   map[string]channels.Sender{channels.Email: rec, channels.SMS: rec},
		Signer:    signing.New("test"),
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
}

// deliver runs an occurrence and returns the addresses it messaged.
func (n *notice) deliver(t *testing.T, occurrence string) []string {
	t.Helper()
	ctx := context.Background()
	before := n.sent.count()
	payload, _ := json.Marshal(delivery.RunPayload{Campaign: "notice", Occurrence: occurrence})
	if err := n.pipeline.HandleRun(ctx, asynq.NewTask(delivery.TypeRun, payload)); err != nil {
		t.Fatalf("run %s: %v", occurrence, err)
	}
	batches, err := n.db.RunBatches(ctx, "notice", occurrence)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		payload, _ := json.Marshal(delivery.BatchPayload{Campaign: b.Campaign, Occurrence: b.Run, FirstID: b.FirstID()})
		if err := n.pipeline.HandleBatch(ctx, asynq.NewTask(delivery.TypeBatch, payload)); err != nil {
			t.Fatalf("batch of %s: %v", occurrence, err)
		}
	}
	// In sorted order: a batch sends its recipients concurrently.
	got := n.sent.to(before)
	slices.Sort(got)
	return got
}

// row returns a customer's ledger row of an occurrence on a channel.
func (n *notice) row(t *testing.T, externalID, occurrence, channel string) store.Delivery {
	t.Helper()
	c, err := n.db.CustomerByExternalID(context.Background(), externalID)
	if err != nil {
		t.Fatalf("customer %s: %v", externalID, err)
	}
	d, err := n.db.GetDelivery(context.Background(), store.DeliveryKey{Campaign: "notice", Occurrence: occurrence, CustomerID: c.ID, Channel: channel})
	if err != nil {
		t.Fatalf("%s's row of %s on %s: %v", externalID, occurrence, channel, err)
	}
	return d
}

func importCSV(t *testing.T, url, csv string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := tidings(t, url, "customers", "import", file); code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
}

const eraseCustomers = `external_id,name,email,phone,email_consent,sms_consent
E1,王芳,,+8613800000001,no,yes
E2,Li Lei,li.lei@example.com,,yes,no
K1,Keeper,keeper@example.com,,yes,no
`

func TestCustomersErase(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		ctx := context.Background()
		importCSV(t, url, eraseCustomers)
		n := newNotice(t, url)
		if got, want := n.deliver(t, "once"), []string{"email keeper@example.com", "email li.lei@example.com", "sms +8613800000001"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("first occurrence messaged %v, want %v", got, want)
		}
		// Wang replies STOP, Li unsubscribes by link.
		if _, err := n.db.OptOutPhone(ctx, "+8613800000001", "replied STOP"); err != nil {
			t.Fatal(err)
		}
		li, _ := n.db.CustomerByExternalID(ctx, "E2")
		if _, err := n.db.Unsubscribe(ctx, li.ID, "email", "unsubscribed by link"); err != nil {
			t.Fatal(err)
		}
		wang, _ := n.db.CustomerByExternalID(ctx, "E1")
		before, _ := n.db.RunSummaryOf(ctx, "notice", "once")

		// An unknown id is reported, the others are erased (a repeated id
		// once), and the exit status says that one failed.
		code, stdout, stderr := tidings(t, url, "customers", "erase", "E1", "NOPE", "E2", "E1")
		wantOut := fmt.Sprintf("E1: erased customer %d; 1 ledger row kept with the address replaced by \"erased\"; still suppressed: sms (replied STOP)\n"+
			"E2: erased customer %d; 1 ledger row kept with the address replaced by \"erased\"; still suppressed: email (unsubscribed by link)\n", wang.ID, li.ID)
		if code != 1 || stdout != wantOut || stderr != "NOPE: no customer with this external id\n1 of 3 not erased\n" {
			t.Errorf("erase: exit %d\nstdout %q\nwant   %q\nstderr %q", code, stdout, wantOut, stderr)
		}

		for _, id := range []string{"E1", "E2"} {
			if _, err := n.db.CustomerByExternalID(ctx, id); err != store.ErrNotFound {
				t.Errorf("%s is still a customer: %v", id, err)
			}
		}
		tables := []string{"customers", "customer_tags", "deliveries", "runs", "run_batches"}
		if cells := storetest.CellsContaining(t, n.db, tables, "+8613800000001", "li.lei@example.com", "王芳", "Li Lei"); len(cells) > 0 {
			t.Errorf("personal data left:\n%s", strings.Join(cells, "\n"))
		}
		after, _ := n.db.RunSummaryOf(ctx, "notice", "once")
		if !reflect.DeepEqual(after.Counts, before.Counts) || after.Total(store.StatusSent) != 3 {
			t.Errorf("the run's counts changed: %+v, were %+v", after.Counts, before.Counts)
		}
		if d := n.row(t, "K1", "once", "email"); d.Address != "keeper@example.com" {
			t.Errorf("the keeper's row was scrubbed: %+v", d)
		}

		// Imported again with consent, they are new customers. The
		// occurrence they had does not reach them again: its run has paged
		// its audience, and its batch, handled again, finds them gone.
		importCSV(t, url, strings.ReplaceAll(eraseCustomers, ",no,yes", ",yes,yes"))
		if got := n.deliver(t, "once"); len(got) != 0 {
			t.Errorf("the same occurrence again messaged %v", got)
		}
		// A new occurrence reaches the keeper only: the STOP and the
		// unsubscribe outlived the erasure.
		if got, want := n.deliver(t, "again"), []string{"email keeper@example.com"}; !reflect.DeepEqual(got, want) {
			t.Errorf("a new occurrence messaged %v, want %v", got, want)
		}
		// (delivery: first writes one row, on the first channel, with
		// every channel's reason.)
		if d := n.row(t, "E1", "again", "sms"); d.Status != store.StatusSkipped || d.Reason != "sms suppressed: replied STOP; email no_address" {
			t.Errorf("re-imported E1: %s %q", d.Status, d.Reason)
		}
		if d := n.row(t, "E2", "again", "sms"); d.Status != store.StatusSkipped || d.Reason != "sms no_address; email suppressed: unsubscribed by link" {
			t.Errorf("re-imported E2: %s %q", d.Status, d.Reason)
		}

		// --suppress: an erased customer who asked never to hear from us again.
		code, stdout, _ = tidings(t, url, "customers", "erase", "--suppress", "K1")
		if code != 0 || !strings.HasSuffix(stdout, "; suppressed now: email\n") {
			t.Errorf("erase --suppress: exit %d, %q", code, stdout)
		}
		importCSV(t, url, eraseCustomers)
		if got := n.deliver(t, "third"); len(got) != 0 {
			t.Errorf("after erase --suppress, a new occurrence messaged %v", got)
		}
	})
}

func TestSuppressionsListAndLift(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		ctx := context.Background()
		importCSV(t, url, `external_id,email,phone,email_consent,sms_consent
B1,Bounce.Me@example.com,,yes,no
S1,,+8613800000002,no,yes
`)
		n := newNotice(t, url)
		if err := n.db.Suppress(ctx, "email", "Bounce.Me@example.com", "no such user: no_such_user (permanent): smtp RCPT TO:<Bounce.Me@example.com>: 550 5.1.1 no such user"); err != nil {
			t.Fatal(err)
		}
		if _, err := n.db.OptOutPhone(ctx, "+8613800000002", "replied STOP"); err != nil {
			t.Fatal(err)
		}
		if got := n.deliver(t, "once"); len(got) != 0 {
			t.Fatalf("suppressed addresses messaged: %v", got)
		}
		list, _ := n.db.Suppressions(ctx, "", 0)
		since := map[string]string{}
		for _, s := range list {
			since[s.Address] = localTime(s.Since)
		}

		code, stdout, stderr := tidings(t, url, "suppressions", "list")
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if code != 0 || len(lines) != 3 || strings.Fields(lines[0])[0] != "CHANNEL" || stderr != "" {
			t.Fatalf("list: exit %d\n%s%s", code, stdout, stderr)
		}
		// Newest first: the STOP came after the bounce.
		for i, want := range []string{
			"sms +8613800000002 " + since["+8613800000002"] + " opt-out replied STOP",
			"email Bounce.Me@example.com " + since["Bounce.Me@example.com"] + " bounce no such user: no_such_user (permanent): smtp RCPT TO:<Bounce.Me@example.com>: 550 5.1.1 no such user",
		} {
			if got := strings.Join(strings.Fields(lines[i+1]), " "); got != want {
				t.Errorf("row %d: %q, want %q", i+1, got, want)
			}
		}
		code, stdout, stderr = tidings(t, url, "suppressions", "list", "--channel", "sms", "--limit", "1")
		if code != 0 || strings.Count(stdout, "\n") != 2 || !strings.Contains(stdout, "+8613800000002") || stderr != "" {
			t.Errorf("list --channel sms: exit %d\n%s%s", code, stdout, stderr)
		}
		code, stdout, stderr = tidings(t, url, "suppressions", "list", "--limit", "1")
		if code != 0 || strings.Count(stdout, "\n") != 2 || stderr != "showing the newest 1 of 2; --limit 0 lists all\n" {
			t.Errorf("list --limit 1: exit %d\n%s%s", code, stdout, stderr)
		}
		if code, _, stderr := tidings(t, url, "suppressions", "list", "--channel", "fax"); code != 1 || stderr != "unknown channel \"fax\": want email or sms\n" {
			t.Errorf("list --channel fax: exit %d, %q", code, stderr)
		}

		// The STOP is not lifted without --force, however the number is written.
		code, stdout, stderr = tidings(t, url, "suppressions", "lift", "sms", "+86 138 0000 0002")
		want := "sms +8613800000002 stays suppressed: the recipient opted out (replied STOP, since " + since["+8613800000002"] + "). " +
			"Lifting it would let marketing reach them again after they asked it to stop; if they asked to be contacted again, lift it with --force.\n"
		if code != 1 || stdout != "" || stderr != want {
			t.Errorf("lift the STOP: exit %d, %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
		}
		if ok, _, _ := n.db.Suppressed(ctx, "sms", "+8613800000002"); !ok {
			t.Error("the STOP was lifted without --force")
		}
		code, _, stderr = tidings(t, url, "suppressions", "lift", "email", "bounce.me@example.com")
		if want := "email bounce.me@example.com is not on the email suppression list (did you mean Bounce.Me@example.com?)\n"; code != 1 || stderr != want {
			t.Errorf("lift with the wrong case: exit %d, %q", code, stderr)
		}
		code, _, stderr = tidings(t, url, "suppressions", "lift", "sms", "12345")
		if want := `sms address "12345": not a valid phone number for region CN, and it is not on the sms suppression list as written` + "\n"; code != 1 || stderr != want {
			t.Errorf("lift a bad number: exit %d, %q", code, stderr)
		}

		// The bounce is lifted (the domain's case does not matter), and the
		// next occurrence reaches the address.
		code, stdout, stderr = tidings(t, url, "suppressions", "lift", "email", "Bounce.Me@EXAMPLE.com")
		want = "lifted email Bounce.Me@example.com from the suppression list (bounce since " + since["Bounce.Me@example.com"] +
			": no such user: no_such_user (permanent): smtp RCPT TO:<Bounce.Me@example.com>: 550 5.1.1 no such user)\n"
		if code != 0 || stdout != want {
			t.Errorf("lift the bounce: exit %d\nstdout %q\nwant   %q\n%s", code, stdout, want, stderr)
		}
		if got, want := n.deliver(t, "again"), []string{"email Bounce.Me@example.com"}; !reflect.DeepEqual(got, want) {
			t.Errorf("after the lift messaged %v, want %v", got, want)
		}

		// Forced, the STOP goes, but the consent it withdrew stays withdrawn.
		code, stdout, _ = tidings(t, url, "suppressions", "lift", "--force", "sms", "+8613800000002")
		if code != 0 || !strings.HasPrefix(stdout, "lifted sms +8613800000002 from the suppression list (opt-out since") ||
			!strings.Contains(stdout, "Consent is not given back") {
			t.Errorf("lift --force: exit %d, %q", code, stdout)
		}
		if got, want := n.deliver(t, "third"), []string{"email Bounce.Me@example.com"}; !reflect.DeepEqual(got, want) {
			t.Errorf("after a forced lift messaged %v, want %v", got, want)
		}
		if d := n.row(t, "S1", "third", "sms"); d.Reason != "sms no_consent; email no_address" {
			t.Errorf("S1 after the forced lift: %s %q", d.Status, d.Reason)
		}
	})
}

func TestPrivacyCommandsHaveHelp(t *testing.T) {
	for _, args := range [][]string{{"suppressions"}, {"suppressions", "list"}, {"suppressions", "lift"}, {"customers", "erase"}} {
		code, stdout, _ := tidings(t, "", append(args, "--help")...)
		if code != 0 || !strings.Contains(stdout, "Usage:") {
			t.Errorf("%v --help: exit %d\n%s", args, code, stdout)
		}
	}
}

var _ channels.Sender = (*recorder)(nil)
