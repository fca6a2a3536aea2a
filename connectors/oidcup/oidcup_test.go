package oidcup_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.yaml.in/yaml/v3"
	"golang.org/x/oauth2"

	"github.com/canonid/canonid/connectors/oidcup"
	"github.com/canonid/canonid/connectors/oidcup/oidcuptest"
	"github.com/canonid/canonid/internal/clocktest"
)

const callbackURL = "https://canonid.example/login/oidc/campus-sso/callback"

type fixture struct {
	provider *oidcuptest.Provider
	conn     *oidcup.Connector
	clock    *clocktest.Clock
}

var ada = oidcuptest.User{
	Subject:           "248289761001",
	Email:             "ada.lovelace@univ-example.fr",
	EmailVerified:     true,
	GivenName:         "Ada",
	FamilyName:        "Lovelace",
	Name:              "Ada Lovelace",
	PreferredUsername: "alovelace",
}

// setup starts a provider for a confidential client, with ada logging in,
// and a connector to it; provider and connector share a fake clock.
func setup(t *testing.T, client oidcuptest.Client, popts ...oidcuptest.Option) fixture {
	t.Helper()
	clock := clocktest.New(time.Now())
	if client.ID == "" {
		client = oidcuptest.Client{ID: "canonid", Secret: "s3cret", RedirectURI: callbackURL}
	}
	p := oidcuptest.New(t, client, append([]oidcuptest.Option{oidcuptest.WithClock(clock.Now)}, popts...)...)
	p.SetUser(ada)
	cfg := oidcup.Config{
		Name:         "campus-sso",
		Issuer:       p.Issuer(),
		ClientID:     client.ID,
		ClientSecret: client.Secret,
	}
	conn, err := oidcup.New(t.Context(), cfg, client.RedirectURI, nil, oidcup.WithClock(clock.Now))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fixture{provider: p, conn: conn, clock: clock}
}

// login begins a login, lets the provider authorize it, and returns the
// pending login with the callback's query.
func (f fixture) login(t *testing.T, opts ...oidcup.AuthOption) (oidcup.Pending, url.Values) {
	t.Helper()
	authURL, pending, err := f.conn.Begin(opts...)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return pending, f.provider.Authorize(t, authURL).Query()
}

func TestFlow(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{})
	f.provider.SetUser(func() oidcuptest.User {
		u := ada
		u.Extra = map[string]any{
			"groups":     []string{"staff", "lab-42"},
			"address":    map[string]any{"locality": "Montpellier", "country": "FR"},
			"updated_at": 1700000000,
			"ratio":      1.5,
		}
		return u
	}())

	authURL, pending, err := f.conn.Begin(oidcup.LoginHint("alovelace"), oidcup.Prompt("login"))
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if len(pending.State) != 43 || len(pending.Nonce) != 43 || len(pending.Verifier) != 43 {
		t.Errorf("pending = %+v, want 32 random bytes base64url each", pending)
	}
	if !pending.CreatedAt.Equal(f.clock.Now()) {
		t.Errorf("CreatedAt = %v, want %v", pending.CreatedAt, f.clock.Now())
	}
	if strings.Contains(authURL, pending.Verifier) {
		t.Errorf("the verifier leaks into the authorization URL %s", authURL)
	}

	// Play the browser: follow the authorization URL, but not the redirect
	// back to canonid.
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %s, want 302", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callbackURL {
		t.Fatalf("redirected to %s, want %s", got, callbackURL)
	}

	q := f.provider.LastAuthorizeQuery()
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             "canonid",
		"redirect_uri":          callbackURL,
		"scope":                 "openid email profile",
		"state":                 pending.State,
		"nonce":                 pending.Nonce,
		"code_challenge":        oauth2.S256ChallengeFromVerifier(pending.Verifier),
		"code_challenge_method": "S256",
		"login_hint":            "alovelace",
		"prompt":                "login",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorization request: %s = %q, want %q", k, got, want)
		}
	}

	id, err := f.conn.Finish(t.Context(), pending, loc.Query())
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if id.Issuer != f.provider.Issuer() || id.Subject != ada.Subject || id.Email != ada.Email || !id.EmailVerified {
		t.Errorf("identity = %+v", id)
	}

	e := id.Entry()
	if e.ExternalID != ada.Subject || e.Name != f.provider.Issuer()+" "+ada.Subject {
		t.Errorf("entry: ExternalID %q, Name %q", e.ExternalID, e.Name)
	}
	if want := time.Unix(1700000000, 0).UTC(); !e.ModifiedAt.Equal(want) {
		t.Errorf("entry: ModifiedAt %v, want %v (updated_at)", e.ModifiedAt, want)
	}
	wantAttrs := map[string][]string{
		"iss":                {f.provider.Issuer()},
		"sub":                {ada.Subject},
		"email":              {ada.Email},
		"email_verified":     {"true"},
		"given_name":         {"Ada"},
		"family_name":        {"Lovelace"},
		"name":               {"Ada Lovelace"},
		"preferred_username": {"alovelace"},
		"groups":             {"staff", "lab-42"},
		"address.locality":   {"Montpellier"},
		"address.country":    {"FR"},
		"updated_at":         {"1700000000"},
		"ratio":              {"1.5"},
	}
	if !reflect.DeepEqual(e.Attributes, wantAttrs) {
		t.Errorf("entry attributes:\n got %v\nwant %v", e.Attributes, wantAttrs)
	}
	for _, k := range []string{"nonce", "aud", "exp", "iat", "at_hash"} {
		if id.Claims[k] == nil {
			t.Errorf("identity claims lack %q: %v", k, id.Claims)
		}
	}

	// A code is good once: a replayed callback is refused by the provider.
	_, err = f.conn.Finish(t.Context(), pending, loc.Query())
	if ue := upstreamError(t, err); ue.Endpoint != "token" || ue.Code != "invalid_grant" {
		t.Errorf("replayed code: %+v, want token invalid_grant", ue)
	}
}

