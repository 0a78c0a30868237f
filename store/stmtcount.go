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
// connections behave as they would unwrapped; the cost is an atomic add
// per statement.
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
	return sql.OpenDB(countingConnector{dsn: dsn, d: d}), nil
}

// countingDriver holds the count; sql.DB.Driver returns it, which is how
// Statements finds it.
type countingDriver struct {
	inner driver.Driver
	n     *atomic.Uint64
}

func (d *countingDriver) Open(dsn string) (driver.Conn, error) {
	c, err := d.inner.Open(dsn)
	if err != nil {
		return nil, err
	}
	cc, ok := c.(ctxConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("store: the %T driver's connections lack the context methods", d.inner)
	}
	return &countingConn{ctxConn: cc, n: d.n}, nil
}

// countingConnector opens connections through countingDriver (neither
// driver the store uses has a Connector of its own worth keeping: pgx's
// parses the same DSN).
type countingConnector struct {
	dsn string
	d   *countingDriver
}

func (c countingConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c countingConnector) Driver() driver.Driver                        { return c.d }

// ctxConn is what the connections of both drivers the store opens (pgx's
// stdlib and modernc's sqlite) implement; Open refuses a driver without it,
// so the wrapper need not copy database/sql's fallbacks for older drivers.
type ctxConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
}

// countingConn counts Exec and Query. The optional interfaces only one of
// the drivers has (Validator: sqlite; NamedValueChecker: pgx, which takes
// slices for arrays) are forwarded, answering as database/sql does without
// them.
type countingConn struct {
	ctxConn
	n *atomic.Uint64
}

var (
	_ driver.Validator         = (*countingConn)(nil)
	_ driver.NamedValueChecker = (*countingConn)(nil)
)

// ExecContext counts the statement unless the driver declines it with
// driver.ErrSkip: database/sql then prepares it, and the Stmt counts it.
func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.ctxConn.ExecContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.n.Add(1)
	}
	return r, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.ctxConn.QueryContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.n.Add(1)
	}
	return r, err
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.ctxConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: s, n: c.n}, nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.ctxConn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue lets the driver accept its own argument types;
// driver.ErrSkip hands the value to database/sql's default conversion, as if
// the method were not there.
func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.ctxConn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// countingStmt counts each execution of a prepared statement; both drivers'
// statements take contexts.
type countingStmt struct {
	driver.Stmt
	n *atomic.Uint64
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.n.Add(1)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.n.Add(1)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
