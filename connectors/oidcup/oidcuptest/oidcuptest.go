// Package oidcuptest is a small in-process OpenID provider for tests of
// canonid as a relying party (connectors/oidcup, and logins through an
// upstream provider).
//
// New starts it on 127.0.0.1 (an httptest.Server, closed by t.Cleanup)
// for one client. It serves discovery, a JWKS with one RSA key,
// /authorize, /token and /userinfo, and holds the client to what a real
// provider checks: the registered redirect URI, PKCE S256 (required), the
// client secret, single-use codes bound to their client, redirect URI and
// challenge, bearer access tokens. Nobody types a password: /authorize
// logs in whoever SetUser named and redirects back at once with a code.
//
//	p := oidcuptest.New(t, oidcuptest.Client{ID: "canonid", Secret: "s3cret", RedirectURI: cb})
//	p.SetUser(oidcuptest.User{Subject: "u1", Email: "ada@univ.example", EmailVerified: true})
//	authURL, pending, _ := conn.Begin()
//	callback := p.Authorize(t, authURL) // the redirect back, not followed
//	id, err := conn.Finish(ctx, pending, callback.Query())
//
// SetFault makes the next ID tokens (or userinfo responses) wrong in one
// way, SetAuthorizeError makes /authorize answer with an error, for
// negative tests.
package oidcuptest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Lifetimes of what the provider issues.
const (
	CodeTTL  = time.Minute
	TokenTTL = 5 * time.Minute
)

// Client is the relying party the provider knows.
type Client struct {
	// ID is the client id.
	ID string
	// Secret is the client secret; empty for a public client, which
	// authenticates with its id alone (and PKCE).
	Secret string
	// RedirectURI is the one registered redirect URI; /authorize and
	// /token require it exactly.
	RedirectURI string
}

// User is the person who "logs in" at /authorize. Empty fields are left
// out of the claims.
type User struct {
	Subject           string
	Email             string
	EmailVerified     bool
	GivenName         string
	FamilyName        string
	Name              string
	PreferredUsername string
	// Extra claims, added as they are (they override the fields above).
	Extra map[string]any
}

// claims returns the user's claims, sub included.
func (u User) claims() map[string]any {
	c := map[string]any{"sub": u.Subject}
	for k, v := range map[string]string{
		"email": u.Email, "given_name": u.GivenName, "family_name": u.FamilyName,
		"name": u.Name, "preferred_username": u.PreferredUsername,
	} {
		if v != "" {
			c[k] = v
		}
	}
	if u.Email != "" {
		c["email_verified"] = u.EmailVerified
	}
	maps.Copy(c, u.Extra)
	return c
}

// Fault is a way for the provider to answer wrongly, as a broken or
// hostile provider (or a network attacker) would.
type Fault int

// The faults SetFault can set.
const (
	// NoFault: answer correctly.
	NoFault Fault = iota
	// BadNonce: the ID token carries another nonce than the request's.
	BadNonce
	// WrongAudience: the ID token is for another client.
	WrongAudience
	// Expired: the ID token expired before it was issued.
	Expired
	// WrongKey: the ID token is signed by a key not in the JWKS (with
	// the published key's id).
	WrongKey
	// WrongIssuer: the ID token names another issuer.
	WrongIssuer
	// NoIDToken: the token response holds no ID token.
	NoIDToken
	// UserinfoSubject: userinfo answers about another subject.
	UserinfoSubject
)

