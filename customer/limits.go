package customer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on one customer's fields, in characters, as an import checks them.
// They are far above real data (the longest IANA zone name is 32
// characters, an email address cannot pass 254) and far below what breaks
// a message: a whole document pasted into a name cell, say, which would
// otherwise become every greeting's first line.
const (
	MaxExternalIDLen    = 128
	MaxNameLen          = 200
	MaxEmailLen         = 254 // RFC 5321's limit on a path, without the angle brackets
	MaxPhoneLen         = 32  // as written; E.164 has at most 15 digits
	MaxLocaleLen        = 35  // what RFC 5646 asks every implementation to take
	MaxTags             = 50
	MaxTagLen           = 64
	MaxTagsLen          = MaxTags*(MaxTagLen+1) - 1 // 50 tags of 64 and their separators
	MaxAttributes       = 50                        // attributes.NAME columns in a file
	MaxAttributeNameLen = 64
	MaxAttributeLen     = 1000
	maxOtherLen         = 64 // dates, numbers, yes/no, tier, time zone
)

// maxLen is the longest value a column of field f takes.
func maxLen(f field) int {
	switch f {
	case fExternalID:
		return MaxExternalIDLen
	case fName:
		return MaxNameLen
	case fEmail:
		return MaxEmailLen
	case fPhone:
		return MaxPhoneLen
	case fLocale:
		return MaxLocaleLen
	case fTags:
		return MaxTagsLen
	case fAttribute:
		return MaxAttributeLen
	}
	return maxOtherLen
}

// badText explains why v cannot be the value of a column of field f, or
// returns "". The value itself is left out of the reason: it is not text,
// or too long to repeat.
func badText(v string, f field) string {
	if !utf8.ValidString(v) {
		for i := 0; i < len(v); {
			r, size := utf8.DecodeRuneInString(v[i:])
			if r == utf8.RuneError && size == 1 {
				return fmt.Sprintf(`not UTF-8 (byte 0x%02x at byte %d of the field): save the file as UTF-8 ("CSV UTF-8" in Excel)`, v[i], i+1)
			}
			i += size
		}
	}
	if strings.IndexByte(v, 0) >= 0 {
		return "contains a NUL byte"
	}
	if n, limit := utf8.RuneCountInString(v), maxLen(f); n > limit {
		return fmt.Sprintf("too long: %d characters, at most %d", n, limit)
	}
	return ""
}
