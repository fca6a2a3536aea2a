package main

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/mapping"
)

// domain is the university's mail domain: userNames are UPNs in it, as
// Entra ID sends them.
const domain = "univ-exemple.fr"

// seed makes the persons the same from one run to the next.
const seed = 0x5c1e_0012

// Name material, ASCII so that a login is its names lower-cased.
var (
	givenNames = strings.Fields(`Camille Lea Manon Chloe Emma Ines Jade Louise Zoe Lina Sarah Clara Juliette
		Lucie Mathilde Eva Julie Marie Sophie Nathalie Isabelle Sylvie Celine Valerie Sandrine Aurelie
		Lucas Hugo Louis Nathan Gabriel Jules Leo Raphael Arthur Tom Theo Noah Ethan Mathis Enzo Clement`)
	familyNames = strings.Fields(`Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent
		Simon Michel Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine
		Rousseau Vincent Muller Lefevre Faure Andre Mercier Blanc Guerin Boyer Garnier Chevalier Francois`)
)

// person is one user as a provisioning client knows it, in its current
// state: as created (round 0), or after round r of PATCHes, which change
// the family name, the display name and the work address.
type person struct {
	index       int
	ref         bool   // written by the reference, not through SCIM
	userName    string // as the client sends it: a UPN, capitalised
	login       string // identity.NormalizeLogin(userName)
	given       string
	family      string
	display     string
	email       string // normalised
	externalID  string // the client's id of the person (a UUID, as Entra ID sends)
	employeeNum string
	round       int
}

// generate returns person i of the SCIM phases, or of the references when
// ref is set: the same on every call, and no two share a login, an
// address, an employee number or an external id.
func generate(i int, ref bool) person {
	stream := uint64(i) << 1
	tag := strconv.Itoa(i)
	emp := 10_000_000 + i
	if ref {
		stream |= 1
		tag = "ref" + tag
		emp += 500_000_000
	}
	r := rand.New(rand.NewPCG(seed, stream))
	given := givenNames[r.IntN(len(givenNames))]
	family := familyNames[r.IntN(len(familyNames))]
	userName := given + "." + family + "." + tag + "@" + domain
	login := identity.NormalizeLogin(userName)
	return person{
		index: i, ref: ref, userName: userName, login: login,
		given: given, family: family, display: given + " " + family,
		email:      login,
		externalID: randomUUID(r),
		// Entra ID sends employeeId as a string of digits.
		employeeNum: strconv.Itoa(emp),
	}
}

// patched returns p after round r (r >= 1) of PATCHes: a second family
// name, the display name that goes with it, and a new work address.
func (p person) patched(r int) person {
	q := generate(p.index, p.ref)
	if r == 0 {
		return q
	}
	q.round = r
	q.family = q.family + "-" + familyNames[(p.index+r)%len(familyNames)]
	q.display = q.given + " " + q.family
	local, _, _ := strings.Cut(q.login, "@")
	q.email = local + ".r" + strconv.Itoa(r) + "@" + domain
	return q
}

// randomUUID draws a version 4 UUID from r.
func randomUUID(r *rand.Rand) string {
	var u uuid.UUID
	hi, lo := r.Uint64(), r.Uint64()
	for k := range 8 {
		u[k] = byte(hi >> (56 - 8*k))
		u[8+k] = byte(lo >> (56 - 8*k))
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

// The SCIM schemas of Entra ID's bodies.
const (
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// createBody is the POST /Users body Entra ID sends for p, with the
// attribute mappings of its default SCIM application: userPrincipalName to
// userName, objectId to externalId, mail to the work address, employeeId
// to the enterprise employeeNumber.
func (p person) createBody() []byte {
	return mustJSON(map[string]any{
		"schemas":     []string{userURN, enterpriseURN},
		"externalId":  p.externalID,
		"userName":    p.userName,
		"active":      true,
		"displayName": p.display,
		"emails":      []map[string]any{{"primary": true, "type": "work", "value": p.email}},
		"meta":        map[string]string{"resourceType": "User"},
		"name":        map[string]string{"formatted": p.display, "familyName": p.family, "givenName": p.given},
		enterpriseURN: map[string]string{"employeeNumber": p.employeeNum},
	})
}

// patchBody is Entra ID's PATCH for the attributes of q that a round
// changes: one Replace per attribute, the address by its value filter.
func (q person) patchBody() []byte {
	return mustJSON(map[string]any{
		"schemas": []string{patchURN},
		"Operations": []map[string]any{
			{"op": "Replace", "path": "displayName", "value": q.display},
			{"op": "Replace", "path": "name.familyName", "value": q.family},
			{"op": "Replace", "path": `emails[type eq "work"].value`, "value": q.email},
		},
	})
}

// deactivateBody is Entra ID's soft delete: active set to the string
// "False".
var deactivateBody = mustJSON(map[string]any{
	"schemas":    []string{patchURN},
	"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}},
})

// account is the account the reference writes for p: what SCIM's create
// writes, every field from source.
func (p person) account(id, source string) *identity.Account {
	prov := map[string]string{}
	for _, f := range []string{mapping.FieldLogin, mapping.FieldGivenName, mapping.FieldFamilyName, mapping.FieldDisplayName,
		mapping.FieldEmail, mapping.FieldSupannEmpID} {
		prov[f] = source
	}
	return &identity.Account{
		ID: id, Status: identity.StatusActive, Login: p.login, GivenName: p.given, FamilyName: p.family, DisplayName: p.display,
		Attributes: map[string][]string{mapping.FieldSupannEmpID: {p.employeeNum}}, Provenance: prov,
	}
}

// snapshot is the link's record of p as the SCIM server flattens a User.
func (p person) snapshot() map[string][]string {
	return map[string][]string{
		"userName": {p.userName}, "name.givenName": {p.given}, "name.familyName": {p.family}, "name.formatted": {p.display},
		"displayName": {p.display}, "emails": {p.email}, "enterprise.employeeNumber": {p.employeeNum},
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings always encode
	}
	return b
}
