package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// The reference instant of most cases: 2026-03-10 11:30 UTC. It is already
// 11 March on Kiritimati (UTC+14), Auckland (+13) and Chatham (+13:45), still
// 10 March in Shanghai, New York, Kolkata, London and Pago Pago (UTC-11).
var now = time.Date(2026, 3, 10, 11, 30, 0, 0, time.UTC)

func bday(y int, m time.Month, d int) customer.Birthday {
	return customer.Birthday{Year: y, Month: m, Day: d}
}

func fixtures() []customer.Customer {
	day := 24 * time.Hour
	yes := customer.Consent{Granted: true, At: now.Add(-400 * day)}
	return []customer.Customer{
		{ExternalID: "A01", Name: "王芳", Email: "a01@example.com", Phone: "+8613800000001", Locale: "zh-CN", TimeZone: "Asia/Shanghai",
			Birthday: bday(1990, 3, 10), Tier: customer.TierGold, Tags: []string{"tea-lover", "vip"},
			Attributes: map[string]any{"city": "Shanghai", "age": 36}, EmailConsent: yes, SMSConsent: yes,
			CreatedAt: now.Add(-1000 * day), LastPurchase: now.Add(-10 * day), PurchaseCount: 12, TotalSpent: 5000.5},
		{ExternalID: "A02", Name: "Tebano Ioane", Email: "a02@example.com", Phone: "+68675012345", Locale: "en-US", TimeZone: "Pacific/Kiritimati",
			Birthday: bday(1985, 3, 11), Tier: customer.TierKey, Tags: []string{"vip"},
			Attributes: map[string]any{"city": "Tarawa", "age": "40"}, SMSConsent: yes,
			CreatedAt: now.Add(-500 * day), LastPurchase: now.Add(-200 * day), PurchaseCount: 3, TotalSpent: 300},
		{ExternalID: "A03", Name: "Sina Faleolo", Phone: "+16847331234", TimeZone: "Pacific/Pago_Pago",
			Birthday: bday(0, 3, 11), Tier: customer.TierQuality,
			CreatedAt: now.Add(-30 * day)},
		{ExternalID: "A04", Name: "李雷", Email: "a04@example.com", Locale: "zh-CN",
			Birthday: bday(1979, 3, 10), Tier: customer.TierGeneral, Tags: []string{"complaint-open"},
			Attributes: map[string]any{"city": "Beijing", "vip": true}, EmailConsent: yes,
			CreatedAt: now.Add(-100 * day), LastPurchase: now.Add(-179 * day), PurchaseCount: 1, TotalSpent: 99.9},
		{ExternalID: "A05", Name: "Leap Day", Email: "a05@example.com", Locale: "en-US", TimeZone: "America/New_York",
			Birthday: bday(2000, 2, 29), Tier: customer.TierRestricted, Tags: []string{"newsletter", "tea-lover"},
			Attributes: map[string]any{"city": "New York", "age": 30.5}, EmailConsent: yes,
			CreatedAt: now.Add(-2000 * day), LastPurchase: now.Add(-181 * day), PurchaseCount: 7, TotalSpent: 1200},
		{ExternalID: "A06", Name: "Priya Sharma", Email: "a06@example.com", Locale: "en-IN", TimeZone: "Asia/Kolkata",
			Birthday: bday(1995, 3, 12), Tier: customer.TierEliminated,
			Attributes: map[string]any{"nested": map[string]any{"level": 3}},
			CreatedAt:  now.Add(-10 * day)},
		{ExternalID: "A07", Name: "Robert'); DROP TABLE customers;--", Email: "a07@example.com", Locale: "en-NZ", TimeZone: "Pacific/Auckland",
			Birthday: bday(0, 3, 11), Tier: customer.TierGold, Tags: []string{"newsletter", "tea-lover", "vip"},
			Attributes: map[string]any{"city": "x' OR 1=1 --"}, EmailConsent: yes, SMSConsent: customer.Consent{Granted: false, At: now.Add(-5 * day)},
			CreatedAt: now.Add(-3 * day), LastPurchase: now.Add(-1 * day), PurchaseCount: 40, TotalSpent: 88000},
		{ExternalID: "A08", Name: "Bikash Thapa", Phone: "+9779841234567", TimeZone: "Asia/Kathmandu",
			Tier: customer.TierGeneral, Tags: []string{"coffee-lover"},
			Attributes: map[string]any{"city": "shanghai"}, SMSConsent: yes,
			CreatedAt: now.Add(-3000 * day), LastPurchase: now.Add(-700 * day), PurchaseCount: 2, TotalSpent: 45},
		{ExternalID: "A09", Name: "Chatham Islander", Email: "a09@example.com", TimeZone: "Pacific/Chatham",
			Birthday: bday(1970, 2, 28), Tier: customer.TierKey,
			CreatedAt: now.Add(-50 * day)},
		{ExternalID: "A10", Name: "Oliver Smith", Email: "a10@example.com", Locale: "en-GB", TimeZone: "Europe/London",
			Birthday: bday(1988, 3, 1), Tier: customer.TierQuality, Tags: []string{"newsletter"},
			EmailConsent: yes, CreatedAt: now.Add(-60 * day), LastPurchase: now.Add(-30 * day), PurchaseCount: 5, TotalSpent: 640},
	}
}

