package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

func testMigrate(t *testing.T, st store.Store, _ Options) {
	res, err := st.Migrate(ctx)
	fatalIf(t, err)
	if len(res.Applied) != 0 || res.Version < 1 {
		t.Fatalf("second Migrate applied %v (version %d), want nothing at version >= 1", res.Applied, res.Version)
	}
}

func testAccounts(t *testing.T, st store.Store, _ Options) {
	visible := true
	a := identity.Account{
		Status: identity.StatusPendingActivation, Login: "  Franck.Cavel ", GivenName: "Franck", FamilyName: "CAVEL",
		DisplayName: "Franck CAVEL", BirthDate: "1978-06-01", Phone: "+33600000000",
		Attributes: map[string][]string{identity.FieldAffiliation: {"member", "staff"}},
		Provenance: map[string]string{identity.FieldGivenName: "ldap:campus"},
		Consents:   identity.Consents{CharterVersion: "2024-1", DirectoryVisible: &visible},
	}
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Create(ctx, &a) })
	if a.ID == "" || a.Version != 1 || a.CreatedAt.IsZero() || a.Login != "franck.cavel" {
		t.Fatalf("after Create: id %q version %d created %v login %q", a.ID, a.Version, a.CreatedAt, a.Login)
	}
	got := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().Get(ctx, a.ID) })
	if got.Login != "franck.cavel" || got.BirthDate != "1978-06-01" || got.Status != identity.StatusPendingActivation ||
		!slices.Equal(got.Attributes[identity.FieldAffiliation], []string{"member", "staff"}) ||
		got.Provenance[identity.FieldGivenName] != "ldap:campus" || got.Consents.DirectoryVisible == nil ||
		!*got.Consents.DirectoryVisible || got.Consents.CharterVersion != "2024-1" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("Get returned %+v, want %+v", got, a)
	}
	byLogin := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().GetByLogin(ctx, "FRANCK.CAVEL") })
	if byLogin.ID != a.ID {
		t.Fatalf("GetByLogin found %s, want %s", byLogin.ID, a.ID)
	}

	// Update bumps the version; a stale version conflicts.
	stale := got
	got.Status = identity.StatusActive
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &got) })
	if got.Version != 2 {
		t.Fatalf("version after Update = %d, want 2", got.Version)
	}
	stale.GivenName = "Lost"
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &stale) }), store.ErrConflict)
	again := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().Get(ctx, a.ID) })
	if again.GivenName != "Franck" || again.Status != identity.StatusActive || again.Version != 2 {
		t.Fatalf("after stale update: %+v", again)
	}

	// Unknown ids, duplicate logins, bad states.
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Accounts().Get(ctx, "nope"); return err }), store.ErrNotFound)
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Accounts().GetByLogin(ctx, "nope"); return err }), store.ErrNotFound)
	ghost := identity.Account{ID: "ghost", Status: identity.StatusActive, Version: 1}
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &ghost) }), store.ErrNotFound)
	dup := identity.Account{Status: identity.StatusActive, Login: "franck.CAVEL"}
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error { return tx.Accounts().Create(ctx, &dup) }), "login")
	sameID := identity.Account{ID: a.ID, Status: identity.StatusActive}
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error { return tx.Accounts().Create(ctx, &sameID) }), "account id")
	bad := identity.Account{Status: "sleeping"}
	if err := updateErr(st, func(tx store.Tx) error { return tx.Accounts().Create(ctx, &bad) }); err == nil {
		t.Fatal("Create accepted an unknown status")
	}
	halfMerged := identity.Account{Status: identity.StatusMerged}
	if err := updateErr(st, func(tx store.Tx) error { return tx.Accounts().Create(ctx, &halfMerged) }); err == nil {
		t.Fatal("Create accepted a merged account without merged_into")
	}
	// Accounts without a login do not collide.
	for range 2 {
		noLogin := identity.Account{Status: identity.StatusActive}
		update(t, st, func(tx store.Tx) error { return tx.Accounts().Create(ctx, &noLogin) })
	}
}

func testAccountsList(t *testing.T, st store.Store, _ Options) {
	var ids []string
	for _, login := range []string{"alice", "bob", "carol", "dave", "erin"} {
		ids = append(ids, newAccount(t, st, login).ID)
	}
	update(t, st, func(tx store.Tx) error {
		return tx.Emails().Add(ctx, &identity.Email{AccountID: ids[1], Address: "Robert.Smith@Example.org", Verified: true})
	})
	suspended := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().Get(ctx, ids[4]) })
	suspended.Status = identity.StatusSuspended
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &suspended) })

	list := func(q store.AccountQuery) []string {
		accounts := view(t, st, func(tx store.Tx) ([]identity.Account, error) { return tx.Accounts().List(ctx, q) })
		var logins []string
		for _, a := range accounts {
			logins = append(logins, a.Login)
		}
		return logins
	}
	if got := list(store.AccountQuery{Text: "ROBERT.smith"}); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("search by e-mail: %v", got)
	}
	if got := list(store.AccountQuery{Text: "family car"}); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("search by name: %v", got)
	}
	if got := list(store.AccountQuery{Text: "100%_"}); len(got) != 0 {
		t.Errorf("LIKE wildcards must be literal: %v", got)
	}
	update(t, st, func(tx store.Tx) error {
		if err := tx.Orgs().Put(ctx, &identity.Org{ID: "cpts-sud", Name: "CPTS Sud"}); err != nil {
			return err
		}
		return tx.Memberships().Put(ctx, &identity.Membership{OrgID: "cpts-sud", AccountID: ids[2]})
	})
	if got := list(store.AccountQuery{OrgID: "cpts-sud"}); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("by org: %v", got)
	}
	if got := list(store.AccountQuery{Statuses: []identity.Status{identity.StatusSuspended}}); !slices.Equal(got, []string{"erin"}) {
		t.Errorf("by status: %v", got)
	}
	// Paging by cursor visits every account once.
	var seen []string
	after := ""
	for {
		page := view(t, st, func(tx store.Tx) ([]identity.Account, error) {
			return tx.Accounts().List(ctx, store.AccountQuery{After: after, Limit: 2})
		})
		if len(page) == 0 {
			break
		}
		for _, a := range page {
			seen = append(seen, a.Login)
		}
		after = page[len(page)-1].ID
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"alice", "bob", "carol", "dave", "erin"}) {
		t.Errorf("paging saw %v", seen)
	}
}

