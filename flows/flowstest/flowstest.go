// Package flowstest is the test environment that the flows packages
// (activation, emailmerge, mergekey, registration) share: the tests'
// clock, a server over one store with canonid's login pages in front of
// fake credentials, a real SMTP server to read the mailed links from, a
// browser with cookies that posts forms with their CSRF token, and the
// reads of the store that the tests check (accounts, one-time tokens,
// audit log, outbox).
//
// It is for tests only: nothing but _test.go files imports it.
package flowstest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/internal/clocktest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// NewClock returns the flows' tests' clock, at 2026-03-02 09:00 UTC.
func NewClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) }

// DiscardLogger returns a logger that writes nothing.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// NoRequests is an OpenID provider without pending authorization
// requests: the tests log in on the login page without one.
type NoRequests struct{}

var _ web.AuthRequests = NoRequests{}

// Describe finds no request.
func (NoRequests) Describe(context.Context, string) (web.LoginRequest, error) {
	return web.LoginRequest{}, store.ErrNotFound
}

// Complete finds no request.
func (NoRequests) Complete(context.Context, string, string, time.Time, []string) (string, error) {
	return "", store.ErrNotFound
}

// Fail finds no request.
func (NoRequests) Fail(context.Context, string, string, string) (string, error) {
	return "", store.ErrNotFound
}

// Passwords is the login page's authenticator of the tests: one password
// per login. Its zero value refuses every password.
type Passwords struct {
	mu       sync.Mutex
	accounts map[string][2]string // login -> account id, password
}

var _ web.Authenticator = (*Passwords)(nil)

// Set lets login log in to account accountID with password.
func (p *Passwords) Set(login, accountID, password string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.accounts == nil {
		p.accounts = map[string][2]string{}
	}
	p.accounts[login] = [2]string{accountID, password}
}

// Authenticate returns the account of identifier when password is its
// password.
func (p *Passwords) Authenticate(_ context.Context, identifier, password string) (string, []string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.accounts[identity.NormalizeLogin(identifier)]
	if !ok || c[1] != password {
		return "", nil, web.ErrInvalidCredentials
	}
	return c[0], []string{"pwd"}, nil
}
