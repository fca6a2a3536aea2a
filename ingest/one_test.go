package ingest

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// errRollback is what a caller's closure returns to roll its transaction
// back after Apply or Leave.
var errRollback = errors.New("rolled back by the caller")

// oneFixture is a store with the accounts a case set up, by name.
type oneFixture struct {
	st  store.Store
	in  *Ingester
	ids map[string]string
}

// camille is the entry most cases apply, as source "ldap:campus" id u1.
func camille() connectors.Entry {
	return person("u1", "cmartin", "Camille", "Martin", "camille.martin@univ-test.fr")
}

// with returns e with attribute attr set to value, or removed when value
// is empty.
func with(e connectors.Entry, attr, value string) connectors.Entry {
	e.Attributes = maps.Clone(e.Attributes)
	if value == "" {
		delete(e.Attributes, attr)
	} else {
		e.Attributes[attr] = []string{value}
	}
	return e
}

func renamed(e connectors.Entry, name string) connectors.Entry {
	e.Name = name
	return e
}

// applyIn runs Apply in a transaction of its own, committed when commit is
// set and rolled back by the caller otherwise. Its error is Apply's, or the
// commit's.
func applyIn(f *oneFixture, e connectors.Entry, target string, opts Options, commit bool) (Outcome, error) {
	var out Outcome
	var applyErr error
	err := f.st.Update(ctx, func(tx store.Tx) error {
		out, applyErr = f.in.Apply(ctx, tx, e, target, opts)
		if applyErr != nil {
			return applyErr
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	switch {
	case applyErr != nil:
		return out, applyErr
	case errors.Is(err, errRollback) && !commit:
		return out, nil
	}
	return out, err
}

// leaveIn is applyIn for Leave.
func leaveIn(f *oneFixture, externalID string, remove, commit bool) (bool, error) {
	var suspended bool
	var leaveErr error
	err := f.st.Update(ctx, func(tx store.Tx) error {
		suspended, leaveErr = f.in.Leave(ctx, tx, externalID, remove, Options{})
		if leaveErr != nil {
			return leaveErr
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	switch {
	case leaveErr != nil:
		return suspended, leaveErr
	case errors.Is(err, errRollback) && !commit:
		return suspended, nil
	}
	return suspended, err
}

// mustApply applies e and commits, failing t unless Apply did wantOp.
func mustApply(t *testing.T, f *oneFixture, e connectors.Entry, target string, opts Options, wantOp string) Outcome {
	t.Helper()
	out, err := applyIn(f, e, target, opts, true)
	if err != nil || out.Op != wantOp {
		t.Fatalf("apply %s: %+v, %v; want op %s", e.ExternalID, out, err, wantOp)
	}
	return out
}

func mustLeave(t *testing.T, f *oneFixture, externalID string, remove bool) {
	t.Helper()
	if _, err := leaveIn(f, externalID, remove, true); err != nil {
		t.Fatalf("leave %s: %v", externalID, err)
	}
}

// newAccount creates an account with a verified primary address when
// email is set, and returns its id.
func newAccount(t *testing.T, st store.Store, a identity.Account, email string) string {
	t.Helper()
	if a.Status == "" {
		a.Status = identity.StatusActive
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		if email != "" {
			if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: email, Verified: true, Primary: true, Source: "csv:ars"}); err != nil {
				return err
			}
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID})
	}); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// addLink gives account id a link of another source.
func addLink(t *testing.T, st store.Store, id string, status identity.LinkStatus) {
	t.Helper()
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Links().Create(ctx, &identity.Link{Source: "csv:ars", ExternalID: "ars-" + id, AccountID: id, Status: status}); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountLinked, Actor: "test", AccountID: id})
	}); err != nil {
		t.Fatal(err)
	}
}

