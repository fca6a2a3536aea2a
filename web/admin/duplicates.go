package admin

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Query parameters and form fields of the duplicates queue and the merge.
const (
	paramAccount         = "account"
	paramPage            = "page"
	paramDismissed       = "dismissed"
	paramSurvivor        = "survivor"
	paramRetired         = "retired"
	fieldA               = "a"
	fieldB               = "b"
	fieldSurvivorVersion = "survivor_version"
	fieldRetiredVersion  = "retired_version"
)

// matchRow is one piece of evidence of a suggestion.
type matchRow struct {
	Label, Detail string
	// Conflict: the evidence speaks against the pair.
	Conflict bool
}

// dismissForm is the "not a duplicate" button of a suggestion.
type dismissForm struct {
	Action, A, B, Account, Label string
	Page                         int
}

// suggestionRow is a suggested pair.
type suggestionRow struct {
	Key  string
	A, B accountRow
	// Score is the score as a percentage.
	Score   string
	Matches []matchRow
	// Merge leads to the preview of the merge into the suggested
	// survivor; MergeLabel names the pair for screen readers.
	Merge, MergeLabel string
	Dismiss           dismissForm
}

// duplicatesPage is what templates/duplicates.html shows.
type duplicatesPage struct {
	base
	// Account is the account the queue is restricted to, if any; All
	// lifts the restriction.
	Account    *link
	All        string
	Rows       []suggestionRow
	Summary    string
	Caption    string
	Page       int
	Prev, Next string
}

// duplicates shows the suggested duplicates, best first, a page at a time:
// each pair with its score and the matched fields, a link to the merge
// preview and a "not a duplicate" button. With ?account= only that
// account's.
func (h *Handler) duplicates(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	ctx := c.Request.Context()
	b := h.base(c, lang, PathDuplicates)
	accountID := c.Query(paramAccount)
	rep, err := h.deps.Accounts.Duplicates(ctx, accountID)
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	p := duplicatesPage{base: b}
	if c.Query(paramDismissed) != "" {
		p.Notices = append(p.Notices, b.T("duplicates.dismissed"))
	}
	if accountID != "" {
		a, err := h.deps.Accounts.Get(ctx, accountID)
		if err != nil {
			h.fail(c, lang, err)
			return
		}
		p.Account, p.All = &link{Href: accountPath(a.Account.ID), Label: displayName(a.Account)}, PathDuplicates
	}
	n := len(rep.Suggestions)
	pages := max(1, (n+h.cfg.PageSize-1)/h.cfg.PageSize)
	page, _ := strconv.Atoi(c.Query(paramPage))
	page = min(max(page, 1), pages)
	p.Page = page
	pageURL := func(n int) string {
		s := ""
		if n > 1 {
			s = strconv.Itoa(n)
		}
		return withQuery(PathDuplicates, paramAccount, accountID, paramPage, s)
	}
	if page > 1 {
		p.Prev = pageURL(page - 1)
	}
	if page < pages {
		p.Next = pageURL(page + 1)
	}
	p.Summary = b.T("duplicates.summary", n, rep.Pairs, rep.Dismissed)
	p.Caption = b.T("duplicates.caption", page, pages)
	for _, s := range rep.Suggestions[min((page-1)*h.cfg.PageSize, n):min(page*h.cfg.PageSize, n)] {
		p.Rows = append(p.Rows, h.suggestionRow(lang, s, accountID, page))
	}
	h.render(c, http.StatusOK, h.tmpl.duplicates, b.T("duplicates.title"), "", p)
}

