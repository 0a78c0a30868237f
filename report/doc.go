// Package report answers "did it work?" for a campaign: from each group's
// counts (every A/B variant, the campaign's holdout, the global control
// group) it computes conversion rates with their 95% Wilson intervals, the
// uplift over the holdout with its 95% interval and a two-proportion test,
// and whether one variant beats the others, or how many recipients it would
// take to tell.
//
// The statistics are deliberately conventional, so that an analyst can
// check them by hand: Wilson score intervals for a rate, Newcombe's hybrid
// score interval for a difference of rates, the pooled two-proportion z
// test, and the usual normal-approximation sample size for 80% power. The
// normal quantiles come from gonum's distuv, not from a hand-written table.
package report
