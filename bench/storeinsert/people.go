package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
)

// Row counts per account: what every phase inserts (one account, two links,
// two e-mails), and what canonid adds (one audit row, one outbox row).
const (
	dataRowsPerAccount  = 5
	eventRowsPerAccount = 2
)

// Source names of the two links, as the LDAP and CSV connectors write them.
const (
	sourceLDAP = "ldap:campus"
	sourceCSV  = "csv:ars-occitanie"
)

// person is one generated account with its links and e-mails, ready both for
// the store (the identity values) and for the reference inserts (the same
// values as bound parameters, JSON already encoded).
type person struct {
	account identity.Account
	links   [2]identity.Link
	emails  [2]identity.Email
	created createdData

	// Pre-encoded JSON documents for the reference, byte for byte what
	// the store binds.
	attrs, provenance, consents string
	linkAttrs                   [2]string
}

// createdData is the payload of the account.created event, as the
// connectors record it.
type createdData struct {
	Login  string `json:"login"`
	Status string `json:"status"`
	Source string `json:"source"`
}

var (
	givenNames  = []string{"Camille", "Léa", "Hugo", "Louis", "Chloé", "Inès", "Jules", "Manon", "Théo", "Zoé", "Nathan", "Élise"}
	familyNames = []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Garcia", "Lefèvre"}
)

// people generates n accounts for phase p, deterministically: the same phase
// and n always give the same accounts, and two phases never share an id, a
// login, an address or an external id.
func people(p phase, n int) ([]person, error) {
	var seed [32]byte
	copy(seed[:], "canonid storeinsert phase "+string(p))
	rng := rand.NewChaCha8(seed)
	out := make([]person, n)
	for i := range out {
		id, err := uuid.NewRandomFromReader(rng)
		if err != nil {
			return nil, err
		}
		ldapID, err := uuid.NewRandomFromReader(rng)
		if err != nil {
			return nil, err
		}
		given := givenNames[rng.Uint64()%uint64(len(givenNames))]
		family := familyNames[rng.Uint64()%uint64(len(familyNames))]
		login := fmt.Sprintf("%s.%s.%s%06d", asciiLower(given), asciiLower(family), p, i)
		rowKey := fmt.Sprintf("%s%09d", strings.ToUpper(string(p)), i)
		pr := person{
			account: identity.Account{
				ID:          id.String(),
				Status:      identity.StatusActive,
				Login:       login,
				GivenName:   given,
				FamilyName:  family,
				DisplayName: given + " " + family,
				Attributes: map[string][]string{
					identity.FieldAffiliation: {"student", "member"},
					identity.FieldOrg:         {"univ-exemple"},
				},
				Provenance: map[string]string{
					identity.FieldLogin:       sourceLDAP,
					identity.FieldGivenName:   sourceLDAP,
					identity.FieldFamilyName:  sourceLDAP,
					identity.FieldEmail:       sourceLDAP,
					identity.FieldAffiliation: sourceLDAP,
				},
			},
			created: createdData{Login: login, Status: string(identity.StatusActive), Source: sourceLDAP},
		}
		pr.links[0] = identity.Link{
			Source: sourceLDAP, ExternalID: ldapID.String(), AccountID: pr.account.ID, Status: identity.LinkActive,
			Attributes: map[string][]string{"uid": {login}, "mail": {login + "@univ-exemple.fr"}, "eduPersonAffiliation": {"student", "member"}},
		}
		pr.links[1] = identity.Link{
			Source: sourceCSV, ExternalID: rowKey, AccountID: pr.account.ID, Status: identity.LinkActive,
			Attributes: map[string][]string{"nom": {family}, "prenom": {given}, "courriel": {login + "@perso-exemple.fr"}},
		}
		pr.emails[0] = identity.Email{Address: login + "@univ-exemple.fr", AccountID: pr.account.ID, Verified: true, Primary: true, Source: sourceLDAP}
		pr.emails[1] = identity.Email{Address: login + "@perso-exemple.fr", AccountID: pr.account.ID, Source: sourceCSV}

		if pr.attrs, err = jsonText(pr.account.Attributes); err != nil {
			return nil, err
		}
		if pr.provenance, err = jsonText(pr.account.Provenance); err != nil {
			return nil, err
		}
		if pr.consents, err = jsonText(pr.account.Consents); err != nil {
			return nil, err
		}
		for j := range pr.links {
			if pr.linkAttrs[j], err = jsonText(pr.links[j].Attributes); err != nil {
				return nil, err
			}
		}
		out[i] = pr
	}
	return out, nil
}

// jsonText encodes v as the store does: null becomes {}.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return "{}", nil
	}
	return string(b), nil
}

// asciiLower lower-cases a name and folds the few accented letters of the
// name lists, so that logins and addresses are plain ASCII.
func asciiLower(s string) string {
	return strings.NewReplacer("é", "e", "è", "e", "ï", "i", "ô", "o").Replace(strings.ToLower(s))
}
