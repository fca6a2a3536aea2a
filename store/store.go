// Package store is the contract between canonid and its persistence: one small
// interface per aggregate (accounts, links, e-mails, orgs, memberships,
// one-time tokens, merge records, audit, outbox, API tokens), the sentinel
// errors every implementation translates its driver errors into, and the
// transaction closures through which every read-modify-write goes.
//
// The package holds interfaces and types only. Implementations live in
// store/sqlite (embedded, the default) and store/postgres; store/storetest is
// the conformance suite both run.
//
// Two rules are enforced by every implementation rather than left to callers:
//
//   - A transaction that changes anything must record at least one Event;
//     the audit row and the outbox row of each event are written in the same
//     transaction as the change, or the commit fails with ErrUnrecorded.
//   - Outbox sequence numbers are assigned at commit time, in commit order,
//     without gaps, so a reader that follows the outbox by sequence can never
//     skip an event whose transaction committed late.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canonid/canonid/identity"
)

// Sentinel errors. Implementations wrap them with %w and context; callers
// test with errors.Is.
var (
	// ErrNotFound: no such row. Also returned for a one-time token that is
	// unknown, used or expired, so that callers cannot tell which.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a uniqueness constraint was violated. The error is a
	// *DuplicateError naming the field.
	ErrDuplicate = errors.New("already exists")
	// ErrConflict: a concurrent transaction changed the row first (version
	// mismatch, serialisation failure or deadlock). Update retries the
	// closure on it a few times before giving up.
	ErrConflict = errors.New("concurrent update")
	// ErrReadOnly: a write was attempted inside View.
	ErrReadOnly = errors.New("read-only transaction")
	// ErrUnrecorded: the closure changed data but recorded no Event.
	ErrUnrecorded = errors.New("change recorded no event")
	// ErrInvalidReference: a row refers to another that does not exist
	// (foreign-key violation).
	ErrInvalidReference = errors.New("refers to a missing row")
)

// DuplicateError is the ErrDuplicate of a known constraint.
type DuplicateError struct {
	// Field is what is duplicated, e.g. "login", "email", "link", "api token name".
	Field string
}

func (e *DuplicateError) Error() string { return e.Field + " " + ErrDuplicate.Error() }

// Is makes errors.Is(err, ErrDuplicate) hold.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// Store is a canonid database.
type Store interface {
	// Update runs fn in a read-write transaction and commits if fn returns
	// nil. fn may run more than once: it is retried when the transaction
	// loses a race (ErrConflict), so it must not have effects outside tx.
	// Nested Update calls are not allowed.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent
	// snapshot; writes fail with ErrReadOnly.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Read runs fn outside a transaction: each statement sees what was
	// committed when it runs; writes fail with ErrReadOnly. It is for a
	// single read (an API token by hash on every request): it saves View's
	// BEGIN and ROLLBACK, on PostgreSQL two round trips to the server.
	// Reads that must agree with one another belong in View.
	Read(ctx context.Context, fn func(tx Tx) error) error
	// Outbox follows committed events by sequence, outside transactions.
	Outbox() OutboxReader
	// Subscribe returns a channel that receives a value soon after a
	// transaction that recorded events commits: in this process, and on
	// PostgreSQL in every process on the database (LISTEN/NOTIFY). Values
	// are coalesced and never block a commit, so a subscriber reads the
	// outbox after each one; cancel ends the subscription.
	Subscribe() (ch <-chan struct{}, cancel func())
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	// Migrate applies the embedded migrations not yet applied, in order,
	// each in its own transaction; concurrent callers are serialised.
	Migrate(ctx context.Context) (MigrateResult, error)
	Close() error
}

// MigrateResult reports what Migrate did.
type MigrateResult struct {
	Applied []Migration // the migrations applied by this call, in order
	Version int         // the schema version now
}

// Migration is one embedded, versioned schema change.
type Migration struct {
	Version int
	Name    string
}

