package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/connectors"
)

// Authenticate finds the one person matched by user_filter whose login
// attribute (uid or mail by default) equals login, and binds as that
// person with password on a fresh connection. An empty password, no
// match, several matches and a wrong password all give
// connectors.ErrInvalidCredentials; an unauthenticated bind is never
// attempted.
func (c *Connector) Authenticate(ctx context.Context, login, password string) (connectors.Entry, error) {
	if login == "" || password == "" {
		return connectors.Entry{}, connectors.ErrInvalidCredentials
	}
	conn, err := c.connect(ctx)
	if err != nil {
		return connectors.Entry{}, err
	}
	defer conn.Close()

	var filter strings.Builder
	filter.WriteString("(&" + c.cfg.UserFilter + "(|")
	escaped := ldap.EscapeFilter(login)
	for _, a := range c.cfg.LoginAttributes {
		filter.WriteString("(" + a + "=" + escaped + ")")
	}
	filter.WriteString("))")
	// A size limit of 2 is enough to tell one match from several.
	req := ldap.NewSearchRequest(c.cfg.BaseDN, c.scope, ldap.NeverDerefAliases, 2, c.timeLimit(), false,
		filter.String(), c.attrs, nil)
	res, err := c.search(ctx, conn, req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		c.log.Warn("login matches several entries", "login", login)
		return connectors.Entry{}, connectors.ErrInvalidCredentials
	case err != nil:
		return connectors.Entry{}, fmt.Errorf("ldap %s: search login: %w", c.cfg.URL, err)
	case len(res.Entries) == 0:
		return connectors.Entry{}, connectors.ErrInvalidCredentials
	case len(res.Entries) > 1:
		c.log.Warn("login matches several entries", "login", login)
		return connectors.Entry{}, connectors.ErrInvalidCredentials
	}
	found := res.Entries[0]
	entry, ok := c.entry(found)
	if !ok {
		return connectors.Entry{}, fmt.Errorf("ldap %s: %s has no entryUUID", c.cfg.URL, found.DN)
	}

	user, err := c.dial(ctx)
	if err != nil {
		return connectors.Entry{}, err
	}
	defer user.Close()
	if err := c.bindUser(ctx, user, found.DN, password); err != nil {
		return connectors.Entry{}, err
	}
	return entry, nil
}

// bindUser binds conn as a person: a wrong password gives
// connectors.ErrInvalidCredentials.
func (c *Connector) bindUser(ctx context.Context, conn *ldap.Conn, dn, password string) error {
	err := c.bind(ctx, conn, dn, password)
	switch {
	case err == nil:
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return connectors.ErrInvalidCredentials
	case errors.Is(err, ctx.Err()):
		return err
	default:
		return fmt.Errorf("ldap %s: bind as %s: %w", c.cfg.URL, dn, err)
	}
}

// ChangePassword sets the password of the entry whose entryUUID is
// externalID with the Password Modify extended operation (RFC 3062). With
// oldPassword empty the service account makes the change, and must be
// allowed to; otherwise the person does, on a connection bound with
// oldPassword (connectors.ErrInvalidCredentials when it is wrong).
func (c *Connector) ChangePassword(ctx context.Context, externalID, oldPassword, newPassword string) error {
	if newPassword == "" {
		return errors.New("ldap: new password is empty")
	}
	conn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	dn, err := c.dnOf(ctx, conn, externalID)
	if err != nil {
		return err
	}

	if oldPassword == "" {
		err := c.call(ctx, conn, func() error {
			_, err := conn.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", newPassword))
			return err
		})
		if err != nil {
			return fmt.Errorf("ldap %s: change password of %s: %w", c.cfg.URL, dn, err)
		}
		return nil
	}

	user, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer user.Close()
	if err := c.bindUser(ctx, user, dn, oldPassword); err != nil {
		return err
	}
	err = c.call(ctx, user, func() error {
		// No identity: the operation applies to the bound user.
		_, err := user.PasswordModify(ldap.NewPasswordModifyRequest("", oldPassword, newPassword))
		return err
	})
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return connectors.ErrInvalidCredentials
		}
		return fmt.Errorf("ldap %s: change password of %s: %w", c.cfg.URL, dn, err)
	}
	return nil
}

// dnOf finds the DN of the entry, matched by the filter, whose entryUUID
// is id.
func (c *Connector) dnOf(ctx context.Context, conn *ldap.Conn, id string) (string, error) {
	req := ldap.NewSearchRequest(c.cfg.BaseDN, c.scope, ldap.NeverDerefAliases, 2, c.timeLimit(), false,
		"(&"+c.cfg.Filter+"("+attrEntryUUID+"="+ldap.EscapeFilter(id)+"))", []string{noAttributes}, nil)
	res, err := c.search(ctx, conn, req)
	if err != nil {
		return "", fmt.Errorf("ldap %s: search entryUUID %q: %w", c.cfg.URL, id, err)
	}
	if len(res.Entries) != 1 {
		return "", fmt.Errorf("ldap %s: %d entries with entryUUID %q below %s", c.cfg.URL, len(res.Entries), id, c.cfg.BaseDN)
	}
	return res.Entries[0].DN, nil
}
