package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels/outbox"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/syncbuf"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// shanghai is the sample campaigns' zone, and most demo customers'.
var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// demoFolder is a folder the demo runs in, on a clock of the test's: every
// demo process started from it gets TIDINGS_TEST_NOW, so that the clock
// runs on from one process to the next as if the wall clock had started at
// start. The sample campaigns decide by the hour (send windows) and the
// date (the day's occurrence, birthdays); on the wall clock the same test
// would pass at some hours and fail at others.
type demoFolder struct {
	t          *testing.T
	repo, dir  string
	start, set time.Time // the demo's clock read start at the wall time set
	cfg        *campaigns.Config
}

func newDemoFolder(t *testing.T, start string) *demoFolder {
	t.Helper()
	at, err := time.Parse(time.RFC3339, start)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := filepath.Abs("../..")
	cfg, err := campaigns.Load(filepath.Join(repo, "configs"), filepath.Join(repo, "templates"))
	if err != nil {
		t.Fatal(err)
	}
	return &demoFolder{t: t, repo: repo, dir: t.TempDir(), start: at, set: time.Now(), cfg: cfg}
}

// now is the time on the demo's clock.
func (d *demoFolder) now() time.Time { return d.start.Add(time.Since(d.set)) }

func (d *demoFolder) outbox() string { return filepath.Join(d.dir, ".tidings", "outbox") }

// command is `tidings demo ARGS…` in the folder, its clock at d.now().
func (d *demoFolder) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary(d.t), append([]string{"--config", filepath.Join(d.repo, "configs"), "--templates", filepath.Join(d.repo, "templates"),
		"demo", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), "TIDINGS_ADMIN_PASSWORD=quick-start-password", "TIDINGS_DATABASE_URL=", "TIDINGS_REDIS_URL=",
		testNowEnv+"="+d.now().Format(time.RFC3339Nano))
	return cmd
}

// runningDemo is `tidings demo` started, with its output read line by line.
type runningDemo struct {
	cmd    *exec.Cmd
	lines  chan string
	out    strings.Builder // stdout so far (read by the test's goroutine only)
	stderr strings.Builder
}

func (d *demoFolder) startDemo() *runningDemo {
	d.t.Helper()
	r := &runningDemo{cmd: d.command(), lines: make(chan string)}
	stdout, _ := r.cmd.StdoutPipe()
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	return r
}

// dashboard returns the dashboard's address, printed as the demo starts,
// once the first runs have done what they can now (the line after their
// summary): at the busiest hour, 8,000 messages, which took a loaded
// 2-core machine running the suite a minute.
func (r *runningDemo) dashboard(t *testing.T) string {
	t.Helper()
	deadline := time.After(3 * time.Minute)
	var url string
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("demo ended early:\n%s\n%s", r.out.String(), r.stderr.String())
			}
			r.out.WriteString(l + "\n")
			if rest, ok := strings.CutPrefix(l, "dashboard: "); ok && url == "" {
				url, _, _ = strings.Cut(rest, " ")
			}
			if strings.HasPrefix(l, "the scheduler and the worker keep running") {
				if url == "" {
					t.Fatalf("no dashboard line:\n%s", r.out.String())
				}
				return url
			}
		case <-deadline:
			t.Fatalf("the first runs not done within 3 minutes:\n%s\n%s", r.out.String(), r.stderr.String())
		}
	}
}

// firstMessage waits for the quick start's promise: a message in the
// outbox within 30 seconds.
func (r *runningDemo) firstMessage(t *testing.T, d *demoFolder) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if sent, _ := outbox.ReadSentLog(d.outbox()); len(sent) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message in the outbox within 30 s:\n%s", r.stderr.String())
		}
	}
}

