package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Routes of the console. Every one of them is for admins only.
const (
	// PathAdmin leads to the account search.
	PathAdmin = "/admin"
	// PathAccounts is the account search (?q=&status=&after=);
	// PathAccounts/<id> an account, PathAccounts/<id>/merges its merges.
	PathAccounts = PathAdmin + "/accounts"
	// PathMerges/<id>/undo undoes a merge (POST).
	PathMerges = PathAdmin + "/merges"
	// PathDuplicates is the duplicates queue (?account=&page=);
	// PathDuplicates/dismiss records "not a duplicate" (POST).
	PathDuplicates = PathAdmin + "/duplicates"
	// PathMerge is the merge preview (GET ?survivor=&retired=) and the
	// merge (POST).
	PathMerge = PathAdmin + "/merge"
	// PathImports lists the imports and takes a file (POST);
	// PathImports/<id> is an import's report.
	PathImports = PathAdmin + "/imports"
	// PathConnectors lists the directory connectors;
	// PathConnectors/<name>/run and /dry-run act on one (POST).
	PathConnectors = PathAdmin + "/connectors"
	// PathPropagation shows the propagation targets and their dead
	// letters (?target=&before=); PathPropagation/targets/<name>/retry
	// retries them (POST).
	PathPropagation = PathAdmin + "/propagation"
	// PathAudit is the audit log (?type=&account=&org=&before=).
	PathAudit = PathAdmin + "/audit"
)

// Bounds of what a POST may carry: a form of a few fields, or a file.
const (
	maxForm   = 64 << 10
	maxUpload = imports.MaxUpload + 1<<20
	// multipartMemory is how much of an upload is held in memory; the
	// rest waits in a temporary file, removed when the request ends.
	multipartMemory = 8 << 20
)

// Defaults of Config.
const (
	DefaultPageSize      = 50
	DefaultDryRunTimeout = 2 * time.Minute
	DefaultSyncTimeout   = time.Hour
	DefaultMaxDiff       = 500
)

// Pages is what the console needs of the login pages (web.Handler): the
// login session of a request, and drawing pages in their layout with their
// language and CSRF protection.
type Pages interface {
	Session(r *http.Request) (store.Session, bool)
	FlowLanguage(c *gin.Context) string
	RenderFlow(c *gin.Context, status int, p *web.FlowTemplate, v web.FlowView)
	CheckFlowPost(c *gin.Context) bool
}

// Config says who may use the console and how it shows things. A zero
// field takes its default.
type Config struct {
	// Admins are the logins of the accounts allowed in (login.admins),
	// compared in their normalised form. An account gets in when it is
	// active and its login is listed.
	Admins []string
	// Location is the time zone of the times shown; nil means UTC.
	Location *time.Location
	// PageSize is how many rows a page of a list shows (DefaultPageSize).
	PageSize int
	// DryRunTimeout bounds a dry run, which the page waits for
	// (DefaultDryRunTimeout); SyncTimeout bounds a sync started from the
	// console, which runs in the background (DefaultSyncTimeout).
	DryRunTimeout, SyncTimeout time.Duration
	// MaxDiff is how many changes of a dry run the page lists; the others
	// are counted (DefaultMaxDiff).
	MaxDiff int
}

