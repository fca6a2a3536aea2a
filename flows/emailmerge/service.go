// Package emailmerge is the merge-by-e-mail flow of seed 000: a person adds a
// secondary address to the account they are logged in to; it stays pending
// until they follow the link mailed to it (valid 30 minutes, single use).
// Following the link proves they own the mailbox: if another live account
// holds the address verified, that account is theirs too and, once they
// have seen the merge preview and confirmed, it is merged into the account
// they act from; otherwise the address becomes a verified secondary address.
//
// Every change is one store transaction with its events: adding the address,
// its one-time token and its mail; consuming the token with the verification
// or the merge (accounts.Service.MergeTx). Nothing answers differently
// whether or not another account holds an address until the link has been
// followed, and a link that is unknown, used, expired, for another account
// or for an address deleted since is refused with one and the same error.
package emailmerge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
)

// Events the flow records (besides account.merged, recorded by the merge,
// and mail.queued, recorded by the mail queue).
const (
	// EventEmailAdded: a verification link was sent for an address of the
	// account, pending until followed. Data: address, token_id,
	// expires_at, again (the address was already pending).
	EventEmailAdded = "email.added"
	// EventEmailRemoved: a pending address was deleted. Data: address.
	EventEmailRemoved = "email.removed"
	// EventEmailVerified: a link was followed and the address is verified
	// on the account. Data: address, token_id, and merge_id and
	// merged_account when the account that held it was merged in.
	EventEmailVerified = "email.verified"
	// EventEmailPrimarySet: the person made a verified address of the
	// account its primary one. Data: address, previous (the former
	// primary address, if any).
	EventEmailPrimarySet = "email.primary_set"
)

// SourceSelf is the source of the addresses people add themselves.
const SourceSelf = "self"

// PathConfirm is the page the mailed links open.
const PathConfirm = "/account/email/confirm"

// Errors of the service. The HTTP layer maps them to its answers.
var (
	// ErrInvalidAddress: the address is not a valid e-mail address.
	ErrInvalidAddress = errors.New("not a valid e-mail address")
	// ErrAlreadyVerified: the address is already verified on this account.
	ErrAlreadyVerified = errors.New("this address is already verified on your account")
	// ErrNotPending: the address of a deletion is verified, not pending.
	ErrNotPending = errors.New("only a pending address can be deleted here")
	// ErrPrimary: the primary address cannot be removed; another one must
	// be made primary first.
	ErrPrimary = errors.New("the primary address cannot be removed: make another address primary first")
	// ErrManaged: the verified address comes from a source (a directory,
	// an import, an administrator), which would bring it back: it is
	// removed there, not here.
	ErrManaged = errors.New("this address is managed by the source it comes from")
	// ErrNotVerified: only a verified address can be made primary.
	ErrNotVerified = errors.New("only a verified address can be made primary")
	// ErrInvalidLink: the link is unknown, used, expired, for another
	// account, or for an address deleted since. One error for all, so
	// that a link tells nothing about why it fails.
	ErrInvalidLink = errors.New("this link is invalid or has expired")
)

// Config configures the flow. Zero fields take their defaults.
type Config struct {
	// PublicURL is the server's public_url: links are
	// PublicURL + PathConfirm + "?token=...".
	PublicURL string `yaml:"-"`
	// LinkTTL is how long a link works. Default 30 minutes (seed 000).
	LinkTTL time.Duration `yaml:"link_ttl"`
	// IPLimit bounds failed link redemptions (page views and
	// confirmations) per client address. Default 20 a minute, burst 20.
	IPLimit Limit `yaml:"ip_limit"`
	// AccountLimit bounds failed link redemptions per account. Default 10
	// per 15 minutes, burst 10.
	AccountLimit Limit `yaml:"account_limit"`
	// SendLimit bounds the addresses added (mails sent) per account.
	// Default 5 per 15 minutes, burst 5.
	SendLimit Limit `yaml:"send_limit"`
	// Location is the time zone the pages write times in, set by the
	// wiring from the top-level timezone; nil means Europe/Paris.
	Location *time.Location `yaml:"-"`
}

