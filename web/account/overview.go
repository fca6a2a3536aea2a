package account

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/flows/emailmerge"
	"github.com/canonid/canonid/flows/mergekey"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// paths are the actions of the pages' forms and links.
type paths struct {
	Account, Emails, Primary, Delete, Directory, Password, Sessions string
	Revoke, RevokeOthers, KeyPage, MergePage, Logout                string
}

var allPaths = paths{
	Account: PathAccount, Emails: PathEmails, Primary: PathEmailPrimary, Delete: PathEmailDelete,
	Directory: PathDirectory, Password: PathPassword, Sessions: PathSessions,
	Revoke: PathSessionRevoke, RevokeOthers: PathSessionsRevokeOthers,
	KeyPage: mergekey.PathKeyPage, MergePage: mergekey.PathMergePage, Logout: web.PathLogout,
}

// overviewData is what PathAccount shows.
type overviewData struct {
	msgs
	CSRFField string
	Paths     paths
	// Who names the person: "Name (login)".
	Who string
	// Notice says what the last action did; Error why it was refused
	// (shown at the top of the page), AddError why the address typed in
	// AddValue was (shown at its field).
	Notice, Error      string
	AddError, AddValue string

	Profile []profileRow
	Emails  []emailRow
	// CanAddEmails: the e-mail flow is on (mail is configured).
	CanAddEmails bool
	LinkMinutes  int
	Identities   []identityRow
	// KeyActive is until when the account's merge key works, if it has
	// one.
	KeyActive   string
	MergedUsers []mergedRow
	Suggestions []suggestionRow
	HelpURL     string

	Charter       string
	Directory     string
	DirectoryYes  bool
	DirectoryNo   bool
	MailForward   string
	PasswordText  string
	CanChangePass bool
	Sessions      int
}

type profileRow struct{ Label, Value, Source string }

type emailRow struct {
	Address, Source string
	Primary         bool
	Verified        bool
	CanPrimary      bool
	CanDelete       bool
	// Managed says which source an address that cannot be removed here
	// comes from.
	Managed string
}

type identityRow struct{ Source, ExternalID, Status, Since string }

type mergedRow struct{ Name, When, How string }

type suggestionRow struct {
	ID        string
	Source    string
	Created   string
	Matches   string
	Addresses string
}

// getOverview shows "My account".
func (h *Handler) getOverview(c *gin.Context) {
	m := h.msgs(c)
	s, ok := h.session(c, PathAccount)
	if !ok {
		return
	}
	d, err := h.overview(c.Request.Context(), m, s.AccountID)
	if err != nil {
		h.fail(c, m, PathAccount, "read the account", err)
		return
	}
	if n := c.Query(paramDone); n != "" && m.Has("done."+n) {
		d.Notice = m.T("done." + n)
	}
	h.renderOverview(c, http.StatusOK, m, d)
}

func (h *Handler) renderOverview(c *gin.Context, status int, m msgs, d *overviewData) {
	h.pages.RenderFlow(c, status, h.tpl.overview, web.FlowView{Title: m.T("account.title"), Reload: PathAccount, Data: d})
}

// renderRefused shows "My account" again with why an action was refused.
func (h *Handler) renderRefused(c *gin.Context, status int, m msgs, accountID string, set func(*overviewData)) {
	d, err := h.overview(c.Request.Context(), m, accountID)
	if err != nil {
		h.fail(c, m, PathAccount, "read the account", err)
		return
	}
	set(d)
	h.renderOverview(c, status, m, d)
}

