package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
)

func (a *app) suppressionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suppressions",
		Short: "List the suppression lists, or lift an address from one",
		Long: `An address on a channel's suppression list is never sent to on that channel,
whatever its customer's consent. Addresses are added by unsubscribe links,
SMS STOP replies, opt-outs reported by the provider (opt-outs), and by mail
servers saying a mailbox does not exist (bounces).`,
	}
	cmd.AddCommand(a.suppressionsListCommand(), a.suppressionsLiftCommand())
	return cmd
}

func (a *app) suppressionsListCommand() *cobra.Command {
	var channel string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print the suppression list, newest first: channel, address, since, cause, reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if channel != "" {
				if err := checkChannel(channel); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			return a.listSuppressions(ctx, db, channel, limit)
		},
	}
	cmd.Flags().StringVar(&channel, "channel", "", "only this channel's list: email or sms (default: both)")
	cmd.Flags().IntVar(&limit, "limit", 100, "how many entries; 0 for all")
	return cmd
}

func (a *app) listSuppressions(ctx context.Context, db *store.DB, channel string, limit int) error {
	list, err := db.Suppressions(ctx, channel, limit)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no suppressions")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tADDRESS\tSINCE\tCAUSE\tREASON")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Channel, s.Address, localTime(s.Since), store.CauseOf(s.Reason), s.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if limit > 0 && len(list) == limit {
		total, err := db.CountSuppressions(ctx, channel)
		if err != nil {
			return err
		}
		if total > int64(limit) {
			fmt.Fprintf(a.stderr, "showing the newest %d of %d; --limit 0 lists all\n", limit, total)
		}
	}
	return nil
}

func (a *app) suppressionsLiftCommand() *cobra.Command {
	var force bool
	var region string
	cmd := &cobra.Command{
		Use:   "lift CHANNEL ADDRESS",
		Short: "Remove an address from a channel's suppression list (an opt-out needs --force)",
		Long: `Lift removes one address from the email or sms suppression list, for example
a bounce recorded by mistake, and prints what it removed. The address is
normalized as an import does: "+86 139 1234 5678" and "+8613912345678" are the
same number, and numbers without +country use --region.

Only a bounce is lifted as it is. An opt-out — an unsubscribe link, an SMS
STOP, an opt-out the provider reported — is the recipient's own wish, and
lifting it lets marketing reach them again: it needs --force, for when they
asked to be contacted again. So does a reason Tidings does not write (one
added by hand), which may be an opt-out.

Lifting never grants consent: an unsubscribe or a STOP also withdrew the
customer's consent, which only an import gives back.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			channel, raw := args[0], args[1]
			if err := checkChannel(channel); err != nil {
				return err
			}
			address, normErr := a.normalizeAddress(channel, raw, region)
			if normErr != nil {
				// An address on the list that today's rules reject can
				// still be lifted as it is written there.
				address = strings.TrimSpace(raw)
			}
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			sup, err := db.LiftSuppression(ctx, channel, address, force)
			var optOut *store.OptOutError
			switch {
			case errors.Is(err, store.ErrNotFound) && normErr != nil:
				return &exitError{code: 1, msg: fmt.Sprintf("%s address %q: %v, and it is not on the %s suppression list as written", channel, raw, normErr, channel)}
			case errors.Is(err, store.ErrNotFound):
				msg := fmt.Sprintf("%s %s is not on the %s suppression list", channel, address, channel)
				if similar, _ := db.SimilarSuppressions(ctx, channel, address); len(similar) > 0 {
					msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(similar, " or "))
				}
				return &exitError{code: 1, msg: msg}
			case errors.As(err, &optOut):
				return &exitError{code: 1, msg: refusal(optOut.Suppression)}
			case err != nil:
				return err
			}
			cause := store.CauseOf(sup.Reason)
			fmt.Fprintf(a.stdout, "lifted %s %s from the suppression list (%s since %s: %s)\n",
				sup.Channel, sup.Address, cause, localTime(sup.Since), sup.Reason)
			if cause != store.CauseBounce {
				fmt.Fprintln(a.stdout, "Consent is not given back: a customer whose consent the opt-out withdrew gets marketing on this address again only once an import grants it.")
			}
			if sup.Reason == store.ReasonProviderOptOut {
				fmt.Fprintln(a.stdout, "The provider keeps its own opt-out: it refuses the address until the recipient opts in there (for Twilio, an SMS reply START).")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "lift an opt-out too: only when the recipient asked to be contacted again")
	cmd.Flags().StringVar(&region, "region", "", "region of a phone number written without a country code (default: phone_region of tidings.yaml)")
	return cmd
}

// refusal explains why an opt-out is not lifted without --force.
func refusal(s store.Suppression) string {
	if store.CauseOf(s.Reason) == store.CauseOptOut {
		return fmt.Sprintf("%s %s stays suppressed: the recipient opted out (%s, since %s). "+
			"Lifting it would let marketing reach them again after they asked it to stop; "+
			"if they asked to be contacted again, lift it with --force.", s.Channel, s.Address, s.Reason, localTime(s.Since))
	}
	return fmt.Sprintf("%s %s stays suppressed: its reason %q (since %s) is not a bounce Tidings recorded, so it may be the recipient's opt-out. "+
		"Check where it came from; to lift it all the same, use --force.", s.Channel, s.Address, s.Reason, localTime(s.Since))
}

func checkChannel(channel string) error {
	if channel != channels.Email && channel != channels.SMS {
		return &exitError{code: 1, msg: fmt.Sprintf("unknown channel %q: want %s or %s", channel, channels.Email, channels.SMS)}
	}
	return nil
}

// normalizeAddress brings an address to the form the suppression list and
// the customers have, as an import does.
func (a *app) normalizeAddress(channel, raw, region string) (string, error) {
	if channel == channels.Email {
		return customer.Normalizer{}.Email(raw)
	}
	if region == "" && !strings.HasPrefix(strings.TrimSpace(raw), "+") {
		settings, err := campaigns.LoadSettings(a.configDir)
		if err != nil {
			return "", err
		}
		region = settings.PhoneRegion
	}
	return customer.Normalizer{DefaultRegion: region}.Phone(raw)
}

func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func (a *app) eraseCommand() *cobra.Command {
	var suppress bool
	cmd := &cobra.Command{
		Use:   "erase EXTERNAL_ID [EXTERNAL_ID...]",
		Short: "Erase customers and their personal data (right to erasure, GDPR article 17)",
		Long: `Erase deletes each customer, with their tags and attributes, in one transaction
per customer:

  - their delivery ledger rows stay, so runs still add up and nobody gets an
    occurrence twice, but the address in them (and any mention of it in a
    reason, or in a run's error) is replaced by "erased";
  - an opt-out of their addresses stays on the suppression list as it is: the
    pipeline checks the list by address, so importing the same address again
    does not bring back the marketing they stopped;
  - a bounce of their addresses is removed (it is about the mailbox, not
    about their wishes).

With --suppress their addresses also go on the suppression lists (reason
"erasure request"), for a person who asked never to be contacted again.

It prints each erased customer's internal id, which logs and queued tasks
use. An unknown external id is reported and the others are still erased;
the exit status is 1 if any was not.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			return a.erase(ctx, db, args, store.EraseOptions{Suppress: suppress})
		},
	}
	cmd.Flags().BoolVar(&suppress, "suppress", false, "also put their addresses on the suppression lists")
	return cmd
}

