package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// cachedDB opens a database of one connection through the statement cache,
// with a table t of the integers 1 to 5.
func cachedDB(t *testing.T) *sql.DB {
	t.Helper()
	drv, err := unicodeDriver()
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := DSN(filepath.Join(t.TempDir(), "c.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector{drv: drv, dsn: dsn})
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3), (4), (5)"); err != nil {
		t.Fatal(err)
	}
	return db
}

func prepared(t *testing.T, db *sql.DB) int {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := -1
	if err := c.Raw(func(dc any) error { n = dc.(*cachingConn).prepared; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// intsOf returns a reader of the integers a query returns, failing t on
// an error.
func intsOf(t *testing.T) func(rows *sql.Rows, err error) []int {
	return func(rows *sql.Rows, err error) []int {
		t.Helper()
		return readInts(t, rows, err)
	}
}

func readInts(t *testing.T, rows *sql.Rows, err error) []int {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var x int
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStatementsPreparedOnce: a statement run again, in or out of a
// transaction, is not prepared again on the connection.
func TestStatementsPreparedOnce(t *testing.T) {
	db, ints := cachedDB(t), intsOf(t)
	const q = "SELECT x FROM t WHERE x > ? ORDER BY x"
	before := prepared(t, db)
	for i := range 50 {
		if got := ints(db.Query(q, i%5)); len(got) != 5-i%5 {
			t.Fatalf("x > %d: %v", i%5, got)
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if got := ints(tx.Query(q, 3)); !slices.Equal(got, []int{4, 5}) {
			t.Fatalf("in a transaction: %v", got)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// BEGIN and COMMIT are the driver's own; the query is prepared once.
	if n := prepared(t, db) - before; n != 1 {
		t.Errorf("%d statements prepared for 100 runs of one query, want 1", n)
	}
}

// TestStatementReusedWhileRowsOpen: the same query run while its rows are
// still being read gets a statement of its own, and the first rows are not
// disturbed.
func TestStatementReusedWhileRowsOpen(t *testing.T) {
	db, ints := cachedDB(t), intsOf(t)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.Prepare("SELECT x FROM t WHERE x >= ? ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	outer, err := st.Query(1)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for outer.Next() {
		var x int
		if err := outer.Scan(&x); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
		if inner := ints(st.Query(x)); len(inner) != 6-x || inner[0] != x {
			t.Fatalf("inner query from %d: %v", x, inner)
		}
		if _, err := tx.Exec("SELECT x FROM t WHERE x >= ? ORDER BY x", 4); err != nil {
			t.Fatal(err)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Errorf("outer rows: %v, want 1 to 5", got)
	}
}

// TestStatementCacheEvicts: past maxStatements the cache starts over,
// without finalising a statement whose rows are open.
func TestStatementCacheEvicts(t *testing.T) {
	db := cachedDB(t)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	outer, err := tx.Query("SELECT x FROM t ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	if !outer.Next() {
		t.Fatal("no first row")
	}
	for i := range maxStatements + 10 {
		var n int
		if err := tx.QueryRow(fmt.Sprintf("SELECT count(*) + %d FROM t", i)).Scan(&n); err != nil || n != 5+i {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	got := []int{}
	for ok := true; ok; ok = outer.Next() {
		var x int
		if err := outer.Scan(&x); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Errorf("rows read across an eviction: %v, want 1 to 5", got)
	}
}
