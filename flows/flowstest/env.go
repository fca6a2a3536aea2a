package flowstest

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/internal/clocktest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// pagesSecret is the login pages' secret in the tests.
var pagesSecret = []byte("0123456789abcdef0123456789abcdef")

// Env is what a flow's test environment is built on: one store, the
// tests' clock, and an HTTP server whose gin engine the flow mounts its
// routes on. The flows' envs embed it and add their services.
type Env struct {
	T     *testing.T
	Store store.Store
	Clock *clocktest.Clock
	// Passwords are the accounts the login pages (Pages) let in.
	Passwords *Passwords
	// Engine serves Server; nil in an Env made without NewEnv, which
	// serves nothing.
	Engine *gin.Engine
	Server *httptest.Server
}

// NewEnv returns an Env over st, its clock at NewClock's time, serving an
// empty gin engine until the test ends.
func NewEnv(t *testing.T, st store.Store) *Env {
	t.Helper()
	e := &Env{T: t, Store: st, Clock: NewClock(), Passwords: &Passwords{}}
	gin.SetMode(gin.ReleaseMode)
	e.Engine = gin.New()
	e.Server = httptest.NewServer(e.Engine)
	t.Cleanup(e.Server.Close)
	return e
}

// EachStore runs fn, as storetest.EachStore does, on the env newEnv makes
// over each store, then checks the store's invariants.
func EachStore[E any](t *testing.T, newEnv func(t *testing.T, st store.Store) E, fn func(t *testing.T, e E)) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		fn(t, newEnv(t, st))
		storetest.CheckInvariants(t, st)
	})
}

// Pages mounts NewPages on the engine, over the env's store and clock,
// letting in the env's Passwords.
func (e *Env) Pages(activation web.ActivationResender) *web.Handler {
	e.T.Helper()
	pages := NewPages(e.T, e.Server.URL, e.Store, e.Passwords, e.Clock.Now, activation)
	pages.Mount(e.Engine)
	return pages
}

// NewPages returns canonid's login pages (package web) at publicURL over
// st and the clock now, checking passwords with auth, with no OpenID
// request pending; activation, unless nil, resends activation links.
func NewPages(tb testing.TB, publicURL string, st store.Store, auth web.Authenticator, now func() time.Time,
	activation web.ActivationResender) *web.Handler {
	tb.Helper()
	pages, err := web.New(web.Config{PublicURL: publicURL, Secret: pagesSecret},
		web.Deps{Store: st, Auth: auth, Requests: NoRequests{}, Now: now, Logger: DiscardLogger(), Activation: activation})
	if err != nil {
		tb.Fatal(err)
	}
	return pages
}

// Browser returns a new browser of the env's server.
func (e *Env) Browser() *Browser { return NewBrowser(e.T, e.Server.URL) }

// Account reads an account.
func (e *Env) Account(id string) identity.Account {
	e.T.Helper()
	var a identity.Account
	if err := e.Store.View(e.T.Context(), func(tx store.Tx) error {
		var err error
		a, err = tx.Accounts().Get(e.T.Context(), id)
		return err
	}); err != nil {
		e.T.Fatal(err)
	}
	return a
}

// Pending returns the account's pending one-time tokens at the clock's
// time.
func (e *Env) Pending(accountID string) []store.OneTimeToken {
	e.T.Helper()
	var out []store.OneTimeToken
	if err := e.Store.View(e.T.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Tokens().ListPending(e.T.Context(), accountID, e.Clock.Now())
		return err
	}); err != nil {
		e.T.Fatal(err)
	}
	return out
}

// AuditTypes returns the types of the account's audit entries, oldest
// first.
func (e *Env) AuditTypes(accountID string) []string {
	e.T.Helper()
	var out []string
	if err := e.Store.View(e.T.Context(), func(tx store.Tx) error {
		entries, err := tx.Audit().List(e.T.Context(), store.AuditQuery{AccountID: accountID, Limit: 1000})
		for i := len(entries) - 1; i >= 0; i-- {
			out = append(out, entries[i].Type)
		}
		return err
	}); err != nil {
		e.T.Fatal(err)
	}
	return out
}

// OutboxTypes returns the types of the account's events in the outbox, in
// order.
func (e *Env) OutboxTypes(accountID string) []string {
	e.T.Helper()
	var out []string
	for seq := int64(0); ; {
		evs, err := e.Store.Outbox().After(e.T.Context(), seq, 500)
		if err != nil {
			e.T.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, ev := range evs {
			if ev.AccountID == accountID {
				out = append(out, ev.Type)
			}
			seq = ev.Seq
		}
	}
}

// WantEvents checks that the account's events of the types in want, in
// the audit log and in the outbox, are want in this order.
func (e *Env) WantEvents(accountID string, want ...string) {
	e.T.Helper()
	for name, types := range map[string][]string{"audit": e.AuditTypes(accountID), "outbox": e.OutboxTypes(accountID)} {
		var flow []string
		for _, typ := range types {
			if slices.Contains(want, typ) {
				flow = append(flow, typ)
			}
		}
		if !slices.Equal(flow, want) {
			e.T.Errorf("%s events %v, want %v in this order", name, flow, want)
		}
	}
}