// mergeInto merges account retired into survivor as an admin would, links
// and all.
func mergeInto(t *testing.T, st store.Store, retired, survivor string) {
	t.Helper()
	if err := st.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Accounts().Get(ctx, retired)
		if err != nil {
			return err
		}
		rec := identity.MergeRecord{SurvivorID: survivor, RetiredID: retired, Reason: identity.MergeByAdmin, Actor: "test",
			Moved: identity.Moved{Retired: &identity.AccountState{Status: r.Status, Version: r.Version}}}
		r.Status, r.MergedInto = identity.StatusMerged, survivor
		if err := tx.Accounts().Update(ctx, &r); err != nil {
			return err
		}
		if err := tx.Merges().Create(ctx, &rec); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountMerged, Actor: "test", AccountID: survivor,
			Data: identity.MergeEventData{MergeID: rec.ID, SurvivorID: survivor, RetiredID: retired}})
	}); err != nil {
		t.Fatal(err)
	}
}

// addToken gives account id a pending one-time token.
func addToken(t *testing.T, st store.Store, id string) {
	t.Helper()
	if err := st.Update(ctx, func(tx store.Tx) error {
		tok := store.OneTimeToken{Purpose: store.PurposeActivation, Hash: []byte("hash-" + id), AccountID: id, ExpiresAt: time.Now().Add(time.Hour)}
		if err := tx.Tokens().Create(ctx, &tok); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "test.token", Actor: "test", AccountID: id})
	}); err != nil {
		t.Fatal(err)
	}
}

