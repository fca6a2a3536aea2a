package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/canonid.css
var css []byte

// pages are the parsed templates: each page is the layout with its own
// "content".
type pages struct {
	login   *template.Template
	message *template.Template
}

func parsePages() (pages, error) {
	layout, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return pages{}, err
	}
	page := func(name string) (*template.Template, error) {
		t, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		return t.ParseFS(templateFS, "templates/"+name)
	}
	var p pages
	if p.login, err = page("login.html"); err != nil {
		return pages{}, err
	}
	if p.message, err = page("message.html"); err != nil {
		return pages{}, err
	}
	return p, nil
}

// view is what every page shows: the language, its switch link, the title
// and the CSRF token of its forms.
type view struct {
	L      locale
	Title  string
	CSRF   string
	Switch link
	CSS    string
	// Account, when set, is the header's link to the person's account
	// (a session is open); Current marks it as the page shown.
	Account *link
}

// link is a link of a page.
type link struct {
	Href  string
	Label string
	Lang  string
	// Current marks a navigation link to the page shown
	// (aria-current="page").
	Current bool
}

// loginView is the login form.
type loginView struct {
	view
	Request string
	// Next is where to go once logged in, without a request (ParamNext).
	Next       string
	ClientName string
	Identifier string
	Error      string
	Upstreams  []link
	// Link says that logging in links an upstream identity.
	Link *linkBanner
}

// message is a page that explains: an error, a gate, a confirmation.
type message struct {
	Title      string
	Paragraphs []string
	Forms      []form
	Links      []link
}

// form is a one-button form of a message page.
type form struct {
	Action string
	Label  string
	Fields map[string]string
	// Secondary shows the button as a secondary action.
	Secondary bool
}

type messageView struct {
	view
	Paragraphs []string
	Forms      []form
	Links      []link
}

// newView fills what every page shows. The switch link reloads the login
// page in the other language, for the same request.
func (h *Handler) newView(c *gin.Context, loc locale, lr *LoginRequest, title string) view {
	other := h.cat.other(loc)
	q := url.Values{langParam: {other.Tag}}
	if lr != nil {
		q.Set(paramRequest, lr.ID)
	}
	if lr == nil {
		if next := nextOf(c); next != "" {
			q.Set(ParamNext, next)
		}
	}
	return view{
		L: loc, Title: title, CSRF: h.csrfToken(c), CSS: PathCSS,
		Switch: link{Href: PathLogin + "?" + q.Encode(), Label: other.T("lang.name"), Lang: other.Tag},
	}
}

