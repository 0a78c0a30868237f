package campaigns

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tidings/tidings/internal/typo"
)

// Pos is a position in a configuration file: the file's path as given to the
// loader, and a 1-based line and column.
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
}

// Error is one problem in a configuration file, with the position a marketer
// needs to find it and, where one helps, a hint.
type Error struct {
	Pos  Pos
	Msg  string
	Hint string
}

func (e *Error) Error() string {
	s := e.Pos.String() + ": " + e.Msg
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Errors is every problem found in one load, in file and position order.
// The loader never stops at the first one: a marketer fixes them all at once.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// err returns nil for an empty list, so callers can `return errs.err()`.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return es
}

// suggest returns `did you mean "x"?` for the candidate closest to s, if it
// is close enough to be a likely typo, and "" otherwise.
func suggest(s string, candidates []string) string {
	best := typo.Nearest(s, candidates)
	if best == "" || best == s {
		return ""
	}
	return fmt.Sprintf("did you mean %q?", best)
}
