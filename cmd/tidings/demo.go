package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// demoCustomers is how many customers the demo database starts with.
const demoCustomers = 20000

func (a *app) demoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run Tidings on embedded defaults: a demo database and the sample campaigns",
		Long: `Demo needs nothing installed: it uses the SQLite database of
TIDINGS_DATABASE_URL (default ` + ".tidings/tidings.db" + `), fills it with
generated customers if it is empty, validates the sample configuration and
shows each campaign's audience.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.demo(cmd.Context())
		},
	}
}

func (a *app) demo(ctx context.Context) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
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
		fmt.Fprintf(a.stdout, "using %s (%d customers)\n", a.databaseURL(), n)
	}
	fmt.Fprintf(a.stdout, "configuration %s: %d segments, %d campaigns\n", a.configDir, len(cfg.Segments), len(cfg.Campaigns))
	for _, name := range cfg.CampaignNames() {
		c := cfg.Campaigns[name]
		fmt.Fprintf(a.stdout, "\n== %s (%s, %s) — %s\n", name, c.Kind, c.Schedule.TimeZone, c.Description)
		if err := a.printAudience(ctx, cfg, db, name, 3, time.Now()); err != nil {
			return err
		}
	}
	return nil
}
