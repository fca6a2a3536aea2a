package propagate

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/store"
)

// EventRetryRequested: an operator asked for the dead letters of a target
// to be tried again.
const EventRetryRequested = "propagation.retry_requested"

// Handler serves /api/v1/propagation: the targets' status, their dead
// letters, and retrying them. Support tokens only: targets span every org.
type Handler struct {
	st      store.Store
	targets []string
	caller  func(r *http.Request) (store.APIToken, bool)
}

// NewHandler returns the handler for the targets of d; caller reads the
// authenticated API token.
func NewHandler(st store.Store, d *Dispatcher, caller func(r *http.Request) (store.APIToken, bool)) *Handler {
	return &Handler{st: st, targets: d.Targets(), caller: caller}
}

// Mount registers the routes on the /api/v1 group.
func (h *Handler) Mount(g *gin.RouterGroup) {
	g.GET("/propagation/targets", h.supportOnly, h.status)
	g.GET("/propagation/dead-letters", h.supportOnly, h.deadLetters)
	g.POST("/propagation/targets/:name/retry", h.supportOnly, h.retry)
}

func (h *Handler) supportOnly(c *gin.Context) {
	if t, ok := h.caller(c.Request); !ok || t.Role != store.RoleSupport {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "this operation needs a support token"})
	}
}

func (h *Handler) status(c *gin.Context) {
	out, err := Status(c.Request.Context(), h.st, h.targets)
	if err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "cannot read the propagation status"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"targets": out})
}

type deadLetterJSON struct {
	ID        int64  `json:"id"`
	Target    string `json:"target"`
	AccountID string `json:"account_id,omitempty"`
	EventID   int64  `json:"event_id,omitempty"`
	EventType string `json:"event_type"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
	Retry     bool   `json:"retry"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (h *Handler) deadLetters(c *gin.Context) {
	q := store.DeadLetterQuery{Target: c.Query("target")}
	if q.Target != "" && !slices.Contains(h.targets, q.Target) {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no target named " + strconv.Quote(q.Target)})
		return
	}
	if v := c.Query("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "before must be a positive dead letter id"})
			return
		}
		q.Before = n
	}
	q.Limit = 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "limit must be between 1 and 1000"})
			return
		}
		q.Limit = n
	}
	ctx := c.Request.Context()
	var got []store.DeadLetter
	err := h.st.View(ctx, func(tx store.Tx) error {
		var err error
		got, err = tx.Propagation().DeadLetters(ctx, q)
		return err
	})
	if err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "cannot read the dead letters"})
		return
	}
	out := make([]deadLetterJSON, 0, len(got))
	for _, d := range got {
		out = append(out, deadLetterJSON{ID: d.ID, Target: d.Target, AccountID: d.AccountID, EventID: d.Seq,
			EventType: d.EventType, Attempts: d.Attempts, LastError: d.LastError, Retry: d.Retry,
			CreatedAt: d.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), UpdatedAt: d.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")})
	}
	resp := gin.H{"dead_letters": out}
	if len(got) == q.Limit {
		resp["next_before"] = got[len(got)-1].ID
	}
	c.JSON(http.StatusOK, resp)
}

type retryRequest struct {
	// IDs are the dead letters to retry; empty means all of the target's.
	IDs []int64 `json:"ids"`
}

func (h *Handler) retry(c *gin.Context) {
	name := c.Param("name")
	if !slices.Contains(h.targets, name) {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no target named " + strconv.Quote(name)})
		return
	}
	var req retryRequest
	if c.Request.ContentLength != 0 {
		if err := c.ShouldBindJSON(&req); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": `the body must be {"ids": [dead letter ids]} or empty: ` + err.Error()})
			return
		}
	}
	t, _ := h.caller(c.Request)
	ctx := c.Request.Context()
	var n int
	err := h.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if n, err = tx.Propagation().RetryDeadLetters(ctx, name, req.IDs); err != nil || n == 0 {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventRetryRequested, Actor: "token:" + t.Name,
			Data: map[string]any{"target": name, "ids": req.IDs, "count": n}})
	})
	if err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "cannot mark the dead letters for retry"})
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"marked": n})
}
