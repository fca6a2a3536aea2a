// Package account serves "Mon compte" / "My account": the server-rendered
// pages where a person logged in through canonid's login page (the web
// session) sees and manages their own canonical account — their profile
// with the source of each value, their e-mail addresses (add one, verified
// by the link of flows/emailmerge, which merges the account holding it
// when the link is followed; make one primary; remove one), the identities
// linked to the account, the merge key of seed 002 (flows/mergekey),
// the accounts merged into theirs, the accounts that look like theirs
// (suggested duplicates, with the ways to prove one is theirs), their
// consents, their password and their open sessions.
//
// The pages are drawn in the login pages' layout (web.FlowTemplate), in
// French or English, without JavaScript; every form POSTs with the CSRF
// token of the login pages, and a POST from another site, or without that
// token, is refused before anything else. Without a session the pages send
// the browser to the login page, which brings it back (web.LoginURL).
// Every change is one store transaction with its audit and outbox events,
// made by the flow's service that owns it (emailmerge, mergekey) or here.
package account

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/flows/emailmerge"
	"github.com/canonid/canonid/flows/mergekey"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/ratelimit"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Routes of the pages. The merge key and the merge preview are the pages
// of flows/mergekey (/account/merge-key, /account/merge), which the forms
// of PathAccount post to.
const (
	// PathAccount is "My account": every section, and the forms that act.
	PathAccount = "/account"
	// PathEmails adds an address (POST, field address).
	PathEmails = "/account/emails"
	// PathEmailPrimary makes a verified address primary (POST, field
	// address).
	PathEmailPrimary = "/account/emails/primary"
	// PathEmailDelete removes an address (POST, field address).
	PathEmailDelete = "/account/emails/delete"
	// PathDirectory changes the public-directory consent (POST, field
	// visible: yes or no).
	PathDirectory = "/account/consents/directory"
	// PathPassword changes the password (GET the form, POST it).
	PathPassword = "/account/password"
	// PathSessions lists the open sessions.
	PathSessions = "/account/sessions"
	// PathSessionRevoke ends one other session (POST, field session).
	PathSessionRevoke = "/account/sessions/revoke"
	// PathSessionsRevokeOthers ends every session but this browser's
	// (POST).
	PathSessionsRevokeOthers = "/account/sessions/revoke-others"
)

// Events the pages record themselves (the others are their services'):
// EventDirectoryChanged, and authn.EventPasswordSet (reason
// ReasonPasswordChanged, or "directory <source>") with web's
// EventSessionRevoked.
const (
	// EventDirectoryChanged: the person changed whether they appear in the
	// public directory. Data: visible, before (null when they had not
	// chosen).
	EventDirectoryChanged = "consent.directory_changed"
	// ReasonPasswordChanged is the reason of authn.EventPasswordSet when
	// the person changes their local password on PathPassword.
	ReasonPasswordChanged = "changed"
)

// Form fields.
const (
	fieldAddress       = "address"
	fieldVisible       = "visible"
	fieldSession       = "session"
	fieldCurrent       = "current_password"
	fieldPassword      = "password"
	fieldPasswordAgain = "password_again"
	paramDone          = "done"
	paramCount         = "n"
)

// maxForm bounds the body of the pages' POSTs.
const maxForm = 16 << 10

// Pages is what the account pages need of the login pages: *web.Handler.
type Pages interface {
	Session(r *http.Request) (store.Session, bool)
	FlowLanguage(c *gin.Context) string
	RenderFlow(c *gin.Context, status int, p *web.FlowTemplate, v web.FlowView)
	CheckFlowPost(c *gin.Context) bool
	CheckPassword(ctx context.Context, accountID, password string) error
	ListSessions(ctx context.Context, accountID string) ([]web.AccountSession, error)
	RevokeSession(ctx context.Context, accountID, sessionID, reason string) error
	RevokeOtherSessions(ctx context.Context, tx store.Tx, accountID, keep, reason string) (int, error)
	HelpURL() string
}

var _ Pages = (*web.Handler)(nil)

// Accounts reads accounts: *accounts.Service.
type Accounts interface {
	// Get returns the account with what it owns and the accounts merged
	// into it.
	Get(ctx context.Context, id string) (accounts.Details, error)
	// Duplicates returns the suggested duplicates of the account.
	Duplicates(ctx context.Context, accountID string) (accounts.DuplicateReport, error)
}

var _ Accounts = (*accounts.Service)(nil)

// Emails changes the person's addresses: *emailmerge.Service.
type Emails interface {
	AddAddress(ctx context.Context, accountID, address, locale string) (emailmerge.Pending, error)
	Remove(ctx context.Context, accountID, address string) error
	SetPrimary(ctx context.Context, accountID, address string) error
	Config() emailmerge.Config
}

var _ Emails = (*emailmerge.Service)(nil)