// Limit is a token bucket: Burst tokens, refilled at Events per Per.
type Limit struct {
	Events int           `yaml:"events"`
	Per    time.Duration `yaml:"per"`
	Burst  int           `yaml:"burst"`
}

// Defaults of Config.
const DefaultLinkTTL = 30 * time.Minute

// Default limits of Config.
var (
	DefaultIPLimit      = Limit{Events: 20, Per: time.Minute, Burst: 20}
	DefaultAccountLimit = Limit{Events: 10, Per: 15 * time.Minute, Burst: 10}
	DefaultSendLimit    = Limit{Events: 5, Per: 15 * time.Minute, Burst: 5}
)

func (c Config) withDefaults() Config {
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	if c.IPLimit == (Limit{}) {
		c.IPLimit = DefaultIPLimit
	}
	if c.AccountLimit == (Limit{}) {
		c.AccountLimit = DefaultAccountLimit
	}
	if c.SendLimit == (Limit{}) {
		c.SendLimit = DefaultSendLimit
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
	if c.LinkTTL < 0 {
		errs = append(errs, fmt.Errorf("link_ttl: must be positive, got %s", c.LinkTTL))
	}
	for _, l := range []struct {
		key string
		l   Limit
	}{{"ip_limit", c.IPLimit}, {"account_limit", c.AccountLimit}, {"send_limit", c.SendLimit}} {
		if l.l.Events < 1 || l.l.Per <= 0 || l.l.Burst < 1 {
			errs = append(errs, fmt.Errorf("%s: events, per and burst must be positive, got %d per %s, burst %d", l.key, l.l.Events, l.l.Per, l.l.Burst))
		}
	}
	return errors.Join(errs...)
}

// Merger plans and performs merges: accounts.Service.
type Merger interface {
	Preview(ctx context.Context, survivorID, retiredID string) (identity.Plan, error)
	MergeTx(ctx context.Context, tx store.Tx, req accounts.MergeRequest) (identity.MergeRecord, error)
}

// Mailer queues a mail in the caller's transaction: notify.Queue.
type Mailer interface {
	Enqueue(ctx context.Context, tx store.Tx, m notify.Message) error
}

// Service runs the flow.
type Service struct {
	st     store.Store
	merger Merger
	mail   Mailer
	cfg    Config
	base   string // PublicURL without its trailing slash
	now    func() time.Time
}

// New returns the service; cfg is validated.
func New(st store.Store, merger Merger, mail Mailer, cfg Config) (*Service, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if st == nil || merger == nil || mail == nil {
		errs = append(errs, errors.New("emailmerge: the store, the merger and the mailer are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Service{st: st, merger: merger, mail: mail, cfg: cfg, base: strings.TrimRight(cfg.PublicURL, "/"), now: time.Now}, nil
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

// liveAccount reads an account that may act: it exists and is not merged.
// A merged account's id answers ErrNotFound.
func liveAccount(ctx context.Context, tx store.Tx, id string) (identity.Account, error) {
	a, err := tx.Accounts().Get(ctx, id)
	if err != nil {
		return a, err
	}
	if !a.Status.Live() {
		return a, fmt.Errorf("account %s is merged: %w", id, store.ErrNotFound)
	}
	return a, nil
}

// Pending is what AddAddress did.
type Pending struct {
	Address   string
	ExpiresAt time.Time
}

// AddAddress adds address to the account as a pending secondary address (or
// keeps it pending if it already is) and mails a new verification link to
// it, in one transaction. It answers the same whether or not another
// account holds the address: it does not look. locale is the mail's
// language ("fr", "en"; "" for French).
func (s *Service) AddAddress(ctx context.Context, accountID, address, locale string) (Pending, error) {
	addr := identity.NormalizeEmail(address)
	if !identity.ValidEmail(addr) {
		return Pending{}, fmt.Errorf("%w: %q", ErrInvalidAddress, address)
	}
	token := base64.RawURLEncoding.EncodeToString(randomBytes(tokenSize))
	var p Pending
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		if _, err := liveAccount(ctx, tx, accountID); err != nil {
			return err
		}
		again := false
		switch e, err := tx.Emails().Get(ctx, accountID, addr); {
		case err == nil && e.Verified:
			return ErrAlreadyVerified
		case err == nil:
			again = true
		case errors.Is(err, store.ErrNotFound):
			e := identity.Email{AccountID: accountID, Address: addr, Source: SourceSelf, CreatedAt: now}
			if err := tx.Emails().Add(ctx, &e); err != nil {
				return err
			}
		default:
			return err
		}
		tok := store.OneTimeToken{Purpose: store.PurposeEmailVerification, Hash: tokenHash(token), AccountID: accountID,
			Data: map[string]string{"address": addr}, CreatedAt: now, ExpiresAt: now.Add(s.cfg.LinkTTL)}
		if err := tx.Tokens().Create(ctx, &tok); err != nil {
			return err
		}
		link := s.base + PathConfirm + "?" + url.Values{"token": {token}}.Encode()
		if err := s.mail.Enqueue(ctx, tx, notify.Message{
			To: addr, Locale: locale, Template: notify.TemplateEmailVerification, AccountID: accountID,
			Data:  map[string]string{"link": link, "expires_at": tok.ExpiresAt.UTC().Format(time.RFC3339)},
			Actor: actor(accountID),
		}); err != nil {
			return err
		}
		p = Pending{Address: addr, ExpiresAt: tok.ExpiresAt}
		return tx.Record(ctx, store.Event{Type: EventEmailAdded, Actor: actor(accountID), AccountID: accountID, At: now,
			Data: map[string]any{"address": addr, "token_id": tok.ID, "expires_at": tok.ExpiresAt, "again": again}})
	})
	return p, err
}

// DeletePending deletes a pending address of the account. Its links stop
// working (a link needs its address pending). ErrNotFound when the account
// has no such address, ErrNotPending when it is verified.
func (s *Service) DeletePending(ctx context.Context, accountID, address string) error {
	addr := identity.NormalizeEmail(address)
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := liveAccount(ctx, tx, accountID); err != nil {
			return err
		}
		e, err := tx.Emails().Get(ctx, accountID, addr)
		if err != nil {
			return err
		}
		if e.Verified {
			return ErrNotPending
		}
		if err := tx.Emails().Delete(ctx, accountID, addr); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventEmailRemoved, Actor: actor(accountID), AccountID: accountID, At: s.now(),
			Data: map[string]string{"address": addr}})
	})
}