// interrupt is Ctrl-C: the demo must exit 0 within 30 seconds. It returns
// what the demo printed after what the test had read.
func (r *runningDemo) interrupt(t *testing.T) string {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGINT)
	var rest strings.Builder
	drained := make(chan struct{})
	go func() {
		for l := range r.lines {
			rest.WriteString(l + "\n")
		}
		close(drained)
	}()
	exited := make(chan error, 1)
	go func() { <-drained; exited <- r.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("demo after Ctrl-C: %v\n%s%s", err, rest.String(), r.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("demo still running 30 s after Ctrl-C:\n%s", r.stderr.String())
	}
	return rest.String()
}

// sentAt reads the outbox's sent.log: when (on the demo's clock) each
// delivery went out, by delivery id, and how often each was sent.
func sentAt(t *testing.T, dir string) (map[store.DeliveryKey]time.Time, map[string]int) {
	t.Helper()
	sent, err := outbox.ReadSent(dir)
	if err != nil {
		t.Fatal(err)
	}
	at, times := map[store.DeliveryKey]time.Time{}, map[string]int{}
	for _, s := range sent {
		k, ok := store.ParseDeliveryID(s.DeliveryID)
		if !ok {
			t.Fatalf("sent.log: bad delivery id %q", s.DeliveryID)
		}
		at[k] = s.At
		times[s.DeliveryID]++
	}
	return at, times
}

// demoRun is what a windowed sample campaign's run did to each recipient.
type demoRun struct {
	c       *campaigns.Campaign
	started time.Time
	status  map[int64]string // by customer id: the ledger's status, "" while the recipient waits for the window
	zone    map[int64]*time.Location
	summary store.RunSummary
}

// readRun reads a run of a windowed campaign from the demo's database.
func (d *demoFolder) readRun(name string) demoRun {
	d.t.Helper()
	ctx := context.Background()
	c := d.cfg.Campaigns[name]
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(d.dir, ".tidings", "tidings.db"))
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	db.SetClock(d.now) // what is deferred is deferred at the demo's time
	occ := delivery.DefaultOccurrence(c, d.start)
	r := demoRun{c: c, status: map[int64]string{}, zone: map[int64]*time.Location{}}
	run, err := db.GetRun(ctx, name, occ)
	if err != nil {
		d.t.Fatalf("run %s %s: %v", name, occ, err)
	}
	r.started = run.StartedAt
	if r.summary, err = db.RunSummaryOf(ctx, name, occ); err != nil {
		d.t.Fatal(err)
	}
	batches, err := db.RunBatches(ctx, name, occ)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, b := range batches {
		for _, id := range b.CustomerIDs {
			r.status[id] = ""
		}
	}
	query := func(q string, args []any, row func(id int64, s string) error) {
		rows, err := db.SQL().QueryContext(ctx, q, args...)
		if err != nil {
			d.t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var s string
			if err := rows.Scan(&id, &s); err != nil {
				d.t.Fatal(err)
			}
			if err := row(id, s); err != nil {
				d.t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			d.t.Fatal(err)
		}
	}
	query("SELECT customer_id, status FROM deliveries WHERE campaign = ? AND occurrence = ?", []any{name, occ}, func(id int64, s string) error {
		r.status[id] = s
		return nil
	})
	query("SELECT id, COALESCE(timezone, '') FROM customers", nil, func(id int64, zone string) error {
		if _, ok := r.status[id]; !ok {
			return nil
		}
		r.zone[id] = c.Schedule.Location
		if zone != "" {
			r.zone[id], err = time.LoadLocation(zone)
		}
		return err
	})
	return r
}

// inWindow reports whether t is inside the campaign's send window where
// the recipient lives (the sample windows do not span midnight), and for a
// holiday greeting on the holiday there.
func (r demoRun) inWindow(id int64, t time.Time) bool {
	l := t.In(r.zone[id])
	if r.c.Kind == campaigns.KindHoliday && l.Format("2006-01-02") < r.summary.Occurrence {
		return false
	}
	m := campaigns.Clock(l.Hour()*60 + l.Minute())
	return m >= r.c.SendWindow.Start && m < r.c.SendWindow.End
}

