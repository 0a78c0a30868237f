package store_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

func TestMigrationsAreIdempotent(t *testing.T) {
	ctx := context.Background()
	for _, u := range []func(testing.TB) string{storetest.SQLiteURL, storetest.NewPostgresURL} {
		url := u(t)
		first := 0
		for i := 0; i < 3; i++ {
			db, err := store.Open(ctx, url)
			if err != nil {
				t.Fatalf("open #%d: %v", i+1, err)
			}
			var n int
			if err := db.SQL().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n < 2 {
				t.Fatalf("open #%d: %d migrations recorded, %v", i+1, n, err)
			}
			if i == 0 {
				first = n
			} else if n != first {
				t.Fatalf("open #%d: %d migrations recorded, %d the first time", i+1, n, first)
			}
			db.Close()
		}
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://root:hunter2@localhost/x")
	if err == nil {
		t.Fatal("no error")
	}
	if want := `database URL "mysql://root:xxxxx@localhost/x": want sqlite:///path/to/file.db or postgres://user@host/db`; err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
}

func TestCustomerRoundTripAndUpsert(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orig := fixtures()[0]
		if err := db.UpsertCustomers(ctx, []customer.Customer{orig}); err != nil {
			t.Fatal(err)
		}
		got, err := db.CustomerByExternalID(ctx, "A01")
		if err != nil {
			t.Fatal(err)
		}
		want := orig
		want.ID = got.ID
		want.Attributes = map[string]any{"city": "Shanghai", "age": float64(36)} // JSON numbers come back as float64
		for _, tm := range []*time.Time{&want.CreatedAt, &want.LastPurchase, &want.EmailConsent.At, &want.SMSConsent.At} {
			*tm = tm.UTC()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}

		// A re-import updates in place and replaces the tags; created_at stays.
		changed := orig
		changed.Tier = customer.TierKey
		changed.Tags = []string{"newsletter"}
		changed.Email = ""
		changed.CreatedAt = time.Time{}
		if err := db.UpsertCustomers(ctx, []customer.Customer{changed, fixtures()[1]}); err != nil {
			t.Fatal(err)
		}
		got2, _ := db.CustomerByExternalID(ctx, "A01")
		if got2.ID != got.ID || got2.Tier != customer.TierKey || got2.Email != "" || !reflect.DeepEqual(got2.Tags, []string{"newsletter"}) {
			t.Errorf("after update: %+v", got2)
		}
		if !got2.CreatedAt.Equal(got.CreatedAt) {
			t.Errorf("created_at changed: %v -> %v", got.CreatedAt, got2.CreatedAt)
		}
		if n, _ := db.CountCustomers(ctx); n != 2 {
			t.Errorf("count = %d, want 2", n)
		}
	})
}

func TestUpsertRepeatedExternalIDInOneCall(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := fixtures()[0], fixtures()[0]
		b.Name = "王芳 (new)"
		if err := db.UpsertCustomers(ctx, []customer.Customer{a, b}); err != nil {
			t.Fatal(err)
		}
		got, _ := db.CustomerByExternalID(ctx, "A01")
		if got.Name != "王芳 (new)" {
			t.Errorf("name = %q, want the last row's", got.Name)
		}
	})
}

func TestClaimIsExclusive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.UpsertCustomers(ctx, []customer.Customer{{ExternalID: "C42"}}); err != nil {
			t.Fatal(err)
		}
		c, _ := db.CustomerByExternalID(ctx, "C42")
		k := store.DeliveryKey{Campaign: "spring-festival", Occurrence: "2027-02-06", CustomerID: c.ID, Channel: "sms"}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.ClaimDelivery(ctx, k, k.Occurrence, "+8613800000001", "")
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d claims won, want 1", wins.Load())
		}
		// Another channel or occurrence is another row.
		if ok, _ := db.ClaimDelivery(ctx, store.DeliveryKey{Campaign: k.Campaign, Occurrence: k.Occurrence, CustomerID: c.ID, Channel: "email"}, k.Occurrence, "a@example.com", ""); !ok {
			t.Error("claim on another channel refused")
		}
		if err := db.SettleDelivery(ctx, k, store.StatusSent, "", "SM123"); err != nil {
			t.Fatal(err)
		}
		if err := db.SettleDelivery(ctx, k, store.StatusFailed, "late", ""); err == nil {
			t.Error("a settled row was settled again")
		}
		d, err := db.GetDelivery(ctx, k)
		if err != nil || d.Status != store.StatusSent || d.ProviderID != "SM123" || d.Address != "+8613800000001" || d.SettledAt.IsZero() {
			t.Errorf("row = %+v, %v", d, err)
		}
		if _, err := db.GetDelivery(ctx, store.DeliveryKey{Campaign: "x"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing row: %v", err)
		}
	})
}

