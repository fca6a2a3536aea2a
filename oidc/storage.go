package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Events the provider records (every change is recorded, with the audit
// and the outbox).
const (
	EventRequestCreated   = "oidc.request_created"   // /authorize stored a request
	EventRequestCompleted = "oidc.request_completed" // a person logged in for a client
	EventCodeIssued       = "oidc.code_issued"
	EventRequestDeleted   = "oidc.request_deleted"
	EventTokensIssued     = "oidc.tokens_issued" // code exchange, client_credentials
	EventTokenRefreshed   = "oidc.token_refreshed"
	EventRefreshReused    = "oidc.refresh_reused" // a used refresh token came back: the grant is revoked
	EventTokenRevoked     = "oidc.token_revoked"
	EventTokensEnded      = "oidc.tokens_ended" // end_session revoked a client's tokens of an account
)

// authRequestLifetime bounds the time between /authorize and the code
// exchange.
const authRequestLifetime = 10 * time.Minute

// Storage implements op.Storage over the store.
type Storage struct {
	st      store.Store
	cfg     Config
	clients map[string]*client
	keys    *keyring
	crypto  *sealer
	now     func() time.Time
	log     *slog.Logger
	// endSession ends the browser's login session (package web); nil
	// when there is none.
	endSession func(ctx context.Context)
}

var (
	_ op.Storage                        = (*Storage)(nil)
	_ op.ClientCredentialsStorage       = (*Storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*Storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*Storage)(nil)
)

// Health implements op.Storage.
func (s *Storage) Health(ctx context.Context) error { return s.st.Ping(ctx) }

// GetClientByClientID implements op.Storage.
func (s *Storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client_id")
	}
	return c, nil
}

// AuthorizeClientIDSecret implements op.Storage.
func (s *Storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := s.clients[id]
	if !ok || !c.checkSecret(secret) {
		return oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return nil
}

// CreateAuthRequest implements op.Storage. PKCE with S256 is required of
// public clients and, when sent, checked for every client.
func (s *Storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, ok := s.clients[req.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client_id")
	}
	switch {
	case req.CodeChallenge == "" && c.cfg.Public:
		return nil, oidc.ErrInvalidRequest().WithDescription("this client must use PKCE: send code_challenge with code_challenge_method=S256")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	data := requestData{
		RedirectURI: req.RedirectURI, Scopes: c.allowed(req.Scopes), State: req.State, Nonce: req.Nonce,
		ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode),
		Challenge: req.CodeChallenge, ChallengeMeth: string(req.CodeChallengeMethod),
		Prompt: req.Prompt, MaxAge: req.MaxAge, LoginHint: req.LoginHint,
	}
	for _, t := range req.UILocales {
		data.UILocales = append(data.UILocales, t.String())
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	now := s.now()
	row := store.AuthRequest{ID: uuid.NewString(), ClientID: c.cfg.ID, Request: raw, CreatedAt: now, ExpiresAt: now.Add(authRequestLifetime)}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.AuthRequests().Create(ctx, &row); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventRequestCreated, Actor: "client:" + c.cfg.ID, Data: map[string]any{"request": row.ID}})
	})
	if err != nil {
		return nil, err
	}
	return &authRequest{row: row, data: data}, nil
}

func (s *Storage) authRequest(ctx context.Context, id string) (*authRequest, error) {
	var row store.AuthRequest
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		row, err = tx.AuthRequests().Get(ctx, id, s.now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("authorization request: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return newAuthRequest(row)
}

// AuthRequestByID implements op.Storage.
func (s *Storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	r, err := s.authRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oidc.ErrInvalidRequest().WithDescription("the authorization request is unknown or expired: start again from the application")
	}
	return r, err
}

// AuthRequestByCode implements op.Storage.
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	var row store.AuthRequest
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		row, err = tx.AuthRequests().GetByCode(ctx, hash(code), s.now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, used or expired")
	}
	if err != nil {
		return nil, err
	}
	return newAuthRequest(row)
}

