package activation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
)

// The mail redirection step (seed 001, steps 5-1 and 6), for staff: the
// person redirects their institutional mail to another address, keeping a
// copy or not, or declines. The recovery address, which the form offers by
// default, is accepted verified at once: the person proved they control it
// by following the activation link mailed there. Any other address is
// proved by a link mailed to it (one-time token store.PurposeMailRedirect,
// Data {"address"}), followed from any browser: its page shows what it
// confirms and its form POSTs to PathRedirectConfirm.

// sourceSelf is the source of the addresses people add to their own
// account (flows emailmerge and registration); the others came from the
// institution.
const sourceSelf = "self"

// dataAddress is the token data key of the address a link proves.
const dataAddress = "address"

// redirectAllowed is when the redirection may be answered: at its step,
// or again later until the activation is confirmed.
func redirectAllowed(st State) bool { return st.Step == StepRedirect || st.CanChangeRedirect() }

// redirectAddress checks an address typed as the redirection of a and
// returns it normalised, and whether it is a's recovery address (the one
// its activation links are mailed to): ErrRedirectAddress when it is not
// an address, ErrRedirectOwn when it is one of a's institutional
// addresses (those it holds, verified or pending, that the person did not
// add themself), even if it is also the recovery address.
func redirectAddress(ctx context.Context, tx store.Tx, a identity.Account, typed string) (addr string, recovery bool, err error) {
	addr = identity.NormalizeEmail(typed)
	if !identity.ValidEmail(addr) {
		return "", false, fmt.Errorf("%w: %q", ErrRedirectAddress, typed)
	}
	// What notify accepts as a recipient: a bare address, as typed.
	if p, err := mail.ParseAddress(addr); err != nil || p.Name != "" || p.Address != addr {
		return "", false, fmt.Errorf("%w: %q", ErrRedirectAddress, typed)
	}
	emails, err := tx.Emails().ListByAccount(ctx, a.ID)
	if err != nil {
		return "", false, fmt.Errorf("addresses of account %s: %w", a.ID, err)
	}
	for _, e := range emails {
		if e.Source != sourceSelf && identity.NormalizeEmail(e.Address) == addr {
			return "", false, ErrRedirectOwn
		}
	}
	rec, ok := recoveryAddress(a)
	return addr, ok && rec == addr, nil
}

// ChooseRedirect answers the redirection step: the account's mail is to
// be redirected to address, with a copy kept in the institutional mailbox
// if keepCopy. The account's recovery address is verified at once, with no
// link and no mail: the person proved they control it by following the
// activation link mailed there. Any other address is pending until the
// link mailed to it (template email_verification, in locale), valid
// Config.RedirectLinkTTL, is followed (VerifyRedirect); the step is done
// meanwhile. Older redirection links are voided. Until the activation is
// confirmed the step may be answered again: another address, or the same
// one for a new link; the address already verified keeps its verification
// and gets no link. The address is refused with ErrRedirectAddress or
// ErrRedirectOwn; ErrStepOrder for an account that is not staff.
func (s *Service) ChooseRedirect(ctx context.Context, token, address string, keepCopy bool, locale string) (State, error) {
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(tokenSize))
	return s.stepIf(ctx, token, redirectAllowed, func(tx store.Tx, a *identity.Account, now time.Time) error {
		addr, recovery, err := redirectAddress(ctx, tx, *a, address)
		if err != nil {
			return err
		}
		voided, err := tx.Tokens().Revoke(ctx, a.ID, now, store.PurposeMailRedirect)
		if err != nil {
			return err
		}
		f := &identity.MailForward{Address: addr, KeepCopy: keepCopy, ChosenAt: now}
		data := map[string]any{"address": addr, "keep_copy": keepCopy, "again": !a.Consents.MailForwardAnsweredAt.IsZero(),
			"recovery": recovery, "voided": voided}
		switch prev := a.MailForward; {
		case recovery:
			f.VerifiedAt = now
			data["verified"] = true
		case prev != nil && prev.Address == addr && !prev.VerifiedAt.IsZero():
			f.VerifiedAt = prev.VerifiedAt
			data["verified"] = true
		default:
			tok := store.OneTimeToken{Purpose: store.PurposeMailRedirect, Hash: tokenHash(secret), AccountID: a.ID,
				Data: map[string]string{dataAddress: addr}, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RedirectLinkTTL)}
			if err := tx.Tokens().Create(ctx, &tok); err != nil {
				return err
			}
			if err := s.mail.Enqueue(ctx, tx, notify.Message{
				To: addr, Locale: locale, Template: notify.TemplateEmailVerification, AccountID: a.ID,
				Data:  map[string]string{"link": redirectLink(s.base, secret), "expires_at": tok.ExpiresAt.UTC().Format(time.RFC3339)},
				Actor: actor(a.ID),
			}); err != nil {
				return err
			}
			data["verified"], data["token_id"], data["expires_at"] = false, tok.ID, tok.ExpiresAt
		}
		a.MailForward = f
		a.Consents.MailForwardAnsweredAt = now
		if err := tx.Accounts().Update(ctx, a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventRedirectChosen, Actor: actor(a.ID), AccountID: a.ID, At: now, Data: data})
	})
}

