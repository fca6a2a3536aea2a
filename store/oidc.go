package store

import (
	"context"
	"time"
)

// This file holds what the OpenID provider (package oidc) and the login
// pages keep: authorization requests between /authorize and the code
// exchange, access and refresh tokens, signing keys and login sessions.
// Each is reached from a Tx (AuthRequests, OAuthTokens, SigningKeys,
// Sessions). Secrets handed out (codes, refresh tokens, session cookies) are
// stored as their SHA-256 only; private keys are stored encrypted by the
// caller.
//
// Writes are changes like any other: the transaction must record an event
// (Tx.Record). Two exceptions: Sessions.Touch is bookkeeping and needs none,
// and a write that changes no row needs none either (a sweep or a revocation
// that finds nothing to do, MarkUsed reporting false, a write answering
// ErrNotFound).
//
// A row "expired at t" is one whose ExpiresAt is not after t: it is valid
// strictly before its ExpiresAt, and the reads given now and DeleteExpired
// agree on the boundary. A zero time given to a method (now, at, authTime)
// stands for the current time.

// AuthRequest is an OpenID authorization request, from /authorize until its
// code is exchanged (or it expires).
type AuthRequest struct {
	ID       string
	ClientID string
	// Request is the request as the provider received it (redirect URI,
	// scopes, state, nonce, PKCE challenge, prompt, max_age, locales...),
	// encoded by package oidc; the store keeps it opaque.
	Request []byte
	// AccountID, AuthTime and AMR are set once the person logged in.
	AccountID string
	AuthTime  time.Time
	AMR       []string
	// CodeHash is the SHA-256 of the authorization code, set when the code
	// is issued.
	CodeHash  []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthRequests stores authorization requests.
type AuthRequests interface {
	// Create inserts r (ID, ClientID, Request, CreatedAt, ExpiresAt; the
	// login and code are written too when already set). An empty ID is set
	// to a new one, a zero CreatedAt to now; ClientID, Request and
	// ExpiresAt are required. ErrDuplicate on an id already used.
	Create(ctx context.Context, r *AuthRequest) error
	// Get returns the request, if it exists and has not expired at now.
	Get(ctx context.Context, id string, now time.Time) (AuthRequest, error)
	// Complete records who logged in for the request. ErrNotFound when it
	// does not exist (expired or not: Get and GetByCode check expiry).
	Complete(ctx context.Context, id, accountID string, authTime time.Time, amr []string) error
	// SetCode records the hash of the code issued for the request,
	// replacing any earlier one. ErrNotFound when it does not exist;
	// ErrDuplicate on a hash already used.
	SetCode(ctx context.Context, id string, codeHash []byte) error
	// GetByCode returns the completed request whose code has this hash, if
	// it has not expired at now.
	GetByCode(ctx context.Context, codeHash []byte, now time.Time) (AuthRequest, error)
	// Delete removes the request (a code is single-use); ErrNotFound when
	// it is already gone, so that of two concurrent exchanges of one code
	// only one succeeds.
	Delete(ctx context.Context, id string) error
	// DeleteExpired removes the requests expired at now and returns how
	// many.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// TokenKind tells access tokens from refresh tokens.
type TokenKind string

// Token kinds.
const (
	TokenAccess  TokenKind = "access"
	TokenRefresh TokenKind = "refresh"
)

// OAuthToken is an access or refresh token the provider issued.
type OAuthToken struct {
	ID   string
	Kind TokenKind
	// Hash is the SHA-256 of a refresh token; access tokens carry their id
	// (encrypted or signed by the provider) and have no hash.
	Hash []byte
	// FamilyID groups the tokens of one grant: the refresh tokens that
	// rotate from one another and the access tokens issued with them.
	// Revoking the family revokes them all.
	FamilyID string
	// AccountID is the account (the sub); empty for client_credentials.
	AccountID string
	ClientID  string
	Scopes    []string
	Audience  []string
	AMR       []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when a refresh token was exchanged for the next one.
	UsedAt time.Time
	// RevokedAt is set once revoked; a revoked token is never valid again.
	RevokedAt time.Time
}

// OAuthTokens stores access and refresh tokens.
type OAuthTokens interface {
	// Create inserts t; ErrDuplicate on an id or hash already used. An
	// empty ID is set to a new one, a zero CreatedAt to now; Kind,
	// FamilyID, ClientID and ExpiresAt are required, and a refresh token
	// needs its Hash.
	Create(ctx context.Context, t *OAuthToken) error
	// Get returns the token of this id, whatever its state.
	Get(ctx context.Context, id string) (OAuthToken, error)
	// GetByHash returns the refresh token with this hash, whatever its
	// state.
	GetByHash(ctx context.Context, hash []byte) (OAuthToken, error)
	// MarkUsed sets the refresh token's UsedAt if it is not set yet and
	// reports whether it did (false: it was used already), in one
	// statement, so that of two concurrent exchanges only one sees true.
	// It looks at UsedAt only: the caller checks expiry and revocation
	// (Get, GetByHash). ErrNotFound when no refresh token has this id.
	MarkUsed(ctx context.Context, id string, at time.Time) (bool, error)
	// Revoke revokes one token; ErrNotFound when it does not exist.
	// Revoking a revoked token succeeds and keeps its first RevokedAt.
	Revoke(ctx context.Context, id string, at time.Time) error
	// RevokeFamily revokes every unrevoked token of the family and returns
	// how many.
	RevokeFamily(ctx context.Context, familyID string, at time.Time) (int, error)
	// RevokeAccount revokes every unrevoked token of the account, of one
	// client or of all when clientID is empty, and returns how many.
	RevokeAccount(ctx context.Context, accountID, clientID string, at time.Time) (int, error)
	// DeleteExpired removes the tokens expired at now, revoked or not,
	// and returns how many.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// SigningKey is a key the provider signs ID tokens (and JWT access tokens)
// with. It is published in the JWKS from its creation, signs from
// ActiveFrom, and leaves the JWKS at ExpiresAt, once every token it signed
// has expired.
type SigningKey struct {
	ID        string // the JWK kid
	Algorithm string // RS256, ES256...
	// PrivateKey is the private key encrypted by package oidc; the store
	// never sees it in clear.
	PrivateKey []byte
	// PublicKey is the public key as a JWK (JSON).
	PublicKey  []byte
	CreatedAt  time.Time
	ActiveFrom time.Time
	ExpiresAt  time.Time
}

// SigningKeys stores signing keys. Several replicas share them: a key is
// created by whichever replica sees that one is missing, and the unique
// ActiveFrom makes a concurrent creation of the same key fail with
// ErrDuplicate.
type SigningKeys interface {
	// Create inserts k; ErrDuplicate on its id or ActiveFrom. An empty ID
	// is set to a new one, a zero CreatedAt to now; Algorithm, both keys,
	// ActiveFrom and a later ExpiresAt are required.
	Create(ctx context.Context, k *SigningKey) error
	// List returns the keys not expired at now, by ActiveFrom, earliest
	// first.
	List(ctx context.Context, now time.Time) ([]SigningKey, error)
	// DeleteExpired removes the keys expired at now and returns how many.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// Session is a login session: a person logged in to canonid's pages, which
// the cookie of one browser carries.
type Session struct {
	ID string
	// Hash is the SHA-256 of the cookie's secret.
	Hash       []byte
	AccountID  string
	AMR        []string
	AuthTime   time.Time
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
}

// Sessions stores login sessions.
type Sessions interface {
	// Create inserts s; ErrDuplicate on its id or hash. An empty ID is set
	// to a new one, a zero CreatedAt to now, a zero AuthTime or LastSeenAt
	// to CreatedAt; Hash, AccountID and ExpiresAt are required.
	Create(ctx context.Context, s *Session) error
	// GetByHash returns the session with this hash if it is not revoked
	// and not expired at now; otherwise ErrNotFound.
	GetByHash(ctx context.Context, hash []byte, now time.Time) (Session, error)
	// Touch sets LastSeenAt; ErrNotFound when the session does not
	// exist. It is bookkeeping, not a change: it needs no event, or every
	// request of a logged-in browser would write one to the audit log and
	// the outbox.
	Touch(ctx context.Context, id string, at time.Time) error
	// Revoke ends one session; ErrNotFound when it does not exist. Ending
	// an ended session succeeds and keeps its first RevokedAt.
	Revoke(ctx context.Context, id string, at time.Time) error
	// RevokeAccount ends every session of the account not ended yet and
	// returns how many.
	RevokeAccount(ctx context.Context, accountID string, at time.Time) (int, error)
	// DeleteExpired removes the sessions expired at now or revoked at or
	// before now, and returns how many.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}
