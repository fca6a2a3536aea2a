package registration

import (
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ratelimit"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// PathRegister is the registration form of an org: PathRegister?org=<id>;
// PathPhone is where the confirmation page's phone forms post.
const (
	PathRegister = "/register"
	PathPhone    = "/register/phone"
)

// Pages is what the handler needs of the login pages (web.Handler): drawing
// its pages in their layout with their CSRF protection.
type Pages interface {
	FlowLanguage(c *gin.Context) string
	RenderFlow(c *gin.Context, status int, p *web.FlowTemplate, v web.FlowView)
	CheckFlowPost(c *gin.Context) bool
}

// CallerFunc returns the authenticated API token of a request (the server
// package's Caller, on the request's context).
type CallerFunc func(r *http.Request) (store.APIToken, bool)

// Handler serves the flow: the registration form and the page the mailed
// links open, and the org administrators' routes of /api/v1.
type Handler struct {
	svc    *Service
	pages  Pages
	caller CallerFunc
	log    *slog.Logger
	tmpl   templates
	cat    catalog
	now    func() time.Time

	ipLimit      *ratelimit.Limiter // registrations and failed link redemptions per client address
	addressLimit *ratelimit.Limiter // registrations per address given
}

// NewHandler returns the handler of svc; its limits and clock are the
// service's. caller reads the API token of /api/v1 requests. A nil logger
// discards.
func NewHandler(svc *Service, pages Pages, caller CallerFunc, logger *slog.Logger) (*Handler, error) {
	if svc == nil || pages == nil || caller == nil {
		return nil, errors.New("registration: NewHandler needs the service, the pages and the caller")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, pages: pages, caller: caller, log: logger, now: func() time.Time { return svc.now() }}
	var err error
	if h.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	if h.cat, err = loadCatalog(); err != nil {
		return nil, err
	}
	h.ipLimit = newLimiter(svc.cfg.IPLimit, h.now)
	h.addressLimit = newLimiter(svc.cfg.AddressLimit, h.now)
	return h, nil
}

// MountPages registers the pages: GET PathRegister?org= shows the form,
// which POSTs to PathRegister; GET PathConfirm shows what a link is for and
// never acts, its form POSTs to PathConfirm.
func (h *Handler) MountPages(e *gin.Engine) {
	e.GET(PathRegister, h.getRegister)
	e.POST(PathRegister, h.postRegister)
	e.GET(PathConfirm, h.getConfirm)
	e.POST(PathConfirm, h.postConfirm)
	e.POST(PathPhone, h.postPhone)
}

// MountAPI registers the org administrators' routes on the /api/v1 group
// (bearer tokens): GET /orgs/:org/members, POST
// /orgs/:org/members/:account/validate, POST /orgs/:org/mail, and GET,
// POST /orgs/:org/members/:account/documents (the body is the file,
// ?name= its name) and GET .../documents/:id. A support
// token acts on every org, an org-admin token on its own org only (403
// otherwise).
func (h *Handler) MountAPI(g *gin.RouterGroup) {
	org := g.Group("/orgs/:org", h.orgAccess)
	org.GET("/members", h.listMembers)
	org.POST("/members/:account/validate", h.validate)
	org.POST("/mail", h.sendMail)
	org.GET("/members/:account/documents", h.listDocuments)
	org.POST("/members/:account/documents", h.addDocument)
	org.GET("/members/:account/documents/:id", h.getDocument)
}

// Form fields.
const (
	fieldToken      = "token"
	fieldOrg        = "org"
	fieldEmail      = "email"
	fieldGivenName  = "given_name"
	fieldFamilyName = "family_name"
	fieldPhone      = "phone"
	// fieldPassword and fieldPasswordAgain are the password chosen on
	// the confirmation page.
	fieldPassword      = "password"
	fieldPasswordAgain = "password_again"
)

const maxForm = 16 << 10

// --- pages -------------------------------------------------------------

func (h *Handler) orgOf(c *gin.Context, id string) (identity.Org, bool) {
	var o identity.Org
	err := h.svc.st.View(c.Request.Context(), func(tx store.Tx) error {
		var err error
		o, err = tx.Orgs().Get(c.Request.Context(), id)
		return err
	})
	return o, err == nil
}

func (h *Handler) getRegister(c *gin.Context) {
	lang := h.pages.FlowLanguage(c)
	o, ok := h.orgOf(c, c.Query(fieldOrg))
	if !ok {
		h.renderMessage(c, http.StatusNotFound, lang, h.cat.T(lang, "unknown_org.title"), []string{h.cat.T(lang, "unknown_org.body")})
		return
	}
	h.renderRegister(c, http.StatusOK, lang, o, Registration{}, "")
}

func (h *Handler) renderRegister(c *gin.Context, status int, lang string, o identity.Org, r Registration, formError string) {
	name := orgName(o)
	h.pages.RenderFlow(c, status, h.tmpl.form, web.FlowView{Title: h.cat.T(lang, "register.title", name),
		Reload: PathRegister + "?" + url.Values{fieldOrg: {o.ID}}.Encode(),
		Data: formData{Error: formError, Paragraphs: []string{h.cat.T(lang, "register.intro", name)}, Action: PathRegister,
			Hidden: []hiddenField{{fieldOrg, o.ID}},
			Fields: []formField{
				{Type: "email", Name: fieldEmail, Value: r.Email, Label: h.cat.T(lang, "register.email"), Required: true, Autocomplete: "email"},
				{Type: "text", Name: fieldGivenName, Value: r.GivenName, Label: h.cat.T(lang, "register.given_name"), Required: true, Autocomplete: "given-name"},
				{Type: "text", Name: fieldFamilyName, Value: r.FamilyName, Label: h.cat.T(lang, "register.family_name"), Required: true, Autocomplete: "family-name"},
				{Type: "tel", Name: fieldPhone, Value: r.Phone, Label: h.cat.T(lang, "register.phone"), Autocomplete: "tel"},
			},
			Button: h.cat.T(lang, "register.button")}})
}

// postRegister registers; its answer is the same whether the address is
// known or not.
func (h *Handler) postRegister(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	lang := h.pages.FlowLanguage(c)
	if !h.pages.CheckFlowPost(c) {
		h.renderMessage(c, http.StatusForbidden, lang, h.cat.T(lang, "csrf.title"), []string{h.cat.T(lang, "csrf.body")})
		return
	}
	o, ok := h.orgOf(c, c.PostForm(fieldOrg))
	if !ok {
		h.renderMessage(c, http.StatusNotFound, lang, h.cat.T(lang, "unknown_org.title"), []string{h.cat.T(lang, "unknown_org.body")})
		return
	}
	r := Registration{OrgID: o.ID, Email: c.PostForm(fieldEmail), GivenName: c.PostForm(fieldGivenName),
		FamilyName: c.PostForm(fieldFamilyName), Phone: c.PostForm(fieldPhone), Locale: lang}
	check := r
	if err := check.check(); err != nil {
		h.renderRegister(c, http.StatusBadRequest, lang, o, r, h.cat.T(lang, "register.invalid"))
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	if ok, wait := h.addressLimit.Take(check.Email); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	if err := h.svc.RegisterWith(c.Request.Context(), r); err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "sent.title"), []string{h.cat.T(lang, "sent.body"), h.cat.T(lang, "sent.help")})
}