// MergeKeys is the merge-by-key flow: *mergekey.Service.
type MergeKeys interface {
	ActiveKey(ctx context.Context, accountID string) (expiresAt time.Time, ok bool, err error)
	MergedUsers(ctx context.Context, accountID string) ([]mergekey.MergedUser, error)
}

var _ MergeKeys = (*mergekey.Service)(nil)

// Mailer queues a mail in the caller's transaction: *notify.Queue.
type Mailer interface {
	Enqueue(ctx context.Context, tx store.Tx, m notify.Message) error
}

// Deps are what the pages need from the rest of canonid.
type Deps struct {
	// Store holds the accounts and their events. Required.
	Store store.Store
	// Pages are the login pages (their session, layout, CSRF, password
	// check and sessions). Required.
	Pages Pages
	// Accounts reads accounts and their duplicates. Required.
	Accounts Accounts
	// MergeKeys tells whether the account has a merge key and lists the
	// merged users. Required.
	MergeKeys MergeKeys
	// Emails adds, removes and makes primary the person's addresses. Nil
	// (no mail configured): the addresses are listed and not changed.
	Emails Emails
	// Mail queues the password_changed notice. Nil: none is sent.
	Mail Mailer
	// Directories set the passwords of the accounts linked to them, by
	// link source ("ldap:campus"): an account without a local password
	// changes it there (LDAP Password Modify, as the user).
	Directories map[string]connectors.PasswordChanger
	// Password is the password policy (on top of authn's fixed rules).
	Password authn.Policy
	// Location is the time zone the pages write times in. Nil: Europe/Paris.
	Location *time.Location
	// Logger receives the errors that answer 500. Nil discards.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// RequestID returns the request id of a request context, recorded
	// with the events. Nil: none.
	RequestID func(ctx context.Context) string
}

// Handler serves the account pages.
type Handler struct {
	st       store.Store
	pages    Pages
	accounts Accounts
	keys     MergeKeys
	emails   Emails
	mail     Mailer
	dirs     map[string]connectors.PasswordChanger
	policy   authn.Policy
	log      *slog.Logger
	now      func() time.Time
	reqID    func(ctx context.Context) string
	tpl      templates
	cat      catalogs

	// passwordLimit counts wrong current passwords per account;
	// sendLimit the addresses added (mails sent) per account.
	passwordLimit *ratelimit.Limiter
	sendLimit     *ratelimit.Limiter
}

// Limits of the pages.
const (
	// Wrong current passwords: 5 per 15 minutes per account, as the
	// login page's per-identifier default.
	passwordEvents = 5
	passwordPer    = 15 * time.Minute
)

// New returns the handler. Store, Pages, Accounts and MergeKeys are
// required.
func New(deps Deps) (*Handler, error) {
	var errs []error
	if deps.Store == nil {
		errs = append(errs, errors.New("account: Deps.Store is required"))
	}
	if deps.Pages == nil {
		errs = append(errs, errors.New("account: Deps.Pages is required"))
	}
	if deps.Accounts == nil {
		errs = append(errs, errors.New("account: Deps.Accounts is required"))
	}
	if deps.MergeKeys == nil {
		errs = append(errs, errors.New("account: Deps.MergeKeys is required"))
	}
	if err := deps.Password.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("account: Deps.Password: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	h := &Handler{st: deps.Store, pages: deps.Pages, accounts: deps.Accounts, keys: deps.MergeKeys,
		emails: deps.Emails, mail: deps.Mail, dirs: deps.Directories, policy: deps.Password,
		log: deps.Logger, now: deps.Now, reqID: deps.RequestID}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.reqID == nil {
		h.reqID = func(context.Context) string { return "" }
	}
	loc := deps.Location
	if loc == nil {
		loc = time.UTC
		if l, err := time.LoadLocation("Europe/Paris"); err == nil {
			loc = l
		}
	}
	var err error
	if h.tpl, err = parseTemplates(); err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	if h.cat, err = loadCatalogs(loc); err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	h.passwordLimit = ratelimit.New(float64(passwordEvents)/passwordPer.Seconds(), passwordEvents, h.now)
	if h.emails != nil {
		l := h.emails.Config().SendLimit
		h.sendLimit = ratelimit.New(float64(l.Events)/l.Per.Seconds(), l.Burst, h.now)
	}
	return h, nil
}

// Mount registers the pages on e: GET PathAccount, PathPassword and
// PathSessions, and the POSTs of their forms (the e-mail ones only with
// Deps.Emails).
func (h *Handler) Mount(e *gin.Engine) {
	g := e.Group("", noStore)
	g.GET(PathAccount, h.getOverview)
	g.POST(PathDirectory, h.postDirectory)
	g.GET(PathPassword, h.getPassword)
	g.POST(PathPassword, h.postPassword)
	g.GET(PathSessions, h.getSessions)
	g.POST(PathSessionRevoke, h.postSessionRevoke)
	g.POST(PathSessionsRevokeOthers, h.postSessionsRevokeOthers)
	if h.emails != nil {
		g.POST(PathEmails, h.postAddEmail)
		g.POST(PathEmailPrimary, h.postEmailPrimary)
		g.POST(PathEmailDelete, h.postEmailDelete)
	}
}