// merge marks retired merged into survivor, the way the merge engine will,
// with its record and events, so that invariants hold.
func merge(t testing.TB, st store.Store, survivor, retired string) identity.MergeRecord {
	t.Helper()
	var rec identity.MergeRecord
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Accounts().Get(ctx, retired)
		if err != nil {
			return err
		}
		links, err := tx.Links().ListByAccount(ctx, retired)
		if err != nil {
			return err
		}
		rec = identity.MergeRecord{SurvivorID: survivor, RetiredID: retired, Reason: identity.MergeByAdmin, Actor: "test",
			Moved: identity.Moved{Retired: &identity.AccountState{Status: r.Status, Version: r.Version}}}
		for _, l := range links {
			l.AccountID = survivor
			if err := tx.Links().Update(ctx, &l); err != nil {
				return err
			}
			rec.Moved.Links = append(rec.Moved.Links, identity.LinkKey{Source: l.Source, ExternalID: l.ExternalID})
		}
		r.Status, r.MergedInto = identity.StatusMerged, survivor
		if err := tx.Accounts().Update(ctx, &r); err != nil {
			return err
		}
		if err := tx.Merges().Create(ctx, &rec); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountMerged, Actor: "test", AccountID: survivor,
			Data: identity.MergeEventData{MergeID: rec.ID, SurvivorID: survivor, RetiredID: retired}})
	}))
	return rec
}

func testResolve(t *testing.T, st store.Store, _ Options) {
	a, b, c := newAccount(t, st, "a"), newAccount(t, st, "b"), newAccount(t, st, "c")
	merge(t, st, b.ID, a.ID)
	merge(t, st, c.ID, b.ID)
	root := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().Resolve(ctx, a.ID) })
	if root.ID != c.ID {
		t.Fatalf("Resolve(a) = %s, want c %s", root.ID, c.ID)
	}
	live := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().Resolve(ctx, c.ID) })
	if live.ID != c.ID {
		t.Fatalf("Resolve(c) = %s", live.ID)
	}
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Accounts().Resolve(ctx, "nope"); return err }), store.ErrNotFound)
	// Merged accounts are hidden from List by default.
	all := view(t, st, func(tx store.Tx) ([]identity.Account, error) { return tx.Accounts().List(ctx, store.AccountQuery{}) })
	if len(all) != 1 || all[0].ID != c.ID {
		t.Fatalf("List shows %d accounts, want only the live root", len(all))
	}
	CheckInvariants(t, st)
}

func testLinks(t *testing.T, st store.Store, _ Options) {
	a, b := newAccount(t, st, "a"), newAccount(t, st, "b")
	l := identity.Link{Source: "ldap:campus", ExternalID: "0f8c-uuid", AccountID: a.ID,
		Attributes: map[string][]string{"uid": {"a"}}}
	update(t, st, func(tx store.Tx) error { return tx.Links().Create(ctx, &l) })
	got := view(t, st, func(tx store.Tx) (identity.Link, error) { return tx.Links().Get(ctx, "ldap:campus", "0f8c-uuid") })
	if got.AccountID != a.ID || got.Status != identity.LinkActive || got.Attributes["uid"][0] != "a" {
		t.Fatalf("Get link: %+v", got)
	}
	// The same identity cannot be linked twice.
	twice := identity.Link{Source: "ldap:campus", ExternalID: "0f8c-uuid", AccountID: b.ID}
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error { return tx.Links().Create(ctx, &twice) }), "link")
	// A link to a missing account is refused.
	orphan := identity.Link{Source: "ldap:campus", ExternalID: "x", AccountID: "missing"}
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Links().Create(ctx, &orphan) }), store.ErrInvalidReference)
	// Moving and marking gone.
	got.AccountID, got.Status = b.ID, identity.LinkGone
	update(t, st, func(tx store.Tx) error { return tx.Links().Update(ctx, &got) })
	onB := view(t, st, func(tx store.Tx) ([]identity.Link, error) { return tx.Links().ListByAccount(ctx, b.ID) })
	onA := view(t, st, func(tx store.Tx) ([]identity.Link, error) { return tx.Links().ListByAccount(ctx, a.ID) })
	if len(onB) != 1 || onB[0].Status != identity.LinkGone || len(onA) != 0 {
		t.Fatalf("after move: a has %v, b has %v", onA, onB)
	}
	update(t, st, func(tx store.Tx) error { return tx.Links().Delete(ctx, "ldap:campus", "0f8c-uuid") })
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Links().Delete(ctx, "ldap:campus", "0f8c-uuid") }), store.ErrNotFound)
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Links().Update(ctx, &got) }), store.ErrNotFound)
}

