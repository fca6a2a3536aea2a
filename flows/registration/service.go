// Package registration is the self-registration and validation flow of seed
// 003: a person registers into an organisation (a CPTS) with their e-mail
// address, names and phone; their account waits in pending_validation, with
// a pending membership of the org, until a coordinator of the org (an
// org-admin API token) or the support validates it. The address stays
// pending until the person follows the link mailed to it (valid 30 minutes,
// single use; the page of a GET shows, only its POST acts).
//
// The account becomes active when both are done, whichever comes second:
// the membership is validated and the address verified. Until then it
// cannot log in. The member_validated mail is queued in the transaction that
// makes the account active.
//
// Register answers the same whether the address is known or not: when an
// account already holds it (verified, or as the login), nothing visible
// happens (an event is recorded); when an earlier registration into the same
// org still waits for its address, a new link is mailed to it instead of
// creating a second account.
//
// The org-admin API lists an org's members with a status (green: validated
// membership and active account; orange: waiting; red: rejected membership
// or suspended account), validates members, and queues messages
// (org_message) to selected members. Every change is one transaction with
// its events.
package registration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
)

// Events the flow records (besides account.created, membership.added,
// membership.validated, account.activated and mail.queued).
const (
	// EventSubmitted: a registration created an account. Data: org,
	// address, token_id, expires_at, locale.
	EventSubmitted = "registration.submitted"
	// EventLinkResent: a registration repeated while the address was
	// still pending: a new link was mailed. Data: org, token_id,
	// expires_at, voided.
	EventLinkResent = "registration.link_resent"
	// EventAddressKnown: a registration gave an address an account
	// already holds; nothing was sent. Data: org.
	EventAddressKnown = "registration.address_known"
	// EventEmailVerified: the registration link was followed. Data:
	// address, token_id.
	EventEmailVerified = "email.verified"
	// EventOrgMessage: an administrator wrote to members. Data: subject,
	// recipients (account ids), skipped (members without a verified
	// address).
	EventOrgMessage = "org.message_sent"
)

// SourceSelf is the provenance of what people register themselves.
const SourceSelf = "self"

// PathConfirm is the page the mailed links open.
const PathConfirm = "/register/confirm"

// Member statuses of the list: the colours of the seed.
const (
	StatusGreen  = "green"
	StatusOrange = "orange"
	StatusRed    = "red"
)

// Errors of the service. The HTTP layer maps them to its answers.
var (
	// ErrInvalid: a field of a registration or a message is missing or
	// malformed; the error says which.
	ErrInvalid = errors.New("invalid request")
	// ErrUnknownOrg: no org has this id.
	ErrUnknownOrg = errors.New("unknown organisation")
	// ErrInvalidLink: the link is unknown, used, expired, or its address
	// is gone or verified elsewhere since. One error for all.
	ErrInvalidLink = errors.New("this link is invalid or has expired")
	// ErrNotMember: the account is not a member of the org (also for an
	// account that does not exist, so that an org-admin learns nothing
	// about other orgs).
	ErrNotMember = errors.New("not a member of this organisation")
	// ErrAlreadyValidated: the membership is already validated.
	ErrAlreadyValidated = errors.New("the membership is already validated")
)

// Config configures the flow. Zero fields take their defaults.
type Config struct {
	// PublicURL is the server's public_url: links are
	// PublicURL + PathConfirm + "?token=...".
	PublicURL string `yaml:"-"`
	// LoginPath is the login page member_validated links to, relative
	// to PublicURL. Default /login.
	LoginPath string `yaml:"login_path"`
	// LinkTTL is how long a link works. Default 30 minutes.
	LinkTTL time.Duration `yaml:"link_ttl"`
	// IPLimit bounds failed link redemptions per client address. Default
	// 20 a minute, burst 20.
	IPLimit Limit `yaml:"ip_limit"`
	// AddressLimit bounds registrations (mails sent) per address given.
	// Default 3 per 15 minutes, burst 3.
	AddressLimit Limit `yaml:"address_limit"`
	// MaxRecipients bounds the members of one org message. Default 500.
	MaxRecipients int `yaml:"max_recipients"`
	// Password is the password policy (min_length, min_classes) on top of
	// authn's fixed rules.
	Password authn.Policy `yaml:"password"`
	// Location is the time zone the pages write times in; nil means
	// Europe/Paris.
	Location *time.Location `yaml:"-"`
}

