package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// testLinksBySource checks the batch and paged reads of a source's links.
func testLinksBySource(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "a")
	update(t, st, func(tx store.Tx) error {
		for _, id := range []string{"u3", "u1", "u2"} {
			if err := tx.Links().Create(ctx, &identity.Link{Source: "ldap:campus", ExternalID: id, AccountID: a.ID}); err != nil {
				return err
			}
		}
		return tx.Links().Create(ctx, &identity.Link{Source: "csv:ars", ExternalID: "u1", AccountID: a.ID})
	})
	got := view(t, st, func(tx store.Tx) (map[string]identity.Link, error) {
		return tx.Links().GetMany(ctx, "ldap:campus", []string{"u1", "u3", "missing"})
	})
	if len(got) != 2 || got["u1"].Source != "ldap:campus" || got["u3"].AccountID != a.ID {
		t.Fatalf("GetMany = %v", got)
	}
	byAccount := view(t, st, func(tx store.Tx) (map[string][]identity.Link, error) {
		return tx.Links().ListByAccounts(ctx, []string{a.ID, "missing"})
	})
	if len(byAccount) != 1 || len(byAccount[a.ID]) != 4 {
		t.Fatalf("ListByAccounts = %v", byAccount)
	}
	var ids []string
	after := ""
	for {
		page := view(t, st, func(tx store.Tx) ([]identity.Link, error) {
			return tx.Links().ListBySource(ctx, "ldap:campus", after, 2)
		})
		if len(page) == 0 {
			break
		}
		for _, l := range page {
			ids = append(ids, l.ExternalID)
		}
		after = page[len(page)-1].ExternalID
	}
	if !slices.Equal(ids, []string{"u1", "u2", "u3"}) {
		t.Fatalf("ListBySource pages = %v", ids)
	}
}

// testLookup checks the lookup keys: kept for live accounts, visible to the
// writing transaction, dropped for merged accounts and removed values.
func testLookup(t *testing.T, st store.Store, _ Options) {
	a := identity.Account{Status: identity.StatusActive, Login: "camille", GivenName: "Camille", FamilyName: "Martin",
		BirthDate: "1999-04-12", Attributes: map[string][]string{"ine": {" 0123456789a "}, "recovery_email": {"Camille@Perso.example"}}}
	var seenInTx map[string][]string
	update(t, st, func(tx store.Tx) error {
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: "camille.martin@univ.example", Verified: true, Primary: true}); err != nil {
			return err
		}
		if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: "pending@univ.example"}); err != nil {
			return err
		}
		var err error
		seenInTx, err = tx.Accounts().Lookup(ctx, identity.LookupEmail, []string{"camille.martin@univ.example"})
		return err
	})
	if !slices.Equal(seenInTx["camille.martin@univ.example"], []string{a.ID}) {
		t.Fatalf("Lookup inside the writing transaction = %v", seenInTx)
	}
	lookup := func(kind identity.LookupKind, values ...string) map[string][]string {
		t.Helper()
		return view(t, st, func(tx store.Tx) (map[string][]string, error) { return tx.Accounts().Lookup(ctx, kind, values) })
	}
	for _, c := range []struct {
		kind  identity.LookupKind
		value string
	}{
		{identity.LookupEmail, "camille.martin@univ.example"},
		{identity.LookupINE, "0123456789A"},
		{identity.LookupRecoveryEmail, "camille@perso.example"},
		{identity.LookupNameBirthDate, "martin|camille|1999-04-12"},
		{identity.LookupLogin, "camille"},
	} {
		if got := lookup(c.kind, c.value, "other"); len(got) != 1 || !slices.Equal(got[c.value], []string{a.ID}) {
			t.Errorf("Lookup(%s, %q) = %v", c.kind, c.value, got)
		}
	}
	if got := lookup(identity.LookupEmail, "pending@univ.example"); len(got) != 0 {
		t.Errorf("a pending address is a lookup key: %v", got)
	}
	// A changed value replaces the old key.
	update(t, st, func(tx store.Tx) error {
		cur, err := tx.Accounts().Get(ctx, a.ID)
		if err != nil {
			return err
		}
		cur.Attributes["ine"] = []string{"9999999999Z"}
		return tx.Accounts().Update(ctx, &cur)
	})
	if got := lookup(identity.LookupINE, "0123456789A", "9999999999Z"); len(got) != 1 || len(got["9999999999Z"]) != 1 {
		t.Errorf("after changing the INE: %v", got)
	}
	// A merged account holds no keys.
	b := newAccount(t, st, "b")
	merge(t, st, b.ID, a.ID)
	if got := lookup(identity.LookupINE, "9999999999Z"); len(got) != 0 {
		t.Errorf("a merged account still has lookup keys: %v", got)
	}
	if got := lookup(identity.LookupEmail, "camille.martin@univ.example"); len(got) != 0 {
		t.Errorf("a merged account is still found by e-mail: %v", got)
	}
}

