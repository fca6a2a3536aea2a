// Package activation is the account activation flow of seed 001: an account
// created for a person (by HR, a directory import, an administrator) waits in
// pending_activation until its owner follows the link mailed to its recovery
// address and goes through the steps, in order: accept the IT charter, say
// whether they appear in the public directory, for staff only choose whether
// to redirect their institutional mail to another address (or skip), choose
// a password, confirm.
//
// Staff are the accounts whose affiliation is one of
// Config.StaffAffiliations. The redirection form offers the recovery
// address, verified as soon as chosen: the person proved they control it
// by following the activation link mailed there. Another address is
// pending until the link mailed to it (valid Config.RedirectLinkTTL, by
// default 24 hours) is followed, from any browser, before or after the
// activation ends: the step is done once answered, and the activation does
// not wait for the link. The address must not be one of the account's
// institutional addresses. The answer is the account's MailForward (nil
// when declined) and its Consents.MailForwardAnsweredAt; until the
// activation is confirmed the person may answer again (another address, a
// new link, or no redirection).
//
// The first link is valid until 23:59:59 of the next day, a link sent again
// (Resend, ResendByLogin: the person gives their login) until 23:59:59 of
// the same day, both in the configured time zone; a new link voids the old
// ones. The link's token is read, never consumed, by every step, and
// consumed only by the confirmation, in the one transaction that makes the
// account active, records account.activated and queues the confirmation
// mail. What the person did is kept with the account (its Consents and its
// password hash), so the flow resumes at the first step not done, from any
// valid link. A link that is unknown, used, expired, forged, or for an
// account no longer pending is refused with one and the same error.
//
// The password is the account's local password (authn.SetPassword); writing
// it to an LDAP directory (Password Modify) is not part of this package.
package activation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Events the flow records (besides account.activated, account.password_set
// and mail.queued).
const (
	// EventLinkSent: an activation link was mailed. Data: token_id,
	// expires_at (the last valid second), resend, voided (older links).
	EventLinkSent = "activation.link_sent"
	// EventCharterAccepted: the charter was accepted. Data: version.
	EventCharterAccepted = "activation.charter_accepted"
	// EventDirectoryChosen: the public-directory choice was made. Data:
	// visible.
	EventDirectoryChosen = "activation.directory_chosen"
	// EventRedirectChosen: a mail redirection was chosen and, unless it is
	// the recovery address or the same address already verified, a link
	// mailed to its address. Data: address, keep_copy, again (a previous
	// answer was replaced), recovery (the address is the recovery address:
	// verified at once), verified (no link: the recovery address, or the
	// address already verified), token_id and expires_at (of the link
	// mailed, if any), voided (older redirection links).
	EventRedirectChosen = "activation.redirect_chosen"
	// EventRedirectSkipped: the person chose not to redirect their mail.
	// Data: cleared (the address of the redirection this removed, if
	// any), voided (its pending links).
	EventRedirectSkipped = "activation.redirect_skipped"
	// EventRedirectVerified: the link mailed to the redirection address
	// was followed; the redirection may be applied. Data: address,
	// keep_copy, token_id.
	EventRedirectVerified = "mail_forward.verified"
)

// PathActivate is the page the mailed links open; PathResend is the form
// that asks for a new link by login; PathRedirectConfirm is the page the
// links mailed to a redirection address open.
const (
	PathActivate        = "/account/activate"
	PathResend          = "/account/activate/resend"
	PathRedirectConfirm = "/account/mail-redirect/confirm"
)

// Step is a step of the activation, in order.
type Step string

// Steps.
const (
	StepCharter   Step = "charter"
	StepDirectory Step = "directory"
	// StepRedirect, staff only: redirect the institutional mail, or not.
	StepRedirect Step = "redirect"
	StepPassword Step = "password"
	StepConfirm  Step = "confirm"
)

// Errors of the service. The HTTP layer maps them to its answers.
var (
	// ErrInvalidLink: the link is unknown, used, expired, forged, or its
	// account is no longer pending activation. One error for all.
	ErrInvalidLink = errors.New("this activation link is invalid or has expired")
	// ErrStepOrder: the step posted is not the account's current step.
	ErrStepOrder = errors.New("this step is not the current step of the activation")
	// ErrCharterVersion: the charter accepted is not the current version.
	ErrCharterVersion = errors.New("the charter changed meanwhile; read it again")
	// ErrNotPending: Start for an account that is not pending activation.
	ErrNotPending = errors.New("the account is not pending activation")
	// ErrNoRecoveryAddress: the account has no valid recovery address to
	// mail the link to.
	ErrNoRecoveryAddress = errors.New("the account has no valid recovery address")
	// ErrRedirectAddress: the redirection address is not an e-mail
	// address.
	ErrRedirectAddress = errors.New("the redirection address is not a valid e-mail address")
	// ErrRedirectOwn: the redirection address is one of the account's own
	// institutional addresses: the mail would come back to the mailbox it
	// leaves.
	ErrRedirectOwn = errors.New("mail cannot be redirected to one of the account's own institutional addresses: it would come back to the mailbox it leaves")
	// ErrInvalidRedirectLink: a redirection link is unknown, used,
	// expired, forged, or no longer matches the account's redirection.
	// One error for all.
	ErrInvalidRedirectLink = errors.New("this mail redirection link is invalid or has expired")
)

// Config configures the flow. Zero fields take their defaults.
type Config struct {
	// PublicURL is the server's public_url: links are
	// PublicURL + PathActivate + "?token=...".
	PublicURL string `yaml:"-"`
	// TimeZone is where "23:59:59" is, an IANA name. Default
	// Europe/Paris.
	TimeZone string `yaml:"timezone"`
	// CharterVersion identifies the charter; accepting another version
	// does not count, so a new version asks again.
	CharterVersion string `yaml:"charter_version"`
	// CharterText is the charter shown on its step (plain text).
	CharterText string `yaml:"charter_text"`
	// CharterURL, optional, is where the full charter can be read.
	CharterURL string `yaml:"charter_url"`
	// IPLimit bounds, per client address, failed link redemptions and
	// resend requests. Default 20 a minute, burst 20.
	IPLimit Limit `yaml:"ip_limit"`
	// LoginLimit bounds resend requests per login given. Default 3 per
	// hour, burst 3.
	LoginLimit Limit `yaml:"login_limit"`
	// Password is the password policy (min_length, min_classes) on top of
	// authn's fixed rules.
	Password authn.Policy `yaml:"password"`
	// StaffAffiliations are the affiliations (values of the account's
	// affiliation attribute, compared case-insensitively; a scoped value
	// "staff@univ.example" counts as "staff") of the accounts asked
	// whether to redirect their mail. Default staff, employee, faculty.
	StaffAffiliations []string `yaml:"staff_affiliations"`
	// RedirectLinkTTL is how long the link that confirms a redirection
	// address works. Default 24 hours.
	RedirectLinkTTL time.Duration `yaml:"redirect_link_ttl"`
	// RedirectLimit bounds, per account, the redirections chosen that
	// mail a link to an address the person typed (the recovery address
	// and the address already verified get no link and do not count).
	// Default 5 per hour, burst 5.
	RedirectLimit Limit `yaml:"redirect_limit"`
}

// Limit is a token bucket: Burst tokens, refilled at Events per Per.
type Limit struct {
	Events int           `yaml:"events"`
	Per    time.Duration `yaml:"per"`
	Burst  int           `yaml:"burst"`
}

// Defaults of Config.
var (
	DefaultTimeZone   = "Europe/Paris"
	DefaultIPLimit    = Limit{Events: 20, Per: time.Minute, Burst: 20}
	DefaultLoginLimit = Limit{Events: 3, Per: time.Hour, Burst: 3}
	// DefaultRedirectLinkTTL is the default of Config.RedirectLinkTTL.
	DefaultRedirectLinkTTL = 24 * time.Hour
	// DefaultRedirectLimit is the default of Config.RedirectLimit.
	DefaultRedirectLimit = Limit{Events: 5, Per: time.Hour, Burst: 5}
)

// defaultStaffAffiliations is the default of Config.StaffAffiliations
// (eduPersonAffiliation's values for personnel).
var defaultStaffAffiliations = []string{"staff", "employee", "faculty"}

func (c Config) withDefaults() Config {
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	if c.IPLimit == (Limit{}) {
		c.IPLimit = DefaultIPLimit
	}
	if c.LoginLimit == (Limit{}) {
		c.LoginLimit = DefaultLoginLimit
	}
	if len(c.StaffAffiliations) == 0 {
		c.StaffAffiliations = slices.Clone(defaultStaffAffiliations)
	}
	if c.RedirectLinkTTL == 0 {
		c.RedirectLinkTTL = DefaultRedirectLinkTTL
	}
	if c.RedirectLimit == (Limit{}) {
		c.RedirectLimit = DefaultRedirectLimit
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
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		errs = append(errs, fmt.Errorf("timezone: %w", err))
	}
	if strings.TrimSpace(c.CharterVersion) == "" {
		errs = append(errs, errors.New("charter_version: required"))
	}
	if strings.TrimSpace(c.CharterText) == "" {
		errs = append(errs, errors.New("charter_text: required"))
	}
	if c.CharterURL != "" {
		if u, err := url.Parse(c.CharterURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("charter_url: must be an absolute http(s) URL, got %q", c.CharterURL))
		}
	}
	for _, l := range []struct {
		key string
		l   Limit
	}{{"ip_limit", c.IPLimit}, {"login_limit", c.LoginLimit}, {"redirect_limit", c.RedirectLimit}} {
		if l.l.Events < 1 || l.l.Per <= 0 || l.l.Burst < 1 {
			errs = append(errs, fmt.Errorf("%s: events, per and burst must be positive, got %d per %s, burst %d", l.key, l.l.Events, l.l.Per, l.l.Burst))
		}
	}
	if err := c.Password.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("password.%w", err))
	}
	for i, v := range c.StaffAffiliations {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("staff_affiliations[%d]: must not be empty", i))
		}
	}
	if c.RedirectLinkTTL < 0 {
		errs = append(errs, fmt.Errorf("redirect_link_ttl: must be positive, got %s", c.RedirectLinkTTL))
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
	cfg  Config
	loc  *time.Location
	base string // PublicURL without its trailing slash
	now  func() time.Time
	// dirs change the password at the directory an account is linked to,
	// by link source ("ldap:campus").
	dirs map[string]connectors.PasswordChanger
	// staff are cfg.StaffAffiliations, trimmed and lower-cased.
	staff []string
}

