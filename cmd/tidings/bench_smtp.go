package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// smtpBenchResult is `bench --smtp --json`. Its field names are documented
// in docs/reference.md and stable; rounded as the text prints them.
type smtpBenchResult struct {
	Mode        string `json:"mode"`       // "smtp"
	Recipients  int64  `json:"recipients"` // the run's targeted ledger rows, one per customer
	Database    string `json:"database"`   // sqlite or postgres
	Redis       string `json:"redis"`
	Sink        string `json:"sink"` // "in-process" or the --smtp-addr
	Connections int    `json:"connections"`
	Concurrency int    `json:"concurrency"`
	CPUs        int    `json:"cpus"`

	// MessageBytes is the average message the sink received from the
	// pipeline; with --smtp-addr, the ceiling's message.
	MessageBytes        int64  `json:"message_bytes"`
	CeilingMessageBytes int64  `json:"ceiling_message_bytes"`
	CeilingMessages     int64  `json:"ceiling_messages"`
	CeilingSinkMessages *int64 `json:"ceiling_sink_messages"` // null with --smtp-addr
	CeilingElapsedMS    int64  `json:"ceiling_elapsed_ms"`
	CeilingMsgsPerS     int64  `json:"ceiling_msgs_per_s"`

	Messages       int64   `json:"messages"`      // ledger rows settled sent
	SinkMessages   *int64  `json:"sink_messages"` // null with --smtp-addr
	Skipped        int64   `json:"skipped"`
	Failed         int64   `json:"failed"`
	Unknown        int64   `json:"unknown"`
	ElapsedMS      int64   `json:"elapsed_ms"`
	MsgsPerS       int64   `json:"msgs_per_s"`
	RatioToCeiling float64 `json:"ratio_to_ceiling"`

	DBStatements       uint64  `json:"db_statements"`
	DBStatementsPerMsg float64 `json:"db_statements_per_msg"`
	FirstMsgMS         int64   `json:"first_msg_ms"`
	FirstMsgSource     string  `json:"first_msg_source"` // "sink", or "sender" with --smtp-addr

	RedisBytesPerRecipient float64 `json:"redis_bytes_per_recipient"`
	RedisBatchTasks        int     `json:"redis_batch_tasks"`
	CrashBound             int     `json:"crash_bound"`
	PeakRSSMiB             float64 `json:"peak_rss_mib"`
}

// lastLine is the summary the text output ends with.
func (r smtpBenchResult) lastLine() string {
	return fmt.Sprintf("ratio_to_ceiling=%.2f msgs_per_s=%d peak_rss_mib=%.1f db_statements_per_msg=%.3f first_msg_ms=%d",
		r.RatioToCeiling, r.MsgsPerS, r.PeakRSSMiB, r.DBStatementsPerMsg, r.FirstMsgMS)
}

// smtpBench is one run of `bench --smtp`: its scratch world, and what the
// phases found.
type smtpBench struct {
	a          *app
	o          benchOptions
	info       io.Writer // progress
	host       string
	port       int
	sink       *benchSink // nil with --smtp-addr
	cfg        *campaigns.Config
	tmpl       *templates.Set
	db         *store.DB
	dbURL      string
	opt        asynq.RedisConnOpt
	campaign   *campaigns.Campaign
	occurrence string
	first      customer.Customer // the ceiling's recipient
	audience   int64

	res              smtpBenchResult
	ceilingRate      float64
	ceilingSinkBytes int64
	redis            redisMeasure
	closers          []func()
}