// Limit is a token bucket: Burst tokens, refilled at Events per Per.
type Limit struct {
	Events int           `yaml:"events"`
	Per    time.Duration `yaml:"per"`
	Burst  int           `yaml:"burst"`
}

// Defaults of Config.
const (
	DefaultLinkTTL       = 30 * time.Minute
	DefaultLoginPath     = "/login"
	DefaultMaxRecipients = 500
)

// Default limits of Config.
var (
	DefaultIPLimit      = Limit{Events: 20, Per: time.Minute, Burst: 20}
	DefaultAddressLimit = Limit{Events: 3, Per: 15 * time.Minute, Burst: 3}
)

// Bounds of the fields.
const (
	maxName    = 100
	maxPhone   = 32
	maxAddress = 320
	maxSubject = 200
	maxBody    = 20000
)

func (c Config) withDefaults() Config {
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	if c.LoginPath == "" {
		c.LoginPath = DefaultLoginPath
	}
	if c.IPLimit == (Limit{}) {
		c.IPLimit = DefaultIPLimit
	}
	if c.AddressLimit == (Limit{}) {
		c.AddressLimit = DefaultAddressLimit
	}
	if c.MaxRecipients == 0 {
		c.MaxRecipients = DefaultMaxRecipients
	}
	if c.Location == nil {
		c.Location = time.UTC
		if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
			c.Location = loc
		}
	}
	return c
}

// Validate reports every problem of c at once, each prefixed with its key.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public_url: must be an absolute http(s) URL, got %q", c.PublicURL))
	}
	if !strings.HasPrefix(c.LoginPath, "/") {
		errs = append(errs, fmt.Errorf("login_path: must start with /, got %q", c.LoginPath))
	}
	if c.LinkTTL < 0 {
		errs = append(errs, fmt.Errorf("link_ttl: must be positive, got %s", c.LinkTTL))
	}
	if c.MaxRecipients < 0 {
		errs = append(errs, fmt.Errorf("max_recipients: must be positive, got %d", c.MaxRecipients))
	}
	for _, l := range []struct {
		key string
		l   Limit
	}{{"ip_limit", c.IPLimit}, {"address_limit", c.AddressLimit}} {
		if l.l.Events < 1 || l.l.Per <= 0 || l.l.Burst < 1 {
			errs = append(errs, fmt.Errorf("%s: events, per and burst must be positive, got %d per %s, burst %d", l.key, l.l.Events, l.l.Per, l.l.Burst))
		}
	}
	if err := c.Password.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("password.%w", err))
	}
	return errors.Join(errs...)
}

// Mailer queues a mail in the caller's transaction: notify.Queue.
type Mailer interface {
	Enqueue(ctx context.Context, tx store.Tx, m notify.Message) error
}

// Service runs the flow.
type Service struct {
	st   store.Store
	mail Mailer
	sms  SMSSender     // nil: phone verification unavailable
	docs DocumentStore // nil: documents unavailable
	cfg  Config
	base string // PublicURL without its trailing slash
	now  func() time.Time
}

