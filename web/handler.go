package web

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ratelimit"
	"github.com/canonid/canonid/store"
)

// Routes of the login pages.
const (
	PathLogin      = "/login"
	PathLogout     = "/logout"
	PathActivation = "/login/activation"
	PathCSS        = "/static/canonid.css"
)

// Form and query parameters.
const (
	paramRequest    = "request"
	paramIdentifier = "identifier"
	paramPassword   = "password"
	paramTicket     = "ticket"
)

// Bounds of what the login form accepts; longer values are refused before
// any check.
const (
	maxForm       = 16 << 10
	maxIdentifier = 320 // the longest e-mail address
	maxPassword   = 1024
)

// ActivationResender sends an account's activation link again.
type ActivationResender interface {
	// Resend sends a new activation link to the recovery address of the
	// account, if it is still pending activation.
	Resend(ctx context.Context, accountID string) error
}

// Upstream is an identity provider the login page offers as a button
// (an upstream OpenID connector, such as a campus SSO).
type Upstream struct {
	// Name identifies the upstream (its connector name).
	Name string
	// Label is the button's text, e.g. "Université de Montpellier".
	Label string
	// StartURL is where the button leads. The page adds the pending
	// request's id as the "request" query parameter; the handler behind it
	// starts the upstream login and, once it knows the account, completes
	// the request as the password form does. For an UpstreamConnector it
	// is PathUpstream/<name>, served by this package.
	StartURL string
}

// Deps are what the login pages need from the rest of canonid.
type Deps struct {
	// Store keeps sessions and their events; accounts are read from it.
	Store store.Store
	// Auth checks identifiers and passwords.
	Auth Authenticator
	// Requests are the OpenID provider's pending authorization requests.
	Requests AuthRequests
	// Logger receives errors. Nil discards.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Activation resends activation links. Nil until the activation flow
	// exists: the pending-activation page then tells the person to ask
	// their administrator instead of offering a button.
	Activation ActivationResender
	// Upstreams are shown as buttons under the form, in order. Nil: one
	// button per UpstreamConnectors, in order, labelled by DisplayName.
	Upstreams []Upstream
	// UpstreamConnectors are the upstream OpenID providers people can log
	// in through: each gets the routes PathUpstream/<name> (start) and
	// PathUpstream/<name>/callback (its redirect URI,
	// UpstreamCallbackURL). Names must be unique.
	UpstreamConnectors []UpstreamConnector
	// RequestID returns the request id of a request context (the server
	// package's RequestID), recorded with events and shown on error
	// pages. Nil: none.
	RequestID func(ctx context.Context) string
	// AccountPath is where the person's own account pages are (package
	// web/account, "/account"): the page that shows who is logged in
	// links to it, and so does the header of the flows' pages when a
	// session is open. "": no such link.
	AccountPath string
	// ConsolePath is the coordinators' console ("/console", package
	// flows/registration): the page that shows who is logged in links to
	// it for the accounts that coordinate an org (active, with a
	// validated org-admin membership). "": no such link.
	ConsolePath string
}

// Handler serves the login pages.
type Handler struct {
	cfg        Config
	store      store.Store
	auth       Authenticator
	requests   AuthRequests
	log        *slog.Logger
	now        func() time.Time
	activation ActivationResender
	upstreams  []Upstream
	reqID      func(ctx context.Context) string
	// accountPath and consolePath are Deps.AccountPath and
	// Deps.ConsolePath.
	accountPath, consolePath string
	// conns are the upstream connectors by name; sealer seals their
	// cookies.
	conns  map[string]UpstreamConnector
	sealer cipher.AEAD

	origin   string // the public URL's origin
	secure   bool   // cookies are Secure
	cat      *catalogs
	pages    pages
	ipLimit  *ratelimit.Limiter
	idLimit  *ratelimit.Limiter
	actLimit *ratelimit.Limiter
}

