package oidc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// ClaimMergedSubs lists the ids of the accounts merged into this one, so
// that a platform holding data under an old sub can move it.
const ClaimMergedSubs = "merged_subs"

// setUserinfo fills the claims of the account for the scopes: sub and
// merged_subs always; name, given_name, family_name, preferred_username,
// updated_at with profile; the primary verified address with email; the
// org ids of validated memberships as groups with groups.
func setUserinfo(ctx context.Context, tx store.Tx, info *oidc.UserInfo, accountID string, scopes []string) error {
	acc, err := tx.Accounts().Get(ctx, accountID)
	if err != nil {
		return err
	}
	if acc.Status != identity.StatusActive {
		return fmt.Errorf("account %s is %s", acc.ID, acc.Status)
	}
	info.Subject = acc.ID
	if slices.Contains(scopes, ScopeProfile) {
		info.GivenName, info.FamilyName, info.PreferredUsername = acc.GivenName, acc.FamilyName, acc.Login
		info.Name = acc.DisplayName
		if info.Name == "" {
			info.Name = strings.TrimSpace(acc.GivenName + " " + acc.FamilyName)
		}
		info.UpdatedAt = oidc.FromTime(acc.UpdatedAt)
	}
	if slices.Contains(scopes, ScopeEmail) {
		emails, err := tx.Emails().ListByAccount(ctx, acc.ID)
		if err != nil {
			return err
		}
		if e, ok := primaryVerified(emails); ok {
			info.Email, info.EmailVerified = e.Address, true
		}
	}
	if slices.Contains(scopes, ScopeGroups) {
		groups, err := groupsOf(ctx, tx, acc.ID)
		if err != nil {
			return err
		}
		info.AppendClaims("groups", groups)
	}
	merged, err := mergedSubs(ctx, tx, acc.ID)
	if err != nil {
		return err
	}
	if len(merged) > 0 {
		info.AppendClaims(ClaimMergedSubs, merged)
	}
	return nil
}

// primaryVerified picks the primary address if verified, else the first
// verified one.
func primaryVerified(emails []identity.Email) (identity.Email, bool) {
	var first *identity.Email
	for i, e := range emails {
		if !e.Verified {
			continue
		}
		if e.Primary {
			return e, true
		}
		if first == nil {
			first = &emails[i]
		}
	}
	if first != nil {
		return *first, true
	}
	return identity.Email{}, false
}

// groupsOf lists the orgs where the account is a validated member.
func groupsOf(ctx context.Context, tx store.Tx, accountID string) ([]string, error) {
	ms, err := tx.Memberships().ListByAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	groups := []string{}
	for _, m := range ms {
		if m.State == identity.MembershipValidated {
			groups = append(groups, m.OrgID)
		}
	}
	slices.Sort(groups)
	return groups, nil
}

// mergedSubs lists, sorted, every account merged into this one, directly
// or through another merged account.
func mergedSubs(ctx context.Context, tx store.Tx, id string) ([]string, error) {
	var out []string
	frontier := []string{id}
	for len(frontier) > 0 && len(out) < 10000 {
		m, err := tx.Accounts().MergedInto(ctx, frontier)
		if err != nil {
			return nil, err
		}
		frontier = nil
		for _, ids := range m {
			out = append(out, ids...)
			frontier = append(frontier, ids...)
		}
	}
	slices.Sort(out)
	return out, nil
}