// New returns the service; cfg is validated. sms sends the phone
// verification codes, docs keeps the supporting documents; either may be
// nil, leaving its feature unavailable (ErrSMSUnavailable,
// ErrDocumentsUnavailable).
func New(st store.Store, mail Mailer, sms SMSSender, docs DocumentStore, cfg Config) (*Service, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if st == nil || mail == nil {
		errs = append(errs, errors.New("registration: the store and the mailer are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Service{st: st, mail: mail, sms: sms, docs: docs, cfg: cfg, base: strings.TrimRight(cfg.PublicURL, "/"), now: time.Now}, nil
}

// SetClock replaces the service's clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Config returns the configuration in force, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// tokenSize is the size of a link's random secret.
const tokenSize = 32

// maxToken bounds the token text accepted: longer is refused unread.
const maxToken = 128

func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func actor(accountID string) string { return "account:" + accountID }

// Token data keys.
const (
	dataAddress = "address"
	dataOrg     = "org"
	dataLocale  = "locale"
)

// Registration is what a person gives to register.
type Registration struct {
	OrgID      string
	Email      string
	GivenName  string
	FamilyName string
	Phone      string
	// Locale is the language of the mails: "fr", "en", "" for French.
	Locale string
}

// check normalises r and reports every problem at once, wrapped in
// ErrInvalid.
func (r *Registration) check() error {
	r.Email = identity.NormalizeEmail(r.Email)
	r.GivenName, r.FamilyName = strings.TrimSpace(r.GivenName), strings.TrimSpace(r.FamilyName)
	r.Phone = strings.TrimSpace(r.Phone)
	var errs []string
	if len(r.Email) > maxAddress || !identity.ValidEmail(r.Email) {
		errs = append(errs, "email: not a valid e-mail address")
	}
	for _, f := range []struct{ key, v string }{{"given_name", r.GivenName}, {"family_name", r.FamilyName}} {
		if f.v == "" || utf8.RuneCountInString(f.v) > maxName || !utf8.ValidString(f.v) {
			errs = append(errs, fmt.Sprintf("%s: required, at most %d characters", f.key, maxName))
		}
	}
	if r.Phone != "" && !validPhone(r.Phone) {
		errs = append(errs, "phone: digits, spaces, dots, dashes and a leading +, at most 32 characters")
	}
	switch r.Locale {
	case "", "fr", "en":
	default:
		errs = append(errs, "locale: fr or en")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

func validPhone(p string) bool {
	if len(p) > maxPhone {
		return false
	}
	digits := 0
	for i, c := range p {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ' || c == '.' || c == '-':
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return digits >= 6
}

// Register registers a person into an org: Registration with its fields.
func (s *Service) Register(ctx context.Context, orgID, email, givenName, familyName, phone, locale string) error {
	return s.RegisterWith(ctx, Registration{OrgID: orgID, Email: email, GivenName: givenName,
		FamilyName: familyName, Phone: phone, Locale: locale})
}

// RegisterWith registers r, in one transaction: a new account in
// pending_validation (names, phone, the address pending), a pending
// membership of the org, and a verification link mailed to the address
// (template email_verification). It returns nil, and does the same visible
// thing (a mail or none), whether the address is known or not: when an
// account already holds it verified or as its login, nothing is sent;
// when an account registered into the same org still waits for it, a new
// link is sent to it (older ones voided). ErrInvalid for a malformed
// field, ErrUnknownOrg for an unknown org.
func (s *Service) RegisterWith(ctx context.Context, r Registration) error {
	if err := r.check(); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(randomBytes(tokenSize))
	return s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		org, err := tx.Orgs().Get(ctx, r.OrgID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrUnknownOrg, r.OrgID)
		} else if err != nil {
			return err
		}
		holder, err := s.holder(ctx, tx, r.Email)
		if err != nil {
			return err
		}
		if holder != "" {
			return tx.Record(ctx, store.Event{Type: EventAddressKnown, Actor: "system", AccountID: holder, OrgID: org.ID, At: now,
				Data: map[string]string{"org": org.ID}})
		}
		if waiting, ok, err := s.waiting(ctx, tx, org.ID, r.Email, now); err != nil {
			return err
		} else if ok {
			voided, err := tx.Tokens().Revoke(ctx, waiting, now, store.PurposeEmailVerification)
			if err != nil {
				return err
			}
			tok, err := s.sendLink(ctx, tx, waiting, org.ID, r.Email, r.Locale, token, now)
			if err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: EventLinkResent, Actor: actor(waiting), AccountID: waiting, OrgID: org.ID, At: now,
				Data: map[string]any{"org": org.ID, "token_id": tok.ID, "expires_at": tok.ExpiresAt, "voided": voided}})
		}
		a := identity.Account{Status: identity.StatusPendingValidation, GivenName: r.GivenName, FamilyName: r.FamilyName,
			DisplayName: r.GivenName + " " + r.FamilyName, Phone: r.Phone,
			Provenance: map[string]string{identity.FieldGivenName: SourceSelf, identity.FieldFamilyName: SourceSelf}}
		if r.Phone != "" {
			a.Provenance[identity.FieldPhone] = SourceSelf
		}
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: actor(a.ID), AccountID: a.ID, At: now,
			Data: map[string]string{"login": a.Login, "source": SourceSelf}}); err != nil {
			return err
		}
		e := identity.Email{AccountID: a.ID, Address: r.Email, Source: SourceSelf, CreatedAt: now}
		if err := tx.Emails().Add(ctx, &e); err != nil {
			return err
		}
		m := identity.Membership{OrgID: org.ID, AccountID: a.ID, Role: identity.RoleMember, State: identity.MembershipPending,
			CreatedAt: now, UpdatedAt: now}
		if err := tx.Memberships().Put(ctx, &m); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: identity.EventMembershipAdded, Actor: actor(a.ID), AccountID: a.ID, OrgID: org.ID, At: now,
			Data: map[string]string{"role": string(m.Role), "state": string(m.State)}}); err != nil {
			return err
		}
		tok, err := s.sendLink(ctx, tx, a.ID, org.ID, r.Email, r.Locale, token, now)
		if err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventSubmitted, Actor: actor(a.ID), AccountID: a.ID, OrgID: org.ID, At: now,
			Data: map[string]any{"org": org.ID, "address": r.Email, "token_id": tok.ID, "expires_at": tok.ExpiresAt, "locale": r.Locale}})
	})
}