// New builds the login pages. cfg is validated (zero fields take their
// defaults); Store, Auth and Requests are required.
func New(cfg Config, deps Deps) (*Handler, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if deps.Store == nil {
		errs = append(errs, errors.New("web: Deps.Store is required"))
	}
	if deps.Auth == nil {
		errs = append(errs, errors.New("web: Deps.Auth is required"))
	}
	if deps.Requests == nil {
		errs = append(errs, errors.New("web: Deps.Requests is required"))
	}
	conns := map[string]UpstreamConnector{}
	for i, uc := range deps.UpstreamConnectors {
		if uc == nil {
			errs = append(errs, fmt.Errorf("web: Deps.UpstreamConnectors[%d]: nil", i))
			continue
		}
		switch name := uc.Name(); {
		case !upstreamName.MatchString(name):
			errs = append(errs, fmt.Errorf("web: Deps.UpstreamConnectors[%d]: %q is not a connector name (%s)", i, name, upstreamName))
		case conns[name] != nil:
			errs = append(errs, fmt.Errorf("web: Deps.UpstreamConnectors[%d]: %q given twice", i, name))
		case uc.Source() == "":
			errs = append(errs, fmt.Errorf("web: Deps.UpstreamConnectors[%d] (%s): no link source", i, name))
		default:
			conns[name] = uc
		}
	}
	if deps.Upstreams == nil {
		for _, uc := range deps.UpstreamConnectors {
			if uc != nil {
				deps.Upstreams = append(deps.Upstreams, Upstream{Name: uc.Name(), Label: uc.DisplayName(), StartURL: upstreamPath(uc.Name())})
			}
		}
	}
	for i, u := range deps.Upstreams {
		if u.Label == "" {
			errs = append(errs, fmt.Errorf("web: Deps.Upstreams[%d] (%s): no label", i, u.Name))
		}
		if _, err := url.Parse(u.StartURL); err != nil || u.StartURL == "" {
			errs = append(errs, fmt.Errorf("web: Deps.Upstreams[%d] (%s): bad start URL %q", i, u.Name, u.StartURL))
		}
	}
	for _, p := range []struct{ name, path string }{{"AccountPath", deps.AccountPath}, {"ConsolePath", deps.ConsolePath}} {
		if p.path != "" && LocalPath(p.path) != p.path {
			errs = append(errs, fmt.Errorf("web: Deps.%s: %q is not a path of this site", p.name, p.path))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	origin, _ := publicOrigin(cfg.PublicURL) // checked by Validate
	h := &Handler{
		cfg: cfg, store: deps.Store, auth: deps.Auth, requests: deps.Requests,
		log: deps.Logger, now: deps.Now, activation: deps.Activation,
		upstreams: slices.Clone(deps.Upstreams), reqID: deps.RequestID, conns: conns,
		accountPath: deps.AccountPath, consolePath: deps.ConsolePath,
		origin: origin, secure: strings.HasPrefix(origin, "https:"),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	var err error
	if h.cat, err = loadCatalogs(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if h.pages, err = parsePages(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if h.sealer, err = newSealer(h.mac("upstream-cookie")); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	h.ipLimit = newLimiter(cfg.LoginRate, cfg.LoginBurst, h.now)
	h.idLimit = newLimiter(cfg.IdentifierRate, cfg.IdentifierBurst, h.now)
	// Resending an activation link sends a mail: the identifier limits
	// apply per account.
	h.actLimit = newLimiter(cfg.IdentifierRate, cfg.IdentifierBurst, h.now)
	return h, nil
}

// Mount registers the login pages on e: GET and POST /login, POST /logout,
// POST /login/activation (when Deps.Activation is set), the style sheet,
// and, with upstream connectors, GET /login/upstream/:name, GET
// /login/upstream/:name/callback and POST /login/link/cancel.
func (h *Handler) Mount(e *gin.Engine) {
	e.GET(PathCSS, h.css)
	g := e.Group("", h.headers)
	g.GET(PathLogin, h.getLogin)
	g.POST(PathLogin, h.postLogin)
	g.POST(PathLogout, h.postLogout)
	if h.activation != nil {
		g.POST(PathActivation, h.postActivation)
	}
	if len(h.conns) > 0 {
		g.GET(PathUpstream+"/:name", h.getUpstreamStart)
		g.GET(PathUpstream+"/:name/callback", h.getUpstreamCallback)
		g.POST(PathLinkCancel, h.postLinkCancel)
	}
}

// headers sets the security headers of every page: not cached, not framed,
// no referrer leaked to the client, no script.
func (h *Handler) headers(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
}

func (h *Handler) requestID(ctx context.Context) string {
	if h.reqID == nil {
		return ""
	}
	return h.reqID(ctx)
}

// describe returns the pending request named by the request parameter, or
// nil when there is none. It renders the error page itself and returns
// false when the request is unknown or the provider failed.
func (h *Handler) describe(c *gin.Context, id string) (*LoginRequest, bool) {
	if id == "" {
		return nil, true
	}
	ctx := c.Request.Context()
	lr, err := h.requests.Describe(ctx, id)
	if err != nil {
		loc := h.cat.choose(c.Request, nil)
		if errors.Is(err, store.ErrNotFound) {
			h.renderExpired(c, loc)
		} else {
			h.renderError(c, loc, "describe login request", err)
		}
		return nil, false
	}
	return &lr, true
}

// locale chooses the page's language, and keeps an explicit choice (the
// lang parameter of the switch link) in a cookie.
func (h *Handler) locale(c *gin.Context, lr *LoginRequest) locale {
	var ui []string
	if lr != nil {
		ui = lr.UILocales
	}
	loc := h.cat.choose(c.Request, ui)
	if _, ok := h.cat.get(c.Query(langParam)); ok {
		http.SetCookie(c.Writer, &http.Cookie{
			Name: langCookie, Value: loc.Tag, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
		})
	}
	return loc
}

// getLogin shows the login form; with a valid session it completes the
// request at once (single sign-on), unless the client asked for
// prompt=login (or select_account), or shows who is logged in when there
// is no request. While an upstream identity waits to be linked, it shows
// the form: the password login is what links it.
func (h *Handler) getLogin(c *gin.Context) {
	lr, ok := h.describe(c, c.Query(paramRequest))
	if !ok {
		return
	}
	loc := h.locale(c, lr)
	if s, ok := h.Session(c.Request); ok && !h.linking(c) {
		switch {
		case lr == nil:
			// Already logged in: straight back where the person was
			// going, if anywhere.
			if next := nextOf(c); next != "" {
				c.Redirect(http.StatusSeeOther, next)
				return
			}
			h.renderLoggedIn(c, loc, s)
			return
		case !h.reauthenticate(lr, s):
			h.complete(c, loc, lr, s.AccountID, s.AuthTime, s.AMR)
			return
		}
	}
	if lr != nil && slices.Contains(lr.Prompt, "none") {
		// The client asked that no page be shown (OpenID Connect Core
		// §3.1.2.1): without a usable session, it gets login_required.
		redirect, err := h.requests.Fail(c.Request.Context(), lr.ID, "login_required", "no login session usable without interaction")
		if err != nil {
			h.renderExpired(c, loc)
			return
		}
		c.Redirect(http.StatusSeeOther, redirect)
		return
	}
	hint := ""
	if lr != nil {
		hint = lr.LoginHint
	}
	h.renderLogin(c, http.StatusOK, loc, lr, hint, "")
}

// reauthenticate reports whether the client wants the password asked even
// with a session: prompt=login, prompt=select_account (the form is where
// another account is chosen), or a max_age the session is older than.
func (h *Handler) reauthenticate(lr *LoginRequest, s store.Session) bool {
	if lr.MaxAge != nil && h.now().Sub(s.AuthTime) > *lr.MaxAge {
		return true
	}
	return slices.Contains(lr.Prompt, "login") || slices.Contains(lr.Prompt, "select_account")
}

// postLogin checks the form and, on success, opens a session and
// completes the request. An upstream identity waiting in the browser to be
// linked is linked to the account, in the session's transaction.
func (h *Handler) postLogin(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	if !h.guardPost(c) {
		return
	}
	lr, ok := h.describe(c, c.PostForm(paramRequest))
	if !ok {
		return
	}
	loc := h.locale(c, lr)
	identifier, password := strings.TrimSpace(c.PostForm(paramIdentifier)), c.PostForm(paramPassword)
	if identifier == "" || password == "" || len(identifier) > maxIdentifier || len(password) > maxPassword {
		h.renderLogin(c, http.StatusBadRequest, loc, lr, identifier, loc.T("login.error.missing"))
		return
	}

	// Both limits count failed attempts: a success gives its tokens back.
	// An unknown identifier and a wrong password count alike.
	ipKey, idKey := c.ClientIP(), identity.NormalizeLogin(identifier)
	if ok, wait := h.ipLimit.Take(ipKey); !ok {
		h.renderRateLimited(c, loc, lr, wait)
		return
	}
	if ok, wait := h.idLimit.Take(idKey); !ok {
		h.renderRateLimited(c, loc, lr, wait)
		return
	}
	ctx := c.Request.Context()
	accountID, amr, err := h.auth.Authenticate(ctx, identifier, password)
	if err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			h.renderLogin(c, http.StatusUnauthorized, loc, lr, identifier, loc.T("login.error.credentials"))
			return
		}
		// The directory or the database failed: not the person's fault.
		h.ipLimit.Give(ipKey)
		h.idLimit.Give(idKey)
		h.renderError(c, loc, "authenticate", err)
		return
	}
	h.ipLimit.Give(ipKey)
	h.idLimit.Give(idKey)

	n := newSession{accountID: accountID, amr: amr, link: h.linkFor(c, accountID)}
	if n.link != nil {
		// Linked, or refused: the identity waits no more.
		h.clearLinkCookie(c.Writer)
	}
	// Without a request, post/redirect/get: the login page then shows who
	// is logged in.
	h.logIn(c, loc, lr, n)
}

// guardPost refuses a POST from another site or without a valid CSRF
// token, rendering the expired-form page (403). It reports whether the
// POST may go on.
func (h *Handler) guardPost(c *gin.Context) bool {
	if h.checkOrigin(c.Request) && h.checkCSRF(c) {
		return true
	}
	loc := h.cat.choose(c.Request, nil)
	reload := PathLogin
	if id := c.PostForm(paramRequest); id != "" {
		reload += "?" + url.Values{paramRequest: {id}}.Encode()
	} else {
		reload = WithNext(reload, nextOf(c))
	}
	h.renderMessage(c, http.StatusForbidden, loc, message{
		Title:      loc.T("csrf.title"),
		Paragraphs: []string{loc.T("csrf.body")},
		Links:      []link{{Href: reload, Label: loc.T("csrf.reload")}},
	})
	return false
}

// complete hands the logged-in account to the provider and sends the
// browser where it says, or renders why the account may not go on.
func (h *Handler) complete(c *gin.Context, loc locale, lr *LoginRequest, accountID string, authTime time.Time, amr []string) {
	redirect, err := h.requests.Complete(c.Request.Context(), lr.ID, accountID, authTime, amr)
	if err != nil {
		var gate *GateError
		switch {
		case errors.As(err, &gate):
			h.renderGate(c, loc, lr, gate)
		case errors.Is(err, store.ErrNotFound):
			h.renderExpired(c, loc)
		default:
			h.renderError(c, loc, "complete login request", err)
		}
		return
	}
	c.Redirect(http.StatusSeeOther, redirect)
}

// postLogout ends the session and says so.
func (h *Handler) postLogout(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	if !h.guardPost(c) {
		return
	}
	h.endSession(c.Writer, c.Request, revokeLogout)
	if _, err := c.Request.Cookie(linkCookie); err == nil {
		h.clearLinkCookie(c.Writer)
	}
	loc := h.locale(c, nil)
	// From a gate page, logging in again continues the same request.
	again := PathLogin
	if id := c.PostForm(paramRequest); id != "" {
		again += "?" + url.Values{paramRequest: {id}}.Encode()
	}
	h.renderMessage(c, http.StatusOK, loc, message{
		Title:      loc.T("loggedout.title"),
		Paragraphs: []string{loc.T("loggedout.body"), loc.T("loggedout.apps")},
		Links:      []link{{Href: again, Label: loc.T("loggedout.login")}},
	})
}

// postActivation sends the activation link again, for the account named
// by the ticket of a pending-activation page.
func (h *Handler) postActivation(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	if !h.guardPost(c) {
		return
	}
	loc := h.locale(c, nil)
	accountID, ok := h.checkActivationTicket(c, c.PostForm(paramTicket))
	if !ok {
		h.guardFailed(c, loc)
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, loc, nil, wait)
		return
	}
	if ok, wait := h.actLimit.Take(accountID); !ok {
		h.renderRateLimited(c, loc, nil, wait)
		return
	}
	if err := h.activation.Resend(c.Request.Context(), accountID); err != nil {
		h.renderError(c, loc, "resend activation link", err)
		return
	}
	h.renderMessage(c, http.StatusOK, loc, message{
		Title:      loc.T("activation.sent.title"),
		Paragraphs: []string{loc.T("activation.sent.body")},
	})
}

// guardFailed renders the expired-form page for a form whose signed
// fields no longer hold.
func (h *Handler) guardFailed(c *gin.Context, loc locale) {
	h.renderMessage(c, http.StatusForbidden, loc, message{
		Title:      loc.T("csrf.title"),
		Paragraphs: []string{loc.T("csrf.body")},
		Links:      []link{{Href: PathLogin, Label: loc.T("csrf.reload")}},
	})
}
