package activation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
)

// The flow's JSON API: the steps of the pages for a client of its own (an
// application, a portal). The person has no session yet: the mailed link's
// token authenticates them, and it travels in the JSON body, never in the
// URL (which access logs and proxies keep). The routes are public (no bearer
// token) and share the pages' rate limits when mounted by the same Handler.
// Every request is a POST of application/json (415 otherwise), which a
// browser never sends across sites without asking first.

// Routes of the JSON API, relative to the /api/v1 group.
const (
	APIPathResend         = "/activation/resend"
	APIPathState          = "/activation/state"
	APIPathCharter        = "/activation/charter"
	APIPathDirectory      = "/activation/directory"
	APIPathRedirect       = "/activation/redirect"
	APIPathPassword       = "/activation/password"
	APIPathConfirm        = "/activation/confirm"
	APIPathRedirectVerify = "/activation/redirect/confirm"
)

// maxAPIBody bounds the JSON bodies of the API.
const maxAPIBody = 16 << 10

// MountPublicAPI registers the JSON API on g, a group at /api/v1 that does
// not require a bearer token (not server.Server.APIGroup): POST
// APIPathResend asks for a new link by login (202, the same answer for
// every login); POST APIPathState tells where the link's activation stands;
// POST APIPathCharter, APIPathDirectory, APIPathRedirect and
// APIPathPassword do a step and answer the new state; POST APIPathConfirm
// ends the activation; POST APIPathRedirectVerify confirms the link mailed
// to a redirection address.
func (h *Handler) MountPublicAPI(g *gin.RouterGroup) {
	g.POST(APIPathResend, h.apiResend)
	g.POST(APIPathState, h.apiState)
	g.POST(APIPathCharter, h.apiCharter)
	g.POST(APIPathDirectory, h.apiDirectory)
	g.POST(APIPathRedirect, h.apiRedirect)
	g.POST(APIPathPassword, h.apiPassword)
	g.POST(APIPathConfirm, h.apiConfirm)
	g.POST(APIPathRedirectVerify, h.apiRedirectVerify)
}

// Requests.

type resendRequest struct {
	Login string `json:"login"`
	// Locale is the mail's language ("fr", "en"); by default the
	// request's Accept-Language, else French.
	Locale string `json:"locale"`
}

type tokenRequest struct {
	Token string `json:"token"`
}

type charterRequest struct {
	Token  string `json:"token"`
	Accept bool   `json:"accept"`
	// Version, optional, is the version the state showed: refused (409)
	// when the charter changed since.
	Version string `json:"version"`
}

type directoryRequest struct {
	Token   string `json:"token"`
	Visible *bool  `json:"visible"`
}

type redirectRequest struct {
	Token   string `json:"token"`
	Address string `json:"address"`
	// KeepCopy keeps a copy in the institutional mailbox; true when
	// absent, as the page's box.
	KeepCopy *bool  `json:"keep_copy"`
	Skip     bool   `json:"skip"`
	Locale   string `json:"locale"`
}

type passwordRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

type confirmRequest struct {
	Token  string `json:"token"`
	Locale string `json:"locale"`
}

// Answers.

type stateJSON struct {
	Login    string    `json:"login"`
	Step     Step      `json:"step"`
	Steps    []Step    `json:"steps"`
	Deadline time.Time `json:"deadline"`
	Staff    bool      `json:"staff"`
	// Charter, at the charter step, is the text to accept.
	Charter *charterJSON `json:"charter,omitempty"`
	// DirectoryVisible is the directory choice, once made.
	DirectoryVisible *bool `json:"directory_visible,omitempty"`
	// RecoveryAddress, for staff until the activation ends, is the
	// address a redirection to which needs no confirmation.
	RecoveryAddress string `json:"recovery_address,omitempty"`
	// Redirect is the redirection chosen; RedirectSkipped says the
	// person chose none.
	Redirect        *redirectJSON `json:"redirect,omitempty"`
	RedirectSkipped bool          `json:"redirect_skipped,omitempty"`
	// CanChangeRedirect: the redirection, answered, may be answered
	// again (POST APIPathRedirect) until the activation is confirmed.
	CanChangeRedirect bool `json:"can_change_redirect,omitempty"`
	// PasswordPolicy, at the password step, is the deployment's policy.
	PasswordPolicy *policyJSON `json:"password_policy,omitempty"`
}

type charterJSON struct {
	Version string `json:"version"`
	Text    string `json:"text"`
	URL     string `json:"url,omitempty"`
}

type redirectJSON struct {
	Address  string `json:"address"`
	KeepCopy bool   `json:"keep_copy"`
	Verified bool   `json:"verified"`
}

type policyJSON struct {
	MinLength  int `json:"min_length"`
	MinClasses int `json:"min_classes"`
}

