package admin

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Query parameters and form fields of the account pages.
const (
	paramQuery   = "q"
	paramStatus  = "status"
	paramAfter   = "after"
	paramMerged  = "merged"
	paramUndone  = "undone"
	fieldAccount = "account"
)

// maxQuery bounds the search text.
const maxQuery = 200

// timelineSize is how many audit events an account's page shows; the audit
// log page shows the rest.
const timelineSize = 20

// index leads to the account search.
func (h *Handler) index(c *gin.Context) { redirect(c, PathAccounts) }

// --- search ------------------------------------------------------------

// option is a choice of a <select>.
type option struct {
	Value, Label string
	Selected     bool
}

// accountRow is an account in a list.
type accountRow struct {
	ID, Href, Name, Login    string
	Status, StatusClass      string
	StatusLabel, BirthDate   string
	Created                  stamp
	DisplayName, SearchLabel string
}

// accountsPage is what templates/accounts.html shows.
type accountsPage struct {
	base
	Query, Status string
	Statuses      []option
	Rows          []accountRow
	Caption       string
	// Next is the next page, First the first one when this is not it.
	Next, First string
}

// search lists the accounts matching the text and status, a page at a
// time: a keyset cursor (the last id of the page) leads to the next.
func (h *Handler) search(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	b := h.base(c, lang, PathAccounts)
	q, status, after := strings.TrimSpace(c.Query(paramQuery)), c.Query(paramStatus), c.Query(paramAfter)
	code := http.StatusOK
	if utf8.RuneCountInString(q) > maxQuery {
		b.Errors = append(b.Errors, b.T("search.toolong", maxQuery))
		q, code = "", http.StatusBadRequest
	}
	query := store.AccountQuery{Text: q, After: after, Limit: h.cfg.PageSize + 1}
	if status != "" {
		if !identity.Status(status).Valid() {
			b.Errors = append(b.Errors, b.T("search.badstatus", status))
			status, code = "", http.StatusBadRequest
		} else {
			query.Statuses = []identity.Status{identity.Status(status)}
		}
	}
	list, err := h.deps.Accounts.List(c.Request.Context(), query)
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	p := accountsPage{base: b, Query: q, Status: status}
	p.Statuses = append(p.Statuses, option{Value: "", Label: b.T("search.status.live"), Selected: status == ""})
	for _, s := range allStatuses {
		p.Statuses = append(p.Statuses, option{Value: string(s), Label: b.T("status." + string(s)), Selected: status == string(s)})
	}
	if len(list) > h.cfg.PageSize {
		list = list[:h.cfg.PageSize]
		p.Next = withQuery(PathAccounts, paramQuery, q, paramStatus, status, paramAfter, list[len(list)-1].ID)
	}
	if after != "" {
		p.First = withQuery(PathAccounts, paramQuery, q, paramStatus, status)
	}
	for _, a := range list {
		p.Rows = append(p.Rows, h.accountRow(lang, a))
	}
	switch {
	case q != "":
		p.Caption = b.T("search.caption.query", q, len(p.Rows))
	default:
		p.Caption = b.T("search.caption", len(p.Rows))
	}
	h.render(c, code, h.tmpl.accounts, b.T("search.title"), "", p)
}

// allStatuses are the account statuses, in the order the filter lists them.
var allStatuses = []identity.Status{identity.StatusActive, identity.StatusPendingActivation, identity.StatusPendingValidation,
	identity.StatusSuspended, identity.StatusMerged}

func (h *Handler) accountRow(lang string, a identity.Account) accountRow {
	return accountRow{ID: a.ID, Href: accountPath(a.ID), Name: displayName(a), Login: a.Login, Status: string(a.Status),
		StatusClass: statusClass(a.Status), StatusLabel: h.cat.T(lang, "status."+string(a.Status)), BirthDate: a.BirthDate,
		Created: h.stamp(lang, a.CreatedAt), DisplayName: a.DisplayName}
}

// --- one account -------------------------------------------------------

// fieldRow is a field of an account with the source of its value.
type fieldRow struct {
	Name, Label, Value, Source string
}

