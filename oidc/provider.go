package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Paths of the provider's endpoints, under the issuer (public_url).
const (
	PathPrefix     = "/oidc"
	PathAuthorize  = PathPrefix + "/authorize"
	PathCallback   = PathAuthorize + "/callback"
	PathToken      = PathPrefix + "/token"
	PathIntrospect = PathPrefix + "/introspect"
	PathUserinfo   = PathPrefix + "/userinfo"
	PathRevoke     = PathPrefix + "/revoke"
	PathEndSession = PathPrefix + "/end_session"
	PathKeys       = PathPrefix + "/keys"
	PathDiscovery  = "/.well-known/openid-configuration"
)

// Deps are what the provider needs besides its configuration.
type Deps struct {
	Store store.Store
	// Issuer is canonid's public_url.
	Issuer string
	// LoginURL is the login page the provider sends the browser to (it
	// adds ?request=ID); default Issuer + "/login".
	LoginURL string
	// LoggedOutURL is where end_session sends the browser when the client
	// gives no post_logout_redirect_uri; default Issuer + "/login".
	LoggedOutURL string
	// Session returns the browser's login session (package web), so that
	// the callback hands a code only to the browser that logged in; nil
	// skips the check.
	Session func(r *http.Request) (store.Session, bool)
	// EndSession ends the browser's login session (end_session); nil when
	// there is none.
	EndSession func(w http.ResponseWriter, r *http.Request)
	Logger     *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Provider is the OpenID provider.
type Provider struct {
	op      *op.Provider
	storage *Storage
	deps    Deps
}

var _ web.AuthRequests = (*Provider)(nil)

// New builds the provider. Its signing keys are created on first use.
func New(cfg Config, deps Deps) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	issuer := strings.TrimSuffix(deps.Issuer, "/")
	if deps.LoginURL == "" {
		deps.LoginURL = issuer + "/login"
	}
	if deps.LoggedOutURL == "" {
		deps.LoggedOutURL = issuer + "/login"
	}
	crypto, err := newSealer(cfg.Keys.Secret, "tokens")
	if err != nil {
		return nil, err
	}
	keySeal, err := newSealer(cfg.Keys.Secret, "signing keys")
	if err != nil {
		return nil, err
	}
	s := &Storage{
		st: deps.Store, cfg: cfg, clients: map[string]*client{}, crypto: crypto, now: deps.Now, log: deps.Logger,
		keys: &keyring{st: deps.Store, cfg: cfg.Keys, lifetime: max(cfg.IDTokenLifetime, cfg.AccessTokenLifetime), seal: keySeal, now: deps.Now},
	}
	for _, c := range cfg.Clients {
		s.clients[c.ID] = newClient(c, deps.LoginURL, cfg.IDTokenLifetime)
	}
	if deps.EndSession != nil {
		s.endSession = func(ctx context.Context) {
			if p, ok := ctx.Value(exchangeKey{}).(exchange); ok {
				deps.EndSession(p.w, p.r)
			}
		}
	}
	opCfg := &op.Config{
		DefaultLogoutRedirectURI: deps.LoggedOutURL,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.French, language.English},
		SupportedScopes:          []string{oidc.ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeOfflineAccess},
		SupportedClaims:          append(append([]string{}, op.DefaultSupportedClaims...), "groups", ClaimMergedSubs),
	}
	opts := []op.Option{
		op.WithCrypto(crypto),
		op.WithLogger(deps.Logger),
		op.WithHttpInterceptors(keepExchange),
		op.WithCustomEndpoints(op.NewEndpoint(PathAuthorize[1:]), op.NewEndpoint(PathToken[1:]), op.NewEndpoint(PathUserinfo[1:]),
			op.NewEndpoint(PathRevoke[1:]), op.NewEndpoint(PathEndSession[1:]), op.NewEndpoint(PathKeys[1:])),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(PathIntrospect[1:])),
	}
	if u, err := url.Parse(issuer); err == nil && u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure()) // development and tests on the loopback
	}
	p, err := op.NewProvider(opCfg, s, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	return &Provider{op: p, storage: s, deps: deps}, nil
}

// Storage returns the provider's op.Storage (benchmarks and tests drive
// it directly).
func (p *Provider) Storage() *Storage { return p.storage }

// exchange is the HTTP request being served, kept in its context so that
// end_session can end the browser's login session.
type exchange struct {
	w http.ResponseWriter
	r *http.Request
}

type exchangeKey struct{}

func keepExchange(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, exchange{w, r})))
	})
}

// Mount registers the provider's endpoints: discovery and everything
// under /oidc.
func (p *Provider) Mount(e *gin.Engine) {
	h := gin.WrapH(p)
	e.GET(PathDiscovery, h)
	e.Any(PathPrefix+"/*path", h)
}

// ServeHTTP serves the provider's endpoints. The callback hands the code
// only to the browser whose login session completed the request.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PathCallback && p.deps.Session != nil {
		if !p.sameBrowser(r) {
			http.Error(w, "This sign-in was not completed in this browser: go back to the application and sign in again.", http.StatusForbidden)
			return
		}
	}
	if r.URL.Path == PathToken && !p.tokenRequestParses(w, r) {
		return
	}
	if r.URL.Path == PathKeys || r.URL.Path == PathDiscovery {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	p.op.ServeHTTP(w, r)
}

