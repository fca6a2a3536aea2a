package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/store"
)

// Query parameters of the audit log.
const (
	paramAuditType    = "type"
	paramAuditAccount = "account"
	paramAuditOrg     = "org"
)

// maxFilter bounds a filter of the audit log.
const maxFilter = 200

// knownEvents are offered as suggestions by the type filter; any type can
// be typed.
var knownEvents = []string{
	"account.created", "account.updated", "account.merged", "account.unmerged", "account.suspended", "account.activated",
	"account.linked", "link.gone", "link.removed", "link.updated", "link.restored", "membership.added",
	"membership.validated", "membership.removed", "org.upserted", "connector.synced", "import.recorded",
	"duplicate.dismissed", "propagation.retry_requested", "session.created", "session.revoked",
}

// auditPage is what templates/audit.html shows.
type auditPage struct {
	base
	Type, Account, Org string
	Types              []string
	Rows               []auditRow
	Caption            string
	Next, First        string
}

// audit shows the audit log, newest first, a page at a time, filtered by
// event type, account and org (each exact).
func (h *Handler) audit(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	b := h.base(c, lang, PathAudit)
	q := store.AuditQuery{Type: strings.TrimSpace(c.Query(paramAuditType)), AccountID: strings.TrimSpace(c.Query(paramAuditAccount)),
		OrgID: strings.TrimSpace(c.Query(paramAuditOrg)), Limit: h.cfg.PageSize + 1}
	if len(q.Type) > maxFilter || len(q.AccountID) > maxFilter || len(q.OrgID) > maxFilter {
		h.fail(c, lang, fmt.Errorf("%w: %s", accounts.ErrInvalid, b.T("audit.toolong", maxFilter)))
		return
	}
	if v := c.Query(paramBefore); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			h.fail(c, lang, fmt.Errorf("%w: %s", accounts.ErrInvalid, b.T("audit.badbefore")))
			return
		}
		q.Before = n
	}
	ctx := c.Request.Context()
	var entries []store.AuditEntry
	var names map[string]string
	err := h.deps.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if entries, err = tx.Audit().List(ctx, q); err != nil {
			return err
		}
		names, err = accountNames(ctx, tx, entries)
		return err
	})
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	p := auditPage{base: b, Type: q.Type, Account: q.AccountID, Org: q.OrgID, Types: knownEvents}
	filters := []string{paramAuditType, q.Type, paramAuditAccount, q.AccountID, paramAuditOrg, q.OrgID}
	if len(entries) > h.cfg.PageSize {
		entries = entries[:h.cfg.PageSize]
		p.Next = withQuery(PathAudit, append(filters, paramBefore, strconv.FormatInt(entries[len(entries)-1].ID, 10))...)
	}
	if q.Before > 0 {
		p.First = withQuery(PathAudit, filters...)
	}
	for _, e := range entries {
		p.Rows = append(p.Rows, h.auditRow(lang, e, names))
	}
	p.Caption = b.T("audit.caption", len(p.Rows))
	h.render(c, http.StatusOK, h.tmpl.audit, b.T("audit.title"), "", p)
}
