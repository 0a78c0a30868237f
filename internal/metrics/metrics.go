package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tidings/tidings/store"
)

// RateLimitWaits counts the sends that had to wait for their channel's
// shared rate (channels.*.rate) before going out, by channel. It is per
// process: each worker exports its own.
var RateLimitWaits = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "tidings",
	Name:      "rate_limit_waits_total",
	Help:      "Sends that waited for their channel's cluster-wide rate limit, by channel (this process).",
}, []string{"channel"})

// TasksHandedBack counts the tasks this worker handed back because its
// configuration lacks their campaign, follow-up or template (missing:
// campaign, follow_up, template), by task (run, batch) and campaign. Any
// during a rolling deploy is expected; a count that keeps rising means a
// worker runs a configuration other workers have moved on from. It is per
// process: each worker exports its own.
var TasksHandedBack = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "tidings",
	Name:      "tasks_handed_back_total",
	Help:      "Tasks this worker handed back because its configuration lacks their campaign, follow-up or template (this process).",
}, []string{"task", "campaign", "missing"})

// NewRegistry returns a registry with the Go runtime and process
// collectors, RateLimitWaits and TasksHandedBack; callers add what they
// know more about.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		RateLimitWaits,
		TasksHandedBack,
	)
	return reg
}

// Handler serves a registry's metrics in the Prometheus exposition format.
// A collector that fails (the database is down) is logged and left out;
// the other metrics are still served.
func Handler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

var (
	deliveriesDesc = prometheus.NewDesc("tidings_deliveries",
		"Delivery ledger rows by campaign, channel and status, across the cluster (from the database).",
		[]string{"campaign", "channel", "status"}, nil)
	receiptsDesc = prometheus.NewDesc("tidings_delivery_receipts",
		"Delivery ledger rows by the status their carrier reported (delivered, undelivered, failed), across the cluster.",
		[]string{"campaign", "channel", "carrier_status"}, nil)
)

// LedgerCollector exports the delivery ledger's counts by campaign,
// channel and status. It counts with one GROUP BY at scrape time, so every
// web server reports the same cluster-wide figures, and keeps the result
// for TTL, so several Prometheus servers scraping a large ledger cost one
// query per TTL between them.
type LedgerCollector struct {
	db  *store.DB
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex // held while querying: concurrent scrapes share one query
	at     time.Time
	counts []store.LedgerCount
}

var _ prometheus.Collector = (*LedgerCollector)(nil)

// NewLedgerCollector returns a collector over db's ledger caching for ttl
// (10 s when ttl is zero).
func NewLedgerCollector(db *store.DB, ttl time.Duration) *LedgerCollector {
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	return &LedgerCollector{db: db, ttl: ttl, now: time.Now}
}

// Describe implements prometheus.Collector.
func (c *LedgerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- deliveriesDesc
	ch <- receiptsDesc
}

// Collect implements prometheus.Collector.
func (c *LedgerCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.load()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(deliveriesDesc, err)
		return
	}
	type key struct{ campaign, channel, status string }
	byStatus, byCarrier := map[key]int64{}, map[key]int64{}
	for _, n := range counts {
		byStatus[key{n.Campaign, n.Channel, string(n.Status)}] += n.N
		if n.CarrierStatus != "" {
			byCarrier[key{n.Campaign, n.Channel, n.CarrierStatus}] += n.N
		}
	}
	for k, n := range byStatus {
		ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.GaugeValue, float64(n), k.campaign, k.channel, k.status)
	}
	for k, n := range byCarrier {
		ch <- prometheus.MustNewConstMetric(receiptsDesc, prometheus.GaugeValue, float64(n), k.campaign, k.channel, k.status)
	}
}

func (c *LedgerCollector) load() ([]store.LedgerCount, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts != nil && c.now().Sub(c.at) < c.ttl {
		return c.counts, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	counts, err := c.db.LedgerCounts(ctx)
	if err != nil {
		return nil, err
	}
	if counts == nil {
		counts = []store.LedgerCount{} // cached too: an empty ledger is an answer
	}
	c.counts, c.at = counts, c.now()
	return counts, nil
}
