package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/connectors/oidcup"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Logins through an upstream OpenID provider (connectors/oidcup).
//
// GET /login/upstream/<name>?request=ID begins the login: the connector's
// Pending and the request id go, sealed, into the canonid_upstream cookie
// (Path /login/upstream/<name>, 10 minutes), and the browser goes to the
// provider. The provider sends it back to /login/upstream/<name>/callback,
// which finishes the login, finds the account (the link, or one verified
// e-mail address when the connector allows it) and logs in as the password
// form does. An identity linked to no account is kept, sealed, in the
// canonid_upstream_link cookie while the person proves which account is
// theirs by logging in to it with their password: that login links it.

// UpstreamConnector is an upstream OpenID provider people log in through;
// *oidcup.Connector is one.
type UpstreamConnector interface {
	// Name is the connector's name, used in the paths.
	Name() string
	// DisplayName is the provider's label for people.
	DisplayName() string
	// Source is the link source of its identities, "oidc:<name>".
	Source() string
	// LinkByVerifiedEmail says whether a first login may be linked to the
	// account holding the identity's verified e-mail address.
	LinkByVerifiedEmail() bool
	// Begin returns the provider's authorization URL and the Pending to
	// keep until the callback.
	Begin(opts ...oidcup.AuthOption) (authURL string, p oidcup.Pending, err error)
	// Finish completes the login p with the callback's query.
	Finish(ctx context.Context, p oidcup.Pending, query url.Values) (oidcup.Identity, error)
}

var _ UpstreamConnector = (*oidcup.Connector)(nil)

// Routes of upstream logins.
const (
	// PathUpstream is the prefix of the upstream routes: GET
	// PathUpstream/<name> starts a login, GET PathUpstream/<name>/callback
	// is the redirect URI registered at the provider.
	PathUpstream = "/login/upstream"
	// PathLinkCancel drops the upstream identity waiting to be linked.
	PathLinkCancel = "/login/link/cancel"
)

// Cookies of upstream logins.
const (
	// upstreamCookie holds a login begun at a provider: the connector's
	// Pending and the authorization request id.
	upstreamCookie = "canonid_upstream"
	// linkCookie holds an upstream identity linked to no account, until
	// the person logs in to theirs.
	linkCookie = "canonid_upstream_link"
	// linkTTL bounds how long the identity waits for that login.
	linkTTL = 10 * time.Minute
	// maxCookieValue keeps a cookie, with its name and attributes, within
	// the 4096 bytes browsers store.
	maxCookieValue = 3800
)

// Events of upstream logins: identity.EventAccountLinked ("account.linked")
// when an upstream identity is linked to an account, with linkEventData.
// linkBy* say how the account was found.
const (
	linkByEmail    = "email"    // the identity's verified address is the account's
	linkByPassword = "password" // the person logged in to the account
)

// upstreamName is what New accepts as a connector name: the connectors'
// own rule, safe in a path and a cookie path.
var upstreamName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// UpstreamCallbackURL is the redirect URI to register at the provider of
// connector name (and to give oidcup.New): <public_url>/login/upstream/<name>/callback.
func UpstreamCallbackURL(publicURL, name string) string {
	return strings.TrimRight(publicURL, "/") + upstreamPath(name) + "/callback"
}

// upstreamPath is the start route of connector name.
func upstreamPath(name string) string { return PathUpstream + "/" + name }

// newSealer returns the AEAD that seals the upstream cookies: AES-256-GCM
// with random nonces under a 32-byte key (New derives it from the secret:
// HMAC-SHA256(Secret, "upstream-cookie")).
func newSealer(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// sealed is a cookie's plaintext: its expiry (Unix seconds) and content.
type sealed struct {
	Exp int64           `json:"exp"`
	V   json.RawMessage `json:"v"`
}

// seal encrypts and authenticates v until exp, bound to the cookie's name
// (additional data), so that a value of one cookie is worthless in
// another.
func (h *Handler) seal(name string, exp time.Time, v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	pt, err := json.Marshal(sealed{Exp: exp.Unix(), V: raw})
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(h.sealer.Seal(nil, nil, pt, []byte(name))), nil
}

// unseal decodes into v the content of a value seal made for the cookie
// name, if it is authentic and not expired.
func (h *Handler) unseal(name, value string, v any) bool {
	ct, err := b64.DecodeString(value)
	if err != nil {
		return false
	}
	pt, err := h.sealer.Open(nil, nil, ct, []byte(name))
	if err != nil {
		return false
	}
	var s sealed
	if err := json.Unmarshal(pt, &s); err != nil || !h.now().Before(time.Unix(s.Exp, 0)) {
		return false
	}
	return json.Unmarshal(s.V, v) == nil
}

// setCookie sets a cookie of the upstream logins: HttpOnly, SameSite=Lax
// (the provider's redirect back is a cross-site navigation), Secure over
// https. A negative maxAge clears it.
func (h *Handler) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	ck := &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: int(maxAge / time.Second),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		ck.Value, ck.MaxAge = "", -1
	}
	http.SetCookie(w, ck)
}

