package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canonid/canonid/bench/internal/latency"
)

// accountCols are the columns the store reads of an account
// (store/sqlstore's accountCols): the references read as much.
const accountCols = `id, status, login, given_name, family_name, display_name, birth_date, phone,
	attributes, provenance, consents, password_hash, merged_into, last_login_at, created_at, updated_at, version`

// The reference statements: the account reads of the SCIM requests, alone,
// through the same indexes as the store's search (store/sqlstore/search.go):
// the unique index of accounts.login, the primary key's order.
const (
	refLookup = "SELECT " + accountCols + " FROM accounts WHERE login = ? AND status <> 'merged'"
	refKeyset = "SELECT " + accountCols + " FROM accounts WHERE status <> 'merged' AND id > ? ORDER BY id LIMIT ?"
	refOffset = "SELECT " + accountCols + " FROM accounts WHERE status <> 'merged' ORDER BY id LIMIT ? OFFSET ?"
)

// reference runs the reference statements, prepared once, on plain
// database/sql connections with the store's reader settings.
type reference struct {
	lookup, keyset, offset *sql.Stmt
}

func prepareReference(ctx context.Context, db *sql.DB, driver string) (_ *reference, err error) {
	r := &reference{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	for _, s := range []struct {
		dst   **sql.Stmt
		query string
	}{{&r.lookup, refLookup}, {&r.keyset, refKeyset}, {&r.offset, refOffset}} {
		if *s.dst, err = db.PrepareContext(ctx, rebind(s.query, driver == "postgres")); err != nil {
			return nil, fmt.Errorf("prepare %s: %w", s.query, err)
		}
	}
	return r, nil
}

func (r *reference) close() {
	for _, s := range []*sql.Stmt{r.lookup, r.keyset, r.offset} {
		if s != nil {
			s.Close()
		}
	}
}

// row receives the columns of one account.
type row [17]any

func (v *row) dest() []any {
	out := make([]any, len(v))
	for i := range v {
		out[i] = &v[i]
	}
	return out
}

// id is the account id of a row.
func (v *row) id() string {
	switch x := v[0].(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v[0])
}

// lookups reads the account of each person of keys by login, one query
// after the other, and checks each answer (untimed): the person's account,
// or no row for a person never inserted.
func (r *reference) lookups(ctx context.Context, keys []int, n int, tick func(int)) (lat []time.Duration, hits, misses int, err error) {
	lat = make([]time.Duration, len(keys))
	var v row
	dest := v.dest()
	for j, k := range keys {
		p := generate(k)
		start := time.Now()
		err := r.lookup.QueryRowContext(ctx, p.login).Scan(dest...)
		lat[j] = time.Since(start)
		switch hit := k < n; {
		case hit && err == nil && v.id() == p.id:
			hits++
		case !hit && errors.Is(err, sql.ErrNoRows):
			misses++
		default:
			return nil, 0, 0, fmt.Errorf("reference lookup of %s (known %t): id %q, %v", p.login, hit, v.id(), err)
		}
		tick(j + 1)
	}
	return lat, hits, misses, nil
}

// walk reads pages as walkSCIM does: conns walks at once of cfg.Pages
// keyset pages each, from the start of the list, or, when starts is given,
// one walk of the pages at those startIndexes by OFFSET.
func (r *reference) walk(ctx context.Context, conns int, starts []int, cfg config, tick func(int)) (walkResult, error) {
	lat := make([][]time.Duration, conns)
	ids := make([][][]string, conns)
	errs := make([]error, conns)
	var done sync.WaitGroup
	var mu sync.Mutex
	pages, count := 0, cfg.Pages
	if starts != nil {
		count = len(starts)
	}
	for c := range conns {
		done.Go(func() {
			var v row
			dest := v.dest()
			after := ""
			for j := range count {
				start := time.Now()
				var rows *sql.Rows
				var err error
				if starts == nil {
					rows, err = r.keyset.QueryContext(ctx, after, cfg.PageSize)
				} else {
					rows, err = r.offset.QueryContext(ctx, cfg.PageSize, starts[j]-1)
				}
				page := make([]string, 0, cfg.PageSize)
				for err == nil && rows.Next() {
					if err = rows.Scan(dest...); err == nil {
						page = append(page, v.id())
					}
				}
				if err == nil {
					err = rows.Err()
				}
				if rows != nil {
					rows.Close()
				}
				lat[c] = append(lat[c], time.Since(start))
				if err == nil && len(page) != cfg.PageSize {
					err = fmt.Errorf("%d rows, want %d", len(page), cfg.PageSize)
				}
				if err != nil {
					errs[c] = fmt.Errorf("reference walk %d, page %d: %w", c+1, j+1, err)
					return
				}
				after = page[len(page)-1]
				ids[c] = append(ids[c], page)
				mu.Lock()
				pages++
				tick(pages)
				mu.Unlock()
			}
		})
	}
	done.Wait()
	if err := errors.Join(errs...); err != nil {
		return walkResult{}, err
	}
	var w walkResult
	var all []time.Duration
	for c := range conns {
		w.result.FirstPages = append(w.result.FirstPages, lat[c][0])
		all = append(all, lat[c]...)
		w.ids = append(w.ids, ids[c]...)
	}
	w.result.Stats = latency.Summarize(all)
	return w, nil
}

// rebind turns "?" placeholders into "$1", "$2"... for PostgreSQL.
func rebind(q string, numbered bool) string {
	if !numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