func snapshotOf(t *testing.T, st store.Store) identity.Snapshot {
	t.Helper()
	var s identity.Snapshot
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		s, err = tx.Snapshot(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// linkOf returns the link of source ldap:campus with this external id, and
// whether it exists.
func linkOf(t *testing.T, st store.Store, externalID string) (identity.Link, bool) {
	t.Helper()
	var l identity.Link
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		l, err = tx.Links().Get(ctx, "ldap:campus", externalID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return l, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return l, true
}

func accountByID(t *testing.T, st store.Store, id string) identity.Account {
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

// eventWatch returns a function listing the events committed since
// eventWatch was called, failing t unless the audit log holds the same ones
// as the outbox, in the same order.
func eventWatch(t *testing.T, st store.Store) func() []store.OutboxEvent {
	t.Helper()
	head := outboxHead(t, st)
	audit := func() []store.AuditEntry {
		t.Helper()
		var es []store.AuditEntry
		if err := st.View(ctx, func(tx store.Tx) error {
			var err error
			es, err = tx.Audit().List(ctx, store.AuditQuery{Limit: 1000})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		slices.Reverse(es) // oldest first
		return es
	}
	seen := len(audit())
	return func() []store.OutboxEvent {
		t.Helper()
		evs, err := st.Outbox().After(ctx, head, 1000)
		if err != nil {
			t.Fatal(err)
		}
		entries := audit()[seen:]
		if len(entries) != len(evs) {
			t.Fatalf("%d new audit entries, %d new outbox events", len(entries), len(evs))
		}
		for i, e := range entries {
			if e.Type != evs[i].Type || e.AccountID != evs[i].AccountID {
				t.Fatalf("audit entry %d is %s on %s, outbox event %s on %s", i, e.Type, e.AccountID, evs[i].Type, evs[i].AccountID)
			}
		}
		return evs
	}
}

func eventTypes(evs []store.OutboxEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func fieldNames(fs []FieldChange) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Field)
	}
	slices.Sort(out)
	return out
}

func errorFields(es []EntryError) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Field)
	}
	return out
}

// newAccountName is what a case's wantAccount says of an account Apply
// creates.
const newAccountName = "(new)"

func TestApply(t *testing.T) {
	seedLinked := func(t *testing.T, f *oneFixture) {
		f.ids["linked"] = mustApply(t, f, camille(), "", Options{}, "create").AccountID
	}
	seedTarget := func(t *testing.T, f *oneFixture) {
		f.ids["target"] = newAccount(t, f.st, identity.Account{GivenName: "Cam", FamilyName: "Martin"}, "")
	}
	seedINE := func(t *testing.T, f *oneFixture) {
		f.ids["ine"] = newAccount(t, f.st, identity.Account{GivenName: "Camille", FamilyName: "Martin",
			Attributes: map[string][]string{"ine": {"0999999999X"}}}, "")
	}
	seedAddressOwner := func(t *testing.T, f *oneFixture) {
		f.ids["owner"] = newAccount(t, f.st, identity.Account{GivenName: "Camille", FamilyName: "M."}, "camille.martin@univ-test.fr")
	}
	seeds := func(fns ...func(*testing.T, *oneFixture)) func(*testing.T, *oneFixture) {
		return func(t *testing.T, f *oneFixture) {
			for _, fn := range fns {
				fn(t, f)
			}
		}
	}
	withINE := with(camille(), "supannCodeINE", "0999999999x")

	tests := []struct {
		name   string
		cfg    Config
		setup  func(t *testing.T, f *oneFixture)
		entry  connectors.Entry
		target string // a name of the fixture's accounts, or an id
		opts   Options
		// wantErr is the error Apply returns (nothing is written).
		wantErr error
		wantOp  string
		// wantAccount names the account of the outcome: one of the
		// fixture's, newAccountName, or "" for none.
		wantAccount string
		wantBy      identity.LookupKind
		wantFields  []string // sorted
		wantErrors  []string // the fields of Outcome.Errors
		wantEvents  []string
		check       func(t *testing.T, f *oneFixture, out Outcome)
	}{
		{
			name: "create", entry: camille(),
			wantOp: "create", wantAccount: newAccountName,
			wantFields: []string{"email", "family_name", "given_name", "login"},
			wantEvents: []string{identity.EventAccountCreated},
			check: func(t *testing.T, f *oneFixture, out Outcome) {
				a, es, l := accountOf(t, f.st, "u1")
				if a.ID != out.AccountID || a.Login != "cmartin" || a.FamilyName != "Martin" || a.Status != identity.StatusActive ||
					a.Provenance["family_name"] != "ldap:campus" {
					t.Errorf("account = %+v", a)
				}
				if l.Status != identity.LinkActive || l.Attributes[snapName][0] != camille().Name {
					t.Errorf("link = %+v", l)
				}
				if len(es) != 1 || es[0].Address != "camille.martin@univ-test.fr" || !es[0].Verified || !es[0].Primary {
					t.Errorf("emails = %+v", es)
				}
			},
		},
		{
			name: "create pending activation", cfg: Config{NewAccountStatus: identity.StatusPendingActivation}, entry: camille(),
			wantOp: "create", wantAccount: newAccountName,
			wantFields: []string{"email", "family_name", "given_name", "login"},
			wantEvents: []string{identity.EventAccountCreated},
			check: func(t *testing.T, f *oneFixture, out Outcome) {
				if a := accountByID(t, f.st, out.AccountID); a.Status != identity.StatusPendingActivation {
					t.Errorf("status = %s", a.Status)
				}
			},
		},
		{
			name: "update through the link", setup: seedLinked, entry: with(camille(), "sn", "Martin-Durand"),
			wantOp: "update", wantAccount: "linked",
			wantFields: []string{"family_name"},
			wantEvents: []string{identity.EventAccountUpdated},
			check: func(t *testing.T, f *oneFixture, out Outcome) {
				a, _, l := accountOf(t, f.st, "u1")
				if a.FamilyName != "Martin-Durand" || l.Attributes["sn"][0] != "Martin-Durand" || l.Status != identity.LinkActive {
					t.Errorf("account %+v, link %+v", a, l)
				}
				if out.Fields[0] != (FieldChange{"family_name", "Martin", "Martin-Durand"}) {
					t.Errorf("fields = %+v", out.Fields)
				}
			},
		},
		{
			name: "unchanged", setup: seedLinked, entry: camille(),
			wantOp: "unchanged", wantAccount: "linked",
		},
		{
			name: "a rename changes the snapshot alone", setup: seedLinked,
			entry:  renamed(camille(), "uid=cmartin,ou=alumni,dc=univ-test,dc=fr"),
			wantOp: "update", wantAccount: "linked",
			wantEvents: []string{identity.EventLinkUpdated},
			check: func(t *testing.T, f *oneFixture, out Outcome) {
				if l, _ := linkOf(t, f.st, "u1"); l.Attributes[snapName][0] != "uid=cmartin,ou=alumni,dc=univ-test,dc=fr" {
					t.Errorf("snapshot name = %v", l.Attributes[snapName])
				}
			},
		},
		{
			name: "correlated by verified address", setup: seedAddressOwner, entry: camille(),
			wantOp: "link", wantAccount: "owner", wantBy: identity.LookupEmail,
			wantFields: []string{"family_name", "login"},
			wantEvents: []string{identity.EventAccountLinked, identity.EventAccountUpdated},
			check: func(t *testing.T, f *oneFixture, out Outcome) {
				a, es, l := accountOf(t, f.st, "u1")
				if a.ID != f.ids["owner"] || a.Login != "cmartin" || a.FamilyName != "Martin" || l.Status != identity.LinkActive {
					t.Errorf("account %+v, link %+v", a, l)
				}
				if len(es) != 1 || !es[0].Primary || !es[0].Verified {
					t.Errorf("emails = %+v", es)
				}
			},
		},
		{
			name: "correlated by INE", setup: seedINE, entry: withINE,
			wantOp: "link", wantAccount: "ine", wantBy: identity.LookupINE,
			wantFields: []string{"email", "login"},
			wantEvents: []string{identity.EventAccountLinked, identity.EventAccountUpdated},
		},
		{
			name: "no correlation: a new account", cfg: Config{Correlate: []CorrelateRule{}}, setup: seedINE, entry: withINE,
			wantOp: "create", wantAccount: newAccountName,
			wantFields: []string{"email", "family_name", "given_name", "ine", "login"},
			wantEvents: []string{identity.EventAccountCreated},
		},
		{
			// The INE would correlate the entry with another account:
			// the target wins, without correlation.
			name: "target", setup: seeds(seedTarget, seedINE), entry: withINE, target: "target",
			wantOp: "link", wantAccount: "target",
			wantFields: []string{"email", "given_name", "ine", "login"},
			wantEvents: []string{identity.EventAccountLinked, identity.EventAccountUpdated},
			check: func(t *testing.T, f *oneFixture, out Outcome) {
				a, es, l := accountOf(t, f.st, "u1")
				if a.ID != f.ids["target"] || a.Login != "cmartin" || a.GivenName != "Camille" || l.AccountID != f.ids["target"] {
					t.Errorf("account %+v, link %+v", a, l)
				}
				if len(es) != 1 || es[0].Address != "camille.martin@univ-test.fr" {
					t.Errorf("emails = %+v", es)
				}
			},
		},
		{
			name: "target of an entry linked already: the link wins", setup: seeds(seedLinked, seedTarget),
			entry: with(camille(), "sn", "Martin-Durand"), target: "target",
			wantOp: "update", wantAccount: "linked",
			wantFields: []string{"family_name"},
			wantEvents: []string{identity.EventAccountUpdated},
		},
		{
			name: "target merged", setup: func(t *testing.T, f *oneFixture) {
				seedTarget(t, f)
				f.ids["survivor"] = newAccount(t, f.st, identity.Account{GivenName: "Survivor"}, "")
				mergeInto(t, f.st, f.ids["target"], f.ids["survivor"])
			},
			entry: camille(), target: "target", wantErr: store.ErrNotFound,
		},
		{
			name: "target unknown", entry: camille(), target: "no-such-account", wantErr: store.ErrNotFound,
		},
		{
			name: "refused: login of another account", entry: camille(),
			setup: func(t *testing.T, f *oneFixture) {
				f.ids["owner"] = newAccount(t, f.st, identity.Account{Login: "cmartin", GivenName: "Claude"}, "")
			},
			wantOp: "error", wantErrors: []string{"login"},
		},
		{
			name: "refused: verified address of another account", cfg: Config{Correlate: []CorrelateRule{}},
			setup: seedAddressOwner, entry: camille(),
			wantOp: "error", wantErrors: []string{"email"},
		},
		{
			// A target does not take the address of someone else.
			name: "refused: target, address of another account", setup: seeds(seedTarget, seedAddressOwner),
			entry: camille(), target: "target",
			wantOp: "error", wantErrors: []string{"email"},
		},
		{
			name: "refused: mapping error", entry: person("u1", "cmartin", "Camille", "Martin", ""),
			wantOp: "error", wantErrors: []string{"email"},
		},
		{
			name: "dry run", entry: camille(), opts: Options{DryRun: true},
			wantOp: "create", wantAccount: newAccountName,
			wantFields: []string{"email", "family_name", "given_name", "login"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.EachStore(t, func(t *testing.T, st store.Store) {
				f := &oneFixture{st: st, in: newIngester(t, st, tc.cfg), ids: map[string]string{}}
				if tc.setup != nil {
					tc.setup(t, f)
				}
				target := tc.target
				if id, ok := f.ids[target]; ok {
					target = id
				}
				wantOutcome := func(t *testing.T, out Outcome, err error) {
					t.Helper()
					if tc.wantErr != nil {
						if !errors.Is(err, tc.wantErr) {
							t.Fatalf("Apply = %+v, %v; want error %v", out, err, tc.wantErr)
						}
						return
					}
					if err != nil {
						t.Fatalf("Apply: %v", err)
					}
					if out.Op != tc.wantOp || out.By != tc.wantBy {
						t.Fatalf("Apply = %+v; want op %s by %q", out, tc.wantOp, tc.wantBy)
					}
					switch tc.wantAccount {
					case newAccountName:
						if out.AccountID == "" || slices.Contains(slices.Collect(maps.Values(f.ids)), out.AccountID) {
							t.Errorf("account = %q, want a new one", out.AccountID)
						}
					default:
						if want := f.ids[tc.wantAccount]; out.AccountID != want {
							t.Errorf("account = %q, want %s (%q)", out.AccountID, tc.wantAccount, want)
						}
					}
					if got := fieldNames(out.Fields); !slices.Equal(got, tc.wantFields) {
						t.Errorf("fields = %v, want %v", got, tc.wantFields)
					}
					if got := errorFields(out.Errors); !slices.Equal(got, tc.wantErrors) {
						t.Errorf("errors = %+v, want fields %v", out.Errors, tc.wantErrors)
					}
					for _, e := range out.Errors {
						if e.DN != tc.entry.Name || e.Reason == "" {
							t.Errorf("error %+v does not locate the entry", e)
						}
					}
				}

				// The caller rolls its transaction back: nothing stays,
				// neither the change nor its events.
				before := snapshotOf(t, st)
				events := eventWatch(t, st)
				out, err := applyIn(f, tc.entry, target, tc.opts, false)
				wantOutcome(t, out, err)
				if got := events(); len(got) != 0 {
					t.Fatalf("a rolled back Apply left events %v", eventTypes(got))
				}
				if after := snapshotOf(t, st); !reflect.DeepEqual(before, after) {
					t.Fatal("a rolled back Apply changed the store")
				}

				// The caller commits: the change and its events, each in
				// the audit log and the outbox, are written together.
				out, err = applyIn(f, tc.entry, target, tc.opts, true)
				wantOutcome(t, out, err)
				evs := events()
				if got := eventTypes(evs); !slices.Equal(got, tc.wantEvents) {
					t.Errorf("events = %v, want %v", got, tc.wantEvents)
				}
				for _, e := range evs {
					if e.AccountID != out.AccountID {
						t.Errorf("event %s is about account %q, not %q", e.Type, e.AccountID, out.AccountID)
					}
				}
				if len(tc.wantEvents) == 0 {
					if after := snapshotOf(t, st); !reflect.DeepEqual(before, after) {
						t.Error("an Apply that recorded no event changed the store")
					}
				}
				if tc.check != nil && !t.Failed() {
					tc.check(t, f, out)
				}
				storetest.CheckInvariants(t, st)
			})
		})
	}
}

func TestLeave(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		// setup runs after u1 has its account, "acc", with a pending
		// one-time token.
		setup         func(t *testing.T, f *oneFixture)
		externalID    string
		remove        bool
		wantErr       error
		wantSuspended bool
		// wantLink is the status of u1's link after, "" when deleted.
		wantLink   identity.LinkStatus
		wantStatus identity.Status
		wantEvents []string
	}{
		{
			name: "gone: the last link suspends", externalID: "u1",
			wantSuspended: true, wantLink: identity.LinkGone, wantStatus: identity.StatusSuspended,
			wantEvents: []string{identity.EventLinkGone, identity.EventAccountSuspended},
		},
		{
			name: "gone: another active link keeps the account", externalID: "u1",
			setup:    func(t *testing.T, f *oneFixture) { addLink(t, f.st, f.ids["acc"], identity.LinkActive) },
			wantLink: identity.LinkGone, wantStatus: identity.StatusActive,
			wantEvents: []string{identity.EventLinkGone},
		},
		{
			name: "gone: another link gone too", externalID: "u1",
			setup:         func(t *testing.T, f *oneFixture) { addLink(t, f.st, f.ids["acc"], identity.LinkGone) },
			wantSuspended: true, wantLink: identity.LinkGone, wantStatus: identity.StatusSuspended,
			wantEvents: []string{identity.EventLinkGone, identity.EventAccountSuspended},
		},
		{
			name: "gone: on_gone keep", cfg: Config{OnGone: GoneKeep}, externalID: "u1",
			wantLink: identity.LinkGone, wantStatus: identity.StatusActive,
			wantEvents: []string{identity.EventLinkGone},
		},
		{
			name: "gone: already gone", externalID: "u1",
			setup:    func(t *testing.T, f *oneFixture) { mustLeave(t, f, "u1", false) },
			wantLink: identity.LinkGone, wantStatus: identity.StatusSuspended,
		},
		{
			name: "remove: the last link suspends", externalID: "u1", remove: true,
			wantSuspended: true, wantStatus: identity.StatusSuspended,
			wantEvents: []string{identity.EventLinkRemoved, identity.EventAccountSuspended},
		},
		{
			name: "remove: another active link keeps the account", externalID: "u1", remove: true,
			setup:      func(t *testing.T, f *oneFixture) { addLink(t, f.st, f.ids["acc"], identity.LinkActive) },
			wantStatus: identity.StatusActive,
			wantEvents: []string{identity.EventLinkRemoved},
		},
		{
			name: "remove: on_gone keep", cfg: Config{OnGone: GoneKeep}, externalID: "u1", remove: true,
			wantStatus: identity.StatusActive,
			wantEvents: []string{identity.EventLinkRemoved},
		},
		{
			name: "remove: a gone link", externalID: "u1", remove: true,
			setup:      func(t *testing.T, f *oneFixture) { mustLeave(t, f, "u1", false) },
			wantStatus: identity.StatusSuspended,
			wantEvents: []string{identity.EventLinkRemoved},
		},
		{
			name: "gone: unknown external id", externalID: "nobody", wantErr: store.ErrNotFound,
			wantLink: identity.LinkActive, wantStatus: identity.StatusActive,
		},
		{
			name: "remove: unknown external id", externalID: "nobody", remove: true, wantErr: store.ErrNotFound,
			wantLink: identity.LinkActive, wantStatus: identity.StatusActive,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.EachStore(t, func(t *testing.T, st store.Store) {
				f := &oneFixture{st: st, in: newIngester(t, st, tc.cfg), ids: map[string]string{}}
				acc := mustApply(t, f, camille(), "", Options{}, "create").AccountID
				f.ids["acc"] = acc
				addToken(t, st, acc)
				if tc.setup != nil {
					tc.setup(t, f)
				}
				wantResult := func(t *testing.T, suspended bool, err error) {
					t.Helper()
					if tc.wantErr != nil {
						if !errors.Is(err, tc.wantErr) {
							t.Fatalf("Leave = %v; want error %v", err, tc.wantErr)
						}
						return
					}
					if err != nil || suspended != tc.wantSuspended {
						t.Fatalf("Leave = %v, %v; want suspended %v", suspended, err, tc.wantSuspended)
					}
				}

				before := snapshotOf(t, st)
				events := eventWatch(t, st)
				suspended, err := leaveIn(f, tc.externalID, tc.remove, false)
				wantResult(t, suspended, err)
				if got := events(); len(got) != 0 {
					t.Fatalf("a rolled back Leave left events %v", eventTypes(got))
				}
				if after := snapshotOf(t, st); !reflect.DeepEqual(before, after) {
					t.Fatal("a rolled back Leave changed the store")
				}

				suspended, err = leaveIn(f, tc.externalID, tc.remove, true)
				wantResult(t, suspended, err)
				evs := events()
				if got := eventTypes(evs); !slices.Equal(got, tc.wantEvents) {
					t.Errorf("events = %v, want %v", got, tc.wantEvents)
				}
				for _, e := range evs {
					if e.AccountID != acc {
						t.Errorf("event %s is about account %q, not %q", e.Type, e.AccountID, acc)
					}
				}
				l, ok := linkOf(t, st, "u1")
				switch {
				case tc.wantLink == "" && ok:
					t.Errorf("link = %+v, want it deleted", l)
				case tc.wantLink != "" && (!ok || l.Status != tc.wantLink):
					t.Errorf("link = %+v (exists %v), want %s", l, ok, tc.wantLink)
				}
				a := accountByID(t, st, acc)
				if a.Status != tc.wantStatus {
					t.Errorf("account status = %s, want %s", a.Status, tc.wantStatus)
				}
				// A suspension records on the link what to restore, and
				// voids the account's pending tokens.
				if tc.wantSuspended && ok && !slices.Equal(l.Attributes[snapSuspendedFrom], []string{"active"}) {
					t.Errorf("link snapshot = %v, want the status it suspended", l.Attributes)
				}
				wantTokens := 1
				if a.Status == identity.StatusSuspended {
					wantTokens = 0
				}
				if n := len(snapshotOf(t, st).Tokens); n != wantTokens {
					t.Errorf("%d pending tokens, want %d", n, wantTokens)
				}
				storetest.CheckInvariants(t, st)
			})
		})
	}
}