// upstreamStart is the content of the canonid_upstream cookie.
type upstreamStart struct {
	Connector string `json:"c"`
	Request   string `json:"r,omitempty"`
	// Next is where to go once logged in, without a request (ParamNext).
	Next    string         `json:"n,omitempty"`
	Pending oidcup.Pending `json:"p"`
}

// pendingIdentity is the content of the canonid_upstream_link cookie: an
// identity the provider vouched for, linked to no account yet.
type pendingIdentity struct {
	Connector string `json:"c"`
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	// Who names the identity on the banner: its address, name or subject.
	Who string `json:"who"`
	// Attributes are the link's snapshot (oidcup.Identity.Entry).
	Attributes map[string][]string `json:"a,omitempty"`
}

// ctxLink holds, in the Gin context, the pending identity this response
// sets, which the request's cookies do not have yet.
const ctxLink = "web.link"

// upstreamConnector returns the connector named by the path, rendering a
// 404 page when there is none.
func (h *Handler) upstreamConnector(c *gin.Context) (UpstreamConnector, bool) {
	conn, ok := h.conns[c.Param("name")]
	if !ok {
		loc := h.locale(c, nil)
		h.renderMessage(c, http.StatusNotFound, loc, message{
			Title:      loc.T("upstream.unknown.title"),
			Paragraphs: []string{loc.T("upstream.unknown.body")},
			Links:      []link{{Href: PathLogin, Label: loc.T("upstream.back")}},
		})
	}
	return conn, ok
}

// upstreamPrompt asks the provider to authenticate the person again when
// the client asked canonid to (prompt=login, or a max_age: canonid cannot
// tell how old the provider's session is), or to let them choose an
// account (prompt=select_account).
func upstreamPrompt(lr *LoginRequest) []oidcup.AuthOption {
	switch {
	case lr == nil:
		return nil
	case slices.Contains(lr.Prompt, "login") || lr.MaxAge != nil:
		return []oidcup.AuthOption{oidcup.Prompt("login")}
	case slices.Contains(lr.Prompt, "select_account"):
		return []oidcup.AuthOption{oidcup.Prompt("select_account")}
	}
	return nil
}

// getUpstreamStart begins a login at the provider.
func (h *Handler) getUpstreamStart(c *gin.Context) {
	conn, ok := h.upstreamConnector(c)
	if !ok {
		return
	}
	lr, ok := h.describe(c, c.Query(paramRequest))
	if !ok {
		return
	}
	loc := h.locale(c, lr)
	authURL, p, err := conn.Begin(upstreamPrompt(lr)...)
	if err != nil {
		h.renderError(c, loc, "begin upstream login", err)
		return
	}
	st := upstreamStart{Connector: conn.Name(), Pending: p}
	if lr != nil {
		st.Request = lr.ID
	} else {
		st.Next = nextOf(c)
	}
	value, err := h.seal(upstreamCookie, h.now().Add(oidcup.PendingTTL), st)
	if err != nil {
		h.renderError(c, loc, "seal upstream login", err)
		return
	}
	h.setCookie(c.Writer, upstreamCookie, value, upstreamPath(conn.Name()), oidcup.PendingTTL)
	c.Redirect(http.StatusSeeOther, authURL)
}

// takeStart reads the login begun in this browser with conn and clears
// its cookie: a callback is good once.
func (h *Handler) takeStart(c *gin.Context, conn UpstreamConnector) (upstreamStart, bool) {
	ck, err := c.Request.Cookie(upstreamCookie)
	if err != nil {
		return upstreamStart{}, false
	}
	h.setCookie(c.Writer, upstreamCookie, "", upstreamPath(conn.Name()), -1)
	var st upstreamStart
	if !h.unseal(upstreamCookie, ck.Value, &st) || st.Connector != conn.Name() {
		return upstreamStart{}, false
	}
	return st, true
}

