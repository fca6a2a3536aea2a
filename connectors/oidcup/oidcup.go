// Package oidcup is the upstream OpenID Connect connector: canonid as a
// relying party of another OpenID provider (a campus SSO, a national
// federation), so that people can log in to canonid through it.
//
// A login is two calls around a browser round trip. Begin builds the
// provider's authorization URL (authorization code flow, with a random
// state, a nonce and a PKCE S256 verifier) and a Pending that the caller
// keeps in its login session; the browser comes back to the redirect URL
// with a code, and Finish checks the state and the age of the Pending,
// exchanges the code (sending the verifier), verifies the ID token
// (signature, issuer, audience, expiry, nonce), merges in the userinfo
// claims and returns the Identity. Identity.Entry is what links it: the
// external id is the provider's subject ("sub", unique and never
// reassigned within an issuer), the attributes are the claims flattened to
// strings, as mapping expects.
//
// The connector logs nothing: every failure is returned, with sentinel
// errors (ErrStateMismatch, ErrPendingExpired, ErrInvalidIDToken,
// ErrUserinfoMismatch) to tell a forged or stale callback from a refused
// login (*UpstreamError) and from an unreachable provider.
package oidcup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/canonid/canonid/connectors"
)

// Compile-time proof of the capabilities the connector offers.
var _ connectors.Connector = (*Connector)(nil)

// SourceType is the type part of the link source of the connector's
// identities: "oidc:<name>".
const SourceType = "oidc"

// Sentinel errors of Finish, checked with errors.Is. The error returned
// wraps the sentinel and, for ErrInvalidIDToken, the verifier's own
// error too (errors.As finds an *oidc.TokenExpiredError, for one).
var (
	// ErrStateMismatch: the callback's state is not the pending
	// login's. The callback was forged, replayed, or belongs to another
	// login of the same browser.
	ErrStateMismatch = errors.New("oidcup: state mismatch")
	// ErrPendingExpired: the login was begun more than PendingTTL ago.
	ErrPendingExpired = errors.New("oidcup: login took too long")
	// ErrInvalidIDToken: the token response holds no ID token, or one
	// that fails verification (signature, issuer, audience, expiry,
	// nonce, authorized party, access token hash, subject).
	ErrInvalidIDToken = errors.New("oidcup: invalid ID token")
	// ErrUserinfoMismatch: the userinfo response is about another
	// subject than the ID token.
	ErrUserinfoMismatch = errors.New("oidcup: userinfo subject differs from the ID token's")
)

// UpstreamError is an OAuth 2.0 error response from the provider (RFC
// 6749, sections 4.1.2.1 and 5.2): the login was refused, either at the
// authorization endpoint (the callback carried an error parameter:
// access_denied, login_required...) or at the token endpoint
// (invalid_grant, invalid_client...). Its texts come from the network:
// escape them when showing them.
type UpstreamError struct {
	// Endpoint is "authorization" or "token".
	Endpoint string
	// Code is the error parameter, e.g. "access_denied".
	Code string
	// Description is the error_description parameter, possibly empty,
	// control characters made spaces, cut to 200 characters.
	Description string
	// URI is the error_uri parameter, possibly empty.
	URI string
}