func testEmails(t *testing.T, st store.Store, _ Options) {
	uni, agency := newAccount(t, st, "intern"), newAccount(t, st, "agency")
	// Seed 000: the address is verified on the agency account and pending
	// on the university account.
	update(t, st, func(tx store.Tx) error {
		return tx.Emails().Add(ctx, &identity.Email{AccountID: agency.ID, Address: "Cam.Martin97@Mail.example", Verified: true, Primary: true, Source: "csv:ars"})
	})
	update(t, st, func(tx store.Tx) error {
		return tx.Emails().Add(ctx, &identity.Email{AccountID: uni.ID, Address: "cam.martin97@mail.example", Source: "self"})
	})
	owner := view(t, st, func(tx store.Tx) (identity.Email, error) {
		return tx.Emails().FindVerified(ctx, " CAM.MARTIN97@mail.example")
	})
	if owner.AccountID != agency.ID || !owner.Primary || owner.VerifiedAt.IsZero() {
		t.Fatalf("FindVerified: %+v", owner)
	}
	// Verifying it on the second account while the first holds it verified
	// is refused.
	pending := view(t, st, func(tx store.Tx) (identity.Email, error) {
		return tx.Emails().Get(ctx, uni.ID, "cam.martin97@mail.example")
	})
	pending.Verified = true
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error { return tx.Emails().Update(ctx, &pending) }), "verified e-mail")
	// The same address twice on one account, two primaries, bad addresses.
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error {
		return tx.Emails().Add(ctx, &identity.Email{AccountID: uni.ID, Address: "CAM.martin97@mail.example"})
	}), "e-mail on this account")
	update(t, st, func(tx store.Tx) error {
		return tx.Emails().Add(ctx, &identity.Email{AccountID: uni.ID, Address: "camille.martin@univ-test.fr", Verified: true, Primary: true})
	})
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error {
		return tx.Emails().Add(ctx, &identity.Email{AccountID: uni.ID, Address: "other@univ-test.fr", Primary: true})
	}), "primary e-mail")
	if err := updateErr(st, func(tx store.Tx) error {
		return tx.Emails().Add(ctx, &identity.Email{AccountID: uni.ID, Address: "not an address"})
	}); err == nil {
		t.Fatal("Add accepted an invalid address")
	}
	// Releasing it on the agency account lets the university verify it.
	update(t, st, func(tx store.Tx) error { return tx.Emails().Delete(ctx, agency.ID, "cam.martin97@mail.example") })
	update(t, st, func(tx store.Tx) error { return tx.Emails().Update(ctx, &pending) })
	list := view(t, st, func(tx store.Tx) ([]identity.Email, error) { return tx.Emails().ListByAccount(ctx, uni.ID) })
	if len(list) != 2 || !list[0].Primary || list[0].Address != "camille.martin@univ-test.fr" || !list[1].Verified {
		t.Fatalf("ListByAccount (primary first): %+v", list)
	}
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Emails().Delete(ctx, agency.ID, "nobody@example.org") }), store.ErrNotFound)
	CheckInvariants(t, st)
}

func testOrgsMemberships(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "sophie")
	update(t, st, func(tx store.Tx) error {
		return tx.Orgs().Put(ctx, &identity.Org{ID: "cpts-sud", Name: "CPTS Sud", Kind: "cpts"})
	})
	update(t, st, func(tx store.Tx) error {
		return tx.Orgs().Put(ctx, &identity.Org{ID: "cpts-sud", Name: "CPTS Sud-Est", Kind: "cpts"})
	})
	update(t, st, func(tx store.Tx) error {
		return tx.Orgs().Put(ctx, &identity.Org{ID: "univ-test", Name: "Université de Test"})
	})
	orgs := view(t, st, func(tx store.Tx) ([]identity.Org, error) { return tx.Orgs().List(ctx) })
	if len(orgs) != 2 || orgs[0].ID != "cpts-sud" || orgs[0].Name != "CPTS Sud-Est" || orgs[1].Name != "Université de Test" {
		t.Fatalf("orgs: %+v", orgs)
	}
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Orgs().Get(ctx, "nope"); return err }), store.ErrNotFound)

	m := identity.Membership{OrgID: "cpts-sud", AccountID: a.ID}
	update(t, st, func(tx store.Tx) error { return tx.Memberships().Put(ctx, &m) })
	got := view(t, st, func(tx store.Tx) (identity.Membership, error) { return tx.Memberships().Get(ctx, "cpts-sud", a.ID) })
	if got.Role != identity.RoleMember || got.State != identity.MembershipPending {
		t.Fatalf("membership defaults: %+v", got)
	}
	got.State, got.ValidatedBy, got.ValidatedAt = identity.MembershipValidated, "account:coordinator", time.Now()
	update(t, st, func(tx store.Tx) error { return tx.Memberships().Put(ctx, &got) })
	byOrg := view(t, st, func(tx store.Tx) ([]identity.Membership, error) { return tx.Memberships().ListByOrg(ctx, "cpts-sud") })
	byAcc := view(t, st, func(tx store.Tx) ([]identity.Membership, error) { return tx.Memberships().ListByAccount(ctx, a.ID) })
	if len(byOrg) != 1 || byOrg[0].State != identity.MembershipValidated || byOrg[0].ValidatedBy != "account:coordinator" ||
		byOrg[0].ValidatedAt.IsZero() || len(byAcc) != 1 {
		t.Fatalf("memberships: by org %+v, by account %+v", byOrg, byAcc)
	}
	wantErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.Memberships().Put(ctx, &identity.Membership{OrgID: "missing", AccountID: a.ID})
	}), store.ErrInvalidReference)
	if err := updateErr(st, func(tx store.Tx) error {
		return tx.Memberships().Put(ctx, &identity.Membership{OrgID: "univ-test", AccountID: a.ID, Role: "king"})
	}); err == nil {
		t.Fatal("Put accepted an unknown role")
	}
	update(t, st, func(tx store.Tx) error { return tx.Memberships().Delete(ctx, "cpts-sud", a.ID) })
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Memberships().Get(ctx, "cpts-sud", a.ID); return err }), store.ErrNotFound)
}

