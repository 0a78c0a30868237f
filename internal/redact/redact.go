// Package redact hides secrets in what is printed: logs, errors, String
// methods.
package redact

import (
	"net/url"
	"strings"
)

// URL hides the password of a URL (a database's, Redis', a webhook's) for
// messages and logs.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		return u.Redacted()
	}
	// Unparseable (a stray % in the password), or parsed without the user
	// information it has (a password with a /, ? or # in it reads as the
	// host's end): hide whatever is between the scheme and the last @
	// rather than print it.
	if i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@"); i >= 0 && j > i && !strings.HasPrefix(raw, "sqlite:") {
		return raw[:i+3] + "xxxxx" + raw[j:]
	}
	return raw
}