// holder returns the live account holding address verified, or as its
// login, or "".
func (s *Service) holder(ctx context.Context, tx store.Tx, address string) (string, error) {
	e, err := tx.Emails().FindVerified(ctx, address)
	if err == nil {
		return e.AccountID, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	a, err := tx.Accounts().GetByLogin(ctx, identity.NormalizeLogin(address))
	if err == nil && a.Status.Live() {
		return a.ID, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	return "", nil
}

// waiting finds an account registered into org that still waits for its
// address: pending validation, the address pending on it, a pending
// verification link for it.
func (s *Service) waiting(ctx context.Context, tx store.Tx, orgID, address string, now time.Time) (string, bool, error) {
	ms, err := tx.Memberships().ListByOrg(ctx, orgID)
	if err != nil {
		return "", false, err
	}
	var ids []string
	for _, m := range ms {
		if m.State == identity.MembershipPending {
			ids = append(ids, m.AccountID)
		}
	}
	if len(ids) == 0 {
		return "", false, nil
	}
	emails, err := tx.Emails().ListByAccounts(ctx, ids)
	if err != nil {
		return "", false, err
	}
	accs, err := tx.Accounts().GetMany(ctx, ids)
	if err != nil {
		return "", false, err
	}
	for _, a := range accs {
		if a.Status != identity.StatusPendingValidation {
			continue
		}
		for _, e := range emails[a.ID] {
			if e.Address == address && !e.Verified && e.Source == SourceSelf {
				return a.ID, true, nil
			}
		}
	}
	return "", false, nil
}

// sendLink creates a verification token of address for the account and
// mails its link.
func (s *Service) sendLink(ctx context.Context, tx store.Tx, accountID, orgID, address, locale, token string, now time.Time) (store.OneTimeToken, error) {
	tok := store.OneTimeToken{Purpose: store.PurposeEmailVerification, Hash: tokenHash(token), AccountID: accountID,
		Data:      map[string]string{dataAddress: address, dataOrg: orgID, dataLocale: locale},
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.LinkTTL)}
	if err := tx.Tokens().Create(ctx, &tok); err != nil {
		return tok, err
	}
	link := s.base + PathConfirm + "?" + url.Values{"token": {token}}.Encode()
	err := s.mail.Enqueue(ctx, tx, notify.Message{To: address, Locale: locale, Template: notify.TemplateEmailVerification,
		AccountID: accountID, OrgID: orgID, Actor: actor(accountID),
		Data: map[string]string{"link": link, "expires_at": tok.ExpiresAt.Format(time.RFC3339)}})
	return tok, err
}

// Pending is what a registration link is for, shown before it acts.
type Pending struct {
	Address string
	// Phone is the phone registered, PhoneVerified whether a code sent
	// to it was typed back.
	Phone         string
	PhoneVerified bool
	OrgID         string
	OrgName       string
	ExpiresAt     time.Time
}

// find reads, without consuming it, the token of a link; its address must
// still be pending on its live account.
func (s *Service) find(ctx context.Context, tx store.Tx, token string, now time.Time) (store.OneTimeToken, identity.Account, error) {
	if token == "" || len(token) > maxToken {
		return store.OneTimeToken{}, identity.Account{}, ErrInvalidLink
	}
	tok, err := tx.Tokens().Find(ctx, store.PurposeEmailVerification, tokenHash(token), now)
	if errors.Is(err, store.ErrNotFound) || (err == nil && tok.Data[dataOrg] == "") {
		// Unknown, used, expired, or a link of another flow.
		return tok, identity.Account{}, ErrInvalidLink
	} else if err != nil {
		return tok, identity.Account{}, err
	}
	a, err := tx.Accounts().Get(ctx, tok.AccountID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !a.Status.Live()) {
		return tok, a, ErrInvalidLink
	} else if err != nil {
		return tok, a, err
	}
	e, err := tx.Emails().Get(ctx, a.ID, tok.Data[dataAddress])
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.Verified) {
		return tok, a, ErrInvalidLink
	} else if err != nil {
		return tok, a, err
	}
	return tok, a, nil
}

