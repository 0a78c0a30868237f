package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
)

func (a *app) customersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "customers",
		Short: "Import, generate or erase customers",
	}
	cmd.AddCommand(a.importCommand(), a.generateCommand(), a.eraseCommand())
	return cmd
}

func (a *app) importCommand() *cobra.Command {
	var region string
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import customers from a CSV file; bad rows are reported by line and skipped",
		Long: `Import reads a CSV file whose header names the columns:

  external_id (required), name, email, phone, locale, timezone, birthday
  (YYYY-MM-DD, MM-DD or --MM-DD), tier (gold, key, quality, general,
  restricted, eliminated), tags (separated by ; or |), email_consent,
  email_consent_at, sms_consent, sms_consent_at, created_at,
  last_purchase_at, purchase_count, total_spent, and attributes.NAME for
  any free attribute.

Phone numbers are normalized to E.164 (numbers without +country use --region,
default phone_region of tidings.yaml), emails and IANA time zones are checked.
Each bad row is reported with its line number and reason and skipped; every
good row is kept. Customers are upserted by external_id, so importing the
same file again updates them instead of adding duplicates.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if region == "" {
				// Only tidings.yaml: a broken campaign file must not stop an import.
				settings, err := campaigns.LoadSettings(a.configDir)
				if err != nil {
					return err
				}
				region = settings.PhoneRegion
			}
			return a.importCSV(cmd.Context(), args[0], region)
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "region of phone numbers written without a country code (default: phone_region of tidings.yaml)")
	return cmd
}

// importBatch is how many customers are written per transaction.
const importBatch = 2000

func (a *app) importCSV(ctx context.Context, path, region string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	r, err := customer.NewCSVReader(f, customer.Normalizer{DefaultRegion: region, Now: a.now()})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	db, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := db.CountCustomers(ctx)
	if err != nil {
		return err
	}

	prog := a.newProgress("importing "+path, st.Size())
	columns := r.Columns()
	seen := map[string]struct{}{} // distinct external ids: a repeated id is one customer
	saved, bad := 0, 0
	batch := make([]customer.Customer, 0, importBatch)
	flush := func() error {
		if err := db.ImportCustomers(ctx, batch, columns); err != nil {
			return err
		}
		for _, c := range batch {
			seen[c.ExternalID] = struct{}{}
		}
		saved = len(seen)
		batch = batch[:0]
		prog.update(r.BytesRead(), saved+bad)
		return nil
	}
	// stopped reports what was already saved when the import cannot go on:
	// every batch before it is committed.
	stopped := func(err error) error {
		prog.clear()
		fmt.Fprintf(a.stderr, "%s: stopped after saving %d customers (%d bad rows so far)\n", path, saved, bad)
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return stopped(err)
		}
		c, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var rowErr *customer.RowError
		if errors.As(err, &rowErr) {
			bad++
			prog.clear()
			fmt.Fprintf(a.stderr, "%s: %v\n", path, rowErr)
			continue
		}
		if err != nil {
			return stopped(fmt.Errorf("%s: %w", path, err))
		}
		batch = append(batch, c)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return stopped(err)
			}
		}
	}
	if err := flush(); err != nil {
		return stopped(err)
	}
	prog.done()
	after, err := db.CountCustomers(ctx)
	if err != nil {
		return err
	}
	added := after - before
	fmt.Fprintf(a.stdout, "%s: imported %d customers (%d new, %d updated), skipped %d bad %s\n",
		path, saved, added, int64(saved)-added, bad, plural(bad, "row", "rows"))
	if bad > 0 {
		// Not 0, so that a script notices rows it must fix, and not 1, so
		// that it can tell them from an import that did not happen.
		// The summary has said it all.
		return &exitError{code: exitBadRows}
	}
	return nil
}

// exitBadRows is the exit status of an import that saved every good row
// and skipped some bad ones.
const exitBadRows = 3

func (a *app) generateCommand() *cobra.Command {
	var count int
	var seed int64
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Add realistic demo customers to the database",
		Long: `Generate adds demo customers: Chinese and English names and locales, time
zones across the world (both sides of the date line, half-hour offsets),
birthdays over the whole year including 29 February, the six tiers, tags,
a mix of consent, and purchase history. Emails use reserved example domains
only. The same --seed gives the same customers (external ids C0000001…),
so generating again updates them instead of adding more.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			start := time.Now()
			if err := a.generate(cmd.Context(), db, count, seed); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "generated %d customers in %s\n", count, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 10000, "how many customers")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed")
	return cmd
}

func (a *app) generate(ctx context.Context, db *store.DB, count int, seed int64) error {
	return a.generateIn(ctx, db, count, seed, 5000, nil)
}

// generateIn generates count customers, chunk to a transaction: with chunk
// equal to count, all of them or none. adjust, when set, may change each
// customer before it is saved.
func (a *app) generateIn(ctx context.Context, db *store.DB, count int, seed int64, chunk int, adjust func(*customer.Customer)) error {
	g := customer.NewGenerator(seed, a.now())
	prog := a.newProgress("generating customers", int64(count))
	batch := make([]customer.Customer, 0, chunk)
	for i := 0; i < count; i++ {
		c := g.Next()
		if adjust != nil {
			adjust(&c)
		}
		batch = append(batch, c)
		if len(batch) == cap(batch) || i == count-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := db.UpsertCustomers(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
			prog.update(int64(i+1), i+1)
		}
	}
	prog.done()
	return nil
}

// progress draws a one-line progress display on stderr when it is a
// terminal, at most five times a second; elsewhere it prints nothing.
type progress struct {
	w     io.Writer
	label string
	total int64
	start time.Time
	last  time.Time
	on    bool
	drawn bool
}

func (a *app) newProgress(label string, total int64) *progress {
	on := false
	if f, ok := a.stderr.(*os.File); ok {
		on = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: a.stderr, label: label, total: total, start: time.Now(), on: on}
}

func (p *progress) update(done int64, rows int) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	pct := 0.0
	if p.total > 0 {
		pct = 100 * float64(done) / float64(p.total)
	}
	rate := float64(rows) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r%s: %5.1f%%  %d rows  %.0f rows/s ", p.label, pct, rows, rate)
	p.drawn = true
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *progress) done() { p.clear() }
