package authn_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

var ctx = context.Background()

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

const (
	pwCamille = "correct horse battery staple"
	pwAgency  = "agency password 1997"
	pwJean    = "directory secret 42!"
)

// fakeDirectory is a PasswordAuthenticator holding logins (any case) and
// the entries they bind as; it records the logins it was asked about.
type fakeDirectory struct {
	mu    sync.Mutex
	users map[string]fakeUser
	err   error
	calls []string
}

type fakeUser struct{ externalID, password string }

func (f *fakeDirectory) Authenticate(_ context.Context, login, password string) (connectors.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, login)
	if f.err != nil {
		return connectors.Entry{}, f.err
	}
	u, ok := f.users[strings.ToLower(login)]
	if !ok || u.password != password {
		return connectors.Entry{}, connectors.ErrInvalidCredentials
	}
	return connectors.Entry{ExternalID: u.externalID, Name: "uid=" + login + ",ou=people,dc=univ-test,dc=fr"}, nil
}

// takeCalls returns the logins asked about since the last call.
func (f *fakeDirectory) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// campusDirectory knows Jean Dupont by uid and mail, and the entries of
// the hybrid and gone accounts.
func campusDirectory() *fakeDirectory {
	return &fakeDirectory{users: map[string]fakeUser{
		"jdupont":                  {"uuid-jean", pwJean},
		"jean.dupont@univ-test.fr": {"uuid-jean", pwJean},
		"hybrid.user":              {"uuid-hybrid", pwJean},
		"gone.user":                {"uuid-gone", pwJean},
	}}
}

// fixture is the accounts of the tests, by name.
type fixture map[string]identity.Account

type seedAccount struct {
	name   string
	acc    identity.Account
	emails []identity.Email
	links  []identity.Link
}