// testSyncStates checks connector bookkeeping and its lease.
func testSyncStates(t *testing.T, st store.Store, _ Options) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	got := view(t, st, func(tx store.Tx) (store.SyncState, error) { return tx.SyncStates().Get(ctx, "campus") })
	if got.Connector != "campus" || got.LeaseOwner != "" || got.Mark != nil {
		t.Fatalf("state of a connector never synced = %+v", got)
	}
	acquire := func(owner string, at time.Time) error {
		// Bookkeeping writes need no event.
		return st.Update(ctx, func(tx store.Tx) error {
			_, err := tx.SyncStates().Acquire(ctx, "campus", owner, at, at.Add(time.Minute))
			return err
		})
	}
	fatalIf(t, acquire("host-a", now))
	err := acquire("host-b", now.Add(30*time.Second))
	var held *store.LeaseHeldError
	if !errors.As(err, &held) || held.Owner != "host-a" || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second owner acquiring a held lease: %v", err)
	}
	fatalIf(t, acquire("host-a", now.Add(30*time.Second))) // renewal
	fatalIf(t, acquire("host-b", now.Add(2*time.Minute)))  // expired: taken over
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
		if err := tx.SyncStates().Release(ctx, "campus", "host-a"); err != nil { // not the holder: no effect
			return err
		}
		return tx.SyncStates().Save(ctx, &store.SyncState{Connector: "campus", Mark: []byte(`{"csn":"x"}`), LastRunAt: now, LastFullAt: now,
			LastResult: []byte(`{"created":1}`)})
	}))
	got = view(t, st, func(tx store.Tx) (store.SyncState, error) { return tx.SyncStates().Get(ctx, "campus") })
	if got.LeaseOwner != "host-b" || string(got.Mark) != `{"csn":"x"}` || !got.LastRunAt.Equal(now) || len(got.LastResult) == 0 {
		t.Fatalf("state after save = %+v", got)
	}
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error { return tx.SyncStates().Release(ctx, "campus", "host-b") }))
	fatalIf(t, acquire("host-c", now.Add(2*time.Minute)))
}

// testImports checks the import records.
func testImports(t *testing.T, st store.Store, _ Options) {
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	var ids []string
	for i, c := range []string{"ars", "ars", "other"} {
		rec := store.ImportRecord{Connector: c, FileName: "interns.csv", FileSHA256: "ab", Actor: "token:ops", DryRun: i == 1,
			Status: "completed", StartedAt: at.Add(time.Duration(i) * time.Minute), FinishedAt: at.Add(time.Duration(i)*time.Minute + time.Second),
			Report: []byte(`{"created":2}`)}
		update(t, st, func(tx store.Tx) error { return tx.Imports().Create(ctx, &rec) })
		ids = append(ids, rec.ID)
	}
	got := view(t, st, func(tx store.Tx) (store.ImportRecord, error) { return tx.Imports().Get(ctx, ids[1]) })
	if got.Connector != "ars" || !got.DryRun || !got.StartedAt.Equal(at.Add(time.Minute)) || string(got.Report) != `{"created":2}` {
		t.Fatalf("Get = %+v", got)
	}
	list := view(t, st, func(tx store.Tx) ([]store.ImportRecord, error) { return tx.Imports().List(ctx, "ars", 0) })
	if len(list) != 2 || list[0].ID != ids[1] || list[1].ID != ids[0] {
		t.Fatalf("List(ars) = %v", list)
	}
	if all := view(t, st, func(tx store.Tx) ([]store.ImportRecord, error) { return tx.Imports().List(ctx, "", 1) }); len(all) != 1 || all[0].ID != ids[2] {
		t.Fatalf("List(all, 1) = %v", all)
	}
	_, err := func() (store.ImportRecord, error) {
		var r store.ImportRecord
		err := st.View(ctx, func(tx store.Tx) error { var err error; r, err = tx.Imports().Get(ctx, "missing"); return err })
		return r, err
	}()
	wantErr(t, err, store.ErrNotFound)
}
