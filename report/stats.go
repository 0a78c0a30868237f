package report

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Confidence is the level of every interval in a report, and 1 −
// Confidence the significance level of its tests.
const Confidence = 0.95

// Power is the chance the sample size needed for a variant test (see
// SampleSize) gives of detecting a difference as large as the one observed.
const Power = 0.80

// z is the standard normal quantile.
func z(p float64) float64 { return distuv.UnitNormal.Quantile(p) }

// Interval is a closed range of rates (or of differences of rates).
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Contains reports whether v lies in the interval.
func (i Interval) Contains(v float64) bool { return i.Low <= v && v <= i.High }

// Wilson is the Wilson score interval for a rate of x successes in n
// trials at the given confidence. Unlike the textbook p ± z·SE it stays
// inside [0, 1] and keeps its coverage when the rate is small, which
// conversion rates are (a few percent). With n = 0 nothing is known: [0, 1].
func Wilson(x, n int64, confidence float64) Interval {
	if n <= 0 {
		return Interval{0, 1}
	}
	zz := z(1 - (1-confidence)/2)
	nf := float64(n)
	p := float64(x) / nf
	denom := 1 + zz*zz/nf
	center := (p + zz*zz/(2*nf)) / denom
	half := zz / denom * math.Sqrt(p*(1-p)/nf+zz*zz/(4*nf*nf))
	return Interval{math.Max(0, center-half), math.Min(1, center+half)}
}

// DiffInterval is Newcombe's hybrid score interval (his method 10) for the
// difference of two rates, x1/n1 − x2/n2: it combines the two Wilson
// intervals, and keeps close to its nominal coverage for small rates and
// unequal groups, where the simple Wald interval for a difference is too
// narrow.
func DiffInterval(x1, n1, x2, n2 int64, confidence float64) Interval {
	p1, p2 := rate(x1, n1), rate(x2, n2)
	w1, w2 := Wilson(x1, n1, confidence), Wilson(x2, n2, confidence)
	d := p1 - p2
	return Interval{
		Low:  d - math.Sqrt(sq(p1-w1.Low)+sq(w2.High-p2)),
		High: d + math.Sqrt(sq(w1.High-p1)+sq(p2-w2.Low)),
	}
}

// PValue is the two-sided p-value of the pooled two-proportion z test of
// x1/n1 against x2/n2: the chance of a difference at least this large if
// both groups converted at the same rate. With no variation at all (no
// conversions, or all) there is no evidence of a difference: 1.
func PValue(x1, n1, x2, n2 int64) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	pooled := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(pooled * (1 - pooled) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 1
	}
	zs := math.Abs(rate(x1, n1)-rate(x2, n2)) / se
	return 2 * distuv.UnitNormal.Survival(zs)
}

// SampleSize is how many recipients each of two groups needs for a test at
// significance alpha to detect, with the given power, a true difference
// between rates p1 and p2 (the normal approximation with the pooled
// variance under the null). It is 0 when p1 = p2: no sample size detects
// a difference that is not there.
func SampleSize(p1, p2, alpha, power float64) int64 {
	if p1 == p2 {
		return 0
	}
	za, zb := z(1-alpha/2), z(power)
	bar := (p1 + p2) / 2
	n := sq(za*math.Sqrt(2*bar*(1-bar))+zb*math.Sqrt(p1*(1-p1)+p2*(1-p2))) / sq(p1-p2)
	return int64(math.Ceil(n))
}

func rate(x, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(x) / float64(n)
}

func sq(v float64) float64 { return v * v }