func TestApplyKeepGone(t *testing.T) {
	changed := with(camille(), "sn", "Martin-Durand")
	tests := []struct {
		name string
		// active leaves u1's link active; otherwise it is gone and its
		// account suspended before the case.
		active     bool
		entry      connectors.Entry
		keepGone   bool
		wantOp     string
		wantFields []string
		wantEvents []string
		wantLink   identity.LinkStatus
		wantStatus identity.Status
		// thenRestore applies the entry again without KeepGone: the link
		// comes back and the account with it.
		thenRestore bool
	}{
		{
			name: "keep gone: fields updated, link and account as they were", entry: changed, keepGone: true,
			wantOp: "update", wantFields: []string{"family_name"}, wantEvents: []string{identity.EventAccountUpdated},
			wantLink: identity.LinkGone, wantStatus: identity.StatusSuspended, thenRestore: true,
		},
		{
			name: "keep gone: the snapshot alone", entry: renamed(camille(), "uid=cmartin,ou=alumni,dc=univ-test,dc=fr"), keepGone: true,
			wantOp: "update", wantEvents: []string{identity.EventLinkUpdated},
			wantLink: identity.LinkGone, wantStatus: identity.StatusSuspended, thenRestore: true,
		},
		{
			name: "keep gone: the same entry changes nothing", entry: camille(), keepGone: true,
			wantOp:   "unchanged",
			wantLink: identity.LinkGone, wantStatus: identity.StatusSuspended, thenRestore: true,
		},
		{
			name: "restore: the link comes back, the account is reactivated", entry: changed,
			wantOp: "restore", wantFields: []string{"family_name", "status"},
			wantEvents: []string{identity.EventLinkRestored, identity.EventAccountActivated},
			wantLink:   identity.LinkActive, wantStatus: identity.StatusActive,
		},
		{
			name: "restore: the same entry", entry: camille(),
			wantOp: "restore", wantFields: []string{"status"},
			wantEvents: []string{identity.EventLinkRestored, identity.EventAccountActivated},
			wantLink:   identity.LinkActive, wantStatus: identity.StatusActive,
		},
		{
			name: "keep gone on an active link: a plain update", active: true, entry: changed, keepGone: true,
			wantOp: "update", wantFields: []string{"family_name"}, wantEvents: []string{identity.EventAccountUpdated},
			wantLink: identity.LinkActive, wantStatus: identity.StatusActive,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.EachStore(t, func(t *testing.T, st store.Store) {
				f := &oneFixture{st: st, in: newIngester(t, st, Config{}), ids: map[string]string{}}
				acc := mustApply(t, f, camille(), "", Options{}, "create").AccountID
				if !tc.active {
					mustLeave(t, f, "u1", false)
				}
				events := eventWatch(t, st)
				out, err := applyIn(f, tc.entry, "", Options{KeepGone: tc.keepGone}, true)
				if err != nil || out.Op != tc.wantOp || out.AccountID != acc {
					t.Fatalf("Apply = %+v, %v; want op %s on %s", out, err, tc.wantOp, acc)
				}
				if got := fieldNames(out.Fields); !slices.Equal(got, tc.wantFields) {
					t.Errorf("fields = %v, want %v", got, tc.wantFields)
				}
				if got := eventTypes(events()); !slices.Equal(got, tc.wantEvents) {
					t.Errorf("events = %v, want %v", got, tc.wantEvents)
				}
				a, _, l := accountOf(t, st, "u1")
				if l.Status != tc.wantLink || a.Status != tc.wantStatus {
					t.Fatalf("link %s, account %s; want %s, %s", l.Status, a.Status, tc.wantLink, tc.wantStatus)
				}
				// The account and the snapshot hold the entry's data.
				if want := tc.entry.Attributes["sn"][0]; a.FamilyName != want || l.Attributes["sn"][0] != want ||
					l.Attributes[snapName][0] != tc.entry.Name {
					t.Errorf("account family name %q, snapshot %v; want %q, %q", a.FamilyName, l.Attributes, want, tc.entry.Name)
				}
				if a.Provenance[mapping.FieldFamilyName] != "ldap:campus" {
					t.Errorf("provenance = %v", a.Provenance)
				}
				wantFrom := []string(nil)
				if l.Status == identity.LinkGone {
					wantFrom = []string{"active"}
				}
				if got := l.Attributes[snapSuspendedFrom]; !slices.Equal(got, wantFrom) {
					t.Errorf("link %s records suspension from %v, want %v", l.Status, got, wantFrom)
				}
				storetest.CheckInvariants(t, st)

				if tc.thenRestore {
					out := mustApply(t, f, tc.entry, "", Options{}, "restore")
					if out.AccountID != acc || !slices.Equal(fieldNames(out.Fields), []string{"status"}) {
						t.Errorf("restore = %+v", out)
					}
					a, _, l := accountOf(t, st, "u1")
					if l.Status != identity.LinkActive || a.Status != identity.StatusActive || l.Attributes[snapSuspendedFrom] != nil {
						t.Errorf("after restore: link %s %v, account %s", l.Status, l.Attributes, a.Status)
					}
				}
			})
		})
	}
}

