package ldap

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/connectors"
)

// funnelBuffer is how many decoded entries wait for fn: with the message
// being read by each search, it bounds what a listing holds in memory,
// whatever the directory's size.
const funnelBuffer = 256

// List reads every entry of the directory matched by the filter, calling
// fn once per entry, from the caller's goroutine. It runs cfg.Partitions
// paged searches in parallel, over disjoint ranges of entryUUIDs; entries
// come in no particular order.
func (c *Connector) List(ctx context.Context, fn func(connectors.Entry) error) error {
	return c.listFiltered(ctx, c.cfg.Filter, c.cfg.Partitions, fn)
}

// ListChanged reads the entries modified since the mark, minus the
// overlap: their modifyTimestamp is at or after since.Time - overlap. It
// runs one search, changes being few; a zero mark reads everything, as
// List does. The returned mark holds the latest modifyTimestamp and
// entryCSN seen, or since's when later (or nothing was read).
func (c *Connector) ListChanged(ctx context.Context, since connectors.Mark, fn func(connectors.Entry) error) (connectors.Mark, error) {
	filter, partitions := c.cfg.Filter, c.cfg.Partitions
	if !since.Time.IsZero() {
		from := since.Time.Add(-c.cfg.Overlap)
		filter = "(&" + filter + "(" + attrModifyTimestamp + ">=" + generalizedTime(from) + "))"
		partitions = 1
	}
	mark := since
	err := c.listFiltered(ctx, filter, partitions, func(e connectors.Entry) error {
		if err := fn(e); err != nil {
			return err
		}
		if e.ModifiedAt.After(mark.Time) {
			mark.Time = e.ModifiedAt
		}
		if e.CSN > mark.CSN {
			mark.CSN = e.CSN
		}
		return nil
	})
	if err != nil {
		return since, err
	}
	return mark, nil
}

// ScanIDs calls fn with the entryUUID of every entry matched by the
// filter. With presence "scan" it runs the same partitioned paged
// searches as List, reading entryUUID only; with "syncrepl" it runs a
// Content Synchronization refresh without cookie, which needs the
// syncprov overlay.
func (c *Connector) ScanIDs(ctx context.Context, fn func(externalID string) error) error {
	if c.cfg.Presence == PresenceSyncrepl {
		return c.syncScan(ctx, fn)
	}
	var skipped skipLog
	err := stream(ctx, c, c.cfg.Filter, c.cfg.Partitions, []string{attrEntryUUID},
		func(dn, attrs string) (string, bool, error) {
			var id string
			err := eachAttribute(attrs, func(name string, values []string) {
				if strings.EqualFold(name, attrEntryUUID) && len(values) > 0 {
					id = strings.ToLower(values[0])
				}
			})
			if err != nil {
				return "", false, fmt.Errorf("entry %s: %w", dn, err)
			}
			if id == "" {
				skipped.add(dn)
			}
			return id, id != "", nil
		}, fn)
	skipped.report(c)
	return err
}

func (c *Connector) listFiltered(ctx context.Context, filter string, partitions int, fn func(connectors.Entry) error) error {
	var skipped skipLog
	err := stream(ctx, c, filter, partitions, c.attrs,
		func(dn, attrs string) (connectors.Entry, bool, error) {
			entry, ok, err := c.rawEntry(dn, attrs)
			if err == nil && !ok {
				skipped.add(dn)
			}
			return entry, ok, err
		}, fn)
	skipped.report(c)
	return err
}

// skipLog counts the entries a listing skipped for want of an entryUUID.
type skipLog struct {
	n     atomic.Int64
	mu    sync.Mutex
	first string
}

func (s *skipLog) add(dn string) {
	if s.n.Add(1) == 1 {
		s.mu.Lock()
		s.first = dn
		s.mu.Unlock()
	}
}

func (s *skipLog) report(c *Connector) {
	if n := s.n.Load(); n > 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		c.log.Warn("entries without entryUUID skipped", "count", n, "first_dn", s.first)
	}
}

