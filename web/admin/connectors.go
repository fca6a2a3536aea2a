package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/store"
)

// Connector is a directory connector the console shows, syncs and
// dry-runs.
type Connector struct {
	// Name is the connector's name.
	Name string
	// Interval is how often serve syncs it (0: not scheduled), FullEvery
	// how often that sync is a full one; ScanEvery how often an
	// incremental sync also scans for deletions.
	Interval, FullEvery, ScanEvery time.Duration
	// Open opens the connector and the ingester that applies its
	// entries, for one run; the console closes the connector after it
	// when it has a Close method.
	Open func() (connectors.Connector, *ingest.Ingester, error)
	// AfterCommit, when set, runs after each batch of a sync with the
	// accounts it touched (the auto-merge hook).
	AfterCommit func(ctx context.Context, accountIDs []string) error
}

// Query parameters and form fields of the connectors page.
const (
	paramStarted = "started"
	paramBusy    = "busy"
	fieldFull    = "full"
)

// lastErrors is how many entries in error a sync result lists on the page.
const lastErrors = 20

// job is a sync started from the console, running in the background.
type job struct {
	full    bool
	by      string
	started time.Time
	// entries counts the entries read so far.
	entries atomic.Int64
	cancel  context.CancelFunc
	// done is closed when the sync ends, under Handler.mu, as finished,
	// res and err are set.
	done     chan struct{}
	finished time.Time
	res      ingest.SyncResult
	err      error
}

func (j *job) running() bool {
	select {
	case <-j.done:
		return false
	default:
		return true
	}
}

// connector returns the connector called name.
func (h *Handler) connector(name string) (Connector, bool) {
	for _, cn := range h.deps.Connectors {
		if cn.Name == name {
			return cn, true
		}
	}
	return Connector{}, false
}

// sync runs one sync of cn, closing the connector after it.
func (h *Handler) sync(ctx context.Context, cn Connector, opts ingest.SyncOptions) (ingest.SyncResult, error) {
	conn, in, err := cn.Open()
	if err != nil {
		return ingest.SyncResult{}, err
	}
	if cl, ok := conn.(interface{ Close() error }); ok {
		defer cl.Close()
	}
	opts.Owner, opts.ScanEvery, opts.AfterCommit = h.deps.Owner, cn.ScanEvery, cn.AfterCommit
	return in.Sync(ctx, conn, opts)
}

// start starts a sync of cn in the background, unless one started from
// this console is still running; it reports whether it started one.
func (h *Handler) start(cn Connector, full bool, by string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if j := h.jobs[cn.Name]; j != nil && j.running() {
		return false
	}
	// The sync outlives the request that starts it: Close ends it.
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.SyncTimeout)
	j := &job{full: full, by: by, started: h.now(), cancel: cancel, done: make(chan struct{})}
	h.jobs[cn.Name] = j
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer cancel()
		res, err := h.sync(ctx, cn, ingest.SyncOptions{Full: full, Progress: func(n int) { j.entries.Store(int64(n)) }})
		if err != nil {
			h.log.ErrorContext(ctx, "sync started from the admin console failed", "connector", cn.Name, "by", by, "error", err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		j.res, j.err, j.finished = res, err, h.now()
		close(j.done)
	}()
	return true
}

// resultView is a sync's result as the page shows it.
type resultView struct {
	Full, DryRun bool
	Started      stamp
	Duration     string
	Entries      int
	Counts       []countRow
	Errors       []errorRow
	MoreErrors   int
}

// jobView is a sync started from the console.
type jobView struct {
	Running  bool
	Full     bool
	By       string
	Started  stamp
	Entries  int64
	Finished stamp
	Error    string
}

// connectorRow is a connector as the page shows it.
type connectorRow struct {
	Name         string
	Schedule     string
	LastRun      stamp
	LastFull     stamp
	Next         stamp
	NextNote     string
	Last         *resultView
	Lease        string
	Job          *jobView
	Run, DryRun  string
	RunLabel     string
	DryRunLabel  string
	FullLabel    string
	DryFullLabel string
	FieldFull    string
}