// Remove removes an address of the account, in one transaction with
// EventEmailRemoved (data: address, verified): a pending one (as
// DeletePending: its links stop working), or a verified secondary address
// the person added (source SourceSelf). ErrNotFound when the account has
// no such address, ErrPrimary for its primary address, ErrManaged for a
// verified address of another source.
func (s *Service) Remove(ctx context.Context, accountID, address string) error {
	addr := identity.NormalizeEmail(address)
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := liveAccount(ctx, tx, accountID); err != nil {
			return err
		}
		e, err := tx.Emails().Get(ctx, accountID, addr)
		switch {
		case err != nil:
			return err
		case e.Primary:
			return ErrPrimary
		case e.Verified && e.Source != SourceSelf:
			return fmt.Errorf("%w (%s)", ErrManaged, e.Source)
		}
		if err := tx.Emails().Delete(ctx, accountID, addr); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventEmailRemoved, Actor: actor(accountID), AccountID: accountID, At: s.now(),
			Data: map[string]any{"address": addr, "verified": e.Verified}})
	})
}

// SetPrimary makes a verified address of the account its primary address
// (the one platforms receive), in one transaction with
// EventEmailPrimarySet. ErrNotFound when the account has no such address,
// ErrNotVerified when it is pending; making the primary address primary
// changes nothing and records nothing.
func (s *Service) SetPrimary(ctx context.Context, accountID, address string) error {
	addr := identity.NormalizeEmail(address)
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := liveAccount(ctx, tx, accountID); err != nil {
			return err
		}
		e, err := tx.Emails().Get(ctx, accountID, addr)
		switch {
		case err != nil:
			return err
		case !e.Verified:
			return ErrNotVerified
		case e.Primary:
			return nil
		}
		all, err := tx.Emails().ListByAccount(ctx, accountID)
		if err != nil {
			return err
		}
		previous := ""
		for _, o := range all {
			if o.Primary {
				// One primary per account: the former one first.
				previous, o.Primary = o.Address, false
				if err := tx.Emails().Update(ctx, &o); err != nil {
					return err
				}
			}
		}
		e.Primary = true
		if err := tx.Emails().Update(ctx, &e); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventEmailPrimarySet, Actor: actor(accountID), AccountID: accountID, At: s.now(),
			Data: map[string]string{"address": addr, "previous": previous}})
	})
}

