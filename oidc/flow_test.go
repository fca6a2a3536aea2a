package oidc_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/oidc"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// claims are the ID token and userinfo claims the tests read.
type claims struct {
	Sub           string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	GivenName     string   `json:"given_name"`
	Username      string   `json:"preferred_username"`
	Groups        []string `json:"groups"`
	MergedSubs    []string `json:"merged_subs"`
}

func TestCodeFlow(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, testConfig())
		account(t, st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive, "cpts-sud")
		lms := e.oauth("lms", lmsSecret, lmsRedirect, "profile", "email", "groups", "offline_access")

		tok, idt := e.tokens(lms, "alice")
		var c claims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if c.Sub != "alice" || c.Email != "alice@univ-test.fr" || !c.EmailVerified || c.Username != "alice" || !slices.Equal(c.Groups, []string{"cpts-sud"}) {
			t.Errorf("ID token claims %+v", c)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access")
		}

		// userinfo
		ui, err := e.rp.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var uc claims
		ui.Claims(&uc)
		if uc.Sub != "alice" || uc.Email != "alice@univ-test.fr" || uc.GivenName != "Alice" {
			t.Errorf("userinfo %+v", uc)
		}

		// introspection: active for the client, with the sub
		in := e.introspect(tok.AccessToken)
		if in["active"] != true || in["sub"] != "alice" || in["client_id"] != "lms" {
			t.Errorf("introspection %v", in)
		}
		if in := e.introspect("not-a-token"); in["active"] != false {
			t.Errorf("introspection of garbage: %v", in)
		}

		// a code is single-use
		f := newFlow()
		code := e.code(lms, "alice", f)
		if _, err := lms.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); err != nil {
			t.Fatal(err)
		}
		if _, err := lms.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); !isOAuthError(err, "invalid_grant") {
			t.Errorf("second exchange of a code: %v, want invalid_grant", err)
		}
		// the PKCE verifier is checked
		f = newFlow()
		code = e.code(lms, "alice", f)
		if _, err := lms.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
			t.Errorf("exchange with a wrong verifier: %v, want invalid_grant", err)
		}
		// a wrong client secret
		bad := *lms
		bad.ClientSecret = "wrong"
		f = newFlow()
		if _, err := bad.Exchange(ctx, e.code(lms, "alice", f), oauth2.VerifierOption(f.verifier)); !isOAuthError(err, "invalid_client") {
			t.Errorf("exchange with a wrong secret: %v, want invalid_client", err)
		}
		storetest.CheckInvariants(t, st)
	})
}

func TestPublicClientNeedsPKCE(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), testConfig())
	account(t, e.st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
	spa := e.oauth("spa", "", spaRedirect, "profile")

	loc := e.authorize(spa, "alice", flow{state: "s1", nonce: "n1"}) // no challenge
	if q := loc.Query(); q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "PKCE") {
		t.Errorf("public client without PKCE: %s", loc)
	}
	loc = e.authorize(spa, "alice", flow{state: "s2", nonce: "n2"}, oauth2.SetAuthURLParam("code_challenge", "abc"), oauth2.SetAuthURLParam("code_challenge_method", "plain"))
	if q := loc.Query(); q.Get("error") != "invalid_request" {
		t.Errorf("plain PKCE: %s", loc)
	}
	tok, idt := e.tokens(spa, "alice")
	if idt.Subject != "alice" || tok.AccessToken == "" {
		t.Errorf("public client with PKCE: sub %q", idt.Subject)
	}
}

func TestRefreshRotation(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, testConfig())
		account(t, st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
		lms := e.oauth("lms", lmsSecret, lmsRedirect, "offline_access", "email")
		tok, _ := e.tokens(lms, "alice")

		next, err := e.refresh(lms, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate the tokens")
		}
		// Within the grace, the used token is accepted again (a client
		// that lost the answer).
		e.clock.Advance(5 * time.Second)
		again, err := e.refresh(lms, tok.RefreshToken)
		if err != nil {
			t.Fatalf("reuse within the grace: %v", err)
		}
		// After it, reuse is theft: the whole grant is revoked.
		e.clock.Advance(time.Minute)
		if _, err := e.refresh(lms, tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("reuse after the grace: %v, want invalid_grant", err)
		}
		for _, rt := range []string{next.RefreshToken, again.RefreshToken} {
			if _, err := e.refresh(lms, rt); !isOAuthError(err, "invalid_grant") {
				t.Errorf("a token of the revoked grant still refreshes: %v", err)
			}
		}
		for _, at := range []string{tok.AccessToken, next.AccessToken, again.AccessToken} {
			if in := e.introspect(at); in["active"] != false {
				t.Errorf("an access token of the revoked grant is active: %v", in)
			}
		}
		if n := countEvents(t, st, oidc.EventRefreshReused); n != 1 {
			t.Errorf("%d %s events, want 1", n, oidc.EventRefreshReused)
		}

		// Narrowing scopes on refresh; widening is refused.
		tok, _ = e.tokens(lms, "alice")
		status, body := e.post(oidc.PathToken, "lms", lmsSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid offline_access"}})
		if status != http.StatusOK || body["scope"] != "openid offline_access" {
			t.Errorf("narrowing refresh: %d %v", status, body)
		}
		tok, _ = e.tokens(lms, "alice")
		status, body = e.post(oidc.PathToken, "lms", lmsSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid offline_access groups"}})
		if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Errorf("widening refresh: %d %v, want invalid_scope", status, body)
		}

		// A suspended account's refresh fails.
		tok, _ = e.tokens(lms, "alice")
		setStatus(t, st, "alice", identity.StatusSuspended)
		if _, err := e.refresh(lms, tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Errorf("refresh of a suspended account: %v, want invalid_grant", err)
		}
	})
}