// SaveAuthCode implements op.Storage: only the code's hash is kept.
func (s *Storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.AuthRequests().SetCode(ctx, id, hash(code)); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventCodeIssued, Actor: "system:oidc", Data: map[string]any{"request": id}})
	})
}

// DeleteAuthRequest implements op.Storage. The code exchange consumed the
// request already (in the transaction that issued the tokens), so it is
// usually gone.
func (s *Storage) DeleteAuthRequest(ctx context.Context, id string) error {
	// Look first, so that the usual case takes no write transaction.
	err := s.st.View(ctx, func(tx store.Tx) error {
		_, err := tx.AuthRequests().Get(ctx, id, time.Time{})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		err := tx.AuthRequests().Delete(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventRequestDeleted, Actor: "system:oidc", Data: map[string]any{"request": id}})
	})
}

// errCodeUsed refuses a second exchange of one code.
var errCodeUsed = oidc.ErrInvalidGrant().WithDescription("the code was already used")

// CreateAccessToken implements op.Storage: a code exchange without
// offline_access, or client_credentials.
func (s *Storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	access, _, err := s.issue(ctx, req, "", false)
	return access.ID, access.ExpiresAt, err
}

// CreateAccessAndRefreshTokens implements op.Storage: a code exchange with
// offline_access, or a refresh (which rotates the refresh token).
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	access, refresh, err := s.issue(ctx, req, current, true)
	return access.ID, refresh, access.ExpiresAt, err
}

// issue creates the tokens of a grant in one transaction: for a code, it
// consumes the request (a code is single-use); for a refresh, it marks the
// presented token used (within RefreshReuseGrace a used one is accepted
// again: a client that lost the answer).
func (s *Storage) issue(ctx context.Context, req op.TokenRequest, current string, withRefresh bool) (store.OAuthToken, string, error) {
	now := s.now()
	access := store.OAuthToken{ID: uuid.NewString(), Kind: store.TokenAccess, Scopes: req.GetScopes(), Audience: req.GetAudience(),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.AccessTokenLifetime)}
	var refreshValue string
	var refresh store.OAuthToken
	event := EventTokensIssued
	reused := false
	err := s.st.Update(ctx, func(tx store.Tx) error {
		reused = false
		switch r := req.(type) {
		case *authRequest:
			if err := tx.AuthRequests().Delete(ctx, r.row.ID); errors.Is(err, store.ErrNotFound) {
				return errCodeUsed
			} else if err != nil {
				return err
			}
			if err := s.admit(ctx, tx, r.row.AccountID, r.row.ClientID); err != nil {
				return err
			}
			access.AccountID, access.ClientID, access.AMR, access.AuthTime = r.row.AccountID, r.row.ClientID, r.row.AMR, r.row.AuthTime
			access.FamilyID = uuid.NewString()
		case *tokenRequest:
			access.AccountID, access.ClientID, access.AMR, access.AuthTime = r.tok.AccountID, r.tok.ClientID, r.tok.AMR, r.tok.AuthTime
			if current == "" { // client_credentials
				access.FamilyID = uuid.NewString()
				access.Audience = []string{r.tok.ClientID}
				break
			}
			event = EventTokenRefreshed
			old, err := tx.OAuthTokens().GetByHash(ctx, hash(current))
			if errors.Is(err, store.ErrNotFound) {
				return oidc.ErrInvalidGrant().WithDescription("unknown refresh token")
			} else if err != nil {
				return err
			}
			if err := s.usable(old, now); err != nil {
				return err
			}
			first, err := tx.OAuthTokens().MarkUsed(ctx, old.ID, now)
			if err != nil {
				return err
			}
			if !first && now.Sub(old.UsedAt) > s.cfg.RefreshReuseGrace {
				reused = true
				return s.revokeReused(ctx, tx, old, now)
			}
			if err := s.admit(ctx, tx, old.AccountID, old.ClientID); err != nil {
				return err
			}
			access.FamilyID = old.FamilyID
		default:
			return oidc.ErrUnsupportedGrantType()
		}
		if err := tx.OAuthTokens().Create(ctx, &access); err != nil {
			return err
		}
		if withRefresh {
			refreshValue = randomToken(32)
			refresh = access
			refresh.ID, refresh.Kind, refresh.Hash = uuid.NewString(), store.TokenRefresh, hash(refreshValue)
			refresh.Scopes = req.GetScopes()
			refresh.ExpiresAt = now.Add(s.cfg.RefreshTokenLifetime)
			if err := tx.OAuthTokens().Create(ctx, &refresh); err != nil {
				return err
			}
		}
		return tx.Record(ctx, store.Event{Type: event, Actor: "client:" + access.ClientID, AccountID: access.AccountID,
			Data: map[string]any{"family": access.FamilyID, "refresh": withRefresh, "scopes": access.Scopes}})
	})
	if err == nil && reused {
		err = oidc.ErrInvalidGrant().WithDescription("the refresh token was already used; every token of this grant is revoked")
	}
	return access, refreshValue, err
}