func upstreamError(t *testing.T, err error) *oidcup.UpstreamError {
	t.Helper()
	var ue *oidcup.UpstreamError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T), want an *UpstreamError", err, err)
	}
	return ue
}

func TestPublicClient(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{ID: "canonid-public", RedirectURI: callbackURL})
	pending, q := f.login(t)
	id, err := f.conn.Finish(t.Context(), pending, q)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if id.Subject != ada.Subject {
		t.Errorf("subject %q", id.Subject)
	}
}

func TestWrongClientSecret(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{})
	f.provider.SetClient(oidcuptest.Client{ID: "canonid", Secret: "rotated", RedirectURI: callbackURL})
	pending, q := f.login(t)
	_, err := f.conn.Finish(t.Context(), pending, q)
	if ue := upstreamError(t, err); ue.Endpoint != "token" || ue.Code != "invalid_client" {
		t.Errorf("got %+v, want token invalid_client", ue)
	}
}

func TestUserinfo(t *testing.T) {
	t.Parallel()
	t.Run("claims only in userinfo", func(t *testing.T) {
		t.Parallel()
		f := setup(t, oidcuptest.Client{}, oidcuptest.WithClaimsInUserinfoOnly())
		pending, q := f.login(t)
		id, err := f.conn.Finish(t.Context(), pending, q)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if id.Email != ada.Email || !id.EmailVerified || id.Claims["given_name"] != "Ada" {
			t.Errorf("identity = %+v, want the userinfo claims", id)
		}
		if id.Claims["nonce"] != pending.Nonce {
			t.Errorf("nonce claim %v: the ID token's protocol claims must stay", id.Claims["nonce"])
		}
	})
	t.Run("no userinfo endpoint", func(t *testing.T) {
		t.Parallel()
		f := setup(t, oidcuptest.Client{}, oidcuptest.WithoutUserinfo())
		pending, q := f.login(t)
		id, err := f.conn.Finish(t.Context(), pending, q)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if id.Email != ada.Email {
			t.Errorf("identity = %+v", id)
		}
	})
}

func TestStateMismatch(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{})
	tests := []struct {
		name   string
		modify func(*oidcup.Pending, url.Values)
	}{
		{"other state", func(_ *oidcup.Pending, q url.Values) { q.Set("state", q.Get("state")[:42]+"x") }},
		{"no state", func(_ *oidcup.Pending, q url.Values) { q.Del("state") }},
		{"two states", func(_ *oidcup.Pending, q url.Values) { q.Add("state", q.Get("state")) }},
		{"another login's callback", func(p *oidcup.Pending, _ url.Values) {
			_, other, err := f.conn.Begin()
			if err != nil {
				t.Fatal(err)
			}
			*p = other
		}},
		{"no pending login", func(p *oidcup.Pending, q url.Values) { *p = oidcup.Pending{}; q.Set("state", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pending, q := f.login(t)
			tt.modify(&pending, q)
			_, err := f.conn.Finish(t.Context(), pending, q)
			if !errors.Is(err, oidcup.ErrStateMismatch) {
				t.Errorf("Finish: %v, want ErrStateMismatch", err)
			}
		})
	}
}

