package registration

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// The coordinators' console: the server-rendered pages of seed 003 for a
// person logged in through canonid's login page (the web session cookie)
// who is a validated org-admin of an org with an active account. They list
// the org's members with their status in colour and in words, validate
// pending members, download their documents and write to selected
// members. They work without JavaScript: every action is a form whose POST
// carries the CSRF token of the login pages and answers with a redirect to
// the list (post/redirect/get).

// PathConsole is the console's entry: it leads to the member list of the
// org the person coordinates, or lists them when there are several.
const PathConsole = "/console"

// ConsolePageSize is how many members a page of the list shows.
const ConsolePageSize = 50

// maxConsoleForm bounds a console POST: a message of 20,000 characters,
// percent-encoded, and the ids of a page of members.
const maxConsoleForm = 512 << 10

// Form fields and query parameters of the console.
const (
	fieldPage      = "page"
	fieldAccount   = "account"
	fieldSubject   = "subject"
	fieldBody      = "body"
	paramValidated = "validated"
	paramAlready   = "already"
	paramSent      = "sent"
	paramSkipped   = "skipped"
)

// Sessions returns the valid login session of a request: web.Handler's
// Session.
type Sessions interface {
	Session(r *http.Request) (store.Session, bool)
}

// ConsoleMembersPath is the member list of an org in the console.
func ConsoleMembersPath(orgID string) string {
	return PathConsole + "/orgs/" + url.PathEscape(orgID) + "/members"
}

// MountConsole registers the coordinators' pages on e, for the people
// sessions logs in:
//
//   - GET PathConsole: the org the person coordinates (303), or the list of
//     them;
//   - GET /console/orgs/:org/members?page=N: the members, 50 a page;
//   - POST /console/orgs/:org/members/:account/validate: validates a
//     member (Service.Validate, by "account:<id>"), then 303 to the list;
//   - POST /console/orgs/:org/mail: writes to the members checked in the
//     list (Service.SendMessage), then 303 to the list;
//   - GET /console/orgs/:org/members/:account/documents/:id: a member's
//     document, as an attachment.
//
// Without a session they redirect (303) to the login page, which brings the
// person back (web.WithNext: the page asked for, or the list after a POST);
// a person who is not a validated org-admin of the org with an active
// account gets a 403 page that shows nothing of the org. POSTs from another
// site, or without the CSRF token of this browser, get a 403 page and do
// nothing.
func (h *Handler) MountConsole(e *gin.Engine, sessions Sessions) {
	h.mountConsole(e, sessions, ConsolePageSize)
}

func (h *Handler) mountConsole(e *gin.Engine, sessions Sessions, pageSize int) {
	cn := &console{h: h, sessions: sessions, pageSize: pageSize}
	e.GET(PathConsole, cn.index)
	g := e.Group(PathConsole + "/orgs/:org")
	g.GET("/members", cn.list)
	g.POST("/members/:account/validate", cn.validate)
	g.POST("/mail", cn.mail)
	g.GET("/members/:account/documents/:id", cn.document)
}

// console serves the coordinators' pages.
type console struct {
	h        *Handler
	sessions Sessions
	pageSize int
}

// --- access ------------------------------------------------------------

// coordinator returns the account id of the request's session when it
// coordinates orgID. Otherwise it answers itself — a redirect to the login
// page without a session, the forbidden page else — and returns false.
func (cn *console) coordinator(c *gin.Context, lang, orgID string) (string, bool) {
	s, ok := cn.sessions.Session(c.Request)
	if !ok {
		noStore(c)
		// Back to this page once logged in; a form posted is not posted
		// again: back to its list.
		back := c.Request.URL.RequestURI()
		if c.Request.Method != http.MethodGet {
			back = ConsoleMembersPath(orgID)
		}
		c.Redirect(http.StatusSeeOther, web.WithNext(cn.h.svc.cfg.LoginPath, back))
		return "", false
	}
	ok, err := cn.h.svc.coordinates(c.Request.Context(), orgID, s.AccountID)
	if err != nil {
		cn.h.pageFail(c, lang, err)
		return "", false
	}
	if !ok {
		cn.forbidden(c, lang)
		return "", false
	}
	return s.AccountID, true
}

