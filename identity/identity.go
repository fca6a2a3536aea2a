// Package identity holds canonid's canonical model — accounts, the identities
// linked to them, their e-mail addresses, organisations and memberships, and
// the records of merges — together with the invariants that must hold between
// them.
//
// The package is pure: it does no I/O and never logs. Persistence lives in
// package store; the merge engine, survivorship and duplicate scoring build on
// the types declared here.
package identity

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Status is the life-cycle state of an account.
type Status string

// Account statuses. Only active accounts may log in; a merged account is
// retired for good (until an undo) and resolves to the account it was merged
// into.
const (
	StatusPendingActivation Status = "pending_activation"
	StatusPendingValidation Status = "pending_validation"
	StatusActive            Status = "active"
	StatusSuspended         Status = "suspended"
	StatusMerged            Status = "merged"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPendingActivation, StatusPendingValidation, StatusActive, StatusSuspended, StatusMerged:
		return true
	}
	return false
}

// Live reports whether an account in this status can own links, verified
// e-mail addresses, sessions and tokens. Every status but merged is live.
func (s Status) Live() bool { return s.Valid() && s != StatusMerged }

// Canonical field names, shared by mapping, survivorship and provenance.
const (
	FieldLogin         = "login"
	FieldGivenName     = "given_name"
	FieldFamilyName    = "family_name"
	FieldDisplayName   = "display_name"
	FieldBirthDate     = "birth_date"
	FieldEmail         = "email"
	FieldRecoveryEmail = "recovery_email"
	FieldPhone         = "phone"
	FieldINE           = "ine"
	FieldAffiliation   = "affiliation"
	FieldOrg           = "org"
)

// Account is one person's canonical account. Its ID never changes: it is the
// OIDC subject and the SCIM id, and keeps resolving after a merge.
type Account struct {
	ID     string
	Status Status
	// Login is the normalised login name (see NormalizeLogin), or empty for
	// an account that has none yet (e.g. created by a file import).
	Login       string
	GivenName   string
	FamilyName  string
	DisplayName string
	// BirthDate is a calendar date, YYYY-MM-DD, or empty.
	BirthDate string
	Phone     string
	// Attributes holds the canonical fields that have no column of their
	// own (ine, affiliation, org, ...), possibly multi-valued.
	Attributes map[string][]string
	// Provenance names, per canonical field, the source its current value
	// came from ("ldap:campus", "csv:ars-occitanie", "self", "admin").
	Provenance map[string]string
	// Consents records what the person agreed to.
	Consents Consents
	// MailForward is where the person redirects their institutional mail,
	// nil for no redirection. It is to be applied only once verified
	// (MailForward.VerifiedAt set).
	MailForward *MailForward
	// PasswordHash is an argon2id PHC string, or empty.
	PasswordHash string
	// MergedInto is the id of the account this one was merged into; set
	// exactly when Status is StatusMerged.
	MergedInto  string
	LastLoginAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Version increases by one on every write; it is the SCIM ETag and the
	// optimistic-concurrency check of the store.
	Version int64
}

// Consents holds the person's recorded agreements.
type Consents struct {
	CharterVersion    string    `json:"charter_version,omitempty"`
	CharterAcceptedAt time.Time `json:"charter_accepted_at,omitzero"`
	// DirectoryVisible is nil until the person has chosen.
	DirectoryVisible *bool `json:"directory_visible,omitempty"`
	// MailForwardAnsweredAt is when the person last answered whether to
	// redirect their institutional mail (the activation step of seed 001):
	// zero until they have. Their answer is Account.MailForward: nil when
	// they declined (skipped the step), the address chosen otherwise.
	MailForwardAnsweredAt time.Time `json:"mail_forward_answered_at,omitzero"`
}

// MailForward is a redirection of the account's institutional mail to
// another address (a personal one, say), chosen by the person. Ownership of
// the address is proved by a link mailed to it: until then the redirection
// is pending (VerifiedAt is zero) and must not be applied.
type MailForward struct {
	// Address is the normalised address the mail goes to (see
	// NormalizeEmail).
	Address string `json:"address"`
	// KeepCopy keeps a copy of each message in the institutional mailbox.
	KeepCopy bool `json:"keep_copy"`
	// VerifiedAt is when the link mailed to Address was followed; zero
	// while the redirection is pending.
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	// ChosenAt is when the person chose this redirection.
	ChosenAt time.Time `json:"chosen_at,omitzero"`
}

// LinkStatus tells whether the source still reports a linked identity.
type LinkStatus string

// Link statuses.
const (
	LinkActive LinkStatus = "active"
	LinkGone   LinkStatus = "gone"
)

// Link is an identity at a source, attached to the account that owns it:
// ("ldap:campus", entryUUID), ("csv:ars-occitanie", row key),
// ("oidc:campus-sso", issuer+sub), ("scim:hr", externalId).
type Link struct {
	Source     string
	ExternalID string
	AccountID  string
	Status     LinkStatus
	// Attributes is the last snapshot of the source's own attributes.
	Attributes map[string][]string
	// Digest is LinkDigest(Attributes), kept by the store, so that a sync
	// can tell an unchanged entry without reading the snapshot.
	Digest    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LinkDigest returns a digest of a link's attributes: equal for equal maps
// (whatever their order), different otherwise in practice (SHA-256 over an
// unambiguous encoding, 128 bits kept, hex).
func LinkDigest(attrs map[string][]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	for _, k := range keys {
		put(k)
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(attrs[k])))])
		for _, v := range attrs[k] {
			put(v)
		}
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// Email is an address attached to an account. An address may be pending on
// several accounts at once but verified on one only.
type Email struct {
	Address    string // normalised, see NormalizeEmail
	AccountID  string
	Verified   bool
	Primary    bool
	Source     string
	CreatedAt  time.Time
	VerifiedAt time.Time
}