func TestPendingExpired(t *testing.T) {
	t.Parallel()
	t.Run("just in time", func(t *testing.T) {
		t.Parallel()
		f := setup(t, oidcuptest.Client{})
		authURL, pending, err := f.conn.Begin()
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(oidcup.PendingTTL - time.Second) // the person takes their time at the provider
		q := f.provider.Authorize(t, authURL).Query()
		if _, err := f.conn.Finish(t.Context(), pending, q); err != nil {
			t.Errorf("Finish: %v", err)
		}
	})
	t.Run("too late", func(t *testing.T) {
		t.Parallel()
		f := setup(t, oidcuptest.Client{})
		pending, q := f.login(t)
		f.clock.Advance(oidcup.PendingTTL + time.Second)
		_, err := f.conn.Finish(t.Context(), pending, q)
		if !errors.Is(err, oidcup.ErrPendingExpired) {
			t.Errorf("Finish: %v, want ErrPendingExpired", err)
		}
	})
	t.Run("no creation time", func(t *testing.T) {
		t.Parallel()
		f := setup(t, oidcuptest.Client{})
		pending, q := f.login(t)
		pending.CreatedAt = time.Time{}
		if _, err := f.conn.Finish(t.Context(), pending, q); !errors.Is(err, oidcup.ErrPendingExpired) {
			t.Errorf("Finish: %v, want ErrPendingExpired", err)
		}
	})
}

func TestUpstreamErrorParameter(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{})
	f.provider.SetAuthorizeError("access_denied", "The user cancelled\nthe login")
	pending, q := f.login(t)
	if q.Has("code") {
		t.Fatalf("callback %v has a code", q)
	}
	_, err := f.conn.Finish(t.Context(), pending, q)
	ue := upstreamError(t, err)
	want := oidcup.UpstreamError{Endpoint: "authorization", Code: "access_denied", Description: "The user cancelled the login"}
	if *ue != want {
		t.Errorf("got %+v, want %+v", *ue, want)
	}
	if !strings.Contains(err.Error(), "campus-sso") || !strings.Contains(err.Error(), "access_denied") {
		t.Errorf("message %q should name the connector and the error", err)
	}

	t.Run("forged error without the state", func(t *testing.T) {
		pending, _ := f.login(t)
		q := url.Values{"error": {"access_denied"}, "iss": {f.provider.Issuer()}}
		if _, err := f.conn.Finish(t.Context(), pending, q); !errors.Is(err, oidcup.ErrStateMismatch) {
			t.Errorf("Finish: %v, want ErrStateMismatch", err)
		}
	})
}

func TestIssuerParameter(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{})
	for name, modify := range map[string]func(url.Values){
		"other issuer": func(q url.Values) { q.Set("iss", "https://evil.example") },
		"no issuer":    func(q url.Values) { q.Del("iss") },
	} {
		t.Run(name, func(t *testing.T) {
			pending, q := f.login(t)
			modify(q)
			_, err := f.conn.Finish(t.Context(), pending, q)
			if err == nil || !strings.Contains(err.Error(), "issuer") {
				t.Errorf("Finish: %v, want an issuer mix-up error", err)
			}
		})
	}
}

func TestBadIDToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault oidcuptest.Fault
		want  error
		// also, when not empty: a text of the message
		text string
	}{
		{oidcuptest.BadNonce, oidcup.ErrInvalidIDToken, "nonce"},
		{oidcuptest.WrongAudience, oidcup.ErrInvalidIDToken, "audience"},
		{oidcuptest.Expired, oidcup.ErrInvalidIDToken, "expired"},
		{oidcuptest.WrongKey, oidcup.ErrInvalidIDToken, "signature"},
		{oidcuptest.WrongIssuer, oidcup.ErrInvalidIDToken, "issued by a different provider"},
		{oidcuptest.NoIDToken, oidcup.ErrInvalidIDToken, "holds none"},
		{oidcuptest.UserinfoSubject, oidcup.ErrUserinfoMismatch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			f := setup(t, oidcuptest.Client{})
			f.provider.SetFault(tt.fault)
			pending, q := f.login(t)
			id, err := f.conn.Finish(t.Context(), pending, q)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Finish = %+v, %v; want %v", id, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("message %q lacks %q", err, tt.text)
			}
			if !reflect.DeepEqual(id, oidcup.Identity{}) {
				t.Errorf("identity %+v returned with the error", id)
			}
		})
	}

	t.Run("expired is a TokenExpiredError", func(t *testing.T) {
		t.Parallel()
		f := setup(t, oidcuptest.Client{})
		f.provider.SetFault(oidcuptest.Expired)
		pending, q := f.login(t)
		_, err := f.conn.Finish(t.Context(), pending, q)
		var te *oidc.TokenExpiredError
		if !errors.As(err, &te) {
			t.Errorf("Finish: %v, want an *oidc.TokenExpiredError inside", err)
		}
	})
	t.Run("connector clock past the token's expiry", func(t *testing.T) {
		t.Parallel()
		f := setup(t, oidcuptest.Client{}, oidcuptest.WithClock(time.Now)) // the provider's own clock stays put
		pending, q := f.login(t)
		f.clock.Advance(oidcuptest.TokenTTL + time.Minute)
		pending.CreatedAt = f.clock.Now()
		if _, err := f.conn.Finish(t.Context(), pending, q); !errors.Is(err, oidcup.ErrInvalidIDToken) {
			t.Errorf("Finish: %v, want ErrInvalidIDToken", err)
		}
	})
}