// connectorsPage is what templates/connectors.html shows.
type connectorsPage struct {
	base
	Rows    []connectorRow
	Refresh string
}

// connectors shows each directory connector: its schedule, its last run
// and result, the sync started from here (running, with the entries read
// so far, or ended), and its "run now" and "dry run" buttons.
func (h *Handler) connectors(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	b := h.base(c, lang, PathConnectors)
	if name := c.Query(paramStarted); name != "" {
		if _, ok := h.connector(name); ok {
			b.Notices = append(b.Notices, b.T("connectors.started", name))
		}
	}
	if name := c.Query(paramBusy); name != "" {
		if _, ok := h.connector(name); ok {
			b.Errors = append(b.Errors, b.T("connectors.busy", name))
		}
	}
	h.renderConnectors(c, http.StatusOK, b)
}

func (h *Handler) renderConnectors(c *gin.Context, status int, b base) {
	ctx := c.Request.Context()
	lang := b.Lang
	states := map[string]store.SyncState{}
	err := h.deps.Store.View(ctx, func(tx store.Tx) error {
		for _, cn := range h.deps.Connectors {
			s, err := tx.SyncStates().Get(ctx, cn.Name)
			if err != nil {
				return err
			}
			states[cn.Name] = s
		}
		return nil
	})
	if err != nil {
		h.fail(c, lang, err)
		return
	}
	now := h.now()
	p := connectorsPage{base: b, Refresh: PathConnectors}
	for _, cn := range h.deps.Connectors {
		s := states[cn.Name]
		r := connectorRow{Name: cn.Name, LastRun: h.stamp(lang, s.LastRunAt), LastFull: h.stamp(lang, s.LastFullAt),
			Run: PathConnectors + "/" + cn.Name + "/run", DryRun: PathConnectors + "/" + cn.Name + "/dry-run",
			RunLabel: b.T("connectors.run.label", cn.Name), DryRunLabel: b.T("connectors.dryrun.label", cn.Name),
			FullLabel: b.T("connectors.full.label", cn.Name), DryFullLabel: b.T("connectors.dryfull.label", cn.Name), FieldFull: fieldFull}
		switch {
		case cn.Interval > 0:
			r.Schedule = b.T("connectors.schedule", h.duration(lang, cn.Interval), h.duration(lang, cn.FullEvery))
			if s.LastRunAt.IsZero() {
				r.NextNote = b.T("connectors.next.start")
			} else {
				r.Next = h.stamp(lang, s.LastRunAt.Add(cn.Interval))
			}
		default:
			r.Schedule = b.T("connectors.unscheduled")
		}
		if len(s.LastResult) > 0 {
			var res ingest.SyncResult
			if err := json.Unmarshal(s.LastResult, &res); err == nil {
				v := h.resultView(b, res)
				r.Last = &v
			}
		}
		if s.LeaseOwner != "" && now.Before(s.LeaseUntil) {
			r.Lease = b.T("connectors.lease", s.LeaseOwner, h.when(lang, s.LeaseUntil))
		}
		h.mu.Lock()
		if j := h.jobs[cn.Name]; j != nil {
			v := &jobView{Running: j.running(), Full: j.full, By: j.by, Started: h.stamp(lang, j.started), Entries: j.entries.Load(),
				Finished: h.stamp(lang, j.finished)}
			if j.err != nil {
				v.Error = j.err.Error()
			}
			r.Job = v
		}
		h.mu.Unlock()
		p.Rows = append(p.Rows, r)
	}
	reload := ""
	if c.Request.Method != http.MethodGet {
		reload = PathConnectors
	}
	h.render(c, status, h.tmpl.connectors, b.T("connectors.title"), reload, p)
}

