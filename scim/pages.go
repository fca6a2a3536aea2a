package scim

import (
	"context"
	"fmt"
	"sync"

	"github.com/canonid/canonid/store"
)

// pageCache makes paging through a large list cheap. A list's totalResults
// is counted once per state of the database, and a client that reads page
// after page (startIndex 1, 101, 201...) continues from the last id of the
// page before instead of skipping startIndex-1 rows. Both are valid only
// while nothing changed: every change appends to the outbox, so entries are
// keyed by the outbox head the reading transaction sees.
type pageCache struct {
	mu      sync.Mutex
	max     int
	counts  map[string]countEntry
	cursors map[cursorKey]string
}

type countEntry struct {
	head  int64
	total int
}

type cursorKey struct {
	query string
	head  int64
	start int // the startIndex the cursor leads to
}

func newPageCache(max int) *pageCache {
	return &pageCache{max: max, counts: map[string]countEntry{}, cursors: map[cursorKey]string{}}
}

// queryKey identifies a list query, paging aside.
func queryKey(q store.AccountSearch) string {
	return fmt.Sprintf("%s|%s|%v|%#v", q.Source, q.Sort, q.Descending, q.Filter)
}

// count returns the query's key, the outbox head of tx and the number of
// accounts the query matches, counting only when the head moved.
func (c *pageCache) count(ctx context.Context, tx store.Tx, q store.AccountSearch) (string, int64, int, error) {
	key, head, n, ok, err := c.cached(ctx, tx, q)
	if err != nil || ok {
		return key, head, n, err
	}
	if n, err = tx.Accounts().Count(ctx, q); err != nil {
		return "", 0, 0, err
	}
	c.store(key, head, n)
	return key, head, n, nil
}

// cached returns the query's key, the outbox head of tx and, if known at
// that head, the number of accounts the query matches.
func (c *pageCache) cached(ctx context.Context, tx store.Tx, q store.AccountSearch) (string, int64, int, bool, error) {
	key := queryKey(q)
	head, err := tx.Outbox().Head(ctx)
	if err != nil {
		return "", 0, 0, false, err
	}
	c.mu.Lock()
	e, ok := c.counts[key]
	c.mu.Unlock()
	if ok && e.head == head {
		return key, head, e.total, true, nil
	}
	return key, head, 0, false, nil
}

// store records the number of accounts the query matches at head.
func (c *pageCache) store(key string, head int64, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.counts) >= c.max {
		clear(c.counts) // crude, but bounded; lists are few
	}
	c.counts[key] = countEntry{head, n}
}

// cursor returns the id after which the page at start begins, if a page
// ending just before it was served at the same head.
func (c *pageCache) cursor(key string, head int64, start int) (string, bool) {
	if start == 1 {
		return "", true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.cursors[cursorKey{key, head, start}]
	return id, ok
}

// remember records that the page ending before start ended at id.
func (c *pageCache) remember(key string, head int64, start int, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cursors) >= c.max*16 {
		clear(c.cursors)
	}
	c.cursors[cursorKey{key, head, start}] = id
}