func TestPKCE(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{})

	t.Run("wrong verifier refused", func(t *testing.T) {
		pending, q := f.login(t)
		_, err := f.conn.Finish(t.Context(), pendingWithVerifier(pending, oauth2.GenerateVerifier()), q)
		ue := upstreamError(t, err)
		if ue.Endpoint != "token" || ue.Code != "invalid_grant" || !strings.Contains(ue.Description, "code_verifier") {
			t.Errorf("got %+v, want token invalid_grant about the code_verifier", ue)
		}
		// The code is burnt: the right verifier comes too late.
		_, err = f.conn.Finish(t.Context(), pending, q)
		if ue := upstreamError(t, err); ue.Code != "invalid_grant" {
			t.Errorf("second try: %+v, want invalid_grant", ue)
		}
	})
	t.Run("challenge required", func(t *testing.T) {
		authURL, _, err := f.conn.Begin()
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(authURL)
		q := u.Query()
		q.Del("code_challenge")
		u.RawQuery = q.Encode()
		back := f.provider.Authorize(t, u.String()).Query()
		if back.Get("error") != "invalid_request" || back.Has("code") {
			t.Errorf("authorize without code_challenge answered %v, want invalid_request", back)
		}
	})
}

func pendingWithVerifier(p oidcup.Pending, v string) oidcup.Pending {
	p.Verifier = v
	return p
}

func TestRedirectURIEnforced(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{})
	conn, err := oidcup.New(t.Context(), oidcup.Config{
		Name: "campus-sso", Issuer: f.provider.Issuer(), ClientID: "canonid", ClientSecret: "s3cret",
	}, "https://evil.example/callback", nil)
	if err != nil {
		t.Fatal(err)
	}
	authURL, _, err := conn.Begin()
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("authorize with an unregistered redirect URI: %s, want 400 and no redirect", resp.Status)
	}
}

func TestNewDiscoveryFails(t *testing.T) {
	t.Parallel()
	p := oidcuptest.New(t, oidcuptest.Client{ID: "canonid", RedirectURI: callbackURL})
	for name, issuer := range map[string]string{
		"not found":       p.Issuer() + "/realms/nope",
		"issuer mismatch": strings.Replace(p.Issuer(), "127.0.0.1", "localhost", 1),
		"nobody listens":  "http://127.0.0.1:1",
		"trailing slash":  p.Issuer() + "/",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := oidcup.Config{Name: "campus-sso", Issuer: issuer, ClientID: "canonid", Timeout: 5 * time.Second}
			_, err := oidcup.New(t.Context(), cfg, callbackURL, nil)
			if err == nil || !strings.Contains(err.Error(), "discovery of issuer "+issuer) {
				t.Errorf("New: %v, want a discovery error naming %s", err, issuer)
			}
		})
	}
	t.Run("bad redirect URL", func(t *testing.T) {
		cfg := oidcup.Config{Name: "campus-sso", Issuer: p.Issuer(), ClientID: "canonid"}
		if _, err := oidcup.New(t.Context(), cfg, "/callback", nil); err == nil || !strings.Contains(err.Error(), "redirect URL") {
			t.Errorf("New: %v, want a redirect URL error", err)
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		if _, err := oidcup.New(context.Background(), oidcup.Config{}, callbackURL, nil); err == nil || !strings.Contains(err.Error(), "issuer: required") {
			t.Errorf("New: %v, want the validation errors", err)
		}
	})
}