// Deps are the services the console drives.
type Deps struct {
	// Store is read directly for what no service lists (merge records,
	// the audit log, sync states, dead letters) and for retrying dead
	// letters.
	Store store.Store
	// Accounts searches, shows, merges and unmerges accounts, and finds
	// duplicates.
	Accounts *accounts.Service
	// Policies are the merge policies Accounts was built with: the
	// console suggests the survivor by their precedence and offers undo
	// within their undo window.
	Policies accounts.Config
	// Imports runs the file imports; nil when there is no csv connector.
	Imports *imports.Service
	// Connectors are the directory connectors, in the order shown.
	Connectors []Connector
	// Targets are the names of the propagation targets.
	Targets []string
	// Pages are the login pages.
	Pages Pages
	// LoginURL returns where to send a visitor without a session, given
	// the console page to come back to; nil means web.LoginURL (the login
	// page, which leads back there).
	LoginURL func(returnTo string) string
	// Owner names this process in connector leases (host:pid).
	Owner string
	// Logger receives errors; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves the console.
type Handler struct {
	cfg    Config
	deps   Deps
	admins map[string]bool
	log    *slog.Logger
	now    func() time.Time
	tmpl   templates
	cat    catalog
	// uploadLimit bounds a POST of the imports page (maxUpload).
	uploadLimit int64

	// jobs are the syncs started from the console, the last one per
	// connector; wg waits for those running.
	mu   sync.Mutex
	jobs map[string]*job
	wg   sync.WaitGroup
}

// New returns the console. Store, Accounts and Pages are required.
func New(cfg Config, deps Deps) (*Handler, error) {
	var errs []error
	if deps.Store == nil {
		errs = append(errs, errors.New("admin: Deps.Store is required"))
	}
	if deps.Accounts == nil {
		errs = append(errs, errors.New("admin: Deps.Accounts is required"))
	}
	if deps.Pages == nil {
		errs = append(errs, errors.New("admin: Deps.Pages is required"))
	}
	names := map[string]bool{}
	for i, c := range deps.Connectors {
		switch {
		case c.Name == "" || c.Open == nil:
			errs = append(errs, fmt.Errorf("admin: Deps.Connectors[%d]: a name and Open are required", i))
		case names[c.Name]:
			errs = append(errs, fmt.Errorf("admin: Deps.Connectors[%d]: %s given twice", i, c.Name))
		}
		names[c.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.DryRunTimeout <= 0 {
		cfg.DryRunTimeout = DefaultDryRunTimeout
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = DefaultSyncTimeout
	}
	if cfg.MaxDiff <= 0 {
		cfg.MaxDiff = DefaultMaxDiff
	}
	if deps.Policies.UndoWindow <= 0 {
		deps.Policies.UndoWindow = accounts.DefaultConfig().UndoWindow
	}
	h := &Handler{cfg: cfg, deps: deps, admins: map[string]bool{}, log: deps.Logger, now: deps.Now, jobs: map[string]*job{},
		uploadLimit: maxUpload}
	for _, a := range cfg.Admins {
		if l := identity.NormalizeLogin(a); l != "" {
			h.admins[l] = true
		}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	var err error
	if h.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	if h.cat, err = loadCatalog(); err != nil {
		return nil, err
	}
	return h, nil
}

// Mount registers the console's routes on e, all behind the admin check:
// without a login session they redirect (303) to the login page, and a
// person who is not an admin gets a 403 page. POSTs from another site, or
// without the CSRF token of this browser, get a 403 page and do nothing.
func (h *Handler) Mount(e *gin.Engine) {
	g := e.Group(PathAdmin, h.access)
	g.GET("", h.index)
	g.GET("/accounts", h.search)
	g.GET("/accounts/:id", h.account)
	g.GET("/accounts/:id/merges", h.merges)
	g.POST("/merges/:id/undo", h.undo)
	g.GET("/duplicates", h.duplicates)
	g.POST("/duplicates/dismiss", h.dismiss)
	g.GET("/merge", h.preview)
	g.POST("/merge", h.merge)
	g.GET("/imports", h.imports)
	g.POST("/imports", h.upload)
	g.GET("/imports/:id", h.report)
	g.GET("/connectors", h.connectors)
	g.POST("/connectors/:name/run", h.run)
	g.POST("/connectors/:name/dry-run", h.dryRun)
	g.GET("/propagation", h.propagation)
	g.POST("/propagation/targets/:name/retry", h.retry)
	g.GET("/audit", h.audit)
}

// Close stops the syncs started from the console and waits for them (the
// batch in flight of each is rolled back).
func (h *Handler) Close() {
	h.mu.Lock()
	for _, j := range h.jobs {
		j.cancel()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// --- access ------------------------------------------------------------

// ctxAdmin is the gin context key of the admin's account.
const ctxAdmin = "admin.account"

// access lets admins in: it redirects a visitor without a session to the
// login page and answers 403 to one who is not an admin.
func (h *Handler) access(c *gin.Context) {
	s, ok := h.deps.Pages.Session(c.Request)
	if !ok {
		back := PathAdmin
		if c.Request.Method == http.MethodGet {
			back = c.Request.URL.RequestURI()
		}
		login := web.LoginURL(back)
		if h.deps.LoginURL != nil {
			login = h.deps.LoginURL(back)
		}
		noStore(c)
		c.Redirect(http.StatusSeeOther, login)
		c.Abort()
		return
	}
	a, err := h.accountOf(c, s.AccountID)
	lang := h.deps.Pages.FlowLanguage(c)
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		h.fail(c, lang, err)
		c.Abort()
		return
	case err != nil || a.Status != identity.StatusActive || !h.admins[identity.NormalizeLogin(a.Login)] || a.Login == "":
		h.message(c, http.StatusForbidden, lang, h.cat.T(lang, "forbidden.title"), []string{h.cat.T(lang, "forbidden.body")})
		c.Abort()
		return
	}
	c.Set(ctxAdmin, a)
}

// accountOf reads one account as it is stored (not resolved).
func (h *Handler) accountOf(c *gin.Context, id string) (identity.Account, error) {
	ctx := c.Request.Context()
	var a identity.Account
	err := h.deps.Store.View(ctx, func(tx store.Tx) error {
		var err error
		a, err = tx.Accounts().Get(ctx, id)
		return err
	})
	return a, err
}

// admin returns the account of the admin acting.
func admin(c *gin.Context) identity.Account {
	a, _ := c.Get(ctxAdmin)
	acc, _ := a.(identity.Account)
	return acc
}

// actor is how events name the admin acting.
func actor(c *gin.Context) string { return "account:" + admin(c).ID }

// checkPost refuses a POST larger than limit (413), or from another site or
// without this browser's CSRF token (403). It reports whether the POST may
// go on; back is the page its refusal leads back to.
func (h *Handler) checkPost(c *gin.Context, lang string, limit int64, back string) bool {
	r := c.Request
	r.Body = http.MaxBytesReader(c.Writer, r.Body, limit)
	var err error
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		err = r.ParseMultipartForm(multipartMemory)
	} else {
		err = r.ParseForm()
	}
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		h.messageAt(c, http.StatusRequestEntityTooLarge, lang, back, h.cat.T(lang, "toobig.title"),
			[]string{h.cat.T(lang, "toobig.body")}, link{Href: back, Label: h.cat.T(lang, "back")})
		return false
	}
	if h.deps.Pages.CheckFlowPost(c) {
		return true
	}
	h.messageAt(c, http.StatusForbidden, lang, back, h.cat.T(lang, "csrf.title"), []string{h.cat.T(lang, "csrf.body")},
		link{Href: back, Label: h.cat.T(lang, "back")})
	return false
}

// --- rendering ---------------------------------------------------------

// link is a link of a page.
type link struct {
	Href, Label string
	// Current marks the navigation entry of the page shown.
	Current bool
}

// base is what every page shows besides its own content: the console's
// navigation, who is logged in, and notices and errors.
type base struct {
	t func(string, ...any) string
	// Lang is the page's language.
	Lang string
	// Nav is the console's navigation.
	Nav []link
	// Admin is the login of the person logged in.
	Admin string
	// Logout is where the logout form posts.
	Logout string
	// Notices say what the action before the page did; Errors what went
	// wrong, with Reasons listing why.
	Notices []string
	Errors  []string
	Reasons []string
}

// T returns the message of key in the page's language.
func (b base) T(key string, args ...any) string { return b.t(key, args...) }

// base returns the common part of a page whose navigation entry is
// current (a path of the console).
func (h *Handler) base(c *gin.Context, lang, current string) base {
	b := base{t: func(key string, args ...any) string { return h.cat.T(lang, key, args...) }, Lang: lang,
		Admin: admin(c).Login, Logout: web.PathLogout}
	for _, n := range []struct{ path, key string }{
		{PathAccounts, "nav.accounts"}, {PathDuplicates, "nav.duplicates"}, {PathImports, "nav.imports"},
		{PathConnectors, "nav.connectors"}, {PathPropagation, "nav.propagation"}, {PathAudit, "nav.audit"},
	} {
		b.Nav = append(b.Nav, link{Href: n.path, Label: b.T(n.key), Current: n.path == current})
	}
	return b
}

// render draws a page. reload is the GET URL the language switch reloads
// ("" for the request's own URL, which must then be a GET).
func (h *Handler) render(c *gin.Context, status int, t *web.FlowTemplate, title, reload string, data any) {
	if reload == "" && c.Request.Method != http.MethodGet {
		reload = PathAdmin
	}
	h.deps.Pages.RenderFlow(c, status, t, web.FlowView{Title: title, Reload: reload, Data: data})
}

// messageData is what templates/message.html shows.
type messageData struct {
	base
	Paragraphs []string
	Links      []link
}

// message renders a message page, whose language switch reloads the
// request's URL (a GET) or the console's entry.
func (h *Handler) message(c *gin.Context, status int, lang, title string, paragraphs []string, links ...link) {
	h.messageAt(c, status, lang, "", title, paragraphs, links...)
}

// messageAt renders a message page whose language switch reloads reload.
func (h *Handler) messageAt(c *gin.Context, status int, lang, reload, title string, paragraphs []string, links ...link) {
	b := h.base(c, lang, "")
	if _, ok := c.Get(ctxAdmin); !ok {
		b.Nav, b.Admin = nil, "" // not an admin: no console around the message
	}
	h.render(c, status, h.tmpl.message, title, reload, messageData{base: b, Paragraphs: paragraphs, Links: links})
}

// fail renders the page of an error of a service: 404 for an unknown id,
// 400 for a wrong request, 409 for a state that forbids the action, 500
// (logged, without details) otherwise.
func (h *Handler) fail(c *gin.Context, lang string, err error) {
	t := func(key string, args ...any) string { return h.cat.T(lang, key, args...) }
	var stale *accounts.StaleError
	var undo *identity.UndoConflict
	var dup *store.DuplicateError
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.message(c, http.StatusNotFound, lang, t("notfound.title"), []string{t("notfound.body")}, link{Href: PathAccounts, Label: t("back.accounts")})
	case errors.Is(err, accounts.ErrInvalid):
		h.message(c, http.StatusBadRequest, lang, t("invalid.title"), []string{err.Error()}, link{Href: PathAccounts, Label: t("back.accounts")})
	case errors.As(err, &undo):
		h.message(c, http.StatusConflict, lang, t("undo.refused"), append([]string{t("undo.refused.body")}, undo.Reasons...))
	case errors.As(err, &stale):
		h.message(c, http.StatusConflict, lang, t("conflict.title"), []string{t("stale.body")})
	case errors.As(err, &dup):
		h.message(c, http.StatusConflict, lang, t("conflict.title"), []string{t("duplicate.body", dup.Field)})
	case errors.Is(err, accounts.ErrMergeConflict), errors.Is(err, accounts.ErrUndoExpired):
		h.message(c, http.StatusConflict, lang, t("conflict.title"), []string{err.Error()})
	case errors.Is(err, store.ErrConflict):
		h.message(c, http.StatusConflict, lang, t("conflict.title"), []string{t("conflict.body")})
	default:
		h.log.ErrorContext(c.Request.Context(), "admin console", "path", c.FullPath(), "error", err)
		h.message(c, http.StatusInternalServerError, lang, t("error.title"), []string{t("error.body")})
	}
}

// redirect ends an action: post/redirect/get, kept out of caches.
func redirect(c *gin.Context, to string) {
	noStore(c)
	c.Redirect(http.StatusSeeOther, to)
}

// noStore keeps a redirect out of caches, as the pages are.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
}

// withQuery returns path with the query of pairs of name, value, leaving
// out the empty values.
func withQuery(path string, pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// accountPath is the page of an account.
func accountPath(id string) string { return PathAccounts + "/" + url.PathEscape(id) }

// mergesPath is the merges page of an account.
func mergesPath(id string) string { return accountPath(id) + "/merges" }

// when writes a time in the configured zone, in the page's language.
func (h *Handler) when(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(h.cfg.Location)
	if lang == "en" {
		return t.Format("2 Jan 2006 15:04")
	}
	return t.Format("02/01/2006 15:04")
}

// stamp is a time as pages show it: the text and the machine-readable
// value of its <time> element.
type stamp struct {
	Text, ISO string
}

// stamp returns t for a <time> element; zero for a zero time.
func (h *Handler) stamp(lang string, t time.Time) stamp {
	if t.IsZero() {
		return stamp{}
	}
	return stamp{Text: h.when(lang, t), ISO: t.UTC().Format(time.RFC3339)}
}

// displayName is how pages name an account: its names, else its login,
// else its id.
func displayName(a identity.Account) string {
	if n := strings.TrimSpace(a.GivenName + " " + a.FamilyName); n != "" {
		return n
	}
	if a.DisplayName != "" {
		return a.DisplayName
	}
	if a.Login != "" {
		return a.Login
	}
	return a.ID
}

// statusClass is the colour of an account status: green for active,
// orange while pending, red when suspended, grey when merged. The status
// is always written out too.
func statusClass(s identity.Status) string {
	switch s {
	case identity.StatusActive:
		return "green"
	case identity.StatusPendingActivation, identity.StatusPendingValidation:
		return "orange"
	case identity.StatusSuspended:
		return "red"
	}
	return "grey"
}
