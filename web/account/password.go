package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/flows/activation"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// passwordData is the password form.
type passwordData struct {
	msgs
	CSRFField string
	Paths     paths
	// Text says where the password is (local, a directory); Can whether
	// the form is shown.
	Text string
	Can  bool
	// Error says why the form was refused; ErrorCurrent and ErrorNew
	// which field it is about.
	Error        string
	ErrorCurrent bool
	ErrorNew     bool
	Rules        string
	MinLength    int
}

// errNoPassword: the account has no password canonid can change (it logs
// in through an upstream provider only).
var errNoPassword = errors.New("the account has no password to change here")

// minLength is the least number of characters of a new password.
func (h *Handler) minLength() int { return max(h.policy.MinLength, authn.MinPasswordChars) }

// getPassword shows the form.
func (h *Handler) getPassword(c *gin.Context) {
	m := h.msgs(c)
	s, ok := h.session(c, PathPassword)
	if !ok {
		return
	}
	det, err := h.accounts.Get(c.Request.Context(), s.AccountID)
	if err != nil {
		h.fail(c, m, PathPassword, "read the account", err)
		return
	}
	h.renderPassword(c, http.StatusOK, m, det.Account, det.Links, func(*passwordData) {})
}

func (h *Handler) renderPassword(c *gin.Context, status int, m msgs, a identity.Account, links []identity.Link, set func(*passwordData)) {
	d := &passwordData{msgs: m, CSRFField: web.CSRFField, Paths: allPaths,
		Rules: m.T("password.rules", h.minLength()), MinLength: h.minLength()}
	d.Text, d.Can = h.passwordText(m, a, links)
	set(d)
	h.pages.RenderFlow(c, status, h.tpl.password, web.FlowView{Title: m.T("password.title"), Reload: PathPassword, Data: d})
}

// postPassword changes the password: the current one checked as the login
// page checks it (with a limit of wrong ones per account), the new one
// typed twice and checked against the policy; then the other sessions of
// the account end.
func (h *Handler) postPassword(c *gin.Context) {
	m := h.msgs(c)
	if !h.guardPost(c, m, PathPassword) {
		return
	}
	s, ok := h.session(c, PathPassword)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	det, err := h.accounts.Get(ctx, s.AccountID)
	if err != nil {
		h.fail(c, m, PathPassword, "read the account", err)
		return
	}
	a := det.Account
	refuse := func(status int, msg string, current bool) {
		h.renderPassword(c, status, m, a, det.Links, func(d *passwordData) {
			d.Error, d.ErrorCurrent, d.ErrorNew = msg, current, !current
		})
	}
	if _, can := h.passwordText(m, a, det.Links); !can {
		h.renderPassword(c, http.StatusConflict, m, a, det.Links, func(*passwordData) {})
		return
	}
	current, pw := c.PostForm(fieldCurrent), c.PostForm(fieldPassword)
	switch {
	case current == "" || pw == "":
		refuse(http.StatusBadRequest, m.T("password.error.missing"), current == "")
		return
	case pw != c.PostForm(fieldPasswordAgain):
		refuse(http.StatusBadRequest, m.T("password.error.mismatch"), false)
		return
	}
	// Wrong current passwords count, per account: a session left open
	// must not let someone try passwords at leisure.
	if ok, wait := h.passwordLimit.Take(s.AccountID); !ok {
		h.rateLimited(c, m, PathPassword, wait)
		return
	}
	err = h.pages.CheckPassword(ctx, s.AccountID, current)
	switch {
	case errors.Is(err, web.ErrInvalidCredentials):
		refuse(http.StatusBadRequest, m.T("password.error.current"), true)
		return
	case err != nil:
		h.passwordLimit.Give(s.AccountID)
		h.fail(c, m, PathPassword, "check the current password", err)
		return
	}
	h.passwordLimit.Give(s.AccountID)
	if pw == current {
		refuse(http.StatusBadRequest, m.T("password.error.same"), false)
		return
	}
	if msg := h.checkNew(m, a, pw); msg != "" {
		refuse(http.StatusBadRequest, msg, false)
		return
	}
	err = h.changePassword(ctx, m, s, a, det.Links, current, pw)
	switch {
	case errors.Is(err, connectors.ErrInvalidCredentials):
		refuse(http.StatusBadRequest, m.T("password.error.current"), true)
	case errors.Is(err, store.ErrConflict):
		refuse(http.StatusConflict, m.T("error.busy"), false)
	case err != nil:
		h.fail(c, m, PathPassword, "change the password", err)
	default:
		done(c, PathAccount, "password")
	}
}