// Inspect returns what a link is for, acting on nothing (a GET of the
// link's page, which mail scanners may fetch).
func (s *Service) Inspect(ctx context.Context, token string) (Pending, error) {
	var p Pending
	err := s.st.View(ctx, func(tx store.Tx) error {
		tok, a, err := s.find(ctx, tx, token, s.now())
		if err != nil {
			return err
		}
		p = Pending{Address: tok.Data[dataAddress], Phone: a.Phone, OrgID: tok.Data[dataOrg], OrgName: tok.Data[dataOrg], ExpiresAt: tok.ExpiresAt}
		if p.PhoneVerified, err = phoneVerified(ctx, tx, a); err != nil {
			return err
		}
		if o, err := tx.Orgs().Get(ctx, p.OrgID); err == nil && o.Name != "" {
			p.OrgName = o.Name
		}
		return nil
	})
	return p, err
}

// Confirmed is what Confirm did.
type Confirmed struct {
	Pending
	// Active tells whether the account became active (its membership was
	// already validated).
	Active bool
}

// Confirm follows a link with the password the person chooses (checked
// by authn.CheckPolicy first: a *authn.PolicyError when refused), in one
// transaction: the token is consumed (and the account's other
// verification links voided), the address verified (and primary when the
// account has none), email.verified recorded, the password's hash stored
// (account.password_set). If a membership of the account is validated
// already, the account becomes active and member_validated is queued;
// otherwise registration_received is queued. The address verified
// elsewhere since is an ErrInvalidLink.
func (s *Service) Confirm(ctx context.Context, token, password string) (Confirmed, error) {
	if err := s.cfg.Password.Check(password); err != nil {
		return Confirmed{}, err
	}
	// Check the link before paying for the hash.
	if err := s.st.View(ctx, func(tx store.Tx) error {
		_, _, err := s.find(ctx, tx, token, s.now())
		return err
	}); err != nil {
		return Confirmed{}, err
	}
	phc, err := authn.HashPassword(password)
	if err != nil {
		return Confirmed{}, err
	}
	var out Confirmed
	err = s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		found, a, err := s.find(ctx, tx, token, now)
		if err != nil {
			return err
		}
		a.PasswordHash = phc
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: authn.EventPasswordSet, Actor: actor(a.ID), AccountID: a.ID, At: now,
			Data: authn.PasswordEventData{Reason: authn.ReasonSet}}); err != nil {
			return err
		}
		tok, err := tx.Tokens().Consume(ctx, store.PurposeEmailVerification, tokenHash(token), now)
		if errors.Is(err, store.ErrNotFound) || (err == nil && tok.ID != found.ID) {
			return ErrInvalidLink
		} else if err != nil {
			return err
		}
		if _, err := tx.Tokens().Revoke(ctx, a.ID, now, store.PurposeEmailVerification); err != nil {
			return err
		}
		address, orgID, locale := tok.Data[dataAddress], tok.Data[dataOrg], tok.Data[dataLocale]
		if _, err := tx.Emails().FindVerified(ctx, address); err == nil {
			return ErrInvalidLink // verified on another account meanwhile
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		emails, err := tx.Emails().ListByAccount(ctx, a.ID)
		if err != nil {
			return err
		}
		hasPrimary := slices.ContainsFunc(emails, func(e identity.Email) bool { return e.Primary })
		e, err := tx.Emails().Get(ctx, a.ID, address)
		if err != nil {
			return err
		}
		e.Verified, e.VerifiedAt, e.Primary = true, now, e.Primary || !hasPrimary
		if err := tx.Emails().Update(ctx, &e); errors.Is(err, store.ErrDuplicate) {
			return ErrInvalidLink
		} else if err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: EventEmailVerified, Actor: actor(a.ID), AccountID: a.ID, OrgID: orgID, At: now,
			Data: map[string]string{"address": address, "token_id": tok.ID}}); err != nil {
			return err
		}
		org, err := tx.Orgs().Get(ctx, orgID)
		if err != nil {
			return err
		}
		out = Confirmed{Pending: Pending{Address: address, OrgID: org.ID, OrgName: orgName(org), ExpiresAt: tok.ExpiresAt}}
		validated, err := validatedMembership(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		if a.Status == identity.StatusPendingValidation && validated != "" {
			out.Active = true
			return s.activate(ctx, tx, a, validated, actor(a.ID), "email_verified", locale, now)
		}
		return s.mail.Enqueue(ctx, tx, notify.Message{To: address, Locale: locale, Template: notify.TemplateRegistrationReceived,
			AccountID: a.ID, OrgID: org.ID, Actor: actor(a.ID), Data: map[string]string{"org": orgName(org)}})
	})
	return out, err
}