// forbidden is the 403 page: the same whether the org exists or not.
func (cn *console) forbidden(c *gin.Context, lang string) {
	t := cn.h.cat.T
	cn.message(c, http.StatusForbidden, lang, "", t(lang, "console.forbidden.title"),
		[]string{t(lang, "console.forbidden.body")},
		pageLink{Href: cn.h.svc.cfg.LoginPath, Label: t(lang, "console.forbidden.login")})
}

// checkPost refuses (403) a POST from another site or without this
// browser's CSRF token. It reports whether the POST may go on.
func (cn *console) checkPost(c *gin.Context, lang string) bool {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxConsoleForm)
	if cn.h.pages.CheckFlowPost(c) {
		return true
	}
	t := cn.h.cat.T
	cn.message(c, http.StatusForbidden, lang, ConsoleMembersPath(c.Param("org")), t(lang, "csrf.title"),
		[]string{t(lang, "csrf.body")},
		pageLink{Href: ConsoleMembersPath(c.Param("org")), Label: t(lang, "console.back")})
	return false
}

// message renders a message page whose language switch reloads reload
// (the request's own URL when empty and the request is a GET).
func (cn *console) message(c *gin.Context, status int, lang, reload, title string, paragraphs []string, links ...pageLink) {
	if reload == "" && c.Request.Method != http.MethodGet {
		reload = PathConsole
	}
	cn.h.pages.RenderFlow(c, status, cn.h.tmpl.message, web.FlowView{Title: title, Reload: reload,
		Data: messageData{Paragraphs: paragraphs, Links: links}})
}

// noStore keeps a redirect out of caches, as the pages are.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
}