func (e *UpstreamError) Error() string {
	s := "oidcup: the provider's " + e.Endpoint + " endpoint answered " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Pending is a login begun by Begin and not yet finished: the caller
// keeps it, server-side (in the login session), until the callback, and
// passes it to Finish. Its values are secrets: never put them in a URL or
// a log.
type Pending struct {
	// State binds the callback to this login (CSRF protection).
	State string `json:"state"`
	// Nonce binds the ID token to this login (replay protection).
	Nonce string `json:"nonce"`
	// Verifier is the PKCE code verifier (RFC 7636) whose S256 challenge
	// went with the authorization request.
	Verifier string `json:"verifier"`
	// CreatedAt is when Begin ran; Finish refuses a Pending older than
	// PendingTTL.
	CreatedAt time.Time `json:"created_at"`
}

// Option tunes New.
type Option func(*Connector)

// WithClock makes the connector read the time from now instead of
// time.Now: the age of pending logins and the expiry of ID tokens are
// judged by it. For tests.
func WithClock(now func() time.Time) Option {
	return func(c *Connector) { c.now = now }
}

// Connector is a configured upstream OpenID provider. It is safe for
// concurrent use.
type Connector struct {
	cfg      Config
	provider *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	http     *http.Client
	now      func() time.Time
	// issParam: the provider sends iss in authorization responses
	// (RFC 9207), so a response without it is refused.
	issParam bool
}

// discovery holds the discovery document's fields that go-oidc does not
// expose.
type discovery struct {
	ResponseTypes       []string `json:"response_types_supported"`
	CodeChallenge       []string `json:"code_challenge_methods_supported"`
	TokenAuthMethods    []string `json:"token_endpoint_auth_methods_supported"`
	IssParameterSupport bool     `json:"authorization_response_iss_parameter_supported"`
}

// New validates cfg and fetches the provider's discovery document.
// redirectURL is canonid's callback URL, registered at the provider;
// httpClient makes every request to the provider (nil: a default client),
// each bounded by cfg.Timeout.
func New(ctx context.Context, cfg Config, redirectURL string, httpClient *http.Client, opts ...Option) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if u, err := url.Parse(redirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidcup %s: redirect URL %q is not an absolute http(s) URL without fragment", cfg.Name, redirectURL)
	}

	hc := &http.Client{Timeout: cfg.Timeout}
	if httpClient != nil {
		cp := *httpClient
		if cp.Timeout == 0 || cp.Timeout > cfg.Timeout {
			cp.Timeout = cfg.Timeout
		}
		hc = &cp
	}
	c := &Connector{cfg: cfg, http: hc, now: time.Now}
	for _, o := range opts {
		o(c)
	}

	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidcup %s: discovery of issuer %s failed: %w", cfg.Name, cfg.Issuer, err)
	}
	var d discovery
	if err := provider.Claims(&d); err != nil {
		return nil, fmt.Errorf("oidcup %s: discovery of issuer %s: %w", cfg.Name, cfg.Issuer, err)
	}
	ep := provider.Endpoint()
	switch {
	case ep.AuthURL == "" || ep.TokenURL == "":
		return nil, fmt.Errorf("oidcup %s: issuer %s: the discovery document has no authorization or token endpoint", cfg.Name, cfg.Issuer)
	case len(d.ResponseTypes) > 0 && !slices.Contains(d.ResponseTypes, "code"):
		return nil, fmt.Errorf("oidcup %s: issuer %s does not support the authorization code flow (response_types_supported: %v)", cfg.Name, cfg.Issuer, d.ResponseTypes)
	case len(d.CodeChallenge) > 0 && !slices.Contains(d.CodeChallenge, "S256"):
		return nil, fmt.Errorf("oidcup %s: issuer %s does not support PKCE S256 (code_challenge_methods_supported: %v)", cfg.Name, cfg.Issuer, d.CodeChallenge)
	}
	ep.AuthStyle = authStyle(cfg.ClientSecret, d.TokenAuthMethods)

	c.provider = provider
	c.issParam = d.IssParameterSupport
	c.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  redirectURL,
		Scopes:       cfg.Scopes,
	}
	c.verifier = provider.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: c.now})
	return c, nil
}