// benchSMTP measures the ceiling, then the pipeline, then Redis (see the
// command's help).
func (a *app) benchSMTP(ctx context.Context, dir string, o benchOptions) error {
	b := &smtpBench{a: a, o: o, info: a.benchLog(o)}
	defer b.close()
	if err := b.setup(ctx, dir); err != nil {
		return err
	}
	for _, phase := range []func(context.Context) error{b.measureCeiling, b.measurePipeline, b.measureRedis} {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	rss, _ := peakRSSMiB()
	b.res.PeakRSSMiB = round(rss, 1)
	if o.json {
		return writeJSON(a.stdout, b.res)
	}
	a.printSMTPBench(b.res, b.ceilingSinkBytes, b.redis)
	return nil
}

func (b *smtpBench) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// setup starts the sink, writes and loads the configuration, generates the
// customers and connects to Redis.
func (b *smtpBench) setup(ctx context.Context, dir string) error {
	var err error
	if b.host, b.port, b.sink, err = benchTarget(b.o.smtpAddr); err != nil {
		return err
	}
	if b.sink != nil {
		b.closers = append(b.closers, func() { _ = b.sink.close() })
	}
	if b.cfg, b.tmpl, err = b.a.loadBench(dir, smtpBenchFiles(b.host, b.port, b.o.connections)); err != nil {
		return err
	}
	if b.db, b.dbURL, err = b.a.benchDatabase(ctx, dir); err != nil {
		return err
	}
	b.closers = append(b.closers, func() { _ = b.db.Close() })
	fmt.Fprintf(b.info, "generating %d customers in %s …\n", b.o.recipients, store.Redact(b.dbURL))
	first, err := b.a.generateReachable(ctx, b.db, b.o.recipients, time.Now().UnixNano())
	if err != nil {
		return err
	}
	if b.first, err = b.db.CustomerByExternalID(ctx, first.ExternalID); err != nil {
		return err
	}
	// The campaign's segment is every customer: an earlier bench's too.
	if b.audience, err = b.db.CountCustomers(ctx); err != nil {
		return err
	}
	var redisName string
	var closeRedis func()
	if b.opt, redisName, closeRedis, err = b.a.benchRedis(); err != nil {
		return err
	}
	b.closers = append(b.closers, closeRedis)
	b.campaign, b.occurrence = b.cfg.Campaigns["bench"], benchOccurrence()
	b.res = smtpBenchResult{
		Mode: "smtp", Database: b.db.Dialect().String(), Redis: redisName, Sink: "in-process",
		Connections: b.o.connections, Concurrency: b.o.concurrency, CPUs: runtime.NumCPU(),
		CrashBound: delivery.UnsettledBound(b.o.concurrency), FirstMsgSource: "sink",
	}
	if b.sink == nil {
		b.res.Sink, b.res.FirstMsgSource = b.o.smtpAddr, "sender"
	}
	return nil
}

// measureCeiling is phase 1: go-mail alone, as many messages of the same
// size over as many connections.
func (b *smtpBench) measureCeiling(ctx context.Context) error {
	fmt.Fprintf(b.info, "ceiling: go-mail, %d messages over %d connections to %s …\n",
		b.audience, b.o.connections, net.JoinHostPort(b.host, strconv.Itoa(b.port)))
	build, err := b.a.ceilingMessage(b.cfg, b.tmpl, b.campaign, b.occurrence, b.first)
	if err != nil {
		return err
	}
	sample, err := build()
	if err != nil {
		return err
	}
	if b.res.CeilingMessageBytes, err = messageSize(sample); err != nil {
		return err
	}
	elapsed, err := ceiling(ctx, b.host, b.port, b.o.connections, int(b.audience), build)
	if err != nil {
		return err
	}
	b.ceilingRate = perSecond(b.audience, elapsed)
	b.res.CeilingMessages, b.res.CeilingElapsedMS = b.audience, elapsed.Milliseconds()
	b.res.CeilingMsgsPerS = int64(math.Round(b.ceilingRate))
	if b.sink != nil {
		n := b.sink.messages.Load()
		b.res.CeilingSinkMessages, b.ceilingSinkBytes = &n, b.sink.bytes.Load()
		b.sink.reset()
	}
	return nil
}

// measurePipeline is phase 2: the campaign through the whole pipeline.
func (b *smtpBench) measurePipeline(ctx context.Context) error {
	fmt.Fprintf(b.info, "pipeline: %d recipients, concurrency %d …\n", b.audience, b.o.concurrency)
	watch, err := store.Open(ctx, b.dbURL)
	if err != nil {
		return err
	}
	defer watch.Close()
	var firstSent atomic.Int64
	// The time of the email sender's first successful send is what the
	// bench can know of the first message when the server is not its own.
	client, stop, err := b.a.inProcessWorker(ctx, func() *campaigns.Config { return b.cfg }, func() *templates.Set { return b.tmpl }, b.db, b.opt, b.o.concurrency,
		func(p *delivery.Pipeline) {
			p.Senders[channels.Email] = firstSend{Sender: p.Senders[channels.Email], at: &firstSent}
		})
	if err != nil {
		return err
	}
	defer stop()
	if b.o.cpuProfile != "" {
		f, err := os.Create(b.o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r, err := timedRun(ctx, b.db, watch, client, b.campaign, b.occurrence)
	if err != nil {
		return err
	}
	pprof.StopCPUProfile()
	if err := stop(); err != nil {
		return err
	}

	res, s := &b.res, r.summary
	res.Recipients, res.Messages = s.Targeted, s.Total(store.StatusSent)
	res.Skipped, res.Failed, res.Unknown = s.Total(store.StatusSkipped), s.Total(store.StatusFailed), s.Total(store.StatusUnknown)
	res.ElapsedMS = r.elapsed.Milliseconds()
	rate := perSecond(res.Messages, r.elapsed)
	res.MsgsPerS = int64(math.Round(rate))
	if b.ceilingRate > 0 {
		res.RatioToCeiling = round(rate/b.ceilingRate, 2)
	}
	res.DBStatements = r.statements
	res.DBStatementsPerMsg = round(perMessage(r.statements, res.Messages), 3)
	firstAt := time.Unix(0, firstSent.Load())
	res.MessageBytes = res.CeilingMessageBytes
	if b.sink != nil {
		n := b.sink.messages.Load()
		res.SinkMessages, firstAt = &n, b.sink.firstAt()
		if n > 0 {
			res.MessageBytes = int64(math.Round(float64(b.sink.bytes.Load()) / float64(n)))
		}
	}
	if res.Messages > 0 {
		res.FirstMsgMS = firstAt.Sub(r.enqueued).Milliseconds()
	}
	return nil
}

// measureRedis is phase 3: what a waiting recipient holds in Redis.
func (b *smtpBench) measureRedis(ctx context.Context) error {
	fmt.Fprintf(b.info, "redis: paging one more run with no worker …\n")
	var err error
	b.redis, err = b.a.measureRedis(ctx, b.opt, b.db, b.cfg, b.tmpl, b.campaign, b.occurrence+"-redis")
	if err != nil {
		return err
	}
	b.res.RedisBytesPerRecipient, b.res.RedisBatchTasks = round(b.redis.perRecipient(), 1), b.redis.Tasks
	return nil
}

func (a *app) printSMTPBench(res smtpBenchResult, ceilingSinkBytes int64, rm redisMeasure) {
	w := a.stdout
	sinkSays := func(n *int64, each int64) string {
		if n == nil {
			return "outside sink: not counted"
		}
		return fmt.Sprintf("sink received %d, %d bytes each", *n, each)
	}
	var ceilingEach int64
	if n := res.CeilingSinkMessages; n != nil && *n > 0 {
		ceilingEach = int64(math.Round(float64(ceilingSinkBytes) / float64(*n)))
	}
	fmt.Fprintf(w, "\nrecipients   %d (redis: %s, database: %s, %d CPUs, concurrency %d, %d SMTP connections, sink: %s)\n",
		res.Recipients, res.Redis, res.Database, res.CPUs, res.Concurrency, res.Connections, res.Sink)
	fmt.Fprintf(w, "ceiling      %d messages in %s: %d msgs/s (go-mail alone; %s)\n",
		res.CeilingMessages, time.Duration(res.CeilingElapsedMS)*time.Millisecond, res.CeilingMsgsPerS, sinkSays(res.CeilingSinkMessages, ceilingEach))
	fmt.Fprintf(w, "pipeline     %d messages in %s: %d msgs/s, %.2f of the ceiling (enqueue of the run to the last batch settled; %s)\n",
		res.Messages, time.Duration(res.ElapsedMS)*time.Millisecond, res.MsgsPerS, res.RatioToCeiling, sinkSays(res.SinkMessages, res.MessageBytes))
	fmt.Fprintf(w, "ledger rows  sent %d, skipped %d, failed %d, unknown %d\n", res.Messages, res.Skipped, res.Failed, res.Unknown)
	fmt.Fprintf(w, "database     %d statements, %.3f per message (%s)\n", res.DBStatements, res.DBStatementsPerMsg, res.Database)
	first := "at the sink"
	if res.FirstMsgSource == "sender" {
		first = "accepted by the outside server, as the pipeline's sender saw it"
	}
	fmt.Fprintf(w, "first msg    %d ms from the enqueue of the run to the first message %s\n", res.FirstMsgMS, first)
	fmt.Fprintf(w, "redis        %.1f bytes per waiting recipient (%d bytes for %d recipients in %d batch %s)\n",
		res.RedisBytesPerRecipient, rm.Bytes, rm.Recipients, rm.Tasks, plural(rm.Tasks, "task", "tasks"))
	fmt.Fprintf(w, "crash bound  %d: a SIGKILL leaves at most this many rows sending, reported unknown later\n", res.CrashBound)
	included := "customer generation"
	if res.SinkMessages != nil {
		included += " and the sink"
	}
	fmt.Fprintf(w, "peak memory  %.1f MiB RSS (whole process, %s included)\n", res.PeakRSSMiB, included)
	fmt.Fprintln(w, res.lastLine())
}

// benchTarget is the SMTP server of the run: --smtp-addr, or a new
// in-process sink.
func benchTarget(addr string) (host string, port int, sink *benchSink, err error) {
	if addr == "" {
		if sink, err = startBenchSink(); err != nil {
			return "", 0, nil, err
		}
		return sink.addr.IP.String(), sink.addr.Port, sink, nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, nil, fmt.Errorf("--smtp-addr %q: want HOST:PORT", addr)
	}
	if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
		return "", 0, nil, fmt.Errorf("--smtp-addr %q: bad port", addr)
	}
	return h, port, nil, nil
}

// generateReachable generates customers as `customers generate` does, but
// every one with an email address and consent to it, so that each recipient
// of the email campaign is one message. It returns the first.
func (a *app) generateReachable(ctx context.Context, db *store.DB, count int, seed int64) (customer.Customer, error) {
	var first customer.Customer
	err := a.generateIn(ctx, db, count, seed, 5000, func(c *customer.Customer) {
		if c.Email == "" {
			c.Email = strings.ToLower(c.ExternalID) + "@example.com"
		}
		c.EmailConsent = customer.Consent{Granted: true, At: c.CreatedAt}
		if first.ExternalID == "" {
			first = *c
		}
	})
	return first, err
}

// firstSend notes when its sender first succeeds.
type firstSend struct {
	channels.Sender
	at *atomic.Int64
}

func (f firstSend) Send(ctx context.Context, m channels.Message) (string, error) {
	id, err := f.Sender.Send(ctx, m)
	if err == nil && f.at.Load() == 0 {
		f.at.CompareAndSwap(0, time.Now().UnixNano())
	}
	return id, err
}

// smtpBenchFiles is the scratch configuration of `bench --smtp`: email
// only, over max_connections connections that stay open for the whole run.
func smtpBenchFiles(host string, port, connections int) map[string]string {
	settings := fmt.Sprintf(`brand: Bench Tea
public_url: https://news.bench.example
email_from: "Bench Tea <news@bench.example>"
delivery:
  batch_size: 500
channels:
  email:
    smtp:
      host: %q
      port: %d
      tls: none
      max_connections: %d
      messages_per_connection: 100000
`, host, port, connections)
	return map[string]string{
		"configs/tidings.yaml":              settings,
		"configs/segments/all.yaml":         "name: all\nwhere:\n  id: {gt: 0}\n",
		"configs/campaigns/bench.yaml":      "name: bench\nkind: product\nat: \"2027-03-01 10:00\"\naudience:\n  segment: all\nchannels: [email]\ntemplate: bench\n",
		"templates/_layouts/email.html":     templates.ShippedLayout,
		"templates/bench/email.subject.txt": "{{with .FirstName}}{{.}}, the{{else}}The{{end}} spring teas have arrived at {{.Brand}}\n",
		"templates/bench/email.txt":         benchText,
		"templates/bench/email.html":        benchHTML,
	}
}
