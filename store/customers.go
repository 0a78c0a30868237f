package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tidings/tidings/customer"
)

// customerColumns are the columns an upsert writes, in order.
var customerColumns = []string{
	"external_id", "name", "email", "phone", "locale", "timezone",
	"birth_year", "birth_month", "birth_day", "tier", "attributes",
	"email_consent", "email_consent_at", "sms_consent", "sms_consent_at",
	"created_at", "updated_at", "last_purchase_at", "purchase_count", "total_spent",
}

// upsertBatch keeps one statement under both databases' parameter limits
// (SQLite 32766, PostgreSQL 65535) while amortizing round trips.
const upsertBatch = 500

// UpsertCustomers inserts customers, or updates every field of the ones
// whose external id is already known and replaces their tags and attributes.
// created_at is kept from the first insert. Within one call a repeated
// external id counts once: the last row wins. One call is one transaction:
// all of it is written or none.
func (s *DB) UpsertCustomers(ctx context.Context, cs []customer.Customer) error {
	return s.upsert(ctx, cs, nil)
}

// ImportCustomers is UpsertCustomers for a file that has only some columns
// (customer.CSVReader.Columns): a known customer gets only those columns
// updated, its tags are replaced only when "tags" is among them, and
// attributes are merged key by key, so importing `external_id,email` changes
// emails and nothing else. New customers get defaults for the rest.
func (s *DB) ImportCustomers(ctx context.Context, cs []customer.Customer, columns []string) error {
	only := make(map[string]bool, len(columns))
	for _, c := range columns {
		if _, ok := updateColumns[c]; !ok && c != "external_id" && c != "tags" && c != "created_at" {
			return fmt.Errorf("import customers: unknown column %q", c)
		}
		only[c] = true
	}
	return s.upsert(ctx, cs, only)
}

// updateColumns maps import columns to the table columns they set. created_at
// is absent on purpose: it never changes after the first insert.
var updateColumns = map[string][]string{
	"name": {"name"}, "email": {"email"}, "phone": {"phone"}, "locale": {"locale"}, "timezone": {"timezone"},
	"birthday": {"birth_year", "birth_month", "birth_day"}, "tier": {"tier"}, "attributes": {"attributes"},
	"email_consent": {"email_consent"}, "email_consent_at": {"email_consent_at"},
	"sms_consent": {"sms_consent"}, "sms_consent_at": {"sms_consent_at"},
	"last_purchase_at": {"last_purchase_at"}, "purchase_count": {"purchase_count"}, "total_spent": {"total_spent"},
}

// updateClause is the ON CONFLICT assignment list: every column for a full
// upsert (only == nil), or those of the given import columns.
func (s *DB) updateClause(only map[string]bool) string {
	sets := []string{"updated_at = excluded.updated_at"}
	for _, name := range slices.Sorted(maps.Keys(updateColumns)) {
		if only != nil && !only[name] {
			continue
		}
		for _, col := range updateColumns[name] {
			switch {
			case col == "attributes" && only != nil && s.dialect == SQLite:
				sets = append(sets, "attributes = json_patch(customers.attributes, excluded.attributes)")
			case col == "attributes" && only != nil:
				sets = append(sets, "attributes = customers.attributes || excluded.attributes")
			default:
				sets = append(sets, col+" = excluded."+col)
			}
		}
	}
	return strings.Join(sets, ", ")
}