func seed(t *testing.T, st store.Store, hashes map[string]string) fixture {
	t.Helper()
	snap := func(uid, mail string) map[string][]string {
		return map[string][]string{"uid": {uid}, "mail": {mail}, "cn": {"Someone"}}
	}
	seeds := []seedAccount{
		{name: "camille", acc: identity.Account{Login: "camille.martin", GivenName: "Camille", FamilyName: "MARTIN", PasswordHash: hashes[pwCamille]},
			emails: []identity.Email{
				{Address: "camille.martin@univ-test.fr", Verified: true, Primary: true},
				{Address: "cam.pending@mail.example"}, // pending: never logs in
			}},
		{name: "agency", acc: identity.Account{Login: "cmartin97", GivenName: "Camille", FamilyName: "MARTIN", PasswordHash: hashes[pwAgency]},
			emails: []identity.Email{{Address: "cam.martin97@mail.example", Verified: true, Primary: true}}},
		// The login of one is the verified address of the other.
		{name: "shared-login", acc: identity.Account{Login: "shared@example.org", GivenName: "A", PasswordHash: hashes[pwCamille]}},
		{name: "shared-address", acc: identity.Account{Login: "shared.address", GivenName: "B", PasswordHash: hashes[pwCamille]},
			emails: []identity.Email{{Address: "shared@example.org", Verified: true, Primary: true}}},
		// Directory-backed: canonid's login is not the entry's uid.
		{name: "jean", acc: identity.Account{Login: "jean.dupont", GivenName: "Jean", FamilyName: "DUPONT"},
			emails: []identity.Email{{Address: "jean.dupont@univ-test.fr", Verified: true, Primary: true}},
			links:  []identity.Link{{Source: "ldap:campus", ExternalID: "uuid-jean", Attributes: snap("jdupont", "Jean.Dupont@univ-test.fr")}}},
		{name: "hybrid", acc: identity.Account{Login: "hybrid.user", GivenName: "H", PasswordHash: hashes[pwCamille]},
			links: []identity.Link{{Source: "ldap:campus", ExternalID: "uuid-hybrid", Attributes: snap("hybrid.user", "hybrid@univ-test.fr")}}},
		{name: "gone", acc: identity.Account{Login: "gone.user", GivenName: "G"},
			links: []identity.Link{{Source: "ldap:campus", ExternalID: "uuid-gone", Status: identity.LinkGone, Attributes: snap("gone.user", "gone@univ-test.fr")}}},
		{name: "elsewhere", acc: identity.Account{Login: "other.user", GivenName: "O"},
			links: []identity.Link{{Source: "ldap:other", ExternalID: "uuid-o", Attributes: snap("other.user", "o@univ-test.fr")}}},
		{name: "no-password", acc: identity.Account{Login: "no.password", GivenName: "N"}},
		{name: "old-hash", acc: identity.Account{Login: "old.hash", GivenName: "W",
			PasswordHash: phc(pwCamille, 4096, 1, 1, []byte("sixteen-byte-slt"), 32)}},
		{name: "corrupt", acc: identity.Account{Login: "corrupt.hash", GivenName: "C", PasswordHash: "$argon2id$v=19$m=999999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"}},
	}
	fx := fixture{}
	err := st.Update(ctx, func(tx store.Tx) error {
		for _, s := range seeds {
			acc := s.acc
			acc.ID, acc.Status = "", identity.StatusActive
			if err := tx.Accounts().Create(ctx, &acc); err != nil {
				return err
			}
			for _, e := range s.emails {
				e.AccountID = acc.ID
				if err := tx.Emails().Add(ctx, &e); err != nil {
					return err
				}
			}
			for _, l := range s.links {
				l.AccountID = acc.ID
				if err := tx.Links().Create(ctx, &l); err != nil {
					return err
				}
			}
			fx[s.name] = acc
		}
		return tx.Record(ctx, store.Event{Type: "test.seeded", Actor: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func hashes(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pw := range []string{pwCamille, pwAgency} {
		h, err := authn.HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		out[pw] = h
	}
	return out
}

func TestAuthenticate(t *testing.T) {
	hs := hashes(t) // hashing is slow on purpose: once for both stores
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		fx := seed(t, st, hs)
		campus := campusDirectory()
		au := authn.New(st, map[string]authn.Directory{"ldap:campus": {Authenticator: campus}}, discard())

		// Merge the agency account into the university one (seed 000):
		// its login and address now lead to the survivor, whose password
		// counts.
		svc := accounts.New(st, accounts.DefaultConfig(), discard())
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: fx["camille"].ID, RetiredID: fx["agency"].ID,
			Reason: identity.MergeByEmail, Actor: "account:" + fx["camille"].ID}); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name, identifier, password string
			want                       string   // account name; "" for ErrInvalidCredentials
			directory                  []string // the logins the directory is asked about
		}{
			{"login", "camille.martin", pwCamille, "camille", nil},
			{"login in capitals", "Camille.MARTIN", pwCamille, "camille", nil},
			{"login with spaces", "  CAMILLE.MARTIN\t", pwCamille, "camille", nil},
			{"verified address", "Camille.Martin@Univ-Test.fr", pwCamille, "camille", nil},
			{"pending address", "cam.pending@mail.example", pwCamille, "", nil},
			{"wrong password", "camille.martin", pwCamille + "!", "", nil},
			{"unknown login", "nobody.here", pwCamille, "", nil},
			{"unknown address", "nobody@univ-test.fr", pwCamille, "", nil},
			{"empty password", "camille.martin", "", "", nil},
			{"empty identifier", " ", pwCamille, "", nil},
			{"merged account's login", "cmartin97", pwCamille, "camille", nil},
			{"merged account's address", "CAM.MARTIN97@mail.example", pwCamille, "camille", nil},
			{"merged account's own password", "cmartin97", pwAgency, "", nil},
			{"identifier of two accounts", "shared@example.org", pwCamille, "", nil},
			{"the other one by its login", "shared.address", pwCamille, "shared-address", nil},
			// The directory does not know canonid's login jean.dupont:
			// the entry's uid from the link's snapshot is passed.
			{"directory account by login", "jean.dupont", pwJean, "jean", []string{"jdupont"}},
			// The entry holds this address: it is passed as typed.
			{"directory account by address", " JEAN.DUPONT@univ-test.fr ", pwJean, "jean", []string{"JEAN.DUPONT@univ-test.fr"}},
			{"directory account, wrong password", "jean.dupont", pwCamille, "", []string{"jdupont"}},
			{"entry uid that is no canonid login", "jdupont", pwJean, "", nil},
			{"local hash before the directory", "hybrid.user", pwCamille, "hybrid", nil},
			{"local hash only", "hybrid.user", pwJean, "", nil},
			{"gone link", "gone.user", pwJean, "", nil},
			{"link to an unconfigured source", "other.user", pwJean, "", nil},
			{"no password at all", "no.password", pwCamille, "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id, amr, err := au.Authenticate(ctx, tc.identifier, tc.password)
				if tc.want == "" {
					// Exactly the sentinel, whatever the reason.
					if err != web.ErrInvalidCredentials || id != "" || amr != nil {
						t.Errorf("Authenticate = %q, %v, %v; want ErrInvalidCredentials", id, amr, err)
					}
				} else if err != nil || id != fx[tc.want].ID || !slices.Equal(amr, []string{"pwd"}) {
					t.Errorf("Authenticate = %q, %v, %v; want %s (%s), [pwd]", id, amr, err, tc.want, fx[tc.want].ID)
				}
				if got := campus.takeCalls(); !slices.Equal(got, tc.directory) {
					t.Errorf("directory asked about %q, want %q", got, tc.directory)
				}
			})
		}

		t.Run("entry of another person", func(t *testing.T) {
			// The directory answers for another entry (a uid reused,
			// a misconfigured filter): not this account.
			other := &fakeDirectory{users: map[string]fakeUser{"jdupont": {"uuid-someone-else", pwJean}}}
			au := authn.New(st, map[string]authn.Directory{"ldap:campus": {Authenticator: other}}, discard())
			if id, _, err := au.Authenticate(ctx, "jean.dupont", pwJean); err != web.ErrInvalidCredentials {
				t.Errorf("Authenticate = %q, %v; want ErrInvalidCredentials", id, err)
			}
		})

		t.Run("configured login attribute", func(t *testing.T) {
			// A directory matching on mail only gets the entry's mail.
			dir := campusDirectory()
			au := authn.New(st, map[string]authn.Directory{"ldap:campus": {Authenticator: dir, LoginAttributes: []string{"MAIL"}}}, discard())
			if id, _, err := au.Authenticate(ctx, "jean.dupont", pwJean); err != nil || id != fx["jean"].ID {
				t.Errorf("Authenticate = %q, %v", id, err)
			}
			if got := dir.takeCalls(); !slices.Equal(got, []string{"Jean.Dupont@univ-test.fr"}) {
				t.Errorf("directory asked about %q", got)
			}
		})

		t.Run("directory unreachable", func(t *testing.T) {
			down := errors.New("ldap://127.0.0.1:1: connection refused")
			au := authn.New(st, map[string]authn.Directory{"ldap:campus": {Authenticator: &fakeDirectory{err: down}}}, discard())
			_, _, err := au.Authenticate(ctx, "jean.dupont", pwJean)
			if !errors.Is(err, down) || errors.Is(err, web.ErrInvalidCredentials) {
				t.Errorf("Authenticate = %v; want the connector's error", err)
			}
		})

		t.Run("database down", func(t *testing.T) {
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			_, _, err := au.Authenticate(cancelled, "camille.martin", pwCamille)
			if err == nil || errors.Is(err, web.ErrInvalidCredentials) {
				t.Errorf("Authenticate = %v; want the store's error", err)
			}
		})

		t.Run("corrupt stored hash", func(t *testing.T) {
			_, _, err := au.Authenticate(ctx, "corrupt.hash", pwCamille)
			if !errors.Is(err, authn.ErrMalformedHash) || errors.Is(err, web.ErrInvalidCredentials) {
				t.Errorf("Authenticate = %v; want ErrMalformedHash", err)
			}
		})

		t.Run("weak hash upgraded", func(t *testing.T) {
			acc := fx["old-hash"]
			if id, _, err := au.Authenticate(ctx, "old.hash", pwCamille); err != nil || id != acc.ID {
				t.Fatalf("Authenticate = %q, %v", id, err)
			}
			now := get(t, st, acc.ID)
			if authn.NeedsRehash(now.PasswordHash) || now.PasswordHash == acc.PasswordHash {
				t.Fatalf("hash not upgraded: %s", now.PasswordHash)
			}
			if ok, err := authn.CheckPassword(now.PasswordHash, pwCamille); !ok || err != nil {
				t.Fatalf("upgraded hash does not check: %v, %v", ok, err)
			}
			evs := audit(t, st, acc.ID, authn.EventPasswordSet)
			if len(evs) != 1 || evs[0].Actor != "system" || reason(t, evs[0]) != authn.ReasonRehash {
				t.Errorf("events %+v", evs)
			}
			// A current hash is left alone.
			if _, _, err := au.Authenticate(ctx, "old.hash", pwCamille); err != nil {
				t.Fatal(err)
			}
			if evs := audit(t, st, acc.ID, authn.EventPasswordSet); len(evs) != 1 {
				t.Errorf("%d password events after a second login", len(evs))
			}
		})

		storetest.CheckInvariants(t, st)
	})
}

