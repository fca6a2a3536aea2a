package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// snapshot reads the identity data in one read transaction.
func snapshot(ctx context.Context, st store.Store) (identity.Snapshot, error) {
	var snap identity.Snapshot
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		snap, err = tx.Snapshot(ctx)
		return err
	})
	return snap, err
}

// outcome is the state of the database after the run, as verify reads it.
type outcome struct {
	snap        identity.Snapshot
	memberships map[string][]identity.Membership // by account id
	head        int64                            // the outbox head
}

// verify reads the database after the run, untimed, and checks it against
// the snapshot taken after setup, what setup wrote and the merges the run
// made (merge i of accounts 2i and 2i+1).
func verify(ctx context.Context, r *runState) error {
	ppl := r.ppl
	o := outcome{memberships: map[string][]identity.Membership{}}
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		if o.snap, err = tx.Snapshot(ctx); err != nil {
			return err
		}
		for i := range ppl {
			id := ppl[i].account.ID
			if o.memberships[id], err = tx.Memberships().ListByAccount(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if o.head, err = r.store.Outbox().Head(ctx); err != nil {
		return err
	}
	return check(r.before, o, ppl, r.mergeIDs)
}

// check is the pure part of verify. It returns every problem found (at most
// a few of each kind), joined:
//
//   - identity.CheckInvariants holds;
//   - there are exactly n merge records, the run's, each of the pair it
//     names, each undone, each with identity.CheckUndo holding against the
//     state before the merges;
//   - every account is live and, but for the reference's phone, its
//     version and its update time, exactly as setup left it; versions say
//     each account was written exactly as often as the phases claim;
//   - links, e-mails and memberships are as setup wrote them;
//   - each log holds n account.merged and n account.unmerged events, and
//     the outbox head counts every event of the run.
func check(before identity.Snapshot, o outcome, ppl []person, mergeIDs []string) error {
	n := len(mergeIDs)
	var errs []error
	counts := map[string]int{}
	fail := func(kind, format string, args ...any) {
		counts[kind]++
		if counts[kind] <= 5 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	after := o.snap

	if err := identity.CheckInvariants(after); err != nil {
		errs = append(errs, fmt.Errorf("invariants violated:\n%w", err))
	}

	// Merge records.
	if len(after.Merges) != n {
		fail("merges", "%d merge records, want %d", len(after.Merges), n)
	}
	pair := make(map[string]int, n)
	for i, id := range mergeIDs {
		pair[id] = i
	}
	undone := 0
	beforeOf, afterOf := byAccount(before), byAccount(after)
	for _, m := range after.Merges {
		i, ok := pair[m.ID]
		switch {
		case !ok:
			fail("merge", "merge record %s was not made by the run", m.ID)
			continue
		case m.SurvivorID != ppl[2*i].account.ID || m.RetiredID != ppl[2*i+1].account.ID:
			fail("merge", "merge %s merged %s into %s, want pair %d (%s into %s)",
				m.ID, m.RetiredID, m.SurvivorID, i, ppl[2*i+1].account.ID, ppl[2*i].account.ID)
		case m.Reason != identity.MergeByAdmin || m.Actor != benchActor || m.UndoneBy != benchActor:
			fail("merge", "merge %s: reason %q, actor %q, undone by %q; want %q, %q, %q",
				m.ID, m.Reason, m.Actor, m.UndoneBy, identity.MergeByAdmin, benchActor, benchActor)
		}
		if !m.Undone() {
			fail("standing", "merge %s is still standing", m.ID)
			continue
		}
		undone++
		if len(m.Moved.Links) != linksPerAccount || len(m.Moved.Emails) != emailsPerAccount || len(m.Moved.Memberships) != membershipsPerAccount {
			fail("moved", "merge %s moved %d links, %d e-mails, %d memberships; want %d, %d, %d", m.ID,
				len(m.Moved.Links), len(m.Moved.Emails), len(m.Moved.Memberships), linksPerAccount, emailsPerAccount, membershipsPerAccount)
		}
		// CheckUndo on the pair's part of each snapshot: the same
		// answer as on the whole, which it scans once per call.
		if err := identity.CheckUndo(beforeOf.pair(m), afterOf.pair(m), m); err != nil {
			fail("undo", "merge %s: %v", m.ID, err)
		}
	}
	if undone != n {
		fail("undone", "%d merges undone, want %d", undone, n)
	}

	// Accounts.
	byID := make(map[string]identity.Account, len(before.Accounts))
	for _, a := range before.Accounts {
		byID[a.ID] = a
	}
	if len(after.Accounts) != len(ppl) || len(before.Accounts) != len(ppl) {
		fail("accounts", "%d accounts after setup and %d after the run, want %d", len(before.Accounts), len(after.Accounts), len(ppl))
	}
	index := make(map[string]int, len(ppl))
	for i := range ppl {
		index[ppl[i].account.ID] = i
	}
	for _, a := range after.Accounts {
		i, ok := index[a.ID]
		if !ok {
			fail("account", "account %s was not written by setup", a.ID)
			continue
		}
		b := byID[a.ID]
		wantPhone, wantVersion := b.Phone, int64(3) // created, merged, unmerged
		if i%2 == 0 {
			wantPhone, wantVersion = referencePhone(i/2), 4 // and touched by the reference
		}
		if a.Status != identity.StatusActive || a.MergedInto != "" {
			fail("account", "account %s is %s (merged_into %q), want active", a.ID, a.Status, a.MergedInto)
		}
		if a.Phone != wantPhone || a.Version != wantVersion {
			fail("account", "account %s: phone %q, version %d; want %q, %d", a.ID, a.Phone, a.Version, wantPhone, wantVersion)
		}
		a.Phone, a.Version, a.UpdatedAt = b.Phone, b.Version, b.UpdatedAt
		if !reflect.DeepEqual(a, b) {
			fail("account", "account %s differs from what setup wrote:\n  setup: %+v\n  now:   %+v", a.ID, b, a)
		}
	}

	// What the accounts own.
	if len(after.Links) != len(ppl)*linksPerAccount || len(after.Emails) != len(ppl)*emailsPerAccount {
		fail("owned", "%d links and %d e-mails, want %d and %d",
			len(after.Links), len(after.Emails), len(ppl)*linksPerAccount, len(ppl)*emailsPerAccount)
	}
	for i := range ppl {
		pr := &ppl[i]
		got := o.memberships[pr.account.ID]
		want := pr.membership
		if len(got) != 1 || got[0].OrgID != want.OrgID || got[0].Role != want.Role || got[0].State != want.State {
			fail("membership", "account %s: memberships %+v, want one in %s (%s, %s)", pr.account.ID, got, want.OrgID, want.Role, want.State)
		}
	}

	// Events.
	events := map[identity.EventRef]int{}
	for _, e := range after.Events {
		events[identity.EventRef{Log: e.Log, Type: e.Type}]++
	}
	for _, log := range []string{"audit", "outbox"} {
		for _, typ := range []string{identity.EventAccountMerged, identity.EventAccountUnmerged} {
			if got := events[identity.EventRef{Log: log, Type: typ}]; got != n {
				fail("events", "%d %s events in the %s, want %d", got, typ, log, n)
			}
		}
	}
	// Setup: one event per org and per account; then one per merge, undo
	// and reference transaction.
	if want := int64(len(orgs) + len(ppl) + 3*n); o.head != want {
		fail("events", "outbox head %d, want %d", o.head, want)
	}

	for _, kind := range slices.Sorted(maps.Keys(counts)) {
		if c := counts[kind]; c > 5 {
			errs = append(errs, fmt.Errorf("... and %d more %s problems", c-5, kind))
		}
	}
	return errors.Join(errs...)
}

// accountRows is a snapshot's accounts, links and e-mails by account id.
type accountRows struct {
	accounts map[string]identity.Account
	links    map[string][]identity.Link
	emails   map[string][]identity.Email
}

func byAccount(s identity.Snapshot) accountRows {
	r := accountRows{accounts: map[string]identity.Account{}, links: map[string][]identity.Link{}, emails: map[string][]identity.Email{}}
	for _, a := range s.Accounts {
		r.accounts[a.ID] = a
	}
	for _, l := range s.Links {
		r.links[l.AccountID] = append(r.links[l.AccountID], l)
	}
	for _, e := range s.Emails {
		r.emails[e.AccountID] = append(r.emails[e.AccountID], e)
	}
	return r
}

// pair is the part of the snapshot that concerns the two accounts of m.
func (r accountRows) pair(m identity.MergeRecord) identity.Snapshot {
	var s identity.Snapshot
	for _, id := range []string{m.SurvivorID, m.RetiredID} {
		if a, ok := r.accounts[id]; ok {
			s.Accounts = append(s.Accounts, a)
		}
		s.Links = append(s.Links, r.links[id]...)
		s.Emails = append(s.Emails, r.emails[id]...)
	}
	return s
}
