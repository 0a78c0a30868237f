package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/tidings/tidings/internal/redact"
)

// Dialect is the SQL flavour of a database.
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// DefaultURL is the database used when TIDINGS_DATABASE_URL is not set.
const DefaultURL = "sqlite://.tidings/tidings.db"

// DB is the store: one database handle and its dialect.
type DB struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
	url     string // as opened, for logs through Redacted
}

// Redacted is the URL the database was opened with, without its password.
func (s *DB) Redacted() string { return Redact(s.url) }

//go:embed migrations
var migrations embed.FS

// Open opens the database named by rawURL — sqlite:///abs/path.db,
// sqlite://relative/path.db, or postgres://… — and applies any migration it
// has not seen yet.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	s := &DB{now: time.Now, url: rawURL}
	var err error
	maxConns := 0
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		s.dialect = SQLite
		path, dsn, perr := sqliteDSN(rawURL)
		if perr != nil {
			return nil, perr
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		s.db, err = openCounting("sqlite", dsn)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		s.dialect = Postgres
		var dsn string
		if dsn, maxConns, err = postgresDSN(rawURL); err != nil {
			return nil, err
		}
		s.db, err = openCounting("pgx", dsn)
	default:
		return nil, fmt.Errorf("database URL %q: want sqlite:///path/to/file.db or postgres://user@host/db", Redact(rawURL))
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Redact(rawURL), err)
	}
	if s.dialect == Postgres {
		s.db.SetMaxOpenConns(maxConns)
		s.db.SetMaxIdleConns(min(maxConns, 10))
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connect to %s: %w", Redact(rawURL), err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// DefaultMaxConns is how many PostgreSQL connections one process opens at
// most, unless the URL's pool_max_conns says otherwise. PostgreSQL's own
// default max_connections is 100: five processes at 20 reach it.
const DefaultMaxConns = 20

// postgresDSN takes Tidings' own pool_max_conns parameter (named as pgxpool
// names it) out of a PostgreSQL URL, which would otherwise be sent to the
// server as a run-time parameter and refused.
func postgresDSN(rawURL string) (dsn string, maxConns int, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", 0, fmt.Errorf("database URL %s: %w", Redact(rawURL), errors.Unwrap(err))
	}
	q := u.Query()
	maxConns = DefaultMaxConns
	if q.Has("pool_max_conns") {
		v := q.Get("pool_max_conns")
		if maxConns, err = strconv.Atoi(v); err != nil || maxConns < 1 {
			return "", 0, fmt.Errorf("database URL %s: pool_max_conns=%q: want a whole number of connections, at least 1", Redact(rawURL), v)
		}
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
	}
	return u.String(), maxConns, nil
}

// sqliteDSN turns sqlite:///abs.db or sqlite://rel.db into a modernc DSN with
// the pragmas the store relies on: WAL so readers don't block the writer,
// a busy timeout instead of "database is locked" errors, foreign keys, and
// BEGIN IMMEDIATE so a write transaction never fails half-way on upgrade.
func sqliteDSN(rawURL string) (path, dsn string, err error) {
	rest := strings.TrimPrefix(rawURL, "sqlite:")
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", "", fmt.Errorf("database URL %q has no file path", rawURL)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// 64 MiB of page cache instead of 2: index upkeep on a large customer
	// table otherwise spends its time in read and write system calls.
	q.Add("_pragma", "cache_size(-65536)")
	q.Set("_txlock", "immediate")
	extra, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("database URL %q: %w", rawURL, err)
	}
	for k, vs := range extra {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	return path, "file:" + path + "?" + q.Encode(), nil
}

// Redact hides a password in a URL for messages and logs (see redact.URL).
func Redact(raw string) string { return redact.URL(raw) }

// querier is the database or a transaction.
type querier interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Dialect reports the database's SQL flavour.
func (s *DB) Dialect() Dialect { return s.dialect }

// SQL exposes the handle for tests and tools.
func (s *DB) SQL() *sql.DB { return s.db }

func (s *DB) migrate(ctx context.Context) error {
	dir := "migrations/" + s.dialect.String()
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if s.dialect == Postgres {
		// Several workers may start at once; one migrates, the others wait.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7366571)"); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	for _, name := range names {
		num, _, _ := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		if applied[version] {
			continue
		}
		src, err := migrations.ReadFile(dir + "/" + name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(src)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind("INSERT INTO schema_migrations (version, name) VALUES (?, ?)"), version, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return tx.Commit()
}

// rebind turns the ? placeholders every query here is written with into
// PostgreSQL's $1, $2, …. No query contains a literal question mark.
func (s *DB) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// sqliteTime is the layout of timestamps in SQLite: fixed width, UTC, so
// string order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// SetClock replaces the clock the store stamps rows and runs with, for
// tests that simulate time; nil restores the real one.
func (s *DB) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.now = now
}

// Now is the time on the store's clock (see SetClock).
func (s *DB) Now() time.Time { return s.now() }

// timeArg converts a time to the dialect's parameter; the zero time is NULL.
func (s *DB) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if s.dialect == SQLite {
		return t.UTC().Format(sqliteTime)
	}
	return t.UTC()
}

// scanTime reads a timestamp column of either dialect; NULL is the zero time.
type scanTime struct{ t *time.Time }

func (st scanTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*st.t = time.Time{}
	case time.Time:
		*st.t = x.UTC()
	case string:
		return st.parse(x)
	case []byte:
		return st.parse(string(x))
	default:
		return fmt.Errorf("timestamp: unexpected %T", v)
	}
	return nil
}

func (st scanTime) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", s, err)
	}
	*st.t = t.UTC()
	return nil
}

// nullString maps "" to NULL, so "no email" is one thing in the database.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")
