package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/typo"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

func (a *app) sendCommand() *cobra.Command {
	var occurrence string
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "send CAMPAIGN",
		Short: "Enqueue an occurrence of a campaign now (or --dry-run: counts and sample messages)",
		Long: `Send enqueues a run of the campaign on TIDINGS_REDIS_URL for the workers. The
occurrence key names the run; enqueuing the same key twice is a no-op, and no
customer ever gets the same occurrence twice. The default key is today's date
in the campaign's zone for holiday and birthday campaigns (a birthday campaign
gives one gift per customer per year) and "once" for a product launch; a
launch's follow-ups are follow-up-1, follow-up-2, ...

The occurrence must be one of the campaign's fires: one its schedule produces
in the last 7 days (a fire the scheduler missed) or the next 400 days (sent
early), or one it has a run of. Any other is refused with the campaign's next
fires, unless --force; a key that cannot name a run of the campaign's kind (a
follow-up it does not have, a holiday run that is not a date) is refused even
with --force.

With --dry-run nothing is enqueued or sent: it prints how many customers the
occurrence selects, how many each channel reaches, and the messages of the
first few customers.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.send(cmd.Context(), args[0], occurrence, dryRun, force)
		},
	}
	cmd.Flags().StringVar(&occurrence, "occurrence", "", "occurrence key (default: see above)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count and render, send nothing")
	cmd.Flags().BoolVar(&force, "force", false, "send an occurrence that is not one of the campaign's fires")
	return cmd
}

// campaignNamed is the campaign of the configuration called name; for any
// other name, the error every command gives: exit 1, the name, the likely
// typo's correction if there is one, and the names there are.
func (a *app) campaignNamed(cfg *campaigns.Config, name string) (*campaigns.Campaign, error) {
	c := cfg.Campaigns[name]
	if c == nil {
		names := cfg.CampaignNames()
		msg := fmt.Sprintf("no campaign named %q", name)
		if near := typo.Nearest(name, names); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
		return nil, &exitError{code: 1, msg: fmt.Sprintf("%s (have: %s)", msg, strings.Join(names, ", "))}
	}
	return c, nil
}

func (a *app) send(ctx context.Context, name, occurrence string, dryRun, force bool) error {
	cfg, tmpl, err := a.loadAll()
	if err != nil {
		return err
	}
	c, err := a.campaignNamed(cfg, name)
	if err != nil {
		return err
	}
	if occurrence == "" {
		occurrence = delivery.DefaultOccurrence(c, a.now())
	}
	// The store is opened only when the occurrence is not a fire and its
	// runs must be looked up: a plain send needs only Redis.
	var db *store.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	openStore := func(ctx context.Context) (*store.DB, error) {
		if db == nil {
			var err error
			if db, err = a.openStore(ctx); err != nil {
				return nil, err
			}
		}
		return db, nil
	}
	exists := func(ctx context.Context, campaign, occurrence string) (bool, error) {
		db, err := openStore(ctx)
		if err != nil {
			return false, err
		}
		return db.RunExists(ctx, campaign, occurrence)
	}
	if err := delivery.CheckOccurrence(ctx, c, occurrence, a.now(), exists, force); err != nil {
		var oe *delivery.OccurrenceError
		if errors.As(err, &oe) && !oe.Malformed {
			return &exitError{code: 1, msg: err.Error() + "\nsend one of them with --occurrence, or add --force to send " + strconv.Quote(occurrence) + " anyway"}
		}
		return &exitError{code: 1, msg: err.Error()}
	}
	if force {
		a.log.Warn("sending an occurrence by --force", "campaign", c.Name, "occurrence", occurrence)
	}
	if dryRun {
		db, err := openStore(ctx)
		if err != nil {
			return err
		}
		if err := a.printAudience(ctx, cfg, db, name, occurrence, 0, a.now()); err != nil {
			return err
		}
		return a.previewFirst(ctx, cfg, tmpl, db, c, occurrence, 3)
	}
	opt, err := a.redisOpt()
	if err != nil {
		return err
	}
	client := asynq.NewClient(opt)
	defer client.Close()
	ok, err := delivery.EnqueueRun(ctx, client, c, occurrence)
	if err != nil {
		return err
	}
	id := delivery.RunTaskID(c.Name, occurrence)
	if !ok {
		inspector := asynq.NewInspector(opt)
		defer inspector.Close()
		info, err := inspector.GetTaskInfo(delivery.QueueFor(c.Priority), id)
		switch {
		case err != nil:
			fmt.Fprintf(a.stdout, "%s is already enqueued or ran recently: nothing to do\n", id)
		case info.State == asynq.TaskStateArchived:
			return &exitError{code: 1, msg: fmt.Sprintf("%s was given up (archived) after: %s\nfix the cause, then `tidings resume %s %s` runs it again; customers who got it will not get it twice", id, info.LastErr, c.Name, occurrence)}
		default:
			fmt.Fprintf(a.stdout, "%s is already %s: nothing to do\n", id, info.State)
		}
		return nil
	}
	fmt.Fprintf(a.stdout, "enqueued %s; follow it with `tidings runs %s`\n", id, c.Name)
	return nil
}

// previewFirst renders the messages of the first n customers of the
// campaign's audience who would get one, on the channels they would get
// it on, as the batch handler would.
func (a *app) previewFirst(ctx context.Context, cfg *campaigns.Config, tmpl *templates.Set, db *store.DB, c *campaigns.Campaign, occurrence string, n int) error {
	c = c.ForRun(occurrence) // a follow-up: its template and audience
	aud, err := db.Compile(ctx, delivery.ReceivableAudience(c), store.AudienceOptions{Now: a.now(), DefaultZone: c.Schedule.Location})
	if err != nil {
		return err
	}
	cs, err := db.AudiencePage(ctx, aud, 0, n)
	if err != nil {
		return err
	}
	for _, cu := range cs {
		if err := a.previewChannels(cfg, tmpl, c, occurrence, cu, delivery.ChannelsFor(c, cu)); err != nil {
			return err
		}
	}
	return nil
}

// previewCustomer prints a customer's message on each channel the
// campaign lists, whether or not the customer can receive it: a preview
// of one customer is for checking the templates.
func (a *app) previewCustomer(cfg *campaigns.Config, tmpl *templates.Set, c *campaigns.Campaign, occurrence string, cu customer.Customer) error {
	return a.previewChannels(cfg, tmpl, c, occurrence, cu, c.ForRun(occurrence).Channels)
}

// previewChannels prints a customer's message on the channels given.
func (a *app) previewChannels(cfg *campaigns.Config, tmpl *templates.Set, c *campaigns.Campaign, occurrence string, cu customer.Customer, chans []string) error {
	c = c.ForRun(occurrence)
	p := &delivery.Pipeline{Config: func() *campaigns.Config { return cfg }, Signer: a.signer()}
	for _, ch := range chans {
		data := p.TemplateData(c, delivery.LedgerOccurrence(c, occurrence), cu, ch, a.now())
		addr, _ := delivery.Contact(cu, ch)
		msg, err := p.Render(tmpl, c, ch, addr, data)
		fmt.Fprintf(a.stdout, "\n--- %s to %s %s (%s, locale %s)\n", ch, cu.ExternalID, cu.Name, dash(addr), dash(cu.Locale))
		if err != nil {
			fmt.Fprintf(a.stdout, "error: %v\n", err)
			continue
		}
		if ch == channels.Email {
			fmt.Fprintf(a.stdout, "Subject: %s\n\n%s\n", msg.Subject, msg.Text)
			if msg.HTML != "" {
				fmt.Fprintf(a.stdout, "(and an HTML part of %d bytes)\n", len(msg.HTML))
			}
		} else {
			fmt.Fprintf(a.stdout, "%s\n", msg.Body)
		}
	}
	return nil
}

// whyNot says which audience condition a customer fails and, for a test
// on one of their fields, what that field holds: "tier is restricted
// (segment loyal-members wants tier in gold, key)".
func whyNot(c *campaigns.Campaign, cu customer.Customer, u store.Unmet) string {
	who := "segment " + u.Segment
	if u.Segment == "" {
		who = c.Name
	}
	want := who + " wants " + campaigns.Describe(u.Cond)
	field := campaigns.Field(u.Cond)
	if field == "" || strings.HasPrefix(field, "attributes.") {
		return want
	}
	return fmt.Sprintf("%s is %s (%s)", field, fieldValue(cu, field), want)
}

// fieldValue is a customer's value of a segment field, as a person reads it.
func fieldValue(cu customer.Customer, field string) string {
	var v string
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02 15:04 MST")
	}
	switch field {
	case "id":
		v = strconv.FormatInt(cu.ID, 10)
	case "external_id":
		v = cu.ExternalID
	case "name":
		v = cu.Name
	case "email":
		v = cu.Email
	case "phone":
		v = cu.Phone
	case "locale":
		v = cu.Locale
	case "timezone":
		v = cu.TimeZone
	case "tier":
		v = string(cu.Tier)
	case "tags":
		v = strings.Join(cu.Tags, ", ")
	case "birthday", "birth_month", "birth_day", "birth_year":
		if !cu.Birthday.IsZero() {
			v = fmt.Sprintf("%02d-%02d", cu.Birthday.Month, cu.Birthday.Day)
			if cu.Birthday.Year != 0 {
				v = fmt.Sprintf("%d-%s", cu.Birthday.Year, v)
			}
		}
	case "consent.email":
		v = strconv.FormatBool(cu.EmailConsent.Granted)
	case "consent.email_at":
		v = date(cu.EmailConsent.At)
	case "consent.sms":
		v = strconv.FormatBool(cu.SMSConsent.Granted)
	case "consent.sms_at":
		v = date(cu.SMSConsent.At)
	case "created_at":
		v = date(cu.CreatedAt)
	case "last_purchase_at":
		v = date(cu.LastPurchase)
		if v == "" {
			v = "never"
		}
	case "purchase_count":
		v = strconv.Itoa(cu.PurchaseCount)
	case "total_spent":
		v = strconv.FormatFloat(cu.TotalSpent, 'f', -1, 64)
	}
	if v == "" {
		return "not set"
	}
	return v
}

func (a *app) previewCommand() *cobra.Command {
	var ext, occurrence string
	cmd := &cobra.Command{
		Use:   "preview CAMPAIGN",
		Short: "Print a campaign's rendered messages for a customer (or the first few of its audience)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, tmpl, err := a.loadAll()
			if err != nil {
				return err
			}
			c, err := a.campaignNamed(cfg, args[0])
			if err != nil {
				return err
			}
			if occurrence == "" {
				occurrence = delivery.DefaultOccurrence(c, a.now())
			}
			// Forced: a preview sends nothing, so any well-formed key will
			// do, but follow-up-9 must not quietly preview the launch.
			if err := delivery.CheckOccurrence(ctx, c, occurrence, a.now(), nil, true); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if ext == "" {
				return a.previewFirst(ctx, cfg, tmpl, db, c, occurrence, 3)
			}
			cu, err := db.CustomerByExternalID(ctx, ext)
			if err != nil {
				return fmt.Errorf("customer %q: %w", ext, err)
			}
			run := c.ForRun(occurrence)
			unmet, err := db.Unmet(ctx, run.Condition(), store.AudienceOptions{Now: a.now(), DefaultZone: c.Schedule.Location}, cu.ID)
			if err != nil {
				return err
			}
			if len(unmet) > 0 {
				what := c.Name
				if named, _ := c.IsFollowUpRun(occurrence); named {
					what += " " + occurrence
				}
				reasons := make([]string, len(unmet))
				for i, u := range unmet {
					reasons[i] = whyNot(c, cu, u)
				}
				fmt.Fprintf(a.stdout, "customer %s is not in the audience of %s: %s\n(below: what they would get if they were)\n",
					cu.ExternalID, what, strings.Join(reasons, "; "))
			}
			return a.previewCustomer(cfg, tmpl, c, occurrence, cu)
		},
	}
	cmd.Flags().StringVar(&ext, "customer", "", "the customer's external id")
	cmd.Flags().StringVar(&occurrence, "occurrence", "", "occurrence key (changes the coupon code)")
	return cmd
}

func (a *app) resumeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "resume CAMPAIGN RUN",
		Short: "Resume a paused run, or run again what a run gave up on",
		Long: `A run pauses when the provider refuses Tidings' credentials, or after
channels.break_after provider failures in a row; its batches wait without
failing anyone. Fix the cause (credentials in the environment, the provider's
status), then resume: the waiting batches go on within a minute.

A run also gives up: a batch whose task Asynq archived (its retries used up,
or its campaign missing from the configuration) is abandoned and its
recipients counted as failed; a run whose own task was archived is failed.
Fix the cause, then resume (this needs TIDINGS_REDIS_URL): the archived tasks
are deleted and enqueued again, the abandoned recipients no longer count as
failed, and the ledger keeps anyone who got the message from getting it twice.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			ok, err := db.ResumeRun(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if ok {
				fmt.Fprintf(a.stdout, "resumed %s %s\n", args[0], args[1])
				return nil
			}
			if _, err := db.GetRun(ctx, args[0], args[1]); err != nil {
				return fmt.Errorf("run %s %s: %w", args[0], args[1], err)
			}
			cfg, _, err := a.loadAll()
			if err != nil {
				return err
			}
			c, err := a.campaignNamed(cfg, args[0])
			if err != nil {
				return err
			}
			opt, err := a.redisOpt()
			if err != nil {
				return err
			}
			client := asynq.NewClient(opt)
			defer client.Close()
			inspector := asynq.NewInspector(opt)
			defer inspector.Close()
			n, repaged, err := delivery.Revive(ctx, db, inspector, client, c, args[1], cfg.Settings.Delivery.MaxRetries)
			if err != nil {
				return err
			}
			if n == 0 && !repaged {
				return &exitError{code: 1, msg: fmt.Sprintf("run %s %s is not paused, failed or missing batches: nothing to resume", args[0], args[1])}
			}
			fmt.Fprintf(a.stdout, "revived %s %s: %d abandoned %s enqueued again", args[0], args[1], n, plural(n, "batch", "batches"))
			if repaged {
				fmt.Fprintf(a.stdout, ", and the run task")
			}
			fmt.Fprintf(a.stdout, "; follow it with `tidings runs %s`\n", args[0])
			return nil
		},
	}
}