// emailRow is an address of an account.
type emailRow struct {
	Address           string
	Verified, Primary bool
	Source            string
	Added, VerifiedAt stamp
}

// linkRow is an identity of an account at a source.
type linkRow struct {
	Source, ExternalID, Name string
	Status, StatusClass      string
	StatusLabel              string
	Updated                  stamp
}

// membershipRow is an org membership of an account.
type membershipRow struct {
	Org, OrgName, Role, State string
	StateClass                string
	ValidatedBy               string
	ValidatedAt               stamp
}

// mergeRow is a merge of an account, in or out.
type mergeRow struct {
	ID string
	// In: the other account was merged into this one; otherwise this one
	// was merged into the other.
	In bool
	// Survivor and Retired link to the two accounts.
	Survivor, Retired link
	// RetiredLogin is the retired account's login ("merged user").
	RetiredLogin  string
	Reason, Actor string
	At            stamp
	// Undone, UndoneAt and UndoneBy say whether and when it was undone.
	Undone   bool
	UndoneAt stamp
	UndoneBy string
	// Undo is the undo button, within the undo window; Until the end of
	// the window.
	Undo  *undoForm
	Until stamp
}

// undoForm is the undo button of a merge.
type undoForm struct {
	Action, Account, Label string
}

// auditRow is an audit event.
type auditRow struct {
	ID                 int64
	At                 stamp
	Type, Actor        string
	ActorHref          string
	Account, Org       string
	AccountHref        string
	RequestID, Data    string
	DataTruncated      bool
	AccountName, OrgID string
}

// accountPage is what templates/account.html shows.
type accountPage struct {
	base
	ID, Name, Login                  string
	Status, StatusLabel, StatusClass string
	// Requested is the id asked for, when it was merged into this account.
	Requested                   string
	Version                     int64
	Created, Updated, LastLogin stamp
	Fields                      []fieldRow
	Emails                      []emailRow
	Links                       []linkRow
	Memberships                 []membershipRow
	Merges                      []mergeRow
	Timeline                    []auditRow
	MergesHref, TimelineHref    string
	DuplicatesHref              string
}

// account shows an account with everything it owns, its merges and its
// latest audit events. A merged account's id shows the account it was
// merged into.
func (h *Handler) account(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	ctx := c.Request.Context()
	d, err := h.deps.Accounts.Get(ctx, c.Param("id"))
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	a := d.Account
	b := h.base(c, lang, PathAccounts)
	p := accountPage{base: b, ID: a.ID, Name: displayName(a), Login: a.Login, Status: string(a.Status),
		StatusLabel: b.T("status." + string(a.Status)), StatusClass: statusClass(a.Status), Requested: d.RequestedID,
		Version: a.Version, Created: h.stamp(lang, a.CreatedAt), Updated: h.stamp(lang, a.UpdatedAt),
		LastLogin: h.stamp(lang, a.LastLoginAt), MergesHref: mergesPath(a.ID),
		TimelineHref: withQuery(PathAudit, paramAuditAccount, a.ID), DuplicatesHref: withQuery(PathDuplicates, paramAccount, a.ID)}
	if d.RequestedID != "" {
		p.Notices = append(p.Notices, b.T("account.resolved", d.RequestedID))
	}
	p.Fields = h.fields(lang, a)
	for _, e := range d.Emails {
		p.Emails = append(p.Emails, emailRow{Address: e.Address, Verified: e.Verified, Primary: e.Primary, Source: e.Source,
			Added: h.stamp(lang, e.CreatedAt), VerifiedAt: h.stamp(lang, e.VerifiedAt)})
	}
	for _, l := range d.Links {
		r := linkRow{Source: l.Source, ExternalID: l.ExternalID, Status: string(l.Status), StatusClass: "green",
			StatusLabel: b.T("link." + string(l.Status)), Updated: h.stamp(lang, l.UpdatedAt)}
		if l.Status != identity.LinkActive {
			r.StatusClass = "red"
		}
		if n := l.Attributes["_name"]; len(n) > 0 {
			r.Name = n[0]
		}
		p.Links = append(p.Links, r)
	}
	var merges []identity.MergeRecord
	var others map[string]identity.Account
	var orgs map[string]identity.Org
	var timeline []store.AuditEntry
	var names map[string]string
	err = h.deps.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if merges, others, err = mergesOf(ctx, tx, a.ID); err != nil {
			return err
		}
		if orgs, err = orgsByID(ctx, tx); err != nil {
			return err
		}
		if timeline, err = tx.Audit().List(ctx, store.AuditQuery{AccountID: a.ID, Limit: timelineSize}); err != nil {
			return err
		}
		names, err = accountNames(ctx, tx, timeline)
		return err
	})
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	for _, m := range d.Memberships {
		r := membershipRow{Org: m.OrgID, OrgName: orgs[m.OrgID].Name, Role: b.T("role." + string(m.Role)),
			State: b.T("membership." + string(m.State)), StateClass: membershipClass(m.State), ValidatedBy: m.ValidatedBy,
			ValidatedAt: h.stamp(lang, m.ValidatedAt)}
		p.Memberships = append(p.Memberships, r)
	}
	p.Merges = h.mergeRows(lang, a.ID, merges, others)
	for _, e := range timeline {
		p.Timeline = append(p.Timeline, h.auditRow(lang, e, names))
	}
	h.render(c, http.StatusOK, h.tmpl.account, b.T("account.title", p.Name), "", p)
}