// authStyle picks how the client authenticates at the token endpoint, so
// that x/oauth2 does not guess (a failed guess costs a second request,
// and a provider may burn the code on the first). A public client sends
// its id in the body; a confidential one uses HTTP Basic unless the
// provider says it only takes client_secret_post. Without the list,
// client_secret_basic is the default (OpenID Connect Discovery 1.0).
func authStyle(secret string, methods []string) oauth2.AuthStyle {
	if secret == "" {
		return oauth2.AuthStyleInParams
	}
	if len(methods) > 0 && !slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// Name is the connector's configured name.
func (c *Connector) Name() string { return c.cfg.Name }

// Source is the link source of the connector's identities, "oidc:<name>".
func (c *Connector) Source() string { return SourceType + ":" + c.cfg.Name }

// DisplayName is the label of the connector's login button.
func (c *Connector) DisplayName() string { return c.cfg.DisplayName }

// Issuer is the provider's issuer URL.
func (c *Connector) Issuer() string { return c.cfg.Issuer }

// LinkByVerifiedEmail says whether a first login may be linked to an
// existing account by a verified e-mail address (Config.LinkByVerifiedEmail).
func (c *Connector) LinkByVerifiedEmail() bool { return c.cfg.LinkByVerifiedEmail }

// AuthOption adds a parameter to the authorization request.
type AuthOption func(*authParams) error

type authParams struct {
	loginHint string
	prompt    []string
}

// LoginHint passes the login the person is expected to use (login_hint),
// so that the provider can fill in its form.
func LoginHint(hint string) AuthOption {
	return func(p *authParams) error {
		p.loginHint = hint
		return nil
	}
}

// Prompt asks the provider to prompt for none, login, consent or
// select_account (prompt). "none" cannot be combined with another.
func Prompt(values ...string) AuthOption {
	return func(p *authParams) error {
		for _, v := range values {
			switch v {
			case "none", "login", "consent", "select_account":
			default:
				return fmt.Errorf("oidcup: unknown prompt value %q", v)
			}
		}
		if slices.Contains(values, "none") && len(values) > 1 {
			return errors.New(`oidcup: prompt "none" cannot be combined with another value`)
		}
		p.prompt = values
		return nil
	}
}

// Begin starts a login: it returns the provider's authorization URL, to
// redirect the browser to, and the Pending to keep until the callback.
func (c *Connector) Begin(opts ...AuthOption) (authURL string, p Pending, err error) {
	var ap authParams
	for _, o := range opts {
		if err := o(&ap); err != nil {
			return "", Pending{}, err
		}
	}
	p = Pending{
		State:     randomString(32),
		Nonce:     randomString(32),
		Verifier:  oauth2.GenerateVerifier(),
		CreatedAt: c.now(),
	}
	params := []oauth2.AuthCodeOption{oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier)}
	if ap.loginHint != "" {
		params = append(params, oauth2.SetAuthURLParam("login_hint", ap.loginHint))
	}
	if len(ap.prompt) > 0 {
		params = append(params, oauth2.SetAuthURLParam("prompt", strings.Join(ap.prompt, " ")))
	}
	return c.oauth.AuthCodeURL(p.State, params...), p, nil
}

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// Finish completes the login p with the query of the callback request.
// It checks, in this order, the state (ErrStateMismatch), the age of p
// (ErrPendingExpired), the issuer named by the response (RFC 9207) and an
// error parameter (*UpstreamError); then exchanges the code with p's
// verifier (*UpstreamError when refused), verifies the ID token
// (ErrInvalidIDToken) and, when the provider has a userinfo endpoint,
// fetches and merges its claims (ErrUserinfoMismatch).
func (c *Connector) Finish(ctx context.Context, p Pending, query url.Values) (Identity, error) {
	fail := func(err error) (Identity, error) {
		return Identity{}, fmt.Errorf("oidcup %s: %w", c.cfg.Name, err)
	}

	states := query["state"]
	if p.State == "" || len(states) != 1 || subtle.ConstantTimeCompare([]byte(states[0]), []byte(p.State)) != 1 {
		return fail(ErrStateMismatch)
	}
	if age := c.now().Sub(p.CreatedAt); p.CreatedAt.IsZero() || age > PendingTTL || age < -time.Minute {
		return fail(ErrPendingExpired)
	}
	if iss, ok := query["iss"]; ok || c.issParam {
		if len(iss) != 1 || iss[0] != c.cfg.Issuer {
			return fail(fmt.Errorf("the authorization response names issuer %q, want %q", strings.Join(iss, ", "), c.cfg.Issuer))
		}
	}
	if code := query.Get("error"); code != "" {
		return fail(&UpstreamError{
			Endpoint:    "authorization",
			Code:        clean(code),
			Description: clean(query.Get("error_description")),
			URI:         clean(query.Get("error_uri")),
		})
	}
	codes := query["code"]
	if len(codes) != 1 || codes[0] == "" {
		return fail(errors.New("the callback carries no code"))
	}

	ctx = oidc.ClientContext(ctx, c.http)
	tok, err := c.oauth.Exchange(ctx, codes[0], oauth2.VerifierOption(p.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return fail(&UpstreamError{
				Endpoint:    "token",
				Code:        clean(re.ErrorCode),
				Description: clean(re.ErrorDescription),
				URI:         clean(re.ErrorURI),
			})
		}
		return fail(fmt.Errorf("exchanging the code: %w", err))
	}

	idToken, claims, err := c.verify(ctx, tok, p.Nonce)
	if err != nil {
		return fail(err)
	}

	if c.provider.UserInfoEndpoint() != "" {
		ui, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return fail(fmt.Errorf("fetching userinfo: %w", err))
		}
		var raw json.RawMessage
		if err := ui.Claims(&raw); err != nil {
			return fail(fmt.Errorf("fetching userinfo: %w", err))
		}
		uclaims, err := decodeClaims(raw)
		if err != nil {
			return fail(fmt.Errorf("fetching userinfo: %w", err))
		}
		if sub, _ := uclaims["sub"].(string); sub != idToken.Subject {
			return fail(fmt.Errorf("%w: %q, not %q", ErrUserinfoMismatch, sub, idToken.Subject))
		}
		for k, v := range uclaims {
			if !tokenClaims[k] {
				claims[k] = v
			}
		}
	}
	return newIdentity(idToken.Issuer, idToken.Subject, claims), nil
}

// verify verifies the token response's ID token and returns it with its
// claims.
func (c *Connector) verify(ctx context.Context, tok *oauth2.Token, nonce string) (*oidc.IDToken, map[string]any, error) {
	invalid := func(format string, args ...any) (*oidc.IDToken, map[string]any, error) {
		return nil, nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidIDToken}, args...)...)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return invalid("the token response holds none")
	}
	idToken, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		return invalid("%w", err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 {
		return invalid("nonce mismatch")
	}
	if idToken.Subject == "" {
		return invalid("no subject")
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
			return invalid("%w", err)
		}
	}
	var rawClaims json.RawMessage
	if err := idToken.Claims(&rawClaims); err != nil {
		return invalid("%w", err)
	}
	claims, err := decodeClaims(rawClaims)
	if err != nil {
		return invalid("%w", err)
	}
	// OpenID Connect Core 1.0, 3.1.3.7, items 4 and 5: with several
	// audiences the authorized party must be named, and be us.
	azp, _ := claims["azp"].(string)
	if (len(idToken.Audience) > 1 && azp == "") || (azp != "" && azp != c.cfg.ClientID) {
		return invalid("authorized party %q is not client %q", azp, c.cfg.ClientID)
	}
	return idToken, claims, nil
}

// decodeClaims decodes a JSON object of claims, numbers kept as
// json.Number so that large integers stay exact.
func decodeClaims(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("decoding claims: %w", err)
	}
	if claims == nil {
		return nil, errors.New("decoding claims: not an object")
	}
	return claims, nil
}

// clean makes a parameter from the network fit for messages: control
// characters become spaces, at most 200 characters are kept.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