// TestOnCreate: the hook runs once per account created, in the creating
// transaction (a failing hook writes nothing), never on an update.
func TestOnCreate(t *testing.T) {
	st := storetest.OpenSQLite(t)
	in := newIngester(t, st, Config{NewAccountStatus: identity.StatusPendingActivation})
	var seen []identity.Account
	fail := errors.New("hook failed")
	var failNext bool
	in.src.OnCreate = func(ctx context.Context, tx store.Tx, acc identity.Account) error {
		if failNext {
			return fail
		}
		seen = append(seen, acc)
		return tx.Record(ctx, store.Event{Type: "test.hook", Actor: "test", AccountID: acc.ID})
	}
	f := &oneFixture{st: st, in: in, ids: map[string]string{}}

	failNext = true
	if _, err := applyIn(f, camille(), "", Options{}, true); !errors.Is(err, fail) {
		t.Fatalf("apply with a failing hook: %v", err)
	}
	if s := snapshotOf(t, st); len(s.Accounts) != 0 {
		t.Fatalf("a failing hook left %d accounts", len(s.Accounts))
	}
	failNext = false
	out := mustApply(t, f, camille(), "", Options{}, "create")
	if len(seen) != 1 || seen[0].ID != out.AccountID || seen[0].Status != identity.StatusPendingActivation {
		t.Fatalf("hook saw %+v for %s", seen, out.AccountID)
	}
	mustApply(t, f, with(camille(), "givenName", "Camila"), "", Options{}, "update")
	if len(seen) != 1 {
		t.Errorf("the hook ran on an update: %d calls", len(seen))
	}
}