// fieldOrder is the order of an account's own fields on its page; its
// other attributes follow by name.
var fieldOrder = []string{identity.FieldLogin, identity.FieldGivenName, identity.FieldFamilyName, identity.FieldDisplayName,
	identity.FieldBirthDate, identity.FieldPhone}

// fields lists an account's fields and attributes with their sources.
func (h *Handler) fields(lang string, a identity.Account) []fieldRow {
	own := map[string]string{identity.FieldLogin: a.Login, identity.FieldGivenName: a.GivenName,
		identity.FieldFamilyName: a.FamilyName, identity.FieldDisplayName: a.DisplayName,
		identity.FieldBirthDate: a.BirthDate, identity.FieldPhone: a.Phone}
	var out []fieldRow
	for _, f := range fieldOrder {
		out = append(out, fieldRow{Name: f, Label: h.fieldLabel(lang, f), Value: own[f], Source: a.Provenance[f]})
	}
	for _, f := range slices.Sorted(maps.Keys(a.Attributes)) {
		out = append(out, fieldRow{Name: f, Label: h.fieldLabel(lang, f), Value: strings.Join(a.Attributes[f], ", "), Source: a.Provenance[f]})
	}
	if v := a.Consents.CharterVersion; v != "" {
		out = append(out, fieldRow{Name: "charter", Label: h.cat.T(lang, "field.charter"),
			Value: h.cat.T(lang, "field.charter.value", v, h.when(lang, a.Consents.CharterAcceptedAt))})
	}
	if v := a.Consents.DirectoryVisible; v != nil {
		val := h.cat.T(lang, "field.directory.hidden")
		if *v {
			val = h.cat.T(lang, "field.directory.visible")
		}
		out = append(out, fieldRow{Name: "directory_visible", Label: h.cat.T(lang, "field.directory"), Value: val})
	}
	if mf := a.MailForward; mf != nil && mf.Address != "" {
		out = append(out, fieldRow{Name: "mail_forward", Label: h.cat.T(lang, "field.mail_forward"), Value: mf.Address})
	}
	return out
}

// fieldLabel names a field or attribute in the page's language; an
// attribute without a name of its own shows as itself.
func (h *Handler) fieldLabel(lang, field string) string {
	if m, ok := h.cat.Lookup(lang, "field."+field); ok {
		return m
	}
	return field
}

func membershipClass(s identity.MembershipState) string {
	switch s {
	case identity.MembershipValidated:
		return "green"
	case identity.MembershipPending:
		return "orange"
	}
	return "red"
}

