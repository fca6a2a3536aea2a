package main

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/mapping"
)

// benchClient is the name of the API token of the provisioning client the
// accounts were provisioned by; its links are benchSource.
const (
	benchClient = "bench"
	benchSource = "scim:" + benchClient
)

// seed makes the population, the lookups and the random pages the same
// from one run to the next.
const seed = 0x5c1e_0006

// Name material, ASCII so that a login is its names lower-cased.
var (
	givenNames = strings.Fields(`Camille Lea Manon Chloe Emma Ines Jade Louise Zoe Lina Sarah Clara Juliette
		Lucie Mathilde Eva Julie Marie Sophie Nathalie Isabelle Sylvie Celine Valerie Sandrine Aurelie
		Lucas Hugo Louis Nathan Gabriel Jules Leo Raphael Arthur Tom Theo Noah Ethan Mathis Enzo Clement
		Maxime Thomas Nicolas Julien Alexandre Antoine Quentin Romain Kevin Florian Pierre Jean Michel`)
	familyNames = strings.Fields(`Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent
		Simon Michel Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine
		Rousseau Vincent Muller Lefevre Faure Andre Mercier Blanc Guerin Boyer Garnier Chevalier Francois
		Legrand Gauthier Garcia Perrin Robin Clement Morin Nicolas Henry Roussel Mathieu Gautier Masson
		Marchand Duval Denis Dumont Marie Lemaire Noel Meyer Dufour Meunier Brun Blanchard Giraud Joly`)
)

// epoch is when the first account was created; account i was created i
// seconds later.
var epoch = time.Date(2025, 9, 1, 6, 0, 0, 0, time.UTC)

// person is one generated account, as the provisioning client bench
// created it: an active account with a login, names, an employee number,
// one verified primary address and the client's link.
type person struct {
	id          string // a random (version 4) UUID, as the store gives
	login       string // normalised: lower case ASCII
	given       string
	family      string
	display     string
	email       string // normalised
	externalID  string // the client's id of the person (a UUID, as Entra ID sends)
	employeeNum string
	created     time.Time
}

// generate returns person i, the same on every call. Persons at i >= n,
// never inserted, are the lookups that miss: same shape, unknown login.
func generate(i int) person {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	given := givenNames[r.IntN(len(givenNames))]
	family := familyNames[r.IntN(len(familyNames))]
	login := strings.ToLower(given) + "." + strings.ToLower(family) + "." + strconv.Itoa(i)
	return person{
		id:          randomUUID(r),
		login:       login,
		given:       given,
		family:      family,
		display:     given + " " + family,
		email:       login + "@univ-exemple.fr",
		externalID:  randomUUID(r),
		employeeNum: strconv.Itoa(10_000_000 + i),
		created:     epoch.Add(time.Duration(i) * time.Second),
	}
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

// provenance is every account's: each field came from the client.
var provenance = mustJSON(map[string]string{
	mapping.FieldLogin: benchSource, mapping.FieldGivenName: benchSource, mapping.FieldFamilyName: benchSource,
	mapping.FieldDisplayName: benchSource, mapping.FieldEmail: benchSource, mapping.FieldSupannEmpID: benchSource,
})

// attributes is the JSON of the account's attributes column.
func (p *person) attributes() string {
	return mustJSON(map[string][]string{mapping.FieldSupannEmpID: {p.employeeNum}})
}

// snapshot is the JSON of the link's attributes: the client's User,
// flattened, as the SCIM server stores it.
func (p *person) snapshot() string {
	return mustJSON(map[string][]string{
		"userName": {p.login}, "name.givenName": {p.given}, "name.familyName": {p.family},
		"displayName": {p.display}, "emails": {p.email}, "enterprise.employeeNumber": {p.employeeNum},
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings always encode
	}
	return string(b)
}

// draws picks the random choices of a run from a stream of its own:
// which accounts to look up (a share of them unknown), which pages to
// read.
type draws struct{ r *rand.Rand }

func newDraws(stream uint64) draws { return draws{rand.New(rand.NewPCG(seed^0xd1a5, stream))} }

// lookups returns k person indexes to look up: each, with probability
// missPercent/100, an index at or beyond n (a login no account has),
// otherwise one of the n accounts, uniformly.
func (d draws) lookups(k, n, missPercent int) []int {
	out := make([]int, k)
	for j := range out {
		if d.r.IntN(100) < missPercent {
			out[j] = n + d.r.IntN(max(n, 1))
		} else {
			out[j] = d.r.IntN(n)
		}
	}
	return out
}

// startIndexes returns k SCIM startIndex values of full pages of size,
// uniformly over a list of n.
func (d draws) startIndexes(k, n, size int) []int {
	out := make([]int, k)
	for j := range out {
		out[j] = 1 + d.r.IntN(n-size+1)
	}
	return out
}
