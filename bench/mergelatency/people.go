package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Per account, what setup writes: 10 links, 2 e-mails, 1 membership.
const (
	linksPerAccount       = 10
	emailsPerAccount      = 2
	membershipsPerAccount = 1
)

// linkSources are the sources of an account's ten links, one link each.
var linkSources = [linksPerAccount]string{
	"ldap:campus", "ldap:iut-nord",
	"csv:ars-occitanie", "csv:cpts-sud", "csv:alumni",
	"scim:hr", "scim:library",
	"oidc:campus-sso", "oidc:renater", "oidc:france-connect",
}

// Where the two sides of a pair get their fields from: the survivor from
// the campus directory, the retired account from the agency's file import.
const (
	sourceSurvivor = "ldap:campus"
	sourceRetired  = "csv:ars-occitanie"
)

// orgs are the organisations of the memberships: every survivor is a
// validated member of the first, every retired account a pending member of
// one of the others, so that each merge moves a membership.
var orgs = []identity.Org{
	{ID: "univ-exemple", Name: "Université Exemple", Kind: "university"},
	{ID: "cpts-sud", Name: "CPTS Sud", Kind: "cpts"},
	{ID: "ars-occitanie", Name: "ARS Occitanie", Kind: "agency"},
}

var (
	givenNames  = []string{"Camille", "Léa", "Hugo", "Louis", "Chloé", "Inès", "Jules", "Manon", "Théo", "Zoé", "Nathan", "Élise"}
	familyNames = []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Garcia", "Lefèvre"}
)

// person is one generated account with what it owns.
type person struct {
	account    identity.Account
	links      [linksPerAccount]identity.Link
	emails     [emailsPerAccount]identity.Email
	membership identity.Membership
}

// createdData is the payload of the account.created event, as the
// connectors record it.
type createdData struct {
	Login  string `json:"login"`
	Status string `json:"status"`
	Source string `json:"source"`
}

// people generates n pairs of accounts, 2n in all, deterministically. The
// two accounts of pair i (indexes 2i and 2i+1) are the same person, seen by
// two sources: the survivor (campus directory) has the names, an
// affiliation and the org; the retired one (file import) has the names in
// capitals, a birth date, a phone number and an INE, which the merge brings
// over. Every id, login, address and external id is distinct.
func people(n int) ([]person, error) {
	var seed [32]byte
	copy(seed[:], "canonid mergelatency")
	src := rand.NewChaCha8(seed)
	rng := rand.New(src)
	newUUID := func() (string, error) {
		id, err := uuid.NewRandomFromReader(src)
		return id.String(), err
	}
	hexID := func(bytes int) string {
		b := make([]byte, bytes)
		_, _ = src.Read(b)
		return hex.EncodeToString(b)
	}
	// One fixed instant for the membership validations, so that runs
	// write the same bytes.
	validatedAt := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	out := make([]person, 2*n)
	for pair := range n {
		given := givenNames[rng.Uint64()%uint64(len(givenNames))]
		family := familyNames[rng.Uint64()%uint64(len(familyNames))]
		base := fmt.Sprintf("%s.%s.%06d", asciiLower(given), asciiLower(family), pair)
		for side := range 2 {
			i := 2*pair + side
			id, err := newUUID()
			if err != nil {
				return nil, err
			}
			pr := &out[i]
			a := &pr.account
			a.ID, a.Status = id, identity.StatusActive
			if side == 0 {
				a.Login, a.GivenName, a.FamilyName, a.DisplayName = base, given, family, given+" "+family
				a.Attributes = map[string][]string{
					identity.FieldAffiliation: {"student", "member"},
					identity.FieldOrg:         {"univ-exemple"},
				}
				a.Provenance = map[string]string{
					identity.FieldLogin: sourceSurvivor, identity.FieldGivenName: sourceSurvivor,
					identity.FieldFamilyName: sourceSurvivor, identity.FieldDisplayName: sourceSurvivor,
					identity.FieldEmail: sourceSurvivor, identity.FieldAffiliation: sourceSurvivor,
					identity.FieldOrg: sourceSurvivor,
				}
				pr.emails[0] = identity.Email{Address: base + "@univ-exemple.fr", Verified: true, Primary: true, Source: sourceSurvivor}
				pr.emails[1] = identity.Email{Address: base + "@perso-exemple.fr", Source: "self"}
				pr.membership = identity.Membership{OrgID: orgs[0].ID, Role: identity.RoleMember,
					State: identity.MembershipValidated, ValidatedBy: "admin", ValidatedAt: validatedAt}
			} else {
				upper := strings.ToUpper(family)
				a.Login = fmt.Sprintf("%c%s-ars-%06d", asciiLower(given)[0], asciiLower(family), pair)
				a.GivenName, a.FamilyName, a.DisplayName = given, upper, given+" "+upper
				a.BirthDate = fmt.Sprintf("%d-%02d-%02d", 1960+rng.IntN(45), 1+rng.IntN(12), 1+rng.IntN(28))
				a.Phone = fmt.Sprintf("+33 6 %02d %02d %02d %02d", rng.IntN(100), rng.IntN(100), rng.IntN(100), rng.IntN(100))
				a.Attributes = map[string][]string{
					identity.FieldAffiliation: {"staff"},
					identity.FieldINE:         {fmt.Sprintf("%09d%s", rng.IntN(1_000_000_000), strings.ToUpper(hexID(1)))},
				}
				a.Provenance = map[string]string{
					identity.FieldGivenName: sourceRetired, identity.FieldFamilyName: sourceRetired,
					identity.FieldDisplayName: sourceRetired, identity.FieldBirthDate: sourceRetired,
					identity.FieldPhone: sourceRetired, identity.FieldEmail: sourceRetired,
					identity.FieldAffiliation: sourceRetired, identity.FieldINE: sourceRetired,
				}
				pr.emails[0] = identity.Email{Address: base + "@ars-exemple.fr", Verified: true, Primary: true, Source: sourceRetired}
				pr.emails[1] = identity.Email{Address: a.Login + "@perso-exemple.fr", Source: sourceRetired}
				pr.membership = identity.Membership{OrgID: orgs[1+pair%2].ID, Role: identity.RoleMember, State: identity.MembershipPending}
			}
			for j := range pr.emails {
				pr.emails[j].AccountID = a.ID
			}
			pr.membership.AccountID = a.ID
			for j, src := range linkSources {
				ext, err := externalID(src, i, newUUID, hexID)
				if err != nil {
					return nil, err
				}
				pr.links[j] = identity.Link{Source: src, ExternalID: ext, AccountID: a.ID, Status: identity.LinkActive,
					Attributes: linkAttributes(src, ext, a, pr.emails[0].Address)}
			}
		}
	}
	return out, nil
}

