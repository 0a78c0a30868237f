// Package storetest opens real databases for tests: a fresh SQLite file, and
// a fresh schema in the PostgreSQL named by TIDINGS_TEST_POSTGRES_URL (the
// README's test command starts one). Nothing is mocked.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tidings/tidings/store"
)

// PostgresURL returns the test server's URL. Without one, the test is skipped
// on a developer's machine and fails under CI, where skipping would hide
// that half the suite did not run.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TIDINGS_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TIDINGS_TEST_POSTGRES_URL is not set; run the tests with `make test`")
		}
		t.Skip("TIDINGS_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL")
	}
	return u
}

// SQLiteURL returns the URL of a new SQLite database in a temporary folder.
func SQLiteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "tidings.db")
}

// NewPostgresURL creates an empty schema on the test server and returns a
// URL whose connections use it; the schema is dropped after the test.
func NewPostgresURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err == nil {
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			admin.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens a fresh, migrated store of the given dialect.
func Open(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	u := SQLiteURL(t)
	if d == store.Postgres {
		u = NewPostgresURL(t)
	}
	db, err := store.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Each runs fn as a subtest against each database: SQLite and PostgreSQL.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// CellsContaining returns "table.column: value" for every cell of the
// tables that contains one of needles: where personal data is left.
func CellsContaining(t testing.TB, db *store.DB, tables []string, needles ...string) []string {
	t.Helper()
	var out []string
	for _, table := range tables {
		rows, err := db.SQL().Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				s := fmt.Sprint(v)
				if b, ok := v.([]byte); ok {
					s = string(b)
				}
				for _, n := range needles {
					if strings.Contains(s, n) {
						out = append(out, table+"."+cols[i]+": "+s)
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// WaitRun polls a run until it has status (store.RunDone, RunPaused, …)
// and returns it; after timeout it returns the run as last seen and an
// error saying so.
func WaitRun(db *store.DB, campaign, run, status string, timeout time.Duration) (store.RunSummary, error) {
	deadline := time.Now().Add(timeout)
	for {
		r, err := db.RunSummaryOf(context.Background(), campaign, run)
		if err == nil && r.Status == status {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("run %s %s not %s after %s: %+v %v", campaign, run, status, timeout, r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