// getUpstreamCallback finishes a login at the provider and logs the
// person in to the account the identity is linked to, links it by a
// verified address, or asks them to log in to their account to link it.
func (h *Handler) getUpstreamCallback(c *gin.Context) {
	conn, ok := h.upstreamConnector(c)
	if !ok {
		return
	}
	// Failed callbacks count against the address, as failed logins do.
	ipKey := c.ClientIP()
	if ok, wait := h.ipLimit.Take(ipKey); !ok {
		h.renderRateLimited(c, h.locale(c, nil), nil, wait)
		return
	}
	st, ok := h.takeStart(c, conn)
	if !ok {
		h.renderRestart(c, h.locale(c, nil), nil, conn)
		return
	}
	// The callback's own URL is the provider's: the return path is the
	// one kept with the login begun.
	c.Set(ctxNext, st.Next)
	lr, ok := h.describe(c, st.Request)
	if !ok {
		return
	}
	loc := h.locale(c, lr)
	q := c.Request.URL.Query()
	if !q.Has("code") && !q.Has("error") {
		h.renderRestart(c, loc, lr, conn)
		return
	}
	ctx := c.Request.Context()
	id, err := conn.Finish(ctx, st.Pending, q)
	if err != nil {
		h.renderUpstreamFailure(c, loc, lr, conn, err)
		return
	}
	h.ipLimit.Give(ipKey)

	accountID, link, err := h.findUpstreamAccount(ctx, conn, id)
	switch {
	case errors.Is(err, errIssuerChanged):
		h.renderUpstreamError(c, loc, lr, conn, "find the account of an upstream identity", err)
		return
	case err != nil:
		h.renderError(c, loc, "find the account of an upstream identity", err)
		return
	}
	if accountID == "" {
		h.askToLink(c, loc, lr, conn, id)
		return
	}
	if _, err := c.Request.Cookie(linkCookie); err == nil {
		// An identity left waiting by an earlier try is not this one.
		h.clearLinkCookie(c.Writer)
	}
	n := newSession{accountID: accountID, amr: upstreamAMR(id), upstream: conn.Source(), link: link}
	h.logIn(c, loc, lr, n)
}

