package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/web"
)

// Without credentials every admin page and asynqmon answer 401: a browser
// gets the login form, a script a Basic challenge.
func TestAdminPagesNeedLogin(t *testing.T) {
	b := setup(t, store.SQLite)
	for _, r := range []request{
		{method: "GET", path: "/"},
		{method: "GET", path: "/campaigns/greeting"},
		{method: "GET", path: "/campaigns/greeting/runs/2027-02-06"},
		{method: "POST", path: "/campaigns/greeting/send", form: url.Values{}},
		{method: "POST", path: "/campaigns/greeting/runs/x/pause", form: url.Values{}},
		{method: "GET", path: "/queues/"},
		{method: "GET", path: "/queues/api/queues"},
		{method: "DELETE", path: "/queues/api/queues/tidings:normal"},
		{method: "GET", path: "/", user: "admin", pass: "wrong password!"},
		{method: "GET", path: "/", user: "nobody", pass: adminPassword},
		{method: "GET", path: "/", cookie: &http.Cookie{Name: "tidings_session", Value: "forged.value"}},
	} {
		got := b.do(t, r)
		if got.code != 401 || got.header.Get("WWW-Authenticate") != `Basic realm="Tidings", charset="UTF-8"` {
			t.Errorf("%s %s (user %q): %d %q", r.method, r.path, r.user, got.code, got.header.Get("WWW-Authenticate"))
		}
		r.html = true
		got = b.do(t, r)
		if got.code != 401 || !strings.Contains(got.body, `action="/login"`) || got.header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s %s from a browser: %d, want 401 with the login form", r.method, r.path, got.code)
		}
	}
	// The login form comes back with where it was going.
	got := b.do(t, request{method: "GET", path: "/campaigns/greeting", html: true})
	if !strings.Contains(got.body, `name="next" value="/campaigns/greeting"`) {
		t.Errorf("login form without next:\n%s", got.body)
	}
}