func orgName(o identity.Org) string {
	if o.Name != "" {
		return o.Name
	}
	return o.ID
}

// validatedMembership returns the id of an org where the account's
// membership is validated, or "".
func validatedMembership(ctx context.Context, tx store.Tx, accountID string) (string, error) {
	ms, err := tx.Memberships().ListByAccount(ctx, accountID)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.State == identity.MembershipValidated {
			return m.OrgID, nil
		}
	}
	return "", nil
}

// verifiedAddress returns the account's verified address (the primary one
// first), or "".
func verifiedAddress(emails []identity.Email) string {
	addr := ""
	for _, e := range emails {
		if e.Verified && (addr == "" || e.Primary) {
			addr = e.Address
		}
	}
	return addr
}

// activate makes a pending_validation account active (account.activated)
// and queues member_validated to its verified address.
func (s *Service) activate(ctx context.Context, tx store.Tx, a identity.Account, orgID, by, reason, locale string, now time.Time) error {
	before := a.Status
	a.Status = identity.StatusActive
	if err := tx.Accounts().Update(ctx, &a); err != nil {
		return err
	}
	if err := tx.Record(ctx, store.Event{Type: identity.EventAccountActivated, Actor: by, AccountID: a.ID, OrgID: orgID, At: now,
		Data: map[string]string{"status_before": string(before), "reason": reason}}); err != nil {
		return err
	}
	return s.notifyValidated(ctx, tx, a.ID, orgID, by, locale)
}

// notifyValidated queues member_validated for the account's verified
// address, if it has one.
func (s *Service) notifyValidated(ctx context.Context, tx store.Tx, accountID, orgID, by, locale string) error {
	emails, err := tx.Emails().ListByAccount(ctx, accountID)
	if err != nil {
		return err
	}
	to := verifiedAddress(emails)
	if to == "" {
		return nil
	}
	org, err := tx.Orgs().Get(ctx, orgID)
	if err != nil {
		return err
	}
	return s.mail.Enqueue(ctx, tx, notify.Message{To: to, Locale: locale, Template: notify.TemplateMemberValidated,
		AccountID: accountID, OrgID: orgID, Actor: by,
		Data: map[string]string{"org": orgName(org), "link": s.base + s.cfg.LoginPath}})
}

// registrationLocale returns the language the account registered in, from
// its registration.submitted event, "" when unknown.
func registrationLocale(ctx context.Context, tx store.Tx, accountID string) (string, error) {
	evs, err := tx.Audit().List(ctx, store.AuditQuery{AccountID: accountID, Type: EventSubmitted, Limit: 1})
	if err != nil || len(evs) == 0 {
		return "", err
	}
	var d struct {
		Locale string `json:"locale"`
	}
	_ = json.Unmarshal(evs[0].Data, &d) // an unreadable payload means French
	return d.Locale, nil
}