// Tx is one transaction: the aggregates, read and written atomically.
type Tx interface {
	Accounts() Accounts
	Links() Links
	Emails() Emails
	Orgs() Orgs
	Memberships() Memberships
	Tokens() OneTimeTokens
	Merges() MergeRecords
	Audit() AuditLog
	Outbox() OutboxReader
	APITokens() APITokens
	Duplicates() Duplicates
	SyncStates() SyncStates
	Imports() Imports
	// AuthRequests holds authorization requests until their code is exchanged.
	AuthRequests() AuthRequests
	// OAuthTokens holds the access and refresh tokens the provider issued.
	OAuthTokens() OAuthTokens
	// SigningKeys holds the keys the provider signs tokens with.
	SigningKeys() SigningKeys
	// Sessions holds the login sessions of canonid's pages.
	Sessions() Sessions
	// Mails holds the mails queued for sending (store/mail.go).
	Mails() Mails
	// Propagation holds the delivery state of the downstream targets
	// (store/propagation.go).
	Propagation() Propagation
	// Record appends ev to the audit log and to the outbox of this
	// transaction. Every transaction that changes data must record at
	// least one event.
	Record(ctx context.Context, ev Event) error
	// Snapshot reads the identity data the invariant checker needs. It
	// reads every account: meant for tests and verification, not for
	// request paths.
	Snapshot(ctx context.Context) (identity.Snapshot, error)
}

// Accounts stores accounts.
type Accounts interface {
	// Create inserts a, which must have an ID; it sets Version to 1 and
	// CreatedAt/UpdatedAt to now when zero. ErrDuplicate on id or login.
	Create(ctx context.Context, a *identity.Account) error
	Get(ctx context.Context, id string) (identity.Account, error)
	// GetMany returns the accounts with these ids that exist, in id order
	// (a batch read; missing ids are left out).
	GetMany(ctx context.Context, ids []string) ([]identity.Account, error)
	// GetByLogin finds an account by normalised login.
	GetByLogin(ctx context.Context, login string) (identity.Account, error)
	// Update writes a if its Version is still the stored one, then
	// increments a.Version and sets UpdatedAt. ErrConflict otherwise.
	Update(ctx context.Context, a *identity.Account) error
	// Resolve follows merged_into from id to the live root account.
	Resolve(ctx context.Context, id string) (identity.Account, error)
	// List returns accounts ordered by id after q.After, at most q.Limit.
	List(ctx context.Context, q AccountQuery) ([]identity.Account, error)
	// Lookup finds the live accounts holding lookup keys of this kind
	// (identity.LookupKeys), for every value given in its normalised form
	// (identity.LookupValue): value -> account ids, sorted. Values no
	// account holds are left out. It sees the transaction's own writes.
	// Kind identity.LookupLogin finds the account holding a login, merged
	// or not.
	Lookup(ctx context.Context, kind identity.LookupKind, values []string) (map[string][]string, error)
	// Search returns the live (not merged) accounts matching q.Filter,
	// ordered by q.Sort then id, skipping q.Offset of them (or starting
	// after q.After), at most q.Limit. The filter runs in the database.
	Search(ctx context.Context, q AccountSearch) ([]identity.Account, error)
	// SearchListed is Search with what a listing shows beside each
	// account, read by the same statement: one statement whatever the
	// page, so that it is consistent even through Store.Read, and on
	// PostgreSQL one round trip instead of four.
	SearchListed(ctx context.Context, q AccountSearch) ([]Listed, error)
	// Count returns how many live accounts match q.Filter; sorting and
	// paging are ignored.
	Count(ctx context.Context, q AccountSearch) (int, error)
	// MergedInto returns, for each of ids, the ids of the accounts merged
	// directly into it (whose merged_into it is), sorted; ids without any
	// are left out.
	MergedInto(ctx context.Context, ids []string) (map[string][]string, error)
}

// Listed is an account as Accounts.SearchListed returns it: the parts of
// the account and of its rows in other tables that a listing shows. The
// fields a part leaves out are zero.
type Listed struct {
	// Account has ID, Status, Login, GivenName, FamilyName, DisplayName,
	// Phone, Attributes, CreatedAt, UpdatedAt and Version; a listing reads
	// neither password hashes nor provenance, consents, forwarding, birth
	// date or last login.
	Account identity.Account
	// Emails are the account's addresses, primary first then by address,
	// with AccountID, Address, Verified and Primary.
	Emails []identity.Email
	// Links are the heads of its links by source then external id:
	// Source, ExternalID, AccountID and Status.
	Links []identity.Link
	// Memberships are its memberships by org: OrgID, AccountID, Role and
	// State.
	Memberships []identity.Membership
	// Merged reports that accounts were merged into it
	// (Accounts.MergedInto tells which).
	Merged bool
}