// usable checks a refresh token's state.
func (s *Storage) usable(t store.OAuthToken, now time.Time) error {
	switch {
	case t.Kind != store.TokenRefresh:
		return oidc.ErrInvalidGrant().WithDescription("not a refresh token")
	case !t.RevokedAt.IsZero():
		return oidc.ErrInvalidGrant().WithDescription("the refresh token was revoked")
	case !now.Before(t.ExpiresAt):
		return oidc.ErrInvalidGrant().WithDescription("the refresh token expired")
	}
	return nil
}

// revokeReused revokes the grant of a refresh token presented again after
// it was used: someone holds a copy.
func (s *Storage) revokeReused(ctx context.Context, tx store.Tx, t store.OAuthToken, now time.Time) error {
	n, err := tx.OAuthTokens().RevokeFamily(ctx, t.FamilyID, now)
	if err != nil {
		return err
	}
	s.log.WarnContext(ctx, "refresh token reused: grant revoked", "client", t.ClientID, "account", t.AccountID, "family", t.FamilyID, "revoked", n)
	return tx.Record(ctx, store.Event{Type: EventRefreshReused, Actor: "client:" + t.ClientID, AccountID: t.AccountID,
		Data: map[string]any{"family": t.FamilyID, "revoked": n}})
}

// admit checks that the account may still use the client: it is active
// (not merged, suspended or pending) and, for a client with require_org, a
// validated member of the org. A machine token (no account) is admitted.
func (s *Storage) admit(ctx context.Context, tx store.Tx, accountID, clientID string) error {
	if accountID == "" {
		return nil
	}
	acc, err := tx.Accounts().Get(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return oidc.ErrInvalidGrant().WithDescription("the account no longer exists")
	}
	if err != nil {
		return err
	}
	if acc.Status != identity.StatusActive {
		return oidc.ErrInvalidGrant().WithDescription("the account is %s", acc.Status)
	}
	c := s.clients[clientID]
	if c == nil || c.cfg.RequireOrg == "" {
		return nil
	}
	ok, err := validatedMember(ctx, tx, c.cfg.RequireOrg, accountID)
	if err != nil {
		return err
	}
	if !ok {
		return oidc.ErrInvalidGrant().WithDescription("the account is not a validated member of the org this client requires")
	}
	return nil
}

