package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/internal/metrics"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// Options configure a Server.
type Options struct {
	Store *store.DB
	// Config returns the current configuration; a reload may swap it
	// between requests.
	Config func() *campaigns.Config
	// Templates, when set, lets a dry run show sample messages.
	Templates func() *templates.Set
	// Redis is the queue's Redis: asynqmon, "send now", queue metrics and
	// readiness.
	Redis asynq.RedisConnOpt
	// Signer checks unsubscribe tokens; it must use the workers' secret.
	Signer *signing.Signer
	// Users may log in to the dashboard (UsersFromEnv); at least one.
	Users []User
	// SessionKey signs session cookies and CSRF tokens (SessionKey(secret)).
	SessionKey []byte
	// TwilioAuthToken verifies X-Twilio-Signature on the webhooks; without
	// it the webhooks answer 503.
	TwilioAuthToken string
	// LedgerCacheTTL is how long /metrics reuses its ledger counts (10 s).
	LedgerCacheTTL time.Duration
	Log            *slog.Logger
	// Now is the clock sessions, lockouts and the pages read; nil is the
	// store's.
	Now func() time.Time
}

// Server is the web server: the dashboard, asynqmon, the public endpoints
// and the operations endpoints, as one http.Handler.
type Server struct {
	store       *store.DB
	config      func() *campaigns.Config
	templates   func() *templates.Set
	signer      *signing.Signer
	accounts    []account
	logins      *loginLimiter
	sessionKey  []byte
	twilioToken string
	log         *slog.Logger
	now         func() time.Time

	client       *asynq.Client
	inspector    *asynq.Inspector
	rdb          redis.UniversalClient
	queuesAdmin  *asynqmon.HTTPHandler
	queuesViewer *asynqmon.HTTPHandler
	crossOrigin  *http.CrossOriginProtection
	pages        map[string]*template.Template
	mux          *http.ServeMux
}

var _ http.Handler = (*Server)(nil)

// New checks the options and builds the server. Close releases its Redis
// connections.
func New(o Options) (*Server, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("web: no store")
	case o.Config == nil:
		return nil, errors.New("web: no configuration")
	case o.Redis == nil:
		return nil, errors.New("web: no Redis connection")
	case o.Signer == nil:
		return nil, errors.New("web: no signer")
	case len(o.Users) == 0:
		return nil, errors.New("web: no dashboard user")
	case len(o.SessionKey) < 32:
		return nil, errors.New("web: the session key must be at least 32 bytes")
	}
	rdb, ok := o.Redis.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("web: unsupported Redis connection %T", o.Redis)
	}
	s := &Server{
		store: o.Store, config: o.Config, templates: o.Templates, signer: o.Signer,
		sessionKey: o.SessionKey, twilioToken: o.TwilioAuthToken, log: o.Log, now: o.Now,
		rdb: rdb, crossOrigin: http.NewCrossOriginProtection(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = o.Store.Now // the store's clock, which stamps the runs it shows
	}
	s.logins = newLoginLimiter(s.now)
	seen := map[string]bool{}
	for _, u := range o.Users {
		if u.Name == "" || u.Password == "" || (u.Role != RoleAdmin && u.Role != RoleViewer) || seen[u.Name] {
			rdb.Close()
			return nil, fmt.Errorf("web: bad user %v", u)
		}
		seen[u.Name] = true
		s.accounts = append(s.accounts, account{User: u, nameHash: sha256.Sum256([]byte(u.Name)), passwordHash: sha256.Sum256([]byte(u.Password))})
	}
	pages, err := parsePages()
	if err != nil {
		rdb.Close()
		return nil, err
	}
	s.pages = pages
	// Over rdb, not pools of their own; Close closes rdb, not them (asynq
	// refuses to close a client it did not make).
	s.client = asynq.NewClientFromRedisClient(rdb)
	s.inspector = asynq.NewInspectorFromRedisClient(rdb)
	// One asynqmon per role over the same root path: the request's role
	// picks which serves it.
	s.queuesAdmin = asynqmon.New(asynqmon.Options{RootPath: "/queues", RedisConnOpt: o.Redis})
	s.queuesViewer = asynqmon.New(asynqmon.Options{RootPath: "/queues", RedisConnOpt: o.Redis, ReadOnly: true})

	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewLedgerCollector(o.Store, o.LedgerCacheTTL), asynqmetrics.NewQueueMetricsCollector(s.inspector))
	s.routes(metrics.Handler(reg, s.log))
	return s, nil
}