// AccountSearch selects accounts for Accounts.Search and Count: the SCIM
// list, whose filters the store translates into its query language.
type AccountSearch struct {
	// Filter selects accounts; nil selects every live account.
	Filter Filter
	// Source is the link source of the caller (a SCIM client's
	// "scim:<name>"): AttrExternalID compares the external id of the
	// account's link of this source, and AttrActive is false for an account
	// whose link of this source is gone.
	Source string
	// Sort orders the result (then by id); "" orders by id. Only AttrID,
	// AttrLogin, AttrGivenName, AttrFamilyName, AttrDisplayName,
	// AttrCreated and AttrLastModified sort.
	Sort       Attr
	Descending bool
	// Offset skips that many accounts of the ordered result.
	Offset int
	// After, with the default order (Sort "" or AttrID, ascending),
	// starts after this id: a keyset cursor that costs nothing however
	// deep the page. Offset then counts from it.
	After string
	// Limit bounds the result; 0 means 100. A negative limit returns
	// nothing (Count alone).
	Limit int
}

// Filter is a condition on accounts: And, Or, Not, Compare or HasEmail.
type Filter interface{ isFilter() }

// And holds when every one of its filters holds (and when it is empty).
type And []Filter

// Or holds when one of its filters holds (never when it is empty).
type Or []Filter

// Not holds when its filter does not.
type Not struct{ Filter Filter }

// Attr is an attribute a Compare tests.
type Attr string

// Attributes of accounts. Login, names and e-mail addresses compare
// case-insensitively; id and external ids exactly.
const (
	AttrID          Attr = "id"           // string
	AttrLogin       Attr = "login"        // string (SCIM userName)
	AttrGivenName   Attr = "given_name"   // string
	AttrFamilyName  Attr = "family_name"  // string
	AttrDisplayName Attr = "display_name" // string
	// AttrActive is a bool: the account is active, pending activation or
	// pending validation, and its link of AccountSearch.Source (if any) is
	// not gone.
	AttrActive       Attr = "active"
	AttrCreated      Attr = "created"       // time.Time
	AttrLastModified Attr = "last_modified" // time.Time
	// AttrExternalID is the external id of the account's link of
	// AccountSearch.Source; absent (pr false) when it has none.
	AttrExternalID Attr = "external_id" // string
	// AttrEmailAddress and AttrEmailPrimary are attributes of one e-mail
	// address; they appear only inside HasEmail.
	AttrEmailAddress Attr = "email_address" // string
	AttrEmailPrimary Attr = "email_primary" // bool
)

// Op is a comparison operator of Compare, as in SCIM (RFC 7644 §3.4.2.2).
type Op string

// Comparison operators. Co, Sw and Ew apply to strings; Gt, Ge, Lt and Le
// to strings and times; Pr (present: not empty) takes no value.
const (
	OpEq Op = "eq"
	OpNe Op = "ne"
	OpCo Op = "co"
	OpSw Op = "sw"
	OpEw Op = "ew"
	OpPr Op = "pr"
	OpGt Op = "gt"
	OpGe Op = "ge"
	OpLt Op = "lt"
	OpLe Op = "le"
)

// Compare compares an attribute with a value: a string, a bool or a
// time.Time, as the attribute's type says. Ne holds when the attribute is
// absent, as in SCIM.
type Compare struct {
	Attr  Attr
	Op    Op
	Value any
}

// HasEmail holds when one of the account's e-mail addresses satisfies
// Where, whose Compares test AttrEmailAddress and AttrEmailPrimary only; a
// nil Where holds when the account has an address.
type HasEmail struct{ Where Filter }

func (And) isFilter()      {}
func (Or) isFilter()       {}
func (Not) isFilter()      {}
func (Compare) isFilter()  {}
func (HasEmail) isFilter() {}

// AccountQuery selects accounts for List.
type AccountQuery struct {
	// Text matches a substring of the login, the names or any e-mail
	// address, case-insensitively. Empty matches all.
	Text string
	// Statuses restricts to these statuses; empty means all but merged.
	Statuses []identity.Status
	// OrgID restricts to members of this org (any state).
	OrgID string
	After string // cursor: the last id of the previous page
	Limit int    // 0 means 100
}