// check asserts what the run did: a message went out to every recipient
// inside their window when the run started, each at a time inside it, and
// only those outside it wait.
func (r demoRun) check(t *testing.T, sent map[store.DeliveryKey]time.Time) {
	t.Helper()
	if n := r.summary.Total(""); n != r.summary.Targeted {
		t.Errorf("%s: %d recipients accounted for, %d targeted", r.c.Name, n, r.summary.Targeted)
	}
	var out int
	for id, status := range r.status {
		switch {
		case status == "" && r.inWindow(id, r.started):
			t.Errorf("%s: customer %d was inside the window at %s and got nothing", r.c.Name, id, r.started.In(r.zone[id]).Format("Jan 2 15:04 MST"))
		case status == string(store.StatusSent):
			out++
			at, ok := sent[store.DeliveryKey{Campaign: r.c.Name, Occurrence: r.summary.Occurrence, CustomerID: id, Channel: r.c.Channels[0]}]
			if !ok {
				t.Errorf("%s: customer %d is sent in the ledger, not in the outbox", r.c.Name, id)
			} else if !r.inWindow(id, at) {
				t.Errorf("%s: customer %d got the message at %s, outside the window", r.c.Name, id, at.In(r.zone[id]).Format("Jan 2 15:04 MST"))
			}
		}
	}
	waiting := r.waiting()
	if waiting != r.summary.Total(store.StatusDeferred) {
		t.Errorf("%s: %d recipients wait for the window, the run says %d", r.c.Name, waiting, r.summary.Total(store.StatusDeferred))
	}
	t.Logf("%s, run started %s: %d sent, %d waiting for the window", r.c.Name, r.started.In(shanghai).Format("15:04:05 MST"), out, waiting)
}

// waiting counts the run's recipients who wait for their window.
func (r demoRun) waiting() int64 {
	var n int64
	for _, status := range r.status {
		if status == "" {
			n++
		}
	}
	return n
}

// inShanghai counts a run's recipients in Shanghai's zone by whether they
// have their message or wait for the window.
func (r demoRun) inShanghai() (sent, waiting int) {
	for id, status := range r.status {
		if r.zone[id].String() != shanghai.String() {
			continue
		}
		switch status {
		case "":
			waiting++
		case string(store.StatusSent):
			sent++
		}
	}
	return sent, waiting
}