// externalID is the id account i has at source src, in the form that
// source uses.
func externalID(src string, i int, newUUID func() (string, error), hexID func(int) string) (string, error) {
	switch src {
	case "ldap:campus", "ldap:iut-nord": // entryUUID
		return newUUID()
	case "csv:ars-occitanie":
		return fmt.Sprintf("ARS%09d", i), nil
	case "csv:cpts-sud":
		return fmt.Sprintf("CPTS-%07d", i), nil
	case "csv:alumni":
		return fmt.Sprintf("ALU%08d", i), nil
	case "scim:hr": // externalId: the employee number
		return fmt.Sprintf("E%08d", i), nil
	case "scim:library":
		return fmt.Sprintf("LIB-%08d", i), nil
	case "oidc:campus-sso":
		return "https://sso.univ-exemple.fr|" + hexID(16), nil
	case "oidc:renater":
		return "https://federation.renater.fr/idp|" + hexID(20), nil
	case "oidc:france-connect":
		return "https://app.franceconnect.gouv.fr|" + hexID(32), nil
	}
	return "", fmt.Errorf("no external id format for source %s", src)
}

// linkAttributes is the snapshot a source keeps of its own attributes:
// two or three, named as that kind of source names them.
func linkAttributes(src, ext string, a *identity.Account, mail string) map[string][]string {
	kind, _, _ := strings.Cut(src, ":")
	switch kind {
	case "ldap":
		return map[string][]string{"uid": {a.Login}, "mail": {mail}, "eduPersonAffiliation": {"member"}}
	case "csv":
		return map[string][]string{"nom": {a.FamilyName}, "prenom": {a.GivenName}, "courriel": {mail}}
	case "scim":
		return map[string][]string{"userName": {a.Login}, "externalId": {ext}, "active": {"true"}}
	default: // oidc
		return map[string][]string{"email": {mail}, "name": {a.DisplayName}}
	}
}

// asciiLower lower-cases a name and folds the few accented letters of the
// name lists, so that logins and addresses are plain ASCII.
func asciiLower(s string) string {
	return strings.NewReplacer("é", "e", "è", "e", "ï", "i", "ô", "o").Replace(strings.ToLower(s))
}

// setup writes the orgs, then ppl, perTx accounts per Update, each with its
// links, e-mails, membership and an account.created event. It is not timed.
func setup(ctx context.Context, st store.Store, ppl []person, perTx int, tick func(int)) error {
	err := st.Update(ctx, func(tx store.Tx) error {
		for i := range orgs {
			o := orgs[i]
			if err := tx.Orgs().Put(ctx, &o); err != nil {
				return err
			}
			if err := tx.Record(ctx, store.Event{Type: identity.EventOrgUpserted, Actor: benchActor, OrgID: o.ID,
				Data: map[string]string{"name": o.Name, "kind": o.Kind}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("orgs: %w", err)
	}
	for start := 0; start < len(ppl); start += perTx {
		chunk := ppl[start:min(start+perTx, len(ppl))]
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := range chunk {
				if err := writePerson(ctx, tx, chunk[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("accounts %d to %d: %w", start, start+len(chunk)-1, err)
		}
		tick(start + len(chunk))
	}
	return nil
}

// writePerson writes one account and what it owns. It takes pr by value:
// the store stamps times and versions on what it is given, and a retried
// closure must start again from the generated values.
func writePerson(ctx context.Context, tx store.Tx, pr person) error {
	if err := tx.Accounts().Create(ctx, &pr.account); err != nil {
		return err
	}
	for i := range pr.links {
		if err := tx.Links().Create(ctx, &pr.links[i]); err != nil {
			return err
		}
	}
	for i := range pr.emails {
		if err := tx.Emails().Add(ctx, &pr.emails[i]); err != nil {
			return err
		}
	}
	if err := tx.Memberships().Put(ctx, &pr.membership); err != nil {
		return err
	}
	source := pr.account.Provenance[identity.FieldGivenName]
	return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: benchActor, AccountID: pr.account.ID,
		Data: createdData{Login: pr.account.Login, Status: string(pr.account.Status), Source: source}})
}