func (h *Handler) suggestionRow(lang string, s accounts.Suggestion, accountID string, page int) suggestionRow {
	t := func(key string, args ...any) string { return h.cat.T(lang, key, args...) }
	survivor, retired := accounts.SuggestSurvivor(h.deps.Policies.Precedence, s.A, s.B)
	r := suggestionRow{Key: pairID(s.A.ID, s.B.ID), A: h.accountRow(lang, s.A), B: h.accountRow(lang, s.B),
		Score:      percent(s.Score.Value),
		Merge:      withQuery(PathMerge, paramSurvivor, survivor.ID, paramRetired, retired.ID),
		MergeLabel: t("duplicates.merge.label", displayName(retired), displayName(survivor)),
		Dismiss: dismissForm{Action: PathDuplicates + "/dismiss", A: s.A.ID, B: s.B.ID, Account: accountID, Page: page,
			Label: t("duplicates.dismiss.label", displayName(survivor), displayName(retired))}}
	for _, m := range s.Score.Matches {
		r.Matches = append(r.Matches, matchRow{Label: h.matchLabel(lang, m.Field), Detail: m.Detail, Conflict: m.Conflict()})
	}
	return r
}

// pairID names a pair in the page (the id of its row): both ids in
// order, joined with "_".
func pairID(a, b string) string { return strings.Replace(identity.PairKey(a, b), "|", "_", 1) }

// percent writes a score in [0, 1] as a whole percentage.
func percent(v float64) string { return strconv.Itoa(int(math.Round(v*100))) + " %" }

// matchLabel names a matched field: its own message, else the conflict
// message of the field it is a conflict of, else the field itself.
func (h *Handler) matchLabel(lang, field string) string {
	if m, ok := h.cat.Lookup(lang, "match."+field); ok {
		return m
	}
	if base, ok := strings.CutSuffix(field, identity.MatchConflictSuffix); ok {
		return h.cat.T(lang, "match.conflict", h.fieldLabel(lang, base))
	}
	return h.fieldLabel(lang, field)
}

// dismiss records that a pair is not a duplicate, then shows the queue.
func (h *Handler) dismiss(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	if !h.checkPost(c, lang, maxForm, PathDuplicates) {
		return
	}
	a, b := c.PostForm(fieldA), c.PostForm(fieldB)
	if err := h.deps.Accounts.Dismiss(c.Request.Context(), a, b, actor(c)); err != nil {
		h.fail(c, lang, err)
		return
	}
	redirect(c, withQuery(PathDuplicates, paramAccount, c.PostForm(paramAccount), paramPage, c.PostForm(paramPage), paramDismissed, "1"))
}

// --- merge -------------------------------------------------------------

// previewSide is one of the two accounts of a merge preview.
type previewSide struct {
	accountRow
	Version int64
	Emails  []string
	Links   []string
}

// previewField is one line of a merge preview.
type previewField struct {
	Label                           string
	Survivor, SurvivorSource        string
	Retired, RetiredSource          string
	Value, Source                   string
	FromSurvivor, FromRetired, Same bool
}

// previewPage is what templates/preview.html shows.
type previewPage struct {
	base
	Survivor, Retired previewSide
	Fields            []previewField
	// Moves lists what goes from the retired account to the survivor.
	Links, Emails, Memberships []string
	Action                     string
	SurvivorVersion            int64
	RetiredVersion             int64
	Swap, Cancel               string
}

// preview shows, field by field, what a merge of retired into survivor
// keeps, and what moves; its form confirms the merge of the accounts as
// shown (their versions).
func (h *Handler) preview(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	b := h.base(c, lang, PathDuplicates)
	h.renderPreview(c, http.StatusOK, b, c.Query(paramSurvivor), c.Query(paramRetired))
}