func TestRevocationAndEndSession(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), testConfig())
	account(t, e.st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
	lms := e.oauth("lms", lmsSecret, lmsRedirect, "offline_access")

	// Revoking a refresh token revokes its grant.
	tok, _ := e.tokens(lms, "alice")
	if status, body := e.post(oidc.PathRevoke, "lms", lmsSecret, url.Values{"token": {tok.RefreshToken}}); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if _, err := e.refresh(lms, tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh after revocation: %v", err)
	}
	if in := e.introspect(tok.AccessToken); in["active"] != false {
		t.Errorf("access token after its grant's revocation: %v", in)
	}
	// Revoking an access token revokes it alone.
	tok, _ = e.tokens(lms, "alice")
	e.post(oidc.PathRevoke, "lms", lmsSecret, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}})
	if in := e.introspect(tok.AccessToken); in["active"] != false {
		t.Errorf("revoked access token: %v", in)
	}
	if _, err := e.refresh(lms, tok.RefreshToken); err != nil {
		t.Errorf("the refresh token of a revoked access token: %v", err)
	}
	// Another client cannot revoke lms's token.
	tok, _ = e.tokens(lms, "alice")
	if status, _ := e.post(oidc.PathRevoke, "machine", machineSecret, url.Values{"token": {tok.RefreshToken}}); status == http.StatusOK {
		if _, err := e.refresh(lms, tok.RefreshToken); err != nil {
			t.Errorf("another client revoked lms's refresh token: %v", err)
		}
	}

	// end_session: registered post-logout redirect with state; the
	// client's tokens of the account are revoked.
	_, idt := e.tokens(lms, "alice")
	tok2, _ := e.tokens(lms, "alice")
	raw := idTokenOf(t, e, lms)
	q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {lmsLoggedOut}, "state": {"bye"}}
	res, err := e.browser.Get(e.issuer + oidc.PathEndSession + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || loc != lmsLoggedOut+"?state=bye" {
		t.Errorf("end_session: %d Location %q", res.StatusCode, loc)
	}
	if _, err := e.refresh(lms, tok2.RefreshToken); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh after end_session: %v", err)
	}
	_ = idt
	// An unregistered post-logout redirect is refused.
	q.Set("post_logout_redirect_uri", "https://evil.example/")
	res, err = e.browser.Get(e.issuer + oidc.PathEndSession + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusFound && strings.HasPrefix(res.Header.Get("Location"), "https://evil.example") {
		t.Error("end_session redirected to an unregistered URI")
	}
}

