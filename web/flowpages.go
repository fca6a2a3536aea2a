package web

import (
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"
)

// Pages of other packages (the flows: e-mail verification, merge key, …)
// drawn in the layout of the login pages, with their language choice, their
// security headers and their CSRF protection.

// CSRFField is the name of the hidden field that carries the CSRF token of
// a form (FlowPage.CSRF); CheckFlowPost checks it.
const CSRFField = csrfField

// FlowTemplate is a page of another package: the layout of the login pages
// around the package's own "content" template.
type FlowTemplate struct{ t *template.Template }

// ParseFlowTemplate parses the files of fsys matching patterns, which
// define "content", inside the layout. The content reads a FlowPage: .Title,
// .CSRF (the value of the CSRFField of its forms), .Lang ("fr", "en") and
// .Data (the package's own data). funcs may be nil.
func ParseFlowTemplate(fsys fs.FS, funcs template.FuncMap, patterns ...string) (*FlowTemplate, error) {
	layout, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	if funcs != nil {
		layout = layout.Funcs(funcs)
	}
	t, err := layout.ParseFS(fsys, patterns...)
	if err != nil {
		return nil, err
	}
	if t.Lookup("content") == nil {
		return nil, errors.New(`flow template: no "content" template defined`)
	}
	return &FlowTemplate{t: t}, nil
}

// ParseFlowTemplates parses a package's pages with ParseFlowTemplate: each
// file named in pages, then the files of shared (the partials the pages
// use), all under fsys's templates/ folder, into the page's destination.
// The error names the first file, in name order, that fails.
func ParseFlowTemplates(fsys fs.FS, funcs template.FuncMap, shared []string, pages map[string]**FlowTemplate) error {
	for _, name := range slices.Sorted(maps.Keys(pages)) {
		patterns := []string{"templates/" + name}
		for _, f := range shared {
			patterns = append(patterns, "templates/"+f)
		}
		t, err := ParseFlowTemplate(fsys, funcs, patterns...)
		if err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		*pages[name] = t
	}
	return nil
}

// FlowPage is what a FlowTemplate's content reads.
type FlowPage struct {
	view
	// Lang is the page's language tag ("fr", "en").
	Lang string
	// Data is the package's own data.
	Data any
}

// FlowView is a flow page to render.
type FlowView struct {
	// Title is the page's title (its <title> and what content shows).
	Title string
	// Reload is the GET URL the language switch reloads (the page adds
	// the lang parameter); "" means the request's own URL for a GET or
	// HEAD, the login page otherwise.
	Reload string
	// Data is handed to the content as .Data.
	Data any
}

// FlowLanguage returns the language of the page of this request, chosen as
// the login pages choose theirs (the lang parameter, which it keeps in a
// cookie, then the cookie, then Accept-Language, then French): "fr" or
// "en". A flow picks its own messages in that language.
func (h *Handler) FlowLanguage(c *gin.Context) string { return h.locale(c, nil).Tag }

// RenderFlow writes a flow page with status: the security headers of the
// login pages (no cache, no framing, no script, no referrer), the layout in
// the request's language with its switch link, and a fresh CSRF token for
// its forms (setting the CSRF cookie when the browser has none).
func (h *Handler) RenderFlow(c *gin.Context, status int, p *FlowTemplate, v FlowView) {
	h.headers(c)
	loc := h.locale(c, nil)
	other := h.cat.other(loc)
	reload := v.Reload
	if reload == "" {
		reload = PathLogin
		if m := c.Request.Method; m == http.MethodGet || m == http.MethodHead {
			reload = c.Request.URL.RequestURI()
		}
	}
	sw := reload
	if u, err := url.Parse(reload); err == nil {
		q := u.Query()
		q.Set(langParam, other.Tag)
		u.RawQuery = q.Encode()
		sw = u.String()
	}
	page := FlowPage{
		view: view{L: loc, Title: v.Title, CSRF: h.csrfToken(c), CSS: PathCSS,
			Switch: link{Href: sw, Label: other.T("lang.name"), Lang: other.Tag}},
		Lang: loc.Tag, Data: v.Data,
	}
	if h.accountPath != "" {
		if _, ok := h.Session(c.Request); ok {
			page.Account = &link{Href: h.accountPath, Label: loc.T("nav.account"),
				Current: c.Request.URL.Path == h.accountPath}
		}
	}
	h.render(c, status, p.t, page)
}

// CheckFlowPost reports whether a POST of a flow page may act: it does not
// come from another site (Origin, Sec-Fetch-Site) and its CSRFField matches
// the browser's CSRF cookie. The caller renders its own refusal (403).
func (h *Handler) CheckFlowPost(c *gin.Context) bool {
	return h.checkOrigin(c.Request) && h.checkCSRF(c)
}
