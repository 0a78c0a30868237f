package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
)

// demoCustomers is how many customers the demo database starts with.
const demoCustomers = 20000

func (a *app) demoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run the sample campaigns end to end on embedded defaults: no Redis or database to install",
		Long: `Demo needs nothing installed. It uses the SQLite database of
TIDINGS_DATABASE_URL (default .tidings/tidings.db) and fills it with generated
customers if it is empty, starts an in-process Redis (miniredis) and a worker,
runs every sample campaign once through the real pipeline — runs, batches,
the delivery ledger — and writes the messages to the outbox folder
(delivery.outbox in tidings.yaml, default .tidings/outbox) as .eml and .json
files, then prints what happened and where to look.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.demo(cmd.Context())
		},
	}
}

func (a *app) demo(ctx context.Context) error {
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
		if err := a.generate(ctx, db, demoCustomers, 1); err != nil {
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
	client, stopWorker, err := a.liveInProcessWorker(ctx, live.Config, live.Templates, db, asynq.RedisClientOpt{Addr: mr.Addr()}, 8)
	if err != nil {
		return err
	}
	defer stopWorker()
	defer a.watchConfig(ctx, live)()

	now := time.Now()
	fmt.Fprintf(a.stdout, "running %d sample campaigns through an in-process Redis and worker …\n", len(cfg.Campaigns))
	start := time.Now()
	for _, name := range cfg.CampaignNames() {
		c := cfg.Campaigns[name]
		occ := delivery.DefaultOccurrence(c, now)
		if _, err := delivery.EnqueueRun(ctx, client, c, occ); err != nil {
			return err
		}
	}
	var summaries []store.RunSummary
	for _, name := range cfg.CampaignNames() {
		occ := delivery.DefaultOccurrence(cfg.Campaigns[name], now)
		s, err := a.waitRun(ctx, db, name, occ)
		if err != nil {
			return err
		}
		summaries = append(summaries, s)
	}
	elapsed := time.Since(start)
	if err := stopWorker(); err != nil {
		return err
	}

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
			fmt.Fprintf(a.stdout, "  %s: %d recipients are outside their send window now; a running worker sends them when it opens\n", s.Campaign, n)
		}
	}
	fmt.Fprintf(a.stdout, "next: `tidings runs`, `tidings preview birthday-gift`, `tidings audience loyal-members`\n")
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("outbox folder: %w", err)
	}
	return nil
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