// overview reads everything PathAccount shows.
func (h *Handler) overview(ctx context.Context, m msgs, accountID string) (*overviewData, error) {
	det, err := h.accounts.Get(ctx, accountID)
	if err != nil {
		return nil, err
	}
	a := det.Account
	d := &overviewData{msgs: m, CSRFField: web.CSRFField, Paths: allPaths, Who: who(a, det.Emails),
		CanAddEmails: h.emails != nil, HelpURL: h.pages.HelpURL()}
	if h.emails != nil {
		d.LinkMinutes = int(h.emails.Config().LinkTTL.Minutes())
	}
	d.Profile = profile(m, a)
	for _, e := range det.Emails {
		d.Emails = append(d.Emails, emailView(m, e, h.emails != nil))
	}
	for _, l := range det.Links {
		st := m.T("link.active")
		if l.Status == identity.LinkGone {
			st = m.T("link.gone")
		}
		d.Identities = append(d.Identities, identityRow{Source: m.source(l.Source), ExternalID: l.ExternalID,
			Status: st, Since: m.When(l.CreatedAt)})
	}

	expires, active, err := h.keys.ActiveKey(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if active {
		d.KeyActive = m.When(expires)
	}
	users, err := h.keys.MergedUsers(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		d.MergedUsers = append(d.MergedUsers, mergedRow{Name: mergedName(u), When: m.When(u.MergedAt),
			How: m.T("merged.how." + string(u.Reason))})
	}
	if d.Suggestions, err = h.suggestions(ctx, m, a, det.Emails); err != nil {
		return nil, err
	}

	h.consents(m, a, d)
	d.PasswordText, d.CanChangePass = h.passwordText(m, a, det.Links)
	sessions, err := h.pages.ListSessions(ctx, accountID)
	if err != nil {
		return nil, err
	}
	d.Sessions = len(sessions)
	return d, nil
}

// who names the account for its owner: "Name (login)", or what it has of
// them (its primary address without a login).
func who(a identity.Account, emails []identity.Email) string {
	name := a.DisplayName
	if name == "" {
		name = strings.TrimSpace(a.GivenName + " " + a.FamilyName)
	}
	handle := a.Login
	for _, e := range emails {
		if handle == "" && e.Primary {
			handle = e.Address
		}
	}
	switch {
	case name != "" && handle != "":
		return name + " (" + handle + ")"
	case name != "":
		return name
	case handle != "":
		return handle
	}
	return a.ID
}

// profileFields are the fields of the profile, in order; the account's
// other attributes follow, by name.
var profileFields = []string{identity.FieldLogin, identity.FieldGivenName, identity.FieldFamilyName,
	identity.FieldDisplayName, identity.FieldBirthDate, identity.FieldPhone}

// profile lists the account's values with the source of each.
func profile(m msgs, a identity.Account) []profileRow {
	values := map[string]string{
		identity.FieldLogin: a.Login, identity.FieldGivenName: a.GivenName, identity.FieldFamilyName: a.FamilyName,
		identity.FieldDisplayName: a.DisplayName, identity.FieldBirthDate: m.Day(a.BirthDate), identity.FieldPhone: a.Phone,
	}
	var rows []profileRow
	add := func(field, value string) {
		if value == "" {
			return
		}
		rows = append(rows, profileRow{Label: m.field(field), Value: value, Source: m.source(a.Provenance[field])})
	}
	for _, f := range profileFields {
		add(f, values[f])
	}
	for _, f := range slices.Sorted(maps.Keys(a.Attributes)) {
		add(f, strings.Join(a.Attributes[f], ", "))
	}
	return rows
}

// field names a canonical field: its label, or the name itself.
func (m msgs) field(name string) string {
	if m.Has("field." + name) {
		return m.T("field." + name)
	}
	return name
}

// source names where a value or an identity comes from: "annuaire campus",
// "import ars-occitanie", "vous-même"...
func (m msgs) source(src string) string {
	kind, name, ok := strings.Cut(src, ":")
	switch {
	case src == "":
		return m.T("source.unknown")
	case !ok && m.Has("source."+src):
		return m.T("source." + src)
	case ok && m.Has("source."+kind):
		return m.T("source."+kind, name)
	}
	return src
}

// emailView is an address as the list shows it, with what may be done.
func emailView(m msgs, e identity.Email, editable bool) emailRow {
	r := emailRow{Address: e.Address, Source: m.source(e.Source), Primary: e.Primary, Verified: e.Verified}
	if !editable {
		return r
	}
	r.CanPrimary = e.Verified && !e.Primary
	switch {
	case e.Primary:
	case !e.Verified || e.Source == emailmerge.SourceSelf:
		r.CanDelete = true
	default:
		r.Managed = m.T("email.managed", m.source(e.Source))
	}
	return r
}

func mergedName(u mergekey.MergedUser) string {
	switch {
	case u.Login != "" && u.Name != "":
		return u.Login + " (" + u.Name + ")"
	case u.Login != "":
		return u.Login
	case u.Name != "":
		return u.Name
	}
	return u.AccountID
}

// suggestions are the accounts that look like the person's: what the
// duplicate detection found, with what matched, where the other account
// comes from and its addresses masked — enough to recognise it, not to
// learn about someone else's. Each pair is scored again with the person's
// verified addresses only: an address typed and not verified proves
// nothing, and would otherwise tell whether another account holds it.
func (h *Handler) suggestions(ctx context.Context, m msgs, me identity.Account, myEmails []identity.Email) ([]suggestionRow, error) {
	rep, err := h.accounts.Duplicates(ctx, me.ID)
	if err != nil {
		return nil, err
	}
	var verified []identity.Email
	for _, e := range myEmails {
		if e.Verified {
			verified = append(verified, e)
		}
	}
	var out []suggestionRow
	for _, s := range rep.Suggestions {
		other := s.B
		if other.ID == me.ID {
			other = s.A
		}
		var emails []identity.Email
		if err := h.st.View(ctx, func(tx store.Tx) error {
			var err error
			emails, err = tx.Emails().ListByAccount(ctx, other.ID)
			return err
		}); err != nil {
			return nil, err
		}
		score := identity.ScorePair(identity.Candidate{Account: me, Emails: verified}, identity.Candidate{Account: other, Emails: emails})
		if !identity.Suggest(score) {
			continue
		}
		var masked []string
		for _, e := range emails {
			masked = append(masked, maskAddress(e.Address))
		}
		out = append(out, suggestionRow{ID: other.ID, Source: m.source(mainSource(other)),
			Created: m.Day(other.CreatedAt.In(m.Location()).Format(time.DateOnly)),
			Matches: matches(m, score), Addresses: strings.Join(masked, ", ")})
	}
	return out, nil
}

// mainSource is the source most of an account's values come from.
func mainSource(a identity.Account) string {
	count := map[string]int{}
	for _, src := range a.Provenance {
		count[src]++
	}
	best := ""
	for _, src := range slices.Sorted(maps.Keys(count)) {
		if best == "" || count[src] > count[best] {
			best = src
		}
	}
	return best
}

// matches says in words what makes two accounts look alike.
func matches(m msgs, s identity.Score) string {
	var out []string
	for _, x := range s.Matches {
		if x.Conflict() {
			continue
		}
		label := m.T("match.national", x.Field)
		if m.Has("match." + x.Field) {
			label = m.T("match." + x.Field)
		}
		if !slices.Contains(out, label) {
			out = append(out, label)
		}
	}
	return strings.Join(out, ", ")
}

// maskAddress shows the first character of an address's local part and
// its domain: "c•••@perso.example".
func maskAddress(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return "•••"
	}
	r := []rune(local)
	if len(r) <= 1 {
		return "•@" + domain
	}
	return string(r[0]) + "•••@" + domain
}

