package emailmerge

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ratelimit"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Pages is what the handler needs of the login pages (web.Handler): the
// login session, and drawing its pages in their layout with their CSRF
// protection.
type Pages interface {
	Session(r *http.Request) (store.Session, bool)
	FlowLanguage(c *gin.Context) string
	RenderFlow(c *gin.Context, status int, p *web.FlowTemplate, v web.FlowView)
	CheckFlowPost(c *gin.Context) bool
}

// Handler serves the flow: the JSON API under /api/v1/me and the page the
// mailed links open.
type Handler struct {
	svc   *Service
	pages Pages
	log   *slog.Logger
	tmpl  templates
	cat   catalog
	now   func() time.Time

	ipLimit      *ratelimit.Limiter // failed redemptions per client address
	accountLimit *ratelimit.Limiter // failed redemptions per account
	sendLimit    *ratelimit.Limiter // addresses added per account
}

// NewHandler returns the handler of svc; its limits and clock are the
// service's. A nil logger discards.
func NewHandler(svc *Service, pages Pages, logger *slog.Logger) (*Handler, error) {
	if svc == nil || pages == nil {
		return nil, errors.New("emailmerge: NewHandler needs the service and the pages")
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
	cfg := svc.cfg
	h.ipLimit = newLimiter(cfg.IPLimit, h.now)
	h.accountLimit = newLimiter(cfg.AccountLimit, h.now)
	h.sendLimit = newLimiter(cfg.SendLimit, h.now)
	return h, nil
}

// MountAPI registers the self-service routes on me, the /api/v1/me group
// authenticated by web.Handler.RequireAccount: GET, POST /emails, DELETE
// /emails/:address and POST /emails/confirm.
func (h *Handler) MountAPI(me *gin.RouterGroup) {
	me.GET("/emails", h.list)
	me.POST("/emails", h.add)
	me.DELETE("/emails/:address", h.deletePending)
	me.POST("/emails/confirm", h.confirm)
}

// MountPages registers the page of the mailed links: GET PathConfirm shows
// what the link will do and never acts; its form POSTs to PathConfirm.
func (h *Handler) MountPages(e *gin.Engine) {
	e.GET(PathConfirm, h.getConfirm)
	e.POST(PathConfirm, h.postConfirm)
}

// --- JSON API --------------------------------------------------------------

type emailJSON struct {
	Address  string `json:"address"`
	Verified bool   `json:"verified"`
	Primary  bool   `json:"primary"`
}

func (h *Handler) list(c *gin.Context) {
	me, ok := web.Me(c)
	if !ok {
		jsonapi.Error(c, http.StatusUnauthorized, "log in first")
		return
	}
	es, err := h.svc.Addresses(c.Request.Context(), me)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]emailJSON, 0, len(es))
	for _, e := range es {
		out = append(out, emailJSON{e.Address, e.Verified, e.Primary})
	}
	c.JSON(http.StatusOK, gin.H{"emails": out})
}

type addRequest struct {
	Address string `json:"address"`
	// Locale is the mail's language ("fr", "en"); by default the
	// request's Accept-Language, else French.
	Locale string `json:"locale"`
}

// add answers 202 {"status":"pending"} for every valid address, whether or
// not another account holds it.
func (h *Handler) add(c *gin.Context) {
	me, ok := web.Me(c)
	if !ok {
		jsonapi.Error(c, http.StatusUnauthorized, "log in first")
		return
	}
	var req addRequest
	if !jsonapi.Decode(c, &req, maxBody) {
		return
	}
	if ok, wait := h.sendLimit.Take(me); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	locale := req.Locale
	if locale == "" {
		locale = jsonapi.AcceptLanguage(c.Request)
	}
	if _, err := h.svc.AddAddress(c.Request.Context(), me, req.Address, locale); err != nil {
		h.sendLimit.Give(me) // no mail went out
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "pending"})
}