func TestLoginSessionAndCSRF(t *testing.T) {
	b := setup(t, store.SQLite)
	b.now = december // 2027-02-06 is greeting's next fire
	if got := b.do(t, request{method: "POST", path: "/login", form: url.Values{"username": {"admin"}, "password": {"nope nope nope"}}, html: true}); got.code != 401 ||
		!strings.Contains(got.body, "Wrong user name or password") {
		t.Fatalf("wrong password: %d", got.code)
	}
	got := b.do(t, request{method: "POST", path: "/login", form: url.Values{"username": {"admin"}, "password": {adminPassword}, "next": {"/campaigns/greeting"}}})
	if got.code != 303 || got.header.Get("Location") != "/campaigns/greeting" {
		t.Fatalf("login: %d %s", got.code, got.header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range got.resp.Cookies() {
		if c.Name == "tidings_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie: %+v", session)
	}
	page := b.do(t, request{method: "GET", path: "/campaigns/greeting", cookie: session})
	if page.code != 200 || !strings.Contains(page.body, "Send now") || !strings.Contains(page.body, "Dry run") {
		t.Fatalf("campaign page: %d\n%s", page.code, page.body)
	}
	token := csrf(t, page.body)

	// A form post without the token, or with another session's, is refused.
	for _, f := range []url.Values{{}, {"csrf": {"x" + token}}} {
		f.Set("occurrence", "2027-02-06")
		if got := b.do(t, request{method: "POST", path: "/campaigns/greeting/send", form: f, cookie: session}); got.code != 403 {
			t.Errorf("send without a good token (%v): %d", f, got.code)
		}
	}
	// A cross-site post is refused even with the token.
	if got := b.do(t, request{method: "POST", path: "/campaigns/greeting/send", cookie: session,
		form:   url.Values{"csrf": {token}, "occurrence": {"2027-02-06"}},
		header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}}); got.code != 403 {
		t.Errorf("cross-site send: %d", got.code)
	}
	inspector := asynq.NewInspector(b.redis.Opt())
	defer inspector.Close()
	if _, err := inspector.GetTaskInfo("tidings:normal", delivery.RunTaskID("greeting", "2027-02-06")); err == nil {
		t.Fatal("a refused send enqueued the run")
	}

	got = b.do(t, request{method: "POST", path: "/campaigns/greeting/send", cookie: session, form: url.Values{"csrf": {token}, "occurrence": {"2027-02-06"}, "confirm": {"2027-02-06"}}})
	if got.code != 303 || got.header.Get("Location") != "/campaigns/greeting?notice=enqueued&run=2027-02-06" {
		t.Fatalf("send: %d %s\n%s", got.code, got.header.Get("Location"), got.body)
	}
	if info, err := inspector.GetTaskInfo("tidings:normal", delivery.RunTaskID("greeting", "2027-02-06")); err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("run task: %+v %v", info, err)
	}
	if page := b.do(t, request{method: "GET", path: got.header.Get("Location"), cookie: session}); !strings.Contains(page.body, "Run 2027-02-06 is enqueued") {
		t.Errorf("no notice:\n%s", page.body)
	}
	// Twice: a no-op, said so.
	got = b.do(t, request{method: "POST", path: "/campaigns/greeting/send", cookie: session, form: url.Values{"csrf": {token}, "occurrence": {"2027-02-06"}, "confirm": {"2027-02-06"}}})
	if page := b.do(t, request{method: "GET", path: got.header.Get("Location"), cookie: session}); !strings.Contains(page.body, "Run 2027-02-06 is already pending: nothing to do.") {
		t.Errorf("second send: %s\n%s", got.header.Get("Location"), page.body)
	}
	// A bad occurrence key is a clear error.
	got = b.do(t, request{method: "POST", path: "/campaigns/greeting/send", cookie: session, form: url.Values{"csrf": {token}, "occurrence": {"../x y"}}})
	if got.code != 400 || !strings.Contains(got.body, "Occurrence ../x y is not a key: use 1 to 64 letters") {
		t.Errorf("bad occurrence: %d\n%s", got.code, got.body)
	}

	// Logging out clears the cookie; the session expires after 12 hours.
	got = b.do(t, request{method: "POST", path: "/logout", cookie: session, form: url.Values{"csrf": {token}}})
	if got.code != 303 || len(got.resp.Cookies()) != 1 || got.resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %d %v", got.code, got.resp.Cookies())
	}
	b.now = b.now.Add(12*time.Hour + time.Minute)
	if got := b.do(t, request{method: "GET", path: "/", cookie: session}); got.code != 401 {
		t.Errorf("expired session: %d", got.code)
	}
}

// A session ends when its user's password changes.
func TestPasswordChangeEndsSessions(t *testing.T) {
	b := setup(t, store.SQLite)
	got := b.do(t, request{method: "POST", path: "/login", form: url.Values{"username": {"viewer"}, "password": {viewerPassword}}})
	session := got.resp.Cookies()[0]
	if got := b.do(t, request{method: "GET", path: "/", cookie: session}); got.code != 200 {
		t.Fatalf("with the session: %d", got.code)
	}
	other := setup(t, store.SQLite, func(o *web.Options) { o.Users[1].Password = "a new viewer password" })
	if got := other.do(t, request{method: "GET", path: "/", cookie: session}); got.code != 401 {
		t.Errorf("after a password change: %d", got.code)
	}
}

