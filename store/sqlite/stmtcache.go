package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
)

// maxStatements bounds the statements a connection keeps prepared. The
// store runs a few hundred distinct statements, more with the IN lists of
// batches of every length.
const maxStatements = 512

// cachingConn keeps every statement prepared on a connection for the
// connection's life: SQLite parses a statement anew each time it is
// prepared, and preparing was a fifth of the CPU time of a SCIM lookup and
// a tenth of a page's. database/sql prepares through it whatever it runs:
// the connection does not offer Queryer or Execer, so a plain query too is
// prepared (found in the cache), run, and closed (kept).
//
// database/sql serialises the calls on one connection, so the cache needs
// no lock of its own.
type cachingConn struct {
	c        driver.Conn
	stmts    map[string]*cachedStmt
	prepared int // statements prepared by the driver, cached or not
}

var (
	_ driver.Conn               = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

func newCachingConn(c driver.Conn) (*cachingConn, error) {
	for _, ok := range []bool{
		is[driver.ConnBeginTx](c), is[driver.ConnPrepareContext](c), is[driver.Pinger](c),
		is[driver.SessionResetter](c), is[driver.Validator](c),
	} {
		if !ok {
			c.Close()
			return nil, errors.New("sqlite: the driver's connection lacks an interface the statement cache forwards")
		}
	}
	return &cachingConn{c: c, stmts: map[string]*cachedStmt{}}, nil
}

func is[T any](v any) bool { _, ok := v.(T); return ok }

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext returns the connection's statement of query, preparing
// it the first time.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if s, ok := c.stmts[query]; ok {
		s.users++
		return s, nil
	}
	st, err := c.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxStatements {
		c.evict()
	}
	s := &cachedStmt{Stmt: st, conn: c, query: query, users: 1, cached: true}
	c.stmts[query] = s
	return s, nil
}

func (c *cachingConn) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	c.prepared++
	return c.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// evict drops every statement no one uses and marks the others, which
// their last Close finalises.
func (c *cachingConn) evict() {
	for q, s := range c.stmts {
		delete(c.stmts, q)
		s.cached = false
		if s.users == 0 && s.open == 0 {
			_ = s.Stmt.Close()
		}
	}
}

// Close finalises the statements, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		delete(c.stmts, q)
		errs = append(errs, s.Stmt.Close())
	}
	return errors.Join(append(errs, c.c.Close())...)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.c.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.c.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.c.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.c.(driver.Validator).IsValid() }

// cachedStmt is a statement of the cache: closing it only tells the cache
// one user is done with it. A statement's rows use its SQLite handle until
// they are closed, so while some are open a query or write with the same
// text runs on a statement prepared for it alone.
type cachedStmt struct {
	driver.Stmt
	conn   *cachingConn
	query  string
	users  int  // handles given out and not closed
	open   int  // rows not closed
	cached bool // false once evicted: the last Close finalises it
}

var (
	_ driver.StmtExecContext  = (*cachedStmt)(nil)
	_ driver.StmtQueryContext = (*cachedStmt)(nil)
)

func (s *cachedStmt) Close() error {
	s.users--
	if s.users <= 0 && s.open == 0 && !s.cached {
		return s.Stmt.Close()
	}
	return nil
}

// own returns a statement prepared for one use, when the cached one has
// open rows, or nil.
func (s *cachedStmt) own(ctx context.Context) (driver.Stmt, error) {
	if s.open == 0 {
		return nil, nil
	}
	return s.conn.prepare(ctx, s.query)
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	own, err := s.own(ctx)
	if err != nil {
		return nil, err
	}
	if own != nil {
		defer own.Close()
		return own.(driver.StmtExecContext).ExecContext(ctx, args)
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	own, err := s.own(ctx)
	if err != nil {
		return nil, err
	}
	if own != nil {
		r, err := own.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			own.Close()
			return nil, err
		}
		return &cachedRows{Rows: r, done: own.Close}, nil
	}
	r, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.open++
	return &cachedRows{Rows: r, done: s.closed}, nil
}

// closed records that rows of s were closed.
func (s *cachedStmt) closed() error {
	s.open--
	if s.users <= 0 && s.open == 0 && !s.cached {
		return s.Stmt.Close()
	}
	return nil
}

// cachedRows are rows that tell their statement when they are closed. The
// column type interfaces of the driver's rows pass through.
type cachedRows struct {
	driver.Rows
	done func() error
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.done != nil {
		err = errors.Join(err, r.done())
		r.done = nil
	}
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
