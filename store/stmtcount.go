package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
)

// Statements is how many SQL statements the store has executed since it
// was opened: every Exec and Query that reached the database, inside a
// transaction or not. Begin, Commit and Rollback are not statements here,
// nor is preparing one (it counts when it runs). `tidings bench` divides it
// by the messages sent.
func (s *DB) Statements() uint64 {
	if d, ok := s.db.Driver().(*countingDriver); ok {
		return d.n.Load()
	}
	return 0
}

// openCounting is sql.Open with every statement counted (see Statements).
// The driver registered under name is wrapped, not replaced, so its
// connections behave exactly as they would unwrapped; the cost is an atomic
// add per statement.
func openCounting(name, dsn string) (*sql.DB, error) {
	// sql.Open does not connect: it looks the driver up, which is all this
	// handle is for.
	probe, err := sql.Open(name, dsn)
	if err != nil {
		return nil, err
	}
	inner := probe.Driver()
	if err := probe.Close(); err != nil {
		return nil, err
	}
	d := &countingDriver{inner: inner, n: new(atomic.Uint64)}
	var c driver.Connector = dsnConnector{dsn: dsn, d: inner}
	if dc, ok := inner.(driver.DriverContext); ok {
		if c, err = dc.OpenConnector(dsn); err != nil {
			return nil, err
		}
	}
	return sql.OpenDB(countingConnector{inner: c, d: d}), nil
}

// dsnConnector is a Connector for a driver without one, as database/sql
// makes for itself.
type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// countingDriver holds the count; sql.DB.Driver returns it, which is how
// Statements finds it.
type countingDriver struct {
	inner driver.Driver
	n     *atomic.Uint64
}

func (d *countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{inner: c, n: d.n}, nil
}

type countingConnector struct {
	inner driver.Connector
	d     *countingDriver
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{inner: conn, n: c.d.n}, nil
}

func (c countingConnector) Driver() driver.Driver { return c.d }

// countingConn forwards every optional interface database/sql looks for.
// Where the wrapped connection lacks one, it answers as database/sql would
// have on its own (driver.ErrSkip, a fallback to the older method, or a
// no-op), so wrapping never changes what reaches the database.
type countingConn struct {
	inner driver.Conn
	n     *atomic.Uint64
}

var (
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
)

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var s driver.Stmt
	var err error
	if p, ok := c.inner.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{inner: s, conn: c.inner, n: c.n}, nil
}

func (c *countingConn) Close() error { return c.inner.Close() }

func (c *countingConn) Begin() (driver.Tx, error) {
	//lint:ignore SA1019 driver.Conn requires Begin; database/sql calls BeginTx
	return c.inner.Begin()
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.inner.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	// database/sql's own fallback for a driver without BeginTx.
	if opts.Isolation != driver.IsolationLevel(sql.LevelDefault) {
		return nil, errors.New("sql: driver does not support non-default isolation level")
	}
	if opts.ReadOnly {
		return nil, errors.New("sql: driver does not support read-only transactions")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the fallback for a driver without BeginTx
	return c.inner.Begin()
}

// ExecContext counts the statement unless the driver declines it with
// driver.ErrSkip: database/sql then prepares it, and the Stmt counts it.
func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	var r driver.Result
	var err error
	switch e := c.inner.(type) {
	case driver.ExecerContext:
		r, err = e.ExecContext(ctx, query, args)
	//lint:ignore SA1019 the fallback for a driver without ExecerContext
	case driver.Execer:
		var vs []driver.Value
		if vs, err = namedToValues(args); err == nil {
			r, err = e.Exec(query, vs)
		}
	default:
		return nil, driver.ErrSkip
	}
	if !errors.Is(err, driver.ErrSkip) {
		c.n.Add(1)
	}
	return r, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	var r driver.Rows
	var err error
	switch q := c.inner.(type) {
	case driver.QueryerContext:
		r, err = q.QueryContext(ctx, query, args)
	//lint:ignore SA1019 the fallback for a driver without QueryerContext
	case driver.Queryer:
		var vs []driver.Value
		if vs, err = namedToValues(args); err == nil {
			r, err = q.Query(query, vs)
		}
	default:
		return nil, driver.ErrSkip
	}
	if !errors.Is(err, driver.ErrSkip) {
		c.n.Add(1)
	}
	return r, err
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue lets the driver accept its own argument types (pgx takes
// slices for arrays); driver.ErrSkip hands the value to database/sql's
// default conversion, as if the method were not there.
func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return checkNamedValue(c.inner, nv)
}

func checkNamedValue(conn driver.Conn, nv *driver.NamedValue) error {
	if ch, ok := conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// countingStmt counts each execution of a prepared statement.
type countingStmt struct {
	inner driver.Stmt
	conn  driver.Conn // the unwrapped connection, for its NamedValueChecker
	n     *atomic.Uint64
}

var (
	_ driver.StmtExecContext   = (*countingStmt)(nil)
	_ driver.StmtQueryContext  = (*countingStmt)(nil)
	_ driver.NamedValueChecker = (*countingStmt)(nil)
)

func (s *countingStmt) Close() error  { return s.inner.Close() }
func (s *countingStmt) NumInput() int { return s.inner.NumInput() }

func (s *countingStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.n.Add(1)
	//lint:ignore SA1019 driver.Stmt requires Exec; database/sql calls ExecContext
	return s.inner.Exec(args)
}

func (s *countingStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.n.Add(1)
	//lint:ignore SA1019 driver.Stmt requires Query; database/sql calls QueryContext
	return s.inner.Query(args)
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := s.inner.(driver.StmtExecContext); ok {
		s.n.Add(1)
		return e.ExecContext(ctx, args)
	}
	vs, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Exec(vs)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := s.inner.(driver.StmtQueryContext); ok {
		s.n.Add(1)
		return q.QueryContext(ctx, args)
	}
	vs, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Query(vs)
}

// CheckNamedValue asks the statement, then its connection, as database/sql
// does when neither is wrapped.
func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return checkNamedValue(s.conn, nv)
}

// namedToValues is database/sql's conversion for drivers that only take
// positional values.
func namedToValues(named []driver.NamedValue) ([]driver.Value, error) {
	vs := make([]driver.Value, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, fmt.Errorf("sql: driver does not support the use of Named Parameters")
		}
		vs[i] = nv.Value
	}
	return vs, nil
}
