package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/outbox"
	"github.com/tidings/tidings/channels/ratelimit"
	"github.com/tidings/tidings/channels/sms"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/metrics"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

func (a *app) workerCommand() *cobra.Command {
	var concurrency int
	var listen string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Process campaign runs and batches from the queue (Redis)",
		Long: `Worker runs an Asynq server on TIDINGS_REDIS_URL: it pages the audience of each
enqueued campaign run into batches and delivers every batch through the
campaign's channels, recording each delivery in the ledger. Run as many
workers as you like; each customer still gets each occurrence at most once.
It also sweeps the ledger for rows a crashed worker left "sending" and
reports them as unknown (never re-sends them). SIGTERM or Ctrl-C stops it
gracefully: running batches get up to 20 seconds to finish, the rest is
retried by another worker.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.worker(cmd.Context(), concurrency, listen)
		},
	}
	cmd.Flags().IntVar(&concurrency, "concurrency", 10, "how many batches to work on at once")
	cmd.Flags().StringVar(&listen, "listen", "", "serve /metrics, /healthz and /readyz on this address (e.g. :9090)")
	return cmd
}

// redisOpt parses TIDINGS_REDIS_URL.
func (a *app) redisOpt() (asynq.RedisConnOpt, error) {
	u := a.getenv("TIDINGS_REDIS_URL")
	if u == "" {
		return nil, errors.New("TIDINGS_REDIS_URL is not set (redis://host:6379/0, rediss://…, redis-socket:///path, redis-sentinel://…); `tidings demo` runs without one")
	}
	return parseRedisURL(u)
}

// parseRedisURL reads the URL forms of asynq.ParseRedisURI (redis://,
// rediss://, redis-socket://, redis-sentinel://), adding what asynq drops —
// the username of a Redis ACL user — and Redis Cluster:
// redis-cluster://[user:password@]host1:6379,host2:6379[?tls=true].
func parseRedisURL(raw string) (asynq.RedisConnOpt, error) {
	// Errors never quote the URL, nor url.Parse's message: either may hold
	// part of a password.
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("TIDINGS_REDIS_URL is not a valid URL; percent-encode special characters in the password (# as %23, / as %2F, ? as %3F, @ as %40)")
	}
	if u.Scheme == "redis-cluster" {
		opt := asynq.RedisClusterClientOpt{Addrs: strings.Split(u.Host, ",")}
		for _, a := range opt.Addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("TIDINGS_REDIS_URL: redis-cluster:// wants host:port[,host:port…], got %q", a)
			}
		}
		if u.User != nil {
			opt.Username = u.User.Username()
			opt.Password, _ = u.User.Password()
		}
		if u.Query().Get("tls") == "true" {
			opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return opt, nil
	}
	opt, err := asynq.ParseRedisURI(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("TIDINGS_REDIS_URL: %v", err)
	}
	if o, ok := opt.(asynq.RedisClientOpt); ok && u.User != nil {
		o.Username = u.User.Username() // asynq reads only the password
		return o, nil
	}
	return opt, nil
}

// signer uses TIDINGS_SECRET; without it, a development secret and a warning.
func (a *app) signer() *signing.Signer {
	s, set := a.secret()
	if !set {
		a.log.Warn("TIDINGS_SECRET is not set: coupon codes and unsubscribe links use a public development secret")
	}
	return signing.New(s)
}

// secret is TIDINGS_SECRET, else the public development secret (set
// false), so that processes without it still verify each other's links.
func (a *app) secret() (s string, set bool) {
	if s = a.getenv("TIDINGS_SECRET"); s != "" {
		return s, true
	}
	return signing.DevSecret, false
}

// loadAll loads the configuration and the templates, and checks every
// campaign's templates against a sample customer. It prints every problem;
// the error is then only an exit code.
func (a *app) loadAll() (*campaigns.Config, *templates.Set, error) {
	cfg, tmpl, err := a.load()
	if err != nil {
		return nil, nil, a.loadFailed(err)
	}
	return cfg, tmpl, nil
}

// loadError is every problem load found, and the line the CLI exits with.
type loadError struct {
	problems []error
	summary  string
}

func (e *loadError) Error() string   { return errors.Join(e.problems...).Error() }
func (e *loadError) Unwrap() []error { return e.problems }

// loadFailed prints the problems of a *loadError and returns its exit code;
// other errors it returns unchanged.
func (a *app) loadFailed(err error) error {
	var le *loadError
	if !errors.As(err, &le) {
		return err
	}
	for _, p := range le.problems {
		fmt.Fprintln(a.stderr, p)
	}
	return &exitError{code: 1, msg: le.summary}
}

// loadCampaigns loads the configuration folder; its problems come as a
// *loadError.
func (a *app) loadCampaigns() (*campaigns.Config, error) {
	cfg, err := campaigns.Load(a.configDir, a.templatesDir)
	if err != nil {
		var errs campaigns.Errors
		if !errors.As(err, &errs) {
			return nil, err
		}
		le := &loadError{summary: fmt.Sprintf("%d %s in %s", len(errs), plural(len(errs), "error", "errors"), a.configDir)}
		for _, e := range errs {
			le.problems = append(le.problems, e)
		}
		return nil, le
	}
	return cfg, nil
}

// load is loadAll without the printing, for a reload to log the problems.
// It reports the problems of its three stages together, the configuration,
// the templates' parsing and their rendering for a sample customer, so that
// one run of validate lists them all: a campaign file with an error still
// has its templates checked, and a template that does not parse hides no
// other one's render errors. Any problem is an error; what was loaded is
// then never used.
func (a *app) load() (*campaigns.Config, *templates.Set, error) {
	cfg, err := campaigns.LoadPartial(a.configDir, a.templatesDir)
	var cfgErrs campaigns.Errors
	if err != nil && !errors.As(err, &cfgErrs) {
		return nil, nil, err
	}
	tmpl, err := templates.LoadPartial(a.templatesDir)
	var tmplErrs []error
	if err != nil {
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			tmplErrs = joined.Unwrap()
		} else {
			tmplErrs = []error{err} // the folder cannot be read
		}
	}
	if cfg != nil && tmpl != nil {
		tmplErrs = append(tmplErrs, checkTemplates(cfg, tmpl)...)
	}
	if len(cfgErrs) == 0 && len(tmplErrs) == 0 {
		return cfg, tmpl, nil
	}
	le := &loadError{}
	var counts []string
	if n := len(cfgErrs); n > 0 {
		for _, e := range cfgErrs {
			le.problems = append(le.problems, e)
		}
		counts = append(counts, fmt.Sprintf("%d %s in %s", n, plural(n, "error", "errors"), a.configDir))
	}
	if n := len(tmplErrs); n > 0 {
		le.problems = append(le.problems, tmplErrs...)
		counts = append(counts, fmt.Sprintf("%d %s in %s", n, plural(n, "error", "errors"), a.templatesDir))
	}
	le.summary = strings.Join(counts, ", ")
	return nil, nil, le
}

// checkTemplates renders every campaign's templates (and each product
// follow-up's) for a sample customer, with the campaign's channels and
// coupon. A template several campaigns share fails the same way for each:
// its error is listed once, naming them all. A template the Set lacks was
// reported by the configuration's loader, or did not parse.
func checkTemplates(cfg *campaigns.Config, tmpl *templates.Set) []error {
	var order []string
	users := map[string][]string{}
	errs := map[string]error{}
	add := func(err error, campaign string) {
		key := err.Error()
		if _, seen := errs[key]; !seen {
			order = append(order, key)
			errs[key] = err
		}
		if !slices.Contains(users[key], campaign) {
			users[key] = append(users[key], campaign)
		}
	}
	for _, key := range cfg.CampaignNames() {
		for _, c := range cfg.Campaigns[key].Variants() {
			if !tmpl.Has(c.Template) {
				continue
			}
			name := c.Name
			if name == "" {
				name = "in " + c.File // its name was in error
			}
			checked := tmpl.Check(c.Template, c.Channels, c.Gift != nil && c.Gift.Coupon != nil)
			for _, err := range checked {
				add(err, name)
			}
			if len(checked) == 0 && slices.Contains(c.Channels, channels.SMS) {
				for _, err := range checkSMS(cfg.Settings.Channels.SMS, c, tmpl) {
					add(fmt.Errorf("%s: campaign %s: %w", c.File, name, err), name)
				}
			}
		}
	}
	out := make([]error, 0, len(order))
	for _, key := range order {
		err, names := errs[key], users[key]
		var te *templates.Error
		if !errors.As(err, &te) {
			out = append(out, err) // names its campaign already
			continue
		}
		// The file's own error, and the campaigns it fails for: one
		// without a coupon fails where another with one does not.
		out = append(out, fmt.Errorf("%w (%s %s)", err, plural(len(names), "campaign", "campaigns"), strings.Join(names, ", ")))
	}
	return out
}

// checkSMS renders the campaign's SMS in every locale it has for a sample
// customer and checks what costs money or breaks the law: the opt-out footer
// of channels.sms.footer must be there (marketing SMS must say how to stop
// them), and the message must fit the campaign's segment limit (GSM-7 160/153
// characters a part, UCS-2 70/67: one Chinese character makes it UCS-2), also
// with the opt-out footer of each country that names its own (US, China).
// Real customers' names vary; the sample is a typical one.
func checkSMS(s campaigns.SMSSettings, c *campaigns.Campaign, tmpl *templates.Set) []error {
	limit := c.SMSSegmentLimit(s)
	var errs []error
	for _, locale := range tmpl.Locales(c.Template) {
		sample := locale
		if sample == "" {
			sample = "en"
		}
		msg, err := tmpl.Render(c.Template, channels.SMS, sample, templates.SampleData(sample, c.Gift != nil && c.Gift.Coupon != nil))
		if err != nil {
			continue // Check reported it
		}
		where := fmt.Sprintf("template %s, SMS for locale %q", c.Template, sample)
		if footer := s.Footer(sample); footer != "" && !strings.Contains(msg.Body, footer) {
			errs = append(errs, fmt.Errorf("%s lacks the opt-out footer %q (channels.sms.footer)", where, footer))
		}
		enc, units, segs := sms.Segments(msg.Body)
		if limit > 0 && segs > limit {
			errs = append(errs, fmt.Errorf("%s is %d segments (%s, %d characters) for a sample customer; the limit is %d (sms_max_segments)", where, segs, enc, units, limit))
		}
		// The opt-out follows the number's country: a Chinese SMS to a +1
		// number ends "Reply STOP to opt out", 18 characters more than 回T退订.
		for _, d := range campaigns.OptOutDestinations() {
			body := s.WithFooter(msg.Body, d.Number, sample)
			if enc, units, n := sms.Segments(body); limit > 0 && n > limit && n > segs {
				footer, _ := s.DestinationFooter(d.Number, sample)
				errs = append(errs, fmt.Errorf("%s to a %s number, which ends with the opt-out %q that country asks for, is %d segments (%s, %d characters) for a sample customer; the limit is %d (sms_max_segments)",
					where, d.Region, footer, n, enc, units, limit))
			}
		}
	}
	return errs
}

// senders builds the channels of the configuration: the outbox for every
// channel when delivery.outbox is set, otherwise SMTP for email and Twilio
// (or the files of channels.sms.outbox) for SMS, with their secrets from the
// environment. Each is held to its channel's rate across the cluster when
// rdb is given.
func (a *app) senders(cfg *campaigns.Config, rdb redis.UniversalClient) (map[string]channels.Sender, error) {
	s := cfg.Settings
	from, err := mail.ParseAddress(s.EmailFrom)
	if err != nil {
		return nil, fmt.Errorf("email_from: %w", err)
	}
	newOutbox := func(dir string) *outbox.Outbox {
		o := outbox.New(dir, *from, s.Delivery.OutboxDelay)
		o.Now = a.now
		return o
	}
	out := map[string]channels.Sender{}
	if s.Delivery.Outbox != "" {
		o := newOutbox(s.Delivery.Outbox)
		out[channels.Email], out[channels.SMS] = o, o
	} else {
		if t := s.Channels.SMS.Twilio; t != nil {
			sender, err := sms.New(sms.Config{
				AccountSID: a.getenv("TIDINGS_TWILIO_ACCOUNT_SID"), AuthToken: a.getenv("TIDINGS_TWILIO_AUTH_TOKEN"),
				MessagingServiceSID: t.MessagingServiceSID, From: t.From, BaseURL: t.BaseURL,
				StatusCallback: t.StatusCallback, ValidityPeriod: t.ValidityPeriod,
			}, a.log.With("channel", "sms"))
			if err != nil {
				return nil, fmt.Errorf("channels.sms.twilio (credentials from TIDINGS_TWILIO_ACCOUNT_SID and TIDINGS_TWILIO_AUTH_TOKEN): %w", err)
			}
			out[channels.SMS] = sender
		}
		if dir := s.Channels.SMS.Outbox; dir != "" { // the loader refuses it with twilio
			out[channels.SMS] = newOutbox(dir)
		}
		if err := a.emailSender(cfg, *from, out); err != nil {
			return nil, err
		}
	}
	// Every channel a campaign names must have somewhere to go.
	for _, name := range cfg.CampaignNames() {
		for _, ch := range cfg.Campaigns[name].Channels {
			if out[ch] == nil {
				return nil, fmt.Errorf("campaign %s sends %s, but channels.%s in tidings.yaml configures no provider (or set delivery.outbox)", name, ch, ch)
			}
		}
	}
	if rdb != nil {
		limiter := redis_rate.NewLimiter(rdb)
		rates := map[string]ratelimit.Rate{channels.Email: s.Channels.Email.Rate, channels.SMS: s.Channels.SMS.Rate}
		for ch, sender := range out {
			if r := rates[ch]; !r.IsZero() {
				lim := ratelimit.Wrap(sender, limiter, ch, r)
				waits := metrics.RateLimitWaits.WithLabelValues(ch)
				lim.OnWait = func() { waits.Inc() }
				out[ch] = lim
			}
		}
	}
	return out, nil
}

// pipeline wires the delivery pipeline to a store and a queue. It reads
// config and tmpl for every task; the senders are built from the
// configuration as it is now, rate-limited through rdb (the caller's to
// close).
func (a *app) pipeline(config func() *campaigns.Config, tmpl func() *templates.Set, db *store.DB, client *asynq.Client, rdb redis.UniversalClient) (*delivery.Pipeline, error) {
	senders, err := a.senders(config(), rdb)
	if err != nil {
		return nil, err
	}
	return &delivery.Pipeline{
		Store: db, Client: client, Config: config, Templates: tmpl,
		Senders: senders, Signer: a.signer(), Log: a.log,
		OnHandBack: func(task, campaign, missing string) {
			metrics.TasksHandedBack.WithLabelValues(task, campaign, missing).Inc()
		},
	}, nil
}

func (a *app) worker(ctx context.Context, concurrency int, listen string) error {
	var started *startedWorker // set before reloads begin; they are checked against it
	live, err := a.liveConfig(func(cfg *campaigns.Config) error { return started.check(a.log, cfg) })
	if err != nil {
		return err
	}
	opt, err := a.redisOpt()
	if err != nil {
		return err
	}
	db, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	client := asynq.NewClient(opt)
	defer client.Close()
	rdb, _ := opt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	p, err := a.pipeline(live.Config, live.Templates, db, client, rdb)
	if err != nil {
		return err
	}
	cfg := live.Config()
	started = &startedWorker{settings: cfg.Settings, senders: p.Senders}
	defer a.watchConfig(ctx, live)()
	stopOps, err := a.serveOps(ctx, listen, db, opt)
	if err != nil {
		return err
	}
	defer stopOps()
	return a.serve(ctx, opt, p, db, cfg.Settings.Delivery.SendingTimeout, concurrency)
}

// inProcessWorker runs a worker in this process, reading config and tmpl
// for every task (the demo's reloaded configuration, the benchmark's fixed
// one). observe, when set, may wrap the pipeline's senders before it
// starts. stop shuts it down (gracefully), closes the senders (QUIT on
// idle SMTP connections), and may be called more than once.
func (a *app) inProcessWorker(ctx context.Context, config func() *campaigns.Config, tmpl func() *templates.Set, db *store.DB,
	opt asynq.RedisConnOpt, concurrency int, observe func(*delivery.Pipeline)) (*asynq.Client, func() error, error) {
	client := asynq.NewClient(opt)
	rdb, _ := opt.MakeRedisClient().(redis.UniversalClient)
	p, err := a.pipeline(config, tmpl, db, client, rdb)
	if err != nil {
		client.Close()
		rdb.Close()
		return nil, nil, err
	}
	senders := maps.Clone(p.Senders) // as made, before observe wraps them
	if observe != nil {
		observe(p)
	}
	workerCtx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	timeout := config().Settings.Delivery.SendingTimeout
	go func() { served <- a.serve(workerCtx, opt, p, db, timeout, concurrency) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			serveErr = <-served
			closed := map[channels.Sender]bool{} // the outbox serves both channels
			for _, s := range senders {
				if c, ok := s.(io.Closer); ok && !closed[s] {
					closed[s] = true
					_ = c.Close()
				}
			}
			client.Close()
			rdb.Close()
		})
		return serveErr
	}
	return client, stop, nil
}

// serve runs an Asynq server and the sweeper until ctx ends.
func (a *app) serve(ctx context.Context, opt asynq.RedisConnOpt, p *delivery.Pipeline, db *store.DB, sendingTimeout time.Duration, concurrency int) error {
	srv := asynq.NewServer(opt, delivery.ServerConfig(concurrency, a.log))
	if err := srv.Start(p.Mux()); err != nil {
		return err
	}
	sweepCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	inspector := asynq.NewInspector(opt)
	defer inspector.Close()
	go func() {
		delivery.Sweep(sweepCtx, db, inspector, p.Client, min(sendingTimeout/4, time.Minute), p.Config().Settings.Delivery.MaxRetries, a.log)
		close(done)
	}()
	a.log.Info("worker started", "concurrency", concurrency, "database", db.Redacted())
	<-ctx.Done()
	a.log.Info("worker stopping")
	srv.Shutdown()
	stop()
	<-done
	return nil
}
