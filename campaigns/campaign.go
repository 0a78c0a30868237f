package campaigns

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tidings/tidings/calendar"
	"github.com/tidings/tidings/internal/typo"
)

// Kind is what triggers a campaign.
type Kind string

// Campaign kinds.
const (
	KindHoliday  Kind = "holiday"  // fires on explicit dates and named holidays
	KindBirthday Kind = "birthday" // fires daily for customers whose birthday is today
	KindProduct  Kind = "product"  // fires once, at a given time
)

// Channels lists the delivery channels a campaign can name.
var Channels = []string{"email", "sms"}

// Delivery modes.
const (
	DeliveryFirst = "first" // the first channel in the list the customer can receive
	DeliveryAll   = "all"   // every channel in the list the customer can receive
)

var (
	nameRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	prefixRe   = regexp.MustCompile(`^[A-Z0-9]{1,12}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Segment is a named audience: a condition over the customer database.
type Segment struct {
	Name        string
	Description string
	Where       Condition
	File        string
	At          Pos // the position of its name
}

// Campaign is one campaign file.
type Campaign struct {
	Name        string
	Description string
	Kind        Kind
	Enabled     bool
	Schedule    Schedule
	// Audience is the segment the campaign targets: a named one or the
	// campaign's own inline `where`.
	Audience    *Segment
	Channels    []string
	Delivery    string
	Template    string
	SendWindow  *Window
	SendAtLocal *Clock
	Dates       []Date
	At          time.Time // product launches
	Gift        *Gift
	// Holidays are the named holidays a holiday campaign lists (package
	// calendar). Dates holds their dates in every year the calendar
	// covers, with the listed `dates`: the days it fires, sorted, each once.
	Holidays []string
	// Priority picks the queue: high, normal (default) or low. Workers
	// serve queues by weight, so a big low-priority mailer cannot starve a
	// small greeting.
	Priority string
	// SMSMaxSegments limits the billable parts of the campaign's SMS
	// (0: channels.sms.max_segments of tidings.yaml).
	SMSMaxSegments int
	// FrequencyCap overrides tidings.yaml's for this campaign (zero: use it).
	FrequencyCap FrequencyCap
	// FollowUps remind a product launch's non-responders (see FollowUp).
	FollowUps []FollowUp
	File      string
	Pos       Pos

	followUp int // ForRun's view of the n-th follow-up (1-based), or 0
}

// Priorities, highest first.
var Priorities = []string{"high", "normal", "low"}

// Schedule is when a campaign fires: a cron expression in a time zone.
type Schedule struct {
	Cron     string
	TimeZone string
	Location *time.Location
	Parsed   cron.Schedule // nil when Cron is empty
}

// Clock is a time of day, in minutes after midnight.
type Clock int

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Window is a daily local-time window [Start, End). End before Start spans
// midnight; a file says so with "overnight" (see parseWindow).
type Window struct {
	Start, End Clock
}

// String is the window as a campaign file writes it: "09:00-21:00", or
// "21:00-09:00 overnight".
func (w Window) String() string {
	s := w.Start.String() + "-" + w.End.String()
	if w.End < w.Start {
		s += " " + overnightMarker
	}
	return s
}

// Date is a calendar date with no time zone.
type Date = calendar.Date

// Gift is what a gift campaign hands out.
type Gift struct {
	Coupon *Coupon
}

// Coupon describes a gift coupon: its code prefix, face value and validity.
type Coupon struct {
	Prefix    string
	Amount    float64
	Currency  string
	ValidDays int
}

// Condition is the campaign's full audience condition: its segment, and for
// birthday campaigns, a birthday today in the customer's own time zone (or
// within two days, with a send window: see delivery.BirthdayDue).
func (c *Campaign) Condition() Condition {
	segment := &Ref{At: c.Audience.At, Name: c.Audience.Name, Segment: c.Audience}
	if c.followUp > 0 {
		return c.followUpCondition(segment)
	}
	if c.Kind == KindBirthday {
		var birthday Condition = &BirthdayIn{At: c.Pos, Days: 0}
		if c.SendWindow != nil || c.SendAtLocal != nil {
			// With a send window a run takes those whose window opens on
			// their birthday before the next day's run, so the candidates
			// are the birthdays of the next three local dates (see
			// delivery.BirthdayDue).
			birthday = &Any{At: c.Pos, Of: []Condition{birthday, &BirthdayIn{At: c.Pos, Days: 1}, &BirthdayIn{At: c.Pos, Days: 2}}}
		}
		return &All{At: c.Pos, Of: []Condition{segment, birthday}}
	}
	return segment
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// segment decodes a segment file.
func (d decoder) segment(file string, n *node) *Segment {
	s := &Segment{File: file, At: Pos{file, 1, 1}}
	var where *node
	d.fields(n, "segment", map[string]func(*node){
		"name":        func(v *node) { s.Name, s.At = d.name(v, "name"), v.pos },
		"description": func(v *node) { s.Description, _ = d.str(v, "description") },
		"where":       func(v *node) { where = v },
	})
	if n.kind != mapNode {
		return nil
	}
	d.require(n, "name", "segment")
	if d.require(n, "where", "segment") && where != nil {
		s.Where = d.condition(where, "where")
	}
	return s
}

// require reports a missing key, unless a misspelling of it was already
// reported as an unknown key. It returns whether the key is present.
func (d decoder) require(n *node, key, what string) bool {
	if d.has(n, key) {
		return true
	}
	for _, p := range n.pairs {
		if typo.Close(typo.Distance(p.key.value, key), key) {
			return false
		}
	}
	d.errorf(n, "", "%s: missing %s", what, key)
	return false
}

func (d decoder) has(n *node, key string) bool {
	for _, p := range n.pairs {
		if p.key.value == key {
			return true
		}
	}
	return false
}

func (d decoder) name(v *node, what string) string {
	s, ok := d.str(v, what)
	if !ok {
		return ""
	}
	if !nameRe.MatchString(s) {
		d.errorf(v, "use lower-case letters, digits, - and _, such as spring-festival", "%s: bad name %q", what, s)
		return ""
	}
	return s
}

// campaign decodes a campaign file. Cross-file checks (the segment and
// template exist, names are unique) are the loader's.
func (d decoder) campaign(file string, n *node, defaultZone string) (*Campaign, *node) {
	c := &Campaign{File: file, Pos: Pos{file, 1, 1}, Enabled: true, Delivery: DeliveryFirst, Priority: "normal"}
	var audience, schedule, at, templateNode *node
	d.fields(n, "campaign", map[string]func(*node){
		"name":          func(v *node) { c.Name, c.Pos = d.name(v, "name"), v.pos },
		"description":   func(v *node) { c.Description, _ = d.str(v, "description") },
		"kind":          func(v *node) { c.Kind = d.kind(v) },
		"enabled":       func(v *node) { c.Enabled, _ = d.boolean(v, "enabled") },
		"schedule":      func(v *node) { schedule = v },
		"audience":      func(v *node) { audience = v },
		"channels":      func(v *node) { c.Channels = d.channels(v) },
		"delivery":      func(v *node) { c.Delivery = d.delivery(v) },
		"template":      func(v *node) { c.Template, templateNode = d.name(v, "template"), v },
		"send_window":   func(v *node) { c.SendWindow = d.window(v) },
		"send_at_local": func(v *node) { c.SendAtLocal = d.clock(v, "send_at_local") },
		"dates":         func(v *node) { c.Dates = d.dates(v) },
		"holidays":      func(v *node) { c.Holidays = d.holidays(v) },
		"at":            func(v *node) { at = v },
		"gift":          func(v *node) { c.Gift = d.gift(v) },
		"follow_ups":    func(v *node) { c.FollowUps = d.followUps(v) },
		"frequency_cap": func(v *node) { d.frequencyCap(v, "frequency_cap", &c.FrequencyCap) },
		"sms_max_segments": func(v *node) {
			d.intRange(v, "sms_max_segments", 1, 10, &c.SMSMaxSegments)
		},
		"priority": func(v *node) {
			p, ok := d.str(v, "priority")
			if ok && !slices.Contains(Priorities, p) {
				d.errorf(v, "priorities: high, normal, low", "priority: unknown priority %q", p)
				return
			}
			if ok {
				c.Priority = p
			}
		},
	})
	if n.kind != mapNode {
		return nil, nil
	}
	for _, key := range []string{"name", "kind", "audience", "channels", "template"} {
		d.require(n, key, "campaign")
	}
	c.Schedule.TimeZone = defaultZone
	if schedule != nil {
		d.schedule(schedule, &c.Schedule)
	}
	if c.Schedule.Location == nil {
		c.Schedule.Location, _ = time.LoadLocation(c.Schedule.TimeZone)
	}
	if audience != nil {
		c.Audience = d.audience(file, audience, c.Name)
	}
	if at != nil && c.Schedule.Location != nil {
		c.At = d.instant(at, "at", c.Schedule.Location)
	}
	if c.SendWindow != nil && c.SendAtLocal != nil {
		d.errorf(n, "send_at_local already fixes the local time", "campaign: send_window and send_at_local cannot both be set")
	}
	if c.Kind != "" { // an unknown kind was reported; its rules would only add noise
		d.kindRules(n, c, schedule, at)
	}
	if c.Kind == KindHoliday {
		c.Dates = withHolidays(c.Dates, c.Holidays)
	}
	return c, templateNode
}

func (d decoder) kind(v *node) Kind {
	s, ok := d.str(v, "kind")
	if !ok {
		return ""
	}
	kinds := []string{string(KindHoliday), string(KindBirthday), string(KindProduct)}
	if !slices.Contains(kinds, s) {
		hint := suggest(s, kinds)
		if hint == "" {
			hint = "kinds: " + strings.Join(kinds, ", ")
		}
		d.errorf(v, hint, "kind: unknown kind %q", s)
		return ""
	}
	return Kind(s)
}

// kindRules checks the keys each kind needs and the ones it cannot use.
func (d decoder) kindRules(n *node, c *Campaign, schedule, at *node) {
	hasCron := c.Schedule.Cron != ""
	switch c.Kind {
	case KindHoliday:
		if !d.has(n, "dates") && !d.has(n, "holidays") {
			d.errorf(n, "holidays: [spring_festival], or dates: [2027-02-06]", "campaign: a holiday campaign needs dates or holidays")
		}
		if !hasCron && (schedule == nil || !d.has(schedule, "cron")) {
			d.errorf(n, "the cron's time of day is when the greeting goes out on each date, e.g. \"0 9 * * *\"", "campaign: a holiday campaign needs schedule.cron")
		}
	case KindBirthday:
		if !hasCron && (schedule == nil || !d.has(schedule, "cron")) {
			d.errorf(n, "a birthday campaign runs daily, e.g. \"0 9 * * *\"", "campaign: a birthday campaign needs schedule.cron")
		}
	case KindProduct:
		if at == nil {
			d.errorf(n, "at: 2027-03-01T10:00:00+08:00", "campaign: a product campaign needs at")
		}
		if hasCron {
			d.errorf(schedule, "a product launch fires once, at `at`; keep schedule.timezone only", "schedule.cron: a product campaign has no cron")
		}
	}
	if c.Kind != KindHoliday {
		for _, p := range n.pairs {
			if (p.key.value == "dates" && c.Dates != nil) || p.key.value == "holidays" {
				d.errorf(p.key, "", "%s: only holiday campaigns have %[1]s", p.key.value)
			}
		}
	}
	if c.Kind != KindProduct && at != nil {
		d.errorf(at, "", "at: only product campaigns have at")
	}
	if c.Kind != KindProduct && c.FollowUps != nil {
		for _, p := range n.pairs {
			if p.key.value == "follow_ups" {
				d.errorf(p.key, "", "follow_ups: only product campaigns have follow-ups")
			}
		}
	}
}

func (d decoder) schedule(n *node, s *Schedule) {
	var cronNode *node
	d.fields(n, "schedule", map[string]func(*node){
		"cron": func(v *node) {
			s.Cron, _ = d.str(v, "schedule.cron")
			cronNode = v
		},
		"timezone": func(v *node) {
			tz, ok := d.str(v, "schedule.timezone")
			if !ok {
				return
			}
			loc, err := loadZone(tz)
			if err != nil {
				d.errorf(v, zoneHint(tz), "schedule.timezone: unknown time zone %q", tz)
				return
			}
			s.TimeZone, s.Location = tz, loc
		},
	})
	if cronNode == nil {
		return
	}
	if strings.TrimSpace(s.Cron) == "" {
		if _, isStr := cronNode.scalar.(string); isStr {
			d.errorf(cronNode, `such as "0 9 * * *"`, "schedule.cron: empty")
		}
		return
	}
	if strings.HasPrefix(s.Cron, "@every") {
		d.errorf(cronNode, `campaigns fire at times of day: use five fields such as "0 9 * * *", or @daily`, "schedule.cron: %q is not supported", s.Cron)
		return
	}
	if strings.HasPrefix(s.Cron, "CRON_TZ=") || strings.HasPrefix(s.Cron, "TZ=") {
		d.errorf(cronNode, "set schedule.timezone instead", "schedule.cron: a time zone prefix is not allowed in %q", s.Cron)
		return
	}
	p, err := cronParser.Parse(s.Cron)
	if err != nil {
		d.errorf(cronNode, `five fields: minute hour day-of-month month day-of-week, such as "0 9 * * *"`, "schedule.cron: bad cron expression %q: %v", s.Cron, err)
		return
	}
	s.Parsed = p
}

func zoneHint(tz string) string {
	if hint := suggest(tz, zoneNames()); hint != "" {
		return hint
	}
	return "use an IANA name such as Asia/Shanghai"
}

// loadZone loads an IANA zone, refusing "Local" and "" whose meaning depends
// on the machine.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return time.LoadLocation(name)
}

func (d decoder) audience(file string, n *node, campaign string) *Segment {
	var seg *Segment
	d.fields(n, "audience", map[string]func(*node){
		"segment": func(v *node) {
			if name, ok := d.str(v, "audience.segment"); ok {
				seg = &Segment{Name: name, At: v.pos, File: file}
			}
		},
		"where": func(v *node) {
			if c := d.condition(v, "audience.where"); c != nil {
				seg = &Segment{Name: campaign + " (inline)", Where: c, At: v.pos, File: file}
			}
		},
	})
	if n.kind == mapNode && d.has(n, "segment") == d.has(n, "where") {
		d.errorf(n, "", "audience: expected exactly one of segment or where")
		return nil
	}
	return seg
}

func (d decoder) channels(n *node) []string { return d.names(n, "channels", "channel", Channels) }

// names decodes a list of names from known (channels, holidays): each
// once, an unknown one refused with the nearest known name as its hint.
func (d decoder) names(n *node, what, noun string, known []string) []string {
	names, nodes, _ := d.strList(n, what)
	var out []string
	for i, name := range names {
		switch {
		case !slices.Contains(known, name):
			hint := suggest(name, known)
			if hint == "" {
				hint = what + ": " + strings.Join(known, ", ")
			}
			d.errorf(nodes[i], hint, "%s[%d]: unknown %s %q", what, i, noun, name)
		case slices.Contains(out, name):
			d.errorf(nodes[i], "", "%s[%d]: %q is listed twice", what, i, name)
		default:
			out = append(out, name)
		}
	}
	if n.kind == seqNode && len(n.items) == 0 {
		d.errorf(n, "", "%s: empty list", what)
	}
	return out
}

func (d decoder) delivery(n *node) string {
	s, ok := d.str(n, "delivery")
	if !ok {
		return DeliveryFirst
	}
	if s != DeliveryFirst && s != DeliveryAll {
		d.errorf(n, "first: the first channel the customer can receive; all: every one", "delivery: unknown mode %q", s)
		return DeliveryFirst
	}
	return s
}

var clockRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

func parseClock(s string) (Clock, bool) {
	m := clockRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	return Clock((int(m[1][0]-'0')*10+int(m[1][1]-'0'))*60 + int(m[2][0]-'0')*10 + int(m[2][1]-'0')), true
}

func (d decoder) clock(n *node, what string) *Clock {
	s, ok := d.str(n, what)
	if !ok {
		return nil
	}
	c, ok := parseClock(s)
	if !ok {
		d.errorf(n, "24-hour HH:MM, such as \"10:00\"", "%s: bad time of day %q", what, s)
		return nil
	}
	return &c
}

// overnightMarker ends a send window that crosses midnight. A window whose
// end comes before its start is otherwise refused: "21:00-09:00" is as
// likely a slip for "09:00-21:00" as a wish to message people at night, and
// the file must say which.
const overnightMarker = "overnight"

// parseWindow parses a send window: "HH:MM-HH:MM" in the recipient's local
// time, the end exclusive, or "HH:MM-HH:MM overnight" for one that crosses
// midnight. The error says what is wrong and how to write it; the caller
// adds where.
func parseWindow(s string) (Window, *windowError) {
	text, overnight := strings.CutSuffix(strings.TrimSpace(s), " "+overnightMarker)
	a, b, found := strings.Cut(text, "-")
	start, ok1 := parseClock(strings.TrimSpace(a))
	end, ok2 := parseClock(strings.TrimSpace(b))
	if !found || !ok1 || !ok2 {
		return Window{}, &windowError{fmt.Sprintf("bad window %q", s),
			`HH:MM-HH:MM in the recipient's local time, such as "09:00-21:00", or "21:00-09:00 overnight" across midnight`}
	}
	w := Window{Start: start, End: end}
	plain := w.Start.String() + "-" + w.End.String()
	switch {
	case start == end:
		return Window{}, &windowError{fmt.Sprintf("%q is empty", s), "remove send_window to send at any time of day"}
	case end < start && !overnight:
		return Window{}, &windowError{fmt.Sprintf("%q ends before it starts", s),
			fmt.Sprintf("if you mean overnight, write %q; for the day, %q", plain+" "+overnightMarker, w.End.String()+"-"+w.Start.String())}
	case end > start && overnight:
		return Window{}, &windowError{fmt.Sprintf("%q does not cross midnight", s), fmt.Sprintf("write %q", plain)}
	}
	return w, nil
}