// The quick start, at three hours of one day in Shanghai (the sample
// campaigns' zone): `tidings demo` on a clean folder shows messages in the
// outbox within 30 seconds, sends to exactly the recipients inside their
// send window and defers the others, prints the dashboard's address, serves
// it, delivers the deferred when their window opens, and stops cleanly on
// Ctrl-C; the next `tidings demo --once` sends nobody anything twice.
func TestQuickStartDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	binary(t) // once, before the parallel subtests
	for _, tc := range []struct {
		name, at string
		// every Shanghai recipient is outside (before) or inside
		// (after) the window at the start, or it opens during the test
		shanghai string
	}{
		{"00:03", "2027-02-06T00:03:00+08:00", "outside"},
		{"08:59", "2027-02-06T08:59:20+08:00", "opens"},
		{"16:03", "2027-02-06T16:03:00+08:00", "inside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDemoFolder(t, tc.at)
			demo := d.startDemo()
			demo.firstMessage(t, d)
			dashboard := demo.dashboard(t)
			if !strings.Contains(demo.out.String(), "password quick-start-password") {
				t.Errorf("the demo does not print the dashboard's credentials:\n%s", demo.out.String())
			}
			req, _ := http.NewRequest("GET", dashboard, nil)
			req.SetBasicAuth("admin", "quick-start-password")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(page), "spring-festival") {
				t.Errorf("dashboard: %d\n%.500s", resp.StatusCode, page)
			}

			windowed := []string{"spring-festival", "new-product"}
			nine := time.Date(2027, 2, 6, 9, 0, 0, 0, shanghai)
			if tc.shanghai == "opens" {
				for _, name := range windowed {
					if r := d.readRun(name); !r.started.Before(nine) {
						t.Fatalf("%s started at %s, after the window opened: the demo took too long to start for this test", name, r.started.In(shanghai).Format("15:04:05"))
					}
				}
				// 09:00 in Shanghai: the window opens, and the batches that
				// waited for it go out, 5,500 messages: up to a minute on a
				// loaded machine. Until they are done a run's counts move.
				settled := func() bool {
					for _, name := range windowed {
						r := d.readRun(name)
						if _, waiting := r.inShanghai(); waiting > 0 || r.waiting() != r.summary.Total(store.StatusDeferred) {
							return false
						}
					}
					return true
				}
				for deadline := time.Now().Add(time.Until(nine.Add(d.set.Sub(d.start))) + 2*time.Minute); !settled(); time.Sleep(time.Second) {
					if time.Now().After(deadline) {
						t.Fatalf("2 minutes after 09:00 in Shanghai, recipients there still wait:\n%s", demo.stderr.String())
					}
				}
			}
			for _, name := range windowed {
				r := d.readRun(name)
				// After the ledger: the outbox logs a message before its
				// row is settled, so every row read as sent is in the log.
				sent, _ := sentAt(t, d.outbox())
				r.check(t, sent)
				inside, waiting := r.inShanghai()
				switch {
				case tc.shanghai == "outside" && (inside > 0 || waiting == 0):
					t.Errorf("%s: in Shanghai %d sent, %d waiting; want all waiting", name, inside, waiting)
				case tc.shanghai != "outside" && (inside == 0 || waiting > 0):
					t.Errorf("%s: in Shanghai %d sent, %d waiting; want all sent", name, inside, waiting)
				}
				if tc.shanghai == "opens" {
					for k, at := range sent {
						if k.Campaign == name && r.zone[k.CustomerID].String() == shanghai.String() && at.Before(nine) {
							t.Errorf("%s: customer %d in Shanghai got it at %s, before the window opened", name, k.CustomerID, at.In(shanghai).Format("15:04:05"))
						}
					}
				}
			}
			demo.interrupt(t)

			before, _ := sentAt(t, d.outbox())
			if out, err := d.command("--once").CombinedOutput(); err != nil {
				t.Fatalf("demo --once: %v\n%s", err, out)
			}
			_, times := sentAt(t, d.outbox())
			for id, n := range times {
				if n != 1 {
					t.Errorf("%s sent %d times", id, n)
				}
			}
			t.Logf("%d messages before the second demo, %d after", len(before), len(times))
		})
	}
}

// Ctrl-C while the demo's first runs are still sending stops it cleanly
// too, with a summary of what it did, and the next `tidings demo` carries
// the runs on at once: nobody gets a message twice, and each summary
// counts the messages its own process sent. At 10:00 in Shanghai, when
// most recipients are inside their window, so that the first runs have
// much to send.
func TestQuickStartDemoInterruptedEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	d := newDemoFolder(t, "2027-02-06T10:00:00+08:00")
	first := d.startDemo()
	first.firstMessage(t, d)
	out := first.interrupt(t)
	if !strings.Contains(out, "stopping before the first runs finished") {
		t.Errorf("Ctrl-C came after the first runs finished; the test did not test an early stop:\n%s", out)
	}
	before, _ := outbox.ReadSentLog(d.outbox())
	for _, name := range d.cfg.CampaignNames() {
		if !strings.Contains(out, "\n== "+name+" (run ") {
			t.Errorf("the summary after Ctrl-C lacks %s:\n%s", name, out)
		}
	}
	if m := messagesLine.FindStringSubmatch(out); m == nil || m[1] != fmt.Sprint(len(before)) {
		t.Errorf("the summary after Ctrl-C does not say the %d messages in the outbox:\n%s", len(before), out)
	}

	start := time.Now()
	again, err := d.command("--once").CombinedOutput()
	if err != nil {
		t.Fatalf("demo --once after the interruption: %v\n%s", err, again)
	}
	// Batches the first process never finished are enqueued again with the
	// runs, not when the reconciler finds them stale.
	if took := time.Since(start); took > delivery.StaleAfter {
		t.Errorf("the second demo took %s to finish the runs: as long as the reconciler waits", took.Round(time.Second))
	}
	after, err := outbox.ReadSentLog(d.outbox())
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range after {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
	if len(after) <= len(before) {
		t.Errorf("%d messages after the second demo, %d before: the runs were not carried on\n%s", len(after), len(before), again)
	}
	if m := messagesLine.FindStringSubmatch(string(again)); m == nil || m[1] != fmt.Sprint(len(after)-len(before)) {
		t.Errorf("the second demo sent %d messages; its summary says otherwise:\n%s", len(after)-len(before), again)
	}
	t.Logf("%d messages before Ctrl-C, %d after the second demo (%s)", len(before), len(after), time.Since(start).Round(time.Millisecond))
}