// getConfirm shows what the link is for and the password form; it never
// acts (mail scanners fetch links).
func (h *Handler) getConfirm(c *gin.Context) {
	lang := h.pages.FlowLanguage(c)
	token := c.Query(fieldToken)
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	p, err := h.svc.Inspect(c.Request.Context(), token)
	if err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	h.renderConfirm(c, http.StatusOK, lang, token, p, "")
}

// postPhone sends a phone code (action send) or checks one (action
// verify), then shows the confirmation page again.
func (h *Handler) postPhone(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	lang := h.pages.FlowLanguage(c)
	if !h.pages.CheckFlowPost(c) {
		h.renderMessage(c, http.StatusForbidden, lang, h.cat.T(lang, "csrf.title"), []string{h.cat.T(lang, "csrf.body")})
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	ctx := c.Request.Context()
	token := c.PostForm(fieldToken)
	var err error
	notice := ""
	switch c.PostForm("action") {
	case "send":
		err, notice = h.svc.SendPhoneCode(ctx, token, lang), h.cat.T(lang, "phone.sent")
	case "verify":
		err, notice = h.svc.VerifyPhone(ctx, token, c.PostForm("code")), h.cat.T(lang, "phone.verified")
	default:
		err = ErrNoCode
	}
	status, formError := http.StatusOK, ""
	switch {
	case err == nil:
		h.ipLimit.Give(c.ClientIP())
	case errors.Is(err, ErrWrongCode):
		status, formError = http.StatusBadRequest, h.cat.T(lang, "phone.wrong")
	case errors.Is(err, ErrNoCode):
		status, formError = http.StatusBadRequest, h.cat.T(lang, "phone.none")
	case errors.Is(err, ErrTooManyCodes):
		h.ipLimit.Give(c.ClientIP())
		status, formError = http.StatusTooManyRequests, h.cat.T(lang, "phone.too_many")
	case errors.Is(err, ErrSMSUnavailable), errors.Is(err, ErrNoPhone):
		h.ipLimit.Give(c.ClientIP())
		status, formError = http.StatusConflict, h.cat.T(lang, "phone.unavailable")
	default:
		h.pageFail(c, lang, err)
		return
	}
	if formError != "" {
		notice = ""
	}
	p, err := h.svc.Inspect(ctx, token)
	if err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.renderConfirmNotice(c, status, lang, token, p, formError, notice)
}

func (h *Handler) renderConfirm(c *gin.Context, status int, lang, token string, p Pending, formError string) {
	h.renderConfirmNotice(c, status, lang, token, p, formError, "")
}

// renderConfirmNotice shows the confirmation page: the password form and,
// when the phone is not verified and SMS can be sent, the phone forms.
func (h *Handler) renderConfirmNotice(c *gin.Context, status int, lang, token string, p Pending, formError, notice string) {
	var phone *phoneData
	if p.Phone != "" && !p.PhoneVerified && h.svc.sms != nil {
		phone = &phoneData{Title: h.cat.T(lang, "phone.title"), Intro: h.cat.T(lang, "phone.intro", p.Phone), Action: PathPhone,
			Send: h.cat.T(lang, "phone.send"), CodeLabel: h.cat.T(lang, "phone.code"), Verify: h.cat.T(lang, "phone.verify")}
	}
	h.pages.RenderFlow(c, status, h.tmpl.confirm, web.FlowView{Title: h.cat.T(lang, "confirm.title"), Reload: confirmURL(token),
		Data: confirmData{Error: formError, Notice: notice, Phone: phone, Paragraphs: []string{h.cat.T(lang, "confirm.body", p.Address, p.OrgName),
			h.cat.T(lang, "confirm.password", max(h.svc.cfg.Password.MinLength, authn.MinPasswordChars)),
			h.cat.T(lang, "confirm.expires", h.clock(lang, p.ExpiresAt))},
			Fields: []formField{
				{Type: "password", Name: fieldPassword, Label: h.cat.T(lang, "password.new"), Required: true, Autocomplete: "new-password"},
				{Type: "password", Name: fieldPasswordAgain, Label: h.cat.T(lang, "password.again"), Required: true, Autocomplete: "new-password"},
			},
			Action: PathConfirm, Token: token, Button: h.cat.T(lang, "confirm.button")}})
}

// postConfirm follows the link with the password chosen.
func (h *Handler) postConfirm(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	lang := h.pages.FlowLanguage(c)
	if !h.pages.CheckFlowPost(c) {
		h.renderMessage(c, http.StatusForbidden, lang, h.cat.T(lang, "csrf.title"), []string{h.cat.T(lang, "csrf.body")})
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	ctx := c.Request.Context()
	token, pw := c.PostForm(fieldToken), c.PostForm(fieldPassword)
	formError := ""
	var done Confirmed
	var err error
	var pe *authn.PolicyError
	if pw != c.PostForm(fieldPasswordAgain) {
		formError = h.cat.T(lang, "password.mismatch")
	} else if done, err = h.svc.Confirm(ctx, token, pw); errors.As(err, &pe) {
		formError, err = h.passwordMessage(lang, pe), nil
	}
	if formError != "" {
		p, err := h.svc.Inspect(ctx, token)
		if err != nil {
			h.pageFail(c, lang, err)
			return
		}
		h.ipLimit.Give(c.ClientIP())
		h.renderConfirm(c, http.StatusBadRequest, lang, token, p, formError)
		return
	}
	if err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	if done.Active {
		h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "done.title"),
			[]string{h.cat.T(lang, "done.active", done.Address, done.OrgName)},
			pageLink{Href: h.svc.cfg.LoginPath, Label: h.cat.T(lang, "done.login")})
		return
	}
	h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "done.title"), []string{h.cat.T(lang, "done.pending", done.Address, done.OrgName)})
}