func toRedirectJSON(f *identity.MailForward) *redirectJSON {
	if f == nil {
		return nil
	}
	return &redirectJSON{Address: f.Address, KeepCopy: f.KeepCopy, Verified: !f.VerifiedAt.IsZero()}
}

// stateJSON is the answer describing st.
func (h *Handler) stateJSON(st State) stateJSON {
	cfg := h.svc.cfg
	a := st.Account
	out := stateJSON{Login: a.Login, Step: st.Step, Steps: st.Steps, Deadline: st.Deadline.In(h.svc.loc), Staff: st.Staff(),
		DirectoryVisible: a.Consents.DirectoryVisible, CanChangeRedirect: st.CanChangeRedirect()}
	switch st.Step {
	case StepCharter:
		out.Charter = &charterJSON{Version: cfg.CharterVersion, Text: cfg.CharterText, URL: cfg.CharterURL}
	case StepPassword:
		out.PasswordPolicy = &policyJSON{MinLength: max(cfg.Password.MinLength, authn.MinPasswordChars), MinClasses: cfg.Password.MinClasses}
	}
	if out.Staff {
		out.RecoveryAddress, _ = recoveryAddress(a)
		out.Redirect = toRedirectJSON(a.MailForward)
		out.RedirectSkipped = a.MailForward == nil && !a.Consents.MailForwardAnsweredAt.IsZero()
	}
	return out
}

// Handlers.

// apiResend mails a new link to the account of the login given, if it is
// pending activation; the answer is the same whether it is or not, and
// whether the login exists or not.
func (h *Handler) apiResend(c *gin.Context) {
	var req resendRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	login := identity.NormalizeLogin(req.Login)
	if login == "" {
		jsonapi.Error(c, http.StatusBadRequest, "login: required")
		return
	}
	locale, ok := jsonapi.Locale(c, req.Locale)
	if !ok {
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	if ok, wait := h.loginLimit.Take(login); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	if err := h.svc.ResendByLogin(c.Request.Context(), login, locale); err != nil {
		h.apiFail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted",
		"message": "if this login is pending activation, a new link valid until the end of the day was mailed to its recovery address"})
}

func (h *Handler) apiState(c *gin.Context) {
	var req tokenRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	h.runStep(c, req.Token, func(ctx context.Context) (State, error) { return h.svc.Inspect(ctx, req.Token) })
}

func (h *Handler) apiCharter(c *gin.Context) {
	var req charterRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	if !req.Accept {
		jsonapi.Error(c, http.StatusBadRequest, "accept: must be true: the activation goes on only once the charter is accepted")
		return
	}
	version := req.Version
	if version == "" {
		version = h.svc.cfg.CharterVersion
	}
	h.runStep(c, req.Token, func(ctx context.Context) (State, error) { return h.svc.AcceptCharter(ctx, req.Token, version) })
}

func (h *Handler) apiDirectory(c *gin.Context) {
	var req directoryRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	if req.Visible == nil {
		jsonapi.Error(c, http.StatusBadRequest, "visible: required, true or false")
		return
	}
	h.runStep(c, req.Token, func(ctx context.Context) (State, error) { return h.svc.ChooseDirectory(ctx, req.Token, *req.Visible) })
}

// apiRedirect answers the redirection step: skip, or an address. A choice
// that mails a link to the address counts against the account's
// redirect limit.
func (h *Handler) apiRedirect(c *gin.Context) {
	var req redirectRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	address := strings.TrimSpace(req.Address)
	switch {
	case req.Skip && (address != "" || req.KeepCopy != nil):
		jsonapi.Error(c, http.StatusBadRequest, "skip: give either skip or an address, not both")
		return
	case req.Skip:
		h.runStep(c, req.Token, func(ctx context.Context) (State, error) { return h.svc.SkipRedirect(ctx, req.Token) })
		return
	case address == "":
		jsonapi.Error(c, http.StatusBadRequest, "address: required, or skip: true for no redirection")
		return
	}
	locale, ok := jsonapi.Locale(c, req.Locale)
	if !ok {
		return
	}
	keepCopy := req.KeepCopy == nil || *req.KeepCopy
	h.runStep(c, req.Token, func(ctx context.Context) (State, error) {
		pre, err := h.svc.Inspect(ctx, req.Token)
		if err != nil {
			return State{}, err
		}
		if ok, wait := h.redirectLimit.Take(pre.Account.ID); !ok {
			return State{}, &limitedError{wait: wait}
		}
		st, err := h.svc.ChooseRedirect(ctx, req.Token, address, keepCopy, locale)
		if f := st.Account.MailForward; err != nil || (f != nil && !f.VerifiedAt.IsZero()) {
			// No mail sent: refused, or verified without a link.
			h.redirectLimit.Give(pre.Account.ID)
		}
		return st, err
	})
}

