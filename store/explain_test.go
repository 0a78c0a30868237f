package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// Unmet names the conditions a customer fails, through segment
// references and `all`, and nothing for a customer in the audience.
func TestUnmet(t *testing.T) {
	cfg := loadSegments(t, map[string]string{
		"loyal-tea": "all:\n  - segment: loyal\n  - tags: {any: [tea-lover]}\n  - any:\n    - locale: zh-CN\n    - locale: en-US",
	})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.UpsertCustomers(ctx, fixtures()); err != nil {
			t.Fatal(err)
		}
		for ext, want := range map[string]string{
			"A01": "",                                                     // gold, bought 10 days ago, tea-lover, zh-CN
			"A07": "loyal-tea: any of (locale eq zh-CN; locale eq en-US)", // en-NZ
			"A05": "loyal: tier in gold, key | loyal: last_purchase_at within 180d",
			"A08": "loyal: tier in gold, key | loyal: last_purchase_at within 180d | loyal-tea: tags any of tea-lover | loyal-tea: any of (locale eq zh-CN; locale eq en-US)",
		} {
			cu, err := db.CustomerByExternalID(ctx, ext)
			if err != nil {
				t.Fatal(err)
			}
			// The segment referenced, as a campaign's audience is.
			unmet, err := db.Unmet(ctx, &campaigns.Ref{Name: "loyal-tea", Segment: cfg.Segments["loyal-tea"]}, store.AudienceOptions{Now: now}, cu.ID)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range unmet {
				got = append(got, u.Segment+": "+campaigns.Describe(u.Cond))
			}
			if strings.Join(got, " | ") != want {
				t.Errorf("%s: %q\nwant %q", ext, strings.Join(got, " | "), want)
			}
		}
	})
}