func (f Fault) String() string {
	switch f {
	case NoFault:
		return "NoFault"
	case BadNonce:
		return "BadNonce"
	case WrongAudience:
		return "WrongAudience"
	case Expired:
		return "Expired"
	case WrongKey:
		return "WrongKey"
	case WrongIssuer:
		return "WrongIssuer"
	case NoIDToken:
		return "NoIDToken"
	case UserinfoSubject:
		return "UserinfoSubject"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Option tunes New.
type Option func(*Provider)

// WithClock makes the provider read the time from now: codes and tokens
// are dated and expire by it.
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// WithoutUserinfo leaves the userinfo endpoint out of discovery (and
// answers 404 there).
func WithoutUserinfo() Option { return func(p *Provider) { p.noUserinfo = true } }

// WithClaimsInUserinfoOnly puts only sub in the ID token, the user's
// other claims in the userinfo response only, as providers do that keep
// ID tokens small.
func WithClaimsInUserinfoOnly() Option { return func(p *Provider) { p.userinfoOnly = true } }

// Provider is a running test provider. Its methods are safe for
// concurrent use.
type Provider struct {
	srv          *httptest.Server
	key          *rsa.PrivateKey
	keyID        string
	now          func() time.Time
	noUserinfo   bool
	userinfoOnly bool

	mu          sync.Mutex
	client      Client
	user        *User
	fault       Fault
	rogue       *rsa.PrivateKey
	authErr     [2]string // error, error_description
	lastAuth    url.Values
	codes       map[string]*grant
	usedCodes   map[string]*grant
	accessToken map[string]issued
}

// issued is an access token's grant and time of issue.
type issued struct {
	grant *grant
	at    time.Time
}

// grant is what a code stands for; the access tokens issued for it point
// to it too.
type grant struct {
	client      string
	redirectURI string
	challenge   string
	nonce       string
	user        User
	authTime    time.Time
	issuedAt    time.Time
	tokens      []string
}

// New starts a provider for client c; t.Cleanup stops it.
func New(t testing.TB, c Client, opts ...Option) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("oidcuptest: generating the signing key: %v", err)
	}
	p := &Provider{
		key:         key,
		keyID:       "k1",
		now:         time.Now,
		client:      c,
		codes:       map[string]*grant{},
		usedCodes:   map[string]*grant{},
		accessToken: map[string]issued{},
	}
	for _, o := range opts {
		o(p)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	if !p.noUserinfo {
		mux.HandleFunc("GET /userinfo", p.userinfo)
		mux.HandleFunc("POST /userinfo", p.userinfo)
	}
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// Issuer is the provider's issuer URL, http://127.0.0.1:<port>.
func (p *Provider) Issuer() string { return p.srv.URL }

// SetUser sets who logs in at the next authorizations. Before any call,
// /authorize answers access_denied (login_required with prompt=none).
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = &u
}

// SetClient replaces the client the provider knows (when its redirect URI
// is only known once the relying party's server runs).
func (p *Provider) SetClient(c Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = c
}

// SetFault makes the next token and userinfo responses wrong in the way
// f says, until set back to NoFault.
func (p *Provider) SetFault(f Fault) {
	var rogue *rsa.PrivateKey
	if f == WrongKey {
		var err error
		if rogue, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err) // never: crypto/rand does not fail
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.rogue = f, rogue
}

// SetAuthorizeError makes /authorize redirect back with this error and
// error_description instead of a code, until set back to "".
func (p *Provider) SetAuthorizeError(code, description string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authErr = [2]string{code, description}
}

// LastAuthorizeQuery is the query of the latest /authorize request, nil
// before any.
func (p *Provider) LastAuthorizeQuery() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.lastAuth)
}

// Authorize plays the browser: it gets authURL (the provider's
// authorization URL, as Begin built it) without following redirects and
// returns where the provider sends the browser back (the relying party's
// callback, with code and state, or error). It fails t unless the answer
// is a redirect. Call it from the test's goroutine.
func (p *Provider) Authorize(t testing.TB, authURL string) *url.URL {
	t.Helper()
	c := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("oidcuptest: GET %s: %v", authURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("oidcuptest: GET %s: %s, not a redirect: %s", authURL, resp.Status, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("oidcuptest: GET %s: %v", authURL, err)
	}
	return loc
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := p.Issuer()
	d := map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/jwks",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
			"email", "email_verified", "given_name", "family_name", "name", "preferred_username"},
		"authorization_response_iss_parameter_supported": true,
	}
	if !p.noUserinfo {
		d["userinfo_endpoint"] = iss + "/userinfo"
	}
	writeJSON(w, http.StatusOK, d)
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &p.key.PublicKey, KeyID: p.keyID, Algorithm: string(jose.RS256), Use: "sig",
	}}})
}

// authorize is the authorization endpoint (OpenID Connect Core 1.0,
// 3.1.2): errors about the client or the redirect URI are shown to the
// "user" (400), the others go back to the client.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastAuth = maps.Clone(q)

	if q.Get("client_id") != p.client.ID || p.client.ID == "" {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI != p.client.RedirectURI {
		http.Error(w, "redirect_uri is not the registered one", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirectURI)
		v := u.Query()
		for k, vs := range params {
			v[k] = vs
		}
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		v.Set("iss", p.Issuer())
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, description string) {
		back(url.Values{"error": {code}, "error_description": {description}})
	}

	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code")
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		fail("invalid_scope", "scope must include openid")
	case q.Get("code_challenge") == "":
		fail("invalid_request", "PKCE required: code_challenge missing")
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
	case p.authErr[0] != "":
		fail(p.authErr[0], p.authErr[1])
	case p.user == nil && q.Get("prompt") == "none":
		fail("login_required", "nobody is logged in")
	case p.user == nil:
		fail("access_denied", "nobody logs in: call SetUser")
	default:
		code := rand.Text()
		now := p.now()
		p.codes[code] = &grant{
			client:      p.client.ID,
			redirectURI: redirectURI,
			challenge:   q.Get("code_challenge"),
			nonce:       q.Get("nonce"),
			user:        *p.user,
			authTime:    now,
			issuedAt:    now,
		}
		back(url.Values{"code": {code}})
	}
}

