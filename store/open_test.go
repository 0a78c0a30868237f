package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// pool_max_conns in a PostgreSQL URL sets the process's connection limit
// and is not passed on to the server (which would refuse an unknown
// run-time parameter); without it a process opens at most 20.
func TestPostgresPoolSize(t *testing.T) {
	ctx := context.Background()
	base := storetest.NewPostgresURL(t)
	for _, tc := range []struct {
		param string
		want  int
	}{{"", store.DefaultMaxConns}, {"&pool_max_conns=5", 5}} {
		db, err := store.Open(ctx, base+tc.param)
		if err != nil {
			t.Fatalf("open with %q: %v", tc.param, err)
		}
		if got := db.SQL().Stats().MaxOpenConnections; got != tc.want {
			t.Errorf("pool_max_conns %q: at most %d connections, want %d", tc.param, got, tc.want)
		}
		db.Close()
	}
	for _, bad := range []string{"lots", ""} {
		_, err := store.Open(ctx, base+"&pool_max_conns="+bad)
		if err == nil || !strings.Contains(err.Error(), `pool_max_conns="`+bad+`"`) {
			t.Errorf("pool_max_conns=%s: %v, want an error naming it", bad, err)
		}
	}
}

// No log line or error shows a database password, even from a URL that
// does not parse.
func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://tidings:s3cret@db:5432/tidings":             "postgres://tidings:xxxxx@db:5432/tidings",
		"postgres://tidings:50%off@db/tidings":                  "postgres://xxxxx@db/tidings",
		"postgres://tidings:?s3cretPW@db.internal/tidings":      "postgres://xxxxx@db.internal/tidings",
		"postgres://tidings:12/ab@db.internal/tidings":          "postgres://xxxxx@db.internal/tidings",
		"postgres://tidings:/s3cretPW@db.internal:5432/tidings": "postgres://xxxxx@db.internal:5432/tidings",
		"postgres://tidings:#x@db.internal/tidings":             "postgres://xxxxx@db.internal/tidings",
		"postgres://db.internal/tidings":                        "postgres://db.internal/tidings",
		"sqlite://.tidings/tidings.db":                          "sqlite://.tidings/tidings.db",
	} {
		if got := store.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
