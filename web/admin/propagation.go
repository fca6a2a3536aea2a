package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/store"
)

// Query parameters and form fields of the propagation page.
const (
	paramTarget = "target"
	paramBefore = "before"
	paramMarked = "marked"
	fieldID     = "id"
)

// retryForm is a retry button: of one dead letter (ID set) or of all those
// of a target.
type retryForm struct {
	Action, Label string
	ID            int64
	Filter        string
}

// targetRow is a propagation target's status.
type targetRow struct {
	Name                     string
	Cursor, Head, Lag        int64
	DeadLetters              int
	StatusLabel, StatusClass string
	LastError                string
	LastErrorAt, DeliveredAt stamp
	Lease                    string
	DeadHref                 string
	RetryAll                 *retryForm
}

// deadRow is a dead letter.
type deadRow struct {
	ID        int64
	Target    string
	Account   *link
	EventID   int64
	EventType string
	Attempts  int
	LastError string
	Retry     bool
	Created   stamp
	Updated   stamp
	RetryForm *retryForm
}

// propagationPage is what templates/propagation.html shows.
type propagationPage struct {
	base
	Targets     []targetRow
	Target      string
	Filter      []option
	Dead        []deadRow
	Caption     string
	Next, First string
	Action      string
}

// propagation shows each target's delivery (cursor, lag, last error,
// lease) and the dead letters, newest first, a page at a time, of every
// target or of ?target=, with their retry buttons.
func (h *Handler) propagation(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	b := h.base(c, lang, PathPropagation)
	target := c.Query(paramTarget)
	if n, err := strconv.Atoi(c.Query(paramMarked)); err == nil && n >= 0 {
		b.Notices = append(b.Notices, b.T("propagation.marked", n))
	}
	var before int64
	if v := c.Query(paramBefore); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			h.fail(c, lang, fmt.Errorf("%w: %s", accounts.ErrInvalid, b.T("propagation.badbefore")))
			return
		}
		before = n
	}
	if target != "" && !slices.Contains(h.deps.Targets, target) {
		h.fail(c, lang, store.ErrNotFound)
		return
	}
	h.renderPropagation(c, http.StatusOK, b, target, before)
}