// consents fills the consents section.
func (h *Handler) consents(m msgs, a identity.Account, d *overviewData) {
	if v := a.Consents.CharterVersion; v != "" {
		d.Charter = m.T("consent.charter", v, m.When(a.Consents.CharterAcceptedAt))
	} else {
		d.Charter = m.T("consent.charter.none")
	}
	switch v := a.Consents.DirectoryVisible; {
	case v == nil:
		d.Directory = m.T("consent.directory.unset")
	case *v:
		d.Directory, d.DirectoryYes = m.T("consent.directory.yes"), true
	default:
		d.Directory, d.DirectoryNo = m.T("consent.directory.no"), true
	}
	switch f := a.MailForward; {
	case f != nil && f.VerifiedAt.IsZero():
		d.MailForward = m.T("consent.forward.pending", f.Address)
	case f != nil && f.KeepCopy:
		d.MailForward = m.T("consent.forward.copy", f.Address)
	case f != nil:
		d.MailForward = m.T("consent.forward.nocopy", f.Address)
	case !a.Consents.MailForwardAnsweredAt.IsZero():
		d.MailForward = m.T("consent.forward.none")
	}
}

// passwordText says where the account's password is, and whether it can
// be changed here.
func (h *Handler) passwordText(m msgs, a identity.Account, links []identity.Link) (string, bool) {
	if a.PasswordHash != "" {
		return m.T("password.local"), true
	}
	if l, ok := h.directoryOf(links); ok {
		return m.T("password.directory", m.source(l.Source)), true
	}
	return m.T("password.none"), false
}

// directoryOf returns the account's active link to a directory that sets
// passwords, if any.
func (h *Handler) directoryOf(links []identity.Link) (identity.Link, bool) {
	for _, l := range links {
		if _, ok := h.dirs[l.Source]; ok && l.Status == identity.LinkActive {
			return l, true
		}
	}
	return identity.Link{}, false
}

// --- e-mail addresses ------------------------------------------------------

