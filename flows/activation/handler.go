package activation

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ratelimit"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Pages is what the handler needs of the login pages (web.Handler): drawing
// its pages in their layout with their CSRF protection.
type Pages interface {
	FlowLanguage(c *gin.Context) string
	RenderFlow(c *gin.Context, status int, p *web.FlowTemplate, v web.FlowView)
	CheckFlowPost(c *gin.Context) bool
}

// Handler serves the flow's pages: the steps of a mailed link and the form
// that asks for a new link by login.
type Handler struct {
	svc   *Service
	pages Pages
	log   *slog.Logger
	tmpl  templates
	cat   catalog
	now   func() time.Time

	ipLimit       *ratelimit.Limiter // failed link redemptions and resend requests per client address
	loginLimit    *ratelimit.Limiter // resend requests per login given
	redirectLimit *ratelimit.Limiter // redirections chosen (links mailed) per account
}

// NewHandler returns the handler of svc; its limits and clock are the
// service's. A nil logger discards.
func NewHandler(svc *Service, pages Pages, logger *slog.Logger) (*Handler, error) {
	if svc == nil || pages == nil {
		return nil, errors.New("activation: NewHandler needs the service and the pages")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, pages: pages, log: logger, now: func() time.Time { return svc.now() }}
	var err error
	if h.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	if h.cat, err = loadCatalog(); err != nil {
		return nil, err
	}
	h.ipLimit = newLimiter(svc.cfg.IPLimit, h.now)
	h.loginLimit = newLimiter(svc.cfg.LoginLimit, h.now)
	h.redirectLimit = newLimiter(svc.cfg.RedirectLimit, h.now)
	return h, nil
}

// MountPages registers the pages: GET PathActivate shows the current step
// of a link and never acts, its forms POST to PathActivate; GET PathResend
// shows the login form, which POSTs to PathResend; GET PathRedirectConfirm
// shows what a redirection link confirms and never acts, its form POSTs to
// PathRedirectConfirm.
func (h *Handler) MountPages(e *gin.Engine) {
	e.GET(PathActivate, h.getActivate)
	e.POST(PathActivate, h.postActivate)
	e.GET(PathResend, h.getResend)
	e.POST(PathResend, h.postResend)
	e.GET(PathRedirectConfirm, h.getRedirectConfirm)
	e.POST(PathRedirectConfirm, h.postRedirectConfirm)
}

// Form fields.
const (
	fieldToken          = "token"
	fieldStep           = "step"
	fieldCharterVersion = "charter_version"
	fieldAccept         = "accept"
	fieldVisible        = "visible"
	fieldPassword       = "password"
	fieldPasswordAgain  = "password_again"
	fieldLogin          = "login"
	fieldRedirect       = "redirect" // "yes" or "no"
	fieldRedirectTo     = "redirect_address"
	fieldKeepCopy       = "keep_copy"
)

const maxForm = 16 << 10

// getActivate shows the current step of the link; it never acts (mail
// scanners fetch links). With step=redirect, once the redirection is
// answered and until the activation is confirmed, it shows the redirection
// step again, to change the answer.
func (h *Handler) getActivate(c *gin.Context) {
	lang := h.pages.FlowLanguage(c)
	token := c.Query(fieldToken)
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	st, err := h.svc.Inspect(c.Request.Context(), token)
	if err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	if Step(c.Query(fieldStep)) == StepRedirect && st.CanChangeRedirect() {
		st.Step = StepRedirect
	}
	h.renderStep(c, http.StatusOK, lang, token, st, "", nil)
}

