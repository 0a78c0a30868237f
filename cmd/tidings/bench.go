package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// benchOptions are the flags of `tidings bench`.
type benchOptions struct {
	recipients  int
	concurrency int
	smtp        bool   // deliver email over SMTP instead of to the outbox
	smtpAddr    string // an outside SMTP server; "" starts the in-process sink
	connections int    // SMTP connections, for the ceiling and the pipeline alike
	json        bool
	cpuProfile  string // with --smtp, a pprof CPU profile of the pipeline phase
}

func (a *app) benchCommand() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure end-to-end delivery: messages per second through Redis and the database to the outbox or over SMTP",
		Long: `Bench creates a scratch database of --recipients generated customers, a
campaign that targets all of them, and runs it through the real pipeline — a
run task, batch tasks on Redis, ledger claims and settles in the database,
rendered templates — with one in-process worker.

By default the campaign sends SMS, else email, to outbox files, and bench
prints deliveries and messages per second and the peak memory (RSS) of the
process.

With --smtp the campaign is email only (every generated customer gets an
address and consent), a realistic HTML email of about 7.6 KB, sent over SMTP
to an in-process sink on 127.0.0.1 that accepts and counts every message, or
to --smtp-addr. It first measures the ceiling: go-mail alone sending as many
messages of the same size over --connections persistent connections to the
same server. Then it runs the whole pipeline over as many connections
(channels.email.smtp.max_connections) and prints both rates and their ratio,
the database statements per message, the milliseconds from the enqueue of
the run to the first message at the sink, the Redis bytes a waiting batch
task holds per recipient, the crash bound (the most ledger rows a SIGKILL
can leave "sending") and the peak RSS. Its last line is

  ratio_to_ceiling=R msgs_per_s=N peak_rss_mib=M db_statements_per_msg=S first_msg_ms=F

--json prints the figures as one JSON object instead (docs/reference.md
lists its fields).

It uses TIDINGS_REDIS_URL and TIDINGS_DATABASE_URL when set — scratch ones
are expected: it adds customers and runs — and otherwise an in-process Redis
and a temporary SQLite file. ` + "`make bench-pipeline`" + ` runs it against real
redis-server and PostgreSQL.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(cmd.Flags().Changed("connections")); err != nil {
				return err
			}
			return a.bench(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.recipients, "recipients", 100000, "how many customers the campaign targets")
	f.IntVar(&o.concurrency, "concurrency", 16, "worker concurrency (batches at once)")
	f.BoolVar(&o.smtp, "smtp", false, "send email over SMTP (to an in-process sink unless --smtp-addr), after measuring go-mail's ceiling")
	f.StringVar(&o.smtpAddr, "smtp-addr", "", "with --smtp, an outside SMTP server HOST:PORT (plain text, no authentication) instead of the in-process sink")
	f.IntVar(&o.connections, "connections", 8, "with --smtp, SMTP connections (1–100)")
	f.BoolVar(&o.json, "json", false, "print the figures as one JSON object")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "with --smtp, write a CPU profile of the pipeline phase (not the ceiling) to this file, for go tool pprof")
	return cmd
}

func (o benchOptions) check(connectionsSet bool) error {
	switch {
	case o.recipients < 1:
		return errors.New("--recipients: want at least 1")
	case o.concurrency < 1:
		return errors.New("--concurrency: want at least 1")
	case !o.smtp && (o.smtpAddr != "" || connectionsSet || o.cpuProfile != ""):
		return errors.New("--smtp-addr, --connections and --cpuprofile go with --smtp")
	case o.connections < 1 || o.connections > 100:
		// The range of channels.email.smtp.max_connections.
		return errors.New("--connections: want 1 to 100")
	}
	return nil
}

// benchFiles is the scratch configuration of the outbox benchmark.
var benchFiles = map[string]string{
	"configs/tidings.yaml":              "brand: Bench Tea\ndelivery:\n  batch_size: 500\n",
	"configs/segments/all.yaml":         "name: all\nwhere:\n  id: {gt: 0}\n",
	"configs/campaigns/bench.yaml":      "name: bench\nkind: product\nat: \"2027-03-01 10:00\"\naudience:\n  segment: all\nchannels: [sms, email]\ntemplate: bench\n",
	"templates/bench/sms.txt":           "{{.Customer.Name}}，{{.Brand}}新品上市，凭券{{.Customer.ExternalID}}到店享九折。回T退订\n",
	"templates/bench/email.subject.txt": "{{.Brand}}: new arrivals for {{.FirstName}}\n",
	"templates/bench/email.txt":         "Dear {{.Customer.Name}},\n\nOur spring collection has arrived.\n\nUnsubscribe: {{.UnsubscribeURL}}\n",
	"templates/bench/email.html":        "<p>Dear {{.Customer.Name}},</p><p>Our spring collection has arrived.</p><p><a href=\"{{.UnsubscribeURL}}\">Unsubscribe</a></p>\n",
}

func (a *app) bench(ctx context.Context, o benchOptions) error {
	dir, err := os.MkdirTemp("", "tidings-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.smtp {
		return a.benchSMTP(ctx, dir, o)
	}
	return a.benchOutbox(ctx, dir, o)
}

// benchOutbox is the default mode: every channel to outbox files.
func (a *app) benchOutbox(ctx context.Context, dir string, o benchOptions) error {
	cfg, tmpl, err := a.loadBench(dir, benchFiles)
	if err != nil {
		return err
	}
	cfg.Settings.Delivery.Outbox = filepath.Join(dir, "outbox")
	db, dbURL, err := a.benchDatabase(ctx, dir)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(a.benchLog(o), "generating %d customers in %s …\n", o.recipients, store.Redact(dbURL))
	if err := a.generate(ctx, db, o.recipients, time.Now().UnixNano()); err != nil {
		return err
	}
	watch, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer watch.Close()
	opt, redisName, closeRedis, err := a.benchRedis()
	if err != nil {
		return err
	}
	defer closeRedis()
	client, stop, err := a.inProcessWorker(ctx, func() *campaigns.Config { return cfg }, func() *templates.Set { return tmpl }, db, opt, o.concurrency, nil)
	if err != nil {
		return err
	}
	defer stop()
	r, err := timedRun(ctx, db, watch, client, cfg.Campaigns["bench"], benchOccurrence())
	if err != nil {
		return err
	}
	if err := stop(); err != nil {
		return err
	}

	s := r.summary
	sent := s.Total(store.StatusSent)
	rss, _ := peakRSSMiB()
	if o.json {
		return writeJSON(a.stdout, map[string]any{
			"mode": "outbox", "recipients": s.Targeted, "database": db.Dialect().String(), "redis": redisName,
			"concurrency": o.concurrency, "cpus": runtime.NumCPU(),
			"ledger_rows": s.Total(""), "messages": sent, "skipped": s.Total(store.StatusSkipped),
			"failed": s.Total(store.StatusFailed), "unknown": s.Total(store.StatusUnknown),
			"elapsed_ms":       r.elapsed.Milliseconds(),
			"deliveries_per_s": math.Round(perSecond(s.Total(""), r.elapsed)), "msgs_per_s": math.Round(perSecond(sent, r.elapsed)),
			"db_statements": r.statements, "db_statements_per_msg": round(perMessage(r.statements, sent), 3),
			"peak_rss_mib": round(rss, 1),
		})
	}
	fmt.Fprintf(a.stdout, "\nrecipients   %d (redis: %s, database: %s, %d CPUs, concurrency %d)\n",
		s.Targeted, redisName, db.Dialect(), runtime.NumCPU(), o.concurrency)
	fmt.Fprintf(a.stdout, "ledger rows  %d: sent %d, skipped %d, failed %d, unknown %d\n",
		s.Total(""), sent, s.Total(store.StatusSkipped), s.Total(store.StatusFailed), s.Total(store.StatusUnknown))
	fmt.Fprintf(a.stdout, "elapsed      %s (enqueue of the run to the last batch settled)\n", r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(a.stdout, "throughput   %.0f deliveries/s, %.0f messages/s\n", perSecond(s.Total(""), r.elapsed), perSecond(sent, r.elapsed))
	fmt.Fprintf(a.stdout, "statements   %d in the database, %.3f per message\n", r.statements, perMessage(r.statements, sent))
	fmt.Fprintf(a.stdout, "peak memory  %s RSS (whole process)\n", peakRSS())
	return nil
}

// benchLog is where progress goes: stdout, unless that is for the JSON.
func (a *app) benchLog(o benchOptions) io.Writer {
	if o.json {
		return a.stderr
	}
	return a.stdout
}

// loadBench writes a scratch configuration under dir and loads it.
func (a *app) loadBench(dir string, files map[string]string) (*campaigns.Config, *templates.Set, error) {
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return nil, nil, err
		}
	}
	a.configDir, a.templatesDir = filepath.Join(dir, "configs"), filepath.Join(dir, "templates")
	return a.loadAll()
}

// benchDatabase opens TIDINGS_DATABASE_URL, else a SQLite file in dir.
func (a *app) benchDatabase(ctx context.Context, dir string) (*store.DB, string, error) {
	dbURL := a.getenv("TIDINGS_DATABASE_URL")
	if dbURL == "" {
		dbURL = "sqlite://" + filepath.Join(dir, "bench.db")
	}
	db, err := store.Open(ctx, dbURL)
	return db, dbURL, err
}

// benchRedis is TIDINGS_REDIS_URL, else an in-process miniredis.
func (a *app) benchRedis() (opt asynq.RedisConnOpt, name string, closeFn func(), err error) {
	if a.getenv("TIDINGS_REDIS_URL") != "" {
		opt, err = a.redisOpt()
		return opt, "TIDINGS_REDIS_URL", func() {}, err
	}
	mr, err := miniredis.Run()
	if err != nil {
		return nil, "", nil, err
	}
	return asynq.RedisClientOpt{Addr: mr.Addr()}, "in-process miniredis", mr.Close, nil
}

// benchOccurrence names a run no earlier bench made.
func benchOccurrence() string {
	return "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// benchRun is one timed run of the bench campaign.
type benchRun struct {
	summary    store.RunSummary
	enqueued   time.Time // just before delivery.EnqueueRun
	elapsed    time.Duration
	statements uint64 // executed by the pipeline's database handle meanwhile
}

// timedRun enqueues an occurrence and waits for the worker to finish it.
// The waiting polls through watch, a second handle on the database, so
// that only the worker's statements are counted on db.
func timedRun(ctx context.Context, db, watch *store.DB, client *asynq.Client, c *campaigns.Campaign, occurrence string) (benchRun, error) {
	r := benchRun{enqueued: time.Now()}
	before := db.Statements()
	if _, err := delivery.EnqueueRun(ctx, client, c, occurrence); err != nil {
		return r, err
	}
	if err := waitDone(ctx, watch, c.Name, occurrence); err != nil {
		return r, err
	}
	r.elapsed = time.Since(r.enqueued)
	r.statements = db.Statements() - before
	var err error
	r.summary, err = watch.RunSummaryOf(ctx, c.Name, occurrence)
	return r, err
}

// waitDone polls a run's one row until it is done. A paused or failed run
// would never be: the bench stops with its reason.
func waitDone(ctx context.Context, db *store.DB, campaign, occurrence string) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		run, err := db.GetRun(ctx, campaign, occurrence)
		if err == nil {
			switch run.Status {
			case store.RunDone:
				return nil
			case store.RunFailed, store.RunPaused:
				return fmt.Errorf("run %s %s: %s", occurrence, run.Status, run.Error)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func perMessage(statements uint64, messages int64) float64 {
	if messages == 0 {
		return 0
	}
	return float64(statements) / float64(messages)
}

// round rounds to the decimals the text output prints, so that the JSON
// and the text agree.
func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// peakRSS reads the process's resident-set high-water mark (Linux).
func peakRSS() string {
	if mib, ok := peakRSSMiB(); ok {
		return fmt.Sprintf("%.1f MiB", mib)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return fmt.Sprintf("%.1f MiB (Go runtime, not RSS)", float64(m.Sys)/(1<<20))
}

// peakRSSMiB is VmHWM in MiB; where /proc is missing, the memory the Go
// runtime has taken from the system, and false.
func peakRSSMiB() (float64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				return float64(kb) / 1024, true
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.Sys) / (1 << 20), false
}
