package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/customer"
)

// column describes how a segment field maps to SQL.
type column struct {
	expr     string
	nullable bool // NULL means "not set"
	empty    bool // '' means "not set" (name is NOT NULL DEFAULT '')
	time     bool
}

// columns maps every segment field of campaigns.Fields to its column.
var columns = map[string]column{
	"id":               {expr: "c.id"},
	"external_id":      {expr: "c.external_id"},
	"name":             {expr: "c.name", empty: true},
	"email":            {expr: "c.email", nullable: true},
	"phone":            {expr: "c.phone", nullable: true},
	"locale":           {expr: "c.locale", nullable: true},
	"timezone":         {expr: "c.timezone", nullable: true},
	"tier":             {expr: "c.tier"},
	"birth_year":       {expr: "c.birth_year", nullable: true},
	"birth_month":      {expr: "c.birth_month", nullable: true},
	"birth_day":        {expr: "c.birth_day", nullable: true},
	"consent.email":    {expr: "c.email_consent"},
	"consent.email_at": {expr: "c.email_consent_at", nullable: true, time: true},
	"consent.sms":      {expr: "c.sms_consent"},
	"consent.sms_at":   {expr: "c.sms_consent_at", nullable: true, time: true},
	"created_at":       {expr: "c.created_at", time: true},
	"last_purchase_at": {expr: "c.last_purchase_at", nullable: true, time: true},
	"purchase_count":   {expr: "c.purchase_count"},
	"total_spent":      {expr: "c.total_spent"},
}

// AudienceOptions fix what "now" and "today" mean when a segment is evaluated.
type AudienceOptions struct {
	// Now is the evaluation time for within/older_than and birthdays.
	Now time.Time
	// DefaultZone is the time zone of customers who have none (the
	// campaign's own zone, or the configured default).
	DefaultZone *time.Location
}

// Audience is a segment compiled for one database at one moment: a WHERE
// clause over customers aliased c, with its bound arguments.
type Audience struct {
	Where string
	Args  []any
}

// Compile turns a condition tree into SQL. Birthday conditions look up the
// time zones present in the database, because "today" differs between them.
func (s *DB) Compile(ctx context.Context, cond campaigns.Condition, opts AudienceOptions) (Audience, error) {
	if opts.Now.IsZero() {
		opts.Now = s.now()
	}
	if opts.DefaultZone == nil {
		opts.DefaultZone = time.UTC
	}
	c := &compiler{s: s, opts: opts, ctx: ctx}
	where, err := c.cond(cond, 0)
	if err != nil {
		return Audience{}, err
	}
	return Audience{Where: where, Args: c.args}, nil
}

type compiler struct {
	s     *DB
	ctx   context.Context
	opts  AudienceOptions
	args  []any
	zones []string // distinct customer time zones, loaded on first need
}

func (c *compiler) arg(v any) string {
	if t, ok := v.(time.Time); ok {
		// Unlike a stored time, a compared one is never NULL, even when zero.
		v = c.s.timeArg(t)
		if t.IsZero() {
			v = c.s.timeArg(t.Add(time.Nanosecond))
		}
	}
	c.args = append(c.args, v)
	return "?"
}

func (c *compiler) list(vs []any) string {
	ph := make([]string, len(vs))
	for i, v := range vs {
		ph[i] = c.arg(v)
	}
	return strings.Join(ph, ", ")
}