// mergesOf reads the merges of an account, newest first, with the other
// accounts of each.
func mergesOf(ctx context.Context, tx store.Tx, accountID string) ([]identity.MergeRecord, map[string]identity.Account, error) {
	recs, err := tx.Merges().ListByAccount(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	ids := []string{accountID}
	for _, m := range recs {
		ids = append(ids, m.SurvivorID, m.RetiredID)
	}
	slices.Sort(ids)
	accs, err := tx.Accounts().GetMany(ctx, slices.Compact(ids))
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]identity.Account, len(accs))
	for _, a := range accs {
		byID[a.ID] = a
	}
	return recs, byID, nil
}

func orgsByID(ctx context.Context, tx store.Tx) (map[string]identity.Org, error) {
	list, err := tx.Orgs().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]identity.Org, len(list))
	for _, o := range list {
		out[o.ID] = o
	}
	return out, nil
}

// mergeRows shows the merges of accountID, with an undo button on each
// standing merge within the undo window.
func (h *Handler) mergeRows(lang, accountID string, recs []identity.MergeRecord, accs map[string]identity.Account) []mergeRow {
	now := h.now()
	out := make([]mergeRow, 0, len(recs))
	name := func(id string) string {
		if a, ok := accs[id]; ok {
			return displayName(a)
		}
		return id
	}
	for _, m := range recs {
		r := mergeRow{ID: m.ID, In: m.SurvivorID == accountID,
			Survivor:     link{Href: accountPath(m.SurvivorID), Label: name(m.SurvivorID)},
			Retired:      link{Href: mergesPath(m.RetiredID), Label: name(m.RetiredID)},
			RetiredLogin: accs[m.RetiredID].Login, Reason: h.cat.T(lang, "reason."+string(m.Reason)), Actor: m.Actor,
			At: h.stamp(lang, m.CreatedAt), Undone: m.Undone(), UndoneAt: h.stamp(lang, m.UndoneAt), UndoneBy: m.UndoneBy}
		until := m.CreatedAt.Add(h.deps.Policies.UndoWindow)
		if !m.Undone() {
			r.Until = h.stamp(lang, until)
			if now.Before(until) {
				r.Undo = &undoForm{Action: PathMerges + "/" + m.ID + "/undo", Account: accountID,
					Label: h.cat.T(lang, "merges.undo.label", name(m.RetiredID), name(m.SurvivorID))}
			}
		}
		out = append(out, r)
	}
	return out
}

// auditRow shows an audit event, naming the accounts of names; its data
// is shortened past 400 characters.
func (h *Handler) auditRow(lang string, e store.AuditEntry, names map[string]string) auditRow {
	r := auditRow{ID: e.ID, At: h.stamp(lang, e.At), Type: e.Type, Actor: e.Actor, Account: e.AccountID, Org: e.OrgID,
		RequestID: e.RequestID}
	if id, ok := strings.CutPrefix(e.Actor, "account:"); ok && id != "" {
		r.ActorHref = accountPath(id)
		if n, ok := names[id]; ok {
			r.Actor = n
		}
	}
	if e.AccountID != "" {
		r.AccountHref = accountPath(e.AccountID)
		if n, ok := names[e.AccountID]; ok {
			r.Account = n
		}
	}
	if len(e.Data) > 0 && string(e.Data) != "null" {
		var v any
		data := string(e.Data)
		if json.Unmarshal(e.Data, &v) == nil {
			if b, err := json.Marshal(v); err == nil {
				data = string(b)
			}
		}
		if utf8.RuneCountInString(data) > 400 {
			data, r.DataTruncated = string([]rune(data)[:400]), true
		}
		r.Data = data
	}
	return r
}

// accountNames reads the names of the accounts audit entries concern or
// were made by, by id.
func accountNames(ctx context.Context, tx store.Tx, entries []store.AuditEntry) (map[string]string, error) {
	var ids []string
	for _, e := range entries {
		if e.AccountID != "" {
			ids = append(ids, e.AccountID)
		}
		if id, ok := strings.CutPrefix(e.Actor, "account:"); ok && id != "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	accs, err := tx.Accounts().GetMany(ctx, slices.Compact(ids))
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(accs))
	for _, a := range accs {
		out[a.ID] = displayName(a)
	}
	return out, nil
}

// --- merges ------------------------------------------------------------

