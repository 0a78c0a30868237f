package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/outbox"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
	"github.com/tidings/tidings/templates"
	"github.com/tidings/tidings/web"
)

const (
	adminPassword  = "admin-password-123"
	viewerPassword = "viewer-password-123"
	twilioToken    = "twilio-test-auth-token"
	publicURL      = "https://news.test.example"
)

// bundle is a web server on real parts: redis-server, a database, the
// delivery pipeline writing to an outbox.
type bundle struct {
	db       *store.DB
	redis    *redistest.Server
	cfg      *campaigns.Config
	client   *asynq.Client
	pipeline *delivery.Pipeline
	signer   *signing.Signer
	srv      *web.Server
	http     *httptest.Server
	now      time.Time // what the server thinks it is; tests may move it
}

type option func(*web.Options)

func setup(t *testing.T, d store.Dialect, opts ...option) *bundle {
	t.Helper()
	cfg, err := campaigns.Load("testdata/configs", "testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load("testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{db: storetest.Open(t, d), redis: redistest.Start(t), cfg: cfg, signer: signing.New("test secret"), now: time.Now()}
	b.client = asynq.NewClient(b.redis.Opt())
	t.Cleanup(func() { b.client.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	box := outbox.New(t.TempDir(), mail.Address{Name: "Test Tea", Address: "hello@tea.example"}, 0)
	b.pipeline = &delivery.Pipeline{
		Store: b.db, Client: b.client,
		Config:    func() *campaigns.Config { return cfg },
		Templates: func() *templates.Set { return tmpl },
		Senders:   map[string]channels.Sender{channels.Email: box, channels.SMS: box},
		Signer:    b.signer, Log: log,
	}
	o := web.Options{
		Store:  b.db,
		Config: func() *campaigns.Config { return cfg }, Templates: func() *templates.Set { return tmpl },
		Redis: b.redis.Opt(), Signer: b.signer,
		Users: []web.User{
			{Name: "admin", Role: web.RoleAdmin, Password: adminPassword},
			{Name: "viewer", Role: web.RoleViewer, Password: viewerPassword},
		},
		SessionKey:      web.SessionKey("test secret"),
		TwilioAuthToken: twilioToken,
		Log:             log,
		Now:             func() time.Time { return b.now },
	}
	for _, f := range opts {
		f(&o)
	}
	b.srv, err = web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.srv.Close() })
	b.http = httptest.NewServer(b.srv)
	t.Cleanup(b.http.Close)
	return b
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startWorker runs an Asynq server with the pipeline until the test ends.
func (b *bundle) startWorker(t *testing.T) {
	t.Helper()
	srv := asynq.NewServer(b.redis.Opt(), delivery.ServerConfig(4, slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err := srv.Start(b.pipeline.Mux()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

// runCampaign enqueues an occurrence and waits until its run is done.
func (b *bundle) runCampaign(t *testing.T, name, occurrence string) store.RunSummary {
	t.Helper()
	ctx := context.Background()
	if ok, err := delivery.EnqueueRun(ctx, b.client, b.cfg.Campaigns[name], occurrence); !ok || err != nil {
		t.Fatalf("enqueue %s %s: %v %v", name, occurrence, ok, err)
	}
	r, err := storetest.WaitRun(b.db, name, occurrence, store.RunDone, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// addCustomers stores n customers, C001…, with an email and a phone and
// consent to both (every fourth without SMS consent), and returns them as
// stored.
func (b *bundle) addCustomers(t *testing.T, n int) []customer.Customer {
	t.Helper()
	ctx := context.Background()
	yes := customer.Consent{Granted: true, At: time.Now().AddDate(-1, 0, 0)}
	var cs []customer.Customer
	for i := 1; i <= n; i++ {
		c := customer.Customer{
			ExternalID: fmt.Sprintf("C%03d", i), Name: fmt.Sprintf("Customer %d", i),
			Email: fmt.Sprintf("c%03d@example.com", i), Phone: fmt.Sprintf("+86138%08d", i),
			Locale: "en", EmailConsent: yes, SMSConsent: yes,
		}
		if i%4 == 0 {
			c.SMSConsent = customer.Consent{}
		}
		cs = append(cs, c)
	}
	if err := b.db.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		got, err := b.db.CustomerByExternalID(ctx, c.ExternalID)
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = got
	}
	return cs
}

// request is one HTTP request to the server.
type request struct {
	method, path string
	form         url.Values
	user, pass   string // HTTP Basic
	cookie       *http.Cookie
	header       map[string]string
	html         bool // a browser's page load
	// remote, if set, is the client's address ("IP:port"): the request
	// goes to the handler in-process, as if it came from there.
	remote string
}

type response struct {
	code   int
	body   string
	header http.Header
	resp   *http.Response
}

func (b *bundle) do(t *testing.T, r request) response {
	t.Helper()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequest(r.method, b.http.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	if r.cookie != nil {
		req.AddCookie(r.cookie)
	}
	if r.html {
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	var resp *http.Response
	if r.remote != "" {
		req.RemoteAddr, req.RequestURI = r.remote, req.URL.RequestURI()
		rec := httptest.NewRecorder()
		b.srv.ServeHTTP(rec, req)
		resp = rec.Result()
	} else {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if resp, err = c.Do(req); err != nil {
			t.Fatal(err)
		}
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(out), header: resp.Header, resp: resp}
}

func admin(method, path string, form url.Values) request {
	return request{method: method, path: path, form: form, user: "admin", pass: adminPassword}
}

func viewer(method, path string, form url.Values) request {
	return request{method: method, path: path, form: form, user: "viewer", pass: viewerPassword}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf finds the CSRF token in a page.
func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in\n%s", page)
	}
	return m[1]
}