func (a *app) erase(ctx context.Context, db *store.DB, ids []string, opt store.EraseOptions) error {
	var done []string
	failed := 0
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue
		}
		if ctx.Err() != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("stopped before %s: %d erased, %d not erased", id, len(done), failed)}
		}
		e, err := db.EraseCustomer(ctx, id, opt)
		switch {
		case errors.Is(err, store.ErrNotFound):
			failed++
			fmt.Fprintf(a.stderr, "%s: no customer with this external id\n", id)
			continue
		case err != nil:
			failed++
			fmt.Fprintf(a.stderr, "%s: %v\n", id, err)
			continue
		}
		done = append(done, id)
		ledger := "no ledger rows"
		if e.Deliveries > 0 {
			ledger = fmt.Sprintf("%d ledger %s kept with the address replaced by %q", e.Deliveries, plural(int(e.Deliveries), "row", "rows"), store.Erased)
		}
		fmt.Fprintf(a.stdout, "%s: erased customer %d; %s%s\n", id, e.CustomerID, ledger, suppressionNote(e))
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d not erased", failed, failed+len(done))}
	}
	return nil
}

// suppressionNote says what an erasure did with the suppression lists,
// naming channels and reasons, never the addresses.
func suppressionNote(e store.Erasure) string {
	var parts []string
	list := func(label string, ss []store.Suppression, why bool) {
		if len(ss) == 0 {
			return
		}
		var items []string
		for _, s := range ss {
			item := s.Channel
			// Only Tidings' own opt-out reasons are shown: one written by
			// hand may name anything.
			switch cause := store.CauseOf(s.Reason); {
			case why && cause == store.CauseOptOut:
				item += " (" + s.Reason + ")"
			case why:
				item += " (" + cause.String() + ")"
			}
			items = append(items, item)
		}
		parts = append(parts, label+" "+strings.Join(items, ", "))
	}
	list("still suppressed:", e.Kept, true)
	list("suppressed now:", e.Added, false)
	list("bounce removed:", e.Removed, false)
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}