func (a *app) runsCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs [CAMPAIGN]",
		Short: "Show campaign runs with their deliveries counted by status and reason",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			campaign := ""
			if len(args) == 1 {
				campaign = args[0]
			}
			runs, err := db.Runs(ctx, campaign, limit)
			if err != nil {
				return err
			}
			if len(runs) == 0 && campaign != "" {
				// A campaign that has runs is shown even after its file
				// is gone; one without must be in the configuration, or
				// the name is a typo, not a campaign yet to run.
				cfg, err := a.loadConfig()
				if err != nil {
					return err
				}
				if _, err := a.campaignNamed(cfg, campaign); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "no runs of %s yet\n", campaign)
				return nil
			}
			if len(runs) == 0 {
				fmt.Fprintln(a.stdout, "no runs yet")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CAMPAIGN\tRUN\tSTATUS\tTARGETED\tSENT\tSKIPPED\tFAILED\tDEFERRED\tUNKNOWN\tSTARTED\tFINISHED")
			for _, r := range runs {
				finished := localTime(r.FinishedAt)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Campaign, r.Occurrence, r.Status, r.Targeted,
					r.Total(store.StatusSent), r.Total(store.StatusSkipped), r.Total(store.StatusFailed),
					r.Total(store.StatusDeferred), r.Total(store.StatusUnknown), r.StartedAt.Local().Format("2006-01-02 15:04:05"), finished)
			}
			tw.Flush()
			for _, r := range runs {
				if r.Error != "" {
					fmt.Fprintf(a.stdout, "\n%s %s is %s: %s\n", r.Campaign, r.Occurrence, r.Status, r.Error)
				}
				var lines []string
				for _, c := range r.Counts {
					if c.Reason != "" {
						lines = append(lines, fmt.Sprintf("  %-8s %7d  %s", c.Status, c.N, c.Reason))
					}
				}
				if len(lines) > 0 {
					sort.Strings(lines)
					fmt.Fprintf(a.stdout, "\n%s %s, by reason:\n%s\n", r.Campaign, r.Occurrence, strings.Join(lines, "\n"))
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs")
	return cmd
}
