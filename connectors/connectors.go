// Package connectors declares what canonid asks of the places identities come
// from — a campus LDAP directory, agency files, upstream OpenID providers —
// as small capability interfaces. It holds no implementation: those live in
// subpackages (connectors/ldap, ...) and assert at compile time which
// capabilities they offer; the one consumer of a capability finds it with a
// type switch.
package connectors

import (
	"context"
	"errors"
	"time"
)

// Entry is one identity as a source reports it.
type Entry struct {
	// ExternalID is the source's stable, never-reused key for the
	// identity: an LDAP entryUUID, a file's row key. Links are keyed by
	// it, so a renamed LDAP entry keeps its account.
	ExternalID string
	// Name locates the entry for people reading a report: an LDAP DN.
	Name string
	// Line is the entry's line in a file source (1-based), 0 otherwise.
	Line int
	// Attributes are the source's own attributes, as the source spells
	// their names (mapping looks them up case-insensitively).
	Attributes map[string][]string
	// ModifiedAt is when the source last changed the entry, zero when it
	// does not say (LDAP modifyTimestamp).
	ModifiedAt time.Time
	// CSN is the entry's change sequence number when the source has one
	// (OpenLDAP entryCSN); it orders changes finer than ModifiedAt.
	CSN string
}

// Connector is a configured source. It offers nothing by itself: what it
// can do is told by the capability interfaces it implements.
type Connector interface {
	// Name is the connector's configured name; links from it have the
	// source "<type>:<name>".
	Name() string
}

// Lister reads every identity of a source, streaming: fn is called once per
// entry, from one goroutine at a time, and the source never holds the whole
// directory in memory. An error from fn stops the listing and is returned.
type Lister interface {
	List(ctx context.Context, fn func(Entry) error) error
}

// Mark is an incremental listing's high-water mark: where the next listing
// resumes. Its content is the source's business; the zero Mark means "from
// the beginning".
type Mark struct {
	// Time is the latest modification time seen (LDAP modifyTimestamp).
	Time time.Time `json:"time,omitzero"`
	// CSN is the latest change sequence number seen (OpenLDAP entryCSN).
	CSN string `json:"csn,omitempty"`
}

// IncrementalLister reads the identities changed since a mark. Sources
// re-read a safety overlap before the mark, so the same entry may come
// again; the consumer skips entries it already holds unchanged.
type IncrementalLister interface {
	ListChanged(ctx context.Context, since Mark, fn func(Entry) error) (Mark, error)
}

// PresenceScanner lists the external ids of every identity the source
// holds now, cheaply (ids only), so that the consumer can tell which linked
// identities are gone.
type PresenceScanner interface {
	ScanIDs(ctx context.Context, fn func(externalID string) error) error
}

// ErrInvalidCredentials is returned by a PasswordAuthenticator when the
// login is unknown or the password wrong; the two are not told apart.
var ErrInvalidCredentials = errors.New("connectors: invalid credentials")

// PasswordAuthenticator checks a password against the source (LDAP bind as
// the user) and returns the user's entry.
type PasswordAuthenticator interface {
	// Authenticate finds the identity whose login or e-mail is login and
	// checks password. ErrInvalidCredentials when there is no such
	// identity, several, or the password is wrong.
	Authenticate(ctx context.Context, login, password string) (Entry, error)
}

// PasswordChanger sets a user's password at the source (LDAP Password
// Modify extended operation, RFC 3062).
type PasswordChanger interface {
	// ChangePassword sets the password of the identity with this external
	// id. With oldPassword empty the change is made with the connector's
	// own (administrative) credentials; otherwise as the user, checking
	// oldPassword (ErrInvalidCredentials when wrong).
	ChangePassword(ctx context.Context, externalID, oldPassword, newPassword string) error
}

// ChangeKind tells what a Change reports.
type ChangeKind int

// The kinds of change a ChangeFeed reports.
const (
	// ChangeUpsert: the identity is new or changed; Change.Entry holds
	// its current state.
	ChangeUpsert ChangeKind = iota + 1
	// ChangeDelete: the identity is gone.
	ChangeDelete
	// ChangePresent: the identity is still there; only
	// Change.ExternalID is set. If it is new or changed, a
	// ChangeUpsert for it comes too, before or after.
	ChangePresent
)

// Change is one item of a change feed.
type Change struct {
	Kind ChangeKind
	// ExternalID identifies the identity, whatever the kind.
	ExternalID string
	// Entry is the identity's current state, for ChangeUpsert only.
	Entry Entry
}

// ChangeResult ends a call to ChangeFeed.Changes.
type ChangeResult struct {
	// Cookie resumes the feed after the changes just reported; it is
	// the given cookie when nothing changed. Opaque; store it as is.
	Cookie []byte
	// Complete says that the source reported every identity it holds,
	// as ChangeUpsert or ChangePresent: the identities it did not
	// report are gone, even without a ChangeDelete. Always true for a
	// call without cookie.
	Complete bool
}

// ChangeFeed reports what changed at the source since a cookie it issued
// (LDAP Content Synchronization, RFC 4533): fn is called once per change,
// from one goroutine at a time; an error from fn stops the feed and is
// returned, and the cookie given stays the one to resume from. A nil
// cookie reports every identity as ChangeUpsert.
type ChangeFeed interface {
	Changes(ctx context.Context, cookie []byte, fn func(Change) error) (ChangeResult, error)
}