func (h *Handler) apiPassword(c *gin.Context) {
	var req passwordRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	h.runStep(c, req.Token, func(ctx context.Context) (State, error) { return h.svc.SetPassword(ctx, req.Token, req.Password) })
}

// apiConfirm ends the activation; the link is used after.
func (h *Handler) apiConfirm(c *gin.Context) {
	var req confirmRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	locale, ok := jsonapi.Locale(c, req.Locale)
	if !ok {
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	a, err := h.svc.Confirm(c.Request.Context(), req.Token, locale)
	if err != nil {
		h.apiStepFail(c, req.Token, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	out := gin.H{"login": a.Login, "status": string(a.Status)}
	if f := toRedirectJSON(a.MailForward); f != nil {
		out["redirect"] = f
	}
	c.JSON(http.StatusOK, out)
}

// apiRedirectVerify confirms the redirection of a link mailed to its
// address.
func (h *Handler) apiRedirectVerify(c *gin.Context) {
	var req tokenRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	r, err := h.svc.VerifyRedirect(c.Request.Context(), req.Token)
	if err != nil {
		h.apiFail(c, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	c.JSON(http.StatusOK, gin.H{"login": r.Login, "redirect": toRedirectJSON(&r.Forward)})
}

// runStep runs a step of token's link under the client address's limit,
// which only refused links spend, and answers the state after it.
func (h *Handler) runStep(c *gin.Context, token string, step func(ctx context.Context) (State, error)) {
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	st, err := step(c.Request.Context())
	if err != nil {
		h.apiStepFail(c, token, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	c.JSON(http.StatusOK, h.stateJSON(st))
}

// limitedError is a limit reached inside a step: answered 429 with
// Retry-After.
type limitedError struct{ wait time.Duration }

func (e *limitedError) Error() string { return "too many requests" }

// apiStepFail answers the error of a step of token's link: a step out of
// order (409) names the current step; the client address's limit is given
// back unless the link is refused.
func (h *Handler) apiStepFail(c *gin.Context, token string, err error) {
	if errors.Is(err, ErrStepOrder) {
		st, ierr := h.svc.Inspect(c.Request.Context(), token)
		if ierr != nil {
			h.apiFail(c, ierr)
			return
		}
		h.ipLimit.Give(c.ClientIP())
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": ErrStepOrder.Error(), "step": st.Step})
		return
	}
	h.apiFail(c, err)
}

// apiFail maps a service error to its answer. A link refused, whatever the
// reason, gets one answer; unexpected errors are 500 without details. The
// client address's limit is given back for the errors of a valid link.
func (h *Handler) apiFail(c *gin.Context, err error) {
	var pe *PasswordError
	var le *limitedError
	switch {
	case errors.Is(err, ErrInvalidRedirectLink):
		jsonapi.Error(c, http.StatusNotFound, ErrInvalidRedirectLink.Error())
		return
	case errors.Is(err, ErrInvalidLink), errors.Is(err, store.ErrNotFound):
		jsonapi.Error(c, http.StatusNotFound, ErrInvalidLink.Error())
		return
	case errors.As(err, &le):
		jsonapi.RateLimited(c, le.wait)
	case errors.Is(err, ErrStepOrder):
		jsonapi.Error(c, http.StatusConflict, ErrStepOrder.Error())
	case errors.Is(err, ErrCharterVersion):
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": ErrCharterVersion.Error(), "step": StepCharter})
	case errors.As(err, &pe):
		rule := "personal"
		if pe.Policy != nil {
			rule = string(pe.Policy.Rule)
		}
		cfg := h.svc.cfg.Password
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, gin.H{"error": "password: " + pe.Error(), "rule": rule,
			"password_policy": policyJSON{MinLength: max(cfg.MinLength, authn.MinPasswordChars), MinClasses: cfg.MinClasses}})
	case errors.Is(err, ErrRedirectAddress):
		jsonapi.Error(c, http.StatusBadRequest, "address: "+ErrRedirectAddress.Error())
	case errors.Is(err, ErrRedirectOwn):
		jsonapi.Error(c, http.StatusUnprocessableEntity, "address: "+ErrRedirectOwn.Error())
	case errors.Is(err, store.ErrConflict):
		jsonapi.Error(c, http.StatusConflict, "the account changed concurrently, try again")
	default:
		h.log.ErrorContext(c.Request.Context(), "activation api", "path", c.FullPath(), "error", err)
		jsonapi.Error(c, http.StatusInternalServerError, "internal error")
		return
	}
	h.ipLimit.Give(c.ClientIP())
}
