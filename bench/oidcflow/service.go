package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/oidc"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

// The relying party of the run: one confidential client (client_secret_basic),
// with the default grants (authorization_code, refresh_token) and scopes.
const (
	clientID     = "bench-rp"
	clientSecret = "bench-rp-secret-0123456789abcdef0123456789"
	redirectURI  = "https://rp.bench.example/callback"
	// providerSecret is keys.secret: it derives the keys that encrypt the
	// signing keys, codes and opaque access tokens.
	providerSecret = "bench-provider-secret-0123456789abcdef0123"
	// pathEcho is the trivial handler of the HTTP reference.
	pathEcho = "/bench/echo"
	// sessionCookie is the stand-in login's session cookie.
	sessionCookie = "bench_session"
)

// scopes are what the client asks for: an ID token with the profile,
// e-mail and groups claims, and a refresh token.
var scopes = []string{"openid", oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeGroups, oidc.ScopeOfflineAccess}

// service is canonid's HTTP server (server.New, its middleware: request id,
// access log, metrics, recovery) on a loopback listener, with the OpenID
// provider mounted on its engine as the login pages will mount it, a
// stand-in login page that logs in the account named by login_hint, and a
// trivial handler for the HTTP reference.
type service struct {
	http     *httptest.Server
	issuer   string
	provider *oidc.Provider
	// client sends the timed requests: keep-alive connections, enough
	// idle ones for every worker of the highest level.
	client   *http.Client
	verifier *gooidc.IDTokenVerifier

	mu       sync.Mutex
	sessions map[string]string // session cookie value -> account id
}

// providerConfig is the provider's configuration: the defaults, the run's
// signing algorithm and the client.
func providerConfig(alg string) oidc.Config {
	cfg := oidc.DefaultConfig()
	cfg.Keys.Secret = providerSecret
	cfg.Keys.Algorithm = alg
	cfg.Clients = []oidc.ClientConfig{{ID: clientID, Name: "Bench RP", Secret: clientSecret, RedirectURIs: []string{redirectURI}}}
	return cfg
}

// startService starts the server and the provider on st. The provider's
// signing keys are created by the first token it signs.
func startService(ctx context.Context, st store.Store, alg string, conns int, logger *slog.Logger) (_ *service, err error) {
	srv := server.New(server.DefaultConfig(), server.Deps{Logger: logger, Ready: st})
	ts := httptest.NewUnstartedServer(srv.Handler())
	s := &service{http: ts, issuer: "http://" + ts.Listener.Addr().String(), sessions: map[string]string{}}
	defer func() {
		if err != nil {
			ts.Close()
		}
	}()
	s.provider, err = oidc.New(providerConfig(alg), oidc.Deps{Store: st, Issuer: s.issuer, Session: s.session, Logger: logger})
	if err != nil {
		return nil, err
	}
	e := srv.Engine()
	s.provider.Mount(e)
	e.GET("/login", s.login)
	e.POST(pathEcho, echo)
	ts.Start()
	s.client = &http.Client{
		Transport: &http.Transport{MaxIdleConns: conns + 8, MaxIdleConnsPerHost: conns + 8, DisableCompression: true},
		Timeout:   time.Minute,
	}
	rp, err := gooidc.NewProvider(gooidc.ClientContext(ctx, s.client), s.issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	s.verifier = rp.Verifier(&gooidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{alg}})
	return s, nil
}

func (s *service) close() {
	s.client.CloseIdleConnections()
	s.http.Close()
}

// session is the provider's Deps.Session: the callback hands the code only
// to the browser whose session cookie names the account that logged in.
func (s *service) session(r *http.Request) (store.Session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return store.Session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, ok := s.sessions[c.Value]
	return store.Session{AccountID: acc}, ok
}

// login stands in for package web's login page: no password, the account
// is the request's login_hint. It gives the browser a session cookie and
// completes the request, as web does once the password checked out.
func (s *service) login(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Query("request")
	lr, err := s.provider.Describe(ctx, id)
	if err != nil {
		c.String(http.StatusBadRequest, "login: %v", err)
		return
	}
	who := lr.LoginHint
	var b [16]byte
	_, _ = rand.Read(b[:])
	cookie := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	s.sessions[cookie] = who
	s.mu.Unlock()
	c.SetCookie(sessionCookie, cookie, 0, "/", "", false, true)
	next, err := s.provider.Complete(ctx, id, who, time.Now(), []string{"pwd"})
	if err != nil {
		c.String(http.StatusForbidden, "login of %s: %v", who, err)
		return
	}
	c.Redirect(http.StatusSeeOther, next)
}

// echo is the trivial handler of the HTTP reference: it reads a form POST
// the size of a token request and answers a small JSON object.
func echo(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		c.String(http.StatusBadRequest, "%v", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true, "grant_type": c.Request.PostForm.Get("grant_type")})
}