func TestSuppressions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if ok, _, err := db.Suppressed(ctx, "email", "a@example.com"); ok || err != nil {
			t.Fatalf("fresh list: %v %v", ok, err)
		}
		if err := db.Suppress(ctx, "email", "a@example.com", "550 no such user"); err != nil {
			t.Fatal(err)
		}
		if err := db.Suppress(ctx, "email", "a@example.com", "unsubscribed"); err != nil {
			t.Fatal(err)
		}
		ok, reason, err := db.Suppressed(ctx, "email", "a@example.com")
		if !ok || reason != "unsubscribed" || err != nil {
			t.Errorf("got %v %q %v", ok, reason, err)
		}
		if ok, _, _ := db.Suppressed(ctx, "sms", "a@example.com"); ok {
			t.Error("suppression leaked across channels")
		}
	})
}

func TestRuns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if ok, err := db.StartRun(ctx, "birthday-gift", "2027"); !ok || err != nil {
			t.Fatalf("start: %v %v", ok, err)
		}
		if ok, _ := db.StartRun(ctx, "birthday-gift", "2027"); ok {
			t.Error("an occurrence started twice")
		}
		if err := db.FinishRun(ctx, "birthday-gift", "2027", "done", 1234, ""); err != nil {
			t.Fatal(err)
		}
		r, err := db.GetRun(ctx, "birthday-gift", "2027")
		if err != nil || r.Status != "done" || r.Targeted != 1234 || r.StartedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
			t.Errorf("run = %+v, %v", r, err)
		}
	})
}

// Every field segments can name has a column that both databases accept.
func TestEveryFieldHasAColumn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, f := range slices.Sorted(maps.Keys(campaigns.Fields)) {
			cond := &campaigns.Compare{Field: f, Type: campaigns.Fields[f], Op: campaigns.OpExists, Value: true}
			a, err := db.Compile(context.Background(), cond, store.AudienceOptions{})
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if _, err := db.CountAudience(context.Background(), a); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	})
}

// Importing a file with only some columns changes those columns and nothing
// else: not the tier, not the consent, not the tags, not other attributes.
func TestImportOnlyGivenColumns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		full := fixtures()[0] // A01: gold, tags tea-lover+vip, city Shanghai, age 36, consents
		if err := db.UpsertCustomers(ctx, []customer.Customer{full}); err != nil {
			t.Fatal(err)
		}
		before, _ := db.CustomerByExternalID(ctx, "A01")

		partial := customer.Customer{ExternalID: "A01", Email: "new@example.com", Attributes: map[string]any{"city": "Hangzhou"}}
		fresh := customer.Customer{ExternalID: "Z99", Email: "z@example.com"}
		if err := db.ImportCustomers(ctx, []customer.Customer{partial, fresh}, []string{"external_id", "email", "attributes"}); err != nil {
			t.Fatal(err)
		}
		after, _ := db.CustomerByExternalID(ctx, "A01")
		want := before
		want.Email = "new@example.com"
		want.Attributes = map[string]any{"city": "Hangzhou", "age": float64(36)}
		if !reflect.DeepEqual(after, want) {
			t.Errorf("after partial import:\n got %+v\nwant %+v", after, want)
		}
		z, err := db.CustomerByExternalID(ctx, "Z99")
		if err != nil || z.Tier != customer.TierGeneral || z.Email != "z@example.com" {
			t.Errorf("new customer from a partial import: %+v, %v", z, err)
		}

		// With a tags column, tags are replaced; an empty cell clears them.
		if err := db.ImportCustomers(ctx, []customer.Customer{{ExternalID: "A01"}}, []string{"external_id", "tags"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.CustomerByExternalID(ctx, "A01"); len(got.Tags) != 0 || got.Tier != customer.TierGold {
			t.Errorf("after tags import: tags %v, tier %s", got.Tags, got.Tier)
		}
		if err := db.ImportCustomers(ctx, nil, []string{"nickname"}); err == nil {
			t.Error("unknown column accepted")
		}
	})
}