// idTokenOf runs a flow and returns the raw ID token.
func idTokenOf(t *testing.T, e *env, conf *oauth2.Config) string {
	t.Helper()
	tok, _ := e.tokens(conf, "alice")
	raw, _ := tok.Extra("id_token").(string)
	return raw
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), testConfig())
	cc := clientcredentials.Config{ClientID: "machine", ClientSecret: machineSecret, TokenURL: e.rp.Endpoint().TokenURL, Scopes: []string{"openid"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	status, in := e.post(oidc.PathIntrospect, "machine", machineSecret, url.Values{"token": {tok.AccessToken}})
	if status != http.StatusOK || in["active"] != true || in["sub"] != "machine" {
		t.Errorf("introspection of a machine token: %d %v", status, in)
	}
	// lms may not use client_credentials, nor machine the code flow.
	bad := clientcredentials.Config{ClientID: "lms", ClientSecret: lmsSecret, TokenURL: e.rp.Endpoint().TokenURL}
	if _, err := bad.Token(ctx); err == nil {
		t.Error("lms got a client_credentials token")
	}
	cc.ClientSecret = "wrong"
	if _, err := cc.Token(ctx); !isOAuthError(err, "invalid_client") {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestGates(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), testConfig())
	account(t, e.st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
	account(t, e.st, "carla", "carla", "carla@cpts.example", identity.StatusActive, "cpts-sud")
	account(t, e.st, "paul", "paul", "paul@univ-test.fr", identity.StatusPendingActivation)
	account(t, e.st, "sophie", "sophie", "sophie@infirmiere.example", identity.StatusPendingValidation)
	account(t, e.st, "sam", "sam", "sam@univ-test.fr", identity.StatusSuspended)
	lms := e.oauth("lms", lmsSecret, lmsRedirect)
	cpts := e.oauth("cpts-app", lmsSecret, lmsRedirect)

	for who, want := range map[string]web.Gate{"paul": web.GatePendingActivation, "sophie": web.GatePendingValidation, "sam": web.GateSuspended} {
		e.tryAuthorize(lms, who)
		if g := gate(e.gateErr); g != want {
			t.Errorf("%s: gate %q (%v), want %q", who, g, e.gateErr, want)
		}
	}
	e.tryAuthorize(cpts, "alice")
	if g := gate(e.gateErr); g != web.GateOrgRequired {
		t.Errorf("alice on a require_org client: gate %q (%v)", g, e.gateErr)
	}
	if _, idt := e.tokens(cpts, "carla"); idt.Subject != "carla" {
		t.Errorf("carla on the require_org client: sub %q", idt.Subject)
	}
}

// tryAuthorize runs the browser part until the login page answers.
func (e *env) tryAuthorize(conf *oauth2.Config, who string) {
	e.mu.Lock()
	e.who, e.gateErr = who, nil
	e.mu.Unlock()
	f := newFlow()
	next := conf.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier))
	for range 5 {
		res, err := e.browser.Get(next)
		if err != nil {
			e.t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		loc, err := res.Location()
		if err != nil || !strings.HasPrefix(loc.String(), e.issuer) {
			return
		}
		next = loc.String()
	}
}

// TestCallbackSameBrowser: a code goes only to the browser that logged in.
func TestCallbackSameBrowser(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), testConfig())
	account(t, e.st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
	lms := e.oauth("lms", lmsSecret, lmsRedirect)
	f := newFlow()
	e.who = "alice"
	res, err := e.browser.Get(lms.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	login, _ := res.Location()
	res, err = e.browser.Get(login.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	callback := res.Header.Get("Location")
	if !strings.Contains(callback, oidc.PathCallback) {
		t.Fatalf("login answered %d %q", res.StatusCode, callback)
	}
	// Another browser (no session cookie) follows the callback link.
	other := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = other.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("callback from another browser: %d, want 403", res.StatusCode)
	}
	res, err = e.browser.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, lmsRedirect+"?code=") {
		t.Errorf("callback from the browser that logged in: %d %q", res.StatusCode, loc)
	}
}