// logIn opens the session of n, replacing the browser's, and completes the
// request (or shows who is logged in when there is none); it renders the
// gates and a refused link.
func (h *Handler) logIn(c *gin.Context, loc locale, lr *LoginRequest, n newSession) {
	if lr != nil {
		n.clientID = lr.ClientID
	}
	if old, ok := h.Session(c.Request); ok {
		n.replaces = old
	}
	cookie, sess, err := h.createSession(c.Request.Context(), n)
	if err != nil {
		var gate *GateError
		var taken *linkTakenError
		switch {
		case errors.As(err, &gate):
			h.renderGate(c, loc, lr, gate)
		case errors.As(err, &taken):
			h.renderLinkTaken(c, loc, lr, taken)
		default:
			h.renderError(c, loc, "create login session", err)
		}
		return
	}
	h.setSessionCookie(c.Writer, cookie)
	if lr == nil {
		// Back where the person was going, or the page that shows who
		// is logged in.
		next := nextOf(c)
		if next == "" {
			next = PathLogin
		}
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	h.complete(c, loc, lr, n.accountID, sess.AuthTime, n.amr)
}

// errIssuerChanged: the identity's link was made with another issuer than
// the connector's (its configuration changed): the same subject is not the
// same person.
var errIssuerChanged = errors.New("the link's issuer is not the provider's")

// findUpstreamAccount returns the account of an upstream identity: the
// live account its link leads to (a merged account's survivor). Without a
// link, when the connector allows it and the provider says the address is
// verified, the account holding that verified address, with the link to
// create. "" when neither finds one.
func (h *Handler) findUpstreamAccount(ctx context.Context, conn UpstreamConnector, id oidcup.Identity) (string, *newLink, error) {
	var accountID string
	var link *newLink
	err := h.store.View(ctx, func(tx store.Tx) error {
		l, err := tx.Links().Get(ctx, conn.Source(), id.Subject)
		switch {
		case err == nil:
			// The link's source is the connector's name: if the connector
			// now names another issuer, the same sub is not the same person.
			if iss := l.Attributes["iss"]; len(iss) > 0 && iss[0] != id.Issuer {
				return fmt.Errorf("%w: link %s/%s was made with issuer %q, the provider is now %q", errIssuerChanged, l.Source, l.ExternalID, iss[0], id.Issuer)
			}
			a, err := tx.Accounts().Resolve(ctx, l.AccountID)
			if err != nil {
				return fmt.Errorf("account %s of link %s/%s: %w", l.AccountID, l.Source, l.ExternalID, err)
			}
			accountID = a.ID
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if !conn.LinkByVerifiedEmail() || !id.EmailVerified || id.Email == "" {
			return nil
		}
		e, err := tx.Emails().FindVerified(ctx, id.Email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		a, err := tx.Accounts().Resolve(ctx, e.AccountID)
		if err != nil {
			return fmt.Errorf("account %s of verified address %s: %w", e.AccountID, e.Address, err)
		}
		accountID = a.ID
		link = &newLink{
			source: conn.Source(), externalID: id.Subject, name: id.Issuer + " " + id.Subject,
			attributes: id.Entry().Attributes, actor: "connector:" + conn.Source(), by: linkByEmail,
		}
		return nil
	})
	return accountID, link, err
}

// askToLink keeps an identity linked to no account in the link cookie and
// shows the login form, which says what logging in will do.
func (h *Handler) askToLink(c *gin.Context, loc locale, lr *LoginRequest, conn UpstreamConnector, id oidcup.Identity) {
	p := pendingIdentity{
		Connector: conn.Name(), Issuer: id.Issuer, Subject: id.Subject,
		Who: identityLabel(id), Attributes: id.Entry().Attributes,
	}
	exp := h.now().Add(linkTTL)
	value, err := h.seal(linkCookie, exp, p)
	if err == nil && len(value) > maxCookieValue {
		// Too many claims for a cookie: keep the ones about the person.
		p.Attributes = essentialAttributes(p.Attributes)
		value, err = h.seal(linkCookie, exp, p)
	}
	if err == nil && len(value) > maxCookieValue {
		p.Attributes = nil
		value, err = h.seal(linkCookie, exp, p)
	}
	if err != nil {
		h.renderError(c, loc, "seal upstream identity", err)
		return
	}
	h.setCookie(c.Writer, linkCookie, value, "/", linkTTL)
	c.Set(ctxLink, p)
	hint := ""
	if lr != nil {
		hint = lr.LoginHint
	}
	h.renderLogin(c, http.StatusOK, loc, lr, hint, "")
}

// essentialAttributes keeps the claims that name the person.
func essentialAttributes(attrs map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, k := range []string{"iss", "sub", "email", "email_verified", "name", "given_name", "family_name", "preferred_username"} {
		if v, ok := attrs[k]; ok {
			out[k] = v
		}
	}
	return out
}

// maxLabel bounds how much of a claim the banner shows.
const maxLabel = 100

// identityLabel names an upstream identity for its owner: its address,
// else its name or username, else its subject.
func identityLabel(id oidcup.Identity) string {
	s := id.Email
	for _, k := range []string{"name", "preferred_username"} {
		if s == "" {
			s, _ = id.Claims[k].(string)
		}
	}
	if s == "" {
		s = id.Subject
	}
	if utf8.RuneCountInString(s) > maxLabel {
		s = string([]rune(s)[:maxLabel]) + "…"
	}
	return s
}

// pendingLink returns the identity waiting in this browser to be linked,
// and its connector, if any.
func (h *Handler) pendingLink(c *gin.Context) (pendingIdentity, UpstreamConnector, bool) {
	var p pendingIdentity
	if v, ok := c.Get(ctxLink); ok {
		p = v.(pendingIdentity)
	} else {
		ck, err := c.Request.Cookie(linkCookie)
		if err != nil || !h.unseal(linkCookie, ck.Value, &p) {
			return pendingIdentity{}, nil, false
		}
	}
	conn, ok := h.conns[p.Connector]
	if !ok || p.Subject == "" {
		return pendingIdentity{}, nil, false
	}
	return p, conn, true
}

// linking reports whether an identity waits in this browser to be linked.
func (h *Handler) linking(c *gin.Context) bool {
	_, _, ok := h.pendingLink(c)
	return ok
}

// linkFor is the link a password login in this browser creates, nil when
// no identity waits.
func (h *Handler) linkFor(c *gin.Context, accountID string) *newLink {
	p, conn, ok := h.pendingLink(c)
	if !ok {
		return nil
	}
	return &newLink{
		source: conn.Source(), externalID: p.Subject, name: p.Issuer + " " + p.Subject,
		attributes: p.Attributes, actor: "account:" + accountID, by: linkByPassword,
	}
}

func (h *Handler) clearLinkCookie(w http.ResponseWriter) {
	h.setCookie(w, linkCookie, "", "/", -1)
}

// postLinkCancel drops the identity waiting to be linked and goes back to
// the login page.
func (h *Handler) postLinkCancel(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxForm)
	if !h.guardPost(c) {
		return
	}
	h.clearLinkCookie(c.Writer)
	back := PathLogin
	if id := c.PostForm(paramRequest); id != "" {
		back += "?" + url.Values{paramRequest: {id}}.Encode()
	} else {
		back = WithNext(back, nextOf(c))
	}
	c.Redirect(http.StatusSeeOther, back)
}

// linkBanner is what the login form says while an identity waits to be
// linked.
type linkBanner struct {
	Lead       string
	Paragraphs []string
	Cancel     string
	Action     string
}

func (h *Handler) linkBanner(c *gin.Context, loc locale) *linkBanner {
	p, conn, ok := h.pendingLink(c)
	if !ok {
		return nil
	}
	name := conn.DisplayName()
	return &linkBanner{
		Lead:       loc.T("upstream.link.lead", name, p.Who),
		Paragraphs: []string{loc.T("upstream.link.once", name), loc.T("upstream.link.noaccount", name)},
		Cancel:     loc.T("upstream.link.cancel"),
		Action:     PathLinkCancel,
	}
}

// newLink is a link to create with a session (newSession.link).
type newLink struct {
	source, externalID string
	// name locates the identity for people: "<issuer> <subject>".
	name       string
	attributes map[string][]string
	// actor and by are recorded with the event.
	actor, by string
}

// linkEventData is the payload of the account.linked event of an upstream
// identity: ingest.EventData's shape.
type linkEventData struct {
	Source     string `json:"source"`
	ExternalID string `json:"external_id"`
	Name       string `json:"name,omitempty"`
	By         string `json:"by"`
}

// linkTakenError: the upstream identity is linked to another account than
// the one logging in.
type linkTakenError struct {
	Source, ExternalID string
	AccountID, Owner   string
}

func (e *linkTakenError) Error() string {
	return fmt.Sprintf("link %s/%s belongs to account %s, not %s", e.Source, e.ExternalID, e.Owner, e.AccountID)
}

// createLink links l to accountID in tx and records it. A link to the same
// account already is fine; to another account it is a *linkTakenError.
func (h *Handler) createLink(ctx context.Context, tx store.Tx, accountID string, l newLink, now time.Time) error {
	cur, err := tx.Links().Get(ctx, l.source, l.externalID)
	switch {
	case err == nil:
		owner, err := tx.Accounts().Resolve(ctx, cur.AccountID)
		if err != nil {
			return fmt.Errorf("account %s of link %s/%s: %w", cur.AccountID, cur.Source, cur.ExternalID, err)
		}
		if owner.ID == accountID {
			return nil
		}
		return &linkTakenError{Source: l.source, ExternalID: l.externalID, AccountID: accountID, Owner: owner.ID}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	link := identity.Link{
		Source: l.source, ExternalID: l.externalID, AccountID: accountID,
		Status: identity.LinkActive, Attributes: l.attributes,
	}
	if link.Attributes == nil {
		link.Attributes = map[string][]string{}
	}
	if err := tx.Links().Create(ctx, &link); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			// Another transaction linked it since the read: run again,
			// and decide on its link.
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		return err
	}
	return tx.Record(ctx, store.Event{
		Type: identity.EventAccountLinked, Actor: l.actor, AccountID: accountID,
		RequestID: h.requestID(ctx), At: now,
		Data: linkEventData{Source: l.source, ExternalID: l.externalID, Name: l.name, By: l.by},
	})
}

// amrFederated is the authentication method of a login through an
// upstream provider. RFC 8176 registers none for it; "fed" is the value
// Microsoft Entra ID uses for the same thing.
const amrFederated = "fed"

// rfc8176 are the values registered by RFC 8176.
var rfc8176 = []string{"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin",
	"pwd", "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"}

// upstreamAMR is the amr of a login through an upstream provider: "fed",
// then the registered values of the provider's own amr claim (what the
// person did there: "pwd", "mfa", "otp"...).
func upstreamAMR(id oidcup.Identity) []string {
	amr := []string{amrFederated}
	vs, _ := id.Claims["amr"].([]any)
	for _, v := range vs {
		if s, ok := v.(string); ok && slices.Contains(rfc8176, s) && !slices.Contains(amr, s) {
			amr = append(amr, s)
		}
	}
	return amr
}

// upstreamLinks are the links of an upstream's error pages: start again
// through the provider, or log in with a password.
func (h *Handler) upstreamLinks(loc locale, lr *LoginRequest, conn UpstreamConnector) []link {
	request, login := "", PathLogin
	if lr != nil {
		request = lr.ID
		login += "?" + url.Values{paramRequest: {lr.ID}}.Encode()
	}
	return []link{
		{Href: upstreamHref(upstreamPath(conn.Name()), request), Label: loc.T("upstream.again", conn.DisplayName())},
		{Href: login, Label: loc.T("upstream.back")},
	}
}

// renderRestart answers a callback that belongs to no login begun in this
// browser (no cookie, a forged or tampered one, another login's state) or
// to one begun too long ago: 400, start again.
func (h *Handler) renderRestart(c *gin.Context, loc locale, lr *LoginRequest, conn UpstreamConnector) {
	h.renderMessageFor(c, http.StatusBadRequest, loc, lr, message{
		Title:      loc.T("upstream.restart.title"),
		Paragraphs: []string{loc.T("upstream.restart.body", conn.DisplayName())},
		Links:      h.upstreamLinks(loc, lr, conn),
	})
}

// renderUpstreamFailure renders an error of Finish: a stale or forged
// callback (400, start again), the provider refusing the login (403, with
// its error, escaped by the template), or a failure of the provider or
// of its tokens (502, with the reference to quote).
func (h *Handler) renderUpstreamFailure(c *gin.Context, loc locale, lr *LoginRequest, conn UpstreamConnector, err error) {
	ctx := c.Request.Context()
	var ue *oidcup.UpstreamError
	switch {
	case errors.Is(err, oidcup.ErrStateMismatch), errors.Is(err, oidcup.ErrPendingExpired):
		h.log.InfoContext(ctx, "upstream login: stale callback", "connector", conn.Name(), "error", err)
		h.renderRestart(c, loc, lr, conn)
	case errors.As(err, &ue) && ue.Endpoint == "authorization":
		h.log.InfoContext(ctx, "upstream login refused", "connector", conn.Name(), "error", err)
		ps := []string{loc.T("upstream.refused.code", ue.Code)}
		if ue.Description != "" {
			ps = append(ps, loc.T("upstream.refused.description", ue.Description))
		}
		ps = append(ps, loc.T("upstream.refused.help"))
		h.renderMessageFor(c, http.StatusForbidden, loc, lr, message{
			Title:      loc.T("upstream.refused.title", conn.DisplayName()),
			Paragraphs: ps,
			Links:      h.upstreamLinks(loc, lr, conn),
		})
	default:
		h.renderUpstreamError(c, loc, lr, conn, "finish upstream login", err)
	}
}

// renderUpstreamError logs err and renders the generic failure of a login
// through conn: 502, with the reference to quote.
func (h *Handler) renderUpstreamError(c *gin.Context, loc locale, lr *LoginRequest, conn UpstreamConnector, what string, err error) {
	h.log.ErrorContext(c.Request.Context(), "upstream login: "+what+" failed", "connector", conn.Name(), "error", err)
	ps := []string{loc.T("upstream.failed.body", conn.DisplayName())}
	if id := h.referenceOf(c); id != "" {
		ps = append(ps, loc.T("error.ref", id))
	}
	h.renderMessageFor(c, http.StatusBadGateway, loc, lr, message{
		Title:      loc.T("upstream.failed.title", conn.DisplayName()),
		Paragraphs: ps,
		Links:      h.upstreamLinks(loc, lr, conn),
	})
}

// renderLinkTaken refuses to link an identity linked to another account
// meanwhile: 409. Nothing was written, no session opened.
func (h *Handler) renderLinkTaken(c *gin.Context, loc locale, lr *LoginRequest, e *linkTakenError) {
	h.log.WarnContext(c.Request.Context(), "upstream identity linked to another account", "error", e)
	h.clearLinkCookie(c.Writer)
	name := e.Source
	for _, conn := range h.conns {
		if conn.Source() == e.Source {
			name = conn.DisplayName()
		}
	}
	back := PathLogin
	if lr != nil {
		back += "?" + url.Values{paramRequest: {lr.ID}}.Encode()
	}
	h.renderMessageFor(c, http.StatusConflict, loc, lr, message{
		Title:      loc.T("upstream.taken.title"),
		Paragraphs: []string{loc.T("upstream.taken.body", name), loc.T("upstream.taken.help")},
		Links:      []link{{Href: back, Label: loc.T("upstream.back")}},
	})
}