// Addresses returns the account's addresses, primary first.
func (s *Service) Addresses(ctx context.Context, accountID string) ([]identity.Email, error) {
	var out []identity.Email
	err := s.st.View(ctx, func(tx store.Tx) error {
		if _, err := liveAccount(ctx, tx, accountID); err != nil {
			return err
		}
		var err error
		out, err = tx.Emails().ListByAccount(ctx, accountID)
		return err
	})
	return out, err
}

// Outcome says what following a link does or did.
type Outcome string

// Outcomes of Inspect and Confirm.
const (
	// OutcomeVerify (Inspect): confirming will verify the address.
	OutcomeVerify Outcome = "verify"
	// OutcomeMergeRequired: another live account holds the address; the
	// Result carries the merge preview, to confirm with confirmMerge.
	OutcomeMergeRequired Outcome = "merge_required"
	// OutcomeVerified (Confirm): the address is now verified.
	OutcomeVerified Outcome = "verified"
	// OutcomeMerged (Confirm): the account holding the address was
	// merged into the caller's, and the address is verified there.
	OutcomeMerged Outcome = "merged"
)

// Result is what a link does (Inspect) or did (Confirm).
type Result struct {
	Outcome Outcome
	Address string
	// ExpiresAt is when the link stops working (Inspect and
	// OutcomeMergeRequired).
	ExpiresAt time.Time
	// Holder is the other account holding the address
	// (OutcomeMergeRequired, OutcomeMerged: as it was before the merge).
	Holder *identity.Account
	// Preview is the merge of Holder into the caller's account
	// (OutcomeMergeRequired).
	Preview *identity.Plan
	// MergeID is the merge record (OutcomeMerged).
	MergeID string
}

// link is a pending link, read without being consumed.
type link struct {
	tok    store.OneTimeToken
	addr   string
	holder *identity.Account // another live account holding addr verified
}

// find reads, without consuming it, the caller's pending link of this token
// and who holds its address; ErrInvalidLink when there is no such link or
// its address is no longer on the account.
func (s *Service) find(ctx context.Context, tx store.Tx, accountID, token string, now time.Time) (link, error) {
	if token == "" || len(token) > maxToken {
		return link{}, ErrInvalidLink
	}
	if _, err := liveAccount(ctx, tx, accountID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return link{}, ErrInvalidLink
		}
		return link{}, err
	}
	tok, err := tx.Tokens().Find(ctx, store.PurposeEmailVerification, tokenHash(token), now)
	if errors.Is(err, store.ErrNotFound) {
		return link{}, ErrInvalidLink
	} else if err != nil {
		return link{}, err
	}
	return s.resolve(ctx, tx, accountID, tok)
}

// resolve checks a token's address and finds its other holder.
func (s *Service) resolve(ctx context.Context, tx store.Tx, accountID string, tok store.OneTimeToken) (link, error) {
	l := link{tok: tok, addr: tok.Data["address"]}
	if tok.AccountID != accountID || l.addr == "" {
		return link{}, ErrInvalidLink
	}
	if _, err := tx.Emails().Get(ctx, accountID, l.addr); errors.Is(err, store.ErrNotFound) {
		return link{}, ErrInvalidLink // deleted since the link was sent
	} else if err != nil {
		return link{}, err
	}
	switch e, err := tx.Emails().FindVerified(ctx, l.addr); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return link{}, err
	case e.AccountID != accountID:
		h, err := liveAccount(ctx, tx, e.AccountID)
		if err != nil {
			return link{}, err
		}
		l.holder = &h
	}
	return l, nil
}