// windowError is a send window's problem and the hint to fix it.
type windowError struct{ msg, hint string }

func (d decoder) window(n *node) *Window {
	s, ok := d.str(n, "send_window")
	if !ok {
		return nil
	}
	w, err := parseWindow(s)
	if err != nil {
		d.errorf(n, err.hint, "send_window: %s", err.msg)
		return nil
	}
	return &w
}

func (d decoder) dates(n *node) []Date {
	items, ok := d.list(n, "dates")
	if !ok {
		return nil
	}
	out := []Date{}
	for i, it := range items {
		what := fmt.Sprintf("dates[%d]", i)
		s, ok := d.str(it, what)
		if !ok {
			continue
		}
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			d.errorf(it, "YYYY-MM-DD", "%s: bad date %q", what, s)
			continue
		}
		date := Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
		if slices.Contains(out, date) {
			d.errorf(it, "", "%s: %s is listed twice", what, s)
			continue
		}
		out = append(out, date)
	}
	if len(items) == 0 {
		d.errorf(n, "", "dates: empty list")
	}
	return out
}

// holidays decodes the names of holidays in package calendar.
func (d decoder) holidays(n *node) []string {
	return d.names(n, "holidays", "holiday", calendar.Names())
}

// withHolidays returns dates with the dates of the named holidays in every
// year the calendar covers: sorted, each once (a date may be both listed
// and a holiday's).
func withHolidays(dates []Date, holidays []string) []Date {
	out := slices.Clone(dates)
	for _, h := range holidays {
		out = append(out, calendar.Dates(h)...)
	}
	slices.SortFunc(out, func(a, b Date) int {
		return cmp.Or(cmp.Compare(a.Year, b.Year), cmp.Compare(a.Month, b.Month), cmp.Compare(a.Day, b.Day))
	})
	return slices.Compact(out)
}

