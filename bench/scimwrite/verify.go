package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
)

// maxProblems is how many problems verify lists before it stops looking.
const maxProblems = 20

// verify checks, untimed, through a snapshot of the store, that every user
// the run wrote (through SCIM and by the references) is stored as its last
// write left it, that nothing else is, and that identity.CheckInvariants
// holds. It returns the number of accounts.
func (h *harness) verify(ctx context.Context) (int, error) {
	var snap identity.Snapshot
	err := h.db.Store.View(ctx, func(tx store.Tx) error {
		var err error
		snap, err = tx.Snapshot(ctx)
		return err
	})
	if err != nil {
		return 0, err
	}
	accounts := make(map[string]identity.Account, len(snap.Accounts))
	for _, a := range snap.Accounts {
		accounts[a.ID] = a
	}
	emails := make(map[string][]identity.Email, len(snap.Emails))
	for _, e := range snap.Emails {
		emails[e.AccountID] = append(emails[e.AccountID], e)
	}
	links := make(map[identity.LinkKey]identity.Link, len(snap.Links))
	for _, l := range snap.Links {
		links[identity.LinkKey{Source: l.Source, ExternalID: l.ExternalID}] = l
	}

	var errs []error
	fail := func(format string, args ...any) {
		if len(errs) < maxProblems {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	total := 0
	for w, client := range h.clients {
		source := "scim:" + client
		for _, us := range [][]*user{h.scimUsers[w], h.refUsers[w]} {
			for _, u := range us {
				total++
				checkUser(u, source, accounts[u.id], emails[u.id], links[identity.LinkKey{Source: source, ExternalID: u.p.externalID}], fail)
			}
		}
	}
	if len(snap.Accounts) != total || len(snap.Emails) != total || len(snap.Links) != total {
		fail("%d accounts, %d e-mails, %d links; want %d of each, one per user written", len(snap.Accounts), len(snap.Emails), len(snap.Links), total)
	}
	if err := identity.CheckInvariants(snap); err != nil {
		errs = append(errs, fmt.Errorf("invariants: %w", err))
	}
	return total, errors.Join(errs...)
}

// checkUser compares the stored account, addresses and link of u with
// what its last write gave.
func checkUser(u *user, source string, a identity.Account, emails []identity.Email, l identity.Link, fail func(string, ...any)) {
	p := u.p
	status, linkStatus := identity.StatusActive, identity.LinkActive
	if u.gone {
		status, linkStatus = identity.StatusSuspended, identity.LinkGone
	}
	if a.ID != u.id {
		fail("user %s (%s): no account", p.login, u.id)
		return
	}
	if a.Status != status || a.Login != p.login || a.GivenName != p.given || a.FamilyName != p.family || a.DisplayName != p.display ||
		!slices.Equal(a.Attributes[mapping.FieldSupannEmpID], []string{p.employeeNum}) || a.Provenance[mapping.FieldFamilyName] != source {
		fail("account %s: status %s, login %q, names %q %q %q, employee number %v, family name from %q; want %s, %q, %q %q %q, %s, %s",
			a.ID, a.Status, a.Login, a.GivenName, a.FamilyName, a.DisplayName, a.Attributes[mapping.FieldSupannEmpID], a.Provenance[mapping.FieldFamilyName],
			status, p.login, p.given, p.family, p.display, p.employeeNum, source)
	}
	if len(emails) != 1 || emails[0].Address != p.email || !emails[0].Verified || !emails[0].Primary || emails[0].Source != source {
		fail("account %s: e-mails %+v, want only %s, verified and primary, from %s", a.ID, emails, p.email, source)
	}
	if l.AccountID != u.id || l.Status != linkStatus {
		fail("link %s/%s: account %q, status %q; want %s, %s", source, p.externalID, l.AccountID, l.Status, u.id, linkStatus)
	}
}
