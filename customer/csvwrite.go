package customer

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVWriter writes customers in the CSV layout that CSVReader reads, so an
// export can be edited in a spreadsheet and imported again.
type CSVWriter struct {
	w     *csv.Writer
	attrs []string
	wrote bool
}

// csvHeader is every column but the attributes, in export order.
var csvHeader = []string{
	"external_id", "name", "email", "phone", "locale", "timezone", "birthday", "tier", "tags",
	"email_consent", "email_consent_at", "sms_consent", "sms_consent_at", "created_at",
	"last_purchase_at", "purchase_count", "total_spent",
}

// NewCSVWriter returns a writer whose header has the fixed columns and one
// attributes.KEY column for each of attrs.
func NewCSVWriter(w io.Writer, attrs []string) *CSVWriter {
	return &CSVWriter{w: csv.NewWriter(w), attrs: attrs}
}

// Write writes one customer, after the header on the first call.
func (cw *CSVWriter) Write(c Customer) error {
	if !cw.wrote {
		header := append([]string{}, csvHeader...)
		for _, a := range cw.attrs {
			header = append(header, "attributes."+a)
		}
		if err := cw.w.Write(header); err != nil {
			return err
		}
		cw.wrote = true
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	rec := []string{
		c.ExternalID, c.Name, c.Email, c.Phone, c.Locale, c.TimeZone, c.Birthday.String(),
		string(c.Tier), strings.Join(c.Tags, ";"),
		strconv.FormatBool(c.EmailConsent.Granted), ts(c.EmailConsent.At),
		strconv.FormatBool(c.SMSConsent.Granted), ts(c.SMSConsent.At), ts(c.CreatedAt),
		ts(c.LastPurchase), strconv.Itoa(c.PurchaseCount), strconv.FormatFloat(c.TotalSpent, 'f', 2, 64),
	}
	for _, a := range cw.attrs {
		switch v := c.Attributes[a].(type) {
		case nil:
			rec = append(rec, "")
		case int64:
			rec = append(rec, strconv.FormatInt(v, 10))
		case float64:
			rec = append(rec, strconv.FormatFloat(v, 'f', -1, 64))
		case bool:
			rec = append(rec, strconv.FormatBool(v))
		case string:
			rec = append(rec, v)
		default:
			return fmt.Errorf("customer %s: attribute %s: cannot write %T as CSV", c.ExternalID, a, v)
		}
	}
	return cw.w.Write(rec)
}

// Flush writes any buffered data and reports a write error.
func (cw *CSVWriter) Flush() error {
	cw.w.Flush()
	return cw.w.Error()
}
