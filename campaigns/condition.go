package campaigns

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidings/tidings/customer"
)

// FieldType is the type of a customer field that segments can test.
type FieldType int

// Field types.
const (
	TypeString FieldType = iota
	TypeInt
	TypeNumber
	TypeTime
	TypeBool
	TypeTier
	// TypeAttribute is a free attribute (`attributes.city`): the value's type
	// comes from the YAML (a string, a number or a boolean).
	TypeAttribute
)

// Fields lists the customer fields a segment can name, with their types.
// The store maps each to a column; a test keeps the two in step.
var Fields = map[string]FieldType{
	"id":               TypeInt,
	"external_id":      TypeString,
	"name":             TypeString,
	"email":            TypeString,
	"phone":            TypeString,
	"locale":           TypeString,
	"timezone":         TypeString,
	"tier":             TypeTier,
	"birth_year":       TypeInt,
	"birth_month":      TypeInt,
	"birth_day":        TypeInt,
	"consent.email":    TypeBool,
	"consent.email_at": TypeTime,
	"consent.sms":      TypeBool,
	"consent.sms_at":   TypeTime,
	"created_at":       TypeTime,
	"last_purchase_at": TypeTime,
	"purchase_count":   TypeInt,
	"total_spent":      TypeNumber,
}

// Op is a comparison operator of a segment condition.
type Op string

// Operators.
const (
	OpEq        Op = "eq"
	OpNe        Op = "ne"
	OpIn        Op = "in"
	OpNotIn     Op = "not_in"
	OpGt        Op = "gt"
	OpGte       Op = "gte"
	OpLt        Op = "lt"
	OpLte       Op = "lte"
	OpExists    Op = "exists"
	OpWithin    Op = "within"
	OpOlderThan Op = "older_than"
	// Tag operators.
	OpAny  Op = "any"
	OpAll  Op = "all"
	OpNone Op = "none"
)

// opsFor lists the operators each field type accepts.
var opsFor = map[FieldType][]Op{
	TypeString:    {OpEq, OpNe, OpIn, OpNotIn, OpGt, OpGte, OpLt, OpLte, OpExists},
	TypeInt:       {OpEq, OpNe, OpIn, OpNotIn, OpGt, OpGte, OpLt, OpLte, OpExists},
	TypeNumber:    {OpEq, OpNe, OpGt, OpGte, OpLt, OpLte, OpExists},
	TypeTime:      {OpGt, OpGte, OpLt, OpLte, OpWithin, OpOlderThan, OpExists},
	TypeBool:      {OpEq, OpNe},
	TypeTier:      {OpEq, OpNe, OpIn, OpNotIn, OpGt, OpGte, OpLt, OpLte, OpExists},
	TypeAttribute: {OpEq, OpNe, OpIn, OpNotIn, OpGt, OpGte, OpLt, OpLte, OpExists},
}

func opList(typ FieldType) string {
	ops := make([]string, len(opsFor[typ]))
	for i, o := range opsFor[typ] {
		ops[i] = string(o)
	}
	return strings.Join(ops, ", ")
}

var allOps = []Op{OpEq, OpNe, OpIn, OpNotIn, OpGt, OpGte, OpLt, OpLte, OpExists, OpWithin, OpOlderThan}

var typeNames = map[FieldType]string{
	TypeString: "a text field", TypeInt: "a whole number", TypeNumber: "a number", TypeTime: "a timestamp",
	TypeBool: "a yes/no field", TypeTier: "the tier", TypeAttribute: "an attribute",
}

// Condition is a node of a segment's condition tree: All, Any, Not, Ref,
// Compare, Age, TagMatch, BirthdayIn, or for follow-ups Received.
type Condition interface {
	Position() Pos
}

// All holds when every one of Of holds.
type All struct {
	At Pos
	Of []Condition
}

// Any holds when at least one of Of holds.
type Any struct {
	At Pos
	Of []Condition
}

// Not holds when Cond does not.
type Not struct {
	At   Pos
	Cond Condition
}

// Ref reuses another segment's condition. The loader resolves Segment.
type Ref struct {
	At      Pos
	Name    string
	Segment *Segment
}

// Compare tests a field against a value (Eq … Lte), a list (In, NotIn), or
// for presence (Exists, with Value a bool). For attributes, Field is
// "attributes" and Path the keys below it. Values are typed: string, int64,
// float64, bool or time.Time.
type Compare struct {
	At     Pos
	Field  string
	Path   []string
	Type   FieldType
	Op     Op
	Value  any
	Values []any
}

// Age tests a timestamp against the evaluation time: Within (at most
// Duration ago) or OlderThan (more than Duration ago). A NULL timestamp
// (never purchased) matches neither.
type Age struct {
	At       Pos
	Field    string
	Op       Op
	Duration time.Duration
}