func testOneTimeTokens(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "a")
	now := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	mk := func(purpose store.TokenPurpose, ttl time.Duration) (store.OneTimeToken, []byte) {
		h := randomHash()
		tok := store.OneTimeToken{Purpose: purpose, Hash: h, AccountID: a.ID, ExpiresAt: now.Add(ttl), CreatedAt: now,
			Data: map[string]string{"address": "x@example.org"}}
		update(t, st, func(tx store.Tx) error { return tx.Tokens().Create(ctx, &tok) })
		return tok, h
	}
	consume := func(p store.TokenPurpose, h []byte, at time.Time) (store.OneTimeToken, error) {
		var tok store.OneTimeToken
		err := updateErr(st, func(tx store.Tx) error {
			var err error
			tok, err = tx.Tokens().Consume(ctx, p, h, at)
			return err
		})
		return tok, err
	}
	tok, h := mk(store.PurposeEmailVerification, 30*time.Minute)
	// Wrong purpose, then expired, then good, then reused.
	_, err := consume(store.PurposeMergeKey, h, now)
	wantErr(t, err, store.ErrNotFound)
	_, err = consume(store.PurposeEmailVerification, h, now.Add(30*time.Minute))
	wantErr(t, err, store.ErrNotFound)
	got, err := consume(store.PurposeEmailVerification, h, now.Add(29*time.Minute))
	fatalIf(t, err)
	if got.ID != tok.ID || got.Data["address"] != "x@example.org" || got.UsedAt.IsZero() {
		t.Fatalf("Consume returned %+v", got)
	}
	_, err = consume(store.PurposeEmailVerification, h, now.Add(29*time.Minute))
	wantErr(t, err, store.ErrNotFound)
	_, err = consume(store.PurposeEmailVerification, randomHash(), now)
	wantErr(t, err, store.ErrNotFound)

	// Revoke voids only pending tokens of the given purposes.
	mk(store.PurposeMergeKey, 24*time.Hour)
	mk(store.PurposeMergeKey, 24*time.Hour)
	_, keep := mk(store.PurposeActivation, 48*time.Hour)
	pending := view(t, st, func(tx store.Tx) ([]store.OneTimeToken, error) { return tx.Tokens().ListPending(ctx, a.ID, now) })
	if len(pending) != 3 {
		t.Fatalf("pending: %d tokens, want 3", len(pending))
	}
	var n int
	update(t, st, func(tx store.Tx) error {
		var err error
		n, err = tx.Tokens().Revoke(ctx, a.ID, now, store.PurposeMergeKey)
		return err
	})
	if n != 2 {
		t.Fatalf("Revoke voided %d, want 2", n)
	}
	_, err = consume(store.PurposeActivation, keep, now)
	fatalIf(t, err)
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error {
		return tx.Tokens().Create(ctx, &store.OneTimeToken{Purpose: store.PurposeMergeKey, Hash: keep, AccountID: a.ID, ExpiresAt: now.Add(time.Hour)})
	}), "one-time token")
}

// testConsumeRace redeems one token from many goroutines: exactly one wins.
func testConsumeRace(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "a")
	h := randomHash()
	now := time.Now()
	update(t, st, func(tx store.Tx) error {
		return tx.Tokens().Create(ctx, &store.OneTimeToken{Purpose: store.PurposeEmailVerification, Hash: h, AccountID: a.ID, ExpiresAt: now.Add(time.Hour)})
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, losses := 0, 0
	for range 8 {
		wg.Go(func() {
			err := updateErr(st, func(tx store.Tx) error {
				_, err := tx.Tokens().Consume(ctx, store.PurposeEmailVerification, h, now)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrNotFound):
				losses++
			default:
				t.Errorf("consume: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || losses != 7 {
		t.Fatalf("%d redemptions succeeded and %d failed, want 1 and 7", wins, losses)
	}
}

func testMergeRecords(t *testing.T, st store.Store, _ Options) {
	a, b := newAccount(t, st, "a"), newAccount(t, st, "b")
	l := identity.Link{Source: "csv:ars", ExternalID: "row-1", AccountID: a.ID}
	update(t, st, func(tx store.Tx) error { return tx.Links().Create(ctx, &l) })
	rec := merge(t, st, b.ID, a.ID)
	got := view(t, st, func(tx store.Tx) (identity.MergeRecord, error) { return tx.Merges().Get(ctx, rec.ID) })
	if got.SurvivorID != b.ID || got.RetiredID != a.ID || got.Reason != identity.MergeByAdmin || got.Undone() ||
		len(got.Moved.Links) != 1 || got.Moved.Links[0].ExternalID != "row-1" || got.Moved.Retired.Status != identity.StatusActive {
		t.Fatalf("merge record: %+v", got)
	}
	// A second standing merge of the same retired account is refused.
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error {
		return tx.Merges().Create(ctx, &identity.MergeRecord{SurvivorID: b.ID, RetiredID: a.ID, Reason: identity.MergeByKey, Actor: "test"})
	}), "standing merge of this account")
	if err := updateErr(st, func(tx store.Tx) error {
		return tx.Merges().Create(ctx, &identity.MergeRecord{SurvivorID: b.ID, RetiredID: b.ID, Reason: identity.MergeByKey, Actor: "test"})
	}); err == nil {
		t.Fatal("a merge into itself was recorded")
	}
	both := func(id string) int {
		return len(view(t, st, func(tx store.Tx) ([]identity.MergeRecord, error) { return tx.Merges().ListByAccount(ctx, id) }))
	}
	if both(a.ID) != 1 || both(b.ID) != 1 {
		t.Fatal("ListByAccount misses the merge")
	}
	update(t, st, func(tx store.Tx) error { return tx.Merges().MarkUndone(ctx, rec.ID, "account:"+b.ID, time.Time{}) })
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Merges().MarkUndone(ctx, rec.ID, "x", time.Time{}) }), store.ErrConflict)
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Merges().MarkUndone(ctx, "nope", "x", time.Time{}) }), store.ErrNotFound)
	undone := view(t, st, func(tx store.Tx) (identity.MergeRecord, error) { return tx.Merges().Get(ctx, rec.ID) })
	if !undone.Undone() || undone.UndoneBy != "account:"+b.ID {
		t.Fatalf("after MarkUndone: %+v", undone)
	}
	// Once undone, a new standing merge may be recorded.
	update(t, st, func(tx store.Tx) error {
		return tx.Merges().Create(ctx, &identity.MergeRecord{SurvivorID: b.ID, RetiredID: a.ID, Reason: identity.MergeByKey, Actor: "test"})
	})
}