// checkNew checks a new password against the policy, and that it contains
// neither the login nor the names; it returns why it is refused, "" when
// it is not.
func (h *Handler) checkNew(m msgs, a identity.Account, pw string) string {
	var pe *authn.PolicyError
	if err := h.policy.Check(pw); errors.As(err, &pe) {
		return policyMessage(m, pe)
	}
	var ae *activation.PasswordError
	if err := activation.CheckPassword(a, pw); errors.As(err, &ae) {
		if ae.Policy != nil {
			return policyMessage(m, ae.Policy)
		}
		return m.T("password.error.personal")
	}
	return ""
}

// policyMessage translates why the policy refuses a password.
func policyMessage(m msgs, pe *authn.PolicyError) string {
	switch pe.Rule {
	case authn.RuleTooShort:
		return m.T("password.error.too_short", max(pe.Need, authn.MinPasswordChars))
	case authn.RuleTooLong:
		return m.T("password.error.too_long", authn.MaxPasswordBytes)
	case authn.RuleRepeated:
		return m.T("password.error.repeated")
	case authn.RuleCommon:
		return m.T("password.error.common")
	case authn.RuleClasses:
		return m.T("password.error.classes", pe.Need)
	}
	return m.T("password.error.invalid_text")
}

// changePassword sets the new password where the account's password is:
// its local argon2id hash (authn.HashPassword), or its campus directory
// (Password Modify as the user, with the current password). Then, in one
// transaction: the hash (unless it changed meanwhile: store.ErrConflict),
// authn.EventPasswordSet, the other sessions of the account ended (each
// with its event) and the password_changed notice queued to the primary
// address.
func (h *Handler) changePassword(ctx context.Context, m msgs, s store.Session, a identity.Account, links []identity.Link,
	current, pw string) error {
	reason, phc := ReasonPasswordChanged, ""
	if a.PasswordHash != "" {
		var err error
		if phc, err = authn.HashPassword(pw); err != nil {
			return err
		}
	} else if l, ok := h.directoryOf(links); ok {
		if err := h.dirs[l.Source].ChangePassword(ctx, l.ExternalID, current, pw); err != nil {
			return fmt.Errorf("set the password at %s: %w", l.Source, err)
		}
		reason = "directory " + l.Source
	} else {
		return errNoPassword
	}
	return h.st.Update(ctx, func(tx store.Tx) error {
		now := h.now()
		acc, err := tx.Accounts().Get(ctx, a.ID)
		if err != nil {
			return err
		}
		if !acc.Status.Live() {
			return fmt.Errorf("account %s is merged: %w", a.ID, store.ErrNotFound)
		}
		if phc != "" {
			if acc.PasswordHash != a.PasswordHash {
				return fmt.Errorf("the password of %s changed meanwhile: %w", a.ID, store.ErrConflict)
			}
			acc.PasswordHash = phc
			if err := tx.Accounts().Update(ctx, &acc); err != nil {
				return err
			}
		}
		if err := tx.Record(ctx, store.Event{Type: authn.EventPasswordSet, Actor: actor(a.ID), AccountID: a.ID,
			RequestID: h.reqID(ctx), At: now, Data: authn.PasswordEventData{Reason: reason}}); err != nil {
			return err
		}
		if _, err := h.pages.RevokeOtherSessions(ctx, tx, a.ID, s.ID, web.RevokePasswordChanged); err != nil {
			return err
		}
		if h.mail == nil {
			return nil
		}
		to, err := noticeAddress(ctx, tx, acc)
		if err != nil || to == "" {
			return err
		}
		return h.mail.Enqueue(ctx, tx, notify.Message{To: to, Locale: m.Tag, Template: notify.TemplatePasswordChanged,
			AccountID: a.ID, Actor: actor(a.ID), RequestID: h.reqID(ctx),
			Data: map[string]string{"login": loginOf(acc), "changed_at": now.UTC().Format(time.RFC3339)}})
	})
}

// noticeAddress is where the notice of a change goes: the account's
// primary verified address, else its recovery address, else none.
func noticeAddress(ctx context.Context, tx store.Tx, a identity.Account) (string, error) {
	emails, err := tx.Emails().ListByAccount(ctx, a.ID)
	if err != nil {
		return "", err
	}
	for _, e := range emails {
		if e.Primary && e.Verified {
			return e.Address, nil
		}
	}
	if r := a.Attributes[identity.FieldRecoveryEmail]; len(r) > 0 {
		return r[0], nil
	}
	return "", nil
}

// loginOf names the account in the notice: its login, else its id.
func loginOf(a identity.Account) string {
	if a.Login != "" {
		return a.Login
	}
	return a.ID
}