// render executes t into a buffer, then writes it with status.
func (h *Handler) render(c *gin.Context, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log.ErrorContext(c.Request.Context(), "login page rendering failed", "error", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error\n"))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// renderLogin shows the form, with an error when a try failed.
func (h *Handler) renderLogin(c *gin.Context, status int, loc locale, lr *LoginRequest, identifier, errMsg string) {
	v := loginView{view: h.newView(c, loc, lr, loc.T("login.title")), Identifier: identifier, Error: errMsg,
		Link: h.linkBanner(c, loc)}
	if lr != nil {
		v.Request = lr.ID
		v.ClientName = clientName(lr)
	} else {
		v.Next = nextOf(c)
	}
	for _, u := range h.upstreams {
		href := upstreamHref(u.StartURL, v.Request)
		if v.Next != "" {
			href = withQuery(href, ParamNext, v.Next)
		}
		v.Upstreams = append(v.Upstreams, link{Href: href, Label: u.Label})
	}
	h.render(c, status, h.pages.login, v)
}

// upstreamHref adds the request id to an upstream's start URL.
func upstreamHref(start, request string) string {
	if request == "" {
		return start
	}
	u, err := url.Parse(start)
	if err != nil {
		return start // checked by New
	}
	q := u.Query()
	q.Set(paramRequest, request)
	u.RawQuery = q.Encode()
	return u.String()
}

// withQuery sets a query parameter of a URL.
func withQuery(href, key, value string) string {
	u, err := url.Parse(href)
	if err != nil {
		return href
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func clientName(lr *LoginRequest) string {
	if lr.ClientName != "" {
		return lr.ClientName
	}
	return lr.ClientID
}

func (h *Handler) renderMessage(c *gin.Context, status int, loc locale, m message) {
	h.renderMessageFor(c, status, loc, nil, m)
}

func (h *Handler) renderMessageFor(c *gin.Context, status int, loc locale, lr *LoginRequest, m message) {
	h.render(c, status, h.pages.message, messageView{
		view: h.newView(c, loc, lr, m.Title), Paragraphs: m.Paragraphs, Forms: m.Forms, Links: m.Links,
	})
}

// renderExpired answers a request that does not exist (any more): 400.
func (h *Handler) renderExpired(c *gin.Context, loc locale) {
	h.renderMessage(c, http.StatusBadRequest, loc, message{
		Title:      loc.T("expired.title"),
		Paragraphs: []string{loc.T("expired.body"), loc.T("expired.back")},
	})
}

// renderError logs err and shows a 500 page with the request id.
func (h *Handler) renderError(c *gin.Context, loc locale, what string, err error) {
	ctx := c.Request.Context()
	h.log.ErrorContext(ctx, "login page: "+what+" failed", "error", err)
	ps := []string{loc.T("error.body")}
	if id := h.referenceOf(c); id != "" {
		ps = append(ps, loc.T("error.ref", id))
	}
	h.renderMessage(c, http.StatusInternalServerError, loc, message{Title: loc.T("error.title"), Paragraphs: ps})
}

// referenceOf returns the request id to quote to the help desk.
func (h *Handler) referenceOf(c *gin.Context) string {
	if id := h.requestID(c.Request.Context()); id != "" {
		return id
	}
	return c.Writer.Header().Get("X-Request-Id")
}

// renderRateLimited answers 429 with Retry-After.
func (h *Handler) renderRateLimited(c *gin.Context, loc locale, lr *LoginRequest, wait time.Duration) {
	c.Header("Retry-After", jsonapi.RetryAfter(wait))
	body := loc.T("ratelimit.body.one")
	if m := int(math.Ceil(wait.Round(time.Second).Minutes())); m > 1 {
		body = loc.T("ratelimit.body.many", m)
	}
	h.renderMessageFor(c, http.StatusTooManyRequests, loc, lr, message{
		Title:      loc.T("ratelimit.title"),
		Paragraphs: []string{body, loc.T("ratelimit.help")},
	})
}

// renderGate explains why a logged-in account may not go on: 403.
// It offers to log in with another account: a logout that leads back to
// the request's login form.
func (h *Handler) renderGate(c *gin.Context, loc locale, lr *LoginRequest, g *GateError) {
	m := h.gateMessage(c, loc, lr, g)
	logout := form{Action: PathLogout, Label: loc.T("gate.switch_account"), Secondary: true}
	if lr != nil {
		logout.Fields = map[string]string{paramRequest: lr.ID}
	}
	m.Forms = append(m.Forms, logout)
	h.renderMessageFor(c, http.StatusForbidden, loc, lr, m)
}

func (h *Handler) gateMessage(c *gin.Context, loc locale, lr *LoginRequest, g *GateError) message {
	client := loc.T("gate.client.unnamed")
	if lr != nil {
		client = clientName(lr)
	}
	switch g.Gate {
	case GatePendingActivation:
		m := message{Title: loc.T("gate.pending_activation.title"), Paragraphs: []string{loc.T("gate.pending_activation.body")}}
		if h.activation != nil && g.AccountID != "" {
			m.Paragraphs = append(m.Paragraphs, loc.T("gate.pending_activation.resend"))
			m.Forms = []form{{
				Action: PathActivation, Label: loc.T("gate.pending_activation.resend.button"),
				Fields: map[string]string{paramTicket: h.activationTicket(c, g.AccountID)},
			}}
		} else {
			m.Paragraphs = append(m.Paragraphs, loc.T("gate.pending_activation.admin"))
		}
		return m
	case GatePendingValidation:
		return message{Title: loc.T("gate.pending_validation.title"),
			Paragraphs: []string{loc.T("gate.pending_validation.body"), loc.T("gate.pending_validation.wait")}}
	case GateOrgRequired:
		if g.OrgName == "" {
			return message{Title: loc.T("gate.org_required.title.unnamed"),
				Paragraphs: []string{loc.T("gate.org_required.body.unnamed", client)}}
		}
		return message{Title: loc.T("gate.org_required.title", g.OrgName),
			Paragraphs: []string{loc.T("gate.org_required.body", client, g.OrgName), loc.T("gate.org_required.help", g.OrgName)}}
	default: // GateSuspended, and any gate added later
		return message{Title: loc.T("gate.suspended.title"), Paragraphs: []string{loc.T("gate.suspended.body")}}
	}
}

// renderLoggedIn shows who is logged in, with a logout button.
func (h *Handler) renderLoggedIn(c *gin.Context, loc locale, s store.Session) {
	ctx := c.Request.Context()
	who, status, err := h.describeAccount(ctx, s.AccountID)
	if err != nil {
		h.renderError(c, loc, "read account", err)
		return
	}
	m := message{
		Title:      loc.T("loggedin.title"),
		Paragraphs: []string{loc.T("loggedin.body", who)},
		Forms:      []form{{Action: PathLogout, Label: loc.T("logout.button")}},
	}
	if h.accountPath != "" {
		m.Links = append(m.Links, link{Href: h.accountPath, Label: loc.T("loggedin.account")})
	}
	switch status {
	case identity.StatusActive:
		m.Paragraphs = append(m.Paragraphs, loc.T("loggedin.apps"))
		if h.consolePath != "" {
			switch ok, err := h.coordinates(ctx, s.AccountID); {
			case err != nil:
				h.renderError(c, loc, "read memberships", err)
				return
			case ok:
				m.Links = append(m.Links, link{Href: h.consolePath, Label: loc.T("loggedin.console")})
			}
		}
	case identity.StatusPendingActivation, identity.StatusPendingValidation:
		g := h.gateMessage(c, loc, nil, &GateError{Gate: Gate(status), AccountID: s.AccountID})
		m.Paragraphs = append(m.Paragraphs, g.Paragraphs...)
		m.Forms = append(g.Forms, m.Forms...)
	}
	h.renderMessage(c, http.StatusOK, loc, m)
}

// coordinates reports whether the account has a validated org-admin
// membership (the console's own check adds that the account is active).
func (h *Handler) coordinates(ctx context.Context, accountID string) (bool, error) {
	ok := false
	err := h.store.View(ctx, func(tx store.Tx) error {
		ms, err := tx.Memberships().ListByAccount(ctx, accountID)
		for _, m := range ms {
			ok = ok || m.Role == identity.RoleOrgAdmin && m.State == identity.MembershipValidated
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("memberships of %s: %w", accountID, err)
	}
	return ok, nil
}

// describeAccount names an account for the person: "Display Name
// (login)", or what it has of those (its primary address when it has no
// login).
func (h *Handler) describeAccount(ctx context.Context, id string) (string, identity.Status, error) {
	var a identity.Account
	var emails []identity.Email
	err := h.store.View(ctx, func(tx store.Tx) error {
		var err error
		if a, err = tx.Accounts().Get(ctx, id); err != nil {
			return err
		}
		if a.Login == "" {
			emails, err = tx.Emails().ListByAccount(ctx, id)
		}
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("account %s: %w", id, err)
	}
	name := a.DisplayName
	if name == "" {
		name = strings.TrimSpace(a.GivenName + " " + a.FamilyName)
	}
	handle := a.Login
	for _, e := range emails {
		if handle == "" || e.Primary {
			handle = e.Address
		}
	}
	switch {
	case name != "" && handle != "":
		return name + " (" + handle + ")", a.Status, nil
	case name != "":
		return name, a.Status, nil
	case handle != "":
		return handle, a.Status, nil
	}
	return a.ID, a.Status, nil
}

// css serves the style sheet of the pages.
func (h *Handler) css(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=86400")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/css; charset=utf-8", css)
}
