package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

var ctx = context.Background()

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func migrate(t *testing.T, st store.Store) {
	t.Helper()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}

// seed000 creates the intern's university account and agency account.
func seed000(t *testing.T, st store.Store) (uni, agency identity.Account) {
	t.Helper()
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Orgs().Put(ctx, &identity.Org{ID: "univ-test", Name: "Université de Test"}); err != nil {
			return err
		}
		uni = identity.Account{Status: identity.StatusActive, Login: "camille.martin", GivenName: "Camille", FamilyName: "MARTIN",
			BirthDate: "1997-03-14", Provenance: map[string]string{"given_name": "ldap:campus", "family_name": "ldap:campus", "birth_date": "ldap:campus"}}
		agency = identity.Account{Status: identity.StatusActive, GivenName: "Camille", FamilyName: "MARTIN", BirthDate: "1997-03-14",
			Phone: "0600000000", Provenance: map[string]string{"given_name": "csv:ars-occitanie", "family_name": "csv:ars-occitanie",
				"birth_date": "csv:ars-occitanie", "phone": "csv:ars-occitanie"}}
		for _, a := range []*identity.Account{&uni, &agency} {
			if err := tx.Accounts().Create(ctx, a); err != nil {
				return err
			}
		}
		for _, e := range []identity.Email{
			{AccountID: uni.ID, Address: "camille.martin@univ-test.fr", Verified: true, Primary: true},
			{AccountID: uni.ID, Address: "cam.martin97@mail.example"}, // pending, as in seed 000 step 2.1
			{AccountID: agency.ID, Address: "cam.martin97@mail.example", Verified: true, Primary: true},
		} {
			if err := tx.Emails().Add(ctx, &e); err != nil {
				return err
			}
		}
		for _, l := range []identity.Link{
			{Source: "ldap:campus", ExternalID: "uuid-camille", AccountID: uni.ID},
			{Source: "csv:ars-occitanie", ExternalID: "row-17", AccountID: agency.ID},
		} {
			if err := tx.Links().Create(ctx, &l); err != nil {
				return err
			}
		}
		if err := tx.Memberships().Put(ctx, &identity.Membership{OrgID: "univ-test", AccountID: uni.ID, State: identity.MembershipValidated}); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "test.seeded", Actor: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return uni, agency
}

func snapshot(t *testing.T, st store.Store) identity.Snapshot {
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

func TestMergeAndUndoSeed000(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		svc := accounts.New(st, accounts.Config{Precedence: identity.DefaultPrecedence()}, discard())
		uni, agency := seed000(t, st)
		// A pending merge key of the agency account must be voided.
		if err := st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Tokens().Create(ctx, &store.OneTimeToken{Purpose: store.PurposeMergeKey, Hash: []byte("0123456789abcdef0123456789abcdef"),
				AccountID: agency.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "test.token", Actor: "test"})
		}); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, st)

		rec, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: uni.ID, RetiredID: agency.ID, Reason: identity.MergeByEmail, Actor: "account:" + uni.ID})
		if err != nil {
			t.Fatal(err)
		}
		storetest.CheckInvariants(t, st)
		d, err := svc.Get(ctx, agency.ID) // the retired id resolves to the survivor
		if err != nil {
			t.Fatal(err)
		}
		if d.Account.ID != uni.ID || d.RequestedID != agency.ID || len(d.Links) != 2 || len(d.MergedFrom) != 1 || d.MergedFrom[0].MergeID != rec.ID {
			t.Fatalf("after merge: %+v", d)
		}
		verified := 0
		for _, e := range d.Emails {
			if e.Address == "cam.martin97@mail.example" && e.Verified && !e.Primary {
				verified++
			}
		}
		if verified != 1 || d.Account.Phone != "0600000000" {
			t.Fatalf("the agency address and phone did not reach the survivor: %+v", d)
		}
		events, err := st.Outbox().After(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if last := events[len(events)-1]; last.Type != identity.EventAccountMerged || last.AccountID != uni.ID {
			t.Fatalf("last outbox event: %+v", last)
		}

		// Merging again, or the other way round, is a conflict.
		_, err = svc.Merge(ctx, accounts.MergeRequest{SurvivorID: uni.ID, RetiredID: agency.ID, Actor: "test"})
		wantErr(t, err, accounts.ErrMergeConflict)
		_, err = svc.Merge(ctx, accounts.MergeRequest{SurvivorID: agency.ID, RetiredID: uni.ID, Actor: "test"})
		wantErr(t, err, accounts.ErrMergeConflict)

		// Undo restores exactly what moved.
		if _, err := svc.Undo(ctx, rec.ID, "token:support"); err != nil {
			t.Fatal(err)
		}
		storetest.CheckInvariants(t, st)
		after := snapshot(t, st)
		if err := identity.CheckUndo(before, after, rec); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Undo(ctx, rec.ID, "token:support")
		wantErr(t, err, accounts.ErrMergeConflict)
	})
}