func TestBeginOptions(t *testing.T) {
	t.Parallel()
	f := setup(t, oidcuptest.Client{})
	for _, bad := range [][]string{{"sometimes"}, {"none", "login"}} {
		if _, _, err := f.conn.Begin(oidcup.Prompt(bad...)); err == nil {
			t.Errorf("Begin(Prompt(%q)): no error", bad)
		}
	}
	authURL, _, err := f.conn.Begin(oidcup.Prompt("login", "consent"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	if got := u.Query().Get("prompt"); got != "login consent" {
		t.Errorf("prompt = %q", got)
	}
	if _, p2, _ := f.conn.Begin(); p2.State == "" {
		t.Error("empty state")
	} else if _, p3, _ := f.conn.Begin(); p3.State == p2.State || p3.Nonce == p2.Nonce || p3.Verifier == p2.Verifier {
		t.Error("two logins share a secret")
	}
	if f.conn.Name() != "campus-sso" || f.conn.Source() != "oidc:campus-sso" || f.conn.DisplayName() != "campus-sso" || f.conn.LinkByVerifiedEmail() {
		t.Errorf("accessors: %q %q %q %v", f.conn.Name(), f.conn.Source(), f.conn.DisplayName(), f.conn.LinkByVerifiedEmail())
	}
}

func validConfig() oidcup.Config {
	return oidcup.Config{
		Name:         "campus-sso",
		Issuer:       "https://sso.univ-example.fr/realms/univ",
		ClientID:     "canonid",
		ClientSecret: "s3cret",
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*oidcup.Config)
		want   []string // substrings of the error, one per problem; none: valid
	}{
		{name: "minimal", modify: func(*oidcup.Config) {}},
		{name: "public client with everything", modify: func(c *oidcup.Config) {
			c.ClientSecret = ""
			c.Scopes = []string{"openid", "email", "profile", "eduperson_affiliation"}
			c.DisplayName = "Université — connexion"
			c.LinkByVerifiedEmail = true
			c.Timeout = 5 * time.Second
		}},
		{name: "http on loopback", modify: func(c *oidcup.Config) { c.Issuer = "http://127.0.0.1:5556/dex" }},
		{name: "http on localhost", modify: func(c *oidcup.Config) { c.Issuer = "http://localhost:8080" }},
		{name: "all missing", modify: func(c *oidcup.Config) { *c = oidcup.Config{} },
			want: []string{"name: required", "issuer: required", "client_id: required"}},
		{name: "bad name", modify: func(c *oidcup.Config) { c.Name = "Campus SSO" },
			want: []string{`name: "Campus SSO" is not a connector name`}},
		{name: "http elsewhere", modify: func(c *oidcup.Config) { c.Issuer = "http://sso.univ-example.fr" },
			want: []string{"issuer: must be https"}},
		{name: "other scheme", modify: func(c *oidcup.Config) { c.Issuer = "ldap://sso.univ-example.fr" },
			want: []string{"issuer: scheme must be https"}},
		{name: "no host", modify: func(c *oidcup.Config) { c.Issuer = "https:///realms" },
			want: []string{"issuer: host required"}},
		{name: "query", modify: func(c *oidcup.Config) { c.Issuer = "https://sso.example/?tenant=1" },
			want: []string{"issuer: must not carry a query"}},
		{name: "fragment", modify: func(c *oidcup.Config) { c.Issuer = "https://sso.example/#x" },
			want: []string{"issuer: must not carry a fragment"}},
		{name: "credentials", modify: func(c *oidcup.Config) { c.Issuer = "https://a:b@sso.example" },
			want: []string{"issuer: must not carry credentials"}},
		{name: "unparsable", modify: func(c *oidcup.Config) { c.Issuer = "https://sso.example:port" },
			want: []string{"issuer: "}},
		{name: "everything else wrong at once", modify: func(c *oidcup.Config) {
			c.Scopes = []string{"email", "", "pro file", "email"}
			c.DisplayName = strings.Repeat("x", 65) + "\n"
			c.Timeout = -time.Second
		}, want: []string{
			"scopes: must include openid",
			"scopes[1]: empty",
			`scopes[2]: "pro file" is not a scope`,
			`scopes[3]: "email" given twice`,
			"display_name: longer than 64 characters",
			"display_name: must not contain control characters",
			"timeout: must not be negative",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.modify(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, w) }) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	// name and timeout come from canonid's connector entry, not from
	// these keys.
	const doc = `
issuer: https://sso.univ-example.fr/realms/univ
client_id: canonid
client_secret: s3cret
scopes: [openid, email]
display_name: Université de Montpellier
link_by_verified_email: true
`
	var got oidcup.Config
	if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	got.Name = "campus-sso"
	want := oidcup.Config{
		Name: "campus-sso", Issuer: "https://sso.univ-example.fr/realms/univ",
		ClientID: "canonid", ClientSecret: "s3cret", Scopes: []string{"openid", "email"},
		DisplayName: "Université de Montpellier", LinkByVerifiedEmail: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