// cond compiles one node. Every predicate it emits is TRUE or FALSE, never
// NULL, so NOT means what a marketer expects: `not: {locale: en}` includes
// customers with no locale.
func (c *compiler) cond(n campaigns.Condition, depth int) (string, error) {
	if depth > 64 {
		return "", fmt.Errorf("segment nests too deep (a cycle?)")
	}
	switch n := n.(type) {
	case *campaigns.All:
		return c.join(n.Of, " AND ", depth)
	case *campaigns.Any:
		return c.join(n.Of, " OR ", depth)
	case *campaigns.Not:
		inner, err := c.cond(n.Cond, depth+1)
		if err != nil {
			return "", err
		}
		return "NOT " + inner, nil
	case *campaigns.Ref:
		if n.Segment == nil || n.Segment.Where == nil {
			return "", fmt.Errorf("%s: segment %q is not resolved", n.At, n.Name)
		}
		return c.cond(n.Segment.Where, depth+1)
	case *campaigns.Compare:
		if n.Type == campaigns.TypeAttribute {
			return c.attribute(n)
		}
		return c.compare(n)
	case *campaigns.Age:
		col, ok := columns[n.Field]
		if !ok || !col.time {
			return "", fmt.Errorf("%s: %s is not a timestamp", n.At, n.Field)
		}
		limit := c.opts.Now.Add(-n.Duration)
		if n.Op == campaigns.OpOlderThan {
			return fmt.Sprintf("(%s IS NOT NULL AND %s < %s)", col.expr, col.expr, c.arg(limit)), nil
		}
		// Within is the window before the evaluation instant, bounded at
		// both ends: an audience evaluated in the past (audience --at, a
		// late run) must not count what happened after it.
		return fmt.Sprintf("(%s IS NOT NULL AND %s >= %s AND %s <= %s)", col.expr, col.expr, c.arg(limit), col.expr, c.arg(c.opts.Now)), nil
	case *campaigns.TagMatch:
		return c.tags(n), nil
	case *campaigns.BirthdayIn:
		return c.birthday(n)
	case *campaigns.Received:
		return fmt.Sprintf("(EXISTS (SELECT 1 FROM deliveries d WHERE d.customer_id = c.id AND d.campaign = %s AND d.occurrence = %s AND d.status = 'sent'))",
			c.arg(n.Campaign), c.arg(n.Occurrence)), nil
	}
	return "", fmt.Errorf("unsupported condition %T", n)
}