func validatedMember(ctx context.Context, tx store.Tx, orgID, accountID string) (bool, error) {
	m, err := tx.Memberships().Get(ctx, orgID, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.State == identity.MembershipValidated, nil
}

// TokenRequestByRefreshToken implements op.Storage. A used refresh token
// past the grace revokes its grant here already.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, value string) (op.RefreshTokenRequest, error) {
	now := s.now()
	var tok store.OAuthToken
	reused := false
	check := func(tx store.Tx, write bool) error {
		reused = false
		var err error
		tok, err = tx.OAuthTokens().GetByHash(ctx, hash(value))
		if errors.Is(err, store.ErrNotFound) {
			return oidc.ErrInvalidGrant().WithDescription("unknown refresh token")
		} else if err != nil {
			return err
		}
		if err := s.usable(tok, now); err != nil {
			return err
		}
		if !tok.UsedAt.IsZero() && now.Sub(tok.UsedAt) > s.cfg.RefreshReuseGrace {
			reused = true
			if write {
				return s.revokeReused(ctx, tx, tok, now)
			}
		}
		return nil
	}
	// Read first; only a reuse, which revokes the grant, writes.
	err := s.st.View(ctx, func(tx store.Tx) error { return check(tx, false) })
	if err == nil && reused {
		err = s.st.Update(ctx, func(tx store.Tx) error { return check(tx, true) })
	}
	if err == nil && reused {
		err = oidc.ErrInvalidGrant().WithDescription("the refresh token was already used; every token of this grant is revoked")
	}
	if err != nil {
		return nil, err
	}
	return &tokenRequest{tok: tok}, nil
}

// GetRefreshTokenInfo implements op.Storage (revocation).
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, clientID, value string) (string, string, error) {
	var tok store.OAuthToken
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		tok, err = tx.OAuthTokens().GetByHash(ctx, hash(value))
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && (tok.Kind != store.TokenRefresh || tok.ClientID != clientID)) {
		return "", "", op.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", "", err
	}
	return subject(tok), tok.ID, nil
}

// subject is the token's sub: the account, or the client for a machine
// token.
func subject(t store.OAuthToken) string {
	if t.AccountID == "" {
		return t.ClientID
	}
	return t.AccountID
}

// RevokeToken implements op.Storage (RFC 7009): revoking a refresh token
// revokes its grant; an access token, itself. An unknown token is not an
// error; a token of another client is refused.
func (s *Storage) RevokeToken(ctx context.Context, id, _, clientID string) *oidc.Error {
	now := s.now()
	var oerr *oidc.Error
	err := s.st.Update(ctx, func(tx store.Tx) error {
		oerr = nil
		tok, err := tx.OAuthTokens().Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if tok.ClientID != clientID {
			oerr = oidc.ErrUnauthorizedClient().WithDescription("the token was not issued to this client")
			return nil
		}
		if !tok.RevokedAt.IsZero() {
			return nil
		}
		n := 1
		if tok.Kind == store.TokenRefresh {
			n, err = tx.OAuthTokens().RevokeFamily(ctx, tok.FamilyID, now)
		} else {
			err = tx.OAuthTokens().Revoke(ctx, tok.ID, now)
		}
		if err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventTokenRevoked, Actor: "client:" + clientID, AccountID: tok.AccountID,
			Data: map[string]any{"kind": string(tok.Kind), "family": tok.FamilyID, "revoked": n}})
	})
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return oerr
}

// TerminateSession implements op.Storage: the client's tokens of the
// account are revoked.
func (s *Storage) TerminateSession(ctx context.Context, accountID, clientID string) error {
	if accountID == "" || clientID == "" {
		return nil
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		n, err := tx.OAuthTokens().RevokeAccount(ctx, accountID, clientID, s.now())
		if err != nil || n == 0 {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventTokensEnded, Actor: "client:" + clientID, AccountID: accountID,
			Data: map[string]any{"revoked": n}})
	})
}

// TerminateSessionFromRequest implements op.CanTerminateSessionFromRequest
// (end_session): the browser's login session ends, and the tokens the
// client holds for the account named by id_token_hint are revoked.
func (s *Storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if s.endSession != nil {
		s.endSession(ctx)
	}
	if err := s.TerminateSession(ctx, req.UserID, req.ClientID); err != nil {
		return "", err
	}
	return req.RedirectURI, nil
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s *Storage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, id, secret); err != nil {
		return nil, err
	}
	c := s.clients[id]
	if !slices.Contains(c.cfg.grants(), GrantClientCredentials) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this client may not use client_credentials")
	}
	return c, nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage.