func (h *Handler) deletePending(c *gin.Context) {
	me, ok := web.Me(c)
	if !ok {
		jsonapi.Error(c, http.StatusUnauthorized, "log in first")
		return
	}
	err := h.svc.DeletePending(c.Request.Context(), me, c.Param("address"))
	if errors.Is(err, store.ErrNotFound) {
		jsonapi.Error(c, http.StatusNotFound, "no such address on your account")
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type confirmRequest struct {
	Token        string `json:"token"`
	ConfirmMerge bool   `json:"confirm_merge"`
}

func (h *Handler) confirm(c *gin.Context) {
	me, ok := web.Me(c)
	if !ok {
		jsonapi.Error(c, http.StatusUnauthorized, "log in first")
		return
	}
	var req confirmRequest
	if !jsonapi.Decode(c, &req, maxBody) {
		return
	}
	if ok, wait := h.takeRedeem(c, me); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	r, err := h.svc.Confirm(c.Request.Context(), me, req.Token, req.ConfirmMerge)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.giveRedeem(c, me)
	c.JSON(http.StatusOK, resultJSON(r))
}

// resultJSON is the answer of POST /emails/confirm.
func resultJSON(r Result) gin.H {
	out := gin.H{"result": string(r.Outcome), "address": r.Address}
	switch r.Outcome {
	case OutcomeMergeRequired:
		out["preview"] = accounts.PreviewJSON(*r.Preview)
		out["account"] = gin.H{"id": r.Holder.ID, "login": r.Holder.Login}
		out["expires_at"] = r.ExpiresAt
	case OutcomeMerged:
		out["merge_id"] = r.MergeID
		out["merged_account"] = r.Holder.ID
	}
	return out
}

// takeRedeem takes a redemption token per client address and per account.
func (h *Handler) takeRedeem(c *gin.Context, accountID string) (bool, time.Duration) {
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		return false, wait
	}
	if ok, wait := h.accountLimit.Take(accountID); !ok {
		h.ipLimit.Give(c.ClientIP())
		return false, wait
	}
	return true, 0
}

// maxBody bounds a request body.
const maxBody = 16 << 10

// giveRedeem gives back what takeRedeem took: only failures count.
func (h *Handler) giveRedeem(c *gin.Context, accountID string) {
	h.ipLimit.Give(c.ClientIP())
	h.accountLimit.Give(accountID)
}

// fail maps a service error to its answer; unexpected errors are 500
// without details.
func (h *Handler) fail(c *gin.Context, err error) {
	var stale *accounts.StaleError
	var dup *store.DuplicateError
	switch {
	case errors.Is(err, ErrInvalidLink):
		jsonapi.Error(c, http.StatusBadRequest, ErrInvalidLink.Error())
	case errors.Is(err, ErrInvalidAddress):
		jsonapi.Error(c, http.StatusBadRequest, "address: "+ErrInvalidAddress.Error())
	case errors.Is(err, ErrAlreadyVerified), errors.Is(err, ErrNotPending):
		jsonapi.Error(c, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrNotFound):
		// The caller's own account is gone (merged since the session
		// began).
		jsonapi.Error(c, http.StatusNotFound, "account not found")
	case errors.Is(err, accounts.ErrMergeConflict), errors.As(err, &stale):
		jsonapi.Error(c, http.StatusConflict, err.Error())
	case errors.As(err, &dup):
		jsonapi.Error(c, http.StatusConflict, dup.Field+" is already taken")
	case errors.Is(err, store.ErrConflict):
		jsonapi.Error(c, http.StatusConflict, "your account changed concurrently, try again")
	default:
		h.log.ErrorContext(c.Request.Context(), "e-mail verification api", "path", c.FullPath(), "error", err)
		jsonapi.Error(c, http.StatusInternalServerError, "internal error")
	}
}

// --- pages -----------------------------------------------------------------

// Form fields of the confirmation page.
const (
	fieldToken        = "token"
	fieldConfirmMerge = "confirm_merge"
)

// getConfirm shows what the link will do; it never acts (mail scanners
// fetch links).
func (h *Handler) getConfirm(c *gin.Context) {
	lang := h.pages.FlowLanguage(c)
	token := c.Query(fieldToken)
	s, ok := h.pages.Session(c.Request)
	if !ok {
		h.renderLogin(c, lang, token)
		return
	}
	if ok, wait := h.takeRedeem(c, s.AccountID); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	r, err := h.svc.Inspect(c.Request.Context(), s.AccountID, token)
	if err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.giveRedeem(c, s.AccountID)
	t := h.cat.T(lang, "confirm.title")
	h.pages.RenderFlow(c, http.StatusOK, h.tmpl.confirm, web.FlowView{Title: t, Data: confirmData{
		Paragraphs: []string{h.cat.T(lang, "confirm.body", r.Address), h.cat.T(lang, "confirm.merge_note"),
			h.cat.T(lang, "confirm.expires", h.clock(r.ExpiresAt))},
		Action: PathConfirm, Token: token, Button: h.cat.T(lang, "confirm.button"),
	}})
}

// postConfirm acts: it verifies the address, shows the merge preview, or
// merges.
func (h *Handler) postConfirm(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 16<<10)
	lang := h.pages.FlowLanguage(c)
	token := c.PostForm(fieldToken)
	if !h.pages.CheckFlowPost(c) {
		h.renderMessage(c, http.StatusForbidden, lang, h.cat.T(lang, "csrf.title"),
			[]string{h.cat.T(lang, "csrf.body")}, pageLink{Href: confirmURL(token), Label: h.cat.T(lang, "csrf.reload")})
		return
	}
	s, ok := h.pages.Session(c.Request)
	if !ok {
		h.renderLogin(c, lang, token)
		return
	}
	if ok, wait := h.takeRedeem(c, s.AccountID); !ok {
		h.renderRateLimited(c, lang, wait)
		return
	}
	r, err := h.svc.Confirm(c.Request.Context(), s.AccountID, token, c.PostForm(fieldConfirmMerge) == "1")
	if err != nil {
		h.pageFail(c, lang, err)
		return
	}
	h.giveRedeem(c, s.AccountID)
	switch r.Outcome {
	case OutcomeMergeRequired:
		h.renderPreview(c, lang, token, r)
	case OutcomeMerged:
		h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "merged.title"),
			[]string{h.cat.T(lang, "merged.body", accountName(*r.Holder)), h.cat.T(lang, "merged.address", r.Address),
				h.cat.T(lang, "merged.apps")})
	default:
		h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "verified.title"),
			[]string{h.cat.T(lang, "verified.body", r.Address)})
	}
}