// postAddEmail adds an address and mails it the verification link of
// flows/emailmerge.
func (h *Handler) postAddEmail(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathAccount) {
		return
	}
	s, ok := h.session(c, PathAccount)
	if !ok {
		return
	}
	addr := strings.TrimSpace(c.PostForm(fieldAddress))
	refuse := func(status int, msg string) {
		h.renderRefused(c, status, m, s.AccountID, func(d *overviewData) { d.AddError, d.AddValue = msg, addr })
	}
	if addr == "" {
		refuse(http.StatusBadRequest, m.T("email.error.empty"))
		return
	}
	if ok, wait := h.sendLimit.Take(s.AccountID); !ok {
		h.rateLimited(c, m, PathAccount, wait)
		return
	}
	_, err := h.emails.AddAddress(c.Request.Context(), s.AccountID, addr, m.Tag)
	if err != nil {
		h.sendLimit.Give(s.AccountID) // no mail went out
	}
	switch {
	case errors.Is(err, emailmerge.ErrInvalidAddress):
		refuse(http.StatusBadRequest, m.T("email.error.invalid"))
	case errors.Is(err, emailmerge.ErrAlreadyVerified):
		refuse(http.StatusConflict, m.T("email.error.verified"))
	case err != nil:
		h.fail(c, m, PathAccount, "add an address", err)
	default:
		done(c, PathAccount, "email_added")
	}
}

// postEmailPrimary makes a verified address primary.
func (h *Handler) postEmailPrimary(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathAccount) {
		return
	}
	s, ok := h.session(c, PathAccount)
	if !ok {
		return
	}
	err := h.emails.SetPrimary(c.Request.Context(), s.AccountID, c.PostForm(fieldAddress))
	h.emailResult(c, m, s.AccountID, err, "email_primary")
}

// postEmailDelete removes an address: a pending one, or a verified one the
// person added.
func (h *Handler) postEmailDelete(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathAccount) {
		return
	}
	s, ok := h.session(c, PathAccount)
	if !ok {
		return
	}
	err := h.emails.Remove(c.Request.Context(), s.AccountID, c.PostForm(fieldAddress))
	h.emailResult(c, m, s.AccountID, err, "email_removed")
}

// emailResult answers a change of an address: the page with the notice,
// or with why it was refused.
func (h *Handler) emailResult(c *gin.Context, m msgs, accountID string, err error, notice string) {
	refuse := func(status int, key string) {
		h.renderRefused(c, status, m, accountID, func(d *overviewData) { d.Error = m.T(key) })
	}
	switch {
	case err == nil:
		done(c, PathAccount, notice)
	case errors.Is(err, store.ErrNotFound):
		refuse(http.StatusNotFound, "email.error.unknown")
	case errors.Is(err, emailmerge.ErrPrimary):
		refuse(http.StatusConflict, "email.error.primary")
	case errors.Is(err, emailmerge.ErrManaged):
		refuse(http.StatusConflict, "email.error.managed")
	case errors.Is(err, emailmerge.ErrNotVerified):
		refuse(http.StatusConflict, "email.error.unverified")
	case errors.Is(err, store.ErrConflict):
		refuse(http.StatusConflict, "error.busy")
	default:
		h.fail(c, m, PathAccount, "change an address", err)
	}
}

// --- consents --------------------------------------------------------------

// postDirectory records whether the person appears in the public
// directory.
func (h *Handler) postDirectory(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathAccount) {
		return
	}
	s, ok := h.session(c, PathAccount)
	if !ok {
		return
	}
	var visible bool
	switch c.PostForm(fieldVisible) {
	case "yes":
		visible = true
	case "no":
	default:
		h.renderRefused(c, http.StatusBadRequest, m, s.AccountID, func(d *overviewData) { d.Error = m.T("consent.directory.required") })
		return
	}
	ctx := c.Request.Context()
	err := h.st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Accounts().Get(ctx, s.AccountID)
		if err != nil {
			return err
		}
		before := a.Consents.DirectoryVisible
		if before != nil && *before == visible {
			return nil // nothing changes, nothing to record
		}
		a.Consents.DirectoryVisible = &visible
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventDirectoryChanged, Actor: actor(a.ID), AccountID: a.ID,
			RequestID: h.reqID(ctx), At: h.now(), Data: map[string]any{"visible": visible, "before": before}})
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		h.renderRefused(c, http.StatusConflict, m, s.AccountID, func(d *overviewData) { d.Error = m.T("error.busy") })
	case err != nil:
		h.fail(c, m, PathAccount, "change the directory consent", err)
	default:
		done(c, PathAccount, "directory")
	}
}