// TestKeyRotation: the next key is in the JWKS a day before it signs, and a
// token signed before the rotation still verifies after it.
func TestKeyRotation(t *testing.T) {
	cfg := testConfig()
	e := newEnv(t, storetest.OpenSQLite(t), cfg)
	account(t, e.st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
	lms := e.oauth("lms", lmsSecret, lmsRedirect)
	verifier := e.rp.Verifier(&gooidc.Config{ClientID: "lms"})

	// Start just after a slot began: one key.
	slot := cfg.Keys.RotateEvery
	start := e.clock.Now().Truncate(slot).Add(slot).Add(time.Hour)
	e.clock.Advance(start.Sub(e.clock.Now()))
	before := idTokenOf(t, e, lms)
	kid0 := kidOf(t, before)
	if keys := jwks(t, e); !slices.Equal(keys, []string{kid0}) {
		// The key of the previous slot may exist if the first one was
		// made before; only the signing one matters here.
		if !slices.Contains(keys, kid0) {
			t.Fatalf("JWKS %v lacks the signing key %s", keys, kid0)
		}
	}

	// Less than publish_ahead before the next slot: the next key is
	// published, the current one still signs.
	e.clock.Advance(slot - time.Hour - cfg.Keys.PublishAhead + time.Hour)
	during := idTokenOf(t, e, lms)
	if kidOf(t, during) != kid0 {
		t.Error("the new key signs before it was published for publish_ahead")
	}
	keys := jwks(t, e)
	if len(keys) < 2 {
		t.Fatalf("JWKS %v: the next key is not published ahead", keys)
	}
	next := keys[len(keys)-1]

	// In the next slot, the new key signs; the old token still verifies.
	e.clock.Advance(cfg.Keys.PublishAhead)
	after := idTokenOf(t, e, lms)
	if k := kidOf(t, after); k != next || k == kid0 {
		t.Errorf("after rotation signed with %s, want the published key %s", k, next)
	}
	for _, raw := range []string{before, during, after} {
		if _, err := verifier.Verify(ctx, raw); err != nil {
			t.Errorf("verify: %v", err)
		}
	}
	if n := countEvents(t, e.st, oidc.EventKeyCreated); n < 2 {
		t.Errorf("%d key events", n)
	}
}

// TestMergedAccount: after a merge, the retired account's tokens no longer
// work and the survivor's claims list it.
func TestMergedAccount(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, testConfig())
		account(t, st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
		account(t, st, "alice2", "alice.perso", "alice@gmail.example", identity.StatusActive)
		lms := e.oauth("lms", lmsSecret, lmsRedirect, "offline_access", "email")
		old, _ := e.tokens(lms, "alice2")

		svc := accounts.New(st, accounts.DefaultConfig(), slog.New(slog.DiscardHandler))
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: "alice", RetiredID: "alice2", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.refresh(lms, old.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Errorf("the retired account's refresh token: %v", err)
		}
		if in := e.introspect(old.AccessToken); in["active"] != false {
			t.Errorf("the retired account's access token: %v", in)
		}
		_, idt := e.tokens(lms, "alice")
		var c claims
		idt.Claims(&c)
		if c.Sub != "alice" || !slices.Equal(c.MergedSubs, []string{"alice2"}) {
			t.Errorf("survivor claims %+v", c)
		}
		storetest.CheckInvariants(t, st)
	})
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), testConfig())
	res, err := http.Get(e.issuer + oidc.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	doc := string(raw)
	for _, want := range []string{`"issuer":"` + e.issuer + `"`, `"S256"`, `"refresh_token"`, `"client_credentials"`, e.issuer + oidc.PathRevoke,
		e.issuer + oidc.PathIntrospect, e.issuer + oidc.PathEndSession, `"merged_subs"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("discovery lacks %s: %s", want, doc)
		}
	}
}

// TestKeysSharedByReplicas: several providers on one store, starting at
// once, create one key per period between them and sign with the same one.
func TestKeysSharedByReplicas(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		cfg := testConfig()
		now := time.Now()
		const replicas = 4
		kids := make([]string, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			p, err := oidc.New(cfg, oidc.Deps{Store: st, Issuer: "http://127.0.0.1:1", Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				k, err := p.Storage().SigningKey(ctx)
				if err == nil {
					kids[i] = k.ID()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
			if kids[i] != kids[0] {
				t.Errorf("replica %d signs with %s, replica 0 with %s", i, kids[i], kids[0])
			}
		}
		var keys []store.SigningKey
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			keys, err = tx.SigningKeys().List(ctx, now)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		periods := map[time.Time]int{}
		for _, k := range keys {
			periods[k.ActiveFrom]++
		}
		for at, n := range periods {
			if n != 1 {
				t.Errorf("%d keys for the period starting %v", n, at)
			}
		}
		if len(periods) == 0 || len(periods) > 2 {
			t.Errorf("%d periods with keys, want 1 or 2 (this one, and the next when it is near)", len(periods))
		}
	})
}

// TestMalformedTokenRequests: what the library cannot parse gets an OAuth
// error, not a panic.
func TestMalformedTokenRequests(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), testConfig())
	for _, c := range []struct {
		name   string
		auth   string
		body   string
		status int
		code   string
	}{
		{"Basic credentials not form-encoded", "Basic " + base64.StdEncoding.EncodeToString([]byte("bad%zz:x")), "grant_type=refresh_token&refresh_token=x", 401, "invalid_client"},
		{"body not a form", "", "grant_type=%zz", 400, "invalid_request"},
	} {
		req, _ := http.NewRequest("POST", e.issuer+oidc.PathToken, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != c.status || body["error"] != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, res.StatusCode, body, c.status, c.code)
		}
	}
}

// TestVerifyAccessToken: self-service endpoints accept canonid's access
// tokens while they are valid, for active accounts only.
func TestVerifyAccessToken(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), testConfig())
	account(t, e.st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
	lms := e.oauth("lms", lmsSecret, lmsRedirect, "offline_access")
	tok, _ := e.tokens(lms, "alice")
	if id, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err != nil || id != "alice" {
		t.Fatalf("valid token: %q, %v", id, err)
	}
	if _, err := e.p.VerifyAccessToken(ctx, "garbage"); err == nil {
		t.Error("garbage accepted")
	}
	e.post(oidc.PathRevoke, "lms", lmsSecret, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}})
	if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err == nil {
		t.Error("revoked token accepted")
	}
	tok, _ = e.tokens(lms, "alice")
	setStatus(t, e.st, "alice", identity.StatusSuspended)
	if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err == nil {
		t.Error("a suspended account's token accepted")
	}
	cc := clientcredentials.Config{ClientID: "machine", ClientSecret: machineSecret, TokenURL: e.rp.Endpoint().TokenURL, Scopes: []string{"openid"}}
	mt, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.VerifyAccessToken(ctx, mt.AccessToken); err == nil {
		t.Error("a machine token stands for an account")
	}
}