// renderLogin asks to log in first, then to open the link again.
func (h *Handler) renderLogin(c *gin.Context, lang, token string) {
	h.renderMessage(c, http.StatusOK, lang, h.cat.T(lang, "login.title"),
		[]string{h.cat.T(lang, "login.body"), h.cat.T(lang, "login.back")},
		pageLink{Href: web.PathLogin, Label: h.cat.T(lang, "login.link")},
		pageLink{Href: confirmURL(token), Label: h.cat.T(lang, "login.again")})
}

func (h *Handler) renderRateLimited(c *gin.Context, lang string, wait time.Duration) {
	c.Header("Retry-After", jsonapi.RetryAfter(wait))
	h.renderMessage(c, http.StatusTooManyRequests, lang, h.cat.T(lang, "ratelimit.title"),
		[]string{h.cat.T(lang, "ratelimit.body")})
}

// pageFail renders a service error.
func (h *Handler) pageFail(c *gin.Context, lang string, err error) {
	var stale *accounts.StaleError
	switch {
	case errors.Is(err, ErrInvalidLink), errors.Is(err, store.ErrNotFound):
		h.renderMessage(c, http.StatusBadRequest, lang, h.cat.T(lang, "invalid.title"),
			[]string{h.cat.T(lang, "invalid.body"), h.cat.T(lang, "invalid.again")})
	case errors.Is(err, accounts.ErrMergeConflict), errors.As(err, &stale), errors.Is(err, store.ErrConflict):
		h.log.WarnContext(c.Request.Context(), "e-mail merge refused", "error", err)
		h.renderMessage(c, http.StatusConflict, lang, h.cat.T(lang, "conflict.title"),
			[]string{h.cat.T(lang, "conflict.body"), h.cat.T(lang, "conflict.help")})
	default:
		h.log.ErrorContext(c.Request.Context(), "e-mail verification page", "error", err)
		h.renderMessage(c, http.StatusInternalServerError, lang, h.cat.T(lang, "error.title"),
			[]string{h.cat.T(lang, "error.body")})
	}
}