func (s *Server) routes(metricsHandler http.Handler) {
	m := http.NewServeMux()
	// Operations, for the internal network: no login.
	m.Handle("GET /healthz", metrics.Healthz())
	m.Handle("GET /readyz", metrics.Readyz(s.log, 3*time.Second, metrics.DatabaseCheck(s.store), metrics.RedisCheck(s.rdb)))
	m.Handle("GET /metrics", metricsHandler)
	// Public: customers and Twilio, each request proving itself.
	m.HandleFunc("GET /u/{token}", s.unsubscribePage)
	m.HandleFunc("POST /u/{token}", s.unsubscribe)
	m.HandleFunc("POST /webhooks/twilio/inbound", s.twilioInbound)
	m.HandleFunc("POST /webhooks/twilio/status", s.twilioStatus)
	// The dashboard.
	m.HandleFunc("GET /login", s.loginPage)
	m.Handle("POST /login", s.crossOrigin.Handler(http.HandlerFunc(s.login)))
	m.Handle("POST /logout", s.require(RoleViewer, s.logout))
	m.Handle("GET /{$}", s.require(RoleViewer, s.index))
	m.Handle("GET /campaigns/{name}", s.require(RoleViewer, s.campaign))
	m.Handle("GET /campaigns/{name}/runs/{run}", s.require(RoleViewer, s.run))
	m.Handle("POST /campaigns/{name}/send", s.require(RoleAdmin, s.sendNow))
	m.Handle("POST /campaigns/{name}/dry-run", s.require(RoleAdmin, s.dryRun))
	m.Handle("POST /campaigns/{name}/runs/{run}/pause", s.require(RoleAdmin, s.pause))
	m.Handle("POST /campaigns/{name}/runs/{run}/resume", s.require(RoleAdmin, s.resume))
	m.Handle("/queues/", http.HandlerFunc(s.queues))
	m.Handle("GET /queues", http.RedirectHandler("/queues/", http.StatusMovedPermanently))
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Unsubscribe links carry their token in the path: never send it on.
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// Close releases the server's Redis connections.
func (s *Server) Close() error {
	return errors.Join(s.queuesAdmin.Close(), s.queuesViewer.Close(), s.rdb.Close())
}

// queues serves asynqmon: the full one to admins, the read-only one to
// viewers. Anything but GET from a viewer is refused here, before
// asynqmon, whose read-only mode guards only its API. asynqmon's own
// requests carry no CSRF token; the session cookie is SameSite=Lax and
// unsafe requests must pass the cross-origin check, which is what keeps
// another site from driving an admin's browser.
func (s *Server) queues(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if p == nil {
		s.unauthorized(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !p.Admin() {
			http.Error(w, "403 forbidden: your account ("+p.Name+") is read-only", http.StatusForbidden)
			return
		}
		if err := s.crossOrigin.Check(r); err != nil {
			http.Error(w, "403 forbidden: cross-origin request refused", http.StatusForbidden)
			return
		}
		s.log.Info("queues: change", "user", p.Name, "method", r.Method, "path", r.URL.Path)
	}
	if p.Admin() {
		s.queuesAdmin.ServeHTTP(w, r)
		return
	}
	s.queuesViewer.ServeHTTP(w, r)
}

//go:embed templates
var templateFS embed.FS

var funcs = template.FuncMap{
	"path":  url.PathEscape,
	"query": url.QueryEscape,
}

// parsePages parses each page with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", base, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// page is what the layout renders around a page's body.
type page struct {
	Title  string
	Lang   string
	User   *principal // nil on public pages
	CSRF   string
	Notice string
	Error  string
	Body   any
}

// render writes a page. It renders into a buffer first, so a template
// error becomes a clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.Lang == "" {
		p.Lang = "en"
	}
	var buf bytes.Buffer
	t := s.pages[name]
	if t == nil {
		s.log.Error("web: no such page template", "page", name)
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// message renders a page that only says something.
func (s *Server) message(w http.ResponseWriter, r *http.Request, status int, p page) {
	s.render(w, r, status, "message.html", p)
}
