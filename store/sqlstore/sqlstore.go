// Package sqlstore implements the store contract once, on database/sql, for
// both SQL databases canonid supports. The drivers (store/sqlite,
// store/postgres) open the connections and supply a Dialect: placeholder
// style, time encoding, how to begin read and write transactions, how to
// serialise migrations, and how to translate driver errors into the store's
// sentinel errors. Everything else — queries, the event rules, the outbox
// sequence — is written here once, so both databases behave alike.
package sqlstore

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/canonid/canonid/store"
)

// Dialect is what differs between the SQL databases.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Numbered placeholders ($1, $2...) instead of "?".
	Numbered bool
	// ForUpdate is appended to reads of accounts inside write
	// transactions to lock the rows read (" FOR UPDATE"), or empty where
	// write transactions are serialised anyway.
	ForUpdate string
	// Time converts a non-zero time to the value bound for a timestamp
	// column.
	Time func(t time.Time) any
	// BeginWrite and BeginRead start read-write and read-only (snapshot)
	// transactions.
	BeginWrite func(ctx context.Context) (*sql.Tx, error)
	BeginRead  func(ctx context.Context) (*sql.Tx, error)
	// LockMigrations serialises migrations across processes, inside tx.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// Translate maps a driver error to the store's sentinels (or returns
	// it unchanged).
	Translate func(err error) error
	// Migrations holds NNNN_name.sql files at its root.
	Migrations fs.FS
	// CacheStatements prepares each statement once per transaction and
	// reuses it: SQLite otherwise parses every statement anew, and a batch
	// runs the same few hundreds of times. pgx caches statements itself.
	CacheStatements bool
	// NotifyOutbox, when set, runs in every transaction that records
	// events, before commit, with the store's instance id as its one
	// argument: on PostgreSQL a NOTIFY, which the server delivers to the
	// listeners of every process once the commit is done.
	NotifyOutbox string
	// WatchOutbox, when set, listens for the other processes' commits
	// until ctx ends, calling wake after each; notifications carrying self
	// (this store's own commits, already woken in process) are skipped.
	// Subscribe starts it.
	WatchOutbox func(ctx context.Context, self string, wake func()) error
}

// Store is the shared implementation of store.Store.
type Store struct {
	d      Dialect
	read   *sql.DB
	closer func() error
	log    *slog.Logger
	now    func() time.Time
	subs   subscribers
	// instance tells this store's own NOTIFYs from other processes'.
	instance string
}

// maxCachedArgs keeps statements with long IN lists, whose text varies with
// the batch, out of a transaction's statement cache.
const maxCachedArgs = 32

var _ store.Store = (*Store)(nil)

// maxAttempts bounds how often Update runs a closure that keeps losing races.
const maxAttempts = 8

// New returns a Store reading outside transactions through read (the outbox
// reader and Ping) and using d for everything else. closer releases the
// driver's resources.
func New(d Dialect, read *sql.DB, closer func() error, logger *slog.Logger) *Store {
	return &Store{d: d, read: read, closer: closer, log: logger, now: time.Now, instance: crand.Text()}
}

// SetClock replaces the clock used for timestamps the caller left zero. For
// tests.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.updateOnce(ctx, fn)
		if !errors.Is(err, store.ErrConflict) || attempt == maxAttempts {
			return err
		}
		s.log.DebugContext(ctx, "transaction lost a race, retrying", "attempt", attempt, "err", err)
		// Exponential backoff with full jitter, capped at ~100 ms.
		backoff := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 7)))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Store) updateOnce(ctx context.Context, fn func(tx store.Tx) error) (err error) {
	sqlTx, err := s.d.BeginWrite(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", s.d.Translate(err))
	}
	t := &tx{s: s, tx: sqlTx}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.changed && len(t.events) == 0 {
		return store.ErrUnrecorded
	}
	if err := t.reindexDirty(ctx); err != nil {
		return err
	}
	recorded := len(t.events) > 0
	if err := t.flushEvents(ctx); err != nil {
		return err
	}
	if recorded && s.d.NotifyOutbox != "" {
		if _, err := sqlTx.ExecContext(ctx, s.rebind(s.d.NotifyOutbox), s.instance); err != nil {
			return fmt.Errorf("notify outbox: %w", s.d.Translate(err))
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.d.Translate(err))
	}
	if recorded {
		s.subs.wake()
	}
	return nil
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(tx store.Tx) error) error {
	sqlTx, err := s.d.BeginRead(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", s.d.Translate(err))
	}
	defer func() { _ = sqlTx.Rollback() }()
	return fn(&tx{s: s, tx: sqlTx, readOnly: true})
}

// Read implements store.Store: fn's statements run on the reading pool,
// each on its own.
func (s *Store) Read(ctx context.Context, fn func(tx store.Tx) error) error {
	return fn(&tx{s: s, tx: s.read, pooled: true, readOnly: true})
}

// Outbox implements store.Store.
func (s *Store) Outbox() store.OutboxReader { return outboxReader{s: s, q: s.read} }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%s: %w", s.d.Name, err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.subs.stop()
	return s.closer()
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations lists the embedded migrations, in order.
func (s *Store) Migrations() ([]store.Migration, error) {
	entries, err := fs.ReadDir(s.d.Migrations, ".")
	if err != nil {
		return nil, err
	}
	var out []store.Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		out = append(out, store.Migration{Version: v, Name: m[2]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions must be 1, 2, 3...: found %04d at position %d", m.Version, i+1)
		}
	}
	return out, nil
}

// Migrate implements store.Store.
func (s *Store) Migrate(ctx context.Context) (store.MigrateResult, error) {
	var res store.MigrateResult
	all, err := s.Migrations()
	if err != nil {
		return res, err
	}
	for _, m := range all {
		applied, err := s.applyMigration(ctx, m)
		if err != nil {
			return res, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if applied {
			res.Applied = append(res.Applied, m)
		}
		res.Version = m.Version
	}
	return res, nil
}

func (s *Store) applyMigration(ctx context.Context, m store.Migration) (applied bool, err error) {
	body, err := fs.ReadFile(s.d.Migrations, path.Clean(fmt.Sprintf("%04d_%s.sql", m.Version, m.Name)))
	if err != nil {
		return false, err
	}
	tx, err := s.d.BeginWrite(ctx)
	if err != nil {
		return false, s.d.Translate(err)
	}
	defer func() {
		if err != nil || !applied {
			_ = tx.Rollback()
		}
	}()
	if err := s.d.LockMigrations(ctx, tx); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.rebind("SELECT count(*) FROM schema_migrations WHERE version = ?"), m.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		m.Version, m.Name, s.now().UTC().Format(time.RFC3339)); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, s.d.Translate(err)
	}
	s.log.InfoContext(ctx, "applied migration", "version", m.Version, "name", m.Name)
	return true, nil
}

// rebind turns "?" placeholders into "$1", "$2"... for dialects that need it.
// canonid's queries never contain a literal question mark.
func (s *Store) rebind(q string) string {
	if !s.d.Numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
