package campaigns

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LaunchOccurrence is the occurrence of a product campaign's launch.
const LaunchOccurrence = "once"

// FollowUp is a product campaign's reminder to the recipients of its launch
// who have not responded: who were sent the launch message and have no
// purchase recorded since the launch (customers.last_purchase_at, kept
// current by `tidings customers import`). Tidings has no click or open
// tracking, so a purchase is the response it can see; a customer who
// unsubscribed meanwhile is dropped by the usual consent and suppression
// checks.
type FollowUp struct {
	After    time.Duration // after the launch's `at`
	Template string
	Channels []string // nil: the campaign's
	Pos      Pos
}

// followUpPrefix begins the run key of a follow-up: follow-up-N.
const followUpPrefix = "follow-up-"

// FollowUpOccurrence names the run of the n-th follow-up (1-based).
func FollowUpOccurrence(n int) string { return followUpPrefix + strconv.Itoa(n) }

// followUpIndex returns the 1-based follow-up a run key names, or 0.
func followUpIndex(run string) int {
	s, ok := strings.CutPrefix(run, followUpPrefix)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || strconv.Itoa(n) != s { // follow-up-01 is not follow-up-1
		return 0
	}
	return n
}

// IsFollowUpRun reports whether run names a follow-up (follow-up-N), and
// whether the campaign has that follow-up.
func (c *Campaign) IsFollowUpRun(run string) (named, exists bool) {
	if !strings.HasPrefix(run, followUpPrefix) {
		return false, false
	}
	n := followUpIndex(run)
	return true, c.Kind == KindProduct && n >= 1 && n <= len(c.FollowUps)
}

// CouponOccurrence is the occurrence a recipient's coupon code is derived
// from: a follow-up repeats the launch's code rather than handing out a
// second one.
func (c *Campaign) CouponOccurrence(occurrence string) string {
	if c.followUp > 0 {
		return LaunchOccurrence
	}
	return occurrence
}

// ForRun returns the campaign as one of its runs delivers it: a product
// campaign's follow-up run has its own template, channels and audience
// (the launch's non-responders); every other run is the campaign itself.
func (c *Campaign) ForRun(run string) *Campaign {
	n := followUpIndex(run)
	if c.Kind != KindProduct || n < 1 || n > len(c.FollowUps) {
		return c
	}
	f := c.FollowUps[n-1]
	v := *c
	v.Template = f.Template
	if f.Channels != nil {
		v.Channels = f.Channels
	}
	v.followUp = n
	return &v
}

// Variants returns the campaign and each of its follow-ups as ForRun gives
// them, for checks that must cover every template a campaign sends.
func (c *Campaign) Variants() []*Campaign {
	out := []*Campaign{c}
	for i := range c.FollowUps {
		out = append(out, c.ForRun(FollowUpOccurrence(i+1)))
	}
	return out
}

// followUpCondition narrows a follow-up's audience to the launch's
// recipients with no purchase since the launch.
func (c *Campaign) followUpCondition(base Condition) Condition {
	at := c.FollowUps[c.followUp-1].Pos
	return &All{At: at, Of: []Condition{
		base,
		&Received{At: at, Campaign: c.Name, Occurrence: LaunchOccurrence},
		// NOT (purchased at or after the launch): holds for those who never
		// purchased too.
		&Not{At: at, Cond: &Compare{At: at, Field: "last_purchase_at", Type: TypeTime, Op: OpGte, Value: c.At}},
	}}
}

// followUps decodes `follow_ups:`, a list of {after, template, channels}.
func (d decoder) followUps(n *node) []FollowUp {
	items, ok := d.list(n, "follow_ups")
	if !ok {
		return nil
	}
	var out []FollowUp
	var last time.Duration
	for i, it := range items {
		what := fmt.Sprintf("follow_ups[%d]", i)
		f := FollowUp{Pos: it.pos}
		d.fields(it, what, map[string]func(*node){
			"after": func(v *node) {
				s, ok := d.str(v, what+".after")
				if !ok {
					return
				}
				dur, err := ParseDuration(s)
				if err != nil || dur <= 0 {
					d.errorf(v, "such as 3d or 36h, after the launch's at", "%s.after: bad duration %q", what, s)
					return
				}
				if dur <= last {
					d.errorf(v, "list follow-ups in the order they go out", "%s.after: %s is not after the previous follow-up", what, s)
				}
				f.After, last = dur, dur
			},
			"template": func(v *node) { f.Template = d.name(v, what+".template") },
			"channels": func(v *node) { f.Channels = d.channels(v) },
		})
		if it.kind == mapNode && d.require(it, "after", what) && d.require(it, "template", what) {
			out = append(out, f)
		}
	}
	if n.kind == seqNode && len(items) == 0 {
		d.errorf(n, "", "follow_ups: empty list")
	}
	return out
}
