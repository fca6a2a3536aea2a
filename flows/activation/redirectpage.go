package activation

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/web"
)

// The pages of the redirection: its step's form and the page of the links
// mailed to a redirection address.

// redirectForm fills d with the redirection step's form: redirect to an
// address (keeping a copy or not) or not at all. It is filled with typed,
// the form posted, when not nil; else with the redirection chosen before,
// if any (changing it); else the address is the recovery address, as in
// the seed, which needs no confirmation. Keeping a copy is the default
// (the seed recommends it).
func (h *Handler) redirectForm(lang, token string, st State, typed url.Values, d *stepData) {
	recovery, hasRecovery := recoveryAddress(st.Account)
	choice, address, keepCopy := "", recovery, true
	answered := !st.Account.Consents.MailForwardAnsweredAt.IsZero()
	switch f := st.Account.MailForward; {
	case typed != nil:
		choice, address, keepCopy = typed.Get(fieldRedirect), strings.TrimSpace(typed.Get(fieldRedirectTo)), typed.Get(fieldKeepCopy) == "1"
	case f != nil:
		choice, address, keepCopy = "yes", f.Address, f.KeepCopy
	case answered:
		choice = "no"
	}
	link := h.cat.T(lang, "redirect.link")
	if hasRecovery {
		link = h.cat.T(lang, "redirect.link.recovery", recovery)
	}
	d.Paragraphs = []string{h.cat.T(lang, "redirect.intro"), link, h.cat.T(lang, "redirect.rules")}
	if answered {
		d.Paragraphs = append(d.Paragraphs, h.redirectSummary(lang, st.Account.MailForward))
		d.Links = append(d.Links, pageLink{Href: activateURL(token), Label: h.cat.T(lang, "redirect.keep_answer")})
	}
	d.Fields = []formField{
		{Type: "radio", Name: fieldRedirect, Value: "yes", Label: h.cat.T(lang, "redirect.yes"), Required: true, Checked: choice == "yes"},
		{Type: "email", Name: fieldRedirectTo, Value: address, Label: h.cat.T(lang, "redirect.address"), Autocomplete: "email"},
		{Type: "checkbox", Name: fieldKeepCopy, Value: "1", Label: h.cat.T(lang, "redirect.keep_copy"), Checked: keepCopy},
		{Type: "radio", Name: fieldRedirect, Value: "no", Label: h.cat.T(lang, "redirect.no"), Required: true, Checked: choice == "no"},
	}
}

// redirectSummary says what the redirection answered is.
func (h *Handler) redirectSummary(lang string, f *identity.MailForward) string {
	switch {
	case f == nil:
		return h.cat.T(lang, "confirm.redirect.none")
	case !f.VerifiedAt.IsZero() && f.KeepCopy:
		return h.cat.T(lang, "confirm.redirect.verified.copy", f.Address)
	case !f.VerifiedAt.IsZero():
		return h.cat.T(lang, "confirm.redirect.verified", f.Address)
	case f.KeepCopy:
		return h.cat.T(lang, "confirm.redirect.pending.copy", f.Address)
	}
	return h.cat.T(lang, "confirm.redirect.pending", f.Address)
}

// getRedirectConfirm shows what a redirection link confirms; it never
// acts (mail scanners fetch links).
func (h *Handler) getRedirectConfirm(c *gin.Context) {
	lang := h.pages.FlowLanguage(c)
	token := c.Query(fieldToken)
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	r, err := h.svc.InspectRedirect(c.Request.Context(), token)
	if err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	copyNote := "redirect.confirm.nocopy"
	if r.Forward.KeepCopy {
		copyNote = "redirect.confirm.copy"
	}
	h.pages.RenderFlow(c, http.StatusOK, h.tmpl.step, web.FlowView{Title: h.cat.T(lang, "redirect.confirm.title"),
		Reload: redirectConfirmURL(token),
		Data: stepData{
			Paragraphs: []string{h.cat.T(lang, "redirect.confirm.intro", r.Login, r.Forward.Address), h.cat.T(lang, copyNote),
				h.cat.T(lang, "redirect.confirm.expires", h.clock(lang, r.ExpiresAt))},
			Action: PathRedirectConfirm, Hidden: []hiddenField{{fieldToken, token}},
			Button: h.cat.T(lang, "redirect.confirm.button")}})
}

// postRedirectConfirm confirms the redirection of a link.
func (h *Handler) postRedirectConfirm(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	lang := h.pages.FlowLanguage(c)
	token := c.PostForm(fieldToken)
	if !h.pages.CheckFlowPost(c) {
		h.renderMessage(c, http.StatusForbidden, lang, h.cat.T(lang, "csrf.title"),
			[]string{h.cat.T(lang, "csrf.body")}, pageLink{Href: redirectConfirmURL(token), Label: h.cat.T(lang, "csrf.reload")})
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	r, err := h.svc.VerifyRedirect(c.Request.Context(), token)
	if err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	copyNote := "redirect.done.nocopy"
	if r.Forward.KeepCopy {
		copyNote = "redirect.done.copy"
	}
	h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "redirect.done.title"),
		[]string{h.cat.T(lang, "redirect.done.body", r.Login, r.Forward.Address), h.cat.T(lang, copyNote)})
}