// Member is a member of an org, as its administrators see it.
type Member struct {
	AccountID     string
	Login         string
	GivenName     string
	FamilyName    string
	Email         string // the primary (or a verified, or the pending) address
	EmailVerified bool
	Phone         string
	// PhoneVerified: the phone is the one a code sent to was typed
	// back from.
	PhoneVerified bool
	Role          identity.Role
	State         identity.MembershipState
	AccountStatus identity.Status
	// Status is StatusGreen (validated membership, active account),
	// StatusRed (rejected membership, suspended account) or StatusOrange.
	Status      string
	LastLoginAt time.Time
	ValidatedBy string
	ValidatedAt time.Time
	CreatedAt   time.Time
}

func memberOf(m identity.Membership, a identity.Account, emails []identity.Email) Member {
	out := Member{AccountID: a.ID, Login: a.Login, GivenName: a.GivenName, FamilyName: a.FamilyName, Phone: a.Phone,
		Role: m.Role, State: m.State, AccountStatus: a.Status, LastLoginAt: a.LastLoginAt,
		ValidatedBy: m.ValidatedBy, ValidatedAt: m.ValidatedAt, CreatedAt: m.CreatedAt}
	if addr := verifiedAddress(emails); addr != "" {
		out.Email, out.EmailVerified = addr, true
	} else if len(emails) > 0 {
		out.Email = emails[0].Address
	}
	switch {
	case m.State == identity.MembershipValidated && a.Status == identity.StatusActive:
		out.Status = StatusGreen
	case m.State == identity.MembershipRejected || a.Status == identity.StatusSuspended:
		out.Status = StatusRed
	default:
		out.Status = StatusOrange
	}
	return out
}

// Members lists the members of an org whose accounts are live, by
// creation of their membership then account id. ErrUnknownOrg for an
// unknown org.
func (s *Service) Members(ctx context.Context, orgID string) ([]Member, error) {
	var out []Member
	err := s.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Orgs().Get(ctx, orgID); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrUnknownOrg, orgID)
		} else if err != nil {
			return err
		}
		ms, err := tx.Memberships().ListByOrg(ctx, orgID)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(ms))
		for _, m := range ms {
			ids = append(ids, m.AccountID)
		}
		accs, err := tx.Accounts().GetMany(ctx, ids)
		if err != nil {
			return err
		}
		byID := make(map[string]identity.Account, len(accs))
		for _, a := range accs {
			byID[a.ID] = a
		}
		emails, err := tx.Emails().ListByAccounts(ctx, ids)
		if err != nil {
			return err
		}
		for _, m := range ms {
			a, ok := byID[m.AccountID]
			if !ok || !a.Status.Live() {
				continue
			}
			mem := memberOf(m, a, emails[a.ID])
			if mem.PhoneVerified, err = phoneVerified(ctx, tx, a); err != nil {
				return err
			}
			out = append(out, mem)
		}
		slices.SortStableFunc(out, func(x, y Member) int {
			if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(x.AccountID, y.AccountID)
		})
		return nil
	})
	return out, err
}

// Validate validates the membership of an account in an org, by actor
// ("token:<name>"), in one transaction: membership.validated (with the
// actor); if the account is pending validation and has a verified address
// it becomes active (account.activated); member_validated is queued to its
// verified address when the account is active after. An account whose
// address is not verified yet stays pending_validation and becomes active
// when its link is followed. ErrNotMember, ErrAlreadyValidated.
func (s *Service) Validate(ctx context.Context, orgID, accountID, by string) (Member, error) {
	var out Member
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		m, err := tx.Memberships().Get(ctx, orgID, accountID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotMember
		} else if err != nil {
			return err
		}
		a, err := tx.Accounts().Get(ctx, accountID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !a.Status.Live()) {
			return ErrNotMember
		} else if err != nil {
			return err
		}
		if m.State == identity.MembershipValidated {
			return ErrAlreadyValidated
		}
		before := m.State
		m.State, m.ValidatedBy, m.ValidatedAt, m.UpdatedAt = identity.MembershipValidated, by, now, now
		if err := tx.Memberships().Put(ctx, &m); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: identity.EventMembershipValid, Actor: by, AccountID: a.ID, OrgID: orgID, At: now,
			Data: map[string]string{"state_before": string(before), "validated_by": by}}); err != nil {
			return err
		}
		emails, err := tx.Emails().ListByAccount(ctx, a.ID)
		if err != nil {
			return err
		}
		locale, err := registrationLocale(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		switch {
		case a.Status == identity.StatusPendingValidation && verifiedAddress(emails) != "":
			if err := s.activate(ctx, tx, a, orgID, by, "membership_validated", locale, now); err != nil {
				return err
			}
			a.Status = identity.StatusActive
		case a.Status == identity.StatusActive:
			if err := s.notifyValidated(ctx, tx, a.ID, orgID, by, locale); err != nil {
				return err
			}
		}
		out = memberOf(m, a, emails)
		out.PhoneVerified, err = phoneVerified(ctx, tx, a)
		return err
	})
	return out, err
}

