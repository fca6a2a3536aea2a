package push

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/canonid/canonid/propagate"
)

// What Reconcile does, or would do, for an account (Drift.Action).
const (
	ActionCreate = "create" // no User holds the account: create one
	ActionUpdate = "update" // its User differs: write it
	ActionNone   = "none"   // its User matches, or there is nothing to write
)

// Report is what a reconciliation found and did.
type Report struct {
	// Accounts has one entry per wanted account, in the order given.
	Accounts []Drift
	// Unknown are the ids of the provider's Users that hold none of the
	// wanted accounts, sorted. They are reported, never deleted.
	Unknown []string
	// Remotes is the remotes given, updated with what the reconciliation
	// learned (the id of a User found by its externalId) and, unless it
	// was a dry run, wrote. Hashes are carried over as given: Reconcile
	// does not compute them.
	Remotes map[string]propagate.Remote
}

// Drift is the difference between one account and its User.
type Drift struct {
	AccountID string
	// RemoteID is the User compared with, or, after a create, the one
	// created; empty when there is none.
	RemoteID string
	Action   string
	// Fields name the User attributes that differ ("userName",
	// "name.givenName", "emails", "active"...), for an update.
	Fields []string
}

// Reconcile compares the provider's Users with the accounts of want (their
// state, as Write takes it): each account's User is the one remotes
// remembers, else the one whose externalId is the account id. Unless
// dryRun, it repairs what differs: missing Users are created, differing
// ones written. A retired account without a User needs none. Users that
// hold no wanted account are listed in Report.Unknown and left alone.
//
// When a repair fails, Reconcile goes on with the other accounts and
// returns the report with every failure joined; an unavailable provider
// stops it at once.
func (t *Target) Reconcile(ctx context.Context, want []propagate.Account, remotes map[string]propagate.Remote, dryRun bool) (Report, error) {
	all, err := t.listUsers(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("scim target %s: reconcile: list users: %w", t.cfg.Name, err)
	}
	byID := make(map[string]user, len(all))
	byExt := map[string][]string{}
	for _, u := range all {
		if u.ID == "" {
			continue
		}
		byID[u.ID] = u
		if u.ExternalID != "" {
			byExt[u.ExternalID] = append(byExt[u.ExternalID], u.ID)
		}
	}
	// Match: first the ids remembered, then the externalIds, each User to
	// one account at most.
	claimed := map[string]bool{}
	match := make([]string, len(want))
	for i, a := range want {
		if id := remotes[a.ID].ID; id != "" {
			if _, ok := byID[id]; ok && !claimed[id] {
				match[i], claimed[id] = id, true
			}
		}
	}
	for i, a := range want {
		if match[i] != "" {
			continue
		}
		for _, id := range byExt[a.ID] {
			if !claimed[id] {
				match[i], claimed[id] = id, true
				break
			}
		}
	}

	rep := Report{Remotes: maps.Clone(remotes)}
	if rep.Remotes == nil {
		rep.Remotes = map[string]propagate.Remote{}
	}
	var errs []error
	for i, a := range want {
		d := Drift{AccountID: a.ID, RemoteID: match[i], Action: ActionNone}
		prev := remotes[a.ID]
		if d.RemoteID != "" {
			d.Fields = drift(userResource(a), byID[d.RemoteID])
			if len(d.Fields) > 0 {
				d.Action = ActionUpdate
			}
			if prev.ID != d.RemoteID {
				prev.ID = d.RemoteID
				rep.Remotes[a.ID] = prev
			}
		} else if a.State != propagate.StateRetired {
			d.Action = ActionCreate
		}
		if !dryRun && d.Action == ActionNone && a.State == propagate.StateRetired && prev.ID != "" && prev.RetiredAt.IsZero() {
			// Retired downstream, but when was forgotten: the grace
			// before deletion starts now.
			prev.RetiredAt = t.now()
			rep.Remotes[a.ID] = prev
		}
		if !dryRun && d.Action != ActionNone {
			if d.Action == ActionCreate {
				prev.ID = ""
			}
			got, err := t.Write(ctx, a, prev)
			if err != nil {
				if ok, _ := propagate.IsUnavailable(err); ok {
					rep.Accounts = append(rep.Accounts, d)
					return rep, err
				}
				errs = append(errs, err)
			} else {
				got.Hash = prev.Hash
				rep.Remotes[a.ID] = got
				d.RemoteID = got.ID
			}
		}
		rep.Accounts = append(rep.Accounts, d)
	}
	for id := range byID {
		if !claimed[id] {
			rep.Unknown = append(rep.Unknown, id)
		}
	}
	slices.Sort(rep.Unknown)
	return rep, errors.Join(errs...)
}