// passwordMessage translates why a password is refused.
func (h *Handler) passwordMessage(lang string, pe *authn.PolicyError) string {
	switch pe.Rule {
	case authn.RuleTooShort:
		return h.cat.T(lang, "password.too_short", max(pe.Need, authn.MinPasswordChars))
	case authn.RuleTooLong:
		return h.cat.T(lang, "password.too_long", authn.MaxPasswordBytes)
	case authn.RuleRepeated:
		return h.cat.T(lang, "password.repeated")
	case authn.RuleCommon:
		return h.cat.T(lang, "password.common")
	case authn.RuleClasses:
		return h.cat.T(lang, "password.classes", pe.Need)
	}
	return h.cat.T(lang, "password.invalid_text")
}

func (h *Handler) renderRateLimited(c *gin.Context, lang string, wait time.Duration) {
	c.Header("Retry-After", jsonapi.RetryAfter(wait))
	h.renderMessage(c, http.StatusTooManyRequests, lang, h.cat.T(lang, "ratelimit.title"), []string{h.cat.T(lang, "ratelimit.body")})
}

// pageFail renders a service error.
func (h *Handler) pageFail(c *gin.Context, lang string, err error) {
	switch {
	case errors.Is(err, ErrInvalidLink), errors.Is(err, store.ErrNotFound):
		h.renderMessage(c, http.StatusBadRequest, lang, h.cat.T(lang, "invalid.title"),
			[]string{h.cat.T(lang, "invalid.body"), h.cat.T(lang, "invalid.again")})
	case errors.Is(err, ErrUnknownOrg):
		h.renderMessage(c, http.StatusNotFound, lang, h.cat.T(lang, "unknown_org.title"), []string{h.cat.T(lang, "unknown_org.body")})
	case errors.Is(err, store.ErrConflict):
		h.renderMessage(c, http.StatusConflict, lang, h.cat.T(lang, "conflict.title"), []string{h.cat.T(lang, "conflict.body")})
	default:
		h.log.ErrorContext(c.Request.Context(), "registration page", "path", c.FullPath(), "error", err)
		h.renderMessage(c, http.StatusInternalServerError, lang, h.cat.T(lang, "error.title"), []string{h.cat.T(lang, "error.body")})
	}
}

