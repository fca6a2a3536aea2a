package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Events the login pages record.
const (
	// EventSessionCreated: a person logged in; Data holds the session id,
	// the authentication methods and the client, if any.
	EventSessionCreated = "session.created"
	// EventSessionRevoked: a session ended before its time; Data holds the
	// session id and the reason (logout, end_session, replaced).
	EventSessionRevoked = "session.revoked"
)

// Why a session was revoked (the reason of EventSessionRevoked).
const (
	revokeLogout     = "logout"
	revokeEndSession = "end_session"
	revokeReplaced   = "replaced"
)

// sessionSecretSize is the size of a session cookie's random secret.
const sessionSecretSize = 32

// touchEvery bounds how often a session's LastSeenAt is written.
const touchEvery = time.Minute

// sessionHash returns what the store keeps of a session cookie: the
// SHA-256 of its value.
func sessionHash(cookie string) []byte {
	sum := sha256.Sum256([]byte(cookie))
	return sum[:]
}

// Session returns the valid login session of the request's cookie: one
// that exists, is not revoked, was used within Config.SessionIdle and is
// younger than Config.SessionLifetime. It records the use (LastSeenAt) at
// most once a minute. The OpenID provider calls it (its callback guard and
// end_session); it never writes to the response.
func (h *Handler) Session(r *http.Request) (store.Session, bool) {
	ck, err := r.Cookie(h.cfg.CookieName)
	if err != nil || ck.Value == "" {
		return store.Session{}, false
	}
	ctx := r.Context()
	now := h.now()
	s, err := h.lookup(ctx, ck.Value, now)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.ErrorContext(ctx, "login session lookup failed", "error", err)
		}
		return store.Session{}, false
	}
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= h.cfg.SessionIdle {
		return store.Session{}, false
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		err := h.store.Update(ctx, func(tx store.Tx) error { return tx.Sessions().Touch(ctx, s.ID, now) })
		if err != nil {
			// The session stays valid: at worst it ends a minute early.
			h.log.WarnContext(ctx, "login session touch failed", "session_id", s.ID, "error", err)
		} else {
			s.LastSeenAt = now
		}
	}
	return s, true
}

// lookup returns the unrevoked, unexpired session of a cookie value.
func (h *Handler) lookup(ctx context.Context, cookie string, now time.Time) (store.Session, error) {
	var s store.Session
	err := h.store.View(ctx, func(tx store.Tx) error {
		var err error
		s, err = tx.Sessions().GetByHash(ctx, sessionHash(cookie), now)
		return err
	})
	return s, err
}

// EndSession ends the request's login session, if any, and clears its
// cookie, without writing a body: the OpenID provider's end_session calls
// it before redirecting. An idle session is ended too.
func (h *Handler) EndSession(w http.ResponseWriter, r *http.Request) {
	h.endSession(w, r, revokeEndSession)
}

// endSession revokes the session of the request's cookie (recording why)
// and clears the cookie.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, reason string) {
	ck, err := r.Cookie(h.cfg.CookieName)
	if err != nil {
		return
	}
	h.clearSessionCookie(w)
	ctx := r.Context()
	now := h.now()
	s, err := h.lookup(ctx, ck.Value, now)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.ErrorContext(ctx, "login session lookup failed", "error", err)
		}
		return
	}
	err = h.store.Update(ctx, func(tx store.Tx) error { return h.revoke(ctx, tx, s, now, reason) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.ErrorContext(ctx, "login session revocation failed", "session_id", s.ID, "error", err)
	}
}

// revoke revokes s in tx and records it.
func (h *Handler) revoke(ctx context.Context, tx store.Tx, s store.Session, now time.Time, reason string) error {
	if err := tx.Sessions().Revoke(ctx, s.ID, now); err != nil {
		return err
	}
	return tx.Record(ctx, store.Event{
		Type: EventSessionRevoked, Actor: "account:" + s.AccountID, AccountID: s.AccountID,
		RequestID: h.requestID(ctx), At: now,
		Data: map[string]any{"session_id": s.ID, "reason": reason},
	})
}

// newSession is a session being opened.
type newSession struct {
	accountID string
	amr       []string
	clientID  string
	// replaces is the browser's current session, revoked in the same
	// transaction; zero when there is none.
	replaces store.Session
	// upstream is the link source of the upstream provider the person
	// logged in through, if any (recorded with the event).
	upstream string
	// link, when set, links an upstream identity to the account in the
	// same transaction: the session is not opened when it is refused
	// (*linkTakenError).
	link *newLink
}

// createSession opens a session for an account that just proved its
// password, records it as the account's last login, and returns the cookie
// value. A suspended account (or one that
// is no longer live) gets no session: it answers a *GateError
// (GateSuspended), which the caller renders.
func (h *Handler) createSession(ctx context.Context, n newSession) (string, store.Session, error) {
	now := h.now()
	cookie := randomString(sessionSecretSize)
	s := store.Session{
		ID: uuid.NewString(), Hash: sessionHash(cookie), AccountID: n.accountID, AMR: n.amr,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(h.cfg.SessionLifetime),
	}
	err := h.store.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Accounts().Get(ctx, n.accountID)
		if err != nil {
			return fmt.Errorf("account %s: %w", n.accountID, err)
		}
		if a.Status == identity.StatusSuspended || !a.Status.Live() {
			return &GateError{Gate: GateSuspended, AccountID: n.accountID}
		}
		if n.link != nil {
			if err := h.createLink(ctx, tx, n.accountID, *n.link, now); err != nil {
				return err
			}
		}
		if n.replaces.ID != "" {
			if err := h.revoke(ctx, tx, n.replaces, now, revokeReplaced); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		// The last login is the account's (shown to coordinators).
		a.LastLoginAt = now
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		s := s // Update may run fn again: create from the same value.
		if err := tx.Sessions().Create(ctx, &s); err != nil {
			return err
		}
		data := map[string]any{"session_id": s.ID, "amr": n.amr}
		if n.clientID != "" {
			data["client_id"] = n.clientID
		}
		if n.upstream != "" {
			data["upstream"] = n.upstream
		}
		return tx.Record(ctx, store.Event{
			Type: EventSessionCreated, Actor: "account:" + n.accountID, AccountID: n.accountID,
			RequestID: h.requestID(ctx), At: now, Data: data,
		})
	})
	if err != nil {
		return "", store.Session{}, err
	}
	return cookie, s, nil
}

// setSessionCookie gives the browser its session cookie: HttpOnly,
// SameSite=Lax (sent when a client sends the browser back to the login
// page, so that single sign-on works), Secure over https, and without
// Max-Age, so that it ends with the browser.
func (h *Handler) setSessionCookie(w http.ResponseWriter, value string) {
	http.SetCookie(w, &http.Cookie{
		Name: h.cfg.CookieName, Value: value, Path: "/",
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: h.cfg.CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}