func testAPITokens(t *testing.T, st store.Store, _ Options) {
	update(t, st, func(tx store.Tx) error { return tx.Orgs().Put(ctx, &identity.Org{ID: "cpts-sud", Name: "CPTS Sud"}) })
	h := randomHash()
	tok := store.APIToken{Name: "lms", Role: store.RoleSCIM, Hash: h}
	update(t, st, func(tx store.Tx) error { return tx.APITokens().Create(ctx, &tok) })
	got := view(t, st, func(tx store.Tx) (store.APIToken, error) { return tx.APITokens().GetByHash(ctx, h) })
	if got.ID != tok.ID || got.Name != "lms" || got.Role != store.RoleSCIM || !bytes.Equal(got.Hash, h) {
		t.Fatalf("GetByHash: %+v", got)
	}
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error {
		return tx.APITokens().Create(ctx, &store.APIToken{Name: "lms", Role: store.RoleSupport, Hash: randomHash()})
	}), "api token name")
	for _, bad := range []store.APIToken{
		{Name: "x", Role: store.RoleOrgAdmin, Hash: randomHash()},
		{Name: "y", Role: store.RoleSupport, OrgID: "cpts-sud", Hash: randomHash()},
		{Name: "z", Role: "root", Hash: randomHash()},
	} {
		if err := updateErr(st, func(tx store.Tx) error { return tx.APITokens().Create(ctx, &bad) }); err == nil {
			t.Errorf("Create accepted %+v", bad)
		}
	}
	admin := store.APIToken{Name: "coord", Role: store.RoleOrgAdmin, OrgID: "cpts-sud", Hash: randomHash()}
	update(t, st, func(tx store.Tx) error { return tx.APITokens().Create(ctx, &admin) })
	update(t, st, func(tx store.Tx) error { return tx.APITokens().Revoke(ctx, tok.ID, time.Now()) })
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.APITokens().GetByHash(ctx, h); return err }), store.ErrNotFound)
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.APITokens().Revoke(ctx, tok.ID, time.Now()) }), store.ErrNotFound)
	// A revoked token's name can be reused.
	update(t, st, func(tx store.Tx) error {
		return tx.APITokens().Create(ctx, &store.APIToken{Name: "lms", Role: store.RoleSCIM, Hash: randomHash()})
	})
	all := view(t, st, func(tx store.Tx) ([]store.APIToken, error) { return tx.APITokens().List(ctx) })
	if len(all) != 3 {
		t.Fatalf("List: %d tokens, want 3", len(all))
	}
}

// testUnrecorded: a change without an event does not commit.
func testUnrecorded(t *testing.T, st store.Store, _ Options) {
	head, audits := countOutbox(t, st), countAudit(t, st)
	err := st.Update(ctx, func(tx store.Tx) error {
		return tx.Accounts().Create(ctx, &identity.Account{ID: "silent", Status: identity.StatusActive})
	})
	wantErr(t, err, store.ErrUnrecorded)
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Accounts().Get(ctx, "silent"); return err }), store.ErrNotFound)
	if countOutbox(t, st) != head || countAudit(t, st) != audits {
		t.Fatal("a refused transaction left events behind")
	}
	// A transaction that only reads needs no event.
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error { _, err := tx.Orgs().List(ctx); return err }))
}

// testRollback: an error in the closure leaves neither the change nor its
// audit and outbox rows.
func testRollback(t *testing.T, st store.Store, _ Options) {
	head, audits := countOutbox(t, st), countAudit(t, st)
	boom := errors.New("boom")
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Accounts().Create(ctx, &identity.Account{ID: "doomed", Status: identity.StatusActive}); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: "doomed"}); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, err, boom)
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Accounts().Get(ctx, "doomed"); return err }), store.ErrNotFound)
	if countOutbox(t, st) != head || countAudit(t, st) != audits {
		t.Fatal("a rolled-back transaction left audit or outbox rows")
	}
	// A failure inside the store (duplicate) rolls back the earlier writes
	// of the same closure too.
	newAccount(t, st, "taken")
	err = updateErr(st, func(tx store.Tx) error {
		if err := tx.Accounts().Create(ctx, &identity.Account{ID: "first", Status: identity.StatusActive}); err != nil {
			return err
		}
		return tx.Accounts().Create(ctx, &identity.Account{Status: identity.StatusActive, Login: "taken"})
	})
	wantDuplicate(t, err, "login")
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Accounts().Get(ctx, "first"); return err }), store.ErrNotFound)
	if countAudit(t, st) != audits+1 {
		t.Fatal("audit rows of a failed transaction were kept")
	}
}

// testRead: Read sees what is committed, statement by statement, and
// refuses writes.
func testRead(t *testing.T, st store.Store, _ Options) {
	id := newAccount(t, st, "reader").ID
	var got identity.Account
	if err := st.Read(ctx, func(tx store.Tx) error {
		var err error
		got, err = tx.Accounts().Get(ctx, id)
		return err
	}); err != nil || got.Login != "reader" {
		t.Fatalf("Read of a committed account: %+v, %v", got, err)
	}
	wantErr(t, st.Read(ctx, func(tx store.Tx) error {
		return tx.Accounts().Create(ctx, &identity.Account{Status: identity.StatusActive})
	}), store.ErrReadOnly)
	wantErr(t, st.Read(ctx, func(tx store.Tx) error {
		return tx.Record(ctx, store.Event{Type: "x", Actor: "test"})
	}), store.ErrReadOnly)
	// Each statement sees the latest commit: a change committed between
	// two reads of one Read call is seen by the second.
	err := st.Read(ctx, func(tx store.Tx) error {
		if _, err := tx.Accounts().Get(ctx, "made-meanwhile"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("before: %v", err)
		}
		if err := st.Update(ctx, func(w store.Tx) error {
			if err := w.Accounts().Create(ctx, &identity.Account{ID: "made-meanwhile", Status: identity.StatusActive}); err != nil {
				return err
			}
			return w.Record(ctx, store.Event{Type: "account.created", Actor: "test", AccountID: "made-meanwhile"})
		}); err != nil {
			return err
		}
		_, err := tx.Accounts().Get(ctx, "made-meanwhile")
		return err
	})
	if err != nil {
		t.Fatalf("a Read after a commit between its statements: %v", err)
	}
}

