package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report for a terminal: one line per group, then the
// uplift over each control group and the A/B verdict, in words.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString(r.Campaign)
	if r.Run != "" {
		b.WriteString(" · run " + r.Run)
	} else {
		b.WriteString(" · all runs")
	}
	b.WriteString(" · conversions within " + r.WindowS + " of the send")
	if r.Currency != "" {
		b.WriteString(" · revenue in " + r.Currency)
	}
	b.WriteString("\n\n")
	if len(r.Groups) == 0 {
		b.WriteString("No recipients yet: nothing to report.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\ttargeted\tsent\tconversions\trate\t95% interval\trevenue\tper recipient\tcoupons redeemed\t")
	for _, g := range r.Groups {
		sent := thousands(g.Sent)
		if g.Kind == Holdout || g.Kind == GlobalHoldout {
			sent = "—"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s–%s\t%s\t%s\t%s\t\n", g.Name, thousands(g.Targeted), sent,
			thousands(g.Conversions), percent(g.Rate), percent(g.Interval.Low), percent(g.Interval.High),
			money(g.Revenue), money(g.RevenuePerRecipient), thousands(g.Redemptions))
	}
	tw.Flush()
	if len(r.Uplift) > 0 {
		b.WriteString("\nUplift over the control group\n")
		for _, c := range r.Uplift {
			writeComparison(&b, c)
		}
	} else {
		b.WriteString("\nNo control group: set holdout on the campaign to measure its uplift.\n")
	}
	if v := r.Variants; v != nil {
		b.WriteString("\nVariants\n")
		if v.Winner != "" {
			fmt.Fprintf(&b, "  winner: %s\n", v.Winner)
		} else {
			b.WriteString("  no winner yet")
			if v.NeededPerVariant > 0 {
				fmt.Fprintf(&b, ": telling the leader's lead from chance needs about %s recipients per variant", thousands(v.NeededPerVariant))
			} else {
				b.WriteString(": the variants convert alike so far")
			}
			b.WriteString("\n")
		}
		for _, c := range v.Comparisons {
			writeComparison(&b, c)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeComparison(b *strings.Builder, c Comparison) {
	verdict := "not significant"
	if c.Significant {
		verdict = "significant"
	}
	fmt.Fprintf(b, "  %s vs %s: %s (95%% interval %s to %s), p = %s: %s\n", c.Group, c.Against,
		points(c.Difference), points(c.Interval.Low), points(c.Interval.High), pvalue(c.PValue), verdict)
}

func percent(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) + "%" }

// points writes a difference of rates in percentage points, signed.
func points(v float64) string {
	s := strconv.FormatFloat(100*v, 'f', 2, 64)
	if v >= 0 {
		s = "+" + s
	}
	return s + " pt"
}

func pvalue(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

func money(v float64) string {
	whole := math.Trunc(v)
	cents := int64(math.Round((v - whole) * 100))
	if cents == 100 {
		whole, cents = whole+1, 0
	}
	return fmt.Sprintf("%s.%02d", thousands(int64(whole)), cents)
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
