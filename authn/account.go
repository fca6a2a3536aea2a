package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Event types recorded by this package (identity lists the others).
const (
	// EventPasswordSet: the account's local password hash was set or
	// replaced. Its payload is a PasswordEventData; it never holds the
	// password or the hash.
	EventPasswordSet = "account.password_set"
	// EventLogin: the person logged in. Its payload is a LoginEventData.
	EventLogin = "account.login"
)

// Reasons of EventPasswordSet.
const (
	// ReasonSet: SetPassword stored a password chosen for the account.
	ReasonSet = "set"
	// ReasonRehash: Authenticate replaced a hash weaker than the current
	// parameters after checking the password against it.
	ReasonRehash = "rehash"
)

// PasswordEventData is the payload of account.password_set.
type PasswordEventData struct {
	Reason string `json:"reason"`
}

// LoginEventData is the payload of account.login.
type LoginEventData struct {
	// Via says how the person logged in, as the caller names it (e.g.
	// "pwd", or the OIDC client the login was for).
	Via string `json:"via,omitempty"`
}

// errHashChanged: the hash to replace changed since it was read.
var errHashChanged = errors.New("password hash changed meanwhile")

// SetPassword checks pw against the policy (a *PolicyError when it breaks
// a rule), then stores its argon2id hash as the account's local password
// and records account.password_set by actor, in one transaction. A local
// password takes precedence over the directory for Authenticate. The
// account must exist (store.ErrNotFound) and not be merged.
func SetPassword(ctx context.Context, st store.Store, accountID, pw, actor string) error {
	if err := CheckPolicy(pw); err != nil {
		return err
	}
	phc, err := HashPassword(pw)
	if err != nil {
		return err
	}
	return setHash(ctx, st, accountID, phc, "", actor, ReasonSet)
}

// setHash stores phc as the account's password hash with its event. With
// old set, it replaces only that hash (errHashChanged otherwise).
func setHash(ctx context.Context, st store.Store, accountID, phc, old, actor, reason string) error {
	err := st.Update(ctx, func(tx store.Tx) error {
		acc, err := liveAccount(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if old != "" && acc.PasswordHash != old {
			return errHashChanged
		}
		acc.PasswordHash = phc
		if err := tx.Accounts().Update(ctx, &acc); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventPasswordSet, Actor: actor, AccountID: acc.ID,
			Data: PasswordEventData{Reason: reason}})
	})
	if err != nil {
		return fmt.Errorf("authn: set password of %s: %w", accountID, err)
	}
	return nil
}

// RecordLogin records that the account logged in at at (zero means now),
// via what the caller names (see LoginEventData), in one transaction: the
// account's LastLoginAt becomes at (unless a later login is recorded
// already) and account.login is recorded with the account as actor. The
// account must exist (store.ErrNotFound) and not be merged: pass the id
// Authenticate returned.
func RecordLogin(ctx context.Context, st store.Store, accountID string, at time.Time, via string) error {
	if at.IsZero() {
		at = time.Now()
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		acc, err := liveAccount(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if at.After(acc.LastLoginAt) {
			acc.LastLoginAt = at
			if err := tx.Accounts().Update(ctx, &acc); err != nil {
				return err
			}
		}
		return tx.Record(ctx, store.Event{Type: EventLogin, Actor: "account:" + acc.ID, AccountID: acc.ID,
			Data: LoginEventData{Via: via}, At: at})
	})
	if err != nil {
		return fmt.Errorf("authn: record login of %s: %w", accountID, err)
	}
	return nil
}

// liveAccount reads the account, refusing a merged one: its password and
// logins are its survivor's.
func liveAccount(ctx context.Context, tx store.Tx, id string) (identity.Account, error) {
	acc, err := tx.Accounts().Get(ctx, id)
	if err != nil {
		return acc, err
	}
	if acc.Status == identity.StatusMerged {
		return acc, fmt.Errorf("account %s is merged into %s: act on the survivor", acc.ID, acc.MergedInto)
	}
	return acc, nil
}
