package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/reload"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/web"
)

// demoCustomers is how many customers the demo database starts with.
const demoCustomers = 20000

func (a *app) demoCommand() *cobra.Command {
	var listen string
	var once bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the sample campaigns end to end on embedded defaults: no Redis or database to install",
		Long: `Demo needs nothing installed. In one process it uses the SQLite database of
TIDINGS_DATABASE_URL (default .tidings/tidings.db), filled with generated
customers if it is empty; an in-process Redis (miniredis); a worker; the
scheduler; and the dashboard on --listen. It runs every sample campaign once
at once through the real pipeline — runs, batches, the delivery ledger —
writing the messages to the outbox folder (delivery.outbox in tidings.yaml,
default .tidings/outbox) as .eml and .json files, and prints what happened
and where to look. Then it keeps running: recipients outside their send
window get their message when it opens, the scheduler fires campaigns at
their times, and edits under configs/ and templates/ are reloaded. Ctrl-C
stops it, with a summary of what was done, even before the first runs
finished. The dashboard's address and login are printed as it starts: user
admin, with TIDINGS_ADMIN_PASSWORD or a password the demo makes up. The
messages' unsubscribe links point to this dashboard, on the port it got
(public_url is used only with --once). --once runs the campaigns and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.demo(cmd.Context(), listen, cmd.Flags().Changed("listen"), once)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "where the dashboard listens (another free port if this one is taken and the flag was not given)")
	cmd.Flags().BoolVar(&once, "once", false, "run the sample campaigns once, print the summary and exit (no dashboard, no scheduler)")
	return cmd
}

func (a *app) demo(ctx context.Context, listen string, listenGiven, once bool) error {
	// The dashboard's port is taken first, before the configuration loads:
	// the messages' links (public_url/u/TOKEN) point to the dashboard
	// that serves them, on whatever port it got.
	var ln net.Listener
	var dashboard string
	if !once {
		var err error
		if ln, err = demoListener(listen, listenGiven); err != nil {
			return err
		}
		defer ln.Close() // if the dashboard never starts; its shutdown closes it otherwise
		dashboard = demoURL(listen, ln.Addr())
	}
	live, err := a.liveConfig(func(cfg *campaigns.Config) error {
		if cfg.Settings.Delivery.Outbox == "" {
			cfg.Settings.Delivery.Outbox = filepath.Join(".tidings", "outbox")
		}
		if dashboard != "" {
			cfg.Settings.PublicURL = strings.TrimSuffix(dashboard, "/")
		}
		return nil
	})
	if err != nil {
		return err
	}
	cfg := live.Config()
	db, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.CountCustomers(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		start := time.Now()
		fmt.Fprintf(a.stdout, "creating a demo database of %d customers at %s …\n", demoCustomers, a.databaseURL())
		// In one transaction: a Ctrl-C meanwhile leaves no half-made
		// database for the next start to take for the demo's.
		if err := a.generateIn(ctx, db, demoCustomers, 1, demoCustomers, nil); err != nil {
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				fmt.Fprintf(a.stdout, "stopped before the demo database was made\n")
				return nil
			}
			return err
		}
		fmt.Fprintf(a.stdout, "done in %s\n", time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(a.stdout, "using %s (%d customers)\n", store.Redact(a.databaseURL()), n)
	}

	// miniredis speaks enough of Redis (Lua scripts included) for Asynq.
	mr, err := miniredis.Run()
	if err != nil {
		return err
	}
	defer mr.Close()
	opt := asynq.RedisClientOpt{Addr: mr.Addr()}
	// The summary's message count is this process's: the runs' own counts
	// include what an earlier, interrupted demo sent of them.
	var sent atomic.Int64
	client, stopWorker, err := a.inProcessWorker(ctx, live.Config, live.Templates, db, opt, 8, func(p *delivery.Pipeline) {
		for ch, s := range p.Senders {
			p.Senders[ch] = countingSender{Sender: s, n: &sent}
		}
	})
	if err != nil {
		return err
	}
	defer stopWorker()
	defer a.watchConfig(ctx, live)()

	password := a.demoPassword()
	if !once {
		ws, err := a.demoDashboard(ctx, ln, live, opt, db, password)
		if err != nil {
			return err
		}
		defer ws.stop()
		// Now, not after the first runs: the dashboard shows them running.
		fmt.Fprintf(a.stdout, "dashboard: %s  (user admin, password %s)\n", dashboard, password)
	}

	now := a.now()
	names := cfg.CampaignNames()
	fmt.Fprintf(a.stdout, "running %d sample campaigns through an in-process Redis and worker …\n", len(cfg.Campaigns))
	start := time.Now()
	// Ctrl-C before the first runs finish stops the demo as cleanly as
	// later: the worker finishes or hands back its batches, and the next
	// `tidings demo` carries the runs on (the ledger keeps what was sent).
	// It prints what was done so far.
	stopEarly := func(err error) error {
		if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
			return err
		}
		fmt.Fprintf(a.stdout, "stopping before the first runs finished; `tidings demo` again carries them on …\n")
		if err := stopWorker(); err != nil {
			return err
		}
		return a.demoSummary(context.WithoutCancel(ctx), db, cfg, names, now, sent.Load(), time.Since(start))
	}
	for _, name := range names {
		c := cfg.Campaigns[name]
		if _, err := delivery.EnqueueRun(ctx, client, c, delivery.DefaultOccurrence(c, now)); err != nil {
			return stopEarly(err)
		}
	}
	for _, name := range names {
		if _, err := a.waitRun(ctx, db, name, delivery.DefaultOccurrence(cfg.Campaigns[name], now)); err != nil {
			return stopEarly(err)
		}
	}
	if err := a.demoSummary(ctx, db, cfg, names, now, sent.Load(), time.Since(start)); err != nil {
		return err
	}
	if once {
		fmt.Fprintf(a.stdout, "next: `tidings runs`, `tidings preview birthday-gift`, `tidings audience loyal-members`\n")
		return stopWorker()
	}

	// From here on the demo is a small installation: the scheduler fires
	// campaigns at their times, the worker delivers deferred batches when
	// their windows open, and the dashboard shows it all.
	s := a.newScheduler(live.Config, client, db, 0, 0) // the demo just ran today's occurrences
	scheduled := make(chan error, 1)
	go func() { scheduled <- s.Run(ctx) }()
	fmt.Fprintf(a.stdout, "\ndashboard: %s  (user admin, password %s)\n", dashboard, password)
	fmt.Fprintf(a.stdout, "the scheduler and the worker keep running; edits under configs/ and templates/ are reloaded. Ctrl-C stops.\n")
	<-ctx.Done()
	fmt.Fprintf(a.stdout, "stopping …\n")
	<-scheduled
	return stopWorker()
}

// demoSummary prints each run's counts, as far as it got, and the
// messages this process sent (sent) in elapsed, and where they are.
func (a *app) demoSummary(ctx context.Context, db *store.DB, cfg *campaigns.Config, names []string, now time.Time, sent int64, elapsed time.Duration) error {
	var summaries []store.RunSummary
	for _, name := range names {
		occ := delivery.DefaultOccurrence(cfg.Campaigns[name], now)
		s, err := db.RunSummaryOf(ctx, name, occ)
		if errors.Is(err, store.ErrNotFound) { // interrupted before its run began
			fmt.Fprintf(a.stdout, "\n== %s (run %s): not started\n", name, occ)
			continue
		}
		if err != nil {
			return err
		}
		summaries = append(summaries, s)
		fmt.Fprintf(a.stdout, "\n== %s (run %s): %d targeted — sent %d, skipped %d, failed %d, unknown %d\n", s.Campaign, s.Occurrence,
			s.Targeted, s.Total(store.StatusSent), s.Total(store.StatusSkipped), s.Total(store.StatusFailed), s.Total(store.StatusUnknown))
		for _, c := range s.Counts {
			if c.Reason != "" && c.N > 0 {
				fmt.Fprintf(a.stdout, "   %-8s %6d  %s\n", c.Status, c.N, c.Reason)
			}
		}
	}
	dir, _ := filepath.Abs(cfg.Settings.Delivery.Outbox)
	fmt.Fprintf(a.stdout, "\n%d messages in %s: written to %s\n", sent, elapsed.Round(time.Millisecond), dir)
	fmt.Fprintf(a.stdout, "  one folder per campaign and run; .eml files open in any mail client, .json files are SMS\n")
	fmt.Fprintf(a.stdout, "  %s lists every message in the order it was sent\n", filepath.Join(dir, "sent.log"))
	for _, s := range summaries {
		if n := s.Total(store.StatusDeferred); n > 0 {
			fmt.Fprintf(a.stdout, "  %s: %d recipients are outside their send window now; they get it when it opens\n", s.Campaign, n)
		}
	}
	if _, err := os.Stat(dir); err != nil && sent > 0 {
		return fmt.Errorf("outbox folder: %w", err)
	}
	return nil
}

// countingSender counts the messages its sender accepted.
type countingSender struct {
	channels.Sender
	n *atomic.Int64
}

func (c countingSender) Send(ctx context.Context, m channels.Message) (string, error) {
	id, err := c.Sender.Send(ctx, m)
	if err == nil {
		c.n.Add(1)
	}
	return id, err
}

// demoListener listens on listen, or, when that address is taken and was
// not asked for, on any free port of its host.
func demoListener(listen string, listenGiven bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil && !listenGiven {
		host, _, _ := net.SplitHostPort(listen)
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", listen, err)
	}
	return ln, nil
}

// demoURL is the dashboard's address for a browser on this machine: the
// host --listen names (localhost for all interfaces) and the port the
// listener got.
func demoURL(listen string, addr net.Addr) string {
	host, _, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(addr.String())
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// demoDashboard starts the dashboard for the demo on ln.
func (a *app) demoDashboard(ctx context.Context, ln net.Listener, live *reload.Holder, opt asynq.RedisConnOpt, db *store.DB, password string) (*webServer, error) {
	secret, _ := a.secret() // the worker's, so its links verify
	users := []web.User{{Name: "admin", Role: web.RoleAdmin, Password: password}}
	return a.startWeb(ctx, ln, live, opt, db, users, secret)
}

// demoPassword is TIDINGS_ADMIN_PASSWORD, or one made up for this process.
func (a *app) demoPassword() string {
	if p := a.getenv("TIDINGS_ADMIN_PASSWORD"); p != "" {
		return p
	}
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// waitRun waits until a run is done, or has done all it can before its
// recipients' send windows open.
func (a *app) waitRun(ctx context.Context, db *store.DB, campaign, occurrence string) (store.RunSummary, error) {
	for {
		s, err := db.RunSummaryOf(ctx, campaign, occurrence)
		if err == nil && (s.Status == store.RunDone ||
			s.Status == store.RunSending && s.Total(store.StatusDeferred) > 0 && s.Total("") >= s.Targeted) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
