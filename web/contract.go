package web

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file is the contract between the login pages and what they drive:
// the OpenID provider's pending authorization requests (package oidc
// implements AuthRequests) and the password check (package authn implements
// Authenticator).

// ErrInvalidCredentials is what an Authenticator returns when the
// identifier is unknown, ambiguous or the password wrong: the page answers
// the same in every case, so that it never tells whether an account exists.
var ErrInvalidCredentials = errors.New("invalid credentials")

// Authenticator checks an identifier and a password.
type Authenticator interface {
	// Authenticate finds the account whose login or verified e-mail address
	// is identifier (a merged account's identifiers lead to its survivor)
	// and checks password with the account's authenticator: its local
	// argon2id hash, or a bind to the campus directory it is linked to. It
	// returns the canonical account id and the authentication methods used
	// (RFC 8176: "pwd"). ErrInvalidCredentials when it cannot, whatever the
	// reason. It does not look at the account's status: the caller gates.
	Authenticate(ctx context.Context, identifier, password string) (accountID string, amr []string, err error)
}

// LoginRequest is what the login page shows about a pending authorization
// request.
type LoginRequest struct {
	ID         string
	ClientID   string
	ClientName string
	// LoginHint pre-fills the identifier; Prompt holds "login" when the
	// client asks the person to log in again even with a session.
	LoginHint string
	Prompt    []string
	// UILocales are the client's preferred languages, best first ("fr",
	// "en").
	UILocales []string
	// MaxAge, when set, is the longest time since the person last typed
	// their password that the client accepts (OIDC max_age): an older
	// session logs in again.
	MaxAge *time.Duration
}

// AuthRequests are the OpenID provider's pending authorization requests.
type AuthRequests interface {
	// Describe returns the pending request; an error wrapping
	// store.ErrNotFound when it does not exist or expired.
	Describe(ctx context.Context, id string) (LoginRequest, error)
	// Complete records that the account logged in for the request (it
	// authenticated at authTime, with amr: a session's own time when the
	// login is a single sign-on), once the account may use the client: a
	// *GateError when its status or the client's require_org says no. It
	// returns where to send the browser next (the provider's callback,
	// which redirects to the client with the code).
	Complete(ctx context.Context, id, accountID string, authTime time.Time, amr []string) (redirect string, err error)
	// Fail ends the request with an OAuth error (login_required for a
	// prompt=none request without a usable session) and returns where to
	// send the browser: the client's redirect URI with the error.
	Fail(ctx context.Context, id, code, description string) (redirect string, err error)
}

// Gate names why a logged-in person may not go on to a client.
type Gate string

// Gates.
const (
	// GatePendingActivation: the account was created for the person (HR,
	// an agency import) and they have not activated it; the page offers to
	// send the activation link again.
	GatePendingActivation Gate = "pending_activation"
	// GatePendingValidation: the person registered and a coordinator of
	// their organisation has not validated them yet.
	GatePendingValidation Gate = "pending_validation"
	// GateSuspended: the account is suspended or locked.
	GateSuspended Gate = "suspended"
	// GateOrgRequired: the client admits only validated members of an org
	// (require_org) and the person is not one.
	GateOrgRequired Gate = "org_required"
)

// GateError says that a logged-in account may not continue to a client.
type GateError struct {
	Gate      Gate
	AccountID string
	// OrgName is the org the client requires (GateOrgRequired).
	OrgName string
}

func (e *GateError) Error() string {
	if e.Gate == GateOrgRequired {
		return fmt.Sprintf("account %s is not a validated member of %s", e.AccountID, e.OrgName)
	}
	return fmt.Sprintf("account %s is %s", e.AccountID, e.Gate)
}