// TestAuthenticateTiming checks that an unknown identifier costs about what
// a wrong password does (the argon2id computation), loosely: the fastest of
// a few runs of each, within a factor of 3.
func TestAuthenticateTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing: skipped with -short")
	}
	st := storetest.OpenSQLite(t)
	fx := seed(t, st, hashes(t))
	au := authn.New(st, nil, discard())
	fastest := func(identifier string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			if _, _, err := au.Authenticate(ctx, identifier, "not the password"); err != web.ErrInvalidCredentials {
				t.Fatalf("Authenticate(%s) = %v", identifier, err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := fastest(fx["camille"].Login), fastest("nobody.here")
	pending, none := fastest("cam.pending@mail.example"), fastest("no.password")
	for name, d := range map[string]time.Duration{"unknown": unknown, "pending address": pending, "no password": none} {
		if d*3 < known {
			t.Errorf("%s identifier took %s, a wrong password %s: the difference tells", name, d, known)
		}
	}
}

func get(t *testing.T, st store.Store, id string) identity.Account {
	t.Helper()
	var a identity.Account
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		a, err = tx.Accounts().Get(ctx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

func audit(t *testing.T, st store.Store, accountID, typ string) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Audit().List(ctx, store.AuditQuery{AccountID: accountID, Type: typ})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// reason decodes the payload of account.password_set, which must hold
// nothing else.
func reason(t *testing.T, ev store.AuditEntry) string {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data) != 1 {
		t.Errorf("payload %s holds more than a reason", ev.Data)
	}
	r, _ := data["reason"].(string)
	return r
}

func outboxTypes(t *testing.T, st store.Store, accountID string) []string {
	t.Helper()
	evs, err := st.Outbox().After(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		if e.AccountID == accountID {
			types = append(types, e.Type)
		}
	}
	return types
}

func TestSetPassword(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		fx := seed(t, st, nil)
		acc := fx["no-password"]

		err := authn.SetPassword(ctx, st, acc.ID, "short", "account:"+acc.ID)
		var pe *authn.PolicyError
		if !errors.As(err, &pe) || pe.Rule != authn.RuleTooShort {
			t.Fatalf("SetPassword(short) = %v", err)
		}
		if evs := audit(t, st, acc.ID, authn.EventPasswordSet); len(evs) != 0 || get(t, st, acc.ID).PasswordHash != "" {
			t.Fatal("a refused password was stored")
		}

		const pw = "a brand new passphrase"
		if err := authn.SetPassword(ctx, st, acc.ID, pw, "token:support"); err != nil {
			t.Fatal(err)
		}
		now := get(t, st, acc.ID)
		if ok, err := authn.CheckPassword(now.PasswordHash, pw); !ok || err != nil {
			t.Fatalf("stored hash %q does not check: %v, %v", now.PasswordHash, ok, err)
		}
		if now.Version != acc.Version+1 {
			t.Errorf("version %d, want %d", now.Version, acc.Version+1)
		}
		evs := audit(t, st, acc.ID, authn.EventPasswordSet)
		if len(evs) != 1 || evs[0].Actor != "token:support" || reason(t, evs[0]) != authn.ReasonSet {
			t.Fatalf("audit %+v", evs)
		}
		if types := outboxTypes(t, st, acc.ID); !slices.Contains(types, authn.EventPasswordSet) {
			t.Errorf("outbox %v has no %s", types, authn.EventPasswordSet)
		}
		au := authn.New(st, nil, discard())
		if id, _, err := au.Authenticate(ctx, "No.Password", pw); err != nil || id != acc.ID {
			t.Errorf("Authenticate with the new password = %q, %v", id, err)
		}

		if err := authn.SetPassword(ctx, st, "no-such-account", pw, "test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetPassword(unknown) = %v", err)
		}
		svc := accounts.New(st, accounts.DefaultConfig(), discard())
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: fx["camille"].ID, RetiredID: fx["agency"].ID, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		if err := authn.SetPassword(ctx, st, fx["agency"].ID, pw, "test"); err == nil || !strings.Contains(err.Error(), "merged into "+fx["camille"].ID) {
			t.Errorf("SetPassword(merged) = %v", err)
		}
		storetest.CheckInvariants(t, st)
	})
}

