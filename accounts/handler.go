package accounts

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
)

// CallerFunc returns the authenticated API token of a request context (the
// server package's Caller).
type CallerFunc func(r *http.Request) (store.APIToken, bool)

// Handler serves the accounts part of /api/v1.
type Handler struct {
	svc    *Service
	caller CallerFunc
}

// NewHandler returns the handler; caller reads the authenticated token.
func NewHandler(svc *Service, caller CallerFunc) *Handler {
	return &Handler{svc: svc, caller: caller}
}

// Mount registers the routes on the /api/v1 group.
func (h *Handler) Mount(g *gin.RouterGroup) {
	g.POST("/accounts", h.supportOnly, h.create)
	g.GET("/accounts", h.list)
	g.GET("/accounts/:id", h.get)
	g.GET("/accounts/:id/merge-preview", h.supportOnly, h.preview)
	g.POST("/accounts/:id/merge", h.supportOnly, h.merge)
	g.POST("/merges/:id/undo", h.supportOnly, h.undo)
	g.GET("/duplicates", h.supportOnly, h.duplicates)
	g.POST("/duplicates/dismiss", h.supportOnly, h.dismiss)
}

// supportOnly refuses org-admin tokens: creating, merging and undoing act
// across orgs.
func (h *Handler) supportOnly(c *gin.Context) {
	if t, ok := h.caller(c.Request); !ok || t.Role != store.RoleSupport {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "this operation needs a support token"})
	}
}

// orgScope returns the org an org-admin token is confined to, "" for support.
func (h *Handler) orgScope(c *gin.Context) string {
	if t, ok := h.caller(c.Request); ok && t.Role == store.RoleOrgAdmin {
		return t.OrgID
	}
	return ""
}

type emailJSON struct {
	Address  string `json:"address"`
	Verified bool   `json:"verified"`
	Primary  bool   `json:"primary"`
}

type linkJSON struct {
	Source     string `json:"source"`
	ExternalID string `json:"external_id"`
	Status     string `json:"status"`
}

type membershipJSON struct {
	OrgID string `json:"org_id"`
	Role  string `json:"role"`
	State string `json:"state"`
}

type mergedJSON struct {
	ID       string    `json:"id"`
	Login    string    `json:"login,omitempty"`
	MergeID  string    `json:"merge_id"`
	MergedAt time.Time `json:"merged_at"`
}

// accountJSON is the account representation of the API (DESIGN.md contract:
// id, status, login, emails, links, merged_into, merged_from, and more).
type accountJSON struct {
	ID          string              `json:"id"`
	Status      identity.Status     `json:"status"`
	Login       string              `json:"login,omitempty"`
	GivenName   string              `json:"given_name,omitempty"`
	FamilyName  string              `json:"family_name,omitempty"`
	DisplayName string              `json:"display_name,omitempty"`
	BirthDate   string              `json:"birth_date,omitempty"`
	Phone       string              `json:"phone,omitempty"`
	Attributes  map[string][]string `json:"attributes,omitempty"`
	Provenance  map[string]string   `json:"provenance,omitempty"`
	Emails      []emailJSON         `json:"emails"`
	Links       []linkJSON          `json:"links"`
	Memberships []membershipJSON    `json:"memberships,omitempty"`
	MergedInto  *string             `json:"merged_into"`
	MergedFrom  []mergedJSON        `json:"merged_from"`
	RequestedID string              `json:"requested_id,omitempty"`
	Version     int64               `json:"version"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// DetailsJSON is the API representation of an account (GET /api/v1/accounts/{id}).
func DetailsJSON(d Details) any { return toJSON(d) }

// PreviewJSON is the API representation of a merge preview.
func PreviewJSON(p identity.Plan) any { return previewJSON(p) }

func toJSON(d Details) accountJSON {
	a := d.Account
	out := accountJSON{ID: a.ID, Status: a.Status, Login: a.Login, GivenName: a.GivenName, FamilyName: a.FamilyName,
		DisplayName: a.DisplayName, BirthDate: a.BirthDate, Phone: a.Phone, Attributes: a.Attributes, Provenance: a.Provenance,
		Emails: []emailJSON{}, Links: []linkJSON{}, MergedFrom: []mergedJSON{}, RequestedID: d.RequestedID,
		Version: a.Version, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if a.MergedInto != "" {
		out.MergedInto = &a.MergedInto
	}
	for _, e := range d.Emails {
		out.Emails = append(out.Emails, emailJSON{e.Address, e.Verified, e.Primary})
	}
	for _, l := range d.Links {
		out.Links = append(out.Links, linkJSON{l.Source, l.ExternalID, string(l.Status)})
	}
	for _, m := range d.Memberships {
		out.Memberships = append(out.Memberships, membershipJSON{m.OrgID, string(m.Role), string(m.State)})
	}
	for _, m := range d.MergedFrom {
		out.MergedFrom = append(out.MergedFrom, mergedJSON{m.ID, m.Login, m.MergeID, m.MergedAt})
	}
	return out
}

type createRequest struct {
	Login      string `json:"login"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	BirthDate  string `json:"birth_date"`
	Emails     []struct {
		Address  string `json:"address"`
		Verified bool   `json:"verified"`
	} `json:"emails"`
	Password string `json:"password"`
}