// postActivate does the step posted, then shows the next one.
func (h *Handler) postActivate(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	lang := h.pages.FlowLanguage(c)
	token := c.PostForm(fieldToken)
	if !h.pages.CheckFlowPost(c) {
		h.renderMessage(c, http.StatusForbidden, lang, h.cat.T(lang, "csrf.title"),
			[]string{h.cat.T(lang, "csrf.body")}, pageLink{Href: activateURL(token), Label: h.cat.T(lang, "csrf.reload")})
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	ctx := c.Request.Context()
	var st State
	var err error
	formError := "" // a form to fill again, with this message
	var typed url.Values
	posted := Step(c.PostForm(fieldStep))
	switch posted {
	case StepCharter:
		if c.PostForm(fieldAccept) != "1" {
			formError = h.cat.T(lang, "charter.required")
			break
		}
		st, err = h.svc.AcceptCharter(ctx, token, c.PostForm(fieldCharterVersion))
		if errors.Is(err, ErrCharterVersion) {
			formError, err = h.cat.T(lang, "charter.changed"), nil
		}
	case StepDirectory:
		switch c.PostForm(fieldVisible) {
		case "yes", "no":
			st, err = h.svc.ChooseDirectory(ctx, token, c.PostForm(fieldVisible) == "yes")
		default:
			formError = h.cat.T(lang, "directory.required")
		}
	case StepRedirect:
		typed = c.Request.PostForm
		switch c.PostForm(fieldRedirect) {
		case "no":
			st, err = h.svc.SkipRedirect(ctx, token)
		case "yes":
			if strings.TrimSpace(c.PostForm(fieldRedirectTo)) == "" {
				formError = h.cat.T(lang, "redirect.address_required")
				break
			}
			// A choice may mail a link to the address typed: a limit per
			// account.
			var pre State
			if pre, err = h.svc.Inspect(ctx, token); err != nil {
				break
			}
			if ok, wait := h.redirectLimit.Take(pre.Account.ID); !ok {
				h.renderRateLimited(c, lang, wait)
				return
			}
			st, err = h.svc.ChooseRedirect(ctx, token, c.PostForm(fieldRedirectTo), c.PostForm(fieldKeepCopy) == "1", lang)
			if f := st.Account.MailForward; err != nil || (f != nil && !f.VerifiedAt.IsZero()) {
				// No mail sent: refused, or verified without a link
				// (the recovery address, or the address already
				// verified).
				h.redirectLimit.Give(pre.Account.ID)
			}
			switch {
			case errors.Is(err, ErrRedirectAddress):
				formError, err = h.cat.T(lang, "redirect.invalid"), nil
			case errors.Is(err, ErrRedirectOwn):
				formError, err = h.cat.T(lang, "redirect.own"), nil
			}
		default:
			formError = h.cat.T(lang, "redirect.required")
		}
	case StepPassword:
		pw := c.PostForm(fieldPassword)
		if pw != c.PostForm(fieldPasswordAgain) {
			formError = h.cat.T(lang, "password.mismatch")
			break
		}
		st, err = h.svc.SetPassword(ctx, token, pw)
		var pe *PasswordError
		if errors.As(err, &pe) {
			formError, err = h.passwordMessage(lang, pe), nil
		}
	case StepConfirm:
		var a identity.Account
		if a, err = h.svc.Confirm(ctx, token, lang); err == nil {
			h.ipLimit.Give(c.ClientIP())
			body := []string{h.cat.T(lang, "done.body", a.Login), h.cat.T(lang, "done.mail")}
			if f := a.MailForward; f != nil && f.VerifiedAt.IsZero() {
				body = append(body, h.cat.T(lang, "done.redirect_pending", f.Address))
			}
			h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "done.title"), body,
				pageLink{Href: web.PathLogin, Label: h.cat.T(lang, "done.login")})
			return
		}
	default:
		err = ErrStepOrder
	}
	status := http.StatusOK
	switch {
	case errors.Is(err, ErrStepOrder):
		formError, status = h.cat.T(lang, "order"), http.StatusConflict
	case err != nil:
		h.pageFail(c, lang, err)
		return
	case formError != "":
		status = http.StatusBadRequest
	}
	if formError != "" {
		// Show the current step again, with the message; a change of
		// the redirection shows its form again.
		if st, err = h.svc.Inspect(ctx, token); err != nil {
			h.pageFail(c, lang, err)
			return
		}
		if posted == StepRedirect && st.CanChangeRedirect() && status != http.StatusConflict {
			st.Step = StepRedirect
		}
	} else {
		typed = nil
	}
	h.ipLimit.Give(c.ClientIP())
	h.renderStep(c, status, lang, token, st, formError, typed)
}

// passwordMessage translates why a password is refused.
func (h *Handler) passwordMessage(lang string, pe *PasswordError) string {
	if pe.Policy == nil {
		return h.cat.T(lang, "password.personal")
	}
	switch pe.Policy.Rule {
	case authn.RuleTooShort:
		return h.cat.T(lang, "password.too_short", max(pe.Policy.Need, authn.MinPasswordChars))
	case authn.RuleTooLong:
		return h.cat.T(lang, "password.too_long", authn.MaxPasswordBytes)
	case authn.RuleRepeated:
		return h.cat.T(lang, "password.repeated")
	case authn.RuleCommon:
		return h.cat.T(lang, "password.common")
	case authn.RuleClasses:
		return h.cat.T(lang, "password.classes", pe.Policy.Need)
	}
	return h.cat.T(lang, "password.invalid_text")
}

