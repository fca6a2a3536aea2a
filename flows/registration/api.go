package registration

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
)

// The flow's JSON API for the person registering: the steps of the pages
// for a client of its own (the CPTS's site, an application). The person has
// no session: the mailed link's token authenticates them, and it travels in
// the JSON body (in the header HeaderLinkToken for a document, whose body
// is the file), never in the URL, which access logs and proxies keep. The
// routes are public (no bearer token) and share the pages' rate limits when
// mounted by the same Handler. The JSON routes take application/json only
// (415 otherwise), which a browser never sends across sites without asking
// first; the document route needs its header, likewise.

// Routes of the JSON API, relative to the /api/v1 group.
const (
	APIPathRegister    = "/registrations"
	APIPathInspect     = "/registrations/inspect"
	APIPathPhoneSend   = "/registrations/phone/send"
	APIPathPhoneVerify = "/registrations/phone/verify"
	APIPathConfirm     = "/registrations/confirm"
	APIPathDocuments   = "/registrations/documents"
)

// HeaderLinkToken carries the link's token of a document upload.
const HeaderLinkToken = "X-Canonid-Link-Token"

// maxAPIBody bounds the JSON bodies of the API.
const maxAPIBody = 16 << 10

// MountPublicAPI registers the person's JSON API on g, a group at /api/v1
// that does not require a bearer token (not server.Server.APIGroup, where
// MountAPI mounts the administrators' routes): POST APIPathRegister
// registers (202, the same answer for every address); POST APIPathInspect
// tells what a link is for; POST APIPathPhoneSend and APIPathPhoneVerify
// verify the phone; POST APIPathConfirm follows the link with the password
// chosen; POST APIPathDocuments?name= attaches a document (the body).
func (h *Handler) MountPublicAPI(g *gin.RouterGroup) {
	g.POST(APIPathRegister, h.apiRegister)
	g.POST(APIPathInspect, h.apiInspect)
	g.POST(APIPathPhoneSend, h.apiPhoneSend)
	g.POST(APIPathPhoneVerify, h.apiPhoneVerify)
	g.POST(APIPathConfirm, h.apiConfirm)
	g.POST(APIPathDocuments, h.apiAddDocument)
}

// Requests.