func TestMergeErrors(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		svc := accounts.New(st, accounts.Config{Precedence: identity.DefaultPrecedence(), UndoWindow: time.Hour}, discard())
		uni, agency := seed000(t, st)
		_, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: uni.ID, RetiredID: uni.ID, Actor: "test"})
		wantErr(t, err, accounts.ErrInvalid)
		_, err = svc.Merge(ctx, accounts.MergeRequest{SurvivorID: uni.ID, RetiredID: "nope", Actor: "test"})
		wantErr(t, err, store.ErrNotFound)
		_, err = svc.Merge(ctx, accounts.MergeRequest{SurvivorID: uni.ID, RetiredID: agency.ID, Actor: "test", SurvivorVersion: uni.Version + 5})
		var stale *accounts.StaleError
		if !errors.As(err, &stale) {
			t.Fatalf("stale version: got %v", err)
		}
		_, err = svc.Undo(ctx, "nope", "test")
		wantErr(t, err, store.ErrNotFound)

		// Undo after the window.
		rec, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: uni.ID, RetiredID: agency.ID, Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		svc.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
		_, err = svc.Undo(ctx, rec.ID, "test")
		wantErr(t, err, accounts.ErrUndoExpired)
		svc.SetClock(time.Now)

		// Undo after a conflicting change: the moved link was deleted.
		if err := st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Links().Delete(ctx, "csv:ars-occitanie", "row-17"); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "test.unlink", Actor: "test"})
		}); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Undo(ctx, rec.ID, "test")
		var conflict *identity.UndoConflict
		if !errors.As(err, &conflict) || len(conflict.Reasons) == 0 {
			t.Fatalf("undo after a conflicting change: got %v", err)
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestCrossedMerges merges A into B and B into A at once: one wins, the
// other gets a conflict, and there is no cycle.
func TestCrossedMerges(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		svc := accounts.New(st, accounts.Config{Precedence: identity.DefaultPrecedence()}, discard())
		for range 10 {
			uni, agency := createPair(t, svc)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, pair := range [][2]string{{uni.ID, agency.ID}, {agency.ID, uni.ID}} {
				wg.Go(func() {
					_, errs[i] = svc.Merge(ctx, accounts.MergeRequest{SurvivorID: pair[0], RetiredID: pair[1], Actor: "test"})
				})
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, accounts.ErrMergeConflict):
					t.Fatalf("crossed merge: unexpected error %v", err)
				}
			}
			if ok != 1 {
				t.Fatalf("%d crossed merges succeeded, want 1 (errors %v)", ok, errs)
			}
		}
		storetest.CheckInvariants(t, st)
	})
}

