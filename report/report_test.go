package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// A campaign with two variants and a 10% holdout, computed by hand:
//
//	A: 450 targeted, 36 conversions (8.00%); B: 450, 27 (6.00%);
//	holdout: 100, 5 (5.00%); all recipients: 900, 63 (7.00%).
//	all vs holdout: +2.00 points; pooled 68/1000, se = √(0.068·0.932·(1/900+1/100))
//	= 0.026533, z = 0.75377, p = 0.4510.
//	A vs B: pooled 63/900 = 0.07, se = √(0.07·0.93·(2/450)) = 0.017010,
//	z = 1.17580, p = 0.2397: no winner. To tell 8% from 6% at α = 0.05 with
//	80% power takes (1.959964·√(2·0.07·0.93) + 0.841621·√(0.0736+0.0564))²
//	/ 0.02² = 2,553.6, so 2,554 a variant.
func handExample() []Counts {
	return []Counts{
		{Name: "A", Kind: Variant, Targeted: 450, Sent: 448, Conversions: 36, Revenue: 7200, Redemptions: 20},
		{Name: "B", Kind: Variant, Targeted: 450, Sent: 450, Conversions: 27, Revenue: 4050.5, Redemptions: 12},
		{Name: "holdout", Kind: Holdout, Targeted: 100, Conversions: 5, Revenue: 600},
	}
}

func TestReportAgainstHandComputedExample(t *testing.T) {
	r := Build("spring-festival", "2027", 7*24*time.Hour, "CNY", handExample())
	near := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.6f, want %.6f", name, got, want)
		}
	}
	if len(r.Groups) != 3 || len(r.Uplift) != 3 {
		t.Fatalf("groups %d, uplift comparisons %d; want 3 and 3 (all, A, B against the holdout)", len(r.Groups), len(r.Uplift))
	}
	near("A rate", r.Groups[0].Rate, 0.08, 1e-12)
	near("A revenue per recipient", r.Groups[0].RevenuePerRecipient, 16, 1e-9)
	near("holdout revenue per recipient", r.Groups[2].RevenuePerRecipient, 6, 1e-9)
	all := r.Uplift[0]
	if all.Group != Treated || all.Against != "holdout" {
		t.Fatalf("first uplift compares %q with %q, want %q with holdout", all.Group, all.Against, Treated)
	}
	near("uplift", all.Difference, 0.02, 1e-12)
	near("uplift p", all.PValue, 0.4510, 5e-5)
	if all.Significant || all.Interval.Low > 0 || all.Interval.High < 0.02 {
		t.Errorf("uplift with 100 held out: %+v; want an interval that spans 0 and +2 points, not significant", all)
	}
	v := r.Variants
	if v == nil || v.Winner != "" || v.Leader != "A" {
		t.Fatalf("variants verdict %+v, want leader A and no winner", v)
	}
	near("A vs B p", v.Comparisons[0].PValue, 0.2397, 5e-5)
	if v.NeededPerVariant != 2554 {
		t.Errorf("needed per variant = %d, want 2554", v.NeededPerVariant)
	}

	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	golden(t, "hand-example.txt", text.Bytes())
	golden(t, "hand-example.json", js.Bytes())
}

// With enough recipients the same lead is significant and A is named.
func TestVariantWinnerOnlyWhenSignificant(t *testing.T) {
	counts := []Counts{
		{Name: "A", Kind: Variant, Targeted: 5000, Conversions: 400},
		{Name: "B", Kind: Variant, Targeted: 5000, Conversions: 300},
		{Name: "C", Kind: Variant, Targeted: 5000, Conversions: 395},
	}
	v := Build("c", "", 7*24*time.Hour, "", counts).Variants
	// A leads C by 0.1 points: A is not a winner, however far ahead of B.
	if v.Winner != "" || v.Leader != "A" {
		t.Errorf("A barely ahead of C: verdict %+v, want no winner", v)
	}
	counts[2].Conversions = 300
	if v := Build("c", "", 7*24*time.Hour, "", counts).Variants; v.Winner != "A" {
		t.Errorf("A at 8%% against 6%% and 6%% over 5,000 each: verdict %+v, want winner A", v)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}