// Links stores links.
type Links interface {
	// Create inserts l, setting l.Digest (identity.LinkDigest of its
	// attributes). ErrDuplicate when (source, external id) is owned.
	Create(ctx context.Context, l *identity.Link) error
	Get(ctx context.Context, source, externalID string) (identity.Link, error)
	// GetMany returns the links of source with these external ids that
	// exist, by external id (a batch read): owner, status and digest only,
	// without the Attributes snapshot and the times.
	GetMany(ctx context.Context, source string, externalIDs []string) (map[string]identity.Link, error)
	// ListBySource returns the links of source ordered by external id,
	// after the cursor after, at most limit (0 means 1000): owner, status
	// and digest only, as GetMany.
	ListBySource(ctx context.Context, source, after string, limit int) ([]identity.Link, error)
	ListByAccount(ctx context.Context, accountID string) ([]identity.Link, error)
	// ListByAccounts returns the links of several accounts, by account
	// (a batch read), without their snapshots, as GetMany.
	ListByAccounts(ctx context.Context, accountIDs []string) (map[string][]identity.Link, error)
	// Update writes the status, attributes and owner of an existing link,
	// setting l.Digest.
	Update(ctx context.Context, l *identity.Link) error
	Delete(ctx context.Context, source, externalID string) error
}

// Emails stores e-mail addresses.
type Emails interface {
	// Add inserts e. ErrDuplicate when the account already has the
	// address, when the address is verified elsewhere and e is verified,
	// or when e is primary and the account has a primary address.
	Add(ctx context.Context, e *identity.Email) error
	Get(ctx context.Context, accountID, address string) (identity.Email, error)
	// FindVerified returns the one verified row of an address.
	FindVerified(ctx context.Context, address string) (identity.Email, error)
	ListByAccount(ctx context.Context, accountID string) ([]identity.Email, error)
	// ListByAccounts returns the e-mails of several accounts, by account
	// (a batch read).
	ListByAccounts(ctx context.Context, accountIDs []string) (map[string][]identity.Email, error)
	// Update writes the flags of an existing (account, address) row.
	Update(ctx context.Context, e *identity.Email) error
	Delete(ctx context.Context, accountID, address string) error
}

// Orgs stores organisations.
type Orgs interface {
	// Put creates the org or updates its name and kind.
	Put(ctx context.Context, o *identity.Org) error
	Get(ctx context.Context, id string) (identity.Org, error)
	List(ctx context.Context) ([]identity.Org, error)
}

// Memberships stores org memberships.
type Memberships interface {
	// Put creates or replaces the membership of (org, account).
	Put(ctx context.Context, m *identity.Membership) error
	Get(ctx context.Context, orgID, accountID string) (identity.Membership, error)
	ListByOrg(ctx context.Context, orgID string) ([]identity.Membership, error)
	ListByAccount(ctx context.Context, accountID string) ([]identity.Membership, error)
	// ListByAccounts returns the memberships of several accounts, by
	// account (a batch read).
	ListByAccounts(ctx context.Context, accountIDs []string) (map[string][]identity.Membership, error)
	Delete(ctx context.Context, orgID, accountID string) error
}

// TokenPurpose says what a one-time token is for.
type TokenPurpose string

// One-time token purposes.
const (
	PurposeEmailVerification TokenPurpose = "email_verification"
	PurposeMergeKey          TokenPurpose = "merge_key"
	PurposeActivation        TokenPurpose = "activation"
	PurposePasswordReset     TokenPurpose = "password_reset"
	PurposePhoneCode         TokenPurpose = "phone_code"
	// PurposeMailRedirect proves the address an account's mail is to be
	// redirected to (identity.MailForward); Data {"address": ...}.
	PurposeMailRedirect TokenPurpose = "mail_redirect"
)

