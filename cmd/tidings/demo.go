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
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
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
stops it. The dashboard's user is admin, with TIDINGS_ADMIN_PASSWORD or a
password the demo prints. --once runs the campaigns and exits.`,
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
	live, err := a.liveConfig(func(cfg *campaigns.Config) error {
		if cfg.Settings.Delivery.Outbox == "" {
			cfg.Settings.Delivery.Outbox = filepath.Join(".tidings", "outbox")
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
	client, stopWorker, err := a.inProcessWorker(ctx, live.Config, live.Templates, db, opt, 8, nil)
	if err != nil {
		return err
	}
	defer stopWorker()
	defer a.watchConfig(ctx, live)()

	var dashboard string
	password := a.demoPassword()
	if !once {
		ws, url, err := a.demoDashboard(ctx, listen, listenGiven, live, opt, db, password)
		if err != nil {
			return err
		}
		defer ws.stop()
		dashboard = url
	}

	// Ctrl-C before the first runs finish stops the demo as cleanly as
	// later: the worker finishes or hands back its batches, and the next
	// `tidings demo` carries the runs on (the ledger keeps what was sent).
	interrupted := func(err error) bool {
		if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
			return false
		}
		fmt.Fprintf(a.stdout, "stopping before the first runs finished; `tidings demo` again carries them on …\n")
		return true
	}
	now := a.now()
	fmt.Fprintf(a.stdout, "running %d sample campaigns through an in-process Redis and worker …\n", len(cfg.Campaigns))
	start := time.Now()
	for _, name := range cfg.CampaignNames() {
		c := cfg.Campaigns[name]
		occ := delivery.DefaultOccurrence(c, now)
		if _, err := delivery.EnqueueRun(ctx, client, c, occ); err != nil {
			if interrupted(err) {
				return stopWorker()
			}
			return err
		}
	}
	var summaries []store.RunSummary
	for _, name := range cfg.CampaignNames() {
		occ := delivery.DefaultOccurrence(cfg.Campaigns[name], now)
		s, err := a.waitRun(ctx, db, name, occ)
		if err != nil {
			if interrupted(err) {
				return stopWorker()
			}
			return err
		}
		summaries = append(summaries, s)
	}
	elapsed := time.Since(start)

	var sent int64
	for _, s := range summaries {
		sent += s.Total(store.StatusSent)
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
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("outbox folder: %w", err)
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

// demoDashboard starts the dashboard for the demo: on listen, or, when
// that address is taken and was not asked for, on any free port.
func (a *app) demoDashboard(ctx context.Context, listen string, listenGiven bool, live *reload.Holder, opt asynq.RedisConnOpt, db *store.DB, password string) (*webServer, string, error) {
	secret, _ := a.secret() // the worker's, so its links verify
	users := []web.User{{Name: "admin", Role: web.RoleAdmin, Password: password}}
	ws, err := a.startWeb(ctx, listen, live, opt, db, users, secret)
	if err != nil && !listenGiven {
		host, _, _ := net.SplitHostPort(listen)
		ws, err = a.startWeb(ctx, net.JoinHostPort(host, "0"), live, opt, db, users, secret)
	}
	if err != nil {
		return nil, "", err
	}
	return ws, "http://" + ws.addr + "/", nil
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
