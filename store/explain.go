package store

import (
	"context"
	"fmt"

	"github.com/tidings/tidings/campaigns"
)

// Unmet is a condition of an audience that a customer does not meet.
type Unmet struct {
	// Segment is the segment the condition belongs to: the innermost one
	// it was reached through ("" for the campaign's own conditions).
	Segment string
	Cond    campaigns.Condition
}

// Unmet returns why a customer is outside cond's audience: the conditions
// they fail, found by evaluating the tree for that customer alone, and
// descending through every `all` and segment reference whose part fails
// (an `any` or a `not` is reported whole: no single part of it is the
// reason). Nil means the customer is in the audience.
func (s *DB) Unmet(ctx context.Context, cond campaigns.Condition, opts AudienceOptions, customerID int64) ([]Unmet, error) {
	var out []Unmet
	var walk func(n campaigns.Condition, segment string, depth int) error
	walk = func(n campaigns.Condition, segment string, depth int) error {
		if depth > 64 {
			return fmt.Errorf("segment nests too deep (a cycle?)")
		}
		ok, err := s.holds(ctx, n, opts, customerID)
		if err != nil || ok {
			return err
		}
		switch n := n.(type) {
		case *campaigns.All:
			for _, x := range n.Of {
				if err := walk(x, segment, depth+1); err != nil {
					return err
				}
			}
			return nil
		case *campaigns.Ref:
			if n.Segment != nil && n.Segment.Where != nil {
				return walk(n.Segment.Where, n.Name, depth+1)
			}
		}
		out = append(out, Unmet{Segment: segment, Cond: n})
		return nil
	}
	if err := walk(cond, "", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// holds evaluates a condition for one customer.
func (s *DB) holds(ctx context.Context, cond campaigns.Condition, opts AudienceOptions, customerID int64) (bool, error) {
	aud, err := s.Compile(ctx, cond, opts)
	if err != nil {
		return false, err
	}
	var n int
	args := append(append([]any{}, aud.Args...), customerID)
	if err := s.db.QueryRowContext(ctx, s.rebind("SELECT COUNT(*) FROM customers c WHERE ("+aud.Where+") AND c.id = ?"), args...).Scan(&n); err != nil {
		return false, fmt.Errorf("evaluate a condition for customer %d: %w", customerID, err)
	}
	return n > 0, nil
}