func (h *Handler) renderMessage(c *gin.Context, status int, lang, title string, paragraphs []string, links ...pageLink) {
	reload := ""
	if c.Request.Method == http.MethodPost {
		reload = PathRegister + "?" + url.Values{fieldOrg: {c.PostForm(fieldOrg)}}.Encode()
		if c.FullPath() == PathConfirm || c.FullPath() == PathPhone {
			reload = confirmURL(c.PostForm(fieldToken))
		}
	}
	h.pages.RenderFlow(c, status, h.tmpl.message, web.FlowView{Title: title, Reload: reload,
		Data: messageData{Paragraphs: paragraphs, Links: links}})
}

// clock writes a time in the configured time zone.
func (h *Handler) clock(lang string, t time.Time) string {
	t = t.In(h.svc.cfg.Location)
	if lang == "en" {
		return t.Format("2 January 2006 at 15:04")
	}
	return t.Format("02/01/2006 à 15:04")
}

func confirmURL(token string) string {
	if token == "" {
		return PathConfirm
	}
	return PathConfirm + "?" + url.Values{fieldToken: {token}}.Encode()
}

// --- API ---------------------------------------------------------------

// orgAccess lets a support token act on every org and an org-admin token
// on its own org only.
func (h *Handler) orgAccess(c *gin.Context) {
	t, ok := h.caller(c.Request)
	switch {
	case ok && t.Role == store.RoleSupport:
	case ok && t.Role == store.RoleOrgAdmin && t.OrgID != "" && t.OrgID == c.Param("org"):
	default:
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "this token may not act on this organisation"})
	}
}