func (h *Handler) create(c *gin.Context) {
	var req createRequest
	if !jsonapi.Decode(c, &req, maxBody) {
		return
	}
	if req.Password != "" {
		// Passwords come with the login issue (argon2id); refusing is
		// better than silently dropping one.
		jsonapi.Error(c, http.StatusBadRequest, "password: setting a password through the API is not supported yet")
		return
	}
	n := NewAccount{Login: req.Login, GivenName: req.GivenName, FamilyName: req.FamilyName, BirthDate: req.BirthDate, Source: "admin"}
	for _, e := range req.Emails {
		n.Emails = append(n.Emails, NewEmail{Address: e.Address, Verified: e.Verified})
	}
	ctx := c.Request.Context()
	a, err := h.svc.Create(ctx, n, h.actor(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	d, err := h.svc.Get(ctx, a.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", c.Request.URL.Path+"/"+a.ID)
	c.JSON(http.StatusCreated, toJSON(d))
}

func (h *Handler) list(c *gin.Context) {
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			jsonapi.Error(c, http.StatusBadRequest, "limit: must be a number from 1 to 500")
			return
		}
		limit = n
	}
	q := store.AccountQuery{Text: c.Query("q"), After: c.Query("cursor"), Limit: limit + 1, OrgID: h.orgScope(c)}
	if v := c.Query("status"); v != "" {
		if !identity.Status(v).Valid() {
			jsonapi.Error(c, http.StatusBadRequest, "status: unknown status "+strconv.Quote(v))
			return
		}
		q.Statuses = []identity.Status{identity.Status(v)}
	}
	accounts, err := h.svc.List(c.Request.Context(), q)
	if err != nil {
		h.fail(c, err)
		return
	}
	var next *string
	if len(accounts) > limit {
		accounts = accounts[:limit]
		cursor := accounts[limit-1].ID
		next = &cursor
	}
	out := make([]accountJSON, 0, len(accounts))
	for _, a := range accounts {
		out = append(out, toJSON(Details{Account: a}))
	}
	c.JSON(http.StatusOK, gin.H{"accounts": out, "next_cursor": next})
}

func (h *Handler) get(c *gin.Context) {
	d, err := h.svc.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	if org := h.orgScope(c); org != "" && !memberOf(d, org) {
		// The same answer as an unknown id: an org admin learns nothing
		// about accounts outside the org.
		jsonapi.Error(c, http.StatusNotFound, "account "+c.Param("id")+" not found")
		return
	}
	c.JSON(http.StatusOK, toJSON(d))
}

func memberOf(d Details, org string) bool {
	for _, m := range d.Memberships {
		if m.OrgID == org {
			return true
		}
	}
	return false
}

func (h *Handler) preview(c *gin.Context) {
	retired := c.Query("retired_id")
	if retired == "" {
		jsonapi.Error(c, http.StatusBadRequest, "retired_id: required query parameter")
		return
	}
	plan, err := h.svc.Preview(c.Request.Context(), c.Param("id"), retired)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, previewJSON(plan))
}

type fieldJSON struct {
	Field          string `json:"field"`
	Survivor       string `json:"survivor"`
	SurvivorSource string `json:"survivor_source,omitempty"`
	Retired        string `json:"retired"`
	RetiredSource  string `json:"retired_source,omitempty"`
	Value          string `json:"value"`
	Source         string `json:"source,omitempty"`
	From           string `json:"from"`
}

func previewJSON(p identity.Plan) gin.H {
	fields := make([]fieldJSON, 0, len(p.Fields))
	for _, f := range p.Fields {
		fields = append(fields, fieldJSON{f.Field, f.Survivor, f.SurvivorSource, f.Retired, f.RetiredSource, f.Value, f.Source, f.From})
	}
	links := make([]identity.LinkKey, 0, len(p.Moved.Links))
	links = append(links, p.Moved.Links...)
	emails := make([]identity.MovedEmail, 0, len(p.Moved.Emails))
	emails = append(emails, p.Moved.Emails...)
	return gin.H{"survivor_id": p.SurvivorID, "retired_id": p.RetiredID, "fields": fields,
		"links": links, "emails": emails, "memberships": append([]string{}, p.Moved.Memberships...)}
}