// coordinates reports whether the account is a validated org-admin of the
// org and active. An unknown org or account is a false.
func (s *Service) coordinates(ctx context.Context, orgID, accountID string) (bool, error) {
	ok := false
	err := s.st.View(ctx, func(tx store.Tx) error {
		m, err := tx.Memberships().Get(ctx, orgID, accountID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		a, err := tx.Accounts().Get(ctx, accountID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		ok = m.Role == identity.RoleOrgAdmin && m.State == identity.MembershipValidated && a.Status == identity.StatusActive
		return nil
	})
	return ok, err
}

// coordinatedOrgs returns the orgs the account coordinates, in the order
// of its memberships; none when the account is not active.
func (s *Service) coordinatedOrgs(ctx context.Context, accountID string) ([]identity.Org, error) {
	var out []identity.Org
	err := s.st.View(ctx, func(tx store.Tx) error {
		out = nil
		a, err := tx.Accounts().Get(ctx, accountID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && a.Status != identity.StatusActive) {
			return nil
		} else if err != nil {
			return err
		}
		ms, err := tx.Memberships().ListByAccount(ctx, accountID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Role != identity.RoleOrgAdmin || m.State != identity.MembershipValidated {
				continue
			}
			o, err := tx.Orgs().Get(ctx, m.OrgID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// documentsOfMembers returns the documents of several members of an org,
// by account id, in one read.
func (s *Service) documentsOfMembers(ctx context.Context, accountIDs []string) (map[string][]Document, error) {
	out := make(map[string][]Document, len(accountIDs))
	if s.docs == nil {
		return out, nil
	}
	err := s.st.View(ctx, func(tx store.Tx) error {
		for _, id := range accountIDs {
			docs, err := documentsOf(ctx, tx, id)
			if err != nil {
				return err
			}
			out[id] = docs
		}
		return nil
	})
	return out, err
}

// --- pages -------------------------------------------------------------

// index leads to the org the person coordinates.
func (cn *console) index(c *gin.Context) {
	lang := cn.h.pages.FlowLanguage(c)
	s, ok := cn.sessions.Session(c.Request)
	if !ok {
		noStore(c)
		c.Redirect(http.StatusSeeOther, web.WithNext(cn.h.svc.cfg.LoginPath, PathConsole))
		return
	}
	orgs, err := cn.h.svc.coordinatedOrgs(c.Request.Context(), s.AccountID)
	switch {
	case err != nil:
		cn.h.pageFail(c, lang, err)
	case len(orgs) == 0:
		cn.forbidden(c, lang)
	case len(orgs) == 1:
		noStore(c)
		c.Redirect(http.StatusSeeOther, ConsoleMembersPath(orgs[0].ID))
	default:
		links := make([]pageLink, 0, len(orgs))
		for _, o := range orgs {
			links = append(links, pageLink{Href: ConsoleMembersPath(o.ID), Label: orgName(o)})
		}
		t := cn.h.cat.T
		cn.message(c, http.StatusOK, lang, "", t(lang, "console.orgs.title"), []string{t(lang, "console.orgs.body")}, links...)
	}
}

// list shows a page of the members, with the notice of the action that
// redirected here, if any.
func (cn *console) list(c *gin.Context) {
	lang := cn.h.pages.FlowLanguage(c)
	orgID := c.Param("org")
	if _, ok := cn.coordinator(c, lang, orgID); !ok {
		return
	}
	page, _ := strconv.Atoi(c.Query(fieldPage))
	cn.render(c, http.StatusOK, lang, orgID, page, listNotice{
		validated: c.Query(paramValidated), already: c.Query(paramAlready),
		sent: c.Query(paramSent), skipped: c.Query(paramSkipped),
	}, mailForm{})
}

// listNotice is what the action before the list did (the query of its
// redirect); the list turns it into sentences.
type listNotice struct {
	validated, already string // account ids
	sent, skipped      string // counts
}

// mailForm is the message form as posted, shown again with its error.
type mailForm struct {
	Error    string
	Subject  string
	Body     string
	Selected map[string]bool
}

// membersURL is a page of the list, with the parameters of a notice.
func membersURL(orgID string, page int, notice ...string) string {
	q := url.Values{}
	if page > 1 {
		q.Set(fieldPage, strconv.Itoa(page))
	}
	for i := 0; i+1 < len(notice); i += 2 {
		q.Set(notice[i], notice[i+1])
	}
	if len(q) == 0 {
		return ConsoleMembersPath(orgID)
	}
	return ConsoleMembersPath(orgID) + "?" + q.Encode()
}

// render draws a page of the list.
func (cn *console) render(c *gin.Context, status int, lang, orgID string, page int, n listNotice, form mailForm) {
	ctx := c.Request.Context()
	o, ok := cn.h.orgOf(c, orgID)
	if !ok {
		cn.forbidden(c, lang)
		return
	}
	members, err := cn.h.svc.Members(ctx, orgID)
	if err != nil {
		cn.h.pageFail(c, lang, err)
		return
	}
	pages := max(1, (len(members)+cn.pageSize-1)/cn.pageSize)
	page = min(max(page, 1), pages)
	shown := members[min((page-1)*cn.pageSize, len(members)):min(page*cn.pageSize, len(members))]
	ids := make([]string, len(shown))
	for i, m := range shown {
		ids[i] = m.AccountID
	}
	docs, err := cn.h.svc.documentsOfMembers(ctx, ids)
	if err != nil {
		cn.h.pageFail(c, lang, err)
		return
	}

	t := func(key string, args ...any) string { return cn.h.cat.T(lang, key, args...) }
	name := orgName(o)
	d := consoleData{t: t, Page: page, Form: form,
		Summary:    t("console.summary", len(members), countPending(members)),
		Caption:    t("console.caption", name, page, pages),
		Refresh:    membersURL(orgID, page),
		MailAction: PathConsole + "/orgs/" + url.PathEscape(orgID) + "/mail",
	}
	d.Notices = cn.notices(t, members, n)
	if page > 1 {
		d.Prev = membersURL(orgID, page-1)
	}
	if page < pages {
		d.Next = membersURL(orgID, page+1)
	}
	for _, m := range shown {
		d.Rows = append(d.Rows, cn.row(lang, t, orgID, m, docs[m.AccountID], form.Selected[m.AccountID]))
	}
	cn.h.pages.RenderFlow(c, status, cn.h.tmpl.console, web.FlowView{Title: t("console.title", name),
		Reload: membersURL(orgID, page), Data: d})
}

func countPending(ms []Member) int {
	n := 0
	for _, m := range ms {
		if m.State == identity.MembershipPending {
			n++
		}
	}
	return n
}

// notices turns the query of a redirect into sentences; what does not
// name a member of the list, or a count, is ignored.
func (cn *console) notices(t func(string, ...any) string, members []Member, n listNotice) []string {
	nameOf := func(id string) (string, bool) {
		for _, m := range members {
			if m.AccountID == id {
				return memberName(m), true
			}
		}
		return "", false
	}
	var out []string
	if who, ok := nameOf(n.validated); ok && n.validated != "" {
		out = append(out, t("console.validated", who))
	}
	if who, ok := nameOf(n.already); ok && n.already != "" {
		out = append(out, t("console.already", who))
	}
	if sent, err := strconv.Atoi(n.sent); err == nil && sent >= 0 {
		out = append(out, t("console.sent", sent))
	}
	if skipped, err := strconv.Atoi(n.skipped); err == nil && skipped > 0 {
		out = append(out, t("console.skipped", skipped))
	}
	return out
}

// memberName is how the list names a member: their names, else their
// login, else their address.
func memberName(m Member) string {
	if n := strings.TrimSpace(m.GivenName + " " + m.FamilyName); n != "" {
		return n
	}
	if m.Login != "" {
		return m.Login
	}
	if m.Email != "" {
		return m.Email
	}
	return m.AccountID
}

// row is one member of the list.
func (cn *console) row(lang string, t func(string, ...any) string, orgID string, m Member, docs []Document, selected bool) consoleRow {
	name := memberName(m)
	r := consoleRow{ID: m.AccountID, Name: name, Email: m.Email, Phone: m.Phone, Status: m.Status,
		Selected: selected, SelectLabel: t("console.select", name)}
	if m.Email != "" && !m.EmailVerified {
		r.EmailNote = t("console.email.unverified")
	}
	if m.Phone != "" && m.PhoneVerified {
		r.PhoneNote = t("console.phone.verified")
	}
	if m.Role == identity.RoleOrgAdmin {
		r.Role = t("console.role.admin")
	}
	switch {
	case m.Status == StatusGreen:
		r.StatusLabel = t("console.status.green")
	case m.Status == StatusRed:
		r.StatusLabel = t("console.status.red")
	case m.State == identity.MembershipValidated:
		r.StatusLabel = t("console.status.orange_address")
	default:
		r.StatusLabel = t("console.status.orange")
	}
	if !m.LastLoginAt.IsZero() {
		r.LastLogin, r.LastLoginISO = cn.h.clock(lang, m.LastLoginAt), m.LastLoginAt.UTC().Format(time.RFC3339)
	}
	r.Registered, r.RegisteredISO = cn.day(lang, m.CreatedAt), m.CreatedAt.UTC().Format(time.RFC3339)
	base := PathConsole + "/orgs/" + url.PathEscape(orgID) + "/members/" + url.PathEscape(m.AccountID)
	for _, d := range docs {
		r.Documents = append(r.Documents, pageLink{Href: base + "/documents/" + url.PathEscape(d.ID),
			Label: t("console.document", d.Name, (d.Size+1023)/1024)})
	}
	if m.State == identity.MembershipPending {
		r.Validate = &validateForm{Action: base + "/validate", Label: t("console.validate.label", name)}
	}
	return r
}

// day writes a date in the configured time zone.
func (cn *console) day(lang string, t time.Time) string {
	t = t.In(cn.h.svc.cfg.Location)
	if lang == "en" {
		return t.Format("2 January 2006")
	}
	return t.Format("02/01/2006")
}

// consoleData is what templates/console.html shows.
type consoleData struct {
	t       func(string, ...any) string
	Page    int
	Summary string
	Caption string
	Notices []string
	Refresh string
	Rows    []consoleRow
	// Prev and Next are the neighbouring pages, "" at the ends.
	Prev, Next string
	MailAction string
	Form       mailForm
}

// T returns the message of key in the page's language.
func (d consoleData) T(key string, args ...any) string { return d.t(key, args...) }

// consoleRow is a member as the list shows them.
type consoleRow struct {
	ID, Name, Role          string
	Email, EmailNote        string
	Phone, PhoneNote        string
	Status, StatusLabel     string
	LastLogin, LastLoginISO string
	Registered              string
	RegisteredISO           string
	Documents               []pageLink
	Validate                *validateForm
	Selected                bool
	SelectLabel             string
}

// validateForm is the "Valider" button of a pending member.
type validateForm struct {
	Action, Label string
}

// --- actions -----------------------------------------------------------

// validate validates a member, then shows the list again.
func (cn *console) validate(c *gin.Context) {
	lang := cn.h.pages.FlowLanguage(c)
	if !cn.checkPost(c, lang) {
		return
	}
	orgID, accountID := c.Param("org"), c.Param("account")
	me, ok := cn.coordinator(c, lang, orgID)
	if !ok {
		return
	}
	page, _ := strconv.Atoi(c.PostForm(fieldPage))
	_, err := cn.h.svc.Validate(c.Request.Context(), orgID, accountID, actor(me))
	switch {
	case err == nil:
		noStore(c)
		c.Redirect(http.StatusSeeOther, membersURL(orgID, page, paramValidated, accountID))
	case errors.Is(err, ErrAlreadyValidated):
		noStore(c)
		c.Redirect(http.StatusSeeOther, membersURL(orgID, page, paramAlready, accountID))
	case errors.Is(err, ErrNotMember):
		t := cn.h.cat.T
		cn.message(c, http.StatusNotFound, lang, membersURL(orgID, page), t(lang, "console.not_member.title"),
			[]string{t(lang, "console.not_member.body")}, pageLink{Href: membersURL(orgID, page), Label: t(lang, "console.back")})
	default:
		cn.h.pageFail(c, lang, err)
	}
}

// mail writes to the members checked in the list, then shows the list
// again; a refused message shows the form again with what was typed.
func (cn *console) mail(c *gin.Context) {
	lang := cn.h.pages.FlowLanguage(c)
	if !cn.checkPost(c, lang) {
		return
	}
	orgID := c.Param("org")
	me, ok := cn.coordinator(c, lang, orgID)
	if !ok {
		return
	}
	page, _ := strconv.Atoi(c.PostForm(fieldPage))
	ids := c.PostFormArray(fieldAccount)
	form := mailForm{Subject: c.PostForm(fieldSubject), Body: c.PostForm(fieldBody), Selected: map[string]bool{}}
	for _, id := range ids {
		form.Selected[id] = true
	}
	switch {
	case len(ids) == 0:
		form.Error = cn.h.cat.T(lang, "console.mail.none")
	case strings.TrimSpace(form.Subject) == "" || strings.TrimSpace(form.Body) == "":
		form.Error = cn.h.cat.T(lang, "console.mail.missing")
	}
	if form.Error != "" {
		cn.render(c, http.StatusBadRequest, lang, orgID, page, listNotice{}, form)
		return
	}
	sent, err := cn.h.svc.SendMessage(c.Request.Context(), orgID, Message{AccountIDs: ids, Subject: form.Subject, Body: form.Body}, actor(me))
	switch {
	case err == nil:
		noStore(c)
		c.Redirect(http.StatusSeeOther, membersURL(orgID, page,
			paramSent, strconv.Itoa(len(sent.Queued)), paramSkipped, strconv.Itoa(len(sent.Skipped))))
	case errors.Is(err, ErrInvalid):
		form.Error = cn.h.cat.T(lang, "console.mail.invalid")
		cn.render(c, http.StatusBadRequest, lang, orgID, page, listNotice{}, form)
	default:
		cn.h.pageFail(c, lang, err)
	}
}

// document sends a member's document as an attachment that the browser
// neither sniffs nor runs.
func (cn *console) document(c *gin.Context) {
	lang := cn.h.pages.FlowLanguage(c)
	orgID := c.Param("org")
	if _, ok := cn.coordinator(c, lang, orgID); !ok {
		return
	}
	d, r, err := cn.h.svc.OpenDocument(c.Request.Context(), orgID, c.Param("account"), c.Param("id"))
	if err != nil {
		if errors.Is(err, ErrNotMember) || errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrDocumentsUnavailable) {
			t := cn.h.cat.T
			cn.message(c, http.StatusNotFound, lang, "", t(lang, "console.document.title"),
				[]string{t(lang, "console.document.body")}, pageLink{Href: ConsoleMembersPath(orgID), Label: t(lang, "console.back")})
			return
		}
		cn.h.pageFail(c, lang, fmt.Errorf("open document: %w", err))
		return
	}
	defer r.Close()
	hd := c.Writer.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Name}))
	c.DataFromReader(http.StatusOK, int64(d.Size), d.ContentType, r, nil)
}
