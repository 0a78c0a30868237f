package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/store"
)

func (a *app) audienceCommand() *cobra.Command {
	var sample int
	var at string
	cmd := &cobra.Command{
		Use:   "audience NAME",
		Short: "Show how many customers a segment or campaign selects, with a sample",
		Long: `Audience evaluates a segment, or a campaign's audience, against the customer
database and prints the count and a sample of customers. For a campaign it
also counts who can be reached on each of its channels (consent given and an
address on file). Birthday conditions use each customer's own time zone;
customers with none use the campaign's zone (for a segment, default_timezone).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := a.now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at: want RFC 3339 such as 2027-02-06T09:00:00+08:00: %w", err)
				}
				now = t
			}
			return a.audience(cmd.Context(), args[0], sample, now)
		},
	}
	cmd.Flags().IntVar(&sample, "sample", 10, "how many customers to show")
	cmd.Flags().StringVar(&at, "at", "", "evaluate as of this time (RFC 3339) instead of now")
	return cmd
}

func (a *app) audience(ctx context.Context, name string, sample int, now time.Time) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	db, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	return a.printAudience(ctx, cfg, db, name, "", sample, now)
}

// printAudience prints the count, per-channel reach and a sample of the
// customers a segment or campaign selects; for a campaign's run (run not
// ""), its audience: a follow-up's is the launch's non-responders.
func (a *app) printAudience(ctx context.Context, cfg *campaigns.Config, db *store.DB, name, run string, sample int, now time.Time) error {
	var cond campaigns.Condition
	zone := cfg.Settings.DefaultTimeZone
	var camp *campaigns.Campaign
	switch {
	case cfg.Campaigns[name] != nil:
		camp = cfg.Campaigns[name].ForRun(run)
		cond, zone = camp.Condition(), camp.Schedule.TimeZone
	case cfg.Segments[name] != nil:
		cond = cfg.Segments[name].Where
	default:
		names := append(cfg.SegmentNames(), cfg.CampaignNames()...)
		return &exitError{code: 1, msg: fmt.Sprintf("no segment or campaign named %q (have: %s)", name, strings.Join(names, ", "))}
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return err
	}

	start := time.Now()
	opts := store.AudienceOptions{Now: now, DefaultZone: loc}
	aud, err := db.Compile(ctx, cond, opts)
	if err != nil {
		return err
	}
	count, err := db.CountAudience(ctx, aud)
	if err != nil {
		return err
	}
	total, err := db.CountCustomers(ctx)
	if err != nil {
		return err
	}
	what := "segment " + name
	if camp != nil {
		what = "campaign " + name
		if named, _ := camp.IsFollowUpRun(run); named {
			what += " " + run + " (the launch's recipients who have not bought since)"
		}
	}
	fmt.Fprintf(a.stdout, "%s: %d of %d customers\n", what, count, total)
	if camp != nil {
		for _, ch := range camp.Channels {
			reach, err := db.CountReachable(ctx, cond, ch, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "  reachable by %s: %d\n", ch, reach)
		}
	}
	if sample > 0 && count > 0 {
		cs, err := db.AudiencePage(ctx, aud, 0, sample)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "\nfirst %d by id:\n", len(cs))
		tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEXTERNAL ID\tNAME\tTIER\tTIME ZONE\tLOCALE\tBIRTHDAY\tEMAIL\tPHONE\tTAGS")
		for _, c := range cs {
			bd := ""
			if !c.Birthday.IsZero() {
				bd = fmt.Sprintf("%02d-%02d", c.Birthday.Month, c.Birthday.Day)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.ExternalID, c.Name, c.Tier,
				dash(c.TimeZone), dash(c.Locale), dash(bd), dash(c.Email), dash(c.Phone), dash(strings.Join(c.Tags, ",")))
		}
		tw.Flush()
	}
	fmt.Fprintf(a.stdout, "\nevaluated at %s in %s\n", now.In(loc).Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