func (s *Storage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, oidc.ErrInvalidClient()
	}
	return &tokenRequest{tok: store.OAuthToken{ClientID: id, Scopes: c.allowed(scopes), Audience: []string{id}}}, nil
}

// SetUserinfoFromScopes implements op.Storage; SetUserinfoFromRequest does
// the work (the library calls it when it exists).
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the ID
// token's claims.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.st.View(ctx, func(tx store.Tx) error {
		return setUserinfo(ctx, tx, info, req.GetSubject(), scopes)
	})
}

// validAccess returns the access token of this id if it is valid now.
func (s *Storage) validAccess(ctx context.Context, tx store.Tx, id, sub string) (store.OAuthToken, bool, error) {
	tok, err := tx.OAuthTokens().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return tok, false, nil
	}
	if err != nil {
		return tok, false, err
	}
	now := s.now()
	ok := tok.Kind == store.TokenAccess && tok.RevokedAt.IsZero() && now.Before(tok.ExpiresAt) && subject(tok) == sub
	return tok, ok, nil
}

var errTokenInvalid = oidc.ErrInvalidRequest().WithDescription("the access token is invalid, revoked or expired")

// SetUserinfoFromToken implements op.Storage (/userinfo).
func (s *Storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, id, sub, _ string) error {
	return s.st.View(ctx, func(tx store.Tx) error {
		tok, ok, err := s.validAccess(ctx, tx, id, sub)
		if err != nil {
			return err
		}
		if !ok || tok.AccountID == "" {
			return errTokenInvalid
		}
		return setUserinfo(ctx, tx, info, tok.AccountID, tok.Scopes)
	})
}

// SetIntrospectionFromToken implements op.Storage (RFC 7662). A token is
// shown active only to the client it was issued to or one of its
// audience; the library answers {"active": false} when this returns an
// error.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, id, sub, clientID string) error {
	return s.st.View(ctx, func(tx store.Tx) error {
		// Any error leaves the answer {"active": false}.
		tok, ok, err := s.validAccess(ctx, tx, id, sub)
		if err != nil {
			return err
		}
		if !ok || (tok.ClientID != clientID && !slices.Contains(tok.Audience, clientID)) {
			return errTokenInvalid
		}
		if tok.AccountID != "" {
			var info oidc.UserInfo
			if err := setUserinfo(ctx, tx, &info, tok.AccountID, tok.Scopes); err != nil {
				return err // a merged, suspended or deleted account
			}
			resp.SetUserInfo(&info)
			resp.Username = info.PreferredUsername
		}
		resp.Active = true
		resp.Scope = tok.Scopes
		resp.ClientID = tok.ClientID
		resp.TokenType = oidc.BearerToken
		resp.Expiration = oidc.FromTime(tok.ExpiresAt)
		resp.IssuedAt = oidc.FromTime(tok.CreatedAt)
		resp.AuthTime = oidc.FromTime(tok.AuthTime)
		resp.Subject = subject(tok)
		resp.Audience = tok.Audience
		resp.AuthenticationMethodsReferences = tok.AMR
		resp.JWTID = tok.ID
		return nil
	})
}

// GetPrivateClaimsFromScopes implements op.Storage: claims of JWT access
// tokens beyond the standard ones.
func (s *Storage) GetPrivateClaimsFromScopes(ctx context.Context, accountID, _ string, scopes []string) (map[string]any, error) {
	if accountID == "" || !slices.Contains(scopes, ScopeGroups) {
		return nil, nil
	}
	var groups []string
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		groups, err = groupsOf(ctx, tx, accountID)
		return err
	})
	if err != nil || len(groups) == 0 {
		return nil, err
	}
	return map[string]any{"groups": groups}, nil
}

// GetKeyByIDAndClientID implements op.Storage; the JWT profile grant is
// not offered.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrUnauthorizedClient().WithDescription("the JWT profile grant is not supported")
}

// ValidateJWTProfileScopes implements op.Storage; the JWT profile grant is
// not offered.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnauthorizedClient().WithDescription("the JWT profile grant is not supported")
}