func TestRecordLogin(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		fx := seed(t, st, nil)
		acc := fx["jean"]
		at := time.Date(2025, 3, 14, 9, 26, 53, 123456000, time.UTC)
		if err := authn.RecordLogin(ctx, st, acc.ID, at, "pwd"); err != nil {
			t.Fatal(err)
		}
		now := get(t, st, acc.ID)
		if !now.LastLoginAt.Equal(at) || now.Version != acc.Version+1 {
			t.Fatalf("last login %s version %d; want %s, %d", now.LastLoginAt, now.Version, at, acc.Version+1)
		}
		// An earlier login recorded late does not move it back.
		if err := authn.RecordLogin(ctx, st, acc.ID, at.Add(-time.Hour), "lms"); err != nil {
			t.Fatal(err)
		}
		if got := get(t, st, acc.ID).LastLoginAt; !got.Equal(at) {
			t.Errorf("last login moved back to %s", got)
		}
		evs := audit(t, st, acc.ID, authn.EventLogin)
		if len(evs) != 2 {
			t.Fatalf("%d login events, want 2", len(evs))
		}
		var data authn.LoginEventData
		if err := json.Unmarshal(evs[1].Data, &data); err != nil || data.Via != "pwd" || evs[1].Actor != "account:"+acc.ID || !evs[1].At.Equal(at) {
			t.Errorf("first login event %+v (%s)", evs[1], evs[1].Data)
		}
		if types := outboxTypes(t, st, acc.ID); !slices.Contains(types, authn.EventLogin) {
			t.Errorf("outbox %v has no %s", types, authn.EventLogin)
		}
		if err := authn.RecordLogin(ctx, st, "no-such-account", at, "pwd"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RecordLogin(unknown) = %v", err)
		}
	})
}
