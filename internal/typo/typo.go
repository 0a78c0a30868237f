// Package typo finds the word a user probably meant: the "did you mean"
// behind configuration and import errors.
package typo

import (
	"strings"
	"unicode/utf8"
)

// Nearest returns the candidate closest to s, compared without case, if it
// is close enough to be a likely typo of it; otherwise "". A candidate is
// close enough within two edits that leave more of it than they change (two
// edits turn "id" into any two-letter word).
func Nearest(s string, candidates []string) string {
	best, bestDist := "", 3
	ls := strings.ToLower(s)
	for _, c := range candidates {
		if d := Distance(ls, strings.ToLower(c)); d < bestDist && Close(d, c) {
			best, bestDist = c, d
		}
	}
	return best
}

// Close reports whether an edit distance d to candidate is a likely typo.
func Close(d int, candidate string) bool {
	return d <= 2 && d < utf8.RuneCountInString(candidate)
}

// Distance is the Levenshtein edit distance between a and b, in runes.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