type registerRequest struct {
	Org        string `json:"org"`
	Email      string `json:"email"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	Phone      string `json:"phone"`
	// Locale is the mails' language ("fr", "en"); by default the
	// request's Accept-Language, else French.
	Locale string `json:"locale"`
}

type tokenRequest struct {
	Token string `json:"token"`
}

type phoneSendRequest struct {
	Token  string `json:"token"`
	Locale string `json:"locale"`
}

type phoneVerifyRequest struct {
	Token string `json:"token"`
	Code  string `json:"code"`
}

type confirmRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// Answers.

type pendingJSON struct {
	Address       string    `json:"address"`
	OrgID         string    `json:"org_id"`
	OrgName       string    `json:"org_name"`
	Phone         string    `json:"phone,omitempty"`
	PhoneVerified bool      `json:"phone_verified"`
	ExpiresAt     time.Time `json:"expires_at"`
	// PhoneVerification: a code can be sent to the phone (it has one,
	// not verified, and an SMS sender is configured).
	PhoneVerification  bool       `json:"phone_verification"`
	DocumentsAvailable bool       `json:"documents_available"`
	PasswordPolicy     policyJSON `json:"password_policy"`
}

type policyJSON struct {
	MinLength  int `json:"min_length"`
	MinClasses int `json:"min_classes"`
}

func (h *Handler) policy() policyJSON {
	p := h.svc.cfg.Password
	return policyJSON{MinLength: max(p.MinLength, authn.MinPasswordChars), MinClasses: p.MinClasses}
}

func (h *Handler) pendingJSON(p Pending) pendingJSON {
	return pendingJSON{Address: p.Address, OrgID: p.OrgID, OrgName: p.OrgName, Phone: p.Phone, PhoneVerified: p.PhoneVerified,
		ExpiresAt: p.ExpiresAt.In(h.svc.cfg.Location), PhoneVerification: p.Phone != "" && !p.PhoneVerified && h.svc.sms != nil,
		DocumentsAvailable: h.svc.docs != nil, PasswordPolicy: h.policy()}
}

// Handlers.

// apiRegister registers; its answer is the same whether the address is
// known or not.
func (h *Handler) apiRegister(c *gin.Context) {
	var req registerRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	locale, ok := jsonapi.Locale(c, req.Locale)
	if !ok {
		return
	}
	o, ok := h.orgOf(c, req.Org)
	if !ok {
		jsonapi.Error(c, http.StatusNotFound, "org: "+ErrUnknownOrg.Error())
		return
	}
	r := Registration{OrgID: o.ID, Email: req.Email, GivenName: req.GivenName, FamilyName: req.FamilyName, Phone: req.Phone, Locale: locale}
	check := r
	if err := check.check(); err != nil {
		jsonapi.Error(c, http.StatusBadRequest, err.Error())
		return
	}
	if ok, wait := h.ipLimit.Take(c.ClientIP()); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	if ok, wait := h.addressLimit.Take(check.Email); !ok {
		jsonapi.RateLimited(c, wait)
		return
	}
	if err := h.svc.RegisterWith(c.Request.Context(), r); err != nil {
		h.apiFail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted",
		"message": "if this address can be registered, a link was mailed to it: follow it to choose a password"})
}

// apiInspect tells what a link is for; it acts on nothing.
func (h *Handler) apiInspect(c *gin.Context) {
	var req tokenRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) || !h.takeIP(c) {
		return
	}
	p, err := h.svc.Inspect(c.Request.Context(), req.Token)
	if err != nil {
		h.apiFail(c, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	c.JSON(http.StatusOK, h.pendingJSON(p))
}

// apiPhoneSend sends a code to the phone of the link's account.
func (h *Handler) apiPhoneSend(c *gin.Context) {
	var req phoneSendRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) {
		return
	}
	locale, ok := jsonapi.Locale(c, req.Locale)
	if !ok || !h.takeIP(c) {
		return
	}
	if err := h.svc.SendPhoneCode(c.Request.Context(), req.Token, locale); err != nil {
		h.apiFail(c, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	c.JSON(http.StatusAccepted, gin.H{"status": "sent", "expires_in": int(PhoneCodeTTL / time.Second)})
}

// apiPhoneVerify checks a code typed back, and answers what the link is
// for, the phone verified.
func (h *Handler) apiPhoneVerify(c *gin.Context) {
	var req phoneVerifyRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) || !h.takeIP(c) {
		return
	}
	ctx := c.Request.Context()
	if err := h.svc.VerifyPhone(ctx, req.Token, req.Code); err != nil {
		h.apiFail(c, err)
		return
	}
	p, err := h.svc.Inspect(ctx, req.Token)
	if err != nil {
		h.apiFail(c, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	c.JSON(http.StatusOK, h.pendingJSON(p))
}

// apiConfirm follows the link with the password chosen; the link is used
// after.
func (h *Handler) apiConfirm(c *gin.Context) {
	var req confirmRequest
	if !jsonapi.DecodeTyped(c, &req, maxAPIBody) || !h.takeIP(c) {
		return
	}
	done, err := h.svc.Confirm(c.Request.Context(), req.Token, req.Password)
	if err != nil {
		h.apiFail(c, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	status := "pending_validation"
	if done.Active {
		status = "active"
	}
	c.JSON(http.StatusOK, gin.H{"status": status, "address": done.Address, "org_id": done.OrgID, "org_name": done.OrgName})
}

// apiAddDocument attaches the body to the account of the link of the
// HeaderLinkToken header, named ?name=.
func (h *Handler) apiAddDocument(c *gin.Context) {
	if !h.takeIP(c) {
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, MaxDocumentBytes)
	d, err := h.svc.AddDocumentByLink(c.Request.Context(), c.GetHeader(HeaderLinkToken), c.Query("name"), body)
	if err != nil {
		h.apiFail(c, err)
		return
	}
	h.ipLimit.Give(c.ClientIP())
	c.JSON(http.StatusCreated, d)
}

// takeIP takes a token of the client address's limit; without one it
// answers 429 and returns false.
func (h *Handler) takeIP(c *gin.Context) bool {
	ok, wait := h.ipLimit.Take(c.ClientIP())
	if !ok {
		jsonapi.RateLimited(c, wait)
	}
	return ok
}

// apiFail maps a service error to its answer. A link refused, whatever the
// reason, gets one answer; unexpected errors are 500 without details. As
// on the pages, a refused link and a wrong or missing phone code keep the
// client address's token they took; the other errors of a valid link give
// it back.
func (h *Handler) apiFail(c *gin.Context, err error) {
	var pe *authn.PolicyError
	switch {
	case errors.Is(err, ErrInvalidLink), errors.Is(err, store.ErrNotFound):
		jsonapi.Error(c, http.StatusNotFound, ErrInvalidLink.Error())
		return
	case errors.Is(err, ErrWrongCode):
		jsonapi.Error(c, http.StatusUnprocessableEntity, "code: "+ErrWrongCode.Error())
		return
	case errors.Is(err, ErrNoCode):
		jsonapi.Error(c, http.StatusConflict, "code: "+ErrNoCode.Error())
		return
	case errors.Is(err, ErrInvalid):
		jsonapi.Error(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrUnknownOrg):
		jsonapi.Error(c, http.StatusNotFound, "org: "+ErrUnknownOrg.Error())
	case errors.As(err, &pe):
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, gin.H{"error": "password: " + pe.Error(), "rule": string(pe.Rule),
			"password_policy": h.policy()})
	case errors.Is(err, ErrTooManyCodes):
		jsonapi.Error(c, http.StatusTooManyRequests, ErrTooManyCodes.Error())
	case errors.Is(err, ErrNoPhone), errors.Is(err, ErrSMSUnavailable):
		jsonapi.Error(c, http.StatusConflict, err.Error())
	case errors.Is(err, ErrDocumentType):
		jsonapi.Error(c, http.StatusUnsupportedMediaType, ErrDocumentType.Error())
	case errors.Is(err, ErrDocumentTooLarge):
		jsonapi.Error(c, http.StatusRequestEntityTooLarge, ErrDocumentTooLarge.Error())
	case errors.Is(err, ErrDocumentsUnavailable):
		jsonapi.Error(c, http.StatusNotImplemented, ErrDocumentsUnavailable.Error())
	case errors.Is(err, store.ErrConflict):
		jsonapi.Error(c, http.StatusConflict, "the account changed concurrently, try again")
	default:
		h.log.ErrorContext(c.Request.Context(), "registration public api", "path", c.FullPath(), "error", err)
		jsonapi.Error(c, http.StatusInternalServerError, "internal error")
		return
	}
	h.ipLimit.Give(c.ClientIP())
}
