package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/store"
)

// Form fields and query parameters of the import pages.
const (
	fieldConnector = "connector"
	fieldFile      = "file"
	fieldDryRun    = "dry_run"
	fieldStrict    = "strict"
	paramConnector = "connector"
)

// reportPageSize is how many rows in error a page of a report lists.
const reportPageSize = 100

// maxImportsListed bounds how far back the list of imports pages.
const maxImportsListed = 1000

// importRow is a past import.
type importRow struct {
	ID, Href, Connector, File, Actor string
	Status, StatusLabel, StatusClass string
	Started, Finished                stamp
}

// importsPage is what templates/imports.html shows.
type importsPage struct {
	base
	// Connectors are the file connectors, for the upload form; Filter the
	// same with "all", for the list.
	Connectors, Filter []option
	Connector          string
	DryRun, Strict     bool
	Action             string
	MaxSize            string
	Rows               []importRow
	Caption            string
	Page               int
	Prev, Next         string
}

// imports shows the upload form and the past imports, newest first, a page
// at a time (?connector= restricts them to one connector).
func (h *Handler) imports(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	b := h.base(c, lang, PathImports)
	page, _ := strconv.Atoi(c.Query(paramPage))
	h.renderImports(c, http.StatusOK, b, c.Query(paramConnector), page, importForm{DryRun: true})
}

// importForm is the upload form as posted, shown again with its error.
type importForm struct {
	Connector      string
	DryRun, Strict bool
}

func (h *Handler) renderImports(c *gin.Context, status int, b base, connector string, page int, form importForm) {
	ctx := c.Request.Context()
	p := importsPage{base: b, Connector: connector, DryRun: form.DryRun, Strict: form.Strict, Action: PathImports,
		MaxSize: strconv.Itoa(imports.MaxUpload>>20) + " Mio"}
	if b.Lang == "en" {
		p.MaxSize = strconv.Itoa(imports.MaxUpload>>20) + " MiB"
	}
	var names []string
	if h.deps.Imports != nil {
		names = h.deps.Imports.Connectors()
	}
	p.Filter = append(p.Filter, option{Value: "", Label: b.T("imports.filter.all"), Selected: connector == ""})
	for _, n := range names {
		p.Connectors = append(p.Connectors, option{Value: n, Label: n, Selected: n == form.Connector})
		p.Filter = append(p.Filter, option{Value: n, Label: n, Selected: n == connector})
	}
	page = max(page, 1)
	var recs []store.ImportRecord
	if h.deps.Imports != nil {
		limit := min(page*h.cfg.PageSize+1, maxImportsListed)
		var err error
		if recs, err = h.deps.Imports.List(ctx, connector, limit); err != nil {
			h.fail(c, b.Lang, err)
			return
		}
		if len(recs) > page*h.cfg.PageSize && page*h.cfg.PageSize < maxImportsListed {
			p.Next = withQuery(PathImports, paramConnector, connector, paramPage, strconv.Itoa(page+1))
		}
		recs = recs[min((page-1)*h.cfg.PageSize, len(recs)):min(page*h.cfg.PageSize, len(recs))]
	}
	if page > 1 {
		prev := ""
		if page > 2 {
			prev = strconv.Itoa(page - 1)
		}
		p.Prev = withQuery(PathImports, paramConnector, connector, paramPage, prev)
	}
	p.Page = page
	p.Caption = b.T("imports.caption", page)
	for _, r := range recs {
		p.Rows = append(p.Rows, importRow{ID: r.ID, Href: PathImports + "/" + url.PathEscape(r.ID), Connector: r.Connector,
			File: r.FileName, Actor: r.Actor, Status: r.Status, StatusLabel: b.T("import.status." + r.Status),
			StatusClass: importClass(r.Status), Started: h.stamp(b.Lang, r.StartedAt), Finished: h.stamp(b.Lang, r.FinishedAt)})
	}
	reload := ""
	if c.Request.Method != http.MethodGet {
		reload = PathImports
	}
	h.render(c, status, h.tmpl.imports, b.T("imports.title"), reload, p)
}

func importClass(status string) string {
	switch status {
	case imports.StatusCompleted:
		return "green"
	case imports.StatusRejected:
		return "orange"
	}
	return "red"
}

// upload imports the file posted into its connector, through the import
// service as the API does. A dry run shows its report at once (it keeps no
// record); a real import leads to its record's report.
func (h *Handler) upload(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	if !h.checkPost(c, lang, h.uploadLimit, PathImports) {
		return
	}
	b := h.base(c, lang, PathImports)
	form := importForm{Connector: c.PostForm(fieldConnector), DryRun: c.PostForm(fieldDryRun) != "", Strict: c.PostForm(fieldStrict) != ""}
	if h.deps.Imports == nil || len(h.deps.Imports.Connectors()) == 0 {
		b.Errors = []string{b.T("imports.none")}
		h.renderImports(c, http.StatusNotFound, b, "", 1, form)
		return
	}
	fh, err := c.FormFile(fieldFile)
	if err != nil {
		b.Errors = []string{b.T("imports.nofile")}
		h.renderImports(c, http.StatusBadRequest, b, "", 1, form)
		return
	}
	f, err := fh.Open()
	if err != nil {
		h.fail(c, lang, fmt.Errorf("open the uploaded file: %w", err))
		return
	}
	defer f.Close()
	rep, err := h.deps.Imports.Run(c.Request.Context(), imports.Request{Connector: form.Connector, FileName: fh.Filename,
		File: f, Size: fh.Size, DryRun: form.DryRun, Strict: form.Strict, Actor: actor(c), Owner: h.deps.Owner})
	var held *store.LeaseHeldError
	var rejected *imports.RejectedError
	switch {
	case errors.Is(err, imports.ErrUnknownConnector):
		b.Errors = []string{b.T("imports.unknown", form.Connector)}
		h.renderImports(c, http.StatusBadRequest, b, "", 1, form)
	case errors.As(err, &held):
		b.Errors = []string{b.T("imports.busy", held.Connector, held.Owner)}
		h.renderImports(c, http.StatusConflict, b, "", 1, form)
	case rep.ImportID != "":
		redirect(c, PathImports+"/"+url.PathEscape(rep.ImportID))
	case form.DryRun && (err == nil || errors.As(err, &rejected)):
		status := http.StatusOK
		if err != nil {
			status = http.StatusUnprocessableEntity
		}
		h.renderReport(c, status, b, rep, false, 1)
	case err != nil:
		h.fail(c, lang, err)
	default:
		h.fail(c, lang, errors.New("import not recorded"))
	}
}