// instant decodes a point in time: RFC 3339, or "YYYY-MM-DD HH:MM" in the
// campaign's time zone.
func (d decoder) instant(n *node, what string, loc *time.Location) time.Time {
	s, ok := d.str(n, what)
	if !ok {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, loc); err == nil {
		return t
	}
	d.errorf(n, "2027-03-01T10:00:00+08:00, or 2027-03-01 10:00 in schedule.timezone", "%s: bad time %q", what, s)
	return time.Time{}
}

func (d decoder) gift(n *node) *Gift {
	g := &Gift{}
	d.fields(n, "gift", map[string]func(*node){
		"coupon": func(v *node) {
			c := &Coupon{ValidDays: 30}
			d.fields(v, "gift.coupon", map[string]func(*node){
				"prefix": func(x *node) {
					s, ok := d.str(x, "gift.coupon.prefix")
					if ok && !prefixRe.MatchString(s) {
						d.errorf(x, "1 to 12 upper-case letters and digits", "gift.coupon.prefix: bad prefix %q", s)
					}
					c.Prefix = s
				},
				"amount": func(x *node) {
					if f, ok := d.number(x, "gift.coupon.amount"); ok {
						if f <= 0 {
							d.errorf(x, "", "gift.coupon.amount: must be positive")
						}
						c.Amount = f
					}
				},
				"currency": func(x *node) {
					s, ok := d.str(x, "gift.coupon.currency")
					if ok && !currencyRe.MatchString(s) {
						d.errorf(x, "an ISO 4217 code such as CNY or USD", "gift.coupon.currency: bad currency %q", s)
					}
					c.Currency = s
				},
				"valid_days": func(x *node) {
					d.intRange(x, "gift.coupon.valid_days", 1, 3660, &c.ValidDays)
				},
			})
			if v.kind == mapNode {
				for _, key := range []string{"prefix", "amount", "currency"} {
					d.require(v, key, "gift.coupon")
				}
			}
			g.Coupon = c
		},
	})
	if n.kind == mapNode {
		d.require(n, "coupon", "gift")
	}
	return g
}

// SMSSegmentLimit is the most billable parts one of the campaign's SMS may
// have: its sms_max_segments, else channels.sms.max_segments (0: no limit).
func (c *Campaign) SMSSegmentLimit(s SMSSettings) int {
	if c.SMSMaxSegments > 0 {
		return c.SMSMaxSegments
	}
	return s.MaxSegments
}
