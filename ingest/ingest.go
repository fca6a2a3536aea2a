// Package ingest turns what connectors read into canonical accounts. Each
// entry is mapped to canonical fields (package mapping), then matched with
// the account that already holds its identity (its link), or correlated with
// an existing account by its verified e-mail or identifiers, or else given a
// new account. Entries are applied in batches, one transaction per batch,
// each change with its audit and outbox event. After a complete listing, or
// from a presence scan, the identities the source no longer holds are marked
// gone, and accounts left with no identity are suspended.
//
// The campus LDAP sync and the file imports both run through it.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
)

// DefaultBatchSize is how many entries one transaction applies.
const DefaultBatchSize = 500

// Source describes where entries come from and how they map.
type Source struct {
	// Name is the links' source, e.g. "ldap:campus", "csv:ars-occitanie".
	Name    string
	Mapping *mapping.Mapping
	Config  Config
	// KeepName stores each entry's Name (an LDAP DN) in its link, so that a
	// rename shows as an update. File sources leave it off: a row's line
	// number is not part of the identity.
	KeepName bool
	// OnCreate, when set, runs in the transaction that creates an account,
	// after its events (the activation flow mails a pending_activation
	// account its link). An error rolls the batch back.
	OnCreate func(ctx context.Context, tx store.Tx, acc identity.Account) error
}

// Summary is what a run did. Its JSON form is the last line of
// `canonid sync --json` and `canonid import --json`.
type Summary struct {
	Created   int          `json:"created"`
	Updated   int          `json:"updated"`
	Unchanged int          `json:"unchanged"`
	Linked    int          `json:"linked"`
	Gone      int          `json:"gone"`
	Errors    []EntryError `json:"errors"`
	// Suggestions are the created accounts that may be the same person
	// as existing ones: a correlation rule found them but could not link
	// (not an auto rule, or several accounts).
	Suggestions []Suggestion `json:"suggestions"`
}

// Suggestion is a created account and the existing accounts it may
// duplicate, with the rule that found each.
type Suggestion struct {
	Line       int         `json:"line,omitempty"`
	DN         string      `json:"dn,omitempty"`
	AccountID  string      `json:"account_id"`
	Candidates []Candidate `json:"candidates"`
}

// Candidate is an existing account a correlation rule found.
type Candidate struct {
	AccountID string              `json:"account_id"`
	By        identity.LookupKind `json:"by"`
}