// The viewer sees everything and can change nothing: no action buttons,
// 403 on every dashboard action and on asynqmon's API.
func TestViewerIsReadOnly(t *testing.T) {
	b := setup(t, store.SQLite)
	b.addCustomers(t, 5)
	ctx := context.Background()
	if _, err := b.db.BeginRun(ctx, "greeting", "2027-02-06", "tidings:normal"); err != nil {
		t.Fatal(err)
	}
	// Something in the queue to delete or run.
	task, err := b.client.Enqueue(asynq.NewTask(delivery.TypeRun, []byte(`{"campaign":"greeting","occurrence":"x"}`)),
		asynq.Queue("tidings:normal"), asynq.TaskID("run:greeting:x"), asynq.ProcessIn(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/", "/campaigns/greeting", "/campaigns/greeting/runs/2027-02-06"} {
		got := b.do(t, viewer("GET", path, nil))
		if got.code != 200 {
			t.Fatalf("GET %s: %d", path, got.code)
		}
		for _, action := range []string{"Send now", "Dry run", "/pause", "/resume"} {
			if strings.Contains(got.body, action) {
				t.Errorf("GET %s shows the viewer %q", path, action)
			}
		}
	}
	for _, path := range []string{"/campaigns/greeting/send", "/campaigns/greeting/dry-run",
		"/campaigns/greeting/runs/2027-02-06/pause", "/campaigns/greeting/runs/2027-02-06/resume"} {
		if got := b.do(t, viewer("POST", path, url.Values{})); got.code != 403 {
			t.Errorf("viewer POST %s: %d", path, got.code)
		}
	}
	q := "/queues/api/queues/tidings:normal"
	for _, r := range []request{
		viewer("DELETE", q+"/scheduled_tasks/"+task.ID, nil),
		viewer("DELETE", q+"/scheduled_tasks:delete_all", nil),
		viewer("POST", q+"/scheduled_tasks/"+task.ID+":run", url.Values{}),
		viewer("POST", q+"/scheduled_tasks:run_all", url.Values{}),
		viewer("POST", q+"/scheduled_tasks:batch_run", url.Values{}),
		viewer("POST", q+":pause", url.Values{}),
		viewer("DELETE", q, nil),
	} {
		if got := b.do(t, r); got.code != 403 {
			t.Errorf("viewer %s %s: %d %s", r.method, r.path, got.code, got.body)
		}
	}
	if got := b.do(t, viewer("GET", q+"/scheduled_tasks", nil)); got.code != 200 || !strings.Contains(got.body, task.ID) {
		t.Errorf("viewer list: %d %s", got.code, got.body)
	}
	inspector := asynq.NewInspector(b.redis.Opt())
	defer inspector.Close()
	if info, err := inspector.GetTaskInfo("tidings:normal", task.ID); err != nil || info.State != asynq.TaskStateScheduled {
		t.Fatalf("the task changed: %+v %v", info, err)
	}
	if r, _ := b.db.GetRun(ctx, "greeting", "2027-02-06"); r.Status != store.RunRunning {
		t.Errorf("run status %s", r.Status)
	}

	// The admin's asynqmon does change things; a cross-site request from
	// the admin's browser does not.
	if got := b.do(t, request{method: "POST", path: q + "/scheduled_tasks/" + task.ID + ":run", user: "admin", pass: adminPassword,
		header: map[string]string{"Sec-Fetch-Site": "cross-site"}}); got.code != 403 {
		t.Errorf("cross-site admin run: %d", got.code)
	}
	if got := b.do(t, admin("POST", q+"/scheduled_tasks/"+task.ID+":run", url.Values{})); got.code >= 300 {
		t.Errorf("admin run: %d %s", got.code, got.body)
	}
	if info, err := inspector.GetTaskInfo("tidings:normal", task.ID); err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("after the admin's run: %+v %v", info, err)
	}
}

