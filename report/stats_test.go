package report

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The figures below are computed by hand from the formulas (and, for the
// difference, match Newcombe's own worked example), so a change to the
// statistics that moves them by more than rounding fails here.
func TestStatisticsAgainstHandComputedValues(t *testing.T) {
	near := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.6f, want %.6f", name, got, want)
		}
	}
	// Wilson, 10 of 100: centre (0.1 + z²/200)/(1 + z²/100) = 0.114797,
	// half-width z/(1 + z²/100)·√(0.0009 + z²/40000) = 0.059567.
	w := Wilson(10, 100, Confidence)
	near("Wilson(10,100).Low", w.Low, 0.055229, 5e-6)
	near("Wilson(10,100).High", w.High, 0.174364, 5e-6)
	// No conversions still gives an upper bound above zero.
	w = Wilson(0, 50, Confidence)
	near("Wilson(0,50).Low", w.Low, 0, 0)
	near("Wilson(0,50).High", w.High, 0.071348, 5e-6)
	if w := Wilson(0, 0, Confidence); w != (Interval{0, 1}) {
		t.Errorf("Wilson(0,0) = %v, want [0,1]", w)
	}

	// Newcombe (1998), "Interval estimation for the difference between
	// independent proportions", example (a): 56/70 − 48/80, method 10
	// gives 0.0524 to 0.3339.
	d := DiffInterval(56, 70, 48, 80, Confidence)
	near("DiffInterval.Low", d.Low, 0.0524, 5e-5)
	near("DiffInterval.High", d.High, 0.3339, 5e-5)

	// Pooled z test, same data: p = 104/150, se = √(p(1−p)(1/70+1/80))
	// = 0.075467, z = 0.2/se = 2.65015, two-sided p = 0.008045.
	near("PValue", PValue(56, 70, 48, 80), 0.008045, 5e-6)
	near("PValue equal", PValue(5, 100, 5, 100), 1, 0)
	near("PValue no conversions", PValue(0, 100, 0, 100), 1, 0)

	// 5% against 7% at α = 0.05 and 80% power: (1.959964·√(2·0.06·0.94)
	// + 0.841621·√(0.0475+0.0651))² / 0.02² = 2212.2, so 2,213 a group.
	if n := SampleSize(0.05, 0.07, 0.05, Power); n != 2213 {
		t.Errorf("SampleSize(5%%, 7%%) = %d, want 2213", n)
	}
	if n := SampleSize(0.05, 0.05, 0.05, Power); n != 0 {
		t.Errorf("SampleSize(equal rates) = %d, want 0", n)
	}
}

// An interval that claims 95% must cover the truth about 95% of the time,
// including at the small rates and unequal group sizes of a holdout.
// Seeded, so the figure is the same on every run; with 2,000 trials the
// binomial spread of the coverage is ±0.5 points.
func TestIntervalsKeepTheirCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(n int64, p float64) (x int64) {
		for range n {
			if rng.Float64() < p {
				x++
			}
		}
		return x
	}
	const trials = 2000
	base, uplift := 0.05, 0.02
	nTreated, nHoldout := int64(1800), int64(200)
	var rateCovered, diffCovered int
	for range trials {
		xt, xh := draw(nTreated, base+uplift), draw(nHoldout, base)
		if Wilson(xh, nHoldout, Confidence).Contains(base) {
			rateCovered++
		}
		if DiffInterval(xt, nTreated, xh, nHoldout, Confidence).Contains(uplift) {
			diffCovered++
		}
	}
	for name, c := range map[string]int{"Wilson": rateCovered, "difference": diffCovered} {
		cov := float64(c) / trials
		t.Logf("%s interval coverage: %.1f%%", name, 100*cov)
		if cov < 0.93 || cov > 0.97 {
			t.Errorf("%s interval covers the truth in %.1f%% of trials, want 93–97%%", name, 100*cov)
		}
	}
}
