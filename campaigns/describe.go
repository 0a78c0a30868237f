package campaigns

import (
	"fmt"
	"strings"
	"time"
)

// Describe says in words what a condition asks for, close to how a segment
// file writes it (`tier in gold, key`, `last_purchase_at within 180d`), for
// explaining why a customer is outside an audience.
func Describe(c Condition) string {
	switch c := c.(type) {
	case *All:
		return "all of (" + describeEach(c.Of) + ")"
	case *Any:
		if n, ok := birthdayRun(c.Of); ok {
			return fmt.Sprintf("a birthday today or in the next %d days (in the customer's time zone)", n)
		}
		return "any of (" + describeEach(c.Of) + ")"
	case *Not:
		return "not " + Describe(c.Cond)
	case *Ref:
		return "segment " + c.Name
	case *Compare:
		field := c.Field
		if len(c.Path) > 0 {
			field += "." + strings.Join(c.Path, ".")
		}
		switch c.Op {
		case OpExists:
			if c.Value == true {
				return field + " set"
			}
			return field + " not set"
		case OpIn, OpNotIn:
			if len(c.Values) == 0 && c.Op == OpIn {
				return field + " in nothing (selects no one)"
			}
			vs := make([]string, len(c.Values))
			for i, v := range c.Values {
				vs[i] = describeValue(v)
			}
			return fmt.Sprintf("%s %s %s", field, strings.ReplaceAll(string(c.Op), "_", " "), strings.Join(vs, ", "))
		}
		return fmt.Sprintf("%s %s %s", field, c.Op, describeValue(c.Value))
	case *Age:
		return fmt.Sprintf("%s %s %s", c.Field, strings.ReplaceAll(string(c.Op), "_", " "), FormatDuration(c.Duration))
	case *TagMatch:
		return fmt.Sprintf("tags %s of %s", c.Op, strings.Join(c.Tags, ", "))
	case *BirthdayIn:
		switch c.Days {
		case 0:
			return "a birthday today (in the customer's time zone)"
		case 1:
			return "a birthday tomorrow (in the customer's time zone)"
		}
		return fmt.Sprintf("a birthday in %d days (in the customer's time zone)", c.Days)
	case *Received:
		return fmt.Sprintf("was sent %s %s", c.Campaign, c.Occurrence)
	}
	return fmt.Sprintf("%T", c)
}

// birthdayRun reports whether cs are birthdays in 0, 1, … n days (a
// birthday campaign's candidates with a send window), and n.
func birthdayRun(cs []Condition) (int, bool) {
	for i, c := range cs {
		if b, ok := c.(*BirthdayIn); !ok || b.Days != i {
			return 0, false
		}
	}
	return len(cs) - 1, len(cs) > 1
}

// Field is the customer field a condition tests, "" when it tests none or
// several: an `any` or a `not` of tests on one field tests that field.
func Field(c Condition) string {
	switch c := c.(type) {
	case *Compare:
		if len(c.Path) > 0 {
			return c.Field + "." + strings.Join(c.Path, ".")
		}
		return c.Field
	case *Age:
		return c.Field
	case *TagMatch:
		return "tags"
	case *BirthdayIn:
		return "birthday"
	case *Not:
		return Field(c.Cond)
	case *Any:
		return sameField(c.Of)
	case *All:
		return sameField(c.Of)
	}
	return ""
}

func sameField(cs []Condition) string {
	f := ""
	for i, c := range cs {
		g := Field(c)
		if g == "" || (i > 0 && g != f) {
			return ""
		}
		f = g
	}
	return f
}

func describeEach(cs []Condition) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = Describe(c)
	}
	return strings.Join(out, "; ")
}

func describeValue(v any) string {
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}
