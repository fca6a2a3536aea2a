package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/canonid/canonid/store"
)

// What the person's own account pages (package web/account) need of the
// login pages: checking their current password with the same
// authenticator, and seeing and ending their login sessions.

// Reasons of EventSessionRevoked recorded for the account pages.
const (
	// RevokeSignedOut: the person ended one of their sessions from the
	// list of their sessions.
	RevokeSignedOut = "signed_out"
	// RevokeOthers: the person ended all their sessions but the one they
	// were using.
	RevokeOthers = "signed_out_others"
	// RevokePasswordChanged: the person changed their password, which
	// ends their other sessions.
	RevokePasswordChanged = "password_changed"
)

// HelpURL returns Config.HelpURL: where people ask the help desk, "" when
// not configured.
func (h *Handler) HelpURL() string { return h.cfg.HelpURL }

// SessionLifetime returns how long a session lasts at most
// (Config.SessionLifetime).
func (h *Handler) SessionLifetime() time.Duration { return h.cfg.SessionLifetime }

// CheckPassword checks that password is the current password of the
// account, with the authenticator of the login form (its local hash, or a
// bind to the campus directory it is linked to), identified by its login,
// else by its primary (or another) verified address. It returns an error
// wrapping ErrInvalidCredentials when the password is wrong, or when the
// account has no identifier a password login could use.
func (h *Handler) CheckPassword(ctx context.Context, accountID, password string) error {
	var identifier string
	err := h.store.View(ctx, func(tx store.Tx) error {
		a, err := tx.Accounts().Get(ctx, accountID)
		if err != nil {
			return err
		}
		if identifier = a.Login; identifier != "" {
			return nil
		}
		emails, err := tx.Emails().ListByAccount(ctx, accountID)
		for _, e := range emails {
			if e.Verified && (identifier == "" || e.Primary) {
				identifier = e.Address
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("account %s: %w", accountID, err)
	}
	if identifier == "" {
		return fmt.Errorf("account %s has no login nor verified address: %w", accountID, ErrInvalidCredentials)
	}
	id, _, err := h.auth.Authenticate(ctx, identifier, password)
	switch {
	case err != nil:
		return fmt.Errorf("check the password of %s: %w", accountID, err)
	case id != accountID:
		// Its identifier leads to another account (a login taken since):
		// not this account's password.
		return fmt.Errorf("the password of %s: %w", accountID, ErrInvalidCredentials)
	}
	return nil
}

// AccountSession is a login session as its owner sees it.
type AccountSession struct {
	ID string
	// CreatedAt is when the person logged in; ExpiresAt is when the
	// session ends at the latest (Config.SessionLifetime later: unused
	// for Config.SessionIdle, it ends sooner).
	CreatedAt, ExpiresAt time.Time
	// AMR are the authentication methods of the login ("pwd", "fed").
	AMR []string
	// ClientID is the platform the login was for, if any.
	ClientID string
	// Upstream is the link source of the upstream provider the person
	// logged in through ("oidc:campus-sso"), if any.
	Upstream string
}

// sessionEventData is the data of EventSessionCreated and
// EventSessionRevoked.
type sessionEventData struct {
	SessionID string   `json:"session_id"`
	AMR       []string `json:"amr"`
	ClientID  string   `json:"client_id"`
	Upstream  string   `json:"upstream"`
}

// auditPage is how many audit entries a read of the sessions takes at a
// time.
const auditPage = 200

// ListSessions returns the sessions of the account that are neither
// revoked nor past their lifetime, newest first. They are read from the
// account's session.created and session.revoked events, which every
// opening and ending records; a session unused for Config.SessionIdle has
// ended but is listed until its lifetime is over (its last use is not
// recorded as an event).
func (h *Handler) ListSessions(ctx context.Context, accountID string) ([]AccountSession, error) {
	var out []AccountSession
	err := h.store.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = h.openSessions(ctx, tx, accountID, h.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sessions of %s: %w", accountID, err)
	}
	return out, nil
}

// openSessions reads the account's open sessions inside tx.
func (h *Handler) openSessions(ctx context.Context, tx store.Tx, accountID string, now time.Time) ([]AccountSession, error) {
	since := now.Add(-h.cfg.SessionLifetime)
	revoked := map[string]bool{}
	err := eachEvent(ctx, tx, accountID, EventSessionRevoked, since, func(e store.AuditEntry, d sessionEventData) {
		revoked[d.SessionID] = true
	})
	if err != nil {
		return nil, err
	}
	var out []AccountSession
	err = eachEvent(ctx, tx, accountID, EventSessionCreated, since, func(e store.AuditEntry, d sessionEventData) {
		expires := e.At.Add(h.cfg.SessionLifetime)
		if d.SessionID == "" || revoked[d.SessionID] || !now.Before(expires) {
			return
		}
		out = append(out, AccountSession{ID: d.SessionID, CreatedAt: e.At, ExpiresAt: expires, AMR: d.AMR,
			ClientID: d.ClientID, Upstream: d.Upstream})
	})
	return out, err
}

// eachEvent calls fn with the account's audit entries of a type recorded
// since then, newest first, and their session data.
func eachEvent(ctx context.Context, tx store.Tx, accountID, typ string, since time.Time, fn func(store.AuditEntry, sessionEventData)) error {
	var before int64
	for {
		entries, err := tx.Audit().List(ctx, store.AuditQuery{AccountID: accountID, Type: typ, Before: before, Limit: auditPage})
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.At.Before(since) {
				return nil
			}
			var d sessionEventData
			if json.Unmarshal(e.Data, &d) == nil {
				fn(e, d)
			}
		}
		if len(entries) < auditPage {
			return nil
		}
		before = entries[len(entries)-1].ID
	}
}

// RevokeSession ends one open session of the account and records
// EventSessionRevoked with reason, in one transaction. It returns an error
// wrapping store.ErrNotFound when the account has no such open session
// (another account's, ended already, or unknown).
func (h *Handler) RevokeSession(ctx context.Context, accountID, sessionID, reason string) error {
	err := h.store.Update(ctx, func(tx store.Tx) error {
		now := h.now()
		open, err := h.openSessions(ctx, tx, accountID, now)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(open, func(s AccountSession) bool { return s.ID == sessionID }) {
			return store.ErrNotFound
		}
		return h.revoke(ctx, tx, store.Session{ID: sessionID, AccountID: accountID}, now, reason)
	})
	if err != nil {
		return fmt.Errorf("end session %s of %s: %w", sessionID, accountID, err)
	}
	return nil
}

// RevokeOtherSessions ends, in the caller's transaction, every open
// session of the account but keep (the one the person is using), each with
// its EventSessionRevoked and reason, and returns how many it ended.
func (h *Handler) RevokeOtherSessions(ctx context.Context, tx store.Tx, accountID, keep, reason string) (int, error) {
	now := h.now()
	open, err := h.openSessions(ctx, tx, accountID, now)
	if err != nil {
		return 0, fmt.Errorf("sessions of %s: %w", accountID, err)
	}
	n := 0
	for _, s := range open {
		if s.ID == keep {
			continue
		}
		err := h.revoke(ctx, tx, store.Session{ID: s.ID, AccountID: accountID}, now, reason)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Expired and deleted by the janitor meanwhile.
		case err != nil:
			return n, fmt.Errorf("end session %s of %s: %w", s.ID, accountID, err)
		default:
			n++
		}
	}
	return n, nil
}