type segmentCase struct {
	name  string
	where string // YAML of the segment's `where`
	now   time.Time
	want  string // external ids, space separated, sorted
}

var segmentCases = []segmentCase{
	{"eq tier", `tier: {eq: gold}`, now, "A01 A07"},
	{"shorthand eq", `tier: gold`, now, "A01 A07"},
	{"ne tier", `tier: {ne: general}`, now, "A01 A02 A03 A05 A06 A07 A09 A10"},
	{"in tiers", `tier: {in: [gold, key]}`, now, "A01 A02 A07 A09"},
	{"shorthand in", `tier: [restricted, eliminated]`, now, "A05 A06"},
	{"not_in tiers", `tier: {not_in: [gold, key, general]}`, now, "A03 A05 A06 A10"},
	{"tier at least quality", `tier: {gte: quality}`, now, "A01 A02 A03 A07 A09 A10"},
	{"tier worse than general", `tier: {lt: general}`, now, "A05 A06"},
	{"locale eq", `locale: zh-CN`, now, "A01 A04"},
	{"locale ne includes missing", `locale: {ne: zh-CN}`, now, "A02 A03 A05 A06 A07 A08 A09 A10"},
	{"locale not_in includes missing", `locale: {not_in: [zh-CN, en-US]}`, now, "A03 A06 A07 A08 A09 A10"},
	{"email exists", `email: {exists: true}`, now, "A01 A02 A04 A05 A06 A07 A09 A10"},
	{"email missing", `email: {exists: false}`, now, "A03 A08"},
	{"timezone missing", `timezone: {exists: false}`, now, "A04"},
	{"purchase_count gt", `purchase_count: {gt: 5}`, now, "A01 A05 A07"},
	{"total_spent range", `total_spent: {gte: 300, lt: 5000.5}`, now, "A02 A05 A10"},
	{"total_spent lte", `total_spent: {lte: 99.9}`, now, "A03 A04 A06 A08 A09"},
	{"consent.sms", `consent.sms: true`, now, "A01 A02 A08"},
	{"consent.email false", `consent.email: {eq: false}`, now, "A02 A03 A06 A08 A09"},
	{"within 180d", `last_purchase_at: {within: 180d}`, now, "A01 A04 A07 A10"},
	{"older_than 180d excludes never", `last_purchase_at: {older_than: 180d}`, now, "A02 A05 A08"},
	{"within weeks", `created_at: {within: 2w}`, now, "A06 A07"},
	// Evaluated five days ago, within counts back from then: A07's
	// purchase and sign-up, a day and three days ago, are after that
	// instant, so not within any time before it.
	{"within ends at the evaluation instant", `last_purchase_at: {within: 180d}`, now.Add(-5 * 24 * time.Hour), "A01 A04 A05 A10"},
	{"within weeks in the past", `created_at: {within: 2w}`, now.Add(-5 * 24 * time.Hour), "A06"},
	{"never purchased", `last_purchase_at: {exists: false}`, now, "A03 A06 A09"},
	{"created before date", `created_at: {lt: "2021-01-01"}`, now, "A05 A08"},
	{"tags any", `tags: {any: [vip, coffee-lover]}`, now, "A01 A02 A07 A08"},
	{"tags all", `tags: {all: [vip, tea-lover]}`, now, "A01 A07"},
	{"tags none", `tags: {none: [vip, complaint-open]}`, now, "A03 A05 A06 A08 A09 A10"},
	{"attribute eq", `attributes.city: Shanghai`, now, "A01"},
	{"attribute eq is case-sensitive", `attributes.city: shanghai`, now, "A08"},
	{"attribute in", `attributes.city: {in: [Beijing, "New York"]}`, now, "A04 A05"},
	{"attribute gt numbers only", `attributes.age: {gt: 30}`, now, "A01 A05"},
	{"attribute string never orders against number", `attributes.age: {lt: 100}`, now, "A01 A05"},
	{"attribute string eq", `attributes.age: "40"`, now, "A02"},
	{"attribute bool", `attributes.vip: true`, now, "A04"},
	{"attribute nested", `attributes.nested.level: {gte: 3}`, now, "A06"},
	{"attribute exists", `attributes.city: {exists: true}`, now, "A01 A02 A04 A05 A07 A08"},
	{"attribute missing", `attributes.city: {exists: false}`, now, "A03 A06 A09 A10"},
	{"attribute ne includes missing", `attributes.city: {ne: Shanghai}`, now, "A02 A03 A04 A05 A06 A07 A08 A09 A10"},
	{"nested all any not", `
all:
  - any:
      - tier: gold
      - tags: {any: [newsletter]}
  - not: {locale: en-GB}
  - not:
      any:
        - attributes.city: "New York"
        - email: {exists: false}`, now, "A01 A07"},
	{"not of missing field", `not: {locale: {in: [en-US, en-GB]}}`, now, "A01 A03 A04 A06 A07 A08 A09"},
	{"several keys are a conjunction", `{tier: gold, locale: zh-CN}`, now, "A01"},
	{"segment reference", `segment: loyal`, now, "A01 A07"},
	{"not a segment", `{not: {segment: loyal}, tier: {in: [gold, key]}}`, now, "A02 A09"},

	// Birthdays: "today" is each customer's own date.
	{"birthday today across the date line", `birthday: {in_days: 0}`, now, "A01 A02 A04 A07"},
	{"birthday tomorrow (Pago Pago is a day behind)", `birthday: {in_days: 1}`, now, "A03"},
	{"birthday in two days (Kolkata)", `birthday: {in_days: 2}`, now, "A06"},
	{"birthday today, gold only", `{birthday: {in_days: 0}, tier: gold}`, now, "A01 A07"},
	{"not birthday today includes no birthday", `not: {birthday: {in_days: 0}}`, now, "A03 A05 A06 A08 A09 A10"},
	{"not birthday tomorrow includes no zone", `not: {birthday: {in_days: 1}}`, now, "A01 A02 A04 A05 A06 A07 A08 A09 A10"},
	{"repeated tags count once", `tags: {all: [vip, vip]}`, now, "A01 A02 A07"},
	{"zero time is a value, not NULL", `created_at: {gt: "0001-01-01"}`, now, "A01 A02 A03 A04 A05 A06 A07 A08 A09 A10"},
	{"a name orders against names", `name: {lt: "L"}`, now, "A08 A09"},
	{"not of a name order includes nobody extra", `not: {name: {lt: "L"}}`, now, "A01 A02 A03 A04 A05 A06 A07 A10"},
	// 2027 is a common year: 29 February is celebrated on 28 February.
	// At 12:00 UTC on 28 Feb 2027 it is already 1 March on Chatham.
	{"29 Feb celebrated on 28 Feb in a common year", `birthday: {in_days: 0}`, time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC), "A05"},
	{"1 March in a common year", `birthday: {in_days: 1}`, time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC), "A10"},
	{"Chatham reaches 28 Feb first", `birthday: {in_days: 0}`, time.Date(2027, 2, 27, 12, 0, 0, 0, time.UTC), "A09"},
	// 2028 is a leap year: 29 February is itself.
	{"28 Feb in a leap year is only the 28th", `birthday: {in_days: 0}`, time.Date(2028, 2, 28, 12, 0, 0, 0, time.UTC), ""},
	{"29 Feb in a leap year", `birthday: {in_days: 1}`, time.Date(2028, 2, 28, 12, 0, 0, 0, time.UTC), "A05"},
}