// OneTimeToken is a single-use secret: only its hash is stored.
type OneTimeToken struct {
	ID        string
	Purpose   TokenPurpose
	Hash      []byte // SHA-256 of the secret handed out
	AccountID string
	// Data is purpose-specific, e.g. {"address": "..."} for an e-mail
	// verification.
	Data      map[string]string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// OneTimeTokens stores one-time tokens.
type OneTimeTokens interface {
	Create(ctx context.Context, t *OneTimeToken) error
	// Consume marks the token of this purpose and hash used and returns
	// it, if it exists, is unused and has not expired at now. Otherwise
	// ErrNotFound, whatever the reason.
	Consume(ctx context.Context, purpose TokenPurpose, hash []byte, now time.Time) (OneTimeToken, error)
	// Find returns the token of this purpose and hash, without using it,
	// if it exists, is unused and has not expired at now (a preview before
	// the Consume that acts). Otherwise ErrNotFound, whatever the reason.
	Find(ctx context.Context, purpose TokenPurpose, hash []byte, now time.Time) (OneTimeToken, error)
	// ListPending returns the account's unused, unexpired tokens.
	ListPending(ctx context.Context, accountID string, now time.Time) ([]OneTimeToken, error)
	// Revoke voids the account's pending tokens of the given purposes
	// (all purposes when none given) and returns how many it voided.
	Revoke(ctx context.Context, accountID string, now time.Time, purposes ...TokenPurpose) (int, error)
}

// MergeRecords stores merge records.
type MergeRecords interface {
	Create(ctx context.Context, m *identity.MergeRecord) error
	Get(ctx context.Context, id string) (identity.MergeRecord, error)
	// ListByAccount returns the merges where the account is survivor or
	// retired, newest first.
	ListByAccount(ctx context.Context, accountID string) ([]identity.MergeRecord, error)
	// MarkUndone records the undo of a standing merge; ErrConflict if it
	// was already undone.
	MarkUndone(ctx context.Context, id, actor string, at time.Time) error
}

// Event is a change, as recorded by Tx.Record.
type Event struct {
	Type      string // e.g. identity.EventAccountMerged
	Actor     string // who did it: "account:<id>", "token:<name>", "connector:<name>", "system"
	AccountID string // the account concerned, if any
	OrgID     string // the org concerned, if any
	RequestID string
	Data      any // JSON-encoded payload
	// At is when it happened; zero means now.
	At time.Time
}

// AuditEntry is a stored audit event.
type AuditEntry struct {
	ID        int64
	At        time.Time
	Type      string
	Actor     string
	AccountID string
	OrgID     string
	RequestID string
	Data      []byte // JSON
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	AccountID string
	OrgID     string
	Type      string
	Before    int64 // cursor: entries with a smaller id
	Limit     int   // 0 means 100
}

// AuditLog reads the audit log. Writes go through Tx.Record.
type AuditLog interface {
	List(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// OutboxEvent is an event in the outbox.
type OutboxEvent struct {
	// Seq is gapless and follows commit order.
	Seq       int64
	At        time.Time
	Type      string
	AccountID string
	OrgID     string
	Data      []byte // JSON
}

// OutboxReader follows the outbox.
type OutboxReader interface {
	// After returns up to limit committed events with Seq > seq, in order.
	After(ctx context.Context, seq int64, limit int) ([]OutboxEvent, error)
	// Head returns the highest committed sequence number, 0 if none.
	Head(ctx context.Context) (int64, error)
}

// APIRole is the role of an API token.
type APIRole string

// API token roles: support acts everywhere, scim provisions over /scim/v2,
// org-admin acts inside one org.
const (
	RoleSupport  APIRole = "support"
	RoleSCIM     APIRole = "scim"
	RoleOrgAdmin APIRole = "org-admin"
)

// ParseAPIRole checks a role name.
func ParseAPIRole(s string) (APIRole, error) {
	switch r := APIRole(s); r {
	case RoleSupport, RoleSCIM, RoleOrgAdmin:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want support, scim or org-admin)", s)
}

// APIToken is a bearer token for the API or SCIM: only its hash is stored.
type APIToken struct {
	ID        string
	Name      string
	Role      APIRole
	OrgID     string // for org-admin
	Hash      []byte // SHA-256 of the token
	CreatedAt time.Time
	RevokedAt time.Time
}

// APITokens stores API tokens.
type APITokens interface {
	// Create inserts t. ErrDuplicate on name or hash.
	Create(ctx context.Context, t *APIToken) error
	// GetByHash finds an unrevoked token.
	GetByHash(ctx context.Context, hash []byte) (APIToken, error)
	List(ctx context.Context) ([]APIToken, error)
	Revoke(ctx context.Context, id string, at time.Time) error
}

// Duplicates stores what duplicate detection needs: the blocking keys of
// every live account (identity.BlockingKeys), which the store rewrites itself
// when a transaction that changed an account or its e-mails commits, and the
// "not a duplicate" decisions.
type Duplicates interface {
	// Keys returns the account's blocking keys, sorted.
	Keys(ctx context.Context, accountID string) ([]string, error)
	// Candidates returns the other accounts sharing a blocking key with
	// accountID, each with the keys shared, leaving out keys held by more
	// than maxBlock accounts (too common to mean anything).
	Candidates(ctx context.Context, accountID string, maxBlock int) (map[string][]string, error)
	// Blocks calls fn, in key order, for every key held by 2 to maxBlock
	// accounts, with those accounts' ids sorted.
	Blocks(ctx context.Context, maxBlock int, fn func(key string, accountIDs []string) error) error
	// Reindex recomputes the keys of the given accounts, or of every
	// account when none is given (after an upgrade). Keys are derived data:
	// reindexing records no event.
	Reindex(ctx context.Context, accountIDs ...string) error
	// Dismiss records that a and b are not duplicates.
	Dismiss(ctx context.Context, a, b, actor string, at time.Time) error
	// Dismissed returns the dismissed pairs, each as identity.PairKey.
	Dismissed(ctx context.Context) (map[string]bool, error)
}

// SyncState is a connector's bookkeeping between runs.
type SyncState struct {
	Connector string
	// Mark is where the next incremental sync resumes, as the connector
	// encodes it (JSON), or nil.
	Mark []byte
	// LastFullAt is when the last full sync finished, zero if never.
	LastFullAt time.Time
	// LastRunAt is when the last sync finished, zero if never.
	LastRunAt time.Time
	// LastResult is the last run's summary (JSON), or nil.
	LastResult []byte
	// LeaseOwner holds the connector's lease until LeaseUntil; empty when
	// nobody does.
	LeaseOwner string
	LeaseUntil time.Time
}

// LeaseHeldError is returned by SyncStates.Acquire when another owner holds
// the lease. It matches ErrConflict with errors.Is.
type LeaseHeldError struct {
	Connector string
	Owner     string
	Until     time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("connector %s is being synced by %s (lease until %s)", e.Connector, e.Owner, e.Until.UTC().Format(time.RFC3339))
}

// Is makes a LeaseHeldError match ErrConflict.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrConflict }

// SyncStates stores connector bookkeeping. Its writes are not changes to
// identities: they need no event (a sync records events for what it
// changes, and one for the run).
type SyncStates interface {
	// Get returns the connector's state; a connector never synced has
	// the zero state (with Connector set) and no error.
	Get(ctx context.Context, connector string) (SyncState, error)
	// Acquire gives owner the connector's lease until until, if nobody
	// holds it at now or owner already does; otherwise *LeaseHeldError.
	Acquire(ctx context.Context, connector, owner string, now, until time.Time) (SyncState, error)
	// Release ends owner's lease; releasing a lease one does not hold
	// does nothing.
	Release(ctx context.Context, connector, owner string) error
	// Save writes the mark, times and result of s (not the lease).
	Save(ctx context.Context, s *SyncState) error
}

// ImportRecord is one file import, with its report.
type ImportRecord struct {
	ID         string // set by Create when empty
	Connector  string
	FileName   string
	FileSHA256 string // hex
	Actor      string
	DryRun     bool
	// Status is completed, rejected (nothing written: a missing column,
	// or row errors with --strict) or failed.
	Status     string
	StartedAt  time.Time
	FinishedAt time.Time
	// Report is the import's report (JSON), as the command and the API
	// print it.
	Report []byte
}

// Imports stores the record of each file import. Creating one is a change:
// record an event with it.
type Imports interface {
	Create(ctx context.Context, r *ImportRecord) error
	Get(ctx context.Context, id string) (ImportRecord, error)
	// List returns the imports of a connector (all when empty), newest
	// first, at most limit (0 means 100).
	List(ctx context.Context, connector string, limit int) ([]ImportRecord, error)
}

// Config selects and configures the database.
type Config struct {
	// Driver is "sqlite" (embedded, the default) or "postgres".
	Driver string `yaml:"driver"`
	// DSN is a file path or file: URI for sqlite, a postgres:// URL or
	// key=value string for postgres.
	DSN string `yaml:"dsn"`
}

// Validate reports every problem of c, each prefixed with its key.
func (c Config) Validate() error {
	var errs []error
	switch c.Driver {
	case "sqlite", "postgres":
	default:
		errs = append(errs, fmt.Errorf("driver: must be sqlite or postgres, got %q", c.Driver))
	}
	if c.DSN == "" {
		errs = append(errs, errors.New("dsn: must be set"))
	}
	return errors.Join(errs...)
}