// countRow is one count of a report.
type countRow struct {
	Label string
	N     int
}

// errorRow is a row in error of a report.
type errorRow struct {
	Line                        int
	Entry, Column, Field, Value string
	Reason                      string
}

// candidateRow is an account a suggested row may be.
type candidateRow struct {
	Account link
	By      string
}

// suggestionReportRow is a row imported as a new account that may be
// someone's duplicate.
type suggestionReportRow struct {
	Line       int
	Entry      string
	Account    link
	Candidates []candidateRow
}

// reportPage is what templates/report.html shows.
type reportPage struct {
	base
	Report                   imports.Report
	Recorded                 bool
	StatusLabel, StatusClass string
	Started                  stamp
	Duration                 string
	Counts                   []countRow
	ErrorRows                []errorRow
	ErrorCount               int
	Suggestions              []suggestionReportRow
	MoreSuggestions          int
	Page                     int
	Prev, Next               string
	Back, Duplicates         string
	Actor, SHA256            string
}

// report shows a recorded import with its report, its rows in error a
// page at a time.
func (h *Handler) report(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	b := h.base(c, lang, PathImports)
	if h.deps.Imports == nil {
		h.fail(c, lang, store.ErrNotFound)
		return
	}
	rec, err := h.deps.Imports.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	var rep imports.Report
	if err := json.Unmarshal(rec.Report, &rep); err != nil {
		h.fail(c, lang, fmt.Errorf("import %s: report: %w", rec.ID, err))
		return
	}
	page, _ := strconv.Atoi(c.Query(paramPage))
	h.renderReport(c, http.StatusOK, b, rep, true, page)
}

func (h *Handler) renderReport(c *gin.Context, status int, b base, rep imports.Report, recorded bool, page int) {
	lang := b.Lang
	p := reportPage{base: b, Report: rep, Recorded: recorded, StatusLabel: b.T("import.status." + rep.Status),
		StatusClass: importClass(rep.Status), Started: h.stamp(lang, rep.Started), Duration: rep.Duration.Round(time.Millisecond).String(),
		Back: PathImports, Duplicates: PathDuplicates, ErrorCount: len(rep.Errors)}
	if rep.DryRun {
		p.Notices = append(p.Notices, b.T("report.dryrun"))
	}
	p.Counts = reportCounts(b, rep.Summary, rep.Rows)
	pages := max(1, (len(rep.Errors)+reportPageSize-1)/reportPageSize)
	page = min(max(page, 1), pages)
	p.Page = page
	if recorded && rep.ImportID != "" {
		self := PathImports + "/" + url.PathEscape(rep.ImportID)
		if page > 1 {
			p.Prev = withQuery(self, paramPage, strconv.Itoa(page-1))
		}
		if page < pages {
			p.Next = withQuery(self, paramPage, strconv.Itoa(page+1))
		}
	}
	for _, e := range rep.Errors[min((page-1)*reportPageSize, len(rep.Errors)):min(page*reportPageSize, len(rep.Errors))] {
		p.ErrorRows = append(p.ErrorRows, errorRow{Line: e.Line, Entry: e.DN, Column: e.Column, Field: e.Field, Value: e.Value, Reason: e.Reason})
	}
	p.Suggestions, p.MoreSuggestions = suggestionRows(b, rep.Suggestions)
	reload := ""
	if c.Request.Method != http.MethodGet {
		reload = PathImports
	}
	title := b.T("report.title", rep.File)
	h.render(c, status, h.tmpl.report, title, reload, p)
}

// reportCounts lists the counts of a summary.
func reportCounts(b base, s ingest.Summary, rows int) []countRow {
	out := []countRow{}
	if rows >= 0 {
		out = append(out, countRow{b.T("count.rows"), rows})
	}
	return append(out, countRow{b.T("count.created"), s.Created}, countRow{b.T("count.updated"), s.Updated},
		countRow{b.T("count.unchanged"), s.Unchanged}, countRow{b.T("count.linked"), s.Linked},
		countRow{b.T("count.gone"), s.Gone}, countRow{b.T("count.errors"), len(s.Errors)},
		countRow{b.T("count.suggestions"), len(s.Suggestions)})
}

// suggestionRows shows the first reportPageSize suggestions of a summary,
// and how many more there are.
func suggestionRows(b base, ss []ingest.Suggestion) ([]suggestionReportRow, int) {
	var out []suggestionReportRow
	for _, s := range ss[:min(len(ss), reportPageSize)] {
		r := suggestionReportRow{Line: s.Line, Entry: s.DN, Account: link{Href: accountPath(s.AccountID), Label: s.AccountID}}
		for _, cand := range s.Candidates {
			r.Candidates = append(r.Candidates, candidateRow{Account: link{Href: accountPath(cand.AccountID), Label: cand.AccountID},
				By: b.T("by", string(cand.By))})
		}
		out = append(out, r)
	}
	return out, len(ss) - len(out)
}
