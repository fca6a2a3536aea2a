package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/canonid/canonid/oidc"
)

// grant is a code ready to be exchanged: the browser part of the flow is
// done.
type grant struct {
	code, verifier, nonce string
	who                   person
}

// chain is a refresh token and what its ID tokens must say; a worker of the
// refresh phase replaces token with the one each refresh returns.
type chain struct {
	token string
	who   person
}

// issued is an ID token to verify after the phase, untimed.
type issued struct {
	idToken string
	sub     string
	email   string
	nonce   string // "" for a refresh: no nonce is expected
}

// oauthConfig is the client's configuration for x/oauth2.
func (s *service) oauthConfig() *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURI, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: s.issuer + oidc.PathAuthorize, TokenURL: s.issuer + oidc.PathToken, AuthStyle: oauth2.AuthStyleInHeader}}
}

// newBrowser returns a client that keeps cookies and does not follow
// redirects, as the browser part of a flow needs.
func (s *service) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: s.client.Transport, Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func randomString() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorize runs the browser part of the code flow for who, with PKCE
// (S256), a state and a nonce: GET /oidc/authorize, the stand-in login
// page, the callback; it returns the code the callback sends to the
// client, after checking the state.
func (s *service) authorize(ctx context.Context, browser *http.Client, conf *oauth2.Config, who person) (grant, error) {
	g := grant{verifier: oauth2.GenerateVerifier(), nonce: randomString(), who: who}
	state := randomString()
	next := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(g.verifier), gooidc.Nonce(g.nonce),
		oauth2.SetAuthURLParam("login_hint", who.id))
	for range 5 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return g, err
		}
		res, err := browser.Do(req)
		if err != nil {
			return g, err
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
		res.Body.Close()
		if res.StatusCode/100 != 3 {
			return g, fmt.Errorf("GET %s: status %d: %s", strings.SplitN(next, "?", 2)[0], res.StatusCode, body)
		}
		loc, err := res.Location()
		if err != nil {
			return g, err
		}
		if !strings.HasPrefix(loc.String(), s.issuer) {
			q := loc.Query()
			switch {
			case !strings.HasPrefix(loc.String(), redirectURI+"?"):
				return g, fmt.Errorf("redirected to %s, want the client's redirect URI", loc.Redacted())
			case q.Get("error") != "":
				return g, fmt.Errorf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
			case q.Get("state") != state:
				return g, fmt.Errorf("state %q, want %q", q.Get("state"), state)
			case q.Get("code") == "":
				return g, errors.New("no code in the redirect to the client")
			}
			g.code = q.Get("code")
			return g, nil
		}
		next = loc.String()
	}
	return g, errors.New("too many redirects")
}

// authorizeMany runs the browser part for each of who, workers at a time,
// each worker a browser of its own.
func (s *service) authorizeMany(ctx context.Context, who []person, workers int, tick func(int)) ([]grant, error) {
	conf := s.oauthConfig()
	out := make([]grant, len(who))
	var next, done atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			browser := s.newBrowser()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(who) || ctx.Err() != nil {
					return
				}
				g, err := s.authorize(ctx, browser, conf, who[i])
				if err != nil {
					errs[w] = fmt.Errorf("code %d of %d (account %s): %w", i+1, len(who), who[i].id, err)
					next.Store(int64(len(who))) // stop the others
					return
				}
				out[i] = g
				tick(int(done.Add(1)))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

// tokenResponse is what a client reads of a token endpoint answer.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	RefreshToken     string `json:"refresh_token"`
	IDToken          string `json:"id_token"`
	ExpiresIn        int64  `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// postForm sends a form to path, authenticated as the client
// (client_secret_basic, as x/oauth2 sends it), and reads the whole answer
// into buf. It returns the status and how long the round trip took, from
// sending the request to the last byte of the answer.
func (s *service) postForm(ctx context.Context, path string, form url.Values, buf *bytes.Buffer) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	buf.Reset()
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, err = buf.ReadFrom(res.Body)
	took := time.Since(start)
	res.Body.Close()
	return res.StatusCode, took, err
}

// exchangeForm is the token request of a code exchange.
func exchangeForm(g grant) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {g.code}, "redirect_uri": {redirectURI}, "code_verifier": {g.verifier}}
}

// refreshForm is the token request of a refresh.
func refreshForm(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
}

// checkTokens checks a token endpoint answer: status 200, a Bearer access
// token, a refresh token (offline_access), an ID token, a lifetime. An
// error answer is returned as such.
func checkTokens(status int, body []byte) (tokenResponse, error) {
	var tr tokenResponse
	err := json.Unmarshal(body, &tr)
	switch {
	case status != http.StatusOK && tr.Error != "":
		return tr, fmt.Errorf("status %d: %s: %s", status, tr.Error, tr.ErrorDescription)
	case status != http.StatusOK:
		return tr, fmt.Errorf("status %d: %.200s", status, body)
	case err != nil:
		return tr, fmt.Errorf("status 200 but %w: %.200s", err, body)
	case tr.IDToken == "":
		return tr, errors.New("status 200 without an id_token")
	case tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer"):
		return tr, fmt.Errorf("status 200 without a Bearer access token (token_type %q)", tr.TokenType)
	case tr.RefreshToken == "":
		return tr, errors.New("status 200 without a refresh_token (offline_access was granted)")
	case tr.ExpiresIn <= 0:
		return tr, fmt.Errorf("status 200 with expires_in %d", tr.ExpiresIn)
	}
	return tr, nil
}

// exchange exchanges the code of g, untimed (setup of the refresh chains,
// warm-up), and checks the answer.
func (s *service) exchange(ctx context.Context, g grant) (tokenResponse, error) {
	var buf bytes.Buffer
	status, _, err := s.postForm(ctx, oidc.PathToken, exchangeForm(g), &buf)
	if err != nil {
		return tokenResponse{}, err
	}
	return checkTokens(status, buf.Bytes())
}

// idClaims are the ID token claims the checks read.
type idClaims struct {
	Email  string   `json:"email"`
	Groups []string `json:"groups"`
}

// verify checks ID tokens: signature (the provider's JWKS), issuer,
// audience, expiry, and that each names its account (sub), its address,
// its groups, and carries the nonce of its flow. It returns the first
// problems found, at most five, and how many tokens had one.
func (s *service) verify(ctx context.Context, toks []issued) (bad int, problems []string) {
	for _, t := range toks {
		err := func() error {
			idt, err := s.verifier.Verify(ctx, t.idToken)
			if err != nil {
				return err
			}
			var c idClaims
			if err := idt.Claims(&c); err != nil {
				return err
			}
			switch {
			case idt.Subject != t.sub:
				return fmt.Errorf("sub %q, want %q", idt.Subject, t.sub)
			case idt.Nonce != t.nonce:
				return fmt.Errorf("nonce %q, want %q", idt.Nonce, t.nonce)
			case c.Email != t.email:
				return fmt.Errorf("email %q, want %q", c.Email, t.email)
			case !slices.Equal(c.Groups, []string{benchOrg}):
				return fmt.Errorf("groups %v, want [%s]", c.Groups, benchOrg)
			}
			return nil
		}()
		if err != nil {
			bad++
			if len(problems) < 5 {
				problems = append(problems, "ID token: "+err.Error())
			}
		}
	}
	return bad, problems
}