// stream runs the paged search of filter reading attrs, split into up to
// partitions parallel searches (see partitionCount). The searching
// goroutines convert each entry (its DN and undecoded attribute list)
// with convert, dropping those it refuses; fn gets the results in the
// caller's goroutine only. The first error, of a search or of fn, cancels
// the other searches; stream returns once every goroutine it started has
// ended.
func stream[T any](parent context.Context, c *Connector, filter string, partitions int, attrs []string,
	convert func(dn, attrs string) (T, bool, error), fn func(T) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	first, err := c.openStream(ctx)
	if err != nil {
		return err
	}
	n, err := c.partitionCount(ctx, first, filter, partitions)
	if err != nil {
		first.close()
		return err
	}

	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}

	out := make(chan T, funnelBuffer)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			conn := first
			if i > 0 {
				var err error
				if conn, err = c.openStream(ctx); err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					return
				}
			}
			defer conn.close()
			err := c.pagedSearch(ctx, conn, partitionFilter(filter, i, n), attrs, func(dn, attrs string) error {
				v, ok, err := convert(dn, attrs)
				if !ok || err != nil {
					return err
				}
				select {
				case out <- v:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if err != nil && ctx.Err() == nil {
				fail(err)
			}
		})
	}
	go func() {
		wg.Wait()
		close(out)
	}()

	for v := range out {
		if err := fn(v); err != nil {
			fail(err)
			break
		}
	}
	cancel()
	for range out { // wait for the searches to end
	}

	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return firstErr
	}
	// The searches stop silently when ctx ends: never report a
	// cancelled listing as complete.
	return parent.Err()
}

// partitionCount returns how many parallel searches a listing runs. Range
// filters on entryUUID need its ORDERING rule (UUIDOrderingMatch in
// OpenLDAP); on a server without it they match nothing, and a listing
// would silently miss every entry. So, once per connector, a probe checks
// that an always-true range filter matches some entry; if it matches none
// while the filter alone does, listings fall back to one search.
func (c *Connector) partitionCount(ctx context.Context, conn *streamConn, filter string, n int) (int, error) {
	if n <= 1 {
		return 1, nil
	}
	switch c.ordering.Load() {
	case orderingYes:
		return n, nil
	case orderingNo:
		return 1, nil
	}
	probe := func(filter string) (bool, error) {
		found := false
		_, err := conn.search(ctx, searchRequest{
			base: c.cfg.BaseDN, scope: c.scope, sizeLimit: 1, timeLimit: c.timeLimit(),
			filter: filter, attrs: []string{noAttributes},
		}, func(string, string) error {
			found = true
			return nil
		})
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, fmt.Errorf("ldap %s: search %s: %w", c.cfg.URL, c.cfg.BaseDN, err)
		}
		return found, nil
	}
	ordered, err := probe("(&" + filter + "(" + attrEntryUUID + ">=" + uuidBound(0, 1) + "))")
	if err != nil || ordered {
		if ordered {
			c.ordering.Store(orderingYes)
		}
		return n, err
	}
	matches, err := probe(filter)
	if err != nil || !matches {
		return 1, err // nothing to list: no verdict
	}
	c.ordering.Store(orderingNo)
	c.log.Warn("server cannot order entryUUIDs: listing with one search instead of partitions",
		"url", c.cfg.URL, "partitions", n)
	return 1, nil
}

// partitionFilter restricts filter to the i-th of n ranges of entryUUIDs,
// split on their first 32 bits. The first range has no lower bound and
// the last no upper bound, so together they cover every entry exactly
// once.
//
// The ranges are equal: they balance the load when entryUUIDs are spread
// (random UUIDs, or time-based ones of entries created over more than the
// seven minutes their first 32 bits take to wrap). Entries bulk-loaded
// with time-based UUIDs in a few minutes share a prefix and land in one
// partition: the listing is then as fast as a single search, not slower.
func partitionFilter(filter string, i, n int) string {
	if n <= 1 {
		return filter
	}
	var b strings.Builder
	b.WriteString("(&")
	b.WriteString(filter)
	if i > 0 {
		b.WriteString("(" + attrEntryUUID + ">=" + uuidBound(i, n) + ")")
	}
	if i < n-1 {
		b.WriteString("(!(" + attrEntryUUID + ">=" + uuidBound(i+1, n) + "))")
	}
	b.WriteString(")")
	return b.String()
}

// uuidBound is the lower bound of the i-th of n equal ranges of UUIDs:
// the smallest UUID whose first 32 bits are i * 2^32 / n.
func uuidBound(i, n int) string {
	return fmt.Sprintf("%08x-0000-0000-0000-000000000000", uint64(i)<<32/uint64(n))
}

// pagedSearch runs a paged search of filter on conn, page after page,
// calling emit for every entry.
func (c *Connector) pagedSearch(ctx context.Context, conn *streamConn, filter string, attrs []string, emit func(dn, attrs string) error) error {
	var cookie string
	for {
		paging := ldap.NewControlPaging(uint32(c.cfg.PageSize))
		paging.SetCookie([]byte(cookie))
		controls, err := conn.search(ctx, searchRequest{
			base: c.cfg.BaseDN, scope: c.scope, filter: filter, attrs: attrs,
			controls: []ldap.Control{paging},
		}, emit)
		if err == nil {
			cookie, err = pagingCookie(controls)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("ldap %s: search %s: %w", c.cfg.URL, c.cfg.BaseDN, err)
		}
		if cookie == "" {
			return nil
		}
	}
}
