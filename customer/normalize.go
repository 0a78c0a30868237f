package customer

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Normalizer turns contact data as people type it into the canonical form
// stored on a [Customer].
type Normalizer struct {
	// DefaultRegion is the ISO 3166 region ("CN", "US") assumed for a phone
	// number written without a leading + and country code.
	DefaultRegion string
	// Now is the present an import checks dates against: timestamps
	// more than a day after it, and birthdays after it, are refused.
	// The zero Time means the clock.
	Now time.Time
}

// Phone returns s in E.164 form ("+8613812345678"), or "" for a blank s.
// The number must be valid, not merely well formed, for its region, so that
// typos are caught at import instead of as undeliverable messages.
func (n Normalizer) Phone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	international := strings.HasPrefix(s, "+")
	num, err := phonenumbers.Parse(s, n.DefaultRegion)
	switch {
	case err == nil:
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode) && !international && n.DefaultRegion == "":
		return "", errors.New("not a phone number (no default region: write it with + and the country code)")
	default:
		return "", errors.New("not a phone number")
	}
	if !phonenumbers.IsValidNumber(num) {
		if international || n.DefaultRegion == "" {
			return "", errors.New("not a valid phone number")
		}
		return "", fmt.Errorf("not a valid phone number for region %s", n.DefaultRegion)
	}
	if num.GetExtension() != "" {
		// An extension cannot receive an SMS and E.164 has no room for it.
		return "", errors.New("phone extensions are not supported")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// PhoneRegion returns the ISO 3166 region of an E.164 number ("US", "CA",
// "CN"), or "" when s is not a number. A number whose region libphonenumber
// cannot tell (an area code not yet assigned, a range it does not know)
// belongs to its country code's main region: +1 to "US", +44 to "GB".
func PhoneRegion(s string) string {
	num, err := phonenumbers.Parse(s, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" {
		return r
	}
	if r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())); r != phonenumbers.UNKNOWN_REGION {
		return r
	}
	return ""
}

// OneLine returns a name as a message shows it: each run of spaces, line
// breaks and other control characters one space, none at either end. The
// import refuses a name with a line break, but one written to the database
// another way ("Li\r\nWei") is sent to as "Li Wei" rather than failing its
// recipient (an email subject with a line break is refused).
func OneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
}

var errEmail = errors.New("not a valid email address")

// Email returns s with its domain lower-cased, or "" for a blank s. Only a
// bare address is accepted: no display name, no angle brackets, no
// whitespace. The local part keeps its case because, strictly, only the
// receiving server may decide that it does not matter.
func (n Normalizer) Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > MaxEmailLen || strings.Count(s, "@") != 1 {
		return "", errEmail
	}
	// The address ends up in SMTP headers: refuse anything that could start
	// a new header line or hide in one.
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", errEmail
		}
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", errEmail
	}
	at := strings.IndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if !validDomain(domain) {
		return "", errEmail
	}
	return local + "@" + strings.ToLower(domain), nil
}

// validDomain reports whether d is a host name with at least two labels.
// Internationalized names are allowed; address literals are not.
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}

// TimeZone returns s if it names an IANA time zone, or "" for a blank s.
// "Local" is refused: it means the server's zone, which is not a property of
// the customer.
func TimeZone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if s == "Local" {
		return "", errTimeZone
	}
	if _, err := time.LoadLocation(s); err != nil {
		return "", errTimeZone
	}
	return s, nil
}

var errTimeZone = errors.New("unknown time zone (use an IANA name such as Asia/Shanghai)")

// LocaleFallbacks returns the keys to look a locale up by, most specific
// first and always ending with "" for the default: "zh_Hant-TW" gives
// zh-hant-tw, zh-hant, zh, "". Keys are lower case, with "-" between parts.
func LocaleFallbacks(locale string) []string {
	l := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(locale), "_", "-"))
	var keys []string
	for l != "" {
		keys = append(keys, l)
		i := strings.LastIndexByte(l, '-')
		if i < 0 {
			break
		}
		l = l[:i]
	}
	return append(keys, "")
}