// SetDirectories makes the password step of an account linked to one of
// these sources (by link source, "ldap:campus") set the password in that
// directory (LDAP Password Modify, with the connector's credentials)
// instead of a local argon2id hash: such accounts log in with a bind.
func (s *Service) SetDirectories(dirs map[string]connectors.PasswordChanger) { s.dirs = dirs }

var _ web.ActivationResender = (*Service)(nil)

// New returns the service; cfg is validated.
func New(st store.Store, mail Mailer, cfg Config) (*Service, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if st == nil || mail == nil {
		errs = append(errs, errors.New("activation: the store and the mailer are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	staff := make([]string, len(cfg.StaffAffiliations))
	for i, v := range cfg.StaffAffiliations {
		staff[i] = strings.ToLower(strings.TrimSpace(v))
	}
	return &Service{st: st, mail: mail, cfg: cfg, loc: loc, base: strings.TrimRight(cfg.PublicURL, "/"), now: time.Now,
		staff: staff}, nil
}

// SetClock replaces the service's clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Config returns the configuration in force, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Deadline returns the last valid second of a link sent at now: 23:59:59
// of the same day (days = 0) or of the next day (days = 1) in the
// configured time zone. time.Date normalises across DST changes.
func (s *Service) Deadline(now time.Time, days int) time.Time {
	t := now.In(s.loc)
	return time.Date(t.Year(), t.Month(), t.Day()+days, 23, 59, 59, 0, s.loc)
}

// tokenSize is the size of a link's random secret.
const tokenSize = 32

// maxToken bounds the token text accepted: longer is refused unread.
const maxToken = 128

func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func actor(accountID string) string { return "account:" + accountID }

// recoveryAddress returns the account's recovery address, normalised.
func recoveryAddress(a identity.Account) (string, bool) {
	for _, v := range a.Attributes[identity.FieldRecoveryEmail] {
		if addr := identity.NormalizeEmail(v); identity.ValidEmail(addr) {
			return addr, true
		}
	}
	return "", false
}

// Start mails the first activation link of an account pending activation,
// in the caller's transaction (the one that creates the account, say): a
// token valid until 23:59:59 of the next day, mailed (template activation,
// in locale: "fr", "en", "" for French) to its recovery address. Older
// activation links of the account are voided. ErrNotPending when the
// account is not pending activation, ErrNoRecoveryAddress without a valid
// recovery address.
func (s *Service) Start(ctx context.Context, tx store.Tx, accountID, locale string) error {
	a, err := tx.Accounts().Get(ctx, accountID)
	if err != nil {
		return err
	}
	if a.Status != identity.StatusPendingActivation {
		return fmt.Errorf("activation of %s: %w", accountID, ErrNotPending)
	}
	return s.send(ctx, tx, a, locale, false)
}

// Resend mails a new activation link to the recovery address of the
// account (template activation_resend, in French), valid until 23:59:59 of
// the same day, and voids the older ones. It does nothing, and returns nil,
// when the account does not exist, is not pending activation or has no
// recovery address. It implements web.ActivationResender.
func (s *Service) Resend(ctx context.Context, accountID string) error {
	return s.resend(ctx, func(tx store.Tx) (identity.Account, error) {
		return tx.Accounts().Get(ctx, accountID)
	}, "")
}

// ResendByLogin is Resend for the account of a login, in locale. It returns
// nil whether or not the login exists (and does nothing when it does not):
// its answer tells nothing about accounts.
func (s *Service) ResendByLogin(ctx context.Context, login, locale string) error {
	login = identity.NormalizeLogin(login)
	if login == "" || len(login) > 320 {
		return nil
	}
	return s.resend(ctx, func(tx store.Tx) (identity.Account, error) {
		return tx.Accounts().GetByLogin(ctx, login)
	}, locale)
}

func (s *Service) resend(ctx context.Context, get func(store.Tx) (identity.Account, error), locale string) error {
	errSkip := errors.New("nothing to send")
	err := s.st.Update(ctx, func(tx store.Tx) error {
		a, err := get(tx)
		if errors.Is(err, store.ErrNotFound) {
			return errSkip
		} else if err != nil {
			return err
		}
		if a.Status != identity.StatusPendingActivation {
			return errSkip
		}
		if _, ok := recoveryAddress(a); !ok {
			return errSkip
		}
		return s.send(ctx, tx, a, locale, true)
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// send voids the account's activation links and mails a new one.
func (s *Service) send(ctx context.Context, tx store.Tx, a identity.Account, locale string, again bool) error {
	to, ok := recoveryAddress(a)
	if !ok {
		return fmt.Errorf("activation of %s: %w", a.ID, ErrNoRecoveryAddress)
	}
	now := s.now()
	days, template := 1, notify.TemplateActivation
	if again {
		days, template = 0, notify.TemplateActivationResend
	}
	deadline := s.Deadline(now, days)
	voided, err := tx.Tokens().Revoke(ctx, a.ID, now, store.PurposeActivation)
	if err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(randomBytes(tokenSize))
	// The store refuses a token once now >= ExpiresAt: expiring one
	// second after the deadline keeps 23:59:59 itself valid.
	tok := store.OneTimeToken{Purpose: store.PurposeActivation, Hash: tokenHash(token), AccountID: a.ID,
		CreatedAt: now, ExpiresAt: deadline.Add(time.Second)}
	if err := tx.Tokens().Create(ctx, &tok); err != nil {
		return err
	}
	link := s.base + PathActivate + "?" + url.Values{"token": {token}}.Encode()
	if err := s.mail.Enqueue(ctx, tx, notify.Message{
		To: to, Locale: locale, Template: template, AccountID: a.ID,
		Data:  map[string]string{"login": a.Login, "link": link, "expires_at": deadline.Format(time.RFC3339)},
		Actor: actor(a.ID),
	}); err != nil {
		return err
	}
	return tx.Record(ctx, store.Event{Type: EventLinkSent, Actor: actor(a.ID), AccountID: a.ID, At: now,
		Data: map[string]any{"token_id": tok.ID, "expires_at": deadline, "resend": again, "voided": voided}})
}

// State is where an activation stands, for the page of a link.
type State struct {
	Account identity.Account
	// Step is the first step not done.
	Step Step
	// Steps are the steps of this account's activation, in order:
	// StepRedirect is one of them for staff only.
	Steps []Step
	// Deadline is the last valid second of the link.
	Deadline time.Time
}

// Staff reports whether the account is asked whether to redirect its mail.
func (st State) Staff() bool { return slices.Contains(st.Steps, StepRedirect) }

// CanChangeRedirect reports whether the redirection, already answered, may
// be answered again: the account is staff and its current step comes after
// StepRedirect.
func (st State) CanChangeRedirect() bool {
	return st.Staff() && (st.Step == StepPassword || st.Step == StepConfirm)
}

// staffAccount reports whether a is staff: one of its affiliations, lower-
// cased and without a scope ("staff@univ.example"), is in s.staff.
func (s *Service) staffAccount(a identity.Account) bool {
	for _, v := range a.Attributes[identity.FieldAffiliation] {
		v = strings.ToLower(strings.TrimSpace(v))
		if i := strings.IndexByte(v, '@'); i >= 0 {
			v = v[:i]
		}
		if v != "" && slices.Contains(s.staff, v) {
			return true
		}
	}
	return false
}

// stepsOf returns the steps of a's activation, in order.
func (s *Service) stepsOf(a identity.Account) []Step {
	if s.staffAccount(a) {
		return []Step{StepCharter, StepDirectory, StepRedirect, StepPassword, StepConfirm}
	}
	return []Step{StepCharter, StepDirectory, StepPassword, StepConfirm}
}

// state returns the State of a, the account of a link expiring at
// expires.
func (s *Service) state(ctx context.Context, tx store.Tx, a identity.Account, expires time.Time) (State, error) {
	step, err := s.stepOf(ctx, tx, a)
	return State{Account: a, Step: step, Steps: s.stepsOf(a), Deadline: expires.Add(-time.Second)}, err
}

// stepOf returns the first step the account has not done. The redirection
// step, for staff only, is done once the person answered it
// (Consents.MailForwardAnsweredAt), whether or not the address is verified
// yet. The password step is done when the account's password hash is the
// one the person set (its latest account.password_set is theirs): a hash
// set by someone else (an import, an administrator) is chosen again.
func (s *Service) stepOf(ctx context.Context, tx store.Tx, a identity.Account) (Step, error) {
	switch {
	case a.Consents.CharterVersion != s.cfg.CharterVersion || a.Consents.CharterAcceptedAt.IsZero():
		return StepCharter, nil
	case a.Consents.DirectoryVisible == nil:
		return StepDirectory, nil
	case s.staffAccount(a) && a.Consents.MailForwardAnsweredAt.IsZero():
		return StepRedirect, nil
	}
	last, err := tx.Audit().List(ctx, store.AuditQuery{AccountID: a.ID, Type: authn.EventPasswordSet, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(last) == 0 || last[0].Actor != actor(a.ID) {
		return StepPassword, nil
	}
	return StepConfirm, nil
}

// find reads, without consuming it, the link of token and its account,
// which must be pending activation; ErrInvalidLink otherwise.
func (s *Service) find(ctx context.Context, tx store.Tx, token string, now time.Time) (store.OneTimeToken, identity.Account, error) {
	if token == "" || len(token) > maxToken {
		return store.OneTimeToken{}, identity.Account{}, ErrInvalidLink
	}
	tok, err := tx.Tokens().Find(ctx, store.PurposeActivation, tokenHash(token), now)
	if errors.Is(err, store.ErrNotFound) {
		return tok, identity.Account{}, ErrInvalidLink
	} else if err != nil {
		return tok, identity.Account{}, err
	}
	a, err := tx.Accounts().Get(ctx, tok.AccountID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.Status != identity.StatusPendingActivation) {
		return tok, a, ErrInvalidLink
	} else if err != nil {
		return tok, a, err
	}
	return tok, a, nil
}

// Inspect returns where the activation of a link stands, acting on
// nothing (a GET of the link's page, which mail scanners may fetch).
func (s *Service) Inspect(ctx context.Context, token string) (State, error) {
	var st State
	err := s.st.View(ctx, func(tx store.Tx) error {
		tok, a, err := s.find(ctx, tx, token, s.now())
		if err != nil {
			return err
		}
		st, err = s.state(ctx, tx, a, tok.ExpiresAt)
		return err
	})
	return st, err
}

// step runs fn on the account of a valid link in one transaction, if want
// is its current step (ErrStepOrder otherwise), and returns the state after.
func (s *Service) step(ctx context.Context, token string, want Step, fn func(tx store.Tx, a *identity.Account, now time.Time) error) (State, error) {
	return s.stepIf(ctx, token, func(st State) bool { return st.Step == want }, fn)
}

// stepIf is step for the states that allow it.
func (s *Service) stepIf(ctx context.Context, token string, allow func(State) bool, fn func(tx store.Tx, a *identity.Account, now time.Time) error) (State, error) {
	var st State
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		tok, a, err := s.find(ctx, tx, token, now)
		if err != nil {
			return err
		}
		if before, err := s.state(ctx, tx, a, tok.ExpiresAt); err != nil {
			return err
		} else if !allow(before) {
			return ErrStepOrder
		}
		if err := fn(tx, &a, now); err != nil {
			return err
		}
		st, err = s.state(ctx, tx, a, tok.ExpiresAt)
		return err
	})
	return st, err
}

// AcceptCharter records that the person accepted the charter of version
// (the one their page showed: ErrCharterVersion if it changed since).
func (s *Service) AcceptCharter(ctx context.Context, token, version string) (State, error) {
	return s.step(ctx, token, StepCharter, func(tx store.Tx, a *identity.Account, now time.Time) error {
		if version != s.cfg.CharterVersion {
			return ErrCharterVersion
		}
		a.Consents.CharterVersion, a.Consents.CharterAcceptedAt = s.cfg.CharterVersion, now
		if err := tx.Accounts().Update(ctx, a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventCharterAccepted, Actor: actor(a.ID), AccountID: a.ID, At: now,
			Data: map[string]string{"version": s.cfg.CharterVersion}})
	})
}

// ChooseDirectory records whether the person appears in the public
// directory.
func (s *Service) ChooseDirectory(ctx context.Context, token string, visible bool) (State, error) {
	return s.step(ctx, token, StepDirectory, func(tx store.Tx, a *identity.Account, now time.Time) error {
		a.Consents.DirectoryVisible = &visible
		if err := tx.Accounts().Update(ctx, a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventDirectoryChosen, Actor: actor(a.ID), AccountID: a.ID, At: now,
			Data: map[string]bool{"visible": visible}})
	})
}

// PasswordError says why a chosen password is refused: a rule of
// authn.CheckPolicy (Policy), or that it contains the login or a name
// (Personal).
type PasswordError struct {
	Policy   *authn.PolicyError
	Personal bool
}

func (e *PasswordError) Error() string {
	if e.Policy != nil {
		return e.Policy.Error()
	}
	return "the password must not contain your login or your names"
}

// CheckPassword checks a password chosen for a: authn.CheckPolicy, and it
// does not contain a's login, given or family name (compared folded: case
// and accents ignored; names of fewer than 3 letters are not checked).
func CheckPassword(a identity.Account, pw string) error { return checkPassword(authn.Policy{}, a, pw) }

// checkPassword is CheckPassword under policy p.
func checkPassword(p authn.Policy, a identity.Account, pw string) error {
	if err := p.Check(pw); err != nil {
		var pe *authn.PolicyError
		if errors.As(err, &pe) {
			return &PasswordError{Policy: pe}
		}
		return err
	}
	folded := strings.ReplaceAll(identity.Fold(pw), " ", "")
	for _, v := range []string{a.Login, a.GivenName, a.FamilyName, a.DisplayName} {
		f := identity.Fold(v)
		parts := append(strings.Fields(f), strings.ReplaceAll(f, " ", ""))
		for _, p := range parts {
			if len([]rune(p)) >= 3 && strings.Contains(folded, p) {
				return &PasswordError{Personal: true}
			}
		}
	}
	return nil
}

// SetPassword checks pw (CheckPassword: a *PasswordError when refused) and
// stores it as the account's local password (authn.SetPassword).
func (s *Service) SetPassword(ctx context.Context, token, pw string) (State, error) {
	var a identity.Account
	err := s.st.View(ctx, func(tx store.Tx) error {
		_, acc, err := s.find(ctx, tx, token, s.now())
		if err != nil {
			return err
		}
		if step, err := s.stepOf(ctx, tx, acc); err != nil {
			return err
		} else if step != StepPassword {
			return ErrStepOrder
		}
		a = acc
		return nil
	})
	if err != nil {
		return State{}, err
	}
	if err := checkPassword(s.cfg.Password, a, pw); err != nil {
		return State{}, err
	}
	if link, dir, ok := s.directoryOf(ctx, a.ID); ok {
		if err := dir.ChangePassword(ctx, link.ExternalID, "", pw); err != nil {
			return State{}, fmt.Errorf("set the password at %s: %w", link.Source, err)
		}
		err := s.st.Update(ctx, func(tx store.Tx) error {
			return tx.Record(ctx, store.Event{Type: authn.EventPasswordSet, Actor: actor(a.ID), AccountID: a.ID,
				Data: authn.PasswordEventData{Reason: "directory " + link.Source}})
		})
		if err != nil {
			return State{}, err
		}
		return s.Inspect(ctx, token)
	}
	if err := authn.SetPassword(ctx, s.st, a.ID, pw, actor(a.ID)); err != nil {
		return State{}, err
	}
	return s.Inspect(ctx, token)
}

// directoryOf returns the account's active link to a directory that sets
// passwords, if any.
func (s *Service) directoryOf(ctx context.Context, accountID string) (identity.Link, connectors.PasswordChanger, bool) {
	if len(s.dirs) == 0 {
		return identity.Link{}, nil, false
	}
	var links []identity.Link
	if err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		links, err = tx.Links().ListByAccount(ctx, accountID)
		return err
	}); err != nil {
		return identity.Link{}, nil, false
	}
	for _, l := range links {
		if d, ok := s.dirs[l.Source]; ok && l.Status == identity.LinkActive {
			return l, d, true
		}
	}
	return identity.Link{}, nil, false
}

// Confirm ends the activation, in one transaction: the link is consumed,
// the other activation links voided, the account becomes active
// (account.activated) and the confirmation mail (template password_changed)
// is queued for its recovery address, in locale. Every step must be done
// (ErrStepOrder otherwise).
func (s *Service) Confirm(ctx context.Context, token, locale string) (identity.Account, error) {
	var out identity.Account
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		found, a, err := s.find(ctx, tx, token, now)
		if err != nil {
			return err
		}
		if step, err := s.stepOf(ctx, tx, a); err != nil {
			return err
		} else if step != StepConfirm {
			return ErrStepOrder
		}
		tok, err := tx.Tokens().Consume(ctx, store.PurposeActivation, tokenHash(token), now)
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidLink // consumed meanwhile
		} else if err != nil {
			return err
		}
		if tok.ID != found.ID {
			return ErrInvalidLink
		}
		if _, err := tx.Tokens().Revoke(ctx, a.ID, now, store.PurposeActivation); err != nil {
			return err
		}
		before := a.Status
		a.Status = identity.StatusActive
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		if to, ok := recoveryAddress(a); ok {
			if err := s.mail.Enqueue(ctx, tx, notify.Message{
				To: to, Locale: locale, Template: notify.TemplatePasswordChanged, AccountID: a.ID,
				Data:  map[string]string{"login": a.Login, "changed_at": now.In(s.loc).Format(time.RFC3339)},
				Actor: actor(a.ID),
			}); err != nil {
				return err
			}
		}
		out = a
		data := map[string]any{"token_id": tok.ID, "status_before": before, "charter_version": a.Consents.CharterVersion,
			"directory_visible": *a.Consents.DirectoryVisible}
		if f := a.MailForward; f != nil {
			data["mail_forward"] = map[string]any{"address": f.Address, "keep_copy": f.KeepCopy, "verified": !f.VerifiedAt.IsZero()}
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountActivated, Actor: actor(a.ID), AccountID: a.ID, At: now,
			Data: data})
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