func (h *Handler) renderMessage(c *gin.Context, status int, lang, title string, paragraphs []string, links ...pageLink) {
	h.pages.RenderFlow(c, status, h.tmpl.message, web.FlowView{Title: title, Reload: reloadOf(c),
		Data: messageData{Paragraphs: paragraphs, Links: links}})
}

// reloadOf is what the language switch reloads: the link's page for its
// token, so that a POST answer does not lose it.
func reloadOf(c *gin.Context) string {
	if c.Request.Method == http.MethodPost {
		return confirmURL(c.PostForm(fieldToken))
	}
	return ""
}

// renderPreview shows what merging the holder of the address would do,
// with the button that merges.
func (h *Handler) renderPreview(c *gin.Context, lang, token string, r Result) {
	p := r.Preview
	d := previewData{
		Lead:    h.cat.T(lang, "preview.lead", r.Address, accountName(*r.Holder)),
		Explain: h.cat.T(lang, "preview.explain"),
		Fields: []string{h.cat.T(lang, "preview.col.field"), h.cat.T(lang, "preview.col.yours"),
			h.cat.T(lang, "preview.col.other"), h.cat.T(lang, "preview.col.kept")},
		Action: PathConfirm, Token: token, Button: h.cat.T(lang, "preview.button"),
		Note: h.cat.T(lang, "preview.note", h.clock(r.ExpiresAt)),
	}
	for _, f := range p.Fields {
		d.Rows = append(d.Rows, previewRow{Field: h.cat.field(lang, f.Field),
			Yours: withSource(f.Survivor, f.SurvivorSource), Other: withSource(f.Retired, f.RetiredSource),
			Kept: withSource(f.Value, f.Source)})
	}
	var moves []string
	for _, l := range p.Moved.Links {
		moves = append(moves, h.cat.T(lang, "preview.move.link", l.Source, l.ExternalID))
	}
	for _, e := range p.Moved.Emails {
		moves = append(moves, h.cat.T(lang, "preview.move.email", e.Address))
	}
	for _, o := range p.Moved.Memberships {
		moves = append(moves, h.cat.T(lang, "preview.move.org", o))
	}
	if len(moves) > 0 {
		d.MovesTitle, d.Moves = h.cat.T(lang, "preview.moves"), moves
	}
	h.pages.RenderFlow(c, http.StatusOK, h.tmpl.preview, web.FlowView{Title: h.cat.T(lang, "preview.title"),
		Reload: confirmURL(token), Data: d})
}

func withSource(v, source string) string {
	if v == "" || source == "" {
		return v
	}
	return v + " (" + source + ")"
}

// accountName names an account for its owner: its login, else its id.
func accountName(a identity.Account) string {
	name := strings.TrimSpace(a.GivenName + " " + a.FamilyName)
	switch {
	case a.Login != "" && name != "":
		return name + " (" + a.Login + ")"
	case a.Login != "":
		return a.Login
	case name != "":
		return name
	}
	return a.ID
}

// clock writes the time a link expires, in the configured time zone.
func (h *Handler) clock(t time.Time) string {
	return t.In(h.svc.cfg.Location).Format("15:04")
}

func confirmURL(token string) string {
	if token == "" {
		return PathConfirm
	}
	return PathConfirm + "?" + url.Values{fieldToken: {token}}.Encode()
}