// Org is an organisation: a university, a school, a CPTS, an agency region.
type Org struct {
	ID        string // slug, e.g. "cpts-sud"
	Name      string
	Kind      string // free text: university, school, cpts, agency, ...
	CreatedAt time.Time
}

// Role is a membership role inside one org.
type Role string

// Membership roles.
const (
	RoleMember   Role = "member"
	RoleOrgAdmin Role = "org-admin"
)

// MembershipState is the validation state of a membership.
type MembershipState string

// Membership states.
const (
	MembershipPending   MembershipState = "pending"
	MembershipValidated MembershipState = "validated"
	MembershipRejected  MembershipState = "rejected"
)

// Membership ties an account to an org with a role and a validation state.
type Membership struct {
	OrgID       string
	AccountID   string
	Role        Role
	State       MembershipState
	ValidatedBy string
	ValidatedAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// MergeReason says what started a merge.
type MergeReason string

// Merge reasons.
const (
	MergeByEmail MergeReason = "email"
	MergeByKey   MergeReason = "key"
	MergeByAdmin MergeReason = "admin"
	MergeByRule  MergeReason = "rule"
)

// MergeRecord is the durable trace of one merge: enough to undo it exactly.
type MergeRecord struct {
	ID         string
	SurvivorID string
	RetiredID  string
	Reason     MergeReason
	Actor      string
	CreatedAt  time.Time
	Moved      Moved
	UndoneAt   time.Time
	UndoneBy   string
}

// Undone reports whether the merge was undone.
func (m MergeRecord) Undone() bool { return !m.UndoneAt.IsZero() }

// Moved lists everything a merge took from the retired account and what it
// changed on the survivor, so that PlanUndo can restore both exactly. PlanMerge
// fills it; lists are sorted (links by source and external id, e-mails by
// address, memberships by org).
type Moved struct {
	Links []LinkKey `json:"links,omitempty"`
	// Emails are the retired account's addresses, with the flags they had
	// there.
	Emails      []MovedEmail      `json:"emails,omitempty"`
	Memberships []string          `json:"memberships,omitempty"` // org ids
	Attributes  map[string]string `json:"attributes,omitempty"`  // field -> source whose value survived
	// Retired is the retired account as it was just before the merge.
	Retired *AccountState `json:"retired,omitempty"`

	// EmailDetails completes Emails: the source and times of each moved
	// row, so that undo re-creates it as it was.
	EmailDetails []MovedEmailDetail `json:"email_details,omitempty"`
	// SurvivorEmailsBefore are the survivor's rows that already held a
	// moved address, with their flags before the merge.
	SurvivorEmailsBefore []MovedEmail `json:"survivor_emails_before,omitempty"`
	// SurvivorEmailsAfter are the survivor's rows of every moved address,
	// with the flags the merge left them (to tell what the merge changed).
	SurvivorEmailsAfter []MovedEmail `json:"survivor_emails_after,omitempty"`
	// RetiredMemberships are the retired account's memberships as they
	// were (Memberships lists their org ids).
	RetiredMemberships []MovedMembership `json:"retired_memberships,omitempty"`
	// MembershipsBefore are the survivor's memberships, before the merge,
	// in the orgs of RetiredMemberships.
	MembershipsBefore []MovedMembership `json:"memberships_before,omitempty"`
	// MembershipsAfter are the survivor's memberships the merge created or
	// changed, as it wrote them.
	MembershipsAfter []MovedMembership `json:"memberships_after,omitempty"`
	// FieldsBefore and FieldsAfter hold, for each survivor field whose
	// value or provenance the merge changed, the value and source before
	// and after the merge.
	FieldsBefore map[string]FieldValue `json:"fields_before,omitempty"`
	FieldsAfter  map[string]FieldValue `json:"fields_after,omitempty"`
	// ConsentsBefore and ConsentsAfter are the survivor's consents before
	// and after the merge, when the merge changed them.
	ConsentsBefore *Consents `json:"consents_before,omitempty"`
	ConsentsAfter  *Consents `json:"consents_after,omitempty"`
}

// LinkKey identifies a link.
type LinkKey struct {
	Source     string `json:"source"`
	ExternalID string `json:"external_id"`
}

// MovedEmail is an address that moved, with the flags it had.
type MovedEmail struct {
	Address  string `json:"address"`
	Verified bool   `json:"verified"`
	Primary  bool   `json:"primary"`
}

// AccountState is the part of an account that a merge changes and an undo
// restores.
type AccountState struct {
	Status     Status `json:"status"`
	Version    int64  `json:"version"`
	MergedInto string `json:"merged_into,omitempty"`
}

// NormalizeEmail returns the canonical form of an e-mail address: trimmed,
// NFC, lower-cased. Local parts are case-insensitive in practice everywhere
// canonid is used, and treating them so is what prevents duplicate accounts.
func NormalizeEmail(s string) string {
	return strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
}

// NormalizeLogin returns the canonical form of a login: trimmed, NFC,
// lower-cased.
func NormalizeLogin(s string) string {
	return strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
}

// ValidEmail reports whether s looks like a deliverable address: one @, a
// non-empty local part, a domain with a dot, no spaces or control characters.
// It checks shape only; ownership is proved by a verification link.
func ValidEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return false
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return len(s) <= 254
}
