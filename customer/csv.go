package customer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tidings/tidings/internal/typo"
)

// RowError is a bad row in a CSV import. The row is skipped; reading can go
// on with the next one.
type RowError struct {
	// Line is the 1-based line in the file where the bad field starts (the
	// header is line 1), or where the row starts if no one field is to blame.
	Line int
	// Column is the header of the bad field as written in the file, or "" if
	// the row as a whole is bad.
	Column string
	// Value is the bad field's content.
	Value  string
	Reason string
}

func (e *RowError) Error() string {
	switch {
	case e.Column == "":
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	case e.Value == "":
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Column, e.Reason)
	default:
		return fmt.Sprintf("line %d: %s %q: %s", e.Line, e.Column, e.Value, e.Reason)
	}
}

// field identifies what a CSV column holds.
type field int

const (
	fExternalID field = iota
	fName
	fEmail
	fPhone
	fLocale
	fTimeZone
	fBirthday
	fTier
	fTags
	fEmailConsent
	fEmailConsentAt
	fSMSConsent
	fSMSConsentAt
	fCreatedAt
	fLastPurchaseAt
	fPurchaseCount
	fTotalSpent
	fAttribute
)

// columnNames maps every accepted header, after canonicalHeader, to its
// field. Aliases are the names other tools export.
var columnNames = map[string]field{
	"external_id":      fExternalID,
	"id":               fExternalID,
	"name":             fName,
	"email":            fEmail,
	"phone":            fPhone,
	"mobile":           fPhone,
	"locale":           fLocale,
	"timezone":         fTimeZone,
	"time_zone":        fTimeZone,
	"tz":               fTimeZone,
	"birthday":         fBirthday,
	"tier":             fTier,
	"tags":             fTags,
	"email_consent":    fEmailConsent,
	"email_consent_at": fEmailConsentAt,
	"sms_consent":      fSMSConsent,
	"sms_consent_at":   fSMSConsentAt,
	"created_at":       fCreatedAt,
	"last_purchase_at": fLastPurchaseAt,
	"purchase_count":   fPurchaseCount,
	"total_spent":      fTotalSpent,
}

// knownColumns is columnNames' keys in a fixed order, so that "did you mean"
// picks the same suggestion every time.
var knownColumns = []string{
	"external_id", "id", "name", "email", "phone", "mobile", "locale",
	"timezone", "time_zone", "tz", "birthday", "tier", "tags",
	"email_consent", "email_consent_at", "sms_consent", "sms_consent_at",
	"created_at", "last_purchase_at", "purchase_count", "total_spent",
}

// attributePrefixes introduce a column whose values go to
// Customer.Attributes under the rest of the header.
var attributePrefixes = []string{"attributes.", "attr."}

// column is one header of the file being read.
type column struct {
	header string // as written, trimmed
	field  field
	attr   string // attribute key, for fAttribute
}

// CSVReader reads customers from a CSV file with a header row.
//
// Every field is trimmed. Rows whose fields are all blank, such as the
// trailing ",,,," rows spreadsheets export, are skipped.
type CSVReader struct {
	csv  *records
	norm Normalizer
	cols []column
	bom  int64 // length of the byte order mark skipped, for BytesRead
}

// utf8BOM is the byte order mark Excel writes at the start of "CSV UTF-8".
const utf8BOM = "\uFEFF"

// NewCSVReader reads the header row from r and returns a reader for the rows
// after it. Columns are matched by name, ignoring case and treating spaces
// and dashes as underscores, so "External ID" is external_id. Every problem
// with the header is reported in one error.
func NewCSVReader(r io.Reader, n Normalizer) (*CSVReader, error) {
	// Skip a byte order mark before the header is read: it would make a
	// quoted first header a bare-quote error.
	br := bufio.NewReader(r)
	var bom int
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		bom, _ = br.Discard(len(utf8BOM))
	}
	cr := newRecords(br)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: no header row")
	}
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	line := cr.FieldLine(0)
	cols, err := parseHeader(header, line)
	if err != nil {
		return nil, err
	}
	return &CSVReader{csv: cr, norm: n, cols: cols, bom: int64(bom)}, nil
}