func testReadOnly(t *testing.T, st store.Store, _ Options) {
	err := st.View(ctx, func(tx store.Tx) error {
		return tx.Accounts().Create(ctx, &identity.Account{Status: identity.StatusActive})
	})
	wantErr(t, err, store.ErrReadOnly)
	wantErr(t, st.View(ctx, func(tx store.Tx) error {
		return tx.Record(ctx, store.Event{Type: "x", Actor: "test"})
	}), store.ErrReadOnly)
	wantErr(t, st.View(ctx, func(tx store.Tx) error {
		_, err := tx.Tokens().Consume(ctx, store.PurposeMergeKey, randomHash(), time.Now())
		return err
	}), store.ErrReadOnly)
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Record(ctx, store.Event{Type: "x"}) }); err == nil {
		t.Fatal("Record accepted an event without actor")
	}
}

func testAudit(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "a")
	type payload struct {
		Field string `json:"field"`
	}
	for i, typ := range []string{identity.EventAccountUpdated, identity.EventAccountSuspended} {
		fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
			return tx.Record(ctx, store.Event{Type: typ, Actor: "token:support", AccountID: a.ID, OrgID: "org-1",
				RequestID: sprintf("req-%d", i), Data: payload{Field: typ}})
		}))
	}
	entries := view(t, st, func(tx store.Tx) ([]store.AuditEntry, error) {
		return tx.Audit().List(ctx, store.AuditQuery{AccountID: a.ID, OrgID: "org-1"})
	})
	if len(entries) != 2 || entries[0].Type != identity.EventAccountSuspended || entries[1].Type != identity.EventAccountUpdated ||
		entries[0].RequestID != "req-1" || entries[0].Actor != "token:support" || entries[0].At.IsZero() {
		t.Fatalf("audit by account, newest first: %+v", entries)
	}
	var p payload
	fatalIf(t, json.Unmarshal(entries[1].Data, &p))
	if p.Field != identity.EventAccountUpdated {
		t.Fatalf("audit data: %s", entries[1].Data)
	}
	older := view(t, st, func(tx store.Tx) ([]store.AuditEntry, error) {
		return tx.Audit().List(ctx, store.AuditQuery{AccountID: a.ID, Before: entries[0].ID, Limit: 1, Type: identity.EventAccountUpdated})
	})
	if len(older) != 1 || older[0].ID != entries[1].ID {
		t.Fatalf("audit cursor: %+v", older)
	}
}

func testOutbox(t *testing.T, st store.Store, _ Options) {
	if head := countOutbox(t, st); head != 0 {
		t.Fatalf("new store outbox head = %d", head)
	}
	// Several events in one transaction get consecutive numbers, in the
	// order recorded.
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
		for _, typ := range []string{"one", "two", "three"} {
			if err := tx.Record(ctx, store.Event{Type: typ, Actor: "test", AccountID: "acc", Data: map[string]string{"t": typ}}); err != nil {
				return err
			}
		}
		return nil
	}))
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error { return tx.Record(ctx, store.Event{Type: "four", Actor: "test"}) }))
	events, err := st.Outbox().After(ctx, 0, 10)
	fatalIf(t, err)
	var types []string
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		types = append(types, e.Type)
	}
	var data map[string]string
	fatalIf(t, json.Unmarshal(events[1].Data, &data))
	if !slices.Equal(types, []string{"one", "two", "three", "four"}) || events[0].AccountID != "acc" || data["t"] != "two" {
		t.Fatalf("outbox: %+v", events)
	}
	page, err := st.Outbox().After(ctx, 2, 1)
	fatalIf(t, err)
	if len(page) != 1 || page[0].Seq != 3 {
		t.Fatalf("After(2, 1) = %+v", page)
	}
	if head := countOutbox(t, st); head != 4 {
		t.Fatalf("head = %d, want 4", head)
	}
	// Inside a transaction the outbox reads the same way.
	inTx := view(t, st, func(tx store.Tx) ([]store.OutboxEvent, error) { return tx.Outbox().After(ctx, 3, 10) })
	if len(inTx) != 1 || inTx[0].Type != "four" {
		t.Fatalf("outbox in tx: %+v", inTx)
	}
}

// testEventsInBulk: a transaction recording more events than one
// statement writes (a batch of an import) gets them all, in the outbox with
// consecutive numbers in the order recorded, in the audit log newest last
// recorded first, each with its own fields and data.
func testEventsInBulk(t *testing.T, st store.Store, _ Options) {
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
		return tx.Record(ctx, store.Event{Type: "before", Actor: "test"})
	}))
	const n = 1203
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			ev := store.Event{Type: fmt.Sprintf("bulk.%d", i%3), Actor: "importer", AccountID: fmt.Sprintf("acc-%04d", i),
				OrgID: "bulk", RequestID: fmt.Sprintf("req-%d", i), Data: map[string]int{"i": i}}
			if err := tx.Record(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	}))
	events, err := st.Outbox().After(ctx, 1, 2*n)
	fatalIf(t, err)
	if len(events) != n {
		t.Fatalf("outbox: %d events after the first, want %d", len(events), n)
	}
	for i, e := range events {
		var data map[string]int
		fatalIf(t, json.Unmarshal(e.Data, &data))
		if e.Seq != int64(i+2) || e.Type != fmt.Sprintf("bulk.%d", i%3) || e.AccountID != fmt.Sprintf("acc-%04d", i) ||
			e.OrgID != "bulk" || data["i"] != i {
			t.Fatalf("outbox event %d: %+v (data %s)", i, e, e.Data)
		}
	}
	if head := countOutbox(t, st); head != n+1 {
		t.Fatalf("head = %d, want %d", head, n+1)
	}
	var audit []store.AuditEntry
	q := store.AuditQuery{OrgID: "bulk", Limit: 500}
	for {
		page := view(t, st, func(tx store.Tx) ([]store.AuditEntry, error) { return tx.Audit().List(ctx, q) })
		if len(page) == 0 {
			break
		}
		audit = append(audit, page...)
		q.Before = page[len(page)-1].ID
	}
	if len(audit) != n {
		t.Fatalf("audit: %d entries, want %d", len(audit), n)
	}
	for k, e := range audit {
		i := n - 1 - k // newest first
		var data map[string]int
		fatalIf(t, json.Unmarshal(e.Data, &data))
		if e.Type != fmt.Sprintf("bulk.%d", i%3) || e.Actor != "importer" || e.AccountID != fmt.Sprintf("acc-%04d", i) ||
			e.RequestID != fmt.Sprintf("req-%d", i) || data["i"] != i {
			t.Fatalf("audit entry %d: %+v (data %s)", k, e, e.Data)
		}
	}
}

