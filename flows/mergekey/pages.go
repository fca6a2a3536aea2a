package mergekey

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// The pages' content, drawn inside web's layout, and their messages, one
// JSON object per language (key -> message, a fmt format when the page
// passes arguments).
var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed locales/*.json
	localeFS embed.FS
)

// languages of the pages, the default first; web chooses among them.
var languages = []string{"fr", "en"}

// Form fields.
const (
	fieldKey             = "key"
	fieldConfirm         = "confirm"
	fieldSurvivorVersion = "survivor_version"
	fieldRetiredVersion  = "retired_version"
)

// templates are the pages: key (generate, or the key shown once), merge
// (paste a key; the merged users), preview (confirm) and message.
type templates struct {
	key, merge, preview, message *web.FlowTemplate
}

func parseTemplates() (templates, error) {
	var t templates
	err := web.ParseFlowTemplates(templateFS, nil, []string{"merged.html"}, map[string]**web.FlowTemplate{
		"key.html": &t.key, "merge.html": &t.merge, "preview.html": &t.preview, "message.html": &t.message,
	})
	if err != nil {
		return templates{}, fmt.Errorf("mergekey: %w", err)
	}
	return t, nil
}

// msgs is one language's messages, with the time zone the pages write
// times in.
type msgs struct{ web.Messages }

// field names a canonical field: its label, or the name itself.
func (m msgs) field(name string) string {
	if key := "field." + name; m.Has(key) {
		return m.T(key)
	}
	return name
}

// catalogs are the messages of every language, with the pages' zone.
type catalogs struct {
	web.Catalog
	loc *time.Location
}

func loadCatalogs(loc *time.Location) (catalogs, error) {
	cat, err := web.LoadCatalog(localeFS, "mergekey")
	return catalogs{cat, loc}, err
}

// get returns the messages of a tag, French when it has none.
func (c catalogs) get(tag string) msgs { return msgs{c.Messages(tag, c.loc)} }

// pageData is what the pages' content reads as .Data.
type pageData struct {
	msgs
	CSRFField  string
	KeyPath    string
	MergePath  string
	LogoutPath string
	// Error is shown above the form.
	Error string
	// Key is the key just generated (key page), or the key typed (merge
	// form, preview).
	Key string
	// Expires is when the key just generated stops working.
	Expires string
	// Active is when the account's pending key stops working, if any.
	Active string
	// Merged are the merged users (merge page, done message).
	Merged     []mergedView
	ShowMerged bool
	Preview    *previewView
	Paragraphs []string
	Links      []pageLink
}

type mergedView struct{ Login, Name, When string }

type pageLink struct{ Href, Label string }

type previewView struct {
	Survivor, Retired string // how each account is named
	RetiredName       string
	RetiredEmails     string
	Fields            []fieldView
	Emails            int
	Links             int
	Memberships       int
	Expires           string
	SurvivorVersion   int64
	RetiredVersion    int64
}

type fieldView struct{ Label, Survivor, Retired, Value string }

// label names an account on the pages: its login, else its name, else an
// address, else its id.
func label(s Summary) string {
	switch {
	case s.Login != "":
		return s.Login
	case s.Name() != "":
		return s.Name()
	case len(s.Emails) > 0:
		return s.Emails[0]
	}
	return s.ID
}

func (h *Handler) msgs(c *gin.Context) msgs { return h.cat.get(h.web.FlowLanguage(c)) }

func (h *Handler) data(m msgs) *pageData {
	return &pageData{msgs: m, CSRFField: web.CSRFField, KeyPath: PathKeyPage, MergePath: PathMergePage,
		LogoutPath: web.PathLogout}
}

// render draws a page; the language switch reloads path.
func (h *Handler) render(c *gin.Context, status int, t *web.FlowTemplate, path, title string, d *pageData) {
	h.web.RenderFlow(c, status, t, web.FlowView{Title: title, Reload: path, Data: d})
}

// message draws a message page.
func (h *Handler) message(c *gin.Context, status int, m msgs, path, title string, paragraphs []string, links ...pageLink) {
	d := h.data(m)
	d.Paragraphs, d.Links = paragraphs, links
	h.render(c, status, h.tpl.message, path, title, d)
}

// account returns the account of the login session, or draws the page
// that asks to log in (401).
func (h *Handler) account(c *gin.Context, m msgs, path string) (string, bool) {
	id, ok := "", false
	if s, valid := h.web.Session(c.Request); valid {
		id, ok = s.AccountID, true
	}
	if !ok {
		h.message(c, http.StatusUnauthorized, m, path, m.T("login.title"), []string{m.T("login.body")},
			pageLink{Href: web.PathLogin, Label: m.T("login.link")})
	}
	return id, ok
}

// guardPost bounds the body and refuses a POST that is not from one of
// canonid's forms (403).
func (h *Handler) guardPost(c *gin.Context, m msgs, path string) bool {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	if h.web.CheckFlowPost(c) {
		return true
	}
	h.message(c, http.StatusForbidden, m, path, m.T("csrf.title"), []string{m.T("csrf.body")},
		pageLink{Href: path, Label: m.T("csrf.reload")})
	return false
}

// pageError logs err and draws the error page (500).
func (h *Handler) pageError(c *gin.Context, m msgs, path, what string, err error) {
	h.log.ErrorContext(c.Request.Context(), "merge key page: "+what+" failed", "error", err)
	h.message(c, http.StatusInternalServerError, m, path, m.T("error.title"), []string{m.T("error.body")})
}

func (h *Handler) getKeyPage(c *gin.Context) {
	m := h.msgs(c)
	id, ok := h.account(c, m, PathKeyPage)
	if !ok {
		return
	}
	expires, active, err := h.svc.ActiveKey(c.Request.Context(), id)
	if err != nil {
		h.pageError(c, m, PathKeyPage, "read the pending key", err)
		return
	}
	d := h.data(m)
	if active {
		d.Active = m.When(expires)
	}
	h.render(c, http.StatusOK, h.tpl.key, PathKeyPage, m.T("key.title"), d)
}

// postKeyPage generates a key and shows it, once.
func (h *Handler) postKeyPage(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathKeyPage) {
		return
	}
	id, ok := h.account(c, m, PathKeyPage)
	if !ok {
		return
	}
	key, expires, err := h.svc.Generate(c.Request.Context(), id)
	switch {
	case errors.Is(err, ErrNotMergeable):
		h.message(c, http.StatusConflict, m, PathKeyPage, m.T("key.title"), []string{m.T("merge.error.status")})
		return
	case err != nil:
		h.pageError(c, m, PathKeyPage, "generate a key", err)
		return
	}
	d := h.data(m)
	d.Key, d.Expires = key, m.When(expires)
	h.render(c, http.StatusOK, h.tpl.key, PathKeyPage, m.T("key.title"), d)
}

func (h *Handler) getMergePage(c *gin.Context) {
	m := h.msgs(c)
	id, ok := h.account(c, m, PathMergePage)
	if !ok {
		return
	}
	h.renderMergeForm(c, http.StatusOK, m, id, "", "")
}

// renderMergeForm draws the form to paste a key, with the merged users.
func (h *Handler) renderMergeForm(c *gin.Context, status int, m msgs, accountID, key, errMsg string) {
	users, err := h.svc.MergedUsers(c.Request.Context(), accountID)
	if err != nil {
		h.pageError(c, m, PathMergePage, "list merged users", err)
		return
	}
	d := h.data(m)
	d.Key, d.Error, d.Merged = key, errMsg, mergedViews(m, users)
	h.render(c, status, h.tpl.merge, PathMergePage, m.T("merge.title"), d)
}

func mergedViews(m msgs, users []MergedUser) []mergedView {
	out := make([]mergedView, 0, len(users))
	for _, u := range users {
		login := u.Login
		if login == "" {
			login = u.AccountID
		}
		out = append(out, mergedView{Login: login, Name: u.Name, When: m.When(u.MergedAt)})
	}
	return out
}

// postMergePage previews the merge of a pasted key, or, with confirm,
// merges.
func (h *Handler) postMergePage(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathMergePage) {
		return
	}
	id, ok := h.account(c, m, PathMergePage)
	if !ok {
		return
	}
	key := strings.TrimSpace(c.PostForm(fieldKey))
	if key == "" {
		h.renderMergeForm(c, http.StatusBadRequest, m, id, "", m.T("merge.error.empty"))
		return
	}
	confirm := c.PostForm(fieldConfirm) == "1"
	seen := Versions{Survivor: formInt(c, fieldSurvivorVersion), Retired: formInt(c, fieldRetiredVersion)}
	ctx := c.Request.Context()
	var p Preview
	var rec identity.MergeRecord
	wait, err := h.redeem(c, id, func() error {
		var err error
		if confirm {
			rec, err = h.svc.MergeSeen(ctx, id, key, "account:"+id, seen)
		} else {
			p, err = h.svc.Preview(ctx, id, key)
		}
		return err
	})
	var stale *accounts.StaleError
	switch {
	case wait > 0:
		c.Header("Retry-After", jsonapi.RetryAfter(wait))
		minutes := max(int(math.Ceil(wait.Minutes())), 1)
		h.message(c, http.StatusTooManyRequests, m, PathMergePage, m.T("ratelimit.title"), []string{m.T("ratelimit.body", minutes)})
	case errors.Is(err, ErrInvalidKey):
		h.renderMergeForm(c, http.StatusBadRequest, m, id, key, m.T("merge.error.invalid"))
	case errors.Is(err, ErrOwnKey):
		h.renderMergeForm(c, http.StatusBadRequest, m, id, key, m.T("merge.error.own"))
	case errors.Is(err, ErrNotMergeable):
		h.renderMergeForm(c, http.StatusConflict, m, id, key, m.T("merge.error.status"))
	case errors.As(err, &stale):
		// The key is still unused: show the preview as it is now.
		p, err := h.svc.Preview(ctx, id, key)
		if err != nil {
			h.renderMergeForm(c, http.StatusConflict, m, id, key, m.T("merge.error.invalid"))
			return
		}
		h.renderPreview(c, http.StatusConflict, m, key, p, m.T("preview.error.stale"))
	case errors.Is(err, accounts.ErrMergeConflict), errors.Is(err, store.ErrDuplicate):
		h.renderMergeForm(c, http.StatusConflict, m, id, key, m.T("merge.error.conflict"))
	case errors.Is(err, store.ErrConflict):
		h.renderMergeForm(c, http.StatusConflict, m, id, key, m.T("merge.error.busy"))
	case err != nil:
		h.pageError(c, m, PathMergePage, "merge by key", err)
	case confirm:
		h.renderDone(c, m, id, rec)
	default:
		h.renderPreview(c, http.StatusOK, m, key, p, "")
	}
}

func formInt(c *gin.Context, field string) int64 {
	n, err := strconv.ParseInt(c.PostForm(field), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (h *Handler) renderPreview(c *gin.Context, status int, m msgs, key string, p Preview, errMsg string) {
	empty := m.T("value.empty")
	orEmpty := func(s string) string {
		if s == "" {
			return empty
		}
		return s
	}
	v := &previewView{
		Survivor: label(p.Survivor), Retired: label(p.Retired), RetiredName: p.Retired.Name(),
		RetiredEmails: strings.Join(p.Retired.Emails, ", "),
		Emails:        len(p.Plan.Moved.Emails), Links: len(p.Plan.Moved.Links), Memberships: len(p.Plan.Moved.Memberships),
		Expires: m.When(p.KeyExpiresAt), SurvivorVersion: p.Survivor.Version, RetiredVersion: p.Retired.Version,
	}
	for _, f := range p.Plan.Fields {
		v.Fields = append(v.Fields, fieldView{Label: m.field(f.Field), Survivor: orEmpty(f.Survivor),
			Retired: orEmpty(f.Retired), Value: orEmpty(f.Value)})
	}
	d := h.data(m)
	d.Key, d.Error, d.Preview = key, errMsg, v
	h.render(c, status, h.tpl.preview, PathMergePage, m.T("preview.title"), d)
}

// renderDone says the merge is made and lists the merged users.
func (h *Handler) renderDone(c *gin.Context, m msgs, accountID string, rec identity.MergeRecord) {
	users, err := h.svc.MergedUsers(c.Request.Context(), accountID)
	if err != nil {
		h.pageError(c, m, PathMergePage, "list merged users", err)
		return
	}
	retired := rec.RetiredID
	for _, u := range users {
		if u.MergeID == rec.ID && u.Login != "" {
			retired = u.Login
		}
	}
	d := h.data(m)
	d.Paragraphs = []string{m.T("done.body", retired)}
	d.Merged, d.ShowMerged = mergedViews(m, users), true
	d.Links = []pageLink{{Href: PathMergePage, Label: m.T("done.back")}}
	h.render(c, http.StatusOK, h.tpl.message, PathMergePage, m.T("done.title"), d)
}