// Inspect says what confirming a link would do, without consuming it (a
// GET of the link's page, which mail scanners may fetch): OutcomeVerify, or
// OutcomeMergeRequired with the preview. The link must be the caller's:
// otherwise ErrInvalidLink, as for an unknown, used or expired one.
func (s *Service) Inspect(ctx context.Context, accountID, token string) (Result, error) {
	var l link
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		l, err = s.find(ctx, tx, accountID, token, s.now())
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if l.holder != nil {
		return s.mergeRequired(ctx, accountID, l)
	}
	return Result{Outcome: OutcomeVerify, Address: l.addr, ExpiresAt: l.tok.ExpiresAt}, nil
}

// mergeRequired returns the preview of merging the holder of l's address
// into accountID.
func (s *Service) mergeRequired(ctx context.Context, accountID string, l link) (Result, error) {
	plan, err := s.merger.Preview(ctx, accountID, l.holder.ID)
	if err != nil {
		return Result{}, err
	}
	return Result{Outcome: OutcomeMergeRequired, Address: l.addr, ExpiresAt: l.tok.ExpiresAt, Holder: l.holder, Preview: &plan}, nil
}

// errMergeRequired stops Confirm's transaction, without consuming the
// link, when the merge is yet to be confirmed.
var errMergeRequired = errors.New("merge to be confirmed")

// Confirm follows a link of the caller, in one transaction. When another
// live account holds the address verified: without confirmMerge nothing
// changes (the link stays usable) and the result is OutcomeMergeRequired
// with the preview; with confirmMerge the link is consumed, that account
// is merged into the caller's (reason email) and the address is verified
// there (OutcomeMerged). Otherwise the link is consumed and the address
// verified (OutcomeVerified). ErrInvalidLink for a link that is unknown,
// used, expired, another account's, or whose address was deleted.
func (s *Service) Confirm(ctx context.Context, accountID, token string, confirmMerge bool) (Result, error) {
	if token == "" || len(token) > maxToken {
		return Result{}, ErrInvalidLink
	}
	var r Result
	var pending link
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		// Read first, so that a merge still to be confirmed, or a link of
		// another account, consumes nothing.
		l, err := s.find(ctx, tx, accountID, token, now)
		if err != nil {
			return err
		}
		if l.holder != nil && !confirmMerge {
			pending = l
			return errMergeRequired
		}
		tok, err := tx.Tokens().Consume(ctx, store.PurposeEmailVerification, tokenHash(token), now)
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidLink // consumed meanwhile
		} else if err != nil {
			return err
		}
		if tok.ID != l.tok.ID {
			return ErrInvalidLink
		}
		data := map[string]string{"address": l.addr, "token_id": tok.ID}
		r = Result{Outcome: OutcomeVerified, Address: l.addr}
		if l.holder != nil {
			rec, err := s.merger.MergeTx(ctx, tx, accounts.MergeRequest{SurvivorID: accountID, RetiredID: l.holder.ID,
				Reason: identity.MergeByEmail, Actor: actor(accountID)})
			if err != nil {
				return err
			}
			data["merge_id"], data["merged_account"] = rec.ID, l.holder.ID
			r = Result{Outcome: OutcomeMerged, Address: l.addr, Holder: l.holder, MergeID: rec.ID}
		}
		// The merge moved the holder's verified row onto the caller's
		// pending one, which it verified; without a merge, verify it here.
		e, err := tx.Emails().Get(ctx, accountID, l.addr)
		if err != nil {
			return err
		}
		if !e.Verified {
			e.Verified, e.VerifiedAt = true, now
			if err := tx.Emails().Update(ctx, &e); err != nil {
				return err
			}
		}
		return tx.Record(ctx, store.Event{Type: EventEmailVerified, Actor: actor(accountID), AccountID: accountID, At: now, Data: data})
	})
	switch {
	case errors.Is(err, errMergeRequired):
		return s.mergeRequired(ctx, accountID, pending)
	case err != nil:
		return Result{}, err
	}
	return r, nil
}

// randomBytes returns n random bytes (crypto/rand.Read never fails: it
// crashes the program when the system has no randomness).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