func TestPauseAndResume(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	if _, err := b.db.BeginRun(ctx, "greeting", "2027-02-06", "tidings:normal"); err != nil {
		t.Fatal(err)
	}
	page := b.do(t, admin("GET", "/campaigns/greeting/runs/2027-02-06", nil))
	if !strings.Contains(page.body, "/runs/2027-02-06/pause") || strings.Contains(page.body, "/resume") {
		t.Fatalf("running run page:\n%s", page.body)
	}
	got := b.do(t, admin("POST", "/campaigns/greeting/runs/2027-02-06/pause", url.Values{}))
	if got.code != 303 {
		t.Fatalf("pause: %d %s", got.code, got.body)
	}
	r, _ := b.db.GetRun(ctx, "greeting", "2027-02-06")
	if r.Status != store.RunPaused || r.Error != "paused from the dashboard by admin" {
		t.Fatalf("after pause: %+v", r)
	}
	page = b.do(t, admin("GET", got.header.Get("Location"), nil))
	if !strings.Contains(page.body, "is paused: its batches wait") || !strings.Contains(page.body, "/resume") {
		t.Errorf("paused run page:\n%s", page.body)
	}
	if got := b.do(t, admin("POST", "/campaigns/greeting/runs/2027-02-06/resume", url.Values{})); got.code != 303 {
		t.Fatalf("resume: %d", got.code)
	}
	if r, _ := b.db.GetRun(ctx, "greeting", "2027-02-06"); r.Status != store.RunRunning || r.Error != "" {
		t.Errorf("after resume: %+v", r)
	}
	got = b.do(t, admin("POST", "/campaigns/greeting/runs/2027-02-06/resume", url.Values{}))
	if !strings.Contains(got.header.Get("Location"), "notice=not-paused") {
		t.Errorf("resume of a running run: %s", got.header.Get("Location"))
	}
}

func TestDashboardShowsCampaignsRunsAndRecipients(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			b := setup(t, d)
			b.addCustomers(t, 250)
			b.startWorker(t)
			sum := b.runCampaign(t, "greeting", "2027-02-06")
			sent, skipped := sum.Total(store.StatusSent), sum.Total(store.StatusSkipped)
			if sent != 250 || skipped != 0 {
				t.Fatalf("run: %d sent %d skipped", sent, skipped)
			}
			// The timestamp shown is the campaign's zone.
			b.now = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			index := b.do(t, viewer("GET", "/", nil))
			for _, want := range []string{
				`<a href="/campaigns/greeting">greeting</a>`, "holiday", "cron 0 9 * * *", "Asia/Shanghai",
				"2027-02-06 09:00 CST", `<a href="/campaigns/greeting/runs/2027-02-06">2027-02-06</a>`,
				`<td class="n">250</td><td class="n">250</td><td class="n">0</td>`,
				"launch", "once, at 2030-03-01 10:00 CET", "disabled",
			} {
				if !strings.Contains(index.body, want) {
					t.Errorf("index lacks %q", want)
				}
			}
			if t.Failed() {
				t.Log(index.body)
			}

			// The run page pages its recipients, 100 at a time.
			var rows int
			found := false
			next := "/campaigns/greeting/runs/2027-02-06"
			for pages := 0; next != ""; pages++ {
				got := b.do(t, viewer("GET", next, nil))
				if got.code != 200 || pages > 3 {
					t.Fatalf("GET %s: %d (page %d)", next, got.code, pages)
				}
				if pages == 0 && !strings.Contains(got.body, `<tr><td><span class="status sent">sent</span></td><td class="n">250</td></tr>`) {
					t.Errorf("first page:\n%s", got.body)
				}
				// Batches claim concurrently: a recipient's page depends on
				// when their batch ran.
				if strings.Contains(got.body, "C001") && strings.Contains(got.body, "Customer 1<") {
					found = true
				}
				rows += strings.Count(got.body, `<td><span class="status sent">sent</span></td>`) - 1
				next = ""
				if m := nextPage.FindStringSubmatch(got.body); m != nil {
					next = html.UnescapeString(m[1])
				}
			}
			if rows != 250 || !found {
				t.Errorf("%d recipient rows over the pages, want 250; C001 among them: %v", rows, found)
			}
			// Filtered by status.
			got := b.do(t, viewer("GET", "/campaigns/greeting/runs/2027-02-06?status=failed", nil))
			if !strings.Contains(got.body, "No recipients with status failed") {
				t.Errorf("failed filter:\n%s", got.body)
			}
			if got := b.do(t, viewer("GET", "/campaigns/greeting/runs/nope", nil)); got.code != 404 {
				t.Errorf("unknown run: %d", got.code)
			}
			if got := b.do(t, viewer("GET", "/campaigns/nope", nil)); got.code != 404 {
				t.Errorf("unknown campaign: %d", got.code)
			}
		})
	}
}

