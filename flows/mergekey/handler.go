package mergekey

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ratelimit"
	"github.com/canonid/canonid/server/jsonapi"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Routes of the pages.
const (
	// PathKeyPage generates a key (GET: the button; POST: the key, once).
	PathKeyPage = "/account/merge-key"
	// PathMergePage takes a key (GET: the form and the merged users;
	// POST: the preview, then, with confirm, the merge).
	PathMergePage = "/account/merge"
)

// maxBody bounds the request bodies of the flow (JSON and forms).
const maxBody = 16 << 10

// HandlerDeps are what the HTTP side needs besides the service.
type HandlerDeps struct {
	// Pages draws the pages with web's layout, language choice, login
	// session and CSRF protection. Nil: Mount serves the JSON API only.
	Pages *web.Handler
	// Logger receives the errors that answer 500. Nil discards.
	Logger *slog.Logger
}

// Handler serves the flow: the self-service JSON API and the pages.
type Handler struct {
	svc       *Service
	web       *web.Handler
	log       *slog.Logger
	tpl       templates
	cat       catalogs
	ipLimit   *ratelimit.Limiter
	acctLimit *ratelimit.Limiter
}

// NewHandler returns the HTTP side of svc.
func NewHandler(svc *Service, deps HandlerDeps) (*Handler, error) {
	if svc == nil {
		return nil, errors.New("mergekey: NewHandler needs the service")
	}
	h := &Handler{svc: svc, web: deps.Pages, log: deps.Logger,
		ipLimit:   newLimiter(svc.cfg.IPLimit, svc.now),
		acctLimit: newLimiter(svc.cfg.AccountLimit, svc.now),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.web != nil {
		var err error
		if h.tpl, err = parseTemplates(); err != nil {
			return nil, fmt.Errorf("mergekey: %w", err)
		}
		if h.cat, err = loadCatalogs(svc.cfg.Location); err != nil {
			return nil, fmt.Errorf("mergekey: %w", err)
		}
	}
	return h, nil
}

// Mount registers the JSON API on me, the /api/v1/me group behind
// web.Handler.RequireAccount: POST /merge-key, POST /merge and GET
// /merged-users. With HandlerDeps.Pages, it registers the pages on pages:
// GET and POST PathKeyPage and PathMergePage. Either may be nil.
func (h *Handler) Mount(me *gin.RouterGroup, pages *gin.Engine) {
	if me != nil {
		me.POST("/merge-key", h.apiGenerate)
		me.POST("/merge", h.apiMerge)
		me.GET("/merged-users", h.apiMergedUsers)
	}
	if pages != nil && h.web != nil {
		pages.GET(PathKeyPage, h.getKeyPage)
		pages.POST(PathKeyPage, h.postKeyPage)
		pages.GET(PathMergePage, h.getMergePage)
		pages.POST(PathMergePage, h.postMergePage)
	}
}

// redeem runs fn, which uses a key, under the limits of failed
// redemptions: it takes a token per client address and one per account;
// when fn fails with ErrInvalidKey they stay taken, otherwise they are
// given back. When a bucket is empty fn does not run and redeem returns
// how long to wait.
func (h *Handler) redeem(c *gin.Context, accountID string, fn func() error) (wait time.Duration, err error) {
	ip := c.ClientIP()
	if ok, wait := h.ipLimit.Take(ip); !ok {
		return wait, nil
	}
	if ok, wait := h.acctLimit.Take(accountID); !ok {
		h.ipLimit.Give(ip)
		return wait, nil
	}
	err = fn()
	if !errors.Is(err, ErrInvalidKey) {
		h.ipLimit.Give(ip)
		h.acctLimit.Give(accountID)
	}
	return 0, err
}

// --- JSON API ------------------------------------------------------------

// me returns the authenticated caller, answering 401 when there is none
// (the group was mounted without RequireAccount).
func me(c *gin.Context) (string, bool) {
	id, ok := web.Me(c)
	if !ok {
		jsonapi.Error(c, http.StatusUnauthorized, "log in first")
	}
	c.Header("Cache-Control", "no-store")
	return id, ok
}

func (h *Handler) apiGenerate(c *gin.Context) {
	id, ok := me(c)
	if !ok {
		return
	}
	key, expires, err := h.svc.Generate(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"key": key, "expires_at": expires})
}

// mergeBody is the body of POST /api/v1/me/merge.
type mergeBody struct {
	Key     string `json:"key"`
	Confirm bool   `json:"confirm"`
	// SurvivorVersion and RetiredVersion, optional with confirm, are the
	// versions the preview showed: the merge is refused (409) if an
	// account changed since.
	SurvivorVersion int64 `json:"survivor_version"`
	RetiredVersion  int64 `json:"retired_version"`
}