var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// token is the token endpoint (RFC 6749, 4.1.3; RFC 7636, 4.6).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f := r.PostForm
	p.mu.Lock()
	defer p.mu.Unlock()

	// Client authentication (RFC 6749, 2.3.1).
	id, secret, basic := r.BasicAuth()
	if basic {
		if f.Has("client_secret") {
			tokenError(w, http.StatusBadRequest, "invalid_request", "client authenticated twice")
			return
		}
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if id != p.client.ID || id == "" ||
		(p.client.Secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(p.client.Secret)) != 1) ||
		(p.client.Secret == "" && secret != "") {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidcuptest"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if gt := f.Get("grant_type"); gt != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q", gt))
		return
	}

	code := f.Get("code")
	g, ok := p.codes[code]
	if !ok {
		if used, ok := p.usedCodes[code]; ok {
			// RFC 6749, 4.1.2: a code used twice revokes what it gave.
			for _, t := range used.tokens {
				delete(p.accessToken, t)
			}
			tokenError(w, http.StatusBadRequest, "invalid_grant", "code already used")
			return
		}
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown code")
		return
	}
	delete(p.codes, code) // single use, whatever comes next
	p.usedCodes[code] = g

	now := p.now()
	switch {
	case now.Sub(g.issuedAt) > CodeTTL:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code expired")
		return
	case g.client != id:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code issued to another client")
		return
	case f.Get("redirect_uri") != g.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	}
	verifier := f.Get("code_verifier")
	if !verifierRE.MatchString(verifier) {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier missing or malformed")
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}

	access := rand.Text()
	g.tokens = append(g.tokens, access)
	p.accessToken[access] = issued{g, now}
	resp := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(TokenTTL / time.Second),
	}
	if p.fault != NoIDToken {
		idToken, err := p.signIDToken(g, access, now)
		if err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		resp["id_token"] = idToken
	}
	writeJSON(w, http.StatusOK, resp)
}

// signIDToken makes the ID token of grant g, spoiled by the fault set.
func (p *Provider) signIDToken(g *grant, access string, now time.Time) (string, error) {
	claims := map[string]any{"sub": g.user.Subject}
	if !p.userinfoOnly {
		claims = g.user.claims()
	}
	sum := sha256.Sum256([]byte(access))
	maps.Copy(claims, map[string]any{
		"iss":       p.Issuer(),
		"aud":       p.client.ID,
		"iat":       now.Unix(),
		"exp":       now.Add(TokenTTL).Unix(),
		"auth_time": g.authTime.Unix(),
		"at_hash":   base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	})
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	key := p.key
	switch p.fault {
	case BadNonce:
		claims["nonce"] = "not-" + g.nonce
	case WrongAudience:
		claims["aud"] = "another-client"
	case Expired:
		claims["iat"] = now.Add(-2 * TokenTTL).Unix()
		claims["exp"] = now.Add(-TokenTTL).Unix()
	case WrongKey:
		key = p.rogue
	case WrongIssuer:
		claims["iss"] = p.Issuer() + "/elsewhere"
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.RS256,
		Key:       jose.JSONWebKey{Key: key, KeyID: p.keyID, Algorithm: string(jose.RS256), Use: "sig"},
	}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// userinfo is the userinfo endpoint (OpenID Connect Core 1.0, 5.3).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	defer p.mu.Unlock()
	tok, known := p.accessToken[access]
	if !ok || !known || p.now().Sub(tok.at) > TokenTTL {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid access token", http.StatusUnauthorized)
		return
	}
	claims := tok.grant.user.claims()
	if p.fault == UserinfoSubject {
		claims["sub"] = tok.grant.user.Subject + "-other"
	}
	writeJSON(w, http.StatusOK, claims)
}

func tokenError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