// renderStep shows the form of the step st.Step; typed, if not nil, is
// the redirection form posted, to fill again.
func (h *Handler) renderStep(c *gin.Context, status int, lang, token string, st State, formError string, typed url.Values) {
	cfg := h.svc.cfg
	d := stepData{Error: formError, Action: PathActivate, Button: h.cat.T(lang, "button.next"),
		Hidden: []hiddenField{{fieldToken, token}, {fieldStep, string(st.Step)}}}
	if i := slices.Index(st.Steps, st.Step); i >= 0 {
		d.Progress = h.cat.T(lang, "progress", i+1, len(st.Steps))
	}
	expires := h.cat.T(lang, "expires", h.clock(lang, st.Deadline))
	var title string
	switch st.Step {
	case StepCharter:
		title = h.cat.T(lang, "charter.title")
		d.Paragraphs = []string{h.cat.T(lang, "charter.intro", cfg.CharterVersion, st.Account.Login)}
		d.Charter = cfg.CharterText
		if cfg.CharterURL != "" {
			d.CharterLink = &pageLink{Href: cfg.CharterURL, Label: h.cat.T(lang, "charter.link")}
		}
		d.Hidden = append(d.Hidden, hiddenField{fieldCharterVersion, cfg.CharterVersion})
		d.Fields = []formField{{Type: "checkbox", Name: fieldAccept, Value: "1", Label: h.cat.T(lang, "charter.accept"), Required: true}}
	case StepDirectory:
		title = h.cat.T(lang, "directory.title")
		d.Paragraphs = []string{h.cat.T(lang, "directory.intro")}
		d.Fields = []formField{
			{Type: "radio", Name: fieldVisible, Value: "yes", Label: h.cat.T(lang, "directory.yes"), Required: true},
			{Type: "radio", Name: fieldVisible, Value: "no", Label: h.cat.T(lang, "directory.no"), Required: true},
		}
	case StepRedirect:
		title = h.cat.T(lang, "redirect.title")
		h.redirectForm(lang, token, st, typed, &d)
	case StepPassword:
		title = h.cat.T(lang, "password.title")
		d.Paragraphs = []string{h.cat.T(lang, "password.intro", st.Account.Login),
			h.cat.T(lang, "password.rules", max(h.svc.cfg.Password.MinLength, authn.MinPasswordChars))}
		d.Fields = []formField{
			{Type: "password", Name: fieldPassword, Label: h.cat.T(lang, "password.new"), Required: true,
				Autocomplete: "new-password", MinLength: max(h.svc.cfg.Password.MinLength, authn.MinPasswordChars)},
			{Type: "password", Name: fieldPasswordAgain, Label: h.cat.T(lang, "password.again"), Required: true,
				Autocomplete: "new-password", MinLength: max(h.svc.cfg.Password.MinLength, authn.MinPasswordChars)},
		}
	default:
		title = h.cat.T(lang, "confirm.title")
		dir := "confirm.directory.no"
		if v := st.Account.Consents.DirectoryVisible; v != nil && *v {
			dir = "confirm.directory.yes"
		}
		d.Paragraphs = []string{h.cat.T(lang, "confirm.intro"), h.cat.T(lang, "confirm.login", st.Account.Login),
			h.cat.T(lang, "confirm.charter", st.Account.Consents.CharterVersion), h.cat.T(lang, dir)}
		if st.Staff() {
			d.Paragraphs = append(d.Paragraphs, h.redirectSummary(lang, st.Account.MailForward))
			d.Links = append(d.Links, pageLink{Href: activateStepURL(token, StepRedirect), Label: h.cat.T(lang, "confirm.redirect.change")})
		}
		d.Paragraphs = append(d.Paragraphs, h.cat.T(lang, "confirm.password"))
		d.Button = h.cat.T(lang, "button.activate")
	}
	d.Paragraphs = append(d.Paragraphs, expires)
	reload := activateURL(token)
	if st.Step == StepRedirect && !st.Account.Consents.MailForwardAnsweredAt.IsZero() {
		reload = activateStepURL(token, StepRedirect) // changing the answer
	}
	h.pages.RenderFlow(c, status, h.tmpl.step, web.FlowView{Title: title, Reload: reload, Data: d})
}

// getResend shows the form asking for a new link by login.
func (h *Handler) getResend(c *gin.Context) {
	lang := h.pages.FlowLanguage(c)
	h.renderResend(c, http.StatusOK, lang)
}

