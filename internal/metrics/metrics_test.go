package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func sent(t *testing.T, db *store.DB, ext, campaign, channel string) store.DeliveryKey {
	t.Helper()
	ctx := context.Background()
	if err := db.UpsertCustomers(ctx, []customer.Customer{{ExternalID: ext}}); err != nil {
		t.Fatal(err)
	}
	c, _ := db.CustomerByExternalID(ctx, ext)
	k := store.DeliveryKey{Campaign: campaign, Occurrence: "once", CustomerID: c.ID, Channel: channel}
	if _, err := db.ClaimDelivery(ctx, k, "once", "x", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.SettleDelivery(ctx, k, store.StatusSent, "", "SM"+ext); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLedgerCollectorCountsAndCaches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		first := sent(t, db, "1", "launch", "sms")
		sent(t, db, "2", "launch", "sms")
		sent(t, db, "3", "launch", "email")
		db.RecordCarrierStatus(context.Background(), store.CarrierReport{Channel: "sms", ProviderID: "SM1", Status: "delivered", Key: &first})
		now := time.Now()
		lc := NewLedgerCollector(db, 10*time.Second)
		lc.now = func() time.Time { return now }
		reg := NewRegistry()
		reg.MustRegister(lc)
		h := Handler(reg, quiet)

		body := scrape(t, h)
		for _, want := range []string{
			`tidings_deliveries{campaign="launch",channel="sms",status="sent"} 2`,
			`tidings_deliveries{campaign="launch",channel="email",status="sent"} 1`,
			`tidings_delivery_receipts{campaign="launch",carrier_status="delivered",channel="sms"} 1`,
			`go_goroutines`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("no %s in\n%s", want, grep(body, "tidings_"))
			}
		}
		// Within the TTL the figures come from the cache; after it, from
		// the database again.
		sent(t, db, "4", "launch", "sms")
		now = now.Add(9 * time.Second)
		if body := scrape(t, h); !strings.Contains(body, `status="sent"} 2`) {
			t.Errorf("cache not used:\n%s", grep(body, "tidings_deliveries"))
		}
		now = now.Add(2 * time.Second)
		if body := scrape(t, h); !strings.Contains(body, `channel="sms",status="sent"} 3`) {
			t.Errorf("cache not refreshed:\n%s", grep(body, "tidings_deliveries"))
		}
	})
}

func TestRateLimitWaitsIsExported(t *testing.T) {
	RateLimitWaits.WithLabelValues("sms").Inc()
	body := scrape(t, Handler(NewRegistry(), quiet))
	if !strings.Contains(body, `tidings_rate_limit_waits_total{channel="sms"} `) {
		t.Errorf("no rate limit waits in\n%s", grep(body, "tidings_"))
	}
}

func TestTasksHandedBackIsExported(t *testing.T) {
	TasksHandedBack.WithLabelValues("batch", "greeting", "campaign").Inc()
	body := scrape(t, Handler(NewRegistry(), quiet))
	if !strings.Contains(body, `tidings_tasks_handed_back_total{campaign="greeting",missing="campaign",task="batch"} `) {
		t.Errorf("no handed-back tasks in\n%s", grep(body, "tidings_"))
	}
}

// A failing database leaves the ledger figures out but still serves the rest.
func TestLedgerCollectorFailureKeepsOtherMetrics(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	reg := NewRegistry()
	reg.MustRegister(NewLedgerCollector(db, 0))
	db.Close()
	body := scrape(t, Handler(reg, quiet))
	if strings.Contains(body, "tidings_deliveries{") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("body:\n%s", grep(body, "tidings_|go_goroutines"))
	}
}

func TestHealthAndReadiness(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	r := redistest.Start(t)
	rdb := r.Client(t)

	rec := httptest.NewRecorder()
	Healthz().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("healthz: %d %q", rec.Code, rec.Body)
	}

	ready := Readyz(quiet, time.Second, DatabaseCheck(db), RedisCheck(rdb))
	rec = httptest.NewRecorder()
	ready.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 || rec.Body.String() != "database: ok\nredis: ok\n" {
		t.Errorf("readyz: %d %q", rec.Code, rec.Body)
	}

	// Redis gone: 503, naming it, without the error text.
	down := redis.NewClient(&redis.Options{Network: "unix", Addr: t.TempDir() + "/none.sock"})
	defer down.Close()
	rec = httptest.NewRecorder()
	Readyz(quiet, time.Second, DatabaseCheck(db), RedisCheck(down)).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || rec.Body.String() != "database: ok\nredis: failed\n" {
		t.Errorf("readyz without redis: %d %q", rec.Code, rec.Body)
	}
	db.Close()
	rec = httptest.NewRecorder()
	ready.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "database: failed") {
		t.Errorf("readyz without the database: %d %q", rec.Code, rec.Body)
	}
}

// grep keeps the lines of s that contain any of the |-separated words.
func grep(s, words string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range strings.Split(words, "|") {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
