package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/tidings/tidings/campaigns"
)

// Kind says what a group is.
type Kind string

const (
	// Recipients is everyone the campaign was meant for, when it has no
	// variants: the treated group.
	Recipients Kind = "recipients"
	// Variant is the recipients assigned one A/B variant.
	Variant Kind = "variant"
	// Holdout is the campaign's control group: customers who would have
	// been sent and were held back (ledger reason "holdout").
	Holdout Kind = "holdout"
	// GlobalHoldout is the installation's control group, who get no
	// campaign at all (ledger reason "holdout: global").
	GlobalHoldout Kind = "global_holdout"
)

// Counts is what the ledger and the orders say of one group. A unit is a
// customer's occurrence: a birthday campaign reported over several years
// counts a customer once a year.
type Counts struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Targeted is the group's size: every customer in it the campaign
	// meant to send to (a failed send still counts: the decision to send
	// is what is measured), or, for a holdout, every customer held back.
	Targeted int64 `json:"targeted"`
	// Sent is how many of them a message reached the provider for.
	Sent int64 `json:"sent"`
	// Conversions is how many of them ordered within the attribution
	// window after their send (after being held back, for a holdout).
	Conversions int64 `json:"conversions"`
	// Revenue is the sum of those orders' amounts, in the currency of the
	// report (see Report.Currency).
	Revenue float64 `json:"revenue"`
	// Redemptions is how many of the group's coupon codes were redeemed.
	Redemptions int64 `json:"redemptions"`
}

// Group is a group's counts with what follows from them.
type Group struct {
	Counts
	// Rate is Conversions / Targeted, and Interval its 95% Wilson interval.
	Rate     float64  `json:"conversion_rate"`
	Interval Interval `json:"conversion_rate_ci"`
	// RevenuePerRecipient is Revenue / Targeted.
	RevenuePerRecipient float64 `json:"revenue_per_recipient"`
}

// Comparison is one group's conversion rate against another's.
type Comparison struct {
	Group   string `json:"group"`
	Against string `json:"against"`
	// Difference is the group's rate minus the other's (in rate, not
	// percentage points), with its 95% interval.
	Difference float64  `json:"difference"`
	Interval   Interval `json:"difference_ci"`
	// PValue is the two-sided p-value of the two-proportion test, and
	// Significant whether it is below 1 − Confidence (for variants, below
	// the Bonferroni-corrected level: see Verdict).
	PValue      float64 `json:"p_value"`
	Significant bool    `json:"significant"`
}

// Verdict is the A/B test's answer.
type Verdict struct {
	// Winner names the variant whose conversion rate is significantly
	// higher than every other's; empty when there is none yet.
	Winner string `json:"winner,omitempty"`
	// Leader is the variant with the highest rate so far, and Comparisons
	// it against each other variant.
	Leader      string       `json:"leader"`
	Comparisons []Comparison `json:"comparisons"`
	// NeededPerVariant is, when there is no winner, how many recipients
	// each variant would need to show the leader's observed lead over the
	// runner-up with 80% power; 0 when their rates are equal.
	NeededPerVariant int64 `json:"needed_per_variant,omitempty"`
}

// Report is a campaign's results.
type Report struct {
	Campaign string `json:"campaign"`
	// Run is the run reported on; empty for all of the campaign's runs.
	Run string `json:"run,omitempty"`
	// Window is the attribution window: how long after a send an order
	// counts as a conversion.
	Window   time.Duration `json:"-"`
	WindowS  string        `json:"attribution_window"`
	Currency string        `json:"currency,omitempty"`
	Groups   []Group       `json:"groups"`
	// Uplift compares the treated (all recipients, and each variant when
	// there are several) with each control group present.
	Uplift []Comparison `json:"uplift"`
	// Variants is present when the campaign has two variants or more.
	Variants *Verdict `json:"variants,omitempty"`
}

// Treated is the name of the group that pools every variant, in the uplift
// comparisons of a campaign with variants.
const Treated = "all recipients"

// Build computes a report from the groups' counts. The order of counts is
// kept; the treated groups come first by convention (see store).
func Build(campaign, run string, window time.Duration, currency string, counts []Counts) Report {
	r := Report{Campaign: campaign, Run: run, Window: window, WindowS: campaigns.FormatDuration(window), Currency: currency}
	var variants, controls []Group
	var pooled Counts
	for _, c := range counts {
		g := Group{Counts: c, Rate: rate(c.Conversions, c.Targeted), Interval: Wilson(c.Conversions, c.Targeted, Confidence)}
		if c.Targeted > 0 {
			g.RevenuePerRecipient = c.Revenue / float64(c.Targeted)
		}
		r.Groups = append(r.Groups, g)
		switch c.Kind {
		case Holdout, GlobalHoldout:
			controls = append(controls, g)
		default:
			variants = append(variants, g)
			pooled.Targeted += c.Targeted
			pooled.Conversions += c.Conversions
		}
	}
	treated := []Group{{Counts: Counts{Name: Treated, Targeted: pooled.Targeted, Conversions: pooled.Conversions}}}
	if len(variants) == 1 {
		treated = variants
	} else if len(variants) > 1 {
		treated = append(treated, variants...)
	}
	for _, ctl := range controls {
		for _, g := range treated {
			r.Uplift = append(r.Uplift, compare(g.Counts, ctl.Counts, 1-Confidence))
		}
	}
	if len(variants) > 1 {
		r.Variants = verdict(variants)
	}
	return r
}

func compare(a, b Counts, alpha float64) Comparison {
	p := PValue(a.Conversions, a.Targeted, b.Conversions, b.Targeted)
	return Comparison{
		Group: a.Name, Against: b.Name,
		Difference:  rate(a.Conversions, a.Targeted) - rate(b.Conversions, b.Targeted),
		Interval:    DiffInterval(a.Conversions, a.Targeted, b.Conversions, b.Targeted, Confidence),
		PValue:      p,
		Significant: p < alpha,
	}
}

// verdict names a winner only when the leading variant beats every other
// one at the 5% level after a Bonferroni correction for the k−1
// comparisons: looking at three variants and crowning whichever happens to
// lead would otherwise find a "winner" far more often than 5% of the time
// when none is better.
func verdict(variants []Group) *Verdict {
	byRate := slices.Clone(variants)
	slices.SortStableFunc(byRate, func(a, b Group) int { return cmp.Compare(b.Rate, a.Rate) })
	leader := byRate[0]
	alpha := (1 - Confidence) / float64(len(variants)-1)
	v := &Verdict{Leader: leader.Name}
	all := true
	for _, g := range byRate[1:] {
		c := compare(leader.Counts, g.Counts, alpha)
		v.Comparisons = append(v.Comparisons, c)
		all = all && c.Significant
	}
	if all {
		v.Winner = leader.Name
	} else {
		v.NeededPerVariant = SampleSize(leader.Rate, byRate[1].Rate, alpha, Power)
	}
	return v
}
