package account

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// sessionsData is the list of the open sessions.
type sessionsData struct {
	msgs
	CSRFField string
	Paths     paths
	Notice    string
	Error     string
	Sessions  []sessionRow
	// Others: some sessions are not this browser's.
	Others bool
	Idle   string
}

type sessionRow struct {
	ID      string
	Current bool
	Opened  string
	Until   string
	How     string
	// Close is the accessible name of its button.
	Close string
}

// getSessions lists the account's open sessions, this browser's first.
func (h *Handler) getSessions(c *gin.Context) {
	m := h.msgs(c)
	s, ok := h.session(c, PathSessions)
	if !ok {
		return
	}
	notice := ""
	switch n := c.Query(paramDone); n {
	case "others":
		count, _ := strconv.Atoi(c.Query(paramCount))
		notice = m.T("done.others", max(count, 0))
	case "revoked", "gone":
		notice = m.T("done." + n)
	}
	h.renderSessions(c, http.StatusOK, m, s, notice, "")
}

func (h *Handler) renderSessions(c *gin.Context, status int, m msgs, s store.Session, notice, errMsg string) {
	list, err := h.pages.ListSessions(c.Request.Context(), s.AccountID)
	if err != nil {
		h.fail(c, m, PathSessions, "list the sessions", err)
		return
	}
	if !slices.ContainsFunc(list, func(x web.AccountSession) bool { return x.ID == s.ID }) {
		// This browser's session, even when its event is older than the
		// audit log kept.
		list = append(list, web.AccountSession{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, AMR: s.AMR})
	}
	sortSessions(list, s.ID)
	d := &sessionsData{msgs: m, CSRFField: web.CSRFField, Paths: allPaths, Notice: notice, Error: errMsg}
	for _, x := range list {
		r := sessionRow{ID: x.ID, Current: x.ID == s.ID, Opened: m.When(x.CreatedAt), Until: m.When(x.ExpiresAt),
			How: h.how(m, x)}
		r.Close = m.T("sessions.close.label", r.Opened)
		d.Others = d.Others || !r.Current
		d.Sessions = append(d.Sessions, r)
	}
	h.pages.RenderFlow(c, status, h.tpl.sessions, web.FlowView{Title: m.T("sessions.title"), Reload: PathSessions, Data: d})
}

// how says how the person logged in, and for which platform.
func (h *Handler) how(m msgs, s web.AccountSession) string {
	var parts []string
	switch {
	case s.Upstream != "":
		parts = append(parts, m.T("sessions.how.upstream", m.source(s.Upstream)))
	case slices.Contains(s.AMR, "pwd"):
		parts = append(parts, m.T("sessions.how.password"))
	}
	if s.ClientID != "" {
		parts = append(parts, m.T("sessions.how.client", s.ClientID))
	}
	return strings.Join(parts, ", ")
}

// postSessionRevoke ends one of the account's other sessions.
func (h *Handler) postSessionRevoke(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathSessions) {
		return
	}
	s, ok := h.session(c, PathSessions)
	if !ok {
		return
	}
	id := c.PostForm(fieldSession)
	if id == s.ID {
		// This browser's session ends with the logout button.
		h.renderSessions(c, http.StatusBadRequest, m, s, "", m.T("sessions.error.current"))
		return
	}
	err := h.pages.RevokeSession(c.Request.Context(), s.AccountID, id, web.RevokeSignedOut)
	switch {
	case errors.Is(err, store.ErrNotFound):
		done(c, PathSessions, "gone")
	case err != nil:
		h.fail(c, m, PathSessions, "end a session", err)
	default:
		done(c, PathSessions, "revoked")
	}
}

// postSessionsRevokeOthers ends every session of the account but this
// browser's.
func (h *Handler) postSessionsRevokeOthers(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathSessions) {
		return
	}
	s, ok := h.session(c, PathSessions)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	var n int
	err := h.st.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = h.pages.RevokeOtherSessions(ctx, tx, s.AccountID, s.ID, web.RevokeOthers)
		return err
	})
	switch {
	case err != nil:
		h.fail(c, m, PathSessions, "end the other sessions", err)
	default:
		done(c, PathSessions, "others", paramCount, strconv.Itoa(n))
	}
}

// sortSessions orders sessions newest first, this browser's first.
func sortSessions(ss []web.AccountSession, current string) {
	slices.SortStableFunc(ss, func(a, b web.AccountSession) int {
		switch {
		case a.ID == current:
			return -1
		case b.ID == current:
			return 1
		}
		return cmp.Compare(b.CreatedAt.UnixNano(), a.CreatedAt.UnixNano())
	})
}
