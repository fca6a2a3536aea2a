package identity

import (
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Event types published to the audit log and the outbox. Payloads that other
// components rely on are typed below.
const (
	EventAccountCreated   = "account.created"
	EventAccountUpdated   = "account.updated"
	EventAccountMerged    = "account.merged"
	EventAccountUnmerged  = "account.unmerged"
	EventAccountSuspended = "account.suspended"
	EventAccountActivated = "account.activated"
	EventOrgUpserted      = "org.upserted"
	EventMembershipAdded  = "membership.added"
	EventMembershipValid  = "membership.validated"
	// EventMembershipRemoved: an account left an org.
	EventMembershipRemoved = "membership.removed"
	// EventAccountLinked: an identity at a source was linked to an
	// existing account (correlation).
	EventAccountLinked = "account.linked"
	// EventLinkGone: the source no longer reports a linked identity.
	EventLinkGone = "link.gone"
	// EventLinkRemoved: the source deleted a linked identity (a SCIM
	// DELETE); the link no longer exists.
	EventLinkRemoved = "link.removed"
	// EventLinkUpdated: the source's snapshot of a linked identity changed
	// (a rename), not the account.
	EventLinkUpdated = "link.updated"
	// EventLinkRestored: a gone identity is back at its source.
	EventLinkRestored = "link.restored"
	// EventConnectorSynced closes a connector run, with its summary.
	EventConnectorSynced = "connector.synced"
)

// MergeEventData is the payload of account.merged and account.unmerged.
type MergeEventData struct {
	MergeID    string `json:"merge_id"`
	SurvivorID string `json:"survivor_id"`
	RetiredID  string `json:"retired_id"`
}

// Snapshot is a consistent picture of the identity data, as read in one
// transaction, for CheckInvariants and CheckUndo.
type Snapshot struct {
	Accounts []Account
	Links    []Link
	Emails   []Email
	Merges   []MergeRecord
	// Tokens are the pending (unused, unexpired) one-time tokens.
	Tokens []TokenRef
	// Grants are the live (unrevoked, unexpired) login sessions and
	// refresh tokens issued to accounts.
	Grants []GrantRef
	// Events are the audit and outbox events about merges and undos.
	Events []EventRef
}

// TokenRef is the part of a pending one-time token the invariants look at.
type TokenRef struct {
	ID        string
	AccountID string
	Purpose   string
}

// GrantRef is the part of a live login session or refresh token the
// invariants look at.
type GrantRef struct {
	Kind      string // "session" or "refresh token"
	ID        string
	AccountID string
}

// EventRef is the part of a merge event the invariants look at.
type EventRef struct {
	Log     string // "audit" or "outbox"
	Type    string // EventAccountMerged or EventAccountUnmerged
	MergeID string
}

// CheckInvariants checks the invariants of DESIGN.md on a snapshot and returns
// every violation found, joined, or nil:
//
//  1. every link and every verified e-mail has exactly one live owner;
//  2. merged_into always reaches a live account, without cycles;
//  3. a merged account owns no links, no verified e-mails, no pending tokens,
//     no live sessions, no live refresh tokens;
//  4. every merge (and undo) left its record, its audit and its outbox events,
//     and every merged account is explained by exactly one standing merge.
//
// Invariant 5, that an undo restores exactly what moved, compares two
// snapshots: see CheckUndo.
func CheckInvariants(s Snapshot) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	accounts := make(map[string]Account, len(s.Accounts))
	for _, a := range s.Accounts {
		if _, dup := accounts[a.ID]; dup {
			fail("account %s appears twice", a.ID)
		}
		accounts[a.ID] = a
	}
	live := func(id string) bool { a, ok := accounts[id]; return ok && a.Status.Live() }

	// 1. Links and verified e-mails have exactly one live owner.
	links := make(map[LinkKey]bool, len(s.Links))
	for _, l := range s.Links {
		k := LinkKey{l.Source, l.ExternalID}
		if links[k] {
			fail("link %s/%s has more than one owner", l.Source, l.ExternalID)
		}
		links[k] = true
		if !live(l.AccountID) {
			fail("link %s/%s is owned by %s, which is not a live account", l.Source, l.ExternalID, l.AccountID)
		}
	}
	verified := make(map[string]string)
	for _, e := range s.Emails {
		if _, ok := accounts[e.AccountID]; !ok {
			fail("e-mail %s belongs to unknown account %s", e.Address, e.AccountID)
		}
		if !e.Verified {
			continue
		}
		if other, dup := verified[e.Address]; dup {
			fail("e-mail %s is verified on both %s and %s", e.Address, other, e.AccountID)
		}
		verified[e.Address] = e.AccountID
		if !live(e.AccountID) {
			fail("verified e-mail %s is owned by %s, which is not a live account", e.Address, e.AccountID)
		}
	}

	// 2. merged_into reaches a live account; no cycles.
	for _, a := range s.Accounts {
		if !a.Status.Valid() {
			fail("account %s has unknown status %q", a.ID, a.Status)
		}
		if (a.Status == StatusMerged) != (a.MergedInto != "") {
			fail("account %s has status %s but merged_into %q", a.ID, a.Status, a.MergedInto)
			continue
		}
		if a.Status != StatusMerged {
			continue
		}
		if _, err := resolve(accounts, a.ID); err != nil {
			fail("account %s: %w", a.ID, err)
		}
	}

	// 3. A merged account owns nothing.
	owned := map[string][]string{}
	for _, l := range s.Links {
		owned[l.AccountID] = append(owned[l.AccountID], "link "+l.Source+"/"+l.ExternalID)
	}
	for _, e := range s.Emails {
		if e.Verified {
			owned[e.AccountID] = append(owned[e.AccountID], "verified e-mail "+e.Address)
		}
	}
	for _, t := range s.Tokens {
		owned[t.AccountID] = append(owned[t.AccountID], "pending "+t.Purpose+" token "+t.ID)
	}
	for _, g := range s.Grants {
		owned[g.AccountID] = append(owned[g.AccountID], "live "+g.Kind+" "+g.ID)
	}
	for _, a := range s.Accounts {
		if a.Status == StatusMerged && len(owned[a.ID]) > 0 {
			fail("merged account %s still owns %v", a.ID, owned[a.ID])
		}
	}

	// 4. Merges are recorded, audited and published.
	events := map[EventRef]bool{}
	for _, e := range s.Events {
		events[e] = true
	}
	standing := map[string][]string{} // retired id -> standing merge ids
	for _, m := range s.Merges {
		for _, log := range []string{"audit", "outbox"} {
			if !events[EventRef{log, EventAccountMerged, m.ID}] {
				fail("merge %s has no %s event %s", m.ID, log, EventAccountMerged)
			}
			if m.Undone() && !events[EventRef{log, EventAccountUnmerged, m.ID}] {
				fail("undone merge %s has no %s event %s", m.ID, log, EventAccountUnmerged)
			}
		}
		if m.Undone() {
			continue
		}
		standing[m.RetiredID] = append(standing[m.RetiredID], m.ID)
		if r, ok := accounts[m.RetiredID]; !ok || r.Status != StatusMerged || r.MergedInto != m.SurvivorID {
			fail("merge %s says %s was merged into %s, but the account is %s (merged_into %q)",
				m.ID, m.RetiredID, m.SurvivorID, r.Status, r.MergedInto)
		}
	}
	for _, a := range s.Accounts {
		if a.Status == StatusMerged && len(standing[a.ID]) != 1 {
			fail("merged account %s is explained by %d standing merges %v, want 1", a.ID, len(standing[a.ID]), standing[a.ID])
		}
	}
	return errors.Join(errs...)
}