// testOutboxLateCommit: a transaction that recorded its event first but
// commits last must still be read by a follower that has already moved past
// the events committed in between.
func testOutboxLateCommit(t *testing.T, st store.Store, opts Options) {
	recorded, release := make(chan struct{}), make(chan struct{})
	lateDone := make(chan error, 1)
	go func() {
		first := true
		lateDone <- st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Record(ctx, store.Event{Type: "late", Actor: "test"}); err != nil {
				return err
			}
			if first { // a retried closure must not close twice
				first = false
				close(recorded)
			}
			<-release
			return nil
		})
	}()
	<-recorded

	follower := &follower{t: t, st: st}
	if opts.ConcurrentWriters {
		// Another transaction begins after the late one and commits first.
		fatalIf(t, st.Update(ctx, func(tx store.Tx) error { return tx.Record(ctx, store.Event{Type: "early", Actor: "test"}) }))
		follower.poll()
		if !slices.Equal(follower.types, []string{"early"}) {
			t.Fatalf("before the late commit the follower read %v, want [early]", follower.types)
		}
	} else {
		// Writers are serialised: nothing of the open transaction shows.
		follower.poll()
		if len(follower.types) != 0 {
			t.Fatalf("the follower read %v from an uncommitted transaction", follower.types)
		}
	}
	close(release)
	fatalIf(t, <-lateDone)
	follower.poll()
	want := []string{"late"}
	if opts.ConcurrentWriters {
		want = []string{"early", "late"}
	}
	if !slices.Equal(follower.types, want) {
		t.Fatalf("follower read %v, want %v: the late commit was skipped", follower.types, want)
	}
}

// follower reads the outbox the way the propagation dispatcher does: from
// its cursor, checking that sequence numbers never jump.
type follower struct {
	t      testing.TB
	st     store.Store
	cursor int64
	types  []string
	seen   []int64
}

func (f *follower) poll() int {
	f.t.Helper()
	events, err := f.st.Outbox().After(ctx, f.cursor, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range events {
		if e.Seq != f.cursor+1 {
			f.t.Fatalf("outbox jumped from %d to %d: an event would be skipped", f.cursor, e.Seq)
		}
		f.cursor = e.Seq
		f.types = append(f.types, e.Type)
		f.seen = append(f.seen, e.Seq)
	}
	return len(events)
}

// testOutboxFollower: many concurrent writers while a follower reads; the
// follower sees every committed event exactly once, with no jump.
func testOutboxFollower(t *testing.T, st store.Store, _ Options) {
	const writers, perWriter = 6, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				err := st.Update(ctx, func(tx store.Tx) error {
					if err := tx.Record(ctx, store.Event{Type: sprintf("w%d-%d-a", w, i), Actor: "test"}); err != nil {
						return err
					}
					return tx.Record(ctx, store.Event{Type: sprintf("w%d-%d-b", w, i), Actor: "test"})
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	f := &follower{t: t, st: st}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			f.poll()
		}
	}
	f.poll()
	if len(f.types) != writers*perWriter*2 {
		t.Fatalf("follower read %d events, want %d", len(f.types), writers*perWriter*2)
	}
	// Events of one transaction are adjacent and in order.
	for i := 0; i < len(f.types); i += 2 {
		a, b := f.types[i], f.types[i+1]
		if a[len(a)-1] != 'a' || b != a[:len(a)-1]+"b" {
			t.Fatalf("events %d and %d are %s and %s: one transaction's events must be adjacent", i+1, i+2, a, b)
		}
	}
}

// testNoLostUpdate: concurrent read-modify-write closures on one account
// lose no increment.
func testNoLostUpdate(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "counter")
	const workers, each = 8, 15
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				err := st.Update(ctx, func(tx store.Tx) error {
					acc, err := tx.Accounts().Get(ctx, a.ID)
					if err != nil {
						return err
					}
					acc.Phone = sprintf("%d", atoi(acc.Phone)+1)
					if err := tx.Accounts().Update(ctx, &acc); err != nil {
						return err
					}
					return tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: "test", AccountID: acc.ID})
				})
				if err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	final := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().Get(ctx, a.ID) })
	if final.Phone != sprintf("%d", workers*each) || final.Version != int64(1+workers*each) {
		t.Fatalf("counter = %s at version %d, want %d at version %d", final.Phone, final.Version, workers*each, 1+workers*each)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// testInvariants: the snapshot carries what the checker needs, and the
// checker catches a merged account left owning a link.
func testInvariants(t *testing.T, st store.Store, _ Options) {
	a, b := newAccount(t, st, "a"), newAccount(t, st, "b")
	update(t, st, func(tx store.Tx) error {
		if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: "a@example.org", Verified: true}); err != nil {
			return err
		}
		return tx.Tokens().Create(ctx, &store.OneTimeToken{Purpose: store.PurposeMergeKey, Hash: randomHash(), AccountID: b.ID, ExpiresAt: time.Now().Add(time.Hour)})
	})
	rec := merge(t, st, a.ID, b.ID) // b keeps its pending token: a violation
	snap := view(t, st, func(tx store.Tx) (identity.Snapshot, error) { return tx.Snapshot(ctx) })
	if len(snap.Accounts) != 2 || len(snap.Emails) != 1 || len(snap.Merges) != 1 || len(snap.Tokens) != 1 || len(snap.Events) != 2 {
		t.Fatalf("snapshot: %d accounts, %d emails, %d merges, %d tokens, %d events", len(snap.Accounts), len(snap.Emails), len(snap.Merges), len(snap.Tokens), len(snap.Events))
	}
	err := identity.CheckInvariants(snap)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("pending merge_key token")) {
		t.Fatalf("CheckInvariants = %v, want the pending token of the merged account", err)
	}
	update(t, st, func(tx store.Tx) error { _, err := tx.Tokens().Revoke(ctx, b.ID, time.Now()); return err })
	CheckInvariants(t, st)
	if rec.ID == "" {
		t.Fatal("merge record has no id")
	}
}

