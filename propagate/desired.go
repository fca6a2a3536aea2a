package propagate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Load reads the downstream state of the given accounts in tx, by id.
// Unknown ids are left out.
func Load(ctx context.Context, tx store.Tx, ids []string) (map[string]Account, error) {
	accs, err := tx.Accounts().GetMany(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("load accounts: %w", err)
	}
	live := make([]string, 0, len(accs))
	for _, a := range accs {
		if a.Status != identity.StatusMerged {
			live = append(live, a.ID)
		}
	}
	emails, err := tx.Emails().ListByAccounts(ctx, live)
	if err != nil {
		return nil, fmt.Errorf("load e-mails: %w", err)
	}
	members, err := tx.Memberships().ListByAccounts(ctx, live)
	if err != nil {
		return nil, fmt.Errorf("load memberships: %w", err)
	}
	links, err := tx.Links().ListByAccounts(ctx, live)
	if err != nil {
		return nil, fmt.Errorf("load links: %w", err)
	}
	merged, err := tx.Accounts().MergedInto(ctx, live)
	if err != nil {
		return nil, fmt.Errorf("load merged accounts: %w", err)
	}
	var retiredIDs []string
	for _, ids := range merged {
		retiredIDs = append(retiredIDs, ids...)
	}
	retired, err := tx.Accounts().GetMany(ctx, retiredIDs)
	if err != nil {
		return nil, fmt.Errorf("load merged accounts: %w", err)
	}
	retiredLogin := make(map[string]string, len(retired))
	for _, r := range retired {
		retiredLogin[r.ID] = r.Login
	}
	var orgNames map[string]string
	if len(members) > 0 {
		orgs, err := tx.Orgs().List(ctx)
		if err != nil {
			return nil, fmt.Errorf("load orgs: %w", err)
		}
		orgNames = make(map[string]string, len(orgs))
		for _, o := range orgs {
			orgNames[o.ID] = o.Name
		}
	}
	out := make(map[string]Account, len(accs))
	for _, a := range accs {
		d := Account{ID: a.ID, Status: string(a.Status), CreatedAt: a.CreatedAt.UTC()}
		switch a.Status {
		case identity.StatusMerged:
			// A retired account keeps nothing downstream but its id and
			// the survivor's: its login and addresses are the survivor's now.
			d.State, d.SurvivorID = StateRetired, a.MergedInto
			out[a.ID] = d
			continue
		case identity.StatusActive:
			d.State = StateActive
		default:
			d.State = StateInactive
		}
		d.Login, d.GivenName, d.FamilyName, d.DisplayName = a.Login, a.GivenName, a.FamilyName, a.DisplayName
		d.BirthDate, d.Phone = a.BirthDate, a.Phone
		if len(a.Attributes) > 0 {
			d.Attributes = make(map[string][]string, len(a.Attributes))
			for k, v := range a.Attributes {
				if len(v) > 0 {
					d.Attributes[k] = slices.Clone(v)
				}
			}
		}
		if a.Consents.DirectoryVisible != nil {
			v := *a.Consents.DirectoryVisible
			d.DirectoryVisible = &v
		}
		d.MailForward = mailForward(a)
		for _, e := range emails[a.ID] {
			if e.Verified {
				d.Emails = append(d.Emails, Email{Address: e.Address, Primary: e.Primary})
			}
		}
		slices.SortFunc(d.Emails, func(x, y Email) int {
			if x.Primary != y.Primary {
				if x.Primary {
					return -1
				}
				return 1
			}
			return strings.Compare(x.Address, y.Address)
		})
		for _, m := range members[a.ID] {
			if m.State == identity.MembershipValidated {
				d.Orgs = append(d.Orgs, Org{ID: m.OrgID, Name: orgNames[m.OrgID], Role: string(m.Role)})
			}
		}
		slices.SortFunc(d.Orgs, func(x, y Org) int { return strings.Compare(x.ID, y.ID) })
		for _, l := range links[a.ID] {
			if l.Status == identity.LinkActive {
				d.Links = append(d.Links, l.Source+":"+l.ExternalID)
			}
		}
		slices.Sort(d.Links)
		for _, id := range merged[a.ID] {
			if login := retiredLogin[id]; login != "" {
				d.MergedLogins = append(d.MergedLogins, login)
			}
		}
		slices.Sort(d.MergedLogins)
		out[a.ID] = d
	}
	return out, nil
}

// Hash is the hash of what a target is told about a: equal hashes, nothing
// to write.
func Hash(a Account) string {
	// encoding/json sorts map keys; values keep their order, which is
	// meaningful (the first value first).
	b, err := json.Marshal(a)
	if err != nil {
		// Account holds strings, bools, times and slices of them.
		panic("propagate: encode account: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// mailForward is the validated mail redirection of a, if any: a pending
// one (its link not followed yet) is not applied downstream.
func mailForward(a identity.Account) *MailForward {
	f := a.MailForward
	if f == nil || f.Address == "" || f.VerifiedAt.IsZero() {
		return nil
	}
	return &MailForward{Address: f.Address, KeepCopy: f.KeepCopy}
}