// Resolve follows merged_into from id to the live account at the root of the
// chain. It returns an error for an unknown id, a broken chain or a cycle.
func Resolve(accounts []Account, id string) (Account, error) {
	byID := make(map[string]Account, len(accounts))
	for _, a := range accounts {
		byID[a.ID] = a
	}
	return resolve(byID, id)
}

func resolve(accounts map[string]Account, id string) (Account, error) {
	seen := map[string]bool{}
	for {
		a, ok := accounts[id]
		if !ok {
			return Account{}, fmt.Errorf("merge chain reaches unknown account %s", id)
		}
		if a.Status != StatusMerged {
			return a, nil
		}
		if seen[id] {
			return Account{}, fmt.Errorf("merge chain has a cycle through %s", id)
		}
		seen[id] = true
		id = a.MergedInto
	}
}

// CheckUndo checks invariant 5 for one undone merge when nothing else changed
// in between: after the undo, the retired account is live again and owns
// exactly the links and e-mails it owned before the merge, and the survivor
// owns exactly what it owned before the merge.
func CheckUndo(beforeMerge, afterUndo Snapshot, m MergeRecord) error {
	var errs []error
	for _, id := range []string{m.SurvivorID, m.RetiredID} {
		before, after := ownedBy(beforeMerge, id), ownedBy(afterUndo, id)
		if !slices.Equal(before, after) {
			errs = append(errs, fmt.Errorf("account %s owned %v before the merge but %v after the undo", id, before, after))
		}
	}
	for _, a := range afterUndo.Accounts {
		if a.ID == m.RetiredID && (a.Status == StatusMerged || a.MergedInto != "") {
			errs = append(errs, fmt.Errorf("account %s is still merged after the undo of %s", a.ID, m.ID))
		}
	}
	return errors.Join(errs...)
}

// ownedBy lists, sorted, the links and e-mails (with their flags) of one account.
func ownedBy(s Snapshot, id string) []string {
	var out []string
	for _, l := range s.Links {
		if l.AccountID == id {
			out = append(out, "link "+l.Source+"/"+l.ExternalID)
		}
	}
	for _, e := range s.Emails {
		if e.AccountID == id {
			out = append(out, fmt.Sprintf("email %s verified=%t primary=%t", e.Address, e.Verified, e.Primary))
		}
	}
	sort.Strings(out)
	return out
}