func (h *Handler) renderResend(c *gin.Context, status int, lang string) {
	h.pages.RenderFlow(c, status, h.tmpl.step, web.FlowView{Title: h.cat.T(lang, "resend.title"), Reload: PathResend,
		Data: stepData{Paragraphs: []string{h.cat.T(lang, "resend.intro")}, Action: PathResend,
			Fields: []formField{{Type: "text", Name: fieldLogin, Label: h.cat.T(lang, "resend.login"), Required: true,
				Autocomplete: "username"}},
			Button: h.cat.T(lang, "button.next")}})
}

// postResend mails a new link to the account of the login given, if it is
// pending activation; the answer is the same whether it is or not, and
// whether the login exists or not.
func (h *Handler) postResend(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	lang := h.pages.FlowLanguage(c)
	if !h.pages.CheckFlowPost(c) {
		h.renderMessage(c, http.StatusForbidden, lang, h.cat.T(lang, "csrf.title"),
			[]string{h.cat.T(lang, "csrf.body")}, pageLink{Href: PathResend, Label: h.cat.T(lang, "csrf.reload")})
		return
	}
	login := identity.NormalizeLogin(c.PostForm(fieldLogin))
	if login == "" {
		h.renderResend(c, http.StatusBadRequest, lang)
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	if ok, wait := h.loginLimit.Take(login); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	if err := h.svc.ResendByLogin(c.Request.Context(), login, lang); err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "resend.sent.title"),
		[]string{h.cat.T(lang, "resend.sent.body"), h.cat.T(lang, "resend.sent.help")})
}

func (h *Handler) renderRateLimited(c *gin.Context, lang string, wait time.Duration) {
	c.Header("Retry-After", jsonapi.RetryAfter(wait))
	h.renderMessage(c, http.StatusTooManyRequests, lang, h.cat.T(lang, "ratelimit.title"),
		[]string{h.cat.T(lang, "ratelimit.body")})
}

// pageFail renders a service error.
func (h *Handler) pageFail(c *gin.Context, lang string, err error) {
	switch {
	case errors.Is(err, ErrInvalidRedirectLink):
		h.renderMessage(c, http.StatusBadRequest, lang, h.cat.T(lang, "redirect.invalid_link.title"),
			[]string{h.cat.T(lang, "redirect.invalid_link.body")})
	case errors.Is(err, ErrInvalidLink), errors.Is(err, store.ErrNotFound):
		h.renderMessage(c, http.StatusBadRequest, lang, h.cat.T(lang, "invalid.title"),
			[]string{h.cat.T(lang, "invalid.body"), h.cat.T(lang, "invalid.again")},
			pageLink{Href: PathResend, Label: h.cat.T(lang, "invalid.resend")})
	case errors.Is(err, store.ErrConflict):
		h.renderMessage(c, http.StatusConflict, lang, h.cat.T(lang, "conflict.title"),
			[]string{h.cat.T(lang, "conflict.body")})
	default:
		h.log.ErrorContext(c.Request.Context(), "activation page", "path", c.FullPath(), "error", err)
		h.renderMessage(c, http.StatusInternalServerError, lang, h.cat.T(lang, "error.title"),
			[]string{h.cat.T(lang, "error.body")})
	}
}

func (h *Handler) renderMessage(c *gin.Context, status int, lang, title string, paragraphs []string, links ...pageLink) {
	reload := ""
	if c.Request.Method == http.MethodPost {
		switch c.FullPath() {
		case PathActivate:
			reload = activateURL(c.PostForm(fieldToken))
		case PathRedirectConfirm:
			reload = redirectConfirmURL(c.PostForm(fieldToken))
		default:
			reload = PathResend
		}
	}
	h.pages.RenderFlow(c, status, h.tmpl.message, web.FlowView{Title: title, Reload: reload,
		Data: messageData{Paragraphs: paragraphs, Links: links}})
}

// clock writes the last valid second of a link in the configured time
// zone.
func (h *Handler) clock(lang string, t time.Time) string {
	t = t.In(h.svc.loc)
	if lang == "en" {
		return t.Format("2 January 2006 at 15:04:05")
	}
	return t.Format("02/01/2006 à 15:04:05")
}

func activateURL(token string) string {
	if token == "" {
		return PathActivate
	}
	return PathActivate + "?" + url.Values{fieldToken: {token}}.Encode()
}

// activateStepURL opens the page of a link at step (a step already done
// that may be done again: StepRedirect).
func activateStepURL(token string, step Step) string {
	return PathActivate + "?" + url.Values{fieldToken: {token}, fieldStep: {string(step)}}.Encode()
}

func redirectConfirmURL(token string) string {
	if token == "" {
		return PathRedirectConfirm
	}
	return PathRedirectConfirm + "?" + url.Values{fieldToken: {token}}.Encode()
}