type mergeRequest struct {
	RetiredID       string `json:"retired_id"`
	SurvivorVersion int64  `json:"survivor_version"`
	RetiredVersion  int64  `json:"retired_version"`
}

func (h *Handler) merge(c *gin.Context) {
	var req mergeRequest
	if !jsonapi.Decode(c, &req, maxBody) {
		return
	}
	if req.RetiredID == "" {
		jsonapi.Error(c, http.StatusBadRequest, "retired_id: required")
		return
	}
	rec, err := h.svc.Merge(c.Request.Context(), MergeRequest{SurvivorID: c.Param("id"), RetiredID: req.RetiredID,
		Reason: identity.MergeByAdmin, Actor: h.actor(c), SurvivorVersion: req.SurvivorVersion, RetiredVersion: req.RetiredVersion})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"merge_id": rec.ID, "survivor_id": rec.SurvivorID, "retired_id": rec.RetiredID})
}

func (h *Handler) undo(c *gin.Context) {
	rec, err := h.svc.Undo(c.Request.Context(), c.Param("id"), h.actor(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"merge_id": rec.ID, "survivor_id": rec.SurvivorID, "retired_id": rec.RetiredID, "undone_at": rec.UndoneAt})
}

// maxBody bounds a request body.
const maxBody = 1 << 20

func (h *Handler) actor(c *gin.Context) string {
	if t, ok := h.caller(c.Request); ok {
		return "token:" + t.Name
	}
	return "api"
}

// fail maps a service error to its HTTP answer; unexpected errors are 500
// without details.
func (h *Handler) fail(c *gin.Context, err error) {
	var stale *StaleError
	var undo *identity.UndoConflict
	var dup *store.DuplicateError
	switch {
	case errors.Is(err, ErrInvalid):
		jsonapi.Error(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrNotFound):
		jsonapi.Error(c, http.StatusNotFound, err.Error())
	case errors.As(err, &undo):
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": err.Error(), "reasons": undo.Reasons})
	case errors.As(err, &stale):
		jsonapi.Error(c, http.StatusConflict, err.Error())
	case errors.As(err, &dup):
		jsonapi.Error(c, http.StatusConflict, dup.Field+" is already taken")
	case errors.Is(err, ErrMergeConflict), errors.Is(err, ErrUndoExpired):
		jsonapi.Error(c, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrConflict):
		jsonapi.Error(c, http.StatusConflict, "the account changed concurrently, try again")
	default:
		h.svc.log.ErrorContext(c.Request.Context(), "accounts api", "path", c.FullPath(), "error", err)
		jsonapi.Error(c, http.StatusInternalServerError, "internal error")
	}
}

type accountBrief struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Login      string `json:"login,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	BirthDate  string `json:"birth_date,omitempty"`
}

type matchJSON struct {
	Field    string `json:"field"`
	Detail   string `json:"detail"`
	Conflict bool   `json:"conflict"`
}

type suggestionJSON struct {
	AccountA accountBrief `json:"account_a"`
	AccountB accountBrief `json:"account_b"`
	Score    float64      `json:"score"`
	Matches  []matchJSON  `json:"matches"`
}

func brief(a identity.Account) accountBrief {
	return accountBrief{a.ID, string(a.Status), a.Login, a.GivenName, a.FamilyName, a.BirthDate}
}

// ReportJSON is the API representation of a duplicate report.
func ReportJSON(rep DuplicateReport) any {
	out := make([]suggestionJSON, 0, len(rep.Suggestions))
	for _, s := range rep.Suggestions {
		js := suggestionJSON{AccountA: brief(s.A), AccountB: brief(s.B), Score: s.Score.Value, Matches: []matchJSON{}}
		for _, m := range s.Score.Matches {
			js.Matches = append(js.Matches, matchJSON{m.Field, m.Detail, m.Conflict()})
		}
		out = append(out, js)
	}
	return gin.H{"suggestions": out, "pairs_scored": rep.Pairs, "dismissed": rep.Dismissed}
}

func (h *Handler) duplicates(c *gin.Context) {
	rep, err := h.svc.Duplicates(c.Request.Context(), c.Query("account_id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ReportJSON(rep))
}

type dismissRequest struct {
	AccountA string `json:"account_a"`
	AccountB string `json:"account_b"`
}

func (h *Handler) dismiss(c *gin.Context) {
	var req dismissRequest
	if !jsonapi.Decode(c, &req, maxBody) {
		return
	}
	if err := h.svc.Dismiss(c.Request.Context(), req.AccountA, req.AccountB, h.actor(c)); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"account_a": req.AccountA, "account_b": req.AccountB, "decision": "not_duplicate"})
}