// TagMatch tests the customer's tags: Any, All or None of Tags.
type TagMatch struct {
	At   Pos
	Op   Op
	Tags []string
}

// BirthdayIn holds for customers whose birthday is Days days from today,
// today being the date in the customer's own time zone. A 29 February
// birthday is celebrated on 28 February in common years.
type BirthdayIn struct {
	At   Pos
	Days int
}

// Received holds for customers who were sent an occurrence of a campaign:
// its ledger has a row in status sent for them. A product launch's
// follow-ups target those who received the launch; segment files cannot
// name it.
type Received struct {
	At         Pos
	Campaign   string
	Occurrence string
}

func (c *Received) Position() Pos { return c.At }

func (c *All) Position() Pos        { return c.At }
func (c *Any) Position() Pos        { return c.At }
func (c *Not) Position() Pos        { return c.At }
func (c *Ref) Position() Pos        { return c.At }
func (c *Compare) Position() Pos    { return c.At }
func (c *Age) Position() Pos        { return c.At }
func (c *TagMatch) Position() Pos   { return c.At }
func (c *BirthdayIn) Position() Pos { return c.At }

var (
	attrKeyRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	tagRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]*$`)
)

// condition decodes one condition mapping. A mapping with several keys is
// the conjunction of them, as in `{tier: gold, locale: zh-CN}`.
func (d decoder) condition(n *node, where string) Condition {
	if n.kind != mapNode {
		d.errorf(n, "write a condition such as `tier: {in: [gold, key]}`", "%s: expected a condition, found %s", where, n.describe())
		return nil
	}
	if len(n.pairs) == 0 {
		d.errorf(n, "", "%s: empty condition", where)
		return nil
	}
	var conds []Condition
	for _, p := range n.pairs {
		if c := d.conditionKey(p.key, p.val, where); c != nil {
			conds = append(conds, c)
		}
	}
	if len(conds) != len(n.pairs) {
		return nil
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return &All{At: n.pos, Of: conds}
}

func (d decoder) conditionKey(k, v *node, where string) Condition {
	key := k.value
	switch key {
	case "all", "any":
		items, ok := d.list(v, key)
		if !ok {
			return nil
		}
		if len(items) == 0 {
			d.errorf(v, "", "%s: needs at least one condition", key)
			return nil
		}
		var conds []Condition
		for i, it := range items {
			if c := d.condition(it, fmt.Sprintf("%s[%d]", key, i)); c != nil {
				conds = append(conds, c)
			}
		}
		if len(conds) != len(items) {
			return nil
		}
		if key == "all" {
			return &All{At: k.pos, Of: conds}
		}
		return &Any{At: k.pos, Of: conds}
	case "not":
		c := d.condition(v, "not")
		if c == nil {
			return nil
		}
		return &Not{At: k.pos, Cond: c}
	case "segment":
		name, ok := d.str(v, "segment")
		if !ok {
			return nil
		}
		return &Ref{At: v.pos, Name: name}
	case "tags":
		return d.tags(k, v)
	case "birthday":
		return d.birthday(k, v)
	}
	if path, ok := strings.CutPrefix(key, "attributes."); ok {
		keys := strings.Split(path, ".")
		for _, part := range keys {
			if !attrKeyRe.MatchString(part) {
				d.errorf(k, "attribute names use letters, digits, - and _", "bad attribute name %q", key)
				return nil
			}
		}
		return d.compare(k, v, "attributes", keys, TypeAttribute)
	}
	typ, ok := Fields[key]
	if !ok {
		names := []string{"all", "any", "not", "segment", "tags", "birthday"}
		for f := range Fields {
			names = append(names, f)
		}
		hint := suggest(key, names)
		if hint == "" {
			hint = "fields: " + strings.Join(slices.Sorted(slicesKeys(Fields)), ", ") + ", attributes.NAME; or all, any, not, segment, tags, birthday"
		}
		d.errorf(k, hint, "unknown field %q in %s", key, where)
		return nil
	}
	return d.compare(k, v, key, nil, typ)
}

func slicesKeys(m map[string]FieldType) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// compare decodes `field: {op: value, ...}`, or the shorthands `field: value`
// (eq) and `field: [a, b]` (in).
func (d decoder) compare(k, v *node, field string, path []string, typ FieldType) Condition {
	name := k.value
	switch v.kind {
	case scalarNode:
		return d.compareOp(k.pos, name, field, path, typ, OpEq, v)
	case seqNode:
		return d.compareOp(k.pos, name, field, path, typ, OpIn, v)
	case nullNode:
		d.errorf(v, "to test for a missing value write `"+name+": {exists: false}`", "%s: missing value", name)
		return nil
	}
	var conds []Condition
	bad := false
	for _, p := range v.pairs {
		op := Op(p.key.value)
		if !slices.Contains(opsFor[typ], op) {
			ops := strings.Split(opList(typ), ", ")
			list := "operators for " + name + ": " + opList(typ)
			if slices.Contains(allOps, op) {
				d.errorf(p.key, list, "operator %q does not apply to %s, %s", op, name, typeNames[typ])
			} else {
				hint := suggest(string(op), ops)
				if hint == "" {
					hint = list
				}
				d.errorf(p.key, hint, "unknown operator %q for %s", op, name)
			}
			bad = true
			continue
		}
		c := d.compareOp(p.key.pos, name, field, path, typ, op, p.val)
		if c == nil {
			bad = true
			continue
		}
		conds = append(conds, c)
	}
	if bad {
		return nil
	}
	if len(conds) == 0 {
		d.errorf(v, "", "%s: no operator", name)
		return nil
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return &All{At: k.pos, Of: conds}
}

func (d decoder) compareOp(at Pos, name, field string, path []string, typ FieldType, op Op, v *node) Condition {
	what := name + "." + string(op)
	if !slices.Contains(opsFor[typ], op) {
		// Only the shorthands get here: `created_at: "2026-01-01"` is an eq.
		d.errorf(v, "operators for "+name+": "+opList(typ), "%s cannot be compared with %s, %s", name, op, typeNames[typ])
		return nil
	}
	switch op {
	case OpExists:
		b, ok := d.boolean(v, what)
		if !ok {
			return nil
		}
		return &Compare{At: at, Field: field, Path: path, Type: typ, Op: op, Value: b}
	case OpWithin, OpOlderThan:
		s, ok := d.str(v, what)
		if !ok {
			return nil
		}
		dur, err := ParseDuration(s)
		if err != nil {
			d.errorf(v, "write days, weeks or hours, such as 180d, 2w or 12h", "%s: %v", what, err)
			return nil
		}
		return &Age{At: at, Field: field, Op: op, Duration: dur}
	case OpIn, OpNotIn:
		items, ok := d.list(v, what)
		if !ok {
			return nil
		}
		if len(items) == 0 {
			d.errorf(v, "", "%s: empty list", what)
			return nil
		}
		vals := make([]any, 0, len(items))
		for i, it := range items {
			val, ok := d.value(it, fmt.Sprintf("%s[%d]", what, i), typ)
			if !ok {
				return nil
			}
			vals = append(vals, val)
		}
		return &Compare{At: at, Field: field, Path: path, Type: typ, Op: op, Values: vals}
	}
	val, ok := d.value(v, what, typ)
	if !ok {
		return nil
	}
	if typ == TypeTier && op != OpEq && op != OpNe {
		return tierRange(at, op, val.(string))
	}
	if typ == TypeAttribute && op != OpEq && op != OpNe {
		if _, isBool := val.(bool); isBool {
			d.errorf(v, "", "%s: cannot order booleans", what)
			return nil
		}
	}
	return &Compare{At: at, Field: field, Path: path, Type: typ, Op: op, Value: val}
}

// tierRange turns an ordered tier comparison into the list of tiers it means.
// Tiers are ordered best first, so `gte: quality` is gold, key and quality.
func tierRange(at Pos, op Op, tier string) Condition {
	idx := slices.Index(customer.Tiers, customer.Tier(tier))
	var vals []any
	for i, t := range customer.Tiers {
		keep := false
		switch op {
		case OpGt:
			keep = i < idx
		case OpGte:
			keep = i <= idx
		case OpLt:
			keep = i > idx
		case OpLte:
			keep = i >= idx
		}
		if keep {
			vals = append(vals, string(t))
		}
	}
	if len(vals) == 0 {
		// `gt: gold` selects nobody; say so in SQL rather than special-case it.
		return &Compare{At: at, Field: "tier", Type: TypeTier, Op: OpIn, Values: []any{}}
	}
	return &Compare{At: at, Field: "tier", Type: TypeTier, Op: OpIn, Values: vals}
}

// value decodes a comparison value of the field's type.
func (d decoder) value(v *node, what string, typ FieldType) (any, bool) {
	if v.kind != scalarNode {
		d.errorf(v, "", "%s: expected a single value, found %s", what, v.describe())
		return nil, false
	}
	switch typ {
	case TypeString:
		s, ok := v.scalar.(string)
		if !ok {
			d.errorf(v, fmt.Sprintf("quote it: \"%s\"", v.value), "%s: expected a string, found %s", what, v.describe())
			return nil, false
		}
		return s, true
	case TypeInt:
		return d.integer(v, what)
	case TypeNumber:
		return d.number(v, what)
	case TypeBool:
		return d.boolean(v, what)
	case TypeTime:
		s, ok := d.str(v, what)
		if !ok {
			return nil, false
		}
		t, err := parseTimeValue(s)
		if err != nil {
			d.errorf(v, "write a date (2026-02-17) or a time (2026-02-17T09:00:00+08:00)", "%s: %v", what, err)
			return nil, false
		}
		return t, true
	case TypeTier:
		s, ok := d.str(v, what)
		if !ok {
			return nil, false
		}
		if !customer.Tier(s).Valid() {
			names := make([]string, len(customer.Tiers))
			for i, t := range customer.Tiers {
				names[i] = string(t)
			}
			hint := suggest(s, names)
			if hint == "" {
				hint = "tiers: " + strings.Join(names, ", ")
			}
			d.errorf(v, hint, "%s: unknown tier %q", what, s)
			return nil, false
		}
		return s, true
	case TypeAttribute:
		switch x := v.scalar.(type) {
		case int64:
			return float64(x), true
		case float64, bool, string:
			return x, true
		}
	}
	d.errorf(v, "", "%s: unsupported value %s", what, v.describe())
	return nil, false
}

func (d decoder) tags(k, v *node) Condition {
	if v.kind == mapNode && len(v.pairs) != 1 {
		d.errorf(v, "combine several with all: [...]", "tags: expected exactly one of any, all, none")
		return nil
	}
	var out *TagMatch
	d.fields(v, "tags", map[string]func(*node){
		"any":  func(n *node) { out = d.tagList(k, n, OpAny) },
		"all":  func(n *node) { out = d.tagList(k, n, OpAll) },
		"none": func(n *node) { out = d.tagList(k, n, OpNone) },
	})
	if out == nil { // not a typed nil in the interface
		return nil
	}
	return out
}

func (d decoder) tagList(k, n *node, op Op) *TagMatch {
	what := "tags." + string(op)
	tags, nodes, ok := d.strList(n, what)
	if !ok {
		return nil
	}
	if len(tags) == 0 {
		d.errorf(n, "", "%s: empty list", what)
		return nil
	}
	var uniq []string
	for i, t := range tags {
		if !tagRe.MatchString(t) {
			d.errorf(nodes[i], "tags are lower-case: letters, digits, _ . : -", "%s: bad tag %q", what, t)
			return nil
		}
		if !slices.Contains(uniq, t) { // `all: [vip, vip]` must not need two vip tags
			uniq = append(uniq, t)
		}
	}
	return &TagMatch{At: k.pos, Op: op, Tags: uniq}
}

func (d decoder) birthday(k, v *node) Condition {
	if v.kind == mapNode && len(v.pairs) == 0 {
		d.errorf(v, "", "birthday: expected in_days")
		return nil
	}
	var out *BirthdayIn
	d.fields(v, "birthday", map[string]func(*node){
		"in_days": func(n *node) {
			i, ok := d.integer(n, "birthday.in_days")
			if !ok {
				return
			}
			if i < 0 || i > 366 {
				d.errorf(n, "0 is today, 1 tomorrow", "birthday.in_days: %d is out of range 0..366", i)
				return
			}
			out = &BirthdayIn{At: k.pos, Days: int(i)}
		},
	})
	if out == nil {
		return nil
	}
	return out
}

// maxDuration keeps durations far from time.Duration's 292-year limit.
const maxDuration = 100 * 365 * 24 * time.Hour

// FormatDuration writes a duration as the configuration files do: whole
// days as 180d, whole hours as 36h, anything else in Go's notation.
func FormatDuration(d time.Duration) string {
	switch {
	case d != 0 && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d != 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// ParseDuration parses a duration written as a sequence of whole numbers with
// units w (weeks), d (days) and h (hours): "180d", "2w", "1d12h". Months and
// years are refused: they have no fixed length, and "6m" would be ambiguous.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("bad duration %q", s)
	if s == "" {
		return 0, bad
	}
	var total time.Duration
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) || i > 5 {
			return 0, bad
		}
		n, _ := strconv.Atoi(rest[:i])
		var unit time.Duration
		switch rest[i] {
		case 'w':
			unit = 7 * 24 * time.Hour
		case 'd':
			unit = 24 * time.Hour
		case 'h':
			unit = time.Hour
		case 'm', 'M', 'y':
			return 0, fmt.Errorf("bad duration %q: months and years have no fixed length", s)
		default:
			return 0, bad
		}
		total += time.Duration(n) * unit
		if total > maxDuration {
			return 0, fmt.Errorf("bad duration %q: longer than 100 years", s)
		}
		rest = rest[i+1:]
	}
	return total, nil
}

func parseTimeValue(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("bad date or time %q", s)
}