// TIDINGS_TEST_NOW sets the clock the process decides by; a value that is
// no instant is refused with the variable's name, before anything runs.
func TestTestClock(t *testing.T) {
	env := map[string]string{testNowEnv: "2027-02-06 09:00"}
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"--config", "../../configs", "--templates", "../../templates", "validate"},
		strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	if code == 0 || !strings.Contains(stderr.String(), testNowEnv) {
		t.Errorf("exit %d, stderr %q: want a non-zero exit naming %s", code, stderr.String(), testNowEnv)
	}

	now, err := clock(func(string) string { return "2027-02-06T08:59:59+08:00" })
	if err != nil {
		t.Fatal(err)
	}
	first := now()
	if want := time.Date(2027, 2, 6, 8, 59, 59, 0, shanghai); first.Sub(want).Abs() > time.Second {
		t.Errorf("the clock reads %s, want %s", first, want)
	}
	time.Sleep(20 * time.Millisecond)
	if d := now().Sub(first); d < 20*time.Millisecond || d > time.Second {
		t.Errorf("20 ms later the clock moved %s", d)
	}
}

// demoInProcess is `tidings demo ARGS…` run in the test's process on the
// shipped configuration without send windows (demoConfig), on a database
// of a few generated customers, at 10:00 in Shanghai.
type demoInProcess struct {
	configDir, outboxDir string
	env                  map[string]string
}

func newDemoInProcess(t *testing.T, customers int) *demoInProcess {
	t.Helper()
	d := &demoInProcess{env: map[string]string{"TIDINGS_DATABASE_URL": storetest.SQLiteURL(t),
		testNowEnv: "2027-02-06T10:00:00+08:00", "TIDINGS_ADMIN_PASSWORD": "in-process-password"}}
	d.configDir, d.outboxDir = demoConfig(t)
	if code, _, stderr := d.run(context.Background(), "customers", "generate", "--count", fmt.Sprint(customers)); code != 0 {
		t.Fatalf("generate: exit %d\n%s", code, stderr)
	}
	return d
}

func (d *demoInProcess) run(ctx context.Context, args ...string) (int, string, string) {
	var out, errOut syncbuf.Buffer
	code := d.start(ctx, &out, &errOut, args...)
	return <-code, out.String(), errOut.String()
}

func (d *demoInProcess) start(ctx context.Context, out, errOut *syncbuf.Buffer, args ...string) <-chan int {
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"--config", d.configDir, "--templates", "../../templates"}, args...), nil, out, errOut,
			func(k string) string { return d.env[k] })
	}()
	return code
}

// waitFor waits until out has a line starting with prefix.
func waitFor(t *testing.T, out, errOut *syncbuf.Buffer, prefix string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if strings.HasPrefix(out.String(), prefix) || strings.Contains(out.String(), "\n"+prefix) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line %q within 2 minutes:\n%s\n%s", prefix, out.String(), errOut.String())
		}
	}
}

// messagesLine is the number of the summary's "N messages in T" line.
var messagesLine = regexp.MustCompile(`(?m)^(\d+) messages in `)