func (c *compiler) join(conds []campaigns.Condition, sep string, depth int) (string, error) {
	parts := make([]string, 0, len(conds))
	for _, x := range conds {
		p, err := c.cond(x, depth+1)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	return "(" + strings.Join(parts, sep) + ")", nil
}

var sqlOps = map[campaigns.Op]string{
	campaigns.OpEq: "=", campaigns.OpNe: "<>",
	campaigns.OpGt: ">", campaigns.OpGte: ">=", campaigns.OpLt: "<", campaigns.OpLte: "<=",
}

// compare compiles a test on a column. A missing value equals nothing and
// orders against nothing, but is "not equal" to everything: ne and not_in
// match customers without the field, as NOT of eq and in do.
func (c *compiler) compare(n *campaigns.Compare) (string, error) {
	col, ok := columns[n.Field]
	if !ok {
		return "", fmt.Errorf("%s: no column for field %q", n.At, n.Field)
	}
	set := "TRUE"
	switch {
	case col.nullable:
		set = col.expr + " IS NOT NULL"
	case col.empty:
		set = col.expr + " <> ''"
	}
	switch n.Op {
	case campaigns.OpExists:
		if n.Value.(bool) {
			return "(" + set + ")", nil
		}
		return "(NOT (" + set + "))", nil
	case campaigns.OpIn, campaigns.OpNotIn:
		in := "FALSE"
		if len(n.Values) > 0 {
			in = fmt.Sprintf("%s IN (%s)", col.expr, c.list(n.Values))
		}
		if col.nullable || col.empty {
			in = "(" + set + " AND " + in + ")"
		}
		if n.Op == campaigns.OpNotIn {
			return "(NOT " + in + ")", nil
		}
		return "(" + in + ")", nil
	case campaigns.OpNe:
		eq := fmt.Sprintf("%s = %s", col.expr, c.arg(n.Value))
		if col.nullable || col.empty {
			eq = set + " AND " + eq
		}
		return "(NOT (" + eq + "))", nil
	}
	op, ok := sqlOps[n.Op]
	if !ok {
		return "", fmt.Errorf("%s: unsupported operator %s", n.At, n.Op)
	}
	expr := fmt.Sprintf("%s %s %s", col.expr, op, c.arg(n.Value))
	if col.nullable || col.empty {
		expr = set + " AND " + expr
	}
	return "(" + expr + ")", nil
}

// attribute compiles a test on a free attribute. Values compare only with
// values of the same JSON type: {"age": "40"} is not greater than 30.
func (c *compiler) attribute(n *campaigns.Compare) (string, error) {
	switch n.Op {
	case campaigns.OpExists:
		typ := c.jsonType(n.Path)
		if n.Value.(bool) {
			return "(COALESCE(" + typ + ", 'null') <> 'null')", nil
		}
		return "(COALESCE(" + typ + ", 'null') = 'null')", nil
	case campaigns.OpIn, campaigns.OpNotIn:
		parts := make([]string, len(n.Values))
		for i, v := range n.Values {
			parts[i] = c.attrCompare(n.Path, "=", v)
		}
		in := "(" + strings.Join(parts, " OR ") + ")"
		if n.Op == campaigns.OpNotIn {
			return "(NOT " + in + ")", nil
		}
		return in, nil
	case campaigns.OpNe:
		return "(NOT " + c.attrCompare(n.Path, "=", n.Value) + ")", nil
	}
	op, ok := sqlOps[n.Op]
	if !ok {
		return "", fmt.Errorf("%s: unsupported operator %s", n.At, n.Op)
	}
	return c.attrCompare(n.Path, op, n.Value), nil
}

// jsonType is the SQL expression of an attribute's JSON type name, NULL
// when absent. SQLite says integer/real/text/true/false/null, PostgreSQL
// number/string/boolean/null.
func (c *compiler) jsonType(path []string) string {
	if c.s.dialect == SQLite {
		return "json_type(c.attributes, " + c.arg(sqlitePath(path)) + ")"
	}
	return "jsonb_typeof(c.attributes #> " + c.arg(path) + "::text[])"
}

func sqlitePath(path []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, p := range path {
		b.WriteString(`."` + p + `"`) // keys are [A-Za-z0-9_-]+, checked by the loader
	}
	return b.String()
}

func (c *compiler) attrCompare(path []string, op string, v any) string {
	if c.s.dialect == SQLite {
		var types string
		switch v.(type) {
		case string:
			types = "'text'"
		case bool:
			types = "'true', 'false'"
		default:
			types = "'integer', 'real'"
		}
		p := sqlitePath(path)
		return fmt.Sprintf("COALESCE(json_type(c.attributes, %s) IN (%s) AND json_extract(c.attributes, %s) %s %s, FALSE)",
			c.arg(p), types, c.arg(p), op, c.arg(v))
	}
	var typ string
	switch v.(type) {
	case string:
		typ = "string"
	case bool:
		typ = "boolean"
	default:
		typ = "number"
	}
	enc, _ := json.Marshal(v)
	return fmt.Sprintf("COALESCE(jsonb_typeof(c.attributes #> %s::text[]) = '%s' AND c.attributes #> %s::text[] %s %s::jsonb, FALSE)",
		c.arg(path), typ, c.arg(path), op, c.arg(string(enc)))
}

// tags uses IN over the tag index rather than a correlated EXISTS: on a
// million customers SQLite then reads the index once instead of probing it
// per customer.
func (c *compiler) tags(n *campaigns.TagMatch) string {
	vals := make([]any, len(n.Tags))
	for i, t := range n.Tags {
		vals[i] = t
	}
	in := c.list(vals)
	switch n.Op {
	case campaigns.OpAll:
		return fmt.Sprintf("(c.id IN (SELECT t.customer_id FROM customer_tags t WHERE t.tag IN (%s) GROUP BY t.customer_id HAVING COUNT(*) = %d))", in, len(vals))
	case campaigns.OpNone:
		return fmt.Sprintf("(c.id NOT IN (SELECT t.customer_id FROM customer_tags t WHERE t.tag IN (%s)))", in)
	}
	return fmt.Sprintf("(c.id IN (SELECT t.customer_id FROM customer_tags t WHERE t.tag IN (%s)))", in)
}

// birthday compiles "birthday in N days, in the customer's own time zone".
// At any instant the world spans at most three calendar dates, so the
// customers' zones fall into a few groups, each with one target month and
// day: (timezone IN (zones of group) AND birth_month = ? AND birth_day = ?).
// Customers without a zone, or with one this binary doesn't know, use
// DefaultZone. A 29 February birthday is celebrated on 28 February in
// common years, so that it comes once a year and still in February.
func (c *compiler) birthday(n *campaigns.BirthdayIn) (string, error) {
	if c.zones == nil {
		zones, err := c.s.customerZones(c.ctx)
		if err != nil {
			return "", err
		}
		c.zones = zones
	}
	type target struct {
		month time.Month
		day   int
		leap  bool
	}
	targetIn := func(loc *time.Location) target {
		local := c.opts.Now.In(loc)
		d := time.Date(local.Year(), local.Month(), local.Day(), 12, 0, 0, 0, time.UTC).AddDate(0, 0, n.Days)
		return target{d.Month(), d.Day(), customer.IsLeap(d.Year())}
	}
	groups := map[target][]any{}
	var order []target
	add := func(t target, zone any) {
		if _, ok := groups[t]; !ok {
			order = append(order, t)
		}
		groups[t] = append(groups[t], zone)
	}
	defaultTarget := targetIn(c.opts.DefaultZone)
	var unknown []any
	for _, z := range c.zones {
		loc, err := loadLocation(z)
		if err != nil {
			unknown = append(unknown, z)
			continue
		}
		add(targetIn(loc), z)
	}
	if _, ok := groups[defaultTarget]; !ok {
		order = append(order, defaultTarget)
	}
	parts := make([]string, 0, len(order))
	for _, t := range order {
		zones := groups[t]
		var who []string
		if len(zones) > 0 {
			who = append(who, "c.timezone IN ("+c.list(zones)+")")
		}
		if t == defaultTarget {
			who = append(who, "c.timezone IS NULL")
			if len(unknown) > 0 {
				who = append(who, "c.timezone IN ("+c.list(unknown)+")")
			}
		}
		// Arguments are bound in the order their placeholders appear.
		month := c.arg(int(t.month))
		var day string
		if t.month == time.February && t.day == 28 && !t.leap {
			day = "c.birth_day IN (" + c.arg(28) + ", " + c.arg(29) + ")"
		} else {
			day = "c.birth_day = " + c.arg(t.day)
		}
		// COALESCE: `c.timezone IN (…)` is NULL for a customer without a
		// zone, and a NULL here would make `not: {birthday: …}` drop them.
		parts = append(parts, fmt.Sprintf("(COALESCE(%s, FALSE) AND c.birth_month = %s AND %s)", strings.Join(who, " OR "), month, day))
	}
	return "(c.birth_month IS NOT NULL AND c.birth_day IS NOT NULL AND (" + strings.Join(parts, " OR ") + "))", nil
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return time.LoadLocation(name)
}

// customerZones lists the distinct time zones of customers (over the
// timezone index).
func (s *DB) customerZones(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT DISTINCT timezone FROM customers WHERE timezone IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("list time zones: %w", err)
	}
	defer rows.Close()
	zones := []string{}
	for rows.Next() {
		var z string
		if err := rows.Scan(&z); err != nil {
			return nil, err
		}
		zones = append(zones, z)
	}
	slices.Sort(zones)
	return zones, rows.Err()
}