func (s *DB) upsert(ctx context.Context, cs []customer.Customer, only map[string]bool) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("upsert customers: %w", err)
	}
	defer tx.Rollback()
	update := s.updateClause(only)
	replaceTags := only == nil || only["tags"]
	for start := 0; start < len(cs); start += upsertBatch {
		end := min(start+upsertBatch, len(cs))
		if err := s.upsertChunk(ctx, tx, dedupe(cs[start:end]), update, replaceTags); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// dedupe keeps the last customer of each external id, in first-seen order.
func dedupe(cs []customer.Customer) []customer.Customer {
	last := make(map[string]int, len(cs))
	for i, c := range cs {
		last[c.ExternalID] = i
	}
	if len(last) == len(cs) {
		return cs
	}
	out := make([]customer.Customer, 0, len(last))
	for i, c := range cs {
		if last[c.ExternalID] == i {
			out = append(out, c)
		}
	}
	return out
}

func (s *DB) upsertChunk(ctx context.Context, tx *sql.Tx, cs []customer.Customer, update string, replaceTags bool) error {
	if len(cs) == 0 {
		return nil
	}
	now := s.now()
	// New customers are numbered above an erased customer's id (see idFloor);
	// the ids given to rows that turn out to be updates are not used.
	floor, err := s.idFloor(ctx, tx)
	if err != nil {
		return err
	}
	columns := customerColumns
	if floor > 0 {
		columns = append([]string{"id"}, customerColumns...)
	}
	var q strings.Builder
	q.WriteString("INSERT INTO customers (" + strings.Join(columns, ", ") + ") VALUES ")
	row := "(" + placeholders(len(columns)) + ")"
	args := make([]any, 0, len(cs)*len(columns))
	for i, c := range cs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(row)
		if floor > 0 {
			args = append(args, floor+int64(i)+1)
		}
		attrs := "{}"
		if len(c.Attributes) > 0 {
			b, err := json.Marshal(c.Attributes)
			if err != nil {
				return fmt.Errorf("customer %s: attributes: %w", c.ExternalID, err)
			}
			attrs = string(b)
		}
		created := c.CreatedAt
		if created.IsZero() {
			created = now
		}
		tier := c.Tier
		if tier == "" {
			tier = customer.TierGeneral
		}
		var by, bm, bd any
		if !c.Birthday.IsZero() {
			bm, bd = int(c.Birthday.Month), c.Birthday.Day
			if c.Birthday.Year != 0 {
				by = c.Birthday.Year
			}
		}
		args = append(args,
			c.ExternalID, c.Name, nullString(c.Email), nullString(c.Phone), nullString(c.Locale), nullString(c.TimeZone),
			by, bm, bd, string(tier), attrs,
			c.EmailConsent.Granted, s.timeArg(c.EmailConsent.At), c.SMSConsent.Granted, s.timeArg(c.SMSConsent.At),
			s.timeArg(created), s.timeArg(now), s.timeArg(c.LastPurchase), c.PurchaseCount, c.TotalSpent,
		)
	}
	q.WriteString(" ON CONFLICT (external_id) DO UPDATE SET " + update + " RETURNING id, external_id")

	rows, err := tx.QueryContext(ctx, s.rebind(q.String()), args...)
	if err != nil {
		return fmt.Errorf("upsert customers: %w", err)
	}
	ids := make(map[string]int64, len(cs))
	for rows.Next() {
		var id int64
		var ext string
		if err := rows.Scan(&id, &ext); err != nil {
			rows.Close()
			return err
		}
		ids[ext] = id
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("upsert customers: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("upsert customers: %w", err)
	}

	if !replaceTags {
		return nil
	}
	idList := make([]any, 0, len(ids))
	for _, id := range ids {
		idList = append(idList, id)
	}
	if _, err := tx.ExecContext(ctx, s.rebind("DELETE FROM customer_tags WHERE customer_id IN ("+placeholders(len(idList))+")"), idList...); err != nil {
		return fmt.Errorf("replace tags: %w", err)
	}
	var tagArgs []any
	for _, c := range cs {
		for _, t := range c.Tags {
			tagArgs = append(tagArgs, ids[c.ExternalID], t)
		}
	}
	for start := 0; start < len(tagArgs); start += 2 * 5000 {
		chunk := tagArgs[start:min(start+2*5000, len(tagArgs))]
		q := "INSERT INTO customer_tags (customer_id, tag) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?), ", len(chunk)/2), ", ") + " ON CONFLICT DO NOTHING"
		if _, err := tx.ExecContext(ctx, s.rebind(q), chunk...); err != nil {
			return fmt.Errorf("insert tags: %w", err)
		}
	}
	return nil
}