// The demo prints its dashboard's address and login as it starts, before
// the first runs; the emails' unsubscribe links point to that dashboard on
// the port it got (here one --listen leaves to the system, never the
// 8080 of public_url) and open its unsubscribe page.
func TestDemoDashboardFirstAndLinksToIt(t *testing.T) {
	t.Parallel()
	d := newDemoInProcess(t, 300)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncbuf.Buffer
	code := d.start(ctx, &out, &errOut, "demo", "--listen", "127.0.0.1:0")
	waitFor(t, &out, &errOut, "the scheduler and the worker keep running")
	printed := out.String()
	dash := regexp.MustCompile(`(?m)^dashboard: (http://127\.0\.0\.1:(\d+)/)  \(user admin, password in-process-password\)$`).FindStringSubmatchIndex(printed)
	running := strings.Index(printed, "running 3 sample campaigns")
	if dash == nil {
		t.Fatalf("the demo does not print the dashboard's address and login:\n%s", printed)
	}
	if dash[0] > running {
		t.Errorf("the dashboard's address and login are printed after the first runs, not as the demo starts:\n%s", printed)
	}
	dashboard := printed[dash[2]:dash[3]]

	var emls []string
	filepath.WalkDir(d.outboxDir, func(path string, _ fs.DirEntry, err error) error {
		if strings.HasSuffix(path, ".eml") {
			emls = append(emls, path)
		}
		return err
	})
	if len(emls) == 0 {
		t.Fatalf("no email in the outbox %s", d.outboxDir)
	}
	f, err := os.Open(emls[0])
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var link string
	for _, l := range strings.Split(msg.Header.Get("List-Unsubscribe"), ",") {
		if l = strings.Trim(strings.TrimSpace(l), "<>"); strings.HasPrefix(l, "http") {
			link = l
		}
	}
	if !strings.HasPrefix(link, dashboard+"u/") {
		t.Fatalf("%s: unsubscribe link %q, want one on the dashboard %s", filepath.Base(emls[0]), link, dashboard)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `action="/u/`) {
		t.Errorf("GET %s: %d\n%.500s", link, resp.StatusCode, page)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("demo after Ctrl-C: exit %d\n%s", c, errOut.String())
	}
}

// The summary's "N messages" are what this demo sent: a second demo on
// the same day finds the runs done and sent none, though the runs (and the
// outbox) count the first one's.
func TestDemoCountsItsOwnMessages(t *testing.T) {
	t.Parallel()
	d := newDemoInProcess(t, 300)
	code, first, stderr := d.run(context.Background(), "demo", "--once")
	if code != 0 {
		t.Fatalf("demo --once: exit %d\n%s", code, stderr)
	}
	log, err := outbox.ReadSentLog(d.outboxDir)
	if err != nil || len(log) == 0 {
		t.Fatalf("outbox: %d messages, %v", len(log), err)
	}
	if m := messagesLine.FindStringSubmatch(first); m == nil || m[1] != fmt.Sprint(len(log)) {
		t.Errorf("first demo: want %d messages in the summary:\n%s", len(log), first)
	}
	code, second, stderr := d.run(context.Background(), "demo", "--once")
	if code != 0 {
		t.Fatalf("second demo --once: exit %d\n%s", code, stderr)
	}
	if m := messagesLine.FindStringSubmatch(second); m == nil || m[1] != "0" {
		t.Errorf("second demo sent nothing; its summary says otherwise:\n%s", second)
	}
}

// The dashboard's address, as printed and as the messages link to it, is
// one a browser on this machine opens: localhost for a --listen on all
// interfaces, the named host otherwise, with the port the listener got.
func TestDemoURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{":0", "http://localhost:PORT/"},
		{"0.0.0.0:0", "http://localhost:PORT/"},
		{"127.0.0.1:0", "http://127.0.0.1:PORT/"},
		{"localhost:0", "http://localhost:PORT/"},
	} {
		ln, err := demoListener(tc.listen, true)
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		if got, want := demoURL(tc.listen, ln.Addr()), strings.Replace(tc.want, "PORT", port, 1); got != want {
			t.Errorf("--listen %s: %s, want %s", tc.listen, got, want)
		}
		ln.Close()
	}
}