// testDuplicates: blocking keys follow account and e-mail writes, merged
// accounts hold none, blocks and candidates come from them, and decisions
// are remembered.
func testDuplicates(t *testing.T, st store.Store, _ Options) {
	franck := identity.Account{Status: identity.StatusActive, Login: "franck.cavel", GivenName: "Franck", FamilyName: "CAVEL", BirthDate: "1978-06-01"}
	franck3 := identity.Account{Status: identity.StatusActive, Login: "franck.cavel3", GivenName: "FRANCK", FamilyName: "CAVEL", BirthDate: "1984-10-17"}
	other := identity.Account{Status: identity.StatusActive, Login: "sophie", GivenName: "Sophie", FamilyName: "LEROY"}
	update(t, st, func(tx store.Tx) error {
		for _, a := range []*identity.Account{&franck, &franck3, &other} {
			if err := tx.Accounts().Create(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	keys := func(id string) []string {
		return view(t, st, func(tx store.Tx) ([]string, error) { return tx.Duplicates().Keys(ctx, id) })
	}
	shared := func() []string {
		var out []string
		for _, k := range keys(franck.ID) {
			if slices.Contains(keys(franck3.ID), k) {
				out = append(out, k)
			}
		}
		return out
	}
	if len(keys(franck.ID)) == 0 || len(shared()) == 0 {
		t.Fatalf("FRANCK CAVEL and Franck CAVEL share no key: %v / %v", keys(franck.ID), keys(franck3.ID))
	}
	cands := view(t, st, func(tx store.Tx) (map[string][]string, error) { return tx.Duplicates().Candidates(ctx, franck.ID, 50) })
	if len(cands) != 1 || len(cands[franck3.ID]) == 0 {
		t.Fatalf("candidates of franck.cavel: %v", cands)
	}
	var blocks [][]string
	fatalIf(t, st.View(ctx, func(tx store.Tx) error {
		return tx.Duplicates().Blocks(ctx, 50, func(key string, ids []string) error {
			blocks = append(blocks, ids)
			return nil
		})
	}))
	if len(blocks) == 0 || !slices.Equal(blocks[0], sortedPair(franck.ID, franck3.ID)) {
		t.Fatalf("blocks: %v", blocks)
	}
	// A key held by more accounts than maxBlock is left out.
	if n := len(view(t, st, func(tx store.Tx) (map[string][]string, error) { return tx.Duplicates().Candidates(ctx, franck.ID, 1) })); n != 0 {
		t.Fatalf("maxBlock 1 still gives %d candidates", n)
	}
	// An e-mail adds its key in the same transaction.
	before := len(keys(other.ID))
	update(t, st, func(tx store.Tx) error {
		return tx.Emails().Add(ctx, &identity.Email{AccountID: other.ID, Address: "sophie.leroy@infirmiere.example", Verified: true})
	})
	if len(keys(other.ID)) != before+1 {
		t.Fatalf("the e-mail added no key: %v", keys(other.ID))
	}
	// A merged account holds no key.
	merge(t, st, franck.ID, franck3.ID)
	if k := keys(franck3.ID); len(k) != 0 {
		t.Fatalf("merged account keeps keys %v", k)
	}
	// Reindex restores keys removed behind the store's back, and needs a
	// write transaction.
	wantErr(t, st.View(ctx, func(tx store.Tx) error { return tx.Duplicates().Reindex(ctx) }), store.ErrReadOnly)
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error { return tx.Duplicates().Reindex(ctx) }))
	if len(keys(franck.ID)) == 0 || len(keys(franck3.ID)) != 0 {
		t.Fatal("Reindex changed the keys")
	}
	// Decisions.
	update(t, st, func(tx store.Tx) error {
		return tx.Duplicates().Dismiss(ctx, franck3.ID, franck.ID, "test", time.Time{})
	})
	update(t, st, func(tx store.Tx) error {
		return tx.Duplicates().Dismiss(ctx, franck.ID, franck3.ID, "test", time.Time{})
	})
	dismissed := view(t, st, func(tx store.Tx) (map[string]bool, error) { return tx.Duplicates().Dismissed(ctx) })
	if len(dismissed) != 1 || !dismissed[identity.PairKey(franck.ID, franck3.ID)] {
		t.Fatalf("dismissed: %v", dismissed)
	}
}

func sortedPair(a, b string) []string {
	if b < a {
		a, b = b, a
	}
	return []string{a, b}
}

// testBatchReads: GetMany and ListByAccounts return what the single reads
// do, across batch boundaries.
func testBatchReads(t *testing.T, st store.Store, _ Options) {
	var ids []string
	update(t, st, func(tx store.Tx) error {
		for i := range 620 {
			a := identity.Account{Status: identity.StatusActive, GivenName: "N", FamilyName: sprintf("F%d", i)}
			if err := tx.Accounts().Create(ctx, &a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
			if i%2 == 0 {
				if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: sprintf("n%d@example.org", i), Verified: true}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	got := view(t, st, func(tx store.Tx) ([]identity.Account, error) {
		return tx.Accounts().GetMany(ctx, append(slices.Clone(ids), "missing"))
	})
	if len(got) != len(ids) || !slices.IsSortedFunc(got, func(a, b identity.Account) int { return strings.Compare(a.ID, b.ID) }) {
		t.Fatalf("GetMany returned %d accounts (sorted: %t), want %d sorted", len(got), slices.IsSortedFunc(got, func(a, b identity.Account) int { return strings.Compare(a.ID, b.ID) }), len(ids))
	}
	emails := view(t, st, func(tx store.Tx) (map[string][]identity.Email, error) { return tx.Emails().ListByAccounts(ctx, ids) })
	if len(emails) != 310 || len(emails[ids[0]]) != 1 || len(emails[ids[1]]) != 0 {
		t.Fatalf("ListByAccounts: %d accounts with e-mails", len(emails))
	}
}