// CountReachable counts the audience members of cond with consent and an
// address on a channel.
func (s *DB) CountReachable(ctx context.Context, cond campaigns.Condition, channel string, opts AudienceOptions) (int64, error) {
	address := map[string]string{"email": "email", "sms": "phone"}[channel]
	if address == "" {
		return 0, fmt.Errorf("reach of channel %q: unknown channel", channel)
	}
	aud, err := s.Compile(ctx, &campaigns.All{Of: []campaigns.Condition{
		cond,
		&campaigns.Compare{Field: "consent." + channel, Type: campaigns.TypeBool, Op: campaigns.OpEq, Value: true},
		&campaigns.Compare{Field: address, Type: campaigns.TypeString, Op: campaigns.OpExists, Value: true},
	}}, opts)
	if err != nil {
		return 0, err
	}
	return s.CountAudience(ctx, aud)
}

// CountAudience counts the customers an audience selects.
func (s *DB) CountAudience(ctx context.Context, a Audience) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.rebind("SELECT COUNT(*) FROM customers c WHERE "+a.Where), a.Args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count audience: %w", err)
	}
	return n, nil
}

// AudiencePage returns up to limit customers of the audience with id > after,
// in id order: keyset pagination, so each page costs the same however deep.
func (s *DB) AudiencePage(ctx context.Context, a Audience, after int64, limit int) ([]customer.Customer, error) {
	args := append(append([]any{}, a.Args...), after, limit)
	return s.queryCustomers(ctx, selectCustomer+" WHERE ("+a.Where+") AND c.id > ? ORDER BY c.id LIMIT ?", args...)
}

// AudienceLocals returns, in id order, up to limit customers of the
// audience with id > after: their ids, with what a send window needs to
// know of them (keyset paging: pass the last id back as after).
func (s *DB) AudienceLocals(ctx context.Context, a Audience, after int64, limit int) ([]Local, error) {
	args := append(append([]any{}, a.Args...), after, limit)
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT c.id, COALESCE(c.timezone, ''), COALESCE(c.birth_month, 0), COALESCE(c.birth_day, 0)
		FROM customers c WHERE (`+a.Where+") AND c.id > ? ORDER BY c.id LIMIT ?"), args...)
	if err != nil {
		return nil, fmt.Errorf("audience page: %w", err)
	}
	defer rows.Close()
	var out []Local
	for rows.Next() {
		var l Local
		var month int
		if err := rows.Scan(&l.ID, &l.Zone, &month, &l.BirthDay); err != nil {
			return nil, err
		}
		l.BirthMonth = time.Month(month)
		out = append(out, l)
	}
	return out, rows.Err()
}