// EntryError is one entry that could not be applied, located by its file
// line or its DN.
type EntryError struct {
	Line int    `json:"line,omitempty"`
	DN   string `json:"dn,omitempty"`
	// Column is the file column (or directory attribute) the value came
	// from, for file sources.
	Column string `json:"column,omitempty"`
	Field  string `json:"field,omitempty"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

func (e EntryError) String() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d", e.Line)
		if e.Column != "" {
			fmt.Fprintf(&b, ", column %s", e.Column)
		}
	} else {
		b.WriteString(e.DN)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
		if e.Value != "" {
			fmt.Fprintf(&b, " %q", e.Value)
		}
	}
	fmt.Fprintf(&b, ": %s", e.Reason)
	return b.String()
}

// Change is one planned change, reported to Options.Diff: the dry-run diff.
type Change struct {
	// Op is create, update, link, restore, gone or suspend.
	Op        string
	Entry     string // DN or "line N"; the external id for gone
	AccountID string // the account concerned; empty for create
	By        identity.LookupKind
	Fields    []FieldChange
}

// FieldChange is one field's old and new value.
type FieldChange struct {
	Field string
	Old   string
	New   string
}

func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %s", c.Op, c.Entry)
	if c.AccountID != "" {
		fmt.Fprintf(&b, " account %s", c.AccountID)
	}
	if c.By != "" {
		fmt.Fprintf(&b, " (by %s)", c.By)
	}
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "\n         %s: %q -> %q", f.Field, f.Old, f.New)
	}
	return b.String()
}

// Options tune one run.
type Options struct {
	// DryRun plans every change and reports it to Diff, writing nothing.
	DryRun bool
	// Actor is recorded on every event, e.g. "connector:campus".
	Actor string
	// Diff, when set, receives every planned change.
	Diff func(Change)
	// Progress, when set, is called after each batch with the number of
	// entries handled so far.
	Progress func(done int)
	// BatchSize is the number of entries per transaction;
	// DefaultBatchSize when zero.
	BatchSize int
	// TrackSeen keeps the external id of every entry handled, for
	// MarkGone after a complete listing.
	TrackSeen bool
	// KeepGone updates the snapshot of an entry whose link is gone
	// without restoring it: the link stays gone (a SCIM client writing a
	// user it deactivated).
	KeepGone bool
	// AfterCommit, when set, is called with the accounts a batch created,
	// linked or updated, after it committed (auto-merge hook). Its error is
	// logged, not returned.
	AfterCommit func(ctx context.Context, accountIDs []string) error
}

// Ingester applies one source's entries to a store.
type Ingester struct {
	st   store.Store
	src  Source
	prec identity.Precedence
	log  *slog.Logger
	now  func() time.Time
}

// New returns an Ingester for src writing to st, ranking values by prec.
func New(st store.Store, src Source, prec identity.Precedence, log *slog.Logger) *Ingester {
	src.Config = src.Config.WithDefaults()
	return &Ingester{st: st, src: src, prec: prec, log: log, now: time.Now}
}

// SetClock replaces the clock (tests).
func (in *Ingester) SetClock(now func() time.Time) { in.now = now }

// Run is one pass over a source: entries are added one by one and applied a
// batch at a time. A Run is used from one goroutine.
type Run struct {
	in      *Ingester
	opts    Options
	pending []connectors.Entry
	seen    map[string]struct{}
	done    int
	sum     Summary
	// claimed are the e-mail addresses and logins given to accounts by
	// the batch being planned (by the whole run for a dry run, which
	// writes nothing for later batches to see).
	claimedEmail map[string]string
	claimedLogin map[string]string
	// known, once knownDone is closed, holds the source's links (without
	// snapshots) as a prefetch read them (see PrefetchLinks).
	known     map[string]identity.Link
	knownErr  error
	knownDone chan struct{}
	// targets are the accounts entries without a link are linked to,
	// by external id, without correlation (Apply).
	targets map[string]string
}

// PrefetchLinks starts reading, in the background, every link of the
// source (owner, status, digest), for a full listing: entries found
// unchanged against it cost no query, and MarkGone finds the gone ones in
// it. Only this run's connector writes links of its source (the lease), and
// MarkGone re-reads a link before marking it.
func (r *Run) PrefetchLinks(ctx context.Context) {
	r.knownDone = make(chan struct{})
	go func() {
		defer close(r.knownDone)
		links, err := r.sourceLinks(ctx)
		if err != nil {
			r.knownErr = err
			return
		}
		r.known = make(map[string]identity.Link, len(links))
		for _, l := range links {
			r.known[l.ExternalID] = l
		}
	}()
}

// prefetched returns the prefetch, if one was started and has finished
// without error; with wait, it waits for it to finish.
func (r *Run) prefetched(ctx context.Context, wait bool) (map[string]identity.Link, bool, error) {
	if r.knownDone == nil {
		return nil, false, nil
	}
	if !wait {
		select {
		case <-r.knownDone:
		default:
			return nil, false, nil // still reading: plan with queries meanwhile
		}
	}
	select {
	case <-r.knownDone:
		return r.known, r.knownErr == nil, r.knownErr
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// sourceLinks pages through the source's links, without snapshots.
func (r *Run) sourceLinks(ctx context.Context) ([]identity.Link, error) {
	var out []identity.Link
	after := ""
	for {
		var page []identity.Link
		if err := r.in.st.View(ctx, func(tx store.Tx) error {
			var err error
			page, err = tx.Links().ListBySource(ctx, r.in.src.Name, after, 5000)
			return err
		}); err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return out, nil
		}
		out = append(out, page...)
		after = page[len(page)-1].ExternalID
	}
}

// Start begins a run.
func (in *Ingester) Start(opts Options) *Run {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Actor == "" {
		opts.Actor = "connector:" + in.src.Name
	}
	r := &Run{in: in, opts: opts, claimedEmail: map[string]string{}, claimedLogin: map[string]string{}}
	if opts.TrackSeen {
		r.seen = map[string]struct{}{}
	}
	return r
}

// Summary returns what the run did so far.
func (r *Run) Summary() Summary {
	s := r.sum
	s.Errors = slices.Clone(r.sum.Errors)
	if s.Errors == nil {
		s.Errors = []EntryError{}
	}
	// Rows rejected when read and rows rejected when planned, in order.
	slices.SortStableFunc(s.Errors, func(a, b EntryError) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.DN, b.DN)
	})
	s.Suggestions = slices.Clone(r.sum.Suggestions)
	if s.Suggestions == nil {
		s.Suggestions = []Suggestion{}
	}
	return s
}

// Add queues an entry, applying the batch when it is full.
func (r *Run) Add(ctx context.Context, e connectors.Entry) error {
	if r.seen != nil {
		r.seen[e.ExternalID] = struct{}{}
	}
	r.pending = append(r.pending, e)
	if len(r.pending) >= r.opts.BatchSize {
		return r.Flush(ctx)
	}
	return nil
}

// Flush applies the queued entries.
func (r *Run) Flush(ctx context.Context) error {
	if len(r.pending) == 0 {
		return nil
	}
	batch := r.pending
	r.pending = nil
	var acts []action
	run := func(tx store.Tx) error {
		var err error
		acts, err = r.plan(ctx, tx, batch)
		if err != nil || r.opts.DryRun {
			return err
		}
		return r.apply(ctx, tx, acts)
	}
	var err error
	if r.opts.DryRun {
		err = r.in.st.View(ctx, run)
	} else {
		err = r.in.st.Update(ctx, run)
	}
	if err != nil {
		return fmt.Errorf("apply %d entries (first %s): %w", len(batch), locate(batch[0]), err)
	}
	var touched []string
	for _, a := range acts {
		r.count(a)
		if a.kind != actError && a.kind != actUnchanged && a.accountID != "" {
			touched = append(touched, a.accountID)
		}
	}
	r.done += len(batch)
	if r.opts.Progress != nil {
		r.opts.Progress(r.done)
	}
	if r.opts.AfterCommit != nil && !r.opts.DryRun && len(touched) > 0 {
		if err := r.opts.AfterCommit(ctx, touched); err != nil {
			r.in.log.WarnContext(ctx, "after-commit hook failed", "source", r.in.src.Name, "err", err)
		}
	}
	return nil
}

func (r *Run) count(a action) {
	switch a.kind {
	case actCreate:
		r.sum.Created++
		if len(a.suggest) > 0 {
			sg := Suggestion{Line: a.entry.Line, AccountID: a.accountID, Candidates: a.suggest}
			if a.entry.Line == 0 {
				sg.DN = a.entry.Name
			}
			r.sum.Suggestions = append(r.sum.Suggestions, sg)
		}
	case actLink:
		r.sum.Linked++
	case actUpdate, actRestore:
		r.sum.Updated++
	case actUnchanged:
		r.sum.Unchanged++
	case actError:
		r.sum.Errors = append(r.sum.Errors, a.errs...)
	}
	if r.opts.Diff != nil && a.kind != actUnchanged && a.kind != actError {
		r.opts.Diff(a.change())
	}
}

// locate names an entry in errors: its line or its DN.
func locate(e connectors.Entry) string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d", e.Line)
	}
	return e.Name
}

func entryError(e connectors.Entry, field, value, reason string) EntryError {
	ee := EntryError{Field: field, Value: value, Reason: reason}
	if e.Line > 0 {
		ee.Line = e.Line
	} else {
		ee.DN = e.Name
	}
	return ee
}

type actionKind int

const (
	actPending actionKind = iota // not decided yet: unlinked
	actUnchanged
	actCreate
	actLink
	actUpdate
	actRestore
	actError
)

var actionOps = map[actionKind]string{actCreate: "create", actLink: "link", actUpdate: "update", actRestore: "restore"}

// action is what the plan decided for one entry.
type action struct {
	kind      actionKind
	entry     connectors.Entry
	res       mapping.Result
	errs      []EntryError
	link      identity.Link // the existing link, for update and restore
	hasLink   bool
	accountID string
	by        identity.LookupKind
	before    identity.Account // the account as read (zero for create)
	after     identity.Account // the account to write
	emails    []identity.Email // the account's addresses as read
	fields    []FieldChange
	emailOps  emailOps
	suggest   []Candidate // possible duplicates of a created account
	member    bool        // add the org membership
	reactive  bool        // reactivate an account the source's departure suspended
}

func (a action) change() Change {
	c := Change{Op: actionOps[a.kind], Entry: locate(a.entry), AccountID: a.accountID, By: a.by, Fields: a.fields}
	if a.kind == actCreate {
		c.AccountID = ""
	}
	return c
}

// emailOps are the writes that give an account the source's address.
type emailOps struct {
	address  string
	verified bool             // the source vouches for the address
	primary  bool             // the inserted address is the primary one
	add      bool             // insert address
	update   bool             // mark the existing row verified and primary
	unset    []identity.Email // other primary rows to demote first
	drop     []identity.Email // rows of this source for addresses it no longer gives
	existing identity.Email
}

func (o emailOps) any() bool { return o.add || o.update || len(o.unset) > 0 || len(o.drop) > 0 }

// Link snapshot keys that are not source attributes.
const (
	snapName          = "_name"
	snapSuspendedFrom = "_suspended_from"
)

// keptGone returns snap, the snapshot of an entry whose gone link stays
// gone (Options.KeepGone), with the link's record of the suspension its
// departure caused, for a later restore to undo.
func keptGone(snap map[string][]string, gone identity.Link) map[string][]string {
	if from := gone.Attributes[snapSuspendedFrom]; from != nil {
		snap[snapSuspendedFrom] = from
	}
	return snap
}

// snapshot is what a link keeps of an entry.
func (in *Ingester) snapshot(e connectors.Entry) map[string][]string {
	s := make(map[string][]string, len(e.Attributes)+1)
	for k, v := range e.Attributes {
		s[k] = v
	}
	if in.src.KeepName && e.Name != "" {
		s[snapName] = []string{e.Name}
	}
	return s
}

// plan decides, reading only, what to do with each entry of a batch.
func (r *Run) plan(ctx context.Context, tx store.Tx, batch []connectors.Entry) ([]action, error) {
	in := r.in
	if !r.opts.DryRun {
		clear(r.claimedEmail)
		clear(r.claimedLogin)
	}
	known, prefetched, _ := r.prefetched(ctx, false) // MarkGone reports a failed prefetch
	acts := make([]action, len(batch))
	digests := make([]string, len(batch))
	ids := make([]string, 0, len(batch))
	for i, e := range batch {
		acts[i].entry = e
		if e.ExternalID == "" {
			acts[i].kind, acts[i].errs = actError, []EntryError{entryError(e, "", "", "the entry has no external id")}
			continue
		}
		digests[i] = identity.LinkDigest(in.snapshot(e))
		if l, ok := known[e.ExternalID]; prefetched && ok && l.Status == identity.LinkActive && l.Digest == digests[i] {
			acts[i].kind, acts[i].accountID = actUnchanged, l.AccountID
			continue
		}
		ids = append(ids, e.ExternalID)
	}
	links, err := tx.Links().GetMany(ctx, in.src.Name, ids)
	if err != nil {
		return nil, err
	}
	// Entries linked already and unchanged stop here, unmapped; the others
	// are mapped.
	var accountIDs []string
	var unlinked []*action
	for i := range acts {
		a := &acts[i]
		if a.kind == actError || a.kind == actUnchanged {
			continue
		}
		l, linked := links[a.entry.ExternalID]
		if linked && l.Status == identity.LinkActive && l.Digest == digests[i] {
			a.kind, a.accountID = actUnchanged, l.AccountID
			continue
		}
		res, err := in.src.Mapping.Apply(mapping.Record(a.entry.Attributes))
		if err != nil {
			a.kind = actError
			var fe mapping.Errors
			if errors.As(err, &fe) {
				for _, f := range fe {
					ee := entryError(a.entry, f.Field, f.Value, mapReason(f))
					if a.entry.Line > 0 {
						ee.Column, ee.Reason = f.Attribute, f.Reason
					}
					a.errs = append(a.errs, ee)
				}
			} else {
				a.errs = []EntryError{entryError(a.entry, "", "", err.Error())}
			}
			continue
		}
		a.res = res
		if !linked {
			if t := r.targets[a.entry.ExternalID]; t != "" {
				a.kind, a.accountID = actLink, t
				accountIDs = append(accountIDs, t)
				continue
			}
			unlinked = append(unlinked, a)
			continue
		}
		a.hasLink, a.accountID = true, l.AccountID
		a.kind = actUpdate
		if l.Status == identity.LinkGone {
			// Restoring, or keeping gone, needs the snapshot's record of
			// the suspension.
			if l, err = tx.Links().Get(ctx, l.Source, l.ExternalID); err != nil {
				return nil, err
			}
			switch {
			case !r.opts.KeepGone:
				a.kind = actRestore
			case identity.LinkDigest(keptGone(in.snapshot(a.entry), l)) == l.Digest:
				a.kind = actUnchanged // kept gone as it is: nothing to write
				continue
			}
		}
		a.link = l
		accountIDs = append(accountIDs, l.AccountID)
	}
	// Correlate the others.
	candidates, err := r.correlate(ctx, tx, unlinked)
	if err != nil {
		return nil, err
	}
	for _, hits := range candidates {
		for _, h := range hits {
			accountIDs = append(accountIDs, h.ids...)
		}
	}
	accounts, emails, sourceLinked, err := r.readAccounts(ctx, tx, accountIDs)
	if err != nil {
		return nil, err
	}
	// Addresses and logins the batch wants, and who holds them now.
	var addrs, logins []string
	for i := range acts {
		if a := &acts[i]; a.kind != actError && a.kind != actUnchanged {
			// Only a verified address can belong to one account alone.
			if v := a.res.Get(mapping.FieldEmail); v != "" && *in.src.Config.EmailVerified {
				addrs = append(addrs, v)
			}
			if v := a.res.Get(mapping.FieldLogin); v != "" {
				logins = append(logins, v)
			}
		}
	}
	emailOwners, err := tx.Accounts().Lookup(ctx, identity.LookupEmail, addrs)
	if err != nil {
		return nil, err
	}
	loginOwners, err := tx.Accounts().Lookup(ctx, identity.LookupLogin, logins)
	if err != nil {
		return nil, err
	}
	owner := func(claimed map[string]string, stored map[string][]string, v string) string {
		if id, ok := claimed[v]; ok {
			return id
		}
		if ids := stored[v]; len(ids) > 0 {
			return ids[0]
		}
		return ""
	}
	for i := range acts {
		a := &acts[i]
		switch a.kind {
		case actError, actUnchanged:
			continue
		case actUpdate, actRestore:
			acc, ok := accounts[a.accountID]
			if !ok {
				return nil, fmt.Errorf("link %s/%s: account %s: %w", in.src.Name, a.entry.ExternalID, a.accountID, store.ErrNotFound)
			}
			a.before, a.emails = acc, emails[a.accountID]
		case actLink: // unlinked, with a target (Apply)
			acc, ok := accounts[a.accountID]
			if !ok || !acc.Status.Live() {
				return nil, fmt.Errorf("link %s/%s to account %s: %w", in.src.Name, a.entry.ExternalID, a.accountID, store.ErrNotFound)
			}
			a.before, a.emails = acc, emails[a.accountID]
		default: // unlinked: link to the account an auto rule designates, or create
			r.decideLink(a, candidates[a], sourceLinked)
			if a.kind == actLink {
				a.before, a.emails = accounts[a.accountID], emails[a.accountID]
				sourceLinked[a.accountID] = true
			} else {
				a.accountID = newAccountID()
			}
		}
		// The address and login must not belong to anyone else.
		if v := a.res.Get(mapping.FieldEmail); v != "" && *in.src.Config.EmailVerified {
			if o := owner(r.claimedEmail, emailOwners, v); o != "" && o != a.accountID {
				a.kind, a.errs = actError, []EntryError{entryError(a.entry, mapping.FieldEmail, v, "the address is the verified address of another account ("+o+")")}
				continue
			}
		}
		if v := a.res.Get(mapping.FieldLogin); v != "" && v != a.before.Login {
			if o := owner(r.claimedLogin, loginOwners, v); o != "" && o != a.accountID {
				a.kind, a.errs = actError, []EntryError{entryError(a.entry, mapping.FieldLogin, v, "the login belongs to another account ("+o+")")}
				continue
			}
		}
		r.decide(a)
		if v := a.res.Get(mapping.FieldEmail); v != "" && *in.src.Config.EmailVerified {
			r.claimedEmail[v] = a.accountID
		}
		if v := a.after.Login; v != "" {
			r.claimedLogin[v] = a.accountID
		}
	}
	return acts, nil
}

func mapReason(f mapping.FieldError) string {
	if f.Attribute != "" && !strings.Contains(f.Reason, f.Attribute) {
		return f.Reason + " (" + f.Attribute + ")"
	}
	return f.Reason
}

// hit is what one correlation rule found for an entry.
type hit struct {
	rule CorrelateRule
	ids  []string // accounts, sorted
}

// correlate runs every correlation rule over the unlinked entries of a
// batch (one lookup per rule and stored kind) and returns, per entry, the
// rules that found accounts, in rule order.
func (r *Run) correlate(ctx context.Context, tx store.Tx, unlinked []*action) (map[*action][]hit, error) {
	out := map[*action][]hit{}
	if len(unlinked) == 0 {
		return out, nil
	}
	type probe struct {
		kinds  []identity.LookupKind // stored kinds searched
		values func(mapping.Result) []string
	}
	addresses := func(m mapping.Result) []string {
		var vs []string
		for _, f := range []string{mapping.FieldEmail, mapping.FieldRecoveryEmail} {
			if v := m.Get(f); v != "" {
				vs = append(vs, v)
			}
		}
		return vs
	}
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	probes := map[identity.LookupKind]probe{
		identity.LookupEmail: {[]identity.LookupKind{identity.LookupEmail}, func(m mapping.Result) []string { return one(m.Get(mapping.FieldEmail)) }},
		// An entry's address, whether the source calls it its mail or its
		// recovery mail, against accounts' recovery and verified addresses.
		identity.LookupRecoveryEmail: {[]identity.LookupKind{identity.LookupRecoveryEmail, identity.LookupEmail}, addresses},
		identity.LookupNameBirthDate: {[]identity.LookupKind{identity.LookupNameBirthDate}, func(m mapping.Result) []string {
			return one(identity.NameBirthDateValue(m.Get(mapping.FieldFamilyName), m.Get(mapping.FieldGivenName), m.Get(mapping.FieldBirthDate)))
		}},
	}
	probeOf := func(k identity.LookupKind) probe {
		if p, ok := probes[k]; ok {
			return p
		}
		return probe{[]identity.LookupKind{k}, func(m mapping.Result) []string { return one(identity.LookupValue(k, m.Get(string(k)))) }}
	}
	for _, rule := range r.in.src.Config.Correlate {
		p := probeOf(rule.Key)
		var values []string
		for _, a := range unlinked {
			values = append(values, p.values(a.res)...)
		}
		if len(values) == 0 {
			continue
		}
		found := map[string][]string{}
		for _, k := range p.kinds {
			got, err := tx.Accounts().Lookup(ctx, k, values)
			if err != nil {
				return nil, err
			}
			for v, ids := range got {
				found[v] = append(found[v], ids...)
			}
		}
		for _, a := range unlinked {
			var ids []string
			for _, v := range p.values(a.res) {
				ids = append(ids, found[v]...)
			}
			if len(ids) > 0 {
				slices.Sort(ids)
				out[a] = append(out[a], hit{rule, slices.Compact(ids)})
			}
		}
	}
	return out, nil
}

// decideLink links a to the one eligible account of the first auto rule
// that finds exactly one; otherwise a gets a new account, suggested as a
// duplicate of every eligible account the rules found. An account holding
// an active identity of this source already is another person: never
// eligible.
func (r *Run) decideLink(a *action, hits []hit, sourceLinked map[string]bool) {
	a.kind, a.by, a.suggest = actCreate, "", nil
	eligible := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			if !sourceLinked[id] {
				out = append(out, id)
			}
		}
		return out
	}
	for _, h := range hits {
		if ids := eligible(h.ids); h.rule.Auto && len(ids) == 1 {
			a.kind, a.accountID, a.by = actLink, ids[0], h.rule.Key
			return
		}
	}
	seen := map[string]bool{}
	for _, h := range hits {
		for _, id := range eligible(h.ids) {
			if !seen[id] {
				seen[id] = true
				a.suggest = append(a.suggest, Candidate{AccountID: id, By: h.rule.Key})
			}
		}
	}
}

// readAccounts reads the accounts of a batch, their e-mails, and which of
// them already hold an active identity of this source.
func (r *Run) readAccounts(ctx context.Context, tx store.Tx, ids []string) (map[string]identity.Account, map[string][]identity.Email, map[string]bool, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	accs, err := tx.Accounts().GetMany(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	byID := make(map[string]identity.Account, len(accs))
	for _, a := range accs {
		byID[a.ID] = a
	}
	emails, err := tx.Emails().ListByAccounts(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	linked := map[string]bool{}
	byAccount, err := tx.Links().ListByAccounts(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	for id, ls := range byAccount {
		for _, l := range ls {
			if l.Source == r.in.src.Name && l.Status == identity.LinkActive {
				linked[id] = true
			}
		}
	}
	return byID, emails, linked, nil
}

// newAccountID returns a fresh account id.
func newAccountID() string { return uuid.NewString() }

// columns are the canonical fields with a column of their own.
var columns = map[string]func(a *identity.Account) *string{
	mapping.FieldLogin:       func(a *identity.Account) *string { return &a.Login },
	mapping.FieldGivenName:   func(a *identity.Account) *string { return &a.GivenName },
	mapping.FieldFamilyName:  func(a *identity.Account) *string { return &a.FamilyName },
	mapping.FieldDisplayName: func(a *identity.Account) *string { return &a.DisplayName },
	mapping.FieldBirthDate:   func(a *identity.Account) *string { return &a.BirthDate },
	mapping.FieldPhone:       func(a *identity.Account) *string { return &a.Phone },
}

// attributeFields are the mapped fields kept in Account.Attributes.
var attributeFields = []string{
	mapping.FieldCivility, mapping.FieldRecoveryEmail, mapping.FieldINE, mapping.FieldSupannEtuID,
	mapping.FieldSupannEmpID, mapping.FieldSupannRefID, mapping.FieldEPPN, mapping.FieldAffiliation,
	mapping.FieldPrimaryAffiliation, mapping.FieldOrg,
}

// decide computes the account an action writes: its fields by source
// precedence, its address, its status and membership.
func (r *Run) decide(a *action) {
	in := r.in
	src := in.src.Name
	acc := a.before
	if a.kind == actCreate {
		acc = identity.Account{ID: a.accountID, Status: in.src.Config.NewAccountStatus}
	}
	acc.Attributes = cloneAttrs(acc.Attributes)
	acc.Provenance = maps.Clone(acc.Provenance)
	if acc.Provenance == nil {
		acc.Provenance = map[string]string{}
	}
	wins := func(field string, hasValue bool) bool {
		cur := acc.Provenance[field]
		return !hasValue || cur == "" || cur == src || in.prec.Rank(field, src) <= in.prec.Rank(field, cur)
	}
	var fields []FieldChange
	names := slices.Sorted(maps.Keys(columns))
	for _, f := range names {
		p := columns[f](&acc)
		v := a.res.Get(f)
		switch {
		case v == *p:
			if v != "" && acc.Provenance[f] != src && wins(f, true) {
				acc.Provenance[f] = src
			}
		case v == "":
			if acc.Provenance[f] == src {
				fields = append(fields, FieldChange{f, *p, ""})
				*p = ""
				delete(acc.Provenance, f)
			}
		case wins(f, *p != ""):
			fields = append(fields, FieldChange{f, *p, v})
			*p, acc.Provenance[f] = v, src
		}
	}
	for _, f := range attributeFields {
		vs := a.res.Values[f]
		cur := acc.Attributes[f]
		switch {
		case slices.Equal(vs, cur):
			if len(vs) > 0 && acc.Provenance[f] != src && wins(f, true) {
				acc.Provenance[f] = src
			}
		case len(vs) == 0:
			if acc.Provenance[f] == src {
				fields = append(fields, FieldChange{f, strings.Join(cur, ","), ""})
				delete(acc.Attributes, f)
				delete(acc.Provenance, f)
			}
		case wins(f, len(cur) > 0):
			fields = append(fields, FieldChange{f, strings.Join(cur, ","), strings.Join(vs, ",")})
			acc.Attributes[f], acc.Provenance[f] = slices.Clone(vs), src
		}
	}
	if v := a.res.Get(mapping.FieldDirectoryVisible); v != "" {
		visible := v == "true"
		if cur := acc.Consents.DirectoryVisible; cur == nil || *cur != visible {
			old := ""
			if cur != nil {
				old = fmt.Sprint(*cur)
			}
			fields = append(fields, FieldChange{mapping.FieldDirectoryVisible, old, v})
			acc.Consents.DirectoryVisible = &visible
		}
	}
	if a.kind == actRestore && acc.Status == identity.StatusSuspended {
		if from := a.link.Attributes[snapSuspendedFrom]; len(from) == 1 && identity.Status(from[0]).Live() {
			fields = append(fields, FieldChange{"status", string(acc.Status), from[0]})
			acc.Status = identity.Status(from[0])
			a.reactive = true
		}
	}
	a.after, a.fields = acc, fields
	a.emailOps = r.emailPlan(a)
	if v := a.emailOps.address; a.emailOps.add || a.emailOps.update {
		a.fields = append(a.fields, FieldChange{mapping.FieldEmail, "", v})
	}
	if org := in.src.Config.Org; org != "" {
		a.member = true
	}
}

// emailPlan gives the account the source's address as its verified primary
// address, and drops the addresses this source gave before and no longer
// does.
func (r *Run) emailPlan(a *action) emailOps {
	src := r.in.src.Name
	addr := a.res.Get(mapping.FieldEmail)
	verified := *r.in.src.Config.EmailVerified
	ops := emailOps{address: addr, verified: verified}
	var have *identity.Email
	for i, e := range a.emails {
		switch {
		case e.Address == addr:
			have = &a.emails[i]
		case e.Source == src && (verified || !e.Verified):
			// A source that does not vouch for addresses never removes
			// one the person confirmed.
			ops.drop = append(ops.drop, e)
		}
	}
	if addr == "" {
		return ops
	}
	if !verified {
		// A pending address: added, primary only if the account has
		// none; one the account holds already is left as it is.
		if have == nil {
			ops.add = true
			ops.primary = !slices.ContainsFunc(a.emails, func(e identity.Email) bool {
				return e.Primary && !slices.ContainsFunc(ops.drop, func(d identity.Email) bool { return d.Address == e.Address })
			})
		}
		return ops
	}
	ops.primary = true
	for _, e := range a.emails {
		if e.Primary && e.Address != addr && !slices.ContainsFunc(ops.drop, func(d identity.Email) bool { return d.Address == e.Address }) {
			ops.unset = append(ops.unset, e)
		}
	}
	switch {
	case have == nil:
		ops.add = true
	case !have.Verified || !have.Primary:
		ops.update, ops.existing = true, *have
	}
	if !ops.add && !ops.update {
		ops.unset = nil
	}
	return ops
}

func cloneAttrs(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// apply writes the planned actions with their events.
func (r *Run) apply(ctx context.Context, tx store.Tx, acts []action) error {
	in := r.in
	src := in.src.Name
	for i := range acts {
		a := &acts[i]
		if a.kind == actError || a.kind == actUnchanged {
			continue
		}
		snap := in.snapshot(a.entry)
		switch a.kind {
		case actCreate:
			acc := a.after
			if err := tx.Accounts().Create(ctx, &acc); err != nil {
				return fmt.Errorf("%s: %w", locate(a.entry), err)
			}
			a.after = acc
		default:
			if len(a.fields) > 0 {
				acc := a.after
				if err := tx.Accounts().Update(ctx, &acc); err != nil {
					return fmt.Errorf("%s: %w", locate(a.entry), err)
				}
				a.after = acc
			}
		}
		if err := r.applyEmails(ctx, tx, a); err != nil {
			return fmt.Errorf("%s: %w", locate(a.entry), err)
		}
		link := identity.Link{Source: src, ExternalID: a.entry.ExternalID, AccountID: a.accountID, Status: identity.LinkActive, Attributes: snap}
		if a.kind == actUpdate && a.link.Status == identity.LinkGone { // KeepGone
			link.Status, link.Attributes = identity.LinkGone, keptGone(snap, a.link)
		}
		var err error
		if a.hasLink {
			link.AccountID = a.link.AccountID
			err = tx.Links().Update(ctx, &link)
		} else {
			err = tx.Links().Create(ctx, &link)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", locate(a.entry), err)
		}
		if a.member {
			if err := r.ensureMember(ctx, tx, a.accountID); err != nil {
				return fmt.Errorf("%s: %w", locate(a.entry), err)
			}
		}
		if err := r.record(ctx, tx, a); err != nil {
			return err
		}
		if a.kind == actCreate && in.src.OnCreate != nil {
			if err := in.src.OnCreate(ctx, tx, a.after); err != nil {
				return fmt.Errorf("%s: %w", locate(a.entry), err)
			}
		}
	}
	return nil
}

func (r *Run) applyEmails(ctx context.Context, tx store.Tx, a *action) error {
	ops := a.emailOps
	for _, e := range ops.drop {
		if err := tx.Emails().Delete(ctx, e.AccountID, e.Address); err != nil {
			return err
		}
	}
	for _, e := range ops.unset {
		e.Primary = false
		if err := tx.Emails().Update(ctx, &e); err != nil {
			return err
		}
	}
	now := r.in.now()
	switch {
	case ops.add:
		e := identity.Email{Address: ops.address, AccountID: a.accountID, Verified: ops.verified, Primary: ops.primary, Source: r.in.src.Name}
		if ops.verified {
			e.VerifiedAt = now
		}
		return tx.Emails().Add(ctx, &e)
	case ops.update:
		e := ops.existing
		if !e.Verified {
			e.VerifiedAt = now
		}
		e.Verified, e.Primary = true, true
		return tx.Emails().Update(ctx, &e)
	}
	return nil
}

func (r *Run) ensureMember(ctx context.Context, tx store.Tx, accountID string) error {
	org := r.in.src.Config.Org
	if _, err := tx.Memberships().Get(ctx, org, accountID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := r.in.now()
	m := identity.Membership{OrgID: org, AccountID: accountID, Role: identity.RoleMember, State: identity.MembershipValidated,
		ValidatedBy: r.opts.Actor, ValidatedAt: now}
	if err := tx.Memberships().Put(ctx, &m); err != nil {
		return err
	}
	return tx.Record(ctx, store.Event{Type: identity.EventMembershipAdded, Actor: r.opts.Actor, AccountID: accountID, OrgID: org,
		Data: map[string]string{"source": r.in.src.Name, "role": string(m.Role), "state": string(m.State)}})
}

// EventData is the payload of the events a run records for an entry.
type EventData struct {
	Source     string   `json:"source"`
	ExternalID string   `json:"external_id"`
	Name       string   `json:"name,omitempty"`
	By         string   `json:"by,omitempty"`
	Fields     []string `json:"fields,omitempty"`
}

func (r *Run) record(ctx context.Context, tx store.Tx, a *action) error {
	d := EventData{Source: r.in.src.Name, ExternalID: a.entry.ExternalID, Name: locate(a.entry), By: string(a.by)}
	for _, f := range a.fields {
		d.Fields = append(d.Fields, f.Field)
	}
	var types []string
	switch a.kind {
	case actCreate:
		types = []string{identity.EventAccountCreated}
	case actLink:
		types = []string{identity.EventAccountLinked}
		if len(a.fields) > 0 {
			types = append(types, identity.EventAccountUpdated)
		}
	case actRestore:
		types = []string{identity.EventLinkRestored}
		if a.reactive {
			types = append(types, identity.EventAccountActivated)
		} else if len(a.fields) > 0 {
			types = append(types, identity.EventAccountUpdated)
		}
	case actUpdate:
		types = []string{identity.EventAccountUpdated}
		if len(a.fields) == 0 {
			// Only the source's snapshot changed (a rename, or values
			// that map alike): the account is as it was.
			types = []string{identity.EventLinkUpdated}
		}
	}
	for _, t := range types {
		if err := tx.Record(ctx, store.Event{Type: t, Actor: r.opts.Actor, AccountID: a.accountID, Data: d}); err != nil {
			return err
		}
	}
	return nil
}

// ErrTooManyGone is returned by MarkGone when more of the source's links
// would be marked gone than Config.MaxGone allows.
var ErrTooManyGone = errors.New("too many identities gone")

// MarkGone marks gone every active link of the source whose external id
// present reports absent, and suspends the accounts left with no active
// link (Config.OnGone). Call it only after a complete listing (with
// Options.TrackSeen, pass nil to use the ids the run saw) or a complete
// presence scan.
func (r *Run) MarkGone(ctx context.Context, present func(externalID string) bool) error {
	if err := r.Flush(ctx); err != nil {
		return err
	}
	if present == nil {
		if r.seen == nil {
			return errors.New("MarkGone without a presence set: start the run with TrackSeen")
		}
		present = func(id string) bool { _, ok := r.seen[id]; return ok }
	}
	known, ok, err := r.prefetched(ctx, true)
	if !ok && err == nil {
		var all []identity.Link
		all, err = r.sourceLinks(ctx)
		known = make(map[string]identity.Link, len(all))
		for _, l := range all {
			known[l.ExternalID] = l
		}
	}
	if err != nil {
		return fmt.Errorf("mark gone: %w", err)
	}
	active := 0
	var gone []identity.Link
	for id, l := range known {
		if l.Status != identity.LinkActive {
			continue
		}
		active++
		if !present(id) {
			gone = append(gone, l)
		}
	}
	slices.SortFunc(gone, func(a, b identity.Link) int { return strings.Compare(a.ExternalID, b.ExternalID) })
	if len(gone) == 0 {
		return nil
	}
	if limit := *r.in.src.Config.MaxGone; limit < 1 && float64(len(gone)) > limit*float64(active) {
		return fmt.Errorf("%w: %d of the %d identities linked from %s are no longer at the source, more than max_gone (%.0f%%); check the connector's base DN and filter, or raise max_gone",
			ErrTooManyGone, len(gone), active, r.in.src.Name, limit*100)
	}
	for chunk := range slices.Chunk(gone, r.opts.BatchSize) {
		var changes []Change
		run := func(tx store.Tx) error {
			changes = changes[:0]
			for _, l := range chunk {
				cs, err := r.markGone(ctx, tx, l)
				if err != nil {
					return err
				}
				changes = append(changes, cs...)
			}
			return nil
		}
		var err error
		if r.opts.DryRun {
			err = r.in.st.View(ctx, run)
		} else {
			err = r.in.st.Update(ctx, run)
		}
		if err != nil {
			return fmt.Errorf("mark gone: %w", err)
		}
		r.sum.Gone += len(chunk)
		if r.opts.Diff != nil {
			for _, c := range changes {
				r.opts.Diff(c)
			}
		}
	}
	return nil
}

// markGone marks one link gone and suspends its account when it was the
// account's last active link.
func (r *Run) markGone(ctx context.Context, tx store.Tx, l identity.Link) ([]Change, error) {
	return r.leave(ctx, tx, l, false)
}

// leave marks one link gone, or deletes it when remove is set, and
// suspends its account when it was the account's last active link.
func (r *Run) leave(ctx context.Context, tx store.Tx, l identity.Link, remove bool) ([]Change, error) {
	cur, err := tx.Links().Get(ctx, l.Source, l.ExternalID)
	if err != nil || (cur.Status != identity.LinkActive && !remove) {
		return nil, err // changed since the scan: leave it
	}
	name := cur.ExternalID
	if n := cur.Attributes[snapName]; len(n) == 1 {
		name = n[0]
	}
	changes := []Change{{Op: "gone", Entry: name, AccountID: cur.AccountID}}
	acc, err := tx.Accounts().Get(ctx, cur.AccountID)
	if err != nil {
		return nil, err
	}
	links, err := tx.Links().ListByAccount(ctx, cur.AccountID)
	if err != nil {
		return nil, err
	}
	last := !slices.ContainsFunc(links, func(o identity.Link) bool {
		return o.Status == identity.LinkActive && (o.Source != cur.Source || o.ExternalID != cur.ExternalID)
	})
	suspend := last && cur.Status == identity.LinkActive && r.in.src.Config.OnGone == GoneSuspend &&
		acc.Status != identity.StatusSuspended && acc.Status.Live()
	cur.Attributes = cloneAttrs(cur.Attributes)
	delete(cur.Attributes, snapSuspendedFrom)
	if suspend {
		cur.Attributes[snapSuspendedFrom] = []string{string(acc.Status)}
		changes = append(changes, Change{Op: "suspend", Entry: name, AccountID: acc.ID,
			Fields: []FieldChange{{"status", string(acc.Status), string(identity.StatusSuspended)}}})
	}
	if r.opts.DryRun {
		return changes, nil
	}
	ev := identity.EventLinkGone
	if remove {
		ev = identity.EventLinkRemoved
		changes[0].Op = "remove"
		if err := tx.Links().Delete(ctx, cur.Source, cur.ExternalID); err != nil {
			return nil, err
		}
	} else {
		cur.Status = identity.LinkGone
		if err := tx.Links().Update(ctx, &cur); err != nil {
			return nil, err
		}
	}
	d := EventData{Source: cur.Source, ExternalID: cur.ExternalID, Name: name}
	if err := tx.Record(ctx, store.Event{Type: ev, Actor: r.opts.Actor, AccountID: acc.ID, Data: d}); err != nil {
		return nil, err
	}
	if suspend {
		acc.Status = identity.StatusSuspended
		if err := tx.Accounts().Update(ctx, &acc); err != nil {
			return nil, err
		}
		if _, err := tx.Tokens().Revoke(ctx, acc.ID, r.in.now()); err != nil {
			return nil, err
		}
		if err := tx.Record(ctx, store.Event{Type: identity.EventAccountSuspended, Actor: r.opts.Actor, AccountID: acc.ID,
			Data: map[string]string{"reason": "source_gone", "source": cur.Source, "external_id": cur.ExternalID}}); err != nil {
			return nil, err
		}
	}
	return changes, nil
}
