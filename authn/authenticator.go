package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Bounds on what Authenticate looks at: longer input is refused before any
// lookup (an address has at most 254 bytes, a login 128).
const (
	maxIdentifierBytes = 320
	maxPasswordInput   = 4 * MaxPasswordBytes
)

// amrPassword is the RFC 8176 method of every successful Authenticate.
const amrPassword = "pwd"

// Directory is a source that checks the passwords of the accounts linked to
// it: a campus LDAP directory.
type Directory struct {
	// Authenticator checks a login and a password at the source (the LDAP
	// connector).
	Authenticator connectors.PasswordAuthenticator
	// LoginAttributes are the attributes the source matches a login
	// against (the LDAP connector's login_attributes), read here in the
	// link's snapshot of the entry; empty means uid then mail, the LDAP
	// connector's default.
	LoginAttributes []string
}

// Authenticator implements web.Authenticator over a store and the
// directories accounts may be linked to.
type Authenticator struct {
	st   store.Store
	dirs map[string]Directory
	log  *slog.Logger
}

var _ web.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator. directories maps a link source
// ("ldap:campus") to the directory that checks the passwords of accounts
// linked to it; it may be nil. The logger (nil discards) gets a warning
// when a directory authenticates an entry not linked to the account, or
// when a hash upgrade fails.
func New(st store.Store, directories map[string]Directory, logger *slog.Logger) *Authenticator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dirs := make(map[string]Directory, len(directories))
	for src, d := range directories {
		if d.Authenticator != nil {
			dirs[src] = d
		}
	}
	return &Authenticator{st: st, dirs: dirs, log: logger}
}

// errNoMatch: the identifier designates no account, or several.
var errNoMatch = errors.New("no single account")

// Authenticate finds the one account whose login (any case) or verified
// e-mail address is identifier, following a merged account to its
// survivor, and checks password: against the account's argon2id hash when
// it has one, otherwise at the directory of one of its active links (see
// checkDirectory). It returns the account id and amr ["pwd"].
//
// An unknown or ambiguous identifier, a pending address, an account with no
// way to check a password, and a wrong password all give exactly
// web.ErrInvalidCredentials; all but the directory check spend one argon2id
// computation with the current parameters, so that the answer takes as long
// whether the account exists or not. Other failures (the database, the
// directory unreachable, a corrupt stored hash) are returned wrapped.
//
// A successful check of a hash weaker than the current parameters
// (NeedsRehash) replaces it, recording account.password_set with reason
// "rehash"; a failure to do so is logged and does not fail the login.
func (a *Authenticator) Authenticate(ctx context.Context, identifier, password string) (string, []string, error) {
	key := identity.NormalizeLogin(identifier)
	if key == "" || password == "" || len(key) > maxIdentifierBytes || len(password) > maxPasswordInput {
		spend("")
		return "", nil, web.ErrInvalidCredentials
	}
	acc, links, err := a.find(ctx, key)
	if errors.Is(err, errNoMatch) {
		spend(password)
		return "", nil, web.ErrInvalidCredentials
	}
	if err != nil {
		return "", nil, fmt.Errorf("authn: find account: %w", err)
	}

	if acc.PasswordHash != "" {
		ok, err := CheckPassword(acc.PasswordHash, password)
		if err != nil {
			return "", nil, fmt.Errorf("authn: account %s: %w", acc.ID, err)
		}
		if !ok {
			return "", nil, web.ErrInvalidCredentials
		}
		if NeedsRehash(acc.PasswordHash) {
			a.rehash(ctx, acc.ID, acc.PasswordHash, password)
		}
		return acc.ID, []string{amrPassword}, nil
	}

	checked, err := a.checkDirectory(ctx, acc.ID, links, strings.TrimSpace(identifier), key, password)
	if !checked {
		spend(password)
		return "", nil, web.ErrInvalidCredentials
	}
	if err != nil {
		return "", nil, err
	}
	return acc.ID, []string{amrPassword}, nil
}

// find reads, in one snapshot, the live account the normalised identifier
// designates, and its links when it has no local password. errNoMatch when
// none or several.
func (a *Authenticator) find(ctx context.Context, key string) (identity.Account, []identity.Link, error) {
	var acc identity.Account
	var links []identity.Link
	err := a.st.View(ctx, func(tx store.Tx) error {
		// A login is held by one account, merged or not (a merged
		// account keeps its login); a verified address by one live
		// account (a merge moves it to the survivor). Pending addresses
		// are no lookup keys.
		login := identity.LookupValue(identity.LookupLogin, key)
		byLogin, err := tx.Accounts().Lookup(ctx, identity.LookupLogin, []string{login})
		if err != nil {
			return err
		}
		address := identity.LookupValue(identity.LookupEmail, key)
		byEmail, err := tx.Accounts().Lookup(ctx, identity.LookupEmail, []string{address})
		if err != nil {
			return err
		}
		found := map[string]identity.Account{}
		for _, ids := range [][]string{byLogin[login], byEmail[address]} {
			for _, id := range ids {
				root, err := tx.Accounts().Resolve(ctx, id)
				if err != nil {
					return err
				}
				found[root.ID] = root
			}
		}
		if len(found) != 1 {
			return errNoMatch
		}
		for _, root := range found {
			acc = root
		}
		if acc.PasswordHash == "" {
			links, err = tx.Links().ListByAccount(ctx, acc.ID)
		}
		return err
	})
	return acc, links, err
}