func placeholders(n int) string { return valuesList(n, "?") }

// CountCustomers counts every customer.
func (s *DB) CountCustomers(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM customers").Scan(&n)
	return n, err
}

const selectCustomer = `SELECT c.id, c.external_id, c.name, c.email, c.phone, c.locale, c.timezone,
	c.birth_year, c.birth_month, c.birth_day, c.tier, c.attributes,
	c.email_consent, c.email_consent_at, c.sms_consent, c.sms_consent_at,
	c.created_at, c.last_purchase_at, c.purchase_count, c.total_spent
	FROM customers c`

// CustomerByExternalID loads one customer, or returns ErrNotFound.
func (s *DB) CustomerByExternalID(ctx context.Context, externalID string) (customer.Customer, error) {
	cs, err := s.queryCustomers(ctx, selectCustomer+" WHERE c.external_id = ?", externalID)
	if err != nil {
		return customer.Customer{}, err
	}
	if len(cs) == 0 {
		return customer.Customer{}, ErrNotFound
	}
	return cs[0], nil
}

// queryCustomers runs a query selecting selectCustomer's columns and loads
// the tags of the customers it returns.
func (s *DB) queryCustomers(ctx context.Context, q string, args ...any) ([]customer.Customer, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("query customers: %w", err)
	}
	defer rows.Close()
	var out []customer.Customer
	for rows.Next() {
		var (
			c                           customer.Customer
			email, phone, locale, tz    sql.NullString
			by, bm, bd                  sql.NullInt64
			tier                        string
			attrs                       []byte
			emailAt, smsAt, created, lp time.Time
		)
		err := rows.Scan(&c.ID, &c.ExternalID, &c.Name, &email, &phone, &locale, &tz,
			&by, &bm, &bd, &tier, &attrs,
			&c.EmailConsent.Granted, scanTime{&emailAt}, &c.SMSConsent.Granted, scanTime{&smsAt},
			scanTime{&created}, scanTime{&lp}, &c.PurchaseCount, &c.TotalSpent)
		if err != nil {
			return nil, fmt.Errorf("scan customer: %w", err)
		}
		c.Email, c.Phone, c.Locale, c.TimeZone = email.String, phone.String, locale.String, tz.String
		if bm.Valid {
			c.Birthday = customer.Birthday{Year: int(by.Int64), Month: time.Month(bm.Int64), Day: int(bd.Int64)}
		}
		c.Tier = customer.Tier(tier)
		c.EmailConsent.At, c.SMSConsent.At, c.CreatedAt, c.LastPurchase = emailAt, smsAt, created, lp
		if len(attrs) > 2 {
			if err := json.Unmarshal(attrs, &c.Attributes); err != nil {
				return nil, fmt.Errorf("customer %s: attributes: %w", c.ExternalID, err)
			}
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.loadTags(ctx, out)
}

func (s *DB) loadTags(ctx context.Context, cs []customer.Customer) error {
	if len(cs) == 0 {
		return nil
	}
	idx := make(map[int64]int, len(cs))
	args := make([]any, len(cs))
	for i, c := range cs {
		idx[c.ID] = i
		args[i] = c.ID
	}
	rows, err := s.db.QueryContext(ctx, s.rebind("SELECT customer_id, tag FROM customer_tags WHERE customer_id IN ("+placeholders(len(args))+") ORDER BY customer_id, tag"), args...)
	if err != nil {
		return fmt.Errorf("load tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return err
		}
		cs[idx[id]].Tags = append(cs[idx[id]].Tags, tag)
	}
	return rows.Err()
}