// mergesPage is what templates/merges.html shows.
type mergesPage struct {
	base
	Account                   link
	Login                     string
	Status, StatusLabel       string
	StatusClass, UndoWindow   string
	Rows                      []mergeRow
	AccountID, DuplicatesHref string
}

// merges shows the merges of an account, in and out, with their undo
// buttons, and the notice of the merge or undo that redirected here.
func (h *Handler) merges(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	b := h.base(c, lang, PathAccounts)
	h.renderMerges(c, http.StatusOK, b, c.Param("id"), c.Query(paramMerged), c.Query(paramUndone))
}

// renderMerges draws the merges page of accountID; merged and undone name
// the merge the action before it made or undid.
func (h *Handler) renderMerges(c *gin.Context, status int, b base, accountID, merged, undone string) {
	ctx := c.Request.Context()
	var recs []identity.MergeRecord
	var accs map[string]identity.Account
	err := h.deps.Store.View(ctx, func(tx store.Tx) error {
		var err error
		recs, accs, err = mergesOf(ctx, tx, accountID)
		return err
	})
	a, ok := accs[accountID]
	if err == nil && !ok {
		err = store.ErrNotFound
	}
	if err != nil {
		h.fail(c, b.Lang, err)
		return
	}
	p := mergesPage{base: b, Account: link{Href: accountPath(a.ID), Label: displayName(a)}, Login: a.Login,
		Status: string(a.Status), StatusLabel: b.T("status." + string(a.Status)), StatusClass: statusClass(a.Status),
		UndoWindow: h.duration(b.Lang, h.deps.Policies.UndoWindow), Rows: h.mergeRows(b.Lang, a.ID, recs, accs),
		AccountID: a.ID, DuplicatesHref: withQuery(PathDuplicates, paramAccount, a.ID)}
	for _, m := range recs {
		name := func(id string) string { return displayName(accs[id]) }
		if m.ID == merged && merged != "" {
			p.Notices = append(p.Notices, b.T("merges.merged", name(m.RetiredID), name(m.SurvivorID)))
		}
		if m.ID == undone && undone != "" && m.Undone() {
			p.Notices = append(p.Notices, b.T("merges.undone", name(m.RetiredID), name(m.SurvivorID)))
		}
	}
	reload := ""
	if c.Request.Method != http.MethodGet {
		reload = mergesPath(a.ID)
	}
	h.render(c, status, h.tmpl.merges, b.T("merges.title", displayName(a)), reload, p)
}

// duration writes a duration in whole days, hours or minutes when it is
// one, as Go writes it otherwise.
func (h *Handler) duration(lang string, d time.Duration) string {
	switch {
	case d <= 0:
		return d.String()
	case d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return h.cat.T(lang, "days", int64(d/(24*time.Hour)))
	case d%time.Hour == 0:
		return h.cat.T(lang, "hours", int64(d/time.Hour))
	case d%time.Minute == 0:
		return h.cat.T(lang, "minutes", int64(d/time.Minute))
	}
	return d.String()
}

// undo undoes a merge, then shows the merges of the account whose page
// the button was on; a refusal shows that page again with its reasons.
func (h *Handler) undo(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	mergeID := c.Param("id")
	if !h.checkPost(c, lang, maxForm, PathAccounts) {
		return
	}
	back := c.PostForm(fieldAccount)
	rec, err := h.deps.Accounts.Undo(c.Request.Context(), mergeID, actor(c))
	if back == "" {
		back = rec.SurvivorID
	}
	var conflict *identity.UndoConflict
	b := h.base(c, lang, PathAccounts)
	switch {
	case err == nil:
		redirect(c, withQuery(mergesPath(back), paramUndone, rec.ID))
	case errors.As(err, &conflict):
		b.Errors = []string{b.T("undo.refused.body")}
		b.Reasons = conflict.Reasons
		h.renderMerges(c, http.StatusConflict, b, back, "", "")
	case errors.Is(err, accounts.ErrUndoExpired), errors.Is(err, accounts.ErrMergeConflict):
		b.Errors = []string{b.T("undo.refused.body")}
		b.Reasons = []string{err.Error()}
		h.renderMerges(c, http.StatusConflict, b, back, "", "")
	default:
		h.fail(c, lang, err)
	}
}