// Locale returns s as a BCP 47 language tag with conventional case
// ("zh_cn" becomes "zh-CN"), or "" for a blank s. Only the shape is checked,
// not whether the language or region exists.
func Locale(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	if len(parts) == 0 || len(parts) != strings.Count(s, "-")+strings.Count(s, "_")+1 {
		return "", errLocale
	}
	if l := len(parts[0]); l < 2 || l > 3 || !isASCIIAlnum(parts[0], false) {
		return "", errLocale
	}
	parts[0] = strings.ToLower(parts[0])
	for i, p := range parts[1:] {
		if len(p) > 8 || !isASCIIAlnum(p, true) {
			return "", errLocale
		}
		switch {
		case len(p) == 2 && isASCIIAlnum(p, false): // region
			parts[i+1] = strings.ToUpper(p)
		case len(p) == 4 && isASCIIAlnum(p, false): // script
			parts[i+1] = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
		default:
			parts[i+1] = strings.ToLower(p)
		}
	}
	return strings.Join(parts, "-"), nil
}

var errLocale = errors.New("not a locale (use a language tag such as zh-CN or en-US)")

// isASCIIAlnum reports whether s is non-empty and made of ASCII letters, and
// of digits too if digits is set.
func isASCIIAlnum(s string, digits bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case digits && '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}

// ParseBirthday parses "YYYY-MM-DD", or "MM-DD" or "--MM-DD" (ISO 8601's
// form for a date without a year) when the year is unknown. A blank s gives
// the zero Birthday. 29 February is accepted without a year, and with one
// only if it is a leap year.
func ParseBirthday(s string) (Birthday, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Birthday{}, nil
	}
	var b Birthday
	md := s
	switch {
	case len(s) == 10 && s[4] == '-':
		y, ok := atoiDigits(s[:4])
		if !ok || y == 0 {
			return Birthday{}, errBirthdayFormat
		}
		b.Year = y
		md = s[5:]
	case len(s) == 7 && strings.HasPrefix(s, "--"):
		md = s[2:]
	}
	if len(md) != 5 || md[2] != '-' {
		return Birthday{}, errBirthdayFormat
	}
	m, ok1 := atoiDigits(md[:2])
	d, ok2 := atoiDigits(md[3:])
	if !ok1 || !ok2 {
		return Birthday{}, errBirthdayFormat
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), b.Year) {
		return Birthday{}, fmt.Errorf("no such date: %s", s)
	}
	b.Month, b.Day = time.Month(m), d
	return b, nil
}

var errBirthdayFormat = errors.New("not a birthday (use YYYY-MM-DD, or MM-DD if the year is unknown)")

// daysIn returns the number of days in month m of year y; y == 0 means any
// year, so February has 29 days.
func daysIn(m time.Month, y int) int {
	if m == time.February && y == 0 {
		return 29
	}
	// Day 0 of the next month is the last day of this one.
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// atoiDigits parses s, which must be only ASCII digits.
func atoiDigits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// String formats b as ParseBirthday accepts it: "1990-05-17", or "--05-17"
// without a year, or "" if b is zero.
func (b Birthday) String() string {
	switch {
	case b.IsZero():
		return ""
	case b.Year == 0:
		return fmt.Sprintf("--%02d-%02d", int(b.Month), b.Day)
	default:
		return fmt.Sprintf("%04d-%02d-%02d", b.Year, int(b.Month), b.Day)
	}
}

// tierNames maps the Chinese names used in database-marketing practice to
// tiers.
var tierNames = map[string]Tier{
	"黄金": TierGold,
	"重点": TierKey,
	"优质": TierQuality,
	"一般": TierGeneral,
	"限制": TierRestricted,
	"淘汰": TierEliminated,
}

// ParseTier parses a tier by its English name, in any case, or its Chinese
// name. A blank s gives "", meaning not classified yet.
func ParseTier(s string) (Tier, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if t := Tier(strings.ToLower(s)); t.Valid() {
		return t, nil
	}
	if t, ok := tierNames[s]; ok {
		return t, nil
	}
	return "", errTier
}

var errTier = errors.New("unknown tier (use gold, key, quality, general, restricted or eliminated, or 黄金, 重点, 优质, 一般, 限制 or 淘汰)")

// ParseBool parses a yes/no field such as a consent flag: true, false, yes,
// no, y, n, 1, 0 in any case, or 是 and 否. A blank s is false: consent that
// was not recorded was not given.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "1", "是":
		return true, nil
	case "false", "no", "n", "0", "否", "":
		return false, nil
	}
	return false, errors.New("not a yes/no value (use yes or no, true or false, 1 or 0)")
}