// loadSegments writes each case's where as a segment file and loads them all
// with the real loader, plus a `loyal` segment for references.
func loadSegments(t *testing.T, wheres map[string]string) *campaigns.Config {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "segments"), 0o755)
	write := func(name, where string) {
		src := fmt.Sprintf("name: %s\nwhere:\n%s\n", name, indent(where))
		if err := os.WriteFile(filepath.Join(dir, "segments", name+".yaml"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("loyal", "all:\n  - tier: {in: [gold, key]}\n  - last_purchase_at: {within: 180d}")
	for name, where := range wheres {
		write(name, where)
	}
	cfg, err := campaigns.Load(dir, filepath.Join(dir, "templates"))
	if err != nil {
		t.Fatalf("load segments:\n%v", err)
	}
	return cfg
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

func audienceIDs(t *testing.T, db *store.DB, cond campaigns.Condition, at time.Time) string {
	t.Helper()
	ctx := context.Background()
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	a, err := db.Compile(ctx, cond, store.AudienceOptions{Now: at, DefaultZone: shanghai})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	cs, err := db.AudiencePage(ctx, a, 0, 1000)
	if err != nil {
		t.Fatalf("query: %v\nSQL: %s", err, a.Where)
	}
	n, err := db.CountAudience(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if int(n) != len(cs) {
		t.Errorf("count %d, page %d", n, len(cs))
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ExternalID
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

func TestSegments(t *testing.T) {
	wheres := map[string]string{}
	for i, tc := range segmentCases {
		wheres[fmt.Sprintf("case-%02d", i)] = tc.where
	}
	cfg := loadSegments(t, wheres)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		if err := db.UpsertCustomers(context.Background(), fixtures()); err != nil {
			t.Fatal(err)
		}
		for i, tc := range segmentCases {
			t.Run(tc.name, func(t *testing.T) {
				seg := cfg.Segments[fmt.Sprintf("case-%02d", i)]
				if got := audienceIDs(t, db, seg.Where, tc.now); got != tc.want {
					t.Errorf("where %s\n got: %q\nwant: %q", tc.where, got, tc.want)
				}
			})
		}
	})
}

// Hostile values in segment files are data, never SQL: they select only
// what they literally equal, and the database is intact afterwards.
func TestSegmentHostileValues(t *testing.T) {
	hostile := map[string]string{
		"quote-or":    `name: {eq: "x' OR 1=1 --"}`,
		"quote-or-in": `locale: {in: ["zh-CN' OR '1'='1", "') OR 1=1; --"]}`,
		"drop":        `name: "Robert'); DROP TABLE customers;--"`,
		"attr-or":     `attributes.city: "x' OR 1=1 --"`,
		"attr-ne":     `attributes.city: {gt: "' OR ''='"}`,
		"union":       `email: {eq: "a' UNION SELECT * FROM customers --"}`,
		"semicolon":   `external_id: {in: ["A01; DELETE FROM customers", "A02"]}`,
		"dollar":      `name: {eq: "$1"}`,
		"question":    `name: {eq: "?"}`,
		"backslash":   `name: {eq: "\\' OR 1=1 --"}`,
	}
	want := map[string]string{
		"quote-or": "", "quote-or-in": "", "drop": "A07", "attr-or": "A07",
		"attr-ne": "A01 A02 A04 A05 A07 A08", // every string city is > "' OR ''='", as plain strings
		"union":   "", "semicolon": "A02", "dollar": "", "question": "", "backslash": "",
	}
	cfg := loadSegments(t, hostile)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.UpsertCustomers(ctx, fixtures()); err != nil {
			t.Fatal(err)
		}
		for name := range hostile {
			t.Run(name, func(t *testing.T) {
				if got := audienceIDs(t, db, cfg.Segments[name].Where, now); got != want[name] {
					t.Errorf("got %q, want %q", got, want[name])
				}
			})
		}
		n, err := db.CountCustomers(ctx)
		if err != nil || n != int64(len(fixtures())) {
			t.Fatalf("customers after hostile queries: %d, %v", n, err)
		}
	})
}

// A customer without a name (stored as ”) has no name to order: `lt: "B"`
// does not select them, and its `not` does.
func TestSegmentEmptyName(t *testing.T) {
	cfg := loadSegments(t, map[string]string{"lt": `name: {lt: "B"}`, "not-lt": `not: {name: {lt: "B"}}`, "ne": `name: {ne: Aaron}`})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		cs := []customer.Customer{{ExternalID: "N1", Name: "Aaron"}, {ExternalID: "N2"}, {ExternalID: "N3", Name: "Zoe"}}
		if err := db.UpsertCustomers(context.Background(), cs); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"lt": "N1", "not-lt": "N2 N3", "ne": "N2 N3"} {
			if got := audienceIDs(t, db, cfg.Segments[name].Where, now); got != want {
				t.Errorf("%s: got %q, want %q", name, got, want)
			}
		}
	})
}