// Message is a mail an org's administrator writes to members.
type Message struct {
	AccountIDs []string
	Subject    string
	Body       string
}

// Sent is what SendMessage did.
type Sent struct {
	// Queued are the members a mail was queued for.
	Queued []string
	// Skipped are the members without a verified address.
	Skipped []string
}

// SendMessage queues org_message to each member of msg.AccountIDs, in one
// transaction, with org.message_sent recorded by actor. Every account
// must be a member of the org (an ErrInvalid that is also ErrNotMember
// otherwise, naming none of them); members without a verified address are skipped. ErrInvalid for
// an empty or too long subject or body, or no or too many recipients.
func (s *Service) SendMessage(ctx context.Context, orgID string, msg Message, by string) (Sent, error) {
	subject, body := strings.TrimSpace(msg.Subject), strings.TrimSpace(msg.Body)
	ids := slices.Compact(slices.Sorted(slices.Values(msg.AccountIDs)))
	var errs []string
	if subject == "" || utf8.RuneCountInString(subject) > maxSubject || !utf8.ValidString(subject) {
		errs = append(errs, fmt.Sprintf("subject: required, at most %d characters", maxSubject))
	}
	if body == "" || utf8.RuneCountInString(body) > maxBody || !utf8.ValidString(body) {
		errs = append(errs, fmt.Sprintf("body: required, at most %d characters", maxBody))
	}
	if len(ids) == 0 || len(ids) > s.cfg.MaxRecipients || slices.Contains(ids, "") {
		errs = append(errs, fmt.Sprintf("account_ids: 1 to %d account ids", s.cfg.MaxRecipients))
	}
	if len(errs) > 0 {
		return Sent{}, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	var out Sent
	err := s.st.Update(ctx, func(tx store.Tx) error {
		out = Sent{}
		now := s.now()
		org, err := tx.Orgs().Get(ctx, orgID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrUnknownOrg, orgID)
		} else if err != nil {
			return err
		}
		ms, err := tx.Memberships().ListByOrg(ctx, orgID)
		if err != nil {
			return err
		}
		members := map[string]bool{}
		for _, m := range ms {
			members[m.AccountID] = true
		}
		accs, err := tx.Accounts().GetMany(ctx, ids)
		if err != nil {
			return err
		}
		live := map[string]bool{}
		for _, a := range accs {
			live[a.ID] = a.Status.Live()
		}
		for _, id := range ids {
			if !members[id] || !live[id] {
				return fmt.Errorf("%w: account_ids: %w", ErrInvalid, ErrNotMember)
			}
		}
		emails, err := tx.Emails().ListByAccounts(ctx, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			to := verifiedAddress(emails[id])
			if to == "" {
				out.Skipped = append(out.Skipped, id)
				continue
			}
			locale, err := registrationLocale(ctx, tx, id)
			if err != nil {
				return err
			}
			if err := s.mail.Enqueue(ctx, tx, notify.Message{To: to, Locale: locale, Template: notify.TemplateOrgMessage,
				AccountID: id, OrgID: orgID, Actor: by,
				Data: map[string]string{"org": orgName(org), "subject": subject, "body": body}}); err != nil {
				return err
			}
			out.Queued = append(out.Queued, id)
		}
		return tx.Record(ctx, store.Event{Type: EventOrgMessage, Actor: by, OrgID: orgID, At: now,
			Data: map[string]any{"subject": subject, "recipients": out.Queued, "skipped": out.Skipped}})
	})
	return out, err
}

// randomBytes returns n random bytes (crypto/rand.Read never fails: it
// crashes the program when the system has no randomness).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
