package oidc

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/canonid/canonid/store"
)

// requestData is what canonid keeps of an authorization request, encoded
// in store.AuthRequest.Request.
type requestData struct {
	RedirectURI   string   `json:"redirect_uri"`
	Scopes        []string `json:"scopes"`
	State         string   `json:"state,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	ResponseType  string   `json:"response_type"`
	ResponseMode  string   `json:"response_mode,omitempty"`
	Challenge     string   `json:"code_challenge,omitempty"`
	ChallengeMeth string   `json:"code_challenge_method,omitempty"`
	Prompt        []string `json:"prompt,omitempty"`
	MaxAge        *uint    `json:"max_age,omitempty"`
	UILocales     []string `json:"ui_locales,omitempty"`
	LoginHint     string   `json:"login_hint,omitempty"`
}

// authRequest is a stored authorization request as op.AuthRequest.
type authRequest struct {
	row  store.AuthRequest
	data requestData
}

var _ op.AuthRequest = (*authRequest)(nil)

func newAuthRequest(row store.AuthRequest) (*authRequest, error) {
	r := &authRequest{row: row}
	if err := json.Unmarshal(row.Request, &r.data); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *authRequest) GetID() string          { return r.row.ID }
func (r *authRequest) GetACR() string         { return "" }
func (r *authRequest) GetAMR() []string       { return r.row.AMR }
func (r *authRequest) GetAudience() []string  { return []string{r.row.ClientID} }
func (r *authRequest) GetAuthTime() time.Time { return r.row.AuthTime }
func (r *authRequest) GetClientID() string    { return r.row.ClientID }
func (r *authRequest) GetNonce() string       { return r.data.Nonce }
func (r *authRequest) GetRedirectURI() string { return r.data.RedirectURI }
func (r *authRequest) GetScopes() []string    { return r.data.Scopes }
func (r *authRequest) GetState() string       { return r.data.State }
func (r *authRequest) GetSubject() string     { return r.row.AccountID }
func (r *authRequest) Done() bool             { return r.row.AccountID != "" }
func (r *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(r.data.ResponseMode)
}
func (r *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(r.data.ResponseType)
}

func (r *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if r.data.Challenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: r.data.Challenge, Method: oidc.CodeChallengeMethod(r.data.ChallengeMeth)}
}

// tokenRequest is a stored token (a refresh token, or the client of
// client_credentials) as op.RefreshTokenRequest and op.TokenRequest.
type tokenRequest struct {
	tok    store.OAuthToken
	scopes []string
}

var _ op.RefreshTokenRequest = (*tokenRequest)(nil)

func (r *tokenRequest) GetAMR() []string       { return r.tok.AMR }
func (r *tokenRequest) GetAudience() []string  { return r.tok.Audience }
func (r *tokenRequest) GetAuthTime() time.Time { return r.tok.AuthTime }
func (r *tokenRequest) GetClientID() string    { return r.tok.ClientID }
func (r *tokenRequest) GetScopes() []string {
	if r.scopes != nil {
		return r.scopes
	}
	return r.tok.Scopes
}
func (r *tokenRequest) GetSubject() string { return subject(r.tok) }

// SetCurrentScopes narrows the scopes of a refresh (RFC 6749 §6).
func (r *tokenRequest) SetCurrentScopes(scopes []string) { r.scopes = slices.Clone(scopes) }