func createPair(t *testing.T, svc *accounts.Service) (a, b identity.Account) {
	t.Helper()
	var err error
	if a, err = svc.Create(ctx, accounts.NewAccount{GivenName: "A", FamilyName: "Pair"}, "test"); err != nil {
		t.Fatal(err)
	}
	if b, err = svc.Create(ctx, accounts.NewAccount{GivenName: "B", FamilyName: "Pair"}, "test"); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestRandomOperations runs random creates, links, e-mails, merges and
// undos over a pool of accounts from 8 goroutines and checks the
// invariants after every committed operation.
func TestRandomOperations(t *testing.T) {
	ops, accountsN := 10000, 200
	if testing.Short() {
		ops = 1000
	}
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		svc := accounts.New(st, accounts.Config{Precedence: identity.DefaultPrecedence()}, discard())
		ids := make([]string, 0, accountsN)
		for i := range accountsN {
			a, err := svc.Create(ctx, accounts.NewAccount{GivenName: "P", FamilyName: "Random", Login: sprintf("p%d", i)}, "test")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.ID)
		}
		var mu sync.Mutex // guards merges and the check after each op
		var merges []string
		var wg sync.WaitGroup
		var committed, refused int
		for w := range 8 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 42))
				for i := range ops / 8 {
					err := randomOp(st, svc, r, ids, &mu, &merges, w, i)
					mu.Lock()
					if err == nil {
						committed++
					} else {
						refused++
					}
					mu.Unlock()
					if err != nil && !expected(err) {
						t.Errorf("op: unexpected error %v", err)
						return
					}
					if err == nil {
						checkQuiet(t, st)
					}
				}
			})
		}
		wg.Wait()
		storetest.CheckInvariants(t, st)
		if committed < ops/4 {
			t.Fatalf("only %d of %d operations committed (%d refused): the test exercises too little", committed, ops, refused)
		}
	})
}

func expected(err error) bool {
	var undo *identity.UndoConflict
	var dup *store.DuplicateError
	return errors.Is(err, accounts.ErrMergeConflict) || errors.Is(err, accounts.ErrUndoExpired) ||
		errors.As(err, &undo) || errors.As(err, &dup) || errors.Is(err, accounts.ErrInvalid) || errors.Is(err, errSkip)
}

var errSkip = errors.New("nothing to do")

func randomOp(st store.Store, svc *accounts.Service, r *rand.Rand, ids []string, mu *sync.Mutex, merges *[]string, w, i int) error {
	pick := func() string { return ids[r.IntN(len(ids))] }
	switch op := r.IntN(10); {
	case op < 3: // link a new identity
		id := pick()
		return st.Update(ctx, func(tx store.Tx) error {
			a, err := tx.Accounts().Resolve(ctx, id)
			if err != nil {
				return err
			}
			l := identity.Link{Source: "ldap:campus", ExternalID: sprintf("w%d-%d", w, i), AccountID: a.ID}
			if err := tx.Links().Create(ctx, &l); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "link.created", Actor: "test", AccountID: a.ID})
		})
	case op < 5: // add an e-mail, verified half of the time, from a small pool so they collide
		id, addr, verified := pick(), sprintf("shared%d@example.org", r.IntN(60)), r.IntN(2) == 0
		return st.Update(ctx, func(tx store.Tx) error {
			a, err := tx.Accounts().Resolve(ctx, id)
			if err != nil {
				return err
			}
			if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: addr, Verified: verified}); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "email.added", Actor: "test", AccountID: a.ID})
		})
	case op < 8: // merge two accounts (retired ids resolve to their roots)
		var survivor, retired identity.Account
		if err := st.View(ctx, func(tx store.Tx) error {
			var err error
			if survivor, err = tx.Accounts().Resolve(ctx, pick()); err != nil {
				return err
			}
			retired, err = tx.Accounts().Resolve(ctx, pick())
			return err
		}); err != nil {
			return err
		}
		if survivor.ID == retired.ID {
			return errSkip
		}
		rec, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: survivor.ID, RetiredID: retired.ID, Actor: "test"})
		if err == nil {
			mu.Lock()
			*merges = append(*merges, rec.ID)
			mu.Unlock()
		}
		return err
	default: // undo a random earlier merge
		mu.Lock()
		if len(*merges) == 0 {
			mu.Unlock()
			return errSkip
		}
		id := (*merges)[r.IntN(len(*merges))]
		mu.Unlock()
		_, err := svc.Undo(ctx, id, "test")
		return err
	}
}

