package main

import (
	"context"
	"fmt"
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

func (a *app) benchCommand() *cobra.Command {
	var recipients, concurrency int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure end-to-end delivery: messages per second through Redis and the database to the outbox",
		Long: `Bench creates a scratch database of --recipients generated customers, a
campaign that targets all of them (SMS, else email), and runs it through the
real pipeline — a run task, batch tasks on Redis, ledger claims and settles in
the database, rendered templates, outbox files — with one in-process worker.
It prints deliveries and messages per second and the peak memory (RSS) of
the process.

It uses TIDINGS_REDIS_URL and TIDINGS_DATABASE_URL when set — a scratch
database is expected: it adds customers — and otherwise an in-process Redis
and a temporary SQLite file. ` + "`make bench-pipeline`" + ` runs it against real
redis-server and PostgreSQL.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.bench(cmd.Context(), recipients, concurrency)
		},
	}
	cmd.Flags().IntVar(&recipients, "recipients", 100000, "how many customers the campaign targets")
	cmd.Flags().IntVar(&concurrency, "concurrency", 16, "worker concurrency")
	return cmd
}

// benchFiles is the scratch configuration of the benchmark.
var benchFiles = map[string]string{
	"configs/tidings.yaml":              "brand: Bench Tea\ndelivery:\n  batch_size: 500\n",
	"configs/segments/all.yaml":         "name: all\nwhere:\n  id: {gt: 0}\n",
	"configs/campaigns/bench.yaml":      "name: bench\nkind: product\nat: \"2027-03-01 10:00\"\naudience:\n  segment: all\nchannels: [sms, email]\ntemplate: bench\n",
	"templates/bench/sms.txt":           "{{.Customer.Name}}，{{.Brand}}新品上市，凭券{{.Customer.ExternalID}}到店享九折。回T退订\n",
	"templates/bench/email.subject.txt": "{{.Brand}}: new arrivals for {{.FirstName}}\n",
	"templates/bench/email.txt":         "Dear {{.Customer.Name}},\n\nOur spring collection has arrived.\n\nUnsubscribe: {{.UnsubscribeURL}}\n",
	"templates/bench/email.html":        "<p>Dear {{.Customer.Name}},</p><p>Our spring collection has arrived.</p><p><a href=\"{{.UnsubscribeURL}}\">Unsubscribe</a></p>\n",
}

func (a *app) bench(ctx context.Context, recipients, concurrency int) error {
	dir, err := os.MkdirTemp("", "tidings-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for name, content := range benchFiles {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	a.configDir, a.templatesDir = filepath.Join(dir, "configs"), filepath.Join(dir, "templates")
	cfg, tmpl, err := a.loadAll()
	if err != nil {
		return err
	}
	cfg.Settings.Delivery.Outbox = filepath.Join(dir, "outbox")

	dbURL := a.getenv("TIDINGS_DATABASE_URL")
	if dbURL == "" {
		dbURL = "sqlite://" + filepath.Join(dir, "bench.db")
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(a.stdout, "generating %d customers in %s …\n", recipients, store.Redact(dbURL))
	if err := a.generate(ctx, db, recipients, time.Now().UnixNano()); err != nil {
		return err
	}

	var opt asynq.RedisConnOpt
	redisName := "in-process miniredis"
	if a.getenv("TIDINGS_REDIS_URL") != "" {
		if opt, err = a.redisOpt(); err != nil {
			return err
		}
		redisName = "TIDINGS_REDIS_URL"
	} else {
		mr, err := miniredis.Run()
		if err != nil {
			return err
		}
		defer mr.Close()
		opt = asynq.RedisClientOpt{Addr: mr.Addr()}
	}
	client, stop, err := a.inProcessWorker(ctx, func() *campaigns.Config { return cfg }, func() *templates.Set { return tmpl }, db, opt, concurrency)
	if err != nil {
		return err
	}
	defer stop()

	run := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	start := time.Now()
	if _, err := delivery.EnqueueRun(ctx, client, cfg.Campaigns["bench"], run); err != nil {
		return err
	}
	s, err := a.waitRun(ctx, db, "bench", run)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if err := stop(); err != nil {
		return err
	}

	sent := s.Total(store.StatusSent)
	fmt.Fprintf(a.stdout, "\nrecipients   %d (redis: %s, database: %s, %d CPUs, concurrency %d)\n",
		s.Targeted, redisName, strings.SplitN(dbURL, ":", 2)[0], runtime.NumCPU(), concurrency)
	fmt.Fprintf(a.stdout, "ledger rows  %d: sent %d, skipped %d, failed %d, unknown %d\n",
		s.Total(""), sent, s.Total(store.StatusSkipped), s.Total(store.StatusFailed), s.Total(store.StatusUnknown))
	fmt.Fprintf(a.stdout, "elapsed      %s (enqueue of the run to the last batch settled)\n", elapsed.Round(time.Millisecond))
	fmt.Fprintf(a.stdout, "throughput   %.0f deliveries/s, %.0f messages/s\n", float64(s.Total(""))/elapsed.Seconds(), float64(sent)/elapsed.Seconds())
	fmt.Fprintf(a.stdout, "peak memory  %s RSS (whole process)\n", peakRSS())
	return nil
}

// peakRSS reads the process's resident-set high-water mark (Linux).
func peakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return fmt.Sprintf("%.1f MiB (Go runtime, not RSS)", float64(m.Sys)/(1<<20))
}