func (h *Handler) actor(c *gin.Context) string {
	if t, ok := h.caller(c.Request); ok {
		return "token:" + t.Name
	}
	return "api"
}

type memberJSON struct {
	AccountID     string     `json:"account_id"`
	Login         string     `json:"login,omitempty"`
	GivenName     string     `json:"given_name,omitempty"`
	FamilyName    string     `json:"family_name,omitempty"`
	Email         string     `json:"email,omitempty"`
	EmailVerified bool       `json:"email_verified"`
	Phone         string     `json:"phone,omitempty"`
	PhoneVerified bool       `json:"phone_verified"`
	Role          string     `json:"role"`
	State         string     `json:"membership_state"`
	AccountStatus string     `json:"account_status"`
	Status        string     `json:"status"`
	LastLoginAt   *time.Time `json:"last_login_at"`
	ValidatedBy   string     `json:"validated_by,omitempty"`
	ValidatedAt   *time.Time `json:"validated_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toJSON(m Member) memberJSON {
	return memberJSON{AccountID: m.AccountID, Login: m.Login, GivenName: m.GivenName, FamilyName: m.FamilyName,
		Email: m.Email, EmailVerified: m.EmailVerified, Phone: m.Phone, PhoneVerified: m.PhoneVerified, Role: string(m.Role), State: string(m.State),
		AccountStatus: string(m.AccountStatus), Status: m.Status, LastLoginAt: timePtr(m.LastLoginAt),
		ValidatedBy: m.ValidatedBy, ValidatedAt: timePtr(m.ValidatedAt), CreatedAt: m.CreatedAt}
}

func (h *Handler) listMembers(c *gin.Context) {
	ms, err := h.svc.Members(c.Request.Context(), c.Param("org"))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, toJSON(m))
	}
	c.JSON(http.StatusOK, gin.H{"members": out})
}

func (h *Handler) validate(c *gin.Context) {
	m, err := h.svc.Validate(c.Request.Context(), c.Param("org"), c.Param("account"), h.actor(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(m))
}

type mailRequest struct {
	AccountIDs []string `json:"account_ids"`
	Subject    string   `json:"subject"`
	Body       string   `json:"body"`
}

func (h *Handler) sendMail(c *gin.Context) {
	var req mailRequest
	if !jsonapi.Decode(c, &req, 1<<20) { // a message to a whole org
		return
	}
	sent, err := h.svc.SendMessage(c.Request.Context(), c.Param("org"), Message(req), h.actor(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"queued": nonNil(sent.Queued), "skipped": nonNil(sent.Skipped)})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fail maps a service error to its HTTP answer; unexpected errors are 500
// without details.
func (h *Handler) fail(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	msg := "internal error"
	switch {
	case errors.Is(err, ErrInvalid):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrUnknownOrg), errors.Is(err, ErrNotMember):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, ErrDocumentType):
		status, msg = http.StatusUnsupportedMediaType, err.Error()
	case errors.Is(err, ErrDocumentTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, ErrDocumentsUnavailable):
		status, msg = http.StatusNotImplemented, err.Error()
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, ErrAlreadyValidated):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, store.ErrConflict):
		status, msg = http.StatusConflict, "the account changed concurrently, try again"
	default:
		h.log.ErrorContext(c.Request.Context(), "registration api", "path", c.FullPath(), "error", err)
	}
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

func (h *Handler) listDocuments(c *gin.Context) {
	docs, err := h.svc.Documents(c.Request.Context(), c.Param("org"), c.Param("account"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"documents": docs})
}

func (h *Handler) addDocument(c *gin.Context) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, MaxDocumentBytes)
	d, err := h.svc.AddDocument(c.Request.Context(), c.Param("org"), c.Param("account"), c.Query("name"), body, h.actor(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, d)
}

func (h *Handler) getDocument(c *gin.Context) {
	d, r, err := h.svc.OpenDocument(c.Request.Context(), c.Param("org"), c.Param("account"), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	defer r.Close()
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Name}))
	c.DataFromReader(http.StatusOK, int64(d.Size), d.ContentType, r, nil)
}