// noStore keeps the answers, redirects included, out of caches: they are
// about one person.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
}

// --- templates and messages ------------------------------------------------

//go:embed templates/*.html
var templateFS embed.FS

//go:embed locales/*.json
var localeFS embed.FS

// languages of the pages, the default first; web chooses among them.
var languages = []string{"fr", "en"}

type templates struct {
	overview, password, sessions, message *web.FlowTemplate
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// anchor is a link to a section of PathAccount.
	"anchor": func(id string) string { return PathAccount + "#" + id },
}

func parseTemplates() (templates, error) {
	var t templates
	err := web.ParseFlowTemplates(templateFS, funcs, []string{"icons.html"}, map[string]**web.FlowTemplate{
		"overview.html": &t.overview, "password.html": &t.password, "sessions.html": &t.sessions, "message.html": &t.message,
	})
	if err != nil {
		return templates{}, fmt.Errorf("account: %w", err)
	}
	return t, nil
}

// msgs is one language's messages, with the time zone of the pages.
type msgs struct{ web.Messages }

// Day writes a calendar date (YYYY-MM-DD) in the language's layout; other
// text as it is.
func (m msgs) Day(s string) string {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	return d.Format(m.T("date.layout"))
}

// catalogs are the messages of every language, with the pages' zone.
type catalogs struct {
	web.Catalog
	loc *time.Location
}

func loadCatalogs(loc *time.Location) (catalogs, error) {
	cat, err := web.LoadCatalog(localeFS, "account")
	return catalogs{cat, loc}, err
}

// get returns the messages of a tag, French when it has none.
func (c catalogs) get(tag string) msgs { return msgs{c.Messages(tag, c.loc)} }

func (h *Handler) msgs(c *gin.Context) msgs { return h.cat.get(h.pages.FlowLanguage(c)) }

// pageLink is a link of a page.
type pageLink struct{ Href, Label string }

// messageData is a page that explains.
type messageData struct {
	msgs
	Paragraphs []string
	Links      []pageLink
}

// message draws a message page; the language switch reloads path.
func (h *Handler) message(c *gin.Context, status int, m msgs, path, title string, paragraphs []string, links ...pageLink) {
	h.pages.RenderFlow(c, status, h.tpl.message, web.FlowView{Title: title, Reload: path,
		Data: messageData{msgs: m, Paragraphs: paragraphs, Links: links}})
}

// --- access ----------------------------------------------------------------

// session returns the login session of the request. Without one it sends
// the browser to the login page, which brings it back to the page back
// once logged in, and returns false.
func (h *Handler) session(c *gin.Context, back string) (store.Session, bool) {
	s, ok := h.pages.Session(c.Request)
	if !ok {
		c.Redirect(http.StatusSeeOther, web.LoginURL(back))
	}
	return s, ok
}

// guardPost bounds the body and refuses (403) a POST from another site or
// without this browser's CSRF token, before anything else; back is the
// page to reload. It reports whether the POST may go on.
func (h *Handler) guardPost(c *gin.Context, m msgs, back string) bool {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	if h.pages.CheckFlowPost(c) {
		return true
	}
	h.message(c, http.StatusForbidden, m, back, m.T("csrf.title"), []string{m.T("csrf.body")},
		pageLink{Href: back, Label: m.T("csrf.reload")})
	return false
}

// fail logs err and draws the error page (500).
func (h *Handler) fail(c *gin.Context, m msgs, path, what string, err error) {
	h.log.ErrorContext(c.Request.Context(), "account page: "+what+" failed", "path", path, "error", err)
	h.message(c, http.StatusInternalServerError, m, path, m.T("error.title"), []string{m.T("error.body")},
		pageLink{Href: PathAccount, Label: m.T("back.account")})
}

// rateLimited draws the page of a limit reached (429, Retry-After).
func (h *Handler) rateLimited(c *gin.Context, m msgs, path string, wait time.Duration) {
	secs := int64((wait.Round(time.Millisecond) + time.Second - 1) / time.Second)
	c.Header("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	minutes := max((secs+59)/60, 1)
	h.message(c, http.StatusTooManyRequests, m, path, m.T("ratelimit.title"), []string{m.T("ratelimit.body", minutes)},
		pageLink{Href: path, Label: m.T("back.page")})
}

// done redirects (303) to path with a notice to show.
func done(c *gin.Context, path, notice string, extra ...string) {
	q := url.Values{paramDone: {notice}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	c.Redirect(http.StatusSeeOther, path+"?"+q.Encode())
}

// actor is how the events name the person acting.
func actor(accountID string) string { return "account:" + accountID }