// checkDirectory checks password at the directory of one of the account's
// active links; checked is false when no link leads to a configured
// directory.
//
// The directory matches a login against its login attributes (uid, mail),
// which may differ from what the person typed: a canonid login that is not
// the entry's uid (the login of a merged account, a login from another
// source), or a verified address the entry does not hold. The link's
// snapshot of the entry says what the directory knows, so:
//
//   - the typed identifier is passed when the snapshot holds it in a login
//     attribute of a link (or when no link's snapshot holds any login
//     attribute, so nothing better is known);
//   - otherwise the entry's own login is passed: the value of its first
//     login attribute (its uid) in the snapshot of the first link.
//
// There is one attempt, never a retry with another identifier: a retry
// would double the failed binds a directory's lockout policy counts, and
// an identifier the entry does not hold may be another person's uid, whose
// failure count a wrong guess would raise. Whatever identifier was passed,
// the entry the directory returns must be one of the account's active
// links of that source: a bind as another person never logs into this
// account.
func (a *Authenticator) checkDirectory(ctx context.Context, accountID string, links []identity.Link, typed, key, password string) (checked bool, err error) {
	var usable []identity.Link
	for _, l := range links {
		if _, ok := a.dirs[l.Source]; ok && l.Status == identity.LinkActive {
			usable = append(usable, l)
		}
	}
	if len(usable) == 0 {
		return false, nil
	}
	link, login := usable[0], ""
	for _, l := range usable {
		if holds(l, a.loginAttributes(l.Source), key) {
			link, login = l, typed
			break
		}
	}
	if login == "" {
		if login = entryLogin(link, a.loginAttributes(link.Source)); login == "" {
			login = typed
		}
	}

	entry, err := a.dirs[link.Source].Authenticator.Authenticate(ctx, login, password)
	switch {
	case errors.Is(err, connectors.ErrInvalidCredentials):
		return true, web.ErrInvalidCredentials
	case err != nil:
		return true, fmt.Errorf("authn: password check at %s: %w", link.Source, err)
	}
	for _, l := range usable {
		if l.Source == link.Source && l.ExternalID == entry.ExternalID {
			return true, nil
		}
	}
	a.log.Warn("directory authenticated an entry not linked to the account",
		"source", link.Source, "account", accountID, "external_id", entry.ExternalID)
	return true, web.ErrInvalidCredentials
}

func (a *Authenticator) loginAttributes(source string) []string {
	if attrs := a.dirs[source].LoginAttributes; len(attrs) > 0 {
		return attrs
	}
	return []string{"uid", "mail"} // the LDAP connector's default login_attributes
}

// holds reports whether the link's snapshot holds key, normalised, in one
// of the login attributes (names compared case-insensitively, as the
// source spells them).
func holds(l identity.Link, attrs []string, key string) bool {
	for name, values := range l.Attributes {
		if !isLoginAttribute(name, attrs) {
			continue
		}
		for _, v := range values {
			if identity.NormalizeLogin(v) == key {
				return true
			}
		}
	}
	return false
}

// entryLogin returns the first value of the first login attribute the
// link's snapshot holds, or "".
func entryLogin(l identity.Link, attrs []string) string {
	for _, want := range attrs {
		for name, values := range l.Attributes {
			if strings.EqualFold(name, want) {
				for _, v := range values {
					if v = strings.TrimSpace(v); v != "" {
						return v
					}
				}
			}
		}
	}
	return ""
}

func isLoginAttribute(name string, attrs []string) bool {
	for _, a := range attrs {
		if strings.EqualFold(name, a) {
			return true
		}
	}
	return false
}

// rehash replaces the account's hash old by a hash of password with the
// current parameters, unless it changed meanwhile.
func (a *Authenticator) rehash(ctx context.Context, accountID, old, password string) {
	phc, err := HashPassword(password)
	if err == nil {
		err = setHash(ctx, a.st, accountID, phc, old, "system", ReasonRehash)
	}
	if err != nil && !errors.Is(err, errHashChanged) {
		a.log.Warn("could not upgrade a password hash", "account", accountID, "err", err)
	}
}

// dummySalt salts the argon2id computation that stands in for a password
// check when there is no hash to check.
const dummySalt = "canonid:no-such-account"

// spend computes argon2id with the current parameters and throws the result
// away: a miss costs what a check costs.
func spend(password string) {
	derive(password, []byte(dummySalt), current(), keyLen)
}