func parseHeader(header []string, line int) ([]column, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: "+format, append([]any{line}, args...)...))
	}
	cols := make([]column, len(header))
	seen := make(map[string]string) // canonical column name -> first header
	for i, h := range header {
		h = strings.TrimSpace(h)
		cols[i].header = h
		var name string
		switch attr, isAttr := attributeKey(h); {
		case h == "":
			bad("column %d has no name", i+1)
			continue
		case isAttr && !validAttributeKey(attr):
			bad("column %q: attribute name must be letters, digits, _ or -", h)
			continue
		case isAttr && len(attr) > MaxAttributeNameLen:
			bad("column %q: attribute name is %d characters, at most %d", h, len(attr), MaxAttributeNameLen)
			continue
		case isAttr:
			cols[i].field, cols[i].attr = fAttribute, attr
			name = "attributes." + attr
		default:
			f, ok := columnNames[canonicalHeader(h)]
			if !ok {
				bad("%s", unknownColumn(h))
				continue
			}
			cols[i].field, name = f, canonicalName(f)
		}
		if first, dup := seen[name]; dup {
			if first == h {
				bad("duplicate column %q", h)
			} else {
				bad("duplicate column %q (same as %q)", h, first)
			}
			continue
		}
		seen[name] = h
	}
	if _, ok := seen["external_id"]; !ok {
		bad("missing column external_id (or id)")
	}
	attrs := 0
	for _, c := range cols {
		if c.field == fAttribute {
			attrs++
		}
	}
	if attrs > MaxAttributes {
		bad("%d attribute columns, at most %d", attrs, MaxAttributes)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cols, nil
}

// canonicalName returns the first name in knownColumns for f.
func canonicalName(f field) string {
	for _, n := range knownColumns {
		if columnNames[n] == f {
			return n
		}
	}
	panic(fmt.Sprintf("customer: field %d has no column name", f))
}

// canonicalHeader lower-cases h and turns spaces and dashes into
// underscores.
func canonicalHeader(h string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return unicode.ToLower(r)
	}, h)
}

// attributeKey reports whether header h names an attribute, and which.
func attributeKey(h string) (string, bool) {
	for _, p := range attributePrefixes {
		if len(h) >= len(p) && strings.EqualFold(h[:len(p)], p) {
			return h[len(p):], true
		}
	}
	return "", false
}

func validAttributeKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c != '_' && c != '-' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// unknownColumn explains why header h is not accepted and what the user
// probably meant.
func unknownColumn(h string) string {
	msg := fmt.Sprintf("unknown column %q", h)
	c := canonicalHeader(h)
	if s := typo.Nearest(c, knownColumns); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if prefix, rest, ok := strings.Cut(c, "."); ok && validAttributeKey(rest) &&
		(typo.Close(typo.Distance(prefix, "attributes"), "attributes") || typo.Close(typo.Distance(prefix, "attr"), "attr")) {
		return msg + fmt.Sprintf("; did you mean %q?", "attributes."+rest)
	}
	attr := c
	if !validAttributeKey(attr) {
		attr = "<name>"
	}
	return msg + " (to import it as an attribute, name the column attributes." + attr + ")"
}

// BytesRead returns how much of the input has been consumed: the offset of
// the end of the last row read. Together with the file size it gives an
// import's progress.
func (r *CSVReader) BytesRead() int64 { return r.bom + r.csv.Offset() }

