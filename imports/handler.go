package imports

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
)

// MaxUpload bounds an uploaded file (64 MiB).
const MaxUpload = 64 << 20

// CallerFunc returns the authenticated API token of a request (the server
// package's Caller).
type CallerFunc func(r *http.Request) (store.APIToken, bool)

// Handler serves /api/v1/imports.
type Handler struct {
	svc    *Service
	caller CallerFunc
	owner  string
}

// NewHandler returns the handler; owner names this process in leases.
func NewHandler(svc *Service, caller CallerFunc, owner string) *Handler {
	return &Handler{svc: svc, caller: caller, owner: owner}
}

// Mount registers the routes on the /api/v1 group. Imports act across orgs:
// support tokens only.
func (h *Handler) Mount(g *gin.RouterGroup) {
	// One wildcard name per segment (gin): ref is the connector on POST,
	// the import id on GET.
	g.POST("/imports/:ref", h.supportOnly, h.run)
	g.GET("/imports", h.supportOnly, h.list)
	g.GET("/imports/:ref", h.supportOnly, h.get)
}

func (h *Handler) supportOnly(c *gin.Context) {
	if t, ok := h.caller(c.Request); !ok || t.Role != store.RoleSupport {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "this operation needs a support token"})
	}
}

// run answers POST /api/v1/imports/{connector}: a multipart form with the
// file in "file", and dry_run and strict as form or query values.
func (h *Handler) run(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxUpload+1<<20)
	fh, err := c.FormFile("file")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			jsonapi.Error(c, http.StatusRequestEntityTooLarge, "the file is larger than 64 MiB")
			return
		}
		jsonapi.Error(c, http.StatusBadRequest, `send the file as multipart/form-data in the field "file"`)
		return
	}
	dryRun, err1 := formBool(c, "dry_run")
	strict, err2 := formBool(c, "strict")
	if err := errors.Join(err1, err2); err != nil {
		jsonapi.Error(c, http.StatusBadRequest, err.Error())
		return
	}
	f, err := fh.Open()
	if err != nil {
		jsonapi.Error(c, http.StatusBadRequest, "cannot read the uploaded file: "+err.Error())
		return
	}
	defer f.Close()
	actor := "api"
	if t, ok := h.caller(c.Request); ok {
		actor = "token:" + t.Name
	}
	rep, err := h.svc.Run(c.Request.Context(), Request{
		Connector: c.Param("ref"), FileName: fh.Filename, File: f, Size: fh.Size,
		DryRun: dryRun, Strict: strict, Actor: actor, Owner: h.owner,
	})
	var rejected *RejectedError
	var held *store.LeaseHeldError
	switch {
	case errors.Is(err, ErrUnknownConnector):
		jsonapi.Error(c, http.StatusNotFound, err.Error())
	case errors.As(err, &rejected):
		c.JSON(http.StatusUnprocessableEntity, rep)
	case errors.As(err, &held):
		jsonapi.Error(c, http.StatusConflict, err.Error())
	case err != nil:
		c.JSON(http.StatusInternalServerError, rep)
	default:
		c.JSON(http.StatusOK, rep)
	}
}

func formBool(c *gin.Context, key string) (bool, error) {
	v := c.PostForm(key)
	if v == "" {
		v = c.Query(key)
	}
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New(key + ": want true or false, got " + strconv.Quote(v))
	}
	return b, nil
}

// importJSON is an import record as the API lists it.
type importJSON struct {
	ID         string    `json:"id"`
	Connector  string    `json:"connector"`
	File       string    `json:"file"`
	FileSHA256 string    `json:"file_sha256"`
	Actor      string    `json:"actor"`
	DryRun     bool      `json:"dry_run"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Report is the import's report, on GET /api/v1/imports/{id} only.
	Report any `json:"report,omitempty"`
}

func toJSON(r store.ImportRecord, withReport bool) importJSON {
	out := importJSON{ID: r.ID, Connector: r.Connector, File: r.FileName, FileSHA256: r.FileSHA256, Actor: r.Actor,
		DryRun: r.DryRun, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	if withReport {
		out.Report = rawJSON(r.Report)
	}
	return out
}

// rawJSON embeds a stored JSON document as is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// list answers GET /api/v1/imports[?connector=NAME&limit=N].
func (h *Handler) list(c *gin.Context) {
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			jsonapi.Error(c, http.StatusBadRequest, "limit: want 1 to 1000")
			return
		}
		limit = n
	}
	recs, err := h.svc.List(c.Request.Context(), c.Query("connector"), limit)
	if err != nil {
		jsonapi.Error(c, http.StatusInternalServerError, "internal error")
		return
	}
	out := make([]importJSON, 0, len(recs))
	for _, r := range recs {
		out = append(out, toJSON(r, false))
	}
	c.JSON(http.StatusOK, gin.H{"imports": out})
}

// get answers GET /api/v1/imports/{id}: the record with its report.
func (h *Handler) get(c *gin.Context) {
	rec, err := h.svc.Get(c.Request.Context(), c.Param("ref"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		jsonapi.Error(c, http.StatusNotFound, "no import "+strconv.Quote(c.Param("ref")))
	case err != nil:
		jsonapi.Error(c, http.StatusInternalServerError, "internal error")
	default:
		c.JSON(http.StatusOK, toJSON(rec, true))
	}
}