// tokenRequestParses answers a token request the library would fail to
// parse: zitadel/oidc v3.46.0 writes the error and then goes on with a nil
// request (a panic), for a malformed form or Basic credentials that are not
// form-encoded (RFC 6749 §2.3.1).
func (p *Provider) tokenRequestParses(w http.ResponseWriter, r *http.Request) bool {
	fail := func(status int, code, desc string) bool {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, desc)
		return false
	}
	if err := r.ParseForm(); err != nil {
		return fail(http.StatusBadRequest, "invalid_request", "the request body is not a valid form")
	}
	if id, secret, ok := r.BasicAuth(); ok {
		if _, err := url.QueryUnescape(id); err != nil {
			return fail(http.StatusUnauthorized, "invalid_client", "the Basic credentials are not form-encoded")
		}
		if _, err := url.QueryUnescape(secret); err != nil {
			return fail(http.StatusUnauthorized, "invalid_client", "the Basic credentials are not form-encoded")
		}
	}
	return true
}

func (p *Provider) sameBrowser(r *http.Request) bool {
	req, err := p.storage.authRequest(r.Context(), r.URL.Query().Get("id"))
	if err != nil || !req.Done() {
		return true // the library answers an unknown or unfinished request
	}
	sess, ok := p.deps.Session(r)
	return ok && sess.AccountID == req.row.AccountID
}

// Describe implements web.AuthRequests.
func (p *Provider) Describe(ctx context.Context, id string) (web.LoginRequest, error) {
	r, err := p.storage.authRequest(ctx, id)
	if err != nil {
		return web.LoginRequest{}, err
	}
	c := p.storage.clients[r.row.ClientID]
	if c == nil {
		return web.LoginRequest{}, fmt.Errorf("client %s is no longer configured: %w", r.row.ClientID, store.ErrNotFound)
	}
	lr := web.LoginRequest{ID: r.row.ID, ClientID: c.cfg.ID, ClientName: c.name(), LoginHint: r.data.LoginHint,
		Prompt: r.data.Prompt, UILocales: r.data.UILocales}
	if r.data.MaxAge != nil {
		d := time.Duration(*r.data.MaxAge) * time.Second
		lr.MaxAge = &d
	}
	return lr, nil
}

// Complete implements web.AuthRequests: it gates the account (status,
// require_org) and records the login for the request.
func (p *Provider) Complete(ctx context.Context, id, accountID string, authTime time.Time, amr []string) (string, error) {
	now := p.deps.Now()
	err := p.deps.Store.Update(ctx, func(tx store.Tx) error {
		r, err := tx.AuthRequests().Get(ctx, id, now)
		if err != nil {
			return fmt.Errorf("authorization request: %w", err)
		}
		acc, err := tx.Accounts().Get(ctx, accountID)
		if err != nil {
			return err
		}
		switch acc.Status {
		case identity.StatusActive:
		case identity.StatusPendingActivation:
			return &web.GateError{Gate: web.GatePendingActivation, AccountID: acc.ID}
		case identity.StatusPendingValidation:
			return &web.GateError{Gate: web.GatePendingValidation, AccountID: acc.ID}
		default:
			return &web.GateError{Gate: web.GateSuspended, AccountID: acc.ID}
		}
		c := p.storage.clients[r.ClientID]
		if c == nil {
			return fmt.Errorf("client %s is no longer configured: %w", r.ClientID, store.ErrNotFound)
		}
		if org := c.cfg.RequireOrg; org != "" {
			ok, err := validatedMember(ctx, tx, org, acc.ID)
			if err != nil {
				return err
			}
			if !ok {
				name := org
				if o, err := tx.Orgs().Get(ctx, org); err == nil {
					name = o.Name
				}
				return &web.GateError{Gate: web.GateOrgRequired, AccountID: acc.ID, OrgName: name}
			}
		}
		if err := tx.AuthRequests().Complete(ctx, id, acc.ID, authTime, amr); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventRequestCompleted, Actor: "account:" + acc.ID, AccountID: acc.ID,
			Data: map[string]any{"client": c.cfg.ID, "request": id, "amr": amr}})
	})
	if err != nil {
		var gate *web.GateError
		if errors.As(err, &gate) {
			return "", gate
		}
		return "", err
	}
	return strings.TrimSuffix(p.deps.Issuer, "/") + PathCallback + "?id=" + url.QueryEscape(id), nil
}

// Fail implements web.AuthRequests: the request ends, and the browser goes
// back to the client with the error (and the request's state).
func (p *Provider) Fail(ctx context.Context, id, code, description string) (string, error) {
	r, err := p.storage.authRequest(ctx, id)
	if err != nil {
		return "", err
	}
	if err := p.storage.DeleteAuthRequest(ctx, id); err != nil {
		return "", err
	}
	u, err := url.Parse(r.data.RedirectURI)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("error", code)
	q.Set("error_description", description)
	if r.data.State != "" {
		q.Set("state", r.data.State)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// VerifyAccessToken returns the account an opaque access token canonid
// issued stands for (web.TokenVerifier), if it is valid now: not expired,
// not revoked, of an active account. Machine tokens (client_credentials)
// stand for no account and are refused.
func (p *Provider) VerifyAccessToken(ctx context.Context, token string) (string, error) {
	plain, err := p.storage.crypto.Decrypt(token)
	if err != nil {
		return "", err
	}
	id, sub, ok := strings.Cut(plain, ":")
	if !ok {
		return "", errors.New("oidc: not an access token")
	}
	var account string
	err = p.deps.Store.View(ctx, func(tx store.Tx) error {
		tok, valid, err := p.storage.validAccess(ctx, tx, id, sub)
		if err != nil {
			return err
		}
		if !valid || tok.AccountID == "" {
			return errTokenInvalid
		}
		acc, err := tx.Accounts().Get(ctx, tok.AccountID)
		if err != nil {
			return err
		}
		if acc.Status != identity.StatusActive {
			return errTokenInvalid
		}
		account = acc.ID
		return nil
	})
	return account, err
}