// checkQuiet checks the invariants without stopping the goroutine's caller.
func checkQuiet(t *testing.T, st store.Store) {
	var s identity.Snapshot
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		s, err = tx.Snapshot(ctx)
		return err
	}); err != nil {
		t.Errorf("snapshot: %v", err)
		return
	}
	if err := identity.CheckInvariants(s); err != nil {
		t.Errorf("invariants violated:\n%v", err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func TestDuplicates(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		svc := accounts.New(st, accounts.DefaultConfig(), discard())
		uni, agency := seed000(t, st)
		rep, err := svc.Duplicates(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Suggestions) != 1 || rep.Suggestions[0].Score.Value < identity.DuplicateThreshold || len(rep.Suggestions[0].Score.Matches) == 0 {
			t.Fatalf("full run: %+v", rep)
		}
		one, err := svc.Duplicates(ctx, agency.ID)
		if err != nil || len(one.Suggestions) != 1 {
			t.Fatalf("candidates of the agency account: %+v, %v", one, err)
		}
		wantErr(t, svc.Dismiss(ctx, uni.ID, uni.ID, "test"), accounts.ErrInvalid)
		wantErr(t, svc.Dismiss(ctx, uni.ID, "nope", "test"), store.ErrNotFound)
		if err := svc.Dismiss(ctx, agency.ID, uni.ID, "token:support"); err != nil {
			t.Fatal(err)
		}
		rep, err = svc.Duplicates(ctx, "")
		if err != nil || len(rep.Suggestions) != 0 || rep.Dismissed != 1 {
			t.Fatalf("after dismissing: %+v, %v", rep, err)
		}
		// A merged account is no longer a candidate at all.
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: uni.ID, RetiredID: agency.ID, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		if rep, err = svc.Duplicates(ctx, ""); err != nil || rep.Pairs+rep.Dismissed != 0 {
			t.Fatalf("after the merge: %+v, %v", rep, err)
		}
		storetest.CheckInvariants(t, st)
	})
}

func TestAutoMerge(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		cfg := accounts.DefaultConfig()
		svc := accounts.New(st, cfg, discard())
		uni, agency := seed000(t, st)
		// Off by default: nothing happens.
		if recs, err := svc.AutoMerge(ctx, ""); err != nil || len(recs) != 0 {
			t.Fatalf("auto-merge off: %v, %v", recs, err)
		}
		// A rule requiring a national id does not fire on names alone.
		cfg.AutoMerge = accounts.AutoMergeConfig{Enabled: true, MinScore: 0.8, Require: []string{"ine"}}
		if recs, err := accounts.New(st, cfg, discard()).AutoMerge(ctx, ""); err != nil || len(recs) != 0 {
			t.Fatalf("auto-merge requiring ine: %v, %v", recs, err)
		}
		// Without the requirement it merges, keeping the directory account
		// (ldap:campus ranks before csv:*).
		cfg.AutoMerge.Require = nil
		recs, err := accounts.New(st, cfg, discard()).AutoMerge(ctx, agency.ID)
		if err != nil || len(recs) != 1 || recs[0].SurvivorID != uni.ID || recs[0].Reason != identity.MergeByRule {
			t.Fatalf("auto-merge: %+v, %v", recs, err)
		}
		storetest.CheckInvariants(t, st)
		cfg.AutoMerge.MinScore = 0.1
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "auto_merge.min_score") {
			t.Fatalf("Validate accepted min_score 0.1: %v", err)
		}
	})
}