// SkipRedirect answers the redirection step: no redirection. A
// redirection chosen before is removed, its pending links voided.
// ErrStepOrder for an account that is not staff.
func (s *Service) SkipRedirect(ctx context.Context, token string) (State, error) {
	return s.stepIf(ctx, token, redirectAllowed, func(tx store.Tx, a *identity.Account, now time.Time) error {
		voided, err := tx.Tokens().Revoke(ctx, a.ID, now, store.PurposeMailRedirect)
		if err != nil {
			return err
		}
		data := map[string]any{"voided": voided}
		if a.MailForward != nil {
			data["cleared"] = a.MailForward.Address
		}
		a.MailForward = nil
		a.Consents.MailForwardAnsweredAt = now
		if err := tx.Accounts().Update(ctx, a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventRedirectSkipped, Actor: actor(a.ID), AccountID: a.ID, At: now, Data: data})
	})
}

// redirectLink is the link mailed to a redirection address.
func redirectLink(base, secret string) string {
	return base + PathRedirectConfirm + "?" + url.Values{fieldToken: {secret}}.Encode()
}

// Redirect is what a redirection link confirms.
type Redirect struct {
	// Login is the login of the account whose mail is redirected.
	Login string
	// Forward is the redirection (verified once VerifyRedirect is done).
	Forward identity.MailForward
	// ExpiresAt is when the link stops working.
	ExpiresAt time.Time
}

// findRedirect reads, without consuming it, the redirection link of token
// and its account, which must be live and still have, pending, the
// redirection the link was mailed for; ErrInvalidRedirectLink otherwise.
func (s *Service) findRedirect(ctx context.Context, tx store.Tx, token string, now time.Time) (store.OneTimeToken, identity.Account, error) {
	if token == "" || len(token) > maxToken {
		return store.OneTimeToken{}, identity.Account{}, ErrInvalidRedirectLink
	}
	tok, err := tx.Tokens().Find(ctx, store.PurposeMailRedirect, tokenHash(token), now)
	if errors.Is(err, store.ErrNotFound) {
		return tok, identity.Account{}, ErrInvalidRedirectLink
	} else if err != nil {
		return tok, identity.Account{}, err
	}
	a, err := tx.Accounts().Get(ctx, tok.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return tok, a, ErrInvalidRedirectLink
	} else if err != nil {
		return tok, a, err
	}
	if f := a.MailForward; !a.Status.Live() || f == nil || f.Address != tok.Data[dataAddress] || !f.VerifiedAt.IsZero() {
		return tok, a, ErrInvalidRedirectLink
	}
	return tok, a, nil
}

// InspectRedirect returns what a redirection link confirms, acting on
// nothing (a GET of its page, which mail scanners may fetch).
func (s *Service) InspectRedirect(ctx context.Context, token string) (Redirect, error) {
	var r Redirect
	err := s.st.View(ctx, func(tx store.Tx) error {
		tok, a, err := s.findRedirect(ctx, tx, token, s.now())
		if err != nil {
			return err
		}
		r = Redirect{Login: a.Login, Forward: *a.MailForward, ExpiresAt: tok.ExpiresAt}
		return nil
	})
	return r, err
}

// VerifyRedirect confirms the redirection of a link, in one transaction:
// the link is consumed, the account's MailForward.VerifiedAt set, and
// mail_forward.verified recorded. It works before and after the
// activation ends. ErrInvalidRedirectLink when the link is unknown, used,
// expired, or no longer matches the account's redirection.
func (s *Service) VerifyRedirect(ctx context.Context, token string) (Redirect, error) {
	var r Redirect
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		found, a, err := s.findRedirect(ctx, tx, token, now)
		if err != nil {
			return err
		}
		tok, err := tx.Tokens().Consume(ctx, store.PurposeMailRedirect, tokenHash(token), now)
		if errors.Is(err, store.ErrNotFound) || (err == nil && tok.ID != found.ID) {
			return ErrInvalidRedirectLink // consumed meanwhile
		} else if err != nil {
			return err
		}
		a.MailForward.VerifiedAt = now
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		r = Redirect{Login: a.Login, Forward: *a.MailForward, ExpiresAt: tok.ExpiresAt}
		return tx.Record(ctx, store.Event{Type: EventRedirectVerified, Actor: actor(a.ID), AccountID: a.ID, At: now,
			Data: map[string]any{"address": a.MailForward.Address, "keep_copy": a.MailForward.KeepCopy, "token_id": tok.ID}})
	})
	return r, err
}