func (h *Handler) renderPreview(c *gin.Context, status int, b base, survivorID, retiredID string) {
	lang := b.Lang
	ctx := c.Request.Context()
	if survivorID == "" || retiredID == "" {
		h.fail(c, lang, fmt.Errorf("%w: %s", accounts.ErrInvalid, b.T("preview.missing")))
		return
	}
	// The versions are read before the plan: if either account changes
	// in between, the merge of the plan shown is refused as stale.
	sd, err := h.deps.Accounts.Get(ctx, survivorID)
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	rd, err := h.deps.Accounts.Get(ctx, retiredID)
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	if sd.RequestedID != "" || rd.RequestedID != "" {
		id := survivorID
		if rd.RequestedID != "" {
			id = retiredID
		}
		h.fail(c, lang, fmt.Errorf("%w: %s", accounts.ErrMergeConflict, b.T("preview.merged", id)))
		return
	}
	plan, err := h.deps.Accounts.Preview(ctx, survivorID, retiredID)
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	p := previewPage{base: b, Survivor: h.previewSide(lang, sd), Retired: h.previewSide(lang, rd), Action: PathMerge,
		SurvivorVersion: sd.Account.Version, RetiredVersion: rd.Account.Version,
		Swap:   withQuery(PathMerge, paramSurvivor, retiredID, paramRetired, survivorID),
		Cancel: PathDuplicates}
	for _, f := range plan.Fields {
		p.Fields = append(p.Fields, previewField{Label: h.fieldLabel(lang, f.Field), Survivor: f.Survivor, SurvivorSource: f.SurvivorSource,
			Retired: f.Retired, RetiredSource: f.RetiredSource, Value: f.Value, Source: f.Source,
			FromSurvivor: f.From == identity.FromSurvivor, FromRetired: f.From == identity.FromRetired,
			Same: f.Survivor == f.Retired})
	}
	for _, l := range plan.Moved.Links {
		p.Links = append(p.Links, l.Source+" "+l.ExternalID)
	}
	for _, e := range plan.Moved.Emails {
		s := e.Address
		if e.Verified {
			s += " (" + b.T("email.verified") + ")"
		}
		p.Emails = append(p.Emails, s)
	}
	p.Memberships = append(p.Memberships, plan.Moved.Memberships...)
	reload := ""
	if c.Request.Method != http.MethodGet {
		reload = withQuery(PathMerge, paramSurvivor, survivorID, paramRetired, retiredID)
	}
	h.render(c, status, h.tmpl.preview, b.T("preview.title", displayName(rd.Account), displayName(sd.Account)), reload, p)
}

func (h *Handler) previewSide(lang string, d accounts.Details) previewSide {
	s := previewSide{accountRow: h.accountRow(lang, d.Account), Version: d.Account.Version}
	for _, e := range d.Emails {
		a := e.Address
		if e.Verified {
			a += " (" + h.cat.T(lang, "email.verified") + ")"
		}
		s.Emails = append(s.Emails, a)
	}
	for _, l := range d.Links {
		s.Links = append(s.Links, l.Source+" "+l.ExternalID)
	}
	return s
}

// merge merges the accounts of the preview, if neither changed since it
// was shown, then shows the survivor's merges with the undo button. A
// stale preview is shown again, as the accounts are now.
func (h *Handler) merge(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	if !h.checkPost(c, lang, maxForm, PathDuplicates) {
		return
	}
	survivorID, retiredID := c.PostForm(paramSurvivor), c.PostForm(paramRetired)
	sv, err1 := strconv.ParseInt(c.PostForm(fieldSurvivorVersion), 10, 64)
	rv, err2 := strconv.ParseInt(c.PostForm(fieldRetiredVersion), 10, 64)
	if survivorID == "" || retiredID == "" || err1 != nil || err2 != nil || sv < 1 || rv < 1 {
		h.fail(c, lang, fmt.Errorf("%w: %s", accounts.ErrInvalid, h.cat.T(lang, "preview.missing")))
		return
	}
	rec, err := h.deps.Accounts.Merge(c.Request.Context(), accounts.MergeRequest{SurvivorID: survivorID, RetiredID: retiredID,
		Reason: identity.MergeByAdmin, Actor: actor(c), SurvivorVersion: sv, RetiredVersion: rv})
	var stale *accounts.StaleError
	switch {
	case err == nil:
		redirect(c, withQuery(mergesPath(rec.SurvivorID), paramMerged, rec.ID))
	case errors.As(err, &stale), errors.Is(err, store.ErrConflict):
		b := h.base(c, lang, PathDuplicates)
		b.Errors = []string{b.T("stale.body")}
		h.renderPreview(c, http.StatusConflict, b, survivorID, retiredID)
	default:
		h.fail(c, lang, err)
	}
}