var nextPage = regexp.MustCompile(`<a href="([^"]+)" id="next-page">`)

func TestDryRun(t *testing.T) {
	b := setup(t, store.SQLite)
	b.now = december // a day with a next fire to dry-run
	cs := b.addCustomers(t, 8)
	// SMS consent for 5 of 8 (not C002, C004, C008): delivery: first
	// emails those. C001 has no address at all.
	cs[1].SMSConsent = customer.Consent{}
	if err := b.db.UpsertCustomers(context.Background(), cs[1:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.SQL().Exec("UPDATE customers SET email = NULL, phone = NULL WHERE external_id = 'C001'"); err != nil {
		t.Fatal(err)
	}
	got := b.do(t, admin("POST", "/campaigns/greeting/dry-run", url.Values{}))
	if got.code != 200 {
		t.Fatalf("dry run: %d\n%s", got.code, got.body)
	}
	for _, want := range []string{
		`<dd id="audience">8 of 8 customers</dd>`,
		"<dt>Reachable by sms</dt><dd>4 ",
		"<dt>Reachable by email</dt><dd>7 ",
		"<h3>email to C002 Customer 2 ",
		"Subject: Happy new year, Customer 2",
		"Unsubscribe: " + publicURL + "/u/",
		"<h3>sms to C003 Customer 3 ",
		"Hi Customer 3, happy new year from Test Tea. Reply STOP to opt out",
		"<h3>email to C004 Customer 4 ",
	} {
		if !strings.Contains(got.body, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	// Under delivery: first, one channel each; no one without an address.
	for _, not := range []string{"C001", "sms to C002", "email to C003", "sms to C004"} {
		if strings.Contains(got.body, not) {
			t.Errorf("dry run shows %q", not)
		}
	}
	if t.Failed() {
		t.Log(got.body)
	}
	inspector := asynq.NewInspector(b.redis.Opt())
	defer inspector.Close()
	if qs, _ := inspector.Queues(); len(qs) != 0 {
		t.Errorf("a dry run enqueued into %v", qs)
	}
	if rs, _ := b.db.Runs(context.Background(), "", 10); len(rs) != 0 {
		t.Errorf("a dry run recorded runs: %v", rs)
	}
}

// december is a day greeting does not fire on, two months before its
// holiday (2027-02-06 09:00 in Shanghai).
var december = time.Date(2026, 12, 4, 4, 0, 0, 0, time.UTC)

// loginAdmin logs the admin in with the session cookie a browser has.
func loginAdmin(t *testing.T, b *bundle) *http.Cookie {
	t.Helper()
	got := b.do(t, request{method: "POST", path: "/login", form: url.Values{"username": {"admin"}, "password": {adminPassword}}})
	for _, c := range got.resp.Cookies() {
		if c.Name == "tidings_session" {
			return c
		}
	}
	t.Fatalf("login: %d, no session cookie", got.code)
	return nil
}

// "Send now" offers the holiday, not today; its first post shows a
// confirmation naming the occurrence and its recipients, and only the
// confirmed post enqueues.
func TestSendNowConfirms(t *testing.T) {
	b := setup(t, store.SQLite)
	b.now = december
	b.addCustomers(t, 8)
	session := loginAdmin(t, b)
	page := b.do(t, request{method: "GET", path: "/campaigns/greeting", cookie: session})
	if !strings.Contains(page.body, `name="occurrence" value="2027-02-06"`) {
		t.Errorf("the send-now field does not default to the next fire, 2027-02-06:\n%s", page.body)
	}
	token := csrf(t, page.body)
	inspector := asynq.NewInspector(b.redis.Opt())
	defer inspector.Close()
	enqueued := func() bool {
		_, err := inspector.GetTaskInfo("tidings:normal", delivery.RunTaskID("greeting", "2027-02-06"))
		return err == nil
	}

	// The field left as it is: a confirmation, nothing enqueued.
	got := b.do(t, request{method: "POST", path: "/campaigns/greeting/send", cookie: session, form: url.Values{"csrf": {token}, "occurrence": {"2027-02-06"}}})
	for _, want := range []string{
		"<h1>Send greeting 2027-02-06?</h1>",
		`<dd id="occurrence">2027-02-06 <span class="muted">(scheduled for 2027-02-06 09:00 CST: sending now sends it early)</span></dd>`,
		`<dd id="recipients">8 customers in its audience now</dd>`,
		"<dt>Reachable by sms</dt><dd>6 ",
		`<input type="hidden" name="confirm" value="2027-02-06">`,
		`<input type="hidden" name="csrf" value="` + token + `">`,
		"Send 2027-02-06 to 8 customers",
	} {
		if got.code != 200 || !strings.Contains(got.body, want) {
			t.Errorf("confirmation (%d) lacks %q", got.code, want)
		}
	}
	if t.Failed() {
		t.Log(got.body)
	}
	if enqueued() {
		t.Fatal("the first post enqueued the run")
	}
	// A confirmation of another occurrence confirms nothing; one without
	// the token is refused.
	got = b.do(t, request{method: "POST", path: "/campaigns/greeting/send", cookie: session, form: url.Values{"csrf": {token}, "occurrence": {"2027-02-06"}, "confirm": {"2028-01-26"}}})
	if got.code != 200 || !strings.Contains(got.body, "Send greeting 2027-02-06?") || enqueued() {
		t.Errorf("a mismatched confirmation: %d, enqueued %v", got.code, enqueued())
	}
	got = b.do(t, request{method: "POST", path: "/campaigns/greeting/send", cookie: session, form: url.Values{"occurrence": {"2027-02-06"}, "confirm": {"2027-02-06"}}})
	if got.code != 403 || enqueued() {
		t.Errorf("a confirmation without the CSRF token: %d, enqueued %v", got.code, enqueued())
	}
	got = b.do(t, request{method: "POST", path: "/campaigns/greeting/send", cookie: session, form: url.Values{"csrf": {token}, "occurrence": {"2027-02-06"}, "confirm": {"2027-02-06"}}})
	if got.code != 303 || got.header.Get("Location") != "/campaigns/greeting?notice=enqueued&run=2027-02-06" || !enqueued() {
		t.Errorf("confirmed: %d %s, enqueued %v", got.code, got.header.Get("Location"), enqueued())
	}
}

// Today's date in December and a typo are refused, confirmed or not,
// listing the next fires; nothing is enqueued and a dry run of them is
// refused too.
func TestSendNowRefusesAnOccurrenceThatIsNotAFire(t *testing.T) {
	b := setup(t, store.SQLite)
	b.now = december
	inspector := asynq.NewInspector(b.redis.Opt())
	defer inspector.Close()
	for _, tc := range []struct{ occurrence, want string }{
		{"2026-12-04", "Occurrence 2026-12-04 is not one of its fires of the last 7 days or the next 400 days, nor a run it has. " +
			"Its next fires: 2027-02-06 (2027-02-06 09:00 CST). " +
			"To send an occurrence off the schedule, use `tidings send greeting --occurrence 2026-12-04 --force`."},
		{"feb-6", "Occurrence feb-6 is not a date (YYYY-MM-DD): a holiday campaign&#39;s runs are named by the date they fire on. Its next fires: 2027-02-06"},
	} {
		for _, path := range []string{"/campaigns/greeting/send", "/campaigns/greeting/dry-run"} {
			got := b.do(t, admin("POST", path, url.Values{"occurrence": {tc.occurrence}, "confirm": {tc.occurrence}}))
			if got.code != 400 || !strings.Contains(got.body, tc.want) {
				t.Errorf("POST %s %s: %d, want 400 with %q\n%s", path, tc.occurrence, got.code, tc.want, got.body)
			}
			if _, err := inspector.GetTaskInfo("tidings:normal", delivery.RunTaskID("greeting", tc.occurrence)); err == nil {
				t.Errorf("POST %s %s enqueued it", path, tc.occurrence)
			}
		}
	}
	// follow-up-9 of a launch with one follow-up is no better.
	got := b.do(t, admin("POST", "/campaigns/launch/send", url.Values{"occurrence": {"follow-up-9"}, "confirm": {"follow-up-9"}}))
	if got.code != 400 || !strings.Contains(got.body, "Occurrence follow-up-9 names a follow-up it does not have (follow_ups lists 1).") || strings.Contains(got.body, "--force") {
		t.Errorf("follow-up-9: %d\n%s", got.code, got.body)
	}
}

// A dry run evaluates the occurrence typed: by default the next fire, and
// for a follow-up, the follow-up's audience (the launch's recipients who
// have not bought since), not the launch's.
func TestDryRunOfTheOccurrenceTyped(t *testing.T) {
	b := setup(t, store.SQLite)
	b.now = december
	cs := b.addCustomers(t, 8)
	got := b.do(t, admin("POST", "/campaigns/greeting/dry-run", url.Values{}))
	if !strings.Contains(got.body, `<dd id="occurrence">2027-02-06</dd>`) {
		t.Errorf("default dry run: %d\n%s", got.code, got.body)
	}
	b.now = time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC) // 2028-01-26 is within the next 400 days
	got = b.do(t, admin("POST", "/campaigns/greeting/dry-run", url.Values{"occurrence": {"2028-01-26"}}))
	if !strings.Contains(got.body, `<dd id="occurrence">2028-01-26</dd>`) {
		t.Errorf("dry run of 2028-01-26: %d\n%s", got.code, got.body)
	}

	// The launch reaches all 8; two buy after it.
	b.startWorker(t)
	launch := b.cfg.Campaigns["launch"]
	if sent := b.runCampaign(t, "launch", "once").Total(store.StatusSent); sent != 8 {
		t.Fatalf("launch sent %d", sent)
	}
	for _, i := range []int{2, 5} {
		cs[i].LastPurchase = launch.At.Add(time.Hour)
	}
	if err := b.db.UpsertCustomers(context.Background(), []customer.Customer{cs[2], cs[5]}); err != nil {
		t.Fatal(err)
	}
	b.now = launch.At.Add(72*time.Hour + time.Minute)
	got = b.do(t, admin("POST", "/campaigns/launch/dry-run", url.Values{"occurrence": {"follow-up-1"}}))
	if !strings.Contains(got.body, `<dd id="audience">6 of 8 customers <span class="muted">(the launch's recipients who have not bought since)</span></dd>`) ||
		strings.Contains(got.body, "C003") || strings.Contains(got.body, "<dt>Reachable by email</dt><dd>8 ") {
		t.Errorf("follow-up dry run: %d\n%s", got.code, got.body)
	}
	got = b.do(t, admin("POST", "/campaigns/launch/dry-run", url.Values{"occurrence": {"once"}}))
	if !strings.Contains(got.body, `<dd id="audience">8 of 8 customers</dd>`) {
		t.Errorf("launch dry run: %d\n%s", got.code, got.body)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	b := setup(t, store.SQLite)
	b.addCustomers(t, 4)
	b.startWorker(t)
	b.runCampaign(t, "greeting", "2027-02-06")
	for path, want := range map[string][]string{
		"/healthz": {"ok"},
		"/readyz":  {"database: ok", "redis: ok"},
		"/metrics": {
			`tidings_deliveries{campaign="greeting",channel="sms",status="sent"} 3`,
			`tidings_deliveries{campaign="greeting",channel="email",status="sent"} 1`,
			`asynq_queue_size{queue="tidings:normal"}`,
			`go_goroutines`,
		},
	} {
		got := b.do(t, request{method: "GET", path: path})
		if got.code != 200 {
			t.Errorf("GET %s: %d", path, got.code)
		}
		for _, w := range want {
			if !strings.Contains(got.body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
	}
}
