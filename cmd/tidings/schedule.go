package main

import (
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"
	"github.com/tidings/tidings/delivery"
)

func (a *app) schedulerCommand() *cobra.Command {
	var maxLateness time.Duration
	var listen string
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Enqueue each enabled campaign's occurrences at their times, in their time zones",
		Long: `Scheduler evaluates every enabled campaign's schedule in its time zone and
enqueues each occurrence on TIDINGS_REDIS_URL when it is due: a holiday
campaign on each of its dates, a birthday campaign daily, a product launch at
its time. Run as many schedulers as you like: an occurrence's task id is
derived from it, so each is enqueued once. A scheduler that starts after
downtime enqueues what it missed within --max-lateness and reports older
misses without sending them. A cron time in a daylight-saving gap fires at
the transition; one in a fall-back overlap fires once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			live, err := a.liveConfig(nil)
			if err != nil {
				return err
			}
			opt, err := a.redisOpt()
			if err != nil {
				return err
			}
			client := asynq.NewClient(opt)
			defer client.Close()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			// Missed fires are reported as far back as they may be sent by hand.
			s := a.newScheduler(live.Config, client, db, maxLateness, delivery.RecentFires)
			defer a.watchConfig(ctx, live)()
			stopOps, err := a.serveOps(ctx, listen, db, opt)
			if err != nil {
				return err
			}
			defer stopOps()
			a.log.Info("scheduler started", "campaigns", len(live.Config().Campaigns), "max_lateness", maxLateness)
			return s.Run(ctx)
		},
	}
	cmd.Flags().DurationVar(&maxLateness, "max-lateness", 3*time.Hour, "how late a missed occurrence may still be sent")
	cmd.Flags().StringVar(&listen, "listen", "", "serve /metrics, /healthz and /readyz on this address (e.g. :9090)")
	return cmd
}