// resultView shows a sync's result: its counts and first entries in error.
func (h *Handler) resultView(b base, res ingest.SyncResult) resultView {
	v := resultView{Full: res.Full, DryRun: res.DryRun, Started: h.stamp(b.Lang, res.Started),
		Duration: res.Duration.Round(time.Millisecond).String(), Entries: res.Entries,
		Counts: reportCounts(b, res.Summary, -1)}
	for _, e := range res.Errors[:min(len(res.Errors), lastErrors)] {
		v.Errors = append(v.Errors, errorRow{Line: e.Line, Entry: e.DN, Column: e.Column, Field: e.Field, Value: e.Value, Reason: e.Reason})
	}
	v.MoreErrors = len(res.Errors) - len(v.Errors)
	return v
}

// run starts a sync of a connector in the background ("full" for a full
// one), then shows the connectors, where its progress shows on refresh.
func (h *Handler) run(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	if !h.checkPost(c, lang, maxForm, PathConnectors) {
		return
	}
	cn, ok := h.connector(c.Param("name"))
	if !ok {
		h.fail(c, lang, store.ErrNotFound)
		return
	}
	if !h.start(cn, c.PostForm(fieldFull) != "", admin(c).Login) {
		redirect(c, withQuery(PathConnectors, paramBusy, cn.Name))
		return
	}
	redirect(c, withQuery(PathConnectors, paramStarted, cn.Name))
}

// changeRow is a change a dry run plans.
type changeRow struct {
	Op, OpLabel, Entry string
	Account            *link
	By                 string
	Fields             []ingest.FieldChange
}

// dryRunPage is what templates/dryrun.html shows.
type dryRunPage struct {
	base
	Connector string
	Result    resultView
	Changes   []changeRow
	More      int
	Back      string
}

// dryRun plans a sync of a connector and shows what it would change, field
// by field, writing nothing; the page waits for it, within
// Config.DryRunTimeout.
func (h *Handler) dryRun(c *gin.Context) {
	lang := h.deps.Pages.FlowLanguage(c)
	if !h.checkPost(c, lang, maxForm, PathConnectors) {
		return
	}
	cn, ok := h.connector(c.Param("name"))
	if !ok {
		h.fail(c, lang, store.ErrNotFound)
		return
	}
	b := h.base(c, lang, PathConnectors)
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.cfg.DryRunTimeout)
	defer cancel()
	var mu sync.Mutex
	var changes []ingest.Change
	total := 0
	res, err := h.sync(ctx, cn, ingest.SyncOptions{DryRun: true, Full: c.PostForm(fieldFull) != "", Diff: func(ch ingest.Change) {
		mu.Lock()
		defer mu.Unlock()
		total++
		if len(changes) < h.cfg.MaxDiff {
			changes = append(changes, ch)
		}
	}})
	if err != nil {
		b.Errors = []string{b.T("connectors.dryrun.failed", cn.Name), err.Error()}
		status := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		h.renderConnectors(c, status, b)
		return
	}
	p := dryRunPage{base: b, Connector: cn.Name, Result: h.resultView(b, res), More: total - len(changes), Back: PathConnectors}
	for _, ch := range changes {
		r := changeRow{Op: ch.Op, OpLabel: h.opLabel(lang, ch.Op), Entry: ch.Entry, Fields: ch.Fields}
		if ch.AccountID != "" {
			r.Account = &link{Href: accountPath(ch.AccountID), Label: ch.AccountID}
		}
		if ch.By != "" {
			r.By = b.T("by", string(ch.By))
		}
		p.Changes = append(p.Changes, r)
	}
	h.render(c, http.StatusOK, h.tmpl.dryRun, b.T("dryrun.title", cn.Name), PathConnectors, p)
}

// opLabel names a planned change.
func (h *Handler) opLabel(lang, op string) string {
	if m, ok := h.cat.Lookup(lang, "op."+op); ok {
		return m
	}
	return op
}
