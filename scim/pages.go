package scim

import (
	"fmt"
	"sync"
	"time"

	"github.com/canonid/canonid/store"
)

// pageCache makes paging through a large list cheap. A list's totalResults
// is counted once per state of the database: every change appends to the
// outbox, so counts are keyed by the outbox head the reading transaction
// sees. A client that reads page after page (startIndex 1, 101, 201...)
// continues from the last id of the page before instead of skipping
// startIndex-1 rows, and keeps doing so when something is written
// meanwhile: its walk then goes on by id (no user seen twice or skipped
// because an insert or a merge shifted the positions; RFC 7644 §3.4.2.4
// leaves consistency across pages to the provider) with the total it
// started with, rather than counting the list again and reading each page
// by OFFSET, which costs a scan of the list at a million accounts.
type pageCache struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	counts  map[string]countEntry
	cursors map[cursorKey]cursor
}

type countEntry struct {
	head  int64
	total int
}

type cursorKey struct {
	query string
	start int // the startIndex the cursor leads to
}

// cursor is where a page ended: the id after which the page at start
// begins, the outbox head and the total the page was served with.
type cursor struct {
	after string
	head  int64
	total int
	at    time.Time
}

// cursorTTL is how long a walk may pause between two pages and still
// continue by id across writes.
const cursorTTL = 10 * time.Minute

func newPageCache(max int) *pageCache {
	return &pageCache{max: max, now: time.Now, counts: map[string]countEntry{}, cursors: map[cursorKey]cursor{}}
}

// queryKey identifies a list query, paging aside.
func queryKey(q store.AccountSearch) string {
	return fmt.Sprintf("%s|%s|%v|%#v", q.Source, q.Sort, q.Descending, q.Filter)
}

// counted returns the number of accounts the query of key matches, if it
// was counted at head.
func (c *pageCache) counted(key string, head int64) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.counts[key]
	if !ok || e.head != head {
		return 0, false
	}
	return e.total, true
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

// cursor returns where the page ending just before start ended, if one was
// served less than cursorTTL ago; the first page begins after nothing, at
// head.
func (c *pageCache) cursor(key string, head int64, start int) (cursor, bool) {
	if start == 1 {
		return cursor{head: head}, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.cursors[cursorKey{key, start}]
	if !ok || c.now().Sub(cur.at) > cursorTTL {
		return cursor{}, false
	}
	return cur, true
}

// remember records that the page ending before start ended at id, served
// at head with total.
func (c *pageCache) remember(key string, start int, id string, head int64, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cursors) >= c.max*16 {
		clear(c.cursors)
	}
	c.cursors[cursorKey{key, start}] = cursor{after: id, head: head, total: total, at: c.now()}
}
