package propagate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// State is what a downstream platform should make of an account.
type State string

// Downstream states.
const (
	// StateActive: the person may use the platform.
	StateActive State = "active"
	// StateInactive: the account exists but may not be used (suspended,
	// awaiting activation or validation, or out of the target's scope).
	StateInactive State = "inactive"
	// StateRetired: the account was merged into Account.SurvivorID. The
	// target deactivates it and frees its unique values (login, e-mails)
	// so that the survivor can take them.
	StateRetired State = "retired"
)

// Account is the state one canonical account should have downstream: what
// a target writes. It holds the fields that matter to platforms only (no
// password, no last login), so that its hash changes exactly when a
// platform has something to learn.
type Account struct {
	ID    string `json:"id"`
	State State  `json:"state"`
	// Status is the account's status in canonid (active,
	// pending_activation, pending_validation, suspended, merged), which
	// State sums up for platforms.
	Status string `json:"status"`
	// SurvivorID is the account this one was merged into (StateRetired).
	SurvivorID  string `json:"survivor_id,omitempty"`
	Login       string `json:"login,omitempty"`
	GivenName   string `json:"given_name,omitempty"`
	FamilyName  string `json:"family_name,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	BirthDate   string `json:"birth_date,omitempty"` // YYYY-MM-DD
	Phone       string `json:"phone,omitempty"`
	// Emails are the verified addresses, the primary one first, then in
	// address order. Empty for a retired account.
	Emails []Email `json:"emails,omitempty"`
	// Attributes are the other canonical fields (ine, affiliation, ...).
	Attributes map[string][]string `json:"attributes,omitempty"`
	// Orgs are the validated memberships, in org id order.
	Orgs []Org `json:"orgs,omitempty"`
	// DirectoryVisible is the person's public-directory choice, nil when
	// not made (LDAP targets write supannListeRouge from it).
	DirectoryVisible *bool `json:"directory_visible,omitempty"`
	// MailForward is the validated mail redirection, if any.
	MailForward *MailForward `json:"mail_forward,omitempty"`
	// Links are the identities linked to the account, as "source:id".
	Links []string `json:"links,omitempty"`
	// MergedLogins are the logins of the accounts merged into this one.
	MergedLogins []string  `json:"merged_logins,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Email is a verified address of an account.
type Email struct {
	Address string `json:"address"`
	Primary bool   `json:"primary,omitempty"`
}

// Org is a validated membership.
type Org struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role string `json:"role,omitempty"`
}

// MailForward is a validated mail redirection.
type MailForward struct {
	Address  string `json:"address"`
	KeepCopy bool   `json:"keep_copy"`
}

// Remote is what a target remembers of what it wrote for one account.
type Remote struct {
	// ID is the account's identifier on the remote side (a SCIM id, a DN).
	// Empty when nothing was ever written.
	ID string
	// Hash is the hash of the Account last written successfully.
	Hash string
	// RetiredAt is when the account was written as retired, zero otherwise.
	// The dispatcher deletes retired remote accounts after the target's
	// grace period (Deleter).
	RetiredAt time.Time
}

// AccountTarget is a downstream platform that holds one entry per
// canonical account (a SCIM service provider, an LDAP directory).
//
// Write makes the remote side match a, given what was last written (prev,
// zero the first time), and returns what to remember. It must be
// idempotent: the dispatcher delivers at least once, and writes the same
// Account again after a crash or a retry. Write is never called for an
// account whose hash equals prev.Hash.
type AccountTarget interface {
	Write(ctx context.Context, a Account, prev Remote) (Remote, error)
}

// Deleter is an AccountTarget that can remove a retired account for good,
// after the grace period.
type Deleter interface {
	Delete(ctx context.Context, prev Remote) error
}

// Event is an outbox event, as delivered to an EventTarget.
type Event struct {
	// ID is the outbox sequence number: increasing, the same on every
	// redelivery; it starts again from a backup's head after a restore
	// (webhook.DeliveryID adds the time, which does not).
	ID        int64          `json:"id"`
	Type      string         `json:"type"`
	At        time.Time      `json:"at"`
	AccountID string         `json:"account_id,omitempty"`
	OrgID     string         `json:"org_id,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
	// Account is the current downstream state of AccountID, if any.
	Account *Account `json:"account,omitempty"`
}

// EventTarget is a downstream that receives events rather than state (a
// webhook).
type EventTarget interface {
	Deliver(ctx context.Context, ev Event) error
}

// UnavailableError is a target that cannot be reached or is overloaded
// (connection refused, timeout, HTTP 429, 502, 503, 504, LDAP busy or
// unavailable). The dispatcher retries with backoff, honouring RetryAfter,
// for as long as it takes: the change is not the problem, so it does not
// count towards dead-lettering, and later changes wait behind it to keep
// per-account order.
type UnavailableError struct {
	Err error
	// RetryAfter is the delay the target asked for (Retry-After), or 0.
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("target unavailable (retry after %s): %v", e.RetryAfter, e.Err)
	}
	return "target unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Unavailable wraps err as an UnavailableError.
func Unavailable(err error, retryAfter time.Duration) error {
	return &UnavailableError{Err: err, RetryAfter: retryAfter}
}

// IsUnavailable tells whether err is, or wraps, an UnavailableError, and
// the delay it asks for.
func IsUnavailable(err error) (bool, time.Duration) {
	var u *UnavailableError
	if errors.As(err, &u) {
		return true, u.RetryAfter
	}
	return false, 0
}

// RetryAfter reads an HTTP Retry-After header (RFC 9110 §10.2.3): seconds,
// or an HTTP date, relative to now. It returns 0 when absent, unreadable,
// or in the past.
func RetryAfter(header string, now time.Time) time.Duration {
	h := strings.TrimSpace(header)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if at, err := http.ParseTime(h); err == nil {
		return max(at.Sub(now), 0)
	}
	return 0
}