func (h *Handler) renderPropagation(c *gin.Context, status int, b base, target string, before int64) {
	ctx := c.Request.Context()
	lang := b.Lang
	p := propagationPage{base: b, Target: target}
	var statuses []propagate.TargetStatus
	if len(h.deps.Targets) > 0 {
		var err error
		if statuses, err = propagate.Status(ctx, h.deps.Store, h.deps.Targets); err != nil {
			h.fail(c, lang, err)
			return
		}
	}
	now := h.now()
	for _, s := range statuses {
		r := targetRow{Name: s.Name, Cursor: s.Cursor, Head: s.Head, Lag: s.Lag, DeadLetters: s.DeadLetters, LastError: s.LastError,
			LastErrorAt: h.stamp(lang, s.LastErrorAt), DeliveredAt: h.stamp(lang, s.DeliveredAt),
			DeadHref: withQuery(PathPropagation, paramTarget, s.Name)}
		switch {
		case s.LastError != "":
			r.StatusLabel, r.StatusClass = b.T("propagation.state.error"), "red"
		case s.Lag > 0:
			r.StatusLabel, r.StatusClass = b.T("propagation.state.behind"), "orange"
		default:
			r.StatusLabel, r.StatusClass = b.T("propagation.state.ok"), "green"
		}
		if s.LeaseOwner != "" && now.Before(s.LeaseUntil) {
			r.Lease = b.T("propagation.lease", s.LeaseOwner, h.when(lang, s.LeaseUntil))
		}
		if s.DeadLetters > 0 {
			r.RetryAll = &retryForm{Action: retryPath(s.Name), Label: b.T("propagation.retryall.label", s.DeadLetters, s.Name), Filter: target}
		}
		p.Targets = append(p.Targets, r)
	}
	p.Filter = append(p.Filter, option{Value: "", Label: b.T("propagation.filter.all"), Selected: target == ""})
	for _, t := range h.deps.Targets {
		p.Filter = append(p.Filter, option{Value: t, Label: t, Selected: t == target})
	}
	var dead []store.DeadLetter
	names := map[string]string{}
	if len(h.deps.Targets) > 0 {
		err := h.deps.Store.View(ctx, func(tx store.Tx) error {
			var err error
			dead, err = tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{Target: target, Before: before, Limit: h.cfg.PageSize + 1})
			if err != nil {
				return err
			}
			var ids []string
			for _, d := range dead {
				if d.AccountID != "" {
					ids = append(ids, d.AccountID)
				}
			}
			slices.Sort(ids)
			accs, err := tx.Accounts().GetMany(ctx, slices.Compact(ids))
			for _, a := range accs {
				names[a.ID] = displayName(a)
			}
			return err
		})
		if err != nil {
			h.fail(c, lang, err)
			return
		}
	}
	if len(dead) > h.cfg.PageSize {
		dead = dead[:h.cfg.PageSize]
		p.Next = withQuery(PathPropagation, paramTarget, target, paramBefore, strconv.FormatInt(dead[len(dead)-1].ID, 10))
	}
	if before > 0 {
		p.First = withQuery(PathPropagation, paramTarget, target)
	}
	for _, d := range dead {
		r := deadRow{ID: d.ID, Target: d.Target, EventID: d.Seq, EventType: d.EventType, Attempts: d.Attempts, LastError: d.LastError,
			Retry: d.Retry, Created: h.stamp(lang, d.CreatedAt), Updated: h.stamp(lang, d.UpdatedAt)}
		if d.AccountID != "" {
			r.Account = &link{Href: accountPath(d.AccountID), Label: d.AccountID}
			if n, ok := names[d.AccountID]; ok {
				r.Account.Label = n
			}
		}
		if !d.Retry && slices.Contains(h.deps.Targets, d.Target) {
			r.RetryForm = &retryForm{Action: retryPath(d.Target), ID: d.ID, Filter: target,
				Label: b.T("propagation.retry.label", d.ID, d.Target)}
		}
		p.Dead = append(p.Dead, r)
	}
	p.Caption = b.T("propagation.dead.caption", len(p.Dead))
	if target != "" {
		p.Caption = b.T("propagation.dead.caption.target", target, len(p.Dead))
	}
	reload := ""
	if c.Request.Method != http.MethodGet {
		reload = withQuery(PathPropagation, paramTarget, target)
	}
	h.render(c, status, h.tmpl.propagation, b.T("propagation.title"), reload, p)
}

// retryPath is where the retry buttons of a target post.
func retryPath(target string) string {
	return PathPropagation + "/targets/" + url.PathEscape(target) + "/retry"
}

// retry marks dead letters of a target for another attempt — those whose
// ids the form carries, or all of the target's — recording
// propagation.retry_requested in the same transaction, then shows the
// page again.
func (h *Handler) retry(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	if !h.checkPost(c, lang, maxForm, PathPropagation) {
		return
	}
	name := c.Param("name")
	if !slices.Contains(h.deps.Targets, name) {
		h.fail(c, lang, store.ErrNotFound)
		return
	}
	var ids []int64
	for _, v := range c.PostFormArray(fieldID) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			h.fail(c, lang, fmt.Errorf("%w: %s", accounts.ErrInvalid, h.cat.T(lang, "propagation.badid", v)))
			return
		}
		ids = append(ids, n)
	}
	ctx := c.Request.Context()
	who := actor(c)
	var n int
	err := h.deps.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if n, err = tx.Propagation().RetryDeadLetters(ctx, name, ids); err != nil || n == 0 {
			return err
		}
		return tx.Record(ctx, store.Event{Type: propagate.EventRetryRequested, Actor: who,
			Data: map[string]any{"target": name, "ids": ids, "count": n}})
	})
	if err != nil {
		h.fail(c, lang, fmt.Errorf("retry the dead letters of %s: %w", name, err))
		return
	}
	redirect(c, withQuery(PathPropagation, paramTarget, c.PostForm(paramTarget), paramMarked, strconv.Itoa(n)))
}