// Next returns the next good customer, io.EOF after the last row, or a
// *RowError for a bad row, after which Next may be called again. Any other
// error, such as a failed read from the underlying reader, is fatal.
//
// A bad row costs only itself: after a quoting error, reading resumes on
// the line after the one where the bad row starts (see records).
func (r *CSVReader) Next() (Customer, error) {
	for {
		rec, err := r.csv.Read()
		if err != nil {
			if re, ok := errors.AsType[*recordError](err); ok {
				return Customer{}, &RowError{Line: re.line, Reason: re.reason}
			}
			if errors.Is(err, io.EOF) {
				return Customer{}, io.EOF
			}
			return Customer{}, fmt.Errorf("read csv: %w", err)
		}
		if blank(rec) {
			continue
		}
		line := r.csv.FieldLine(0)
		if len(rec) != len(r.cols) {
			r.csv.Reject(len(r.cols))
			return Customer{}, &RowError{
				Line:   line,
				Reason: fmt.Sprintf("wrong number of fields: %d, want %d", len(rec), len(r.cols)),
			}
		}
		c, err := r.customer(rec)
		if err != nil {
			r.csv.Reject(len(r.cols))
		}
		return c, err
	}
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// customer builds a Customer from a record with one field per column.
func (r *CSVReader) customer(rec []string) (Customer, error) {
	var c Customer
	for i, col := range r.cols {
		v := strings.TrimSpace(rec[i])
		// Checked before any field is parsed: PostgreSQL refuses text that
		// is not UTF-8 or holds a NUL, and would fail the whole batch.
		if reason := badText(v, col.field); reason != "" {
			return Customer{}, &RowError{Line: r.csv.FieldLine(i), Column: col.header, Reason: reason}
		}
		if err := r.set(&c, col, v); err != nil {
			line := r.csv.FieldLine(i)
			return Customer{}, &RowError{Line: line, Column: col.header, Value: v, Reason: err.Error()}
		}
	}
	if c.ExternalID == "" {
		i := r.column(fExternalID)
		line := r.csv.FieldLine(i)
		return Customer{}, &RowError{Line: line, Column: r.cols[i].header, Reason: "required"}
	}
	return c, nil
}

// Columns lists the customer fields the file has, by their canonical
// column names ("email", "birthday", …, and "attributes" when it has any
// attributes.NAME column), in header order. An import updates only these.
func (r *CSVReader) Columns() []string {
	var out []string
	for _, col := range r.cols {
		name := "attributes"
		if col.field != fAttribute {
			name = canonicalName(col.field)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func (r *CSVReader) column(f field) int {
	for i, col := range r.cols {
		if col.field == f {
			return i
		}
	}
	return -1
}

// set stores the trimmed value v of column col in c.
func (r *CSVReader) set(c *Customer, col column, v string) error {
	var err error
	switch col.field {
	case fExternalID:
		if hasControl(v) {
			return errors.New("contains a control character")
		}
		c.ExternalID = v
	case fName:
		// A line break in a name could split an e-mail header or an SMS.
		if hasControl(v) {
			return errors.New("contains a line break or control character")
		}
		c.Name = v
	case fEmail:
		c.Email, err = r.norm.Email(v)
	case fPhone:
		c.Phone, err = r.norm.Phone(v)
	case fLocale:
		c.Locale, err = Locale(v)
	case fTimeZone:
		c.TimeZone, err = TimeZone(v)
	case fBirthday:
		c.Birthday, err = ParseBirthday(v)
		if b := c.Birthday; err == nil && b.Year > 0 && time.Date(b.Year, b.Month, b.Day, 0, 0, 0, 0, time.UTC).After(r.now().Add(clockSkew)) {
			err = errors.New("in the future")
		}
	case fTier:
		c.Tier, err = ParseTier(v)
	case fTags:
		c.Tags, err = ParseTags(v)
	case fEmailConsent:
		c.EmailConsent.Granted, err = ParseBool(v)
	case fEmailConsentAt:
		c.EmailConsent.At, err = r.pastTimestamp(v)
	case fSMSConsent:
		c.SMSConsent.Granted, err = ParseBool(v)
	case fSMSConsentAt:
		c.SMSConsent.At, err = r.pastTimestamp(v)
	case fCreatedAt:
		c.CreatedAt, err = r.pastTimestamp(v)
	case fLastPurchaseAt:
		c.LastPurchase, err = r.pastTimestamp(v)
	case fPurchaseCount:
		c.PurchaseCount, err = parseCount(v)
	case fTotalSpent:
		c.TotalSpent, err = parseAmount(v)
	case fAttribute:
		if v == "" {
			return nil
		}

		if c.Attributes == nil {
			c.Attributes = make(map[string]any)
		}
		c.Attributes[col.attr] = attributeValue(v)
	}
	return err
}

// clockSkew is how far after the importing machine's clock a timestamp
// may be: the exporting system's clock may be ahead. Anything later is a
// typo or a placeholder (2099-12-31), which would make a customer match
// "bought within 30 days" for decades.
const clockSkew = 24 * time.Hour

func (r *CSVReader) now() time.Time {
	if r.norm.Now.IsZero() {
		return time.Now()
	}
	return r.norm.Now
}

// pastTimestamp parses a timestamp that must not be in the future.
func (r *CSVReader) pastTimestamp(s string) (time.Time, error) {
	t, err := parseTimestamp(s)
	if err == nil && t.After(r.now().Add(clockSkew)) {
		return time.Time{}, errors.New("in the future")
	}
	return t, err
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// ParseTags splits a field of tags separated by ";", "|" or ",", and returns
// them lower-cased, without blanks or duplicates, in their first order. A tag
// is a lower-case letter or digit followed by letters, digits, "_", ".", ":"
// or "-".
func ParseTags(s string) ([]string, error) {
	var tags []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' || r == ',' }) {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		if !validTag(t) {
			return nil, fmt.Errorf("bad tag %q (use a-z, 0-9, and _ . : - after the first character)", t)
		}
		if len(t) > MaxTagLen {
			return nil, fmt.Errorf("tag %q is %d characters, at most %d", t, len(t), MaxTagLen)
		}
		dup := false
		for _, u := range tags {
			if u == t {
				dup = true
				break
			}
		}
		if !dup {
			tags = append(tags, t)
		}
	}
	if len(tags) > MaxTags {
		return nil, fmt.Errorf("%d tags, at most %d", len(tags), MaxTags)
	}
	return tags, nil
}

func validTag(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return t != ""
}

// timestampLayouts are tried in order; the ones without a zone are UTC.
var timestampLayouts = []string{time.RFC3339, time.DateTime, time.DateOnly}

func parseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a timestamp (use RFC 3339, YYYY-MM-DD HH:MM:SS in UTC, or YYYY-MM-DD)")
}

func parseCount(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("not a count (use a whole number, 0 or more)")
	}
	return n, nil
}

func parseAmount(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	if !isDecimal(s, false) {
		return 0, errors.New("not an amount (use digits with an optional decimal point, such as 1234.50)")
	}
	return strconv.ParseFloat(s, 64)
}

// isDecimal reports whether s is digits with an optional fractional part,
// and an optional leading minus if signed. Unlike strconv.ParseFloat it
// refuses "Inf", "NaN", exponents, hex and digit separators.
func isDecimal(s string, signed bool) bool {
	if signed {
		s = strings.TrimPrefix(s, "-")
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	return isDigits(intPart) && (!hasDot || isDigits(frac))
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	_, ok := atoiDigits(s)
	return ok
}

// attributeValue types an attribute read from CSV: an integer becomes an
// int64, a decimal a float64, true or false a bool, anything else stays a
// string. Numbers with a leading zero, such as postcodes and phone numbers,
// stay strings so the zero is not lost.
func attributeValue(s string) any {
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	if !isDecimal(s, true) {
		return s
	}
	digits := strings.TrimPrefix(s, "-")
	if intPart, _, _ := strings.Cut(digits, "."); len(intPart) > 1 && intPart[0] == '0' {
		return s
	}
	if !strings.Contains(s, ".") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		return s // too long for an int64: an identifier, not a quantity
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return f
}