type summaryJSON struct {
	ID      string   `json:"id"`
	Login   string   `json:"login,omitempty"`
	Name    string   `json:"name,omitempty"`
	Emails  []string `json:"emails"`
	Version int64    `json:"version"`
}

func toSummaryJSON(s Summary) summaryJSON {
	return summaryJSON{ID: s.ID, Login: s.Login, Name: s.Name(), Emails: s.Emails, Version: s.Version}
}

func (h *Handler) apiMerge(c *gin.Context) {
	id, ok := me(c)
	if !ok {
		return
	}
	var body mergeBody
	if !jsonapi.Decode(c, &body, maxBody) {
		return
	}
	if body.Key == "" {
		jsonapi.Error(c, http.StatusBadRequest, "key: required")
		return
	}
	ctx := c.Request.Context()
	var preview Preview
	var merged identity.MergeRecord
	wait, err := h.redeem(c, id, func() error {
		var err error
		if body.Confirm {
			merged, err = h.svc.MergeSeen(ctx, id, body.Key, "account:"+id,
				Versions{Survivor: body.SurvivorVersion, Retired: body.RetiredVersion})
		} else {
			preview, err = h.svc.Preview(ctx, id, body.Key)
		}
		return err
	})
	switch {
	case wait > 0:
		c.Header("Retry-After", jsonapi.RetryAfter(wait))
		jsonapi.Error(c, http.StatusTooManyRequests, "too many attempts with merge keys that are not valid: try again later")
	case err != nil:
		h.fail(c, err)
	case body.Confirm:
		h.mergeJSON(c, merged)
	default:
		c.JSON(http.StatusOK, gin.H{
			"survivor": toSummaryJSON(preview.Survivor), "retired": toSummaryJSON(preview.Retired),
			"key_expires_at": preview.KeyExpiresAt, "preview": accounts.PreviewJSON(preview.Plan),
		})
	}
}

// mergeJSON answers a merge: its record, with the retired login as the
// merged users list it.
func (h *Handler) mergeJSON(c *gin.Context, rec identity.MergeRecord) {
	login := ""
	if users, err := h.svc.MergedUsers(c.Request.Context(), rec.SurvivorID); err == nil {
		for _, u := range users {
			if u.MergeID == rec.ID {
				login = u.Login
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"merge_id": rec.ID, "survivor_id": rec.SurvivorID, "retired_id": rec.RetiredID,
		"retired_login": login, "merged_at": rec.CreatedAt})
}

type mergedUserJSON struct {
	ID       string    `json:"id"`
	Login    string    `json:"login,omitempty"`
	Name     string    `json:"name,omitempty"`
	MergeID  string    `json:"merge_id"`
	Reason   string    `json:"reason"`
	MergedAt time.Time `json:"merged_at"`
}

func (h *Handler) apiMergedUsers(c *gin.Context) {
	id, ok := me(c)
	if !ok {
		return
	}
	users, err := h.svc.MergedUsers(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]mergedUserJSON, 0, len(users))
	for _, u := range users {
		out = append(out, mergedUserJSON{u.AccountID, u.Login, u.Name, u.MergeID, string(u.Reason), u.MergedAt})
	}
	c.JSON(http.StatusOK, gin.H{"merged_users": out})
}

// errStatus maps a service error to its status and message; 500 for the
// unexpected, without details.
func errStatus(err error) (int, string) {
	var stale *accounts.StaleError
	var dup *store.DuplicateError
	switch {
	case errors.Is(err, ErrInvalidKey):
		return http.StatusNotFound, ErrInvalidKey.Error()
	case errors.Is(err, ErrOwnKey):
		return http.StatusBadRequest, ErrOwnKey.Error()
	case errors.Is(err, accounts.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrNotMergeable):
		return http.StatusConflict, ErrNotMergeable.Error()
	case errors.As(err, &stale):
		return http.StatusConflict, "an account changed since the preview: preview the merge again"
	case errors.Is(err, accounts.ErrMergeConflict):
		return http.StatusConflict, err.Error()
	case errors.As(err, &dup):
		return http.StatusConflict, dup.Field + " is already taken"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "the account changed concurrently, try again"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "account not found"
	}
	return http.StatusInternalServerError, "internal error"
}

func (h *Handler) fail(c *gin.Context, err error) {
	status, msg := errStatus(err)
	if status == http.StatusInternalServerError {
		h.log.ErrorContext(c.Request.Context(), "merge key api", "path", c.FullPath(), "error", err)
	}
	jsonapi.Error(c, status, msg)
}
