package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
)

// Name material. Given names are common French ones; family names are the
// most common French ones, then, for a long tail, made-up ones built from
// syllables, as a source would write them: upper case, accents, particles.
const (
	givenNames = `Camille Léa Manon Chloé Emma Inès Jade Louise Zoé Lina Léna Sarah Anaïs Clara Juliette
		Lucie Mathilde Eva Maëlle Océane Hélène Élodie Julie Marie Sophie Nathalie Isabelle Sylvie Céline
		Valérie Sandrine Stéphanie Aurélie Émilie Laetitia Virginie Véronique Françoise Christine Agnès
		Béatrice Noémie Margaux Pauline Justine Mélanie Solène Capucine Apolline Agathe Romane Clémence
		Alice Ambre Anna Anne Audrey Aurore Axelle Bérénice Brigitte Carole Caroline Cécile Chantal Charlotte
		Claire Corinne Delphine Diane Dominique Éléonore Elsa Estelle Fanny Florence Gaëlle Géraldine Hortense
		Jacqueline Jeanne Josiane Karine Laure Laurence Léonie Lou Lucile Madeleine Marion Martine Maud
		Monique Morgane Nadia Nadine Nina Odile Perrine Rose Sabine Salomé Sandra Séverine Simone Suzanne
		Thérèse Valentine Victoire Yvette Zélie
		Lucas Hugo Louis Nathan Gabriel Jules Léo Raphaël Arthur Tom Théo Noah Ethan Mathis Enzo Clément
		Maxime Thomas Nicolas Julien Alexandre Antoine Quentin Romain Kevin Florian Jérémy Sébastien Franck
		Frédéric Stéphane Laurent Olivier Christophe Philippe Pierre Jean Jacques Michel Bernard Alain
		Patrick Thierry Pascal Éric Hervé Gérard Benoît François Jérôme Grégoire Loïc Yannick Gaël Noël
		Adrien Baptiste Bastien Cédric Damien Dylan Fabien Guillaume Lilian Matthieu Mickaël Morgan
		Albert André Anthony Arnaud Aurélien Benjamin Bruno Charles Christian Claude Daniel David Denis
		Didier Dominique Emmanuel Étienne Fabrice Félix Francis Gilles Henri Jean-Pierre Jean-Luc Joël
		Jonathan Joseph Jordan Lionel Marc Marcel Martin Mathieu Maurice Paul Régis René Robert Roger
		Samuel Serge Simon Timothée Tristan Valentin Victor Vincent Xavier Yves Aymeric Gaspard Sacha`
	familyNames = `MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL
		LEFEBVRE LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE ROUSSEAU
		VINCENT MULLER LEFÈVRE FAURE ANDRÉ MERCIER BLANC GUÉRIN BOYER GARNIER CHEVALIER FRANÇOIS LEGRAND
		GAUTHIER GARCIA PERRIN ROBIN CLÉMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON MARCHAND
		DUVAL DENIS DUMONT MARIE LEMAIRE NOËL MEYER DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY RIVIÈRE LUCAS
		BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GÉRARD ROCHE RENARD SCHMITT ROY LEROUX COLIN VIDAL CARON
		PICARD ROGER FABRE AUBERT LEMOINE RENAUD DUMAS LACROIX OLIVIER PHILIPPE BOURGEOIS PIERRE BENOÎT REY
		LECLERC PAYET ROLLAND LECLERCQ GUILLAUME LECOMTE LOPEZ JEAN DUPUY GUILLOT HUBERT BERGER CARPENTIER
		SANCHEZ DUPUIS MOULIN LOUIS DESCHAMPS HUET VASSEUR PEREZ BOUCHER FLEURY ROYER KLEIN JACQUET ADAM
		PARIS POIRIER MARTY AUBRY GUYOT CARRÉ CHARLES RENAULT CHARPENTIER MÉNARD MAILLARD BARON BERTIN
		BAILLY HERVÉ SCHNEIDER FERNANDEZ LE_GALL COLLET LÉGER BOUVIER JULIEN PRÉVOST MILLET PERROT DANIEL
		LE_ROUX COUSIN GERMAIN BRETON BESSON LANGLOIS RÉMY LE_GOFF PELLETIER LÉVÊQUE PERRIER LEBLANC BARRÉ
		LEBRUN MARCHAL WEBER MALLET HAMON BOULANGER JACOB MONNIER MICHAUD RODRIGUEZ GUICHARD GILLET ÉTIENNE
		GRONDIN POULAIN TESSIER CHEVALLIER COLLIN CHAUVIN DA_SILVA BOUCHET GAY LEMAÎTRE BENARD MARÉCHAL
		HUMBERT REYNAUD ANTOINE HOARAU PERRET BARTHÉLEMY CORDIER PICHON LEJEUNE GILBERT LAMY DELAUNAY
		PASQUIER CARLIER LAPORTE BOULAY BUISSON CAMUS CHARRIER DELMAS DESPRÉS DROUET FOUCHER GODARD GRENIER
		GROS GUILLON HARDY HOUDIN JOUBERT LAFFONT LAGARDE LANDRY LAVAL LEBON LEDUC LEFORT LEGER LEMOINE
		LEVY MAHÉ MARIN MAURICE MONIER NAVARRO OLLIVIER PAGÈS PARENT PIERRET POTIER RAYMOND RIBEIRO ROLLIN
		SAUNIER TEXIER THIBAULT TOUSSAINT TURPIN VALLÉE VERDIER VIAL WAGNER D'ARC DE_LA_FONTAINE DU_PONT
		SAINT-ÉTIENNE LE_BIHAN LE_BRIS KERGOAT`
	syllableStarts = `Bel Beau Bon Bou Char Cha Chau Cour Dau Del Fer Fon Gal Gar Gau Gil Jou Lam Lar Lau
		Mal Mar Mau Mon Mou Pel Per Pou Ram Rou Sau Ser Tal Tar Tou Val Var Vau Vil Bré Ker Lan Gué Hé Ro`
	syllableMiddles = `- a e i o ou an en on er`
	syllableEnds    = `ard bert bois champ chard court det dier fort gnac hac lac lard let lier lin mont
		nac net nier ot quet rac rand ret rier rot ssac ssier tier ton vel ville zac zière zon çon nès ès`
	// Institutional domains for the addresses of the accounts, webmail
	// ones for the personal addresses of the near-duplicates.
	institutionDomains = `univ-exemple.fr etu.univ-exemple.fr chu-exemple.fr ac-exemple.fr iut-exemple.fr`
	personalDomains    = `gmail.example orange.example laposte.example free.example sfr.example outlook.example`
)

// Shares of the population.
const (
	// tailFamilyShare is the share of people whose family name comes from
	// the made-up long tail rather than the common names.
	tailFamilyShare = 0.5
	// duplicateEvery: after each person, a near-duplicate account of that
	// person follows with probability 1/duplicateEvery (2%).
	duplicateEvery = 50
	// noBirthEvery: a near-duplicate has no birth date with probability
	// 1/noBirthEvery.
	noBirthEvery = 7
	// birthYears is the span of birth dates, from firstBirthYear.
	firstBirthYear = 1945
	birthYears     = 60
)

// names is the name material, split into words.
type names struct {
	given, common, tail, institutions, personal []string
}

func newNames() names {
	var n names
	n.given = strings.Fields(givenNames)
	for _, f := range strings.Fields(familyNames) {
		n.common = append(n.common, strings.ReplaceAll(f, "_", " "))
	}
	starts, middles, ends := strings.Fields(syllableStarts), strings.Fields(syllableMiddles), strings.Fields(syllableEnds)
	for _, particle := range []string{"", "LE ", "DE ", "DU "} {
		for _, s := range starts {
			for _, m := range middles {
				if m == "-" {
					m = ""
				}
				for _, e := range ends {
					n.tail = append(n.tail, strings.ToUpper(particle+s+m+e))
				}
			}
		}
	}
	n.institutions = strings.Fields(institutionDomains)
	n.personal = strings.Fields(personalDomains)
	return n
}

// skewed draws an index in [0, n) favouring the first ones, as name
// frequencies do: the first tenth of a list gets about a third of the draws.
func skewed(r *rand.Rand, n int) int {
	return min(int(float64(n)*math.Pow(r.Float64(), 2)), n-1)
}

// person is the truth behind one or two generated accounts.
type person struct {
	given, family, birth string
}

// record is one generated account with its one e-mail address, ready for
// the store.
type record struct {
	account identity.Account
	email   identity.Email
	created createdData
}

// createdData is the payload of the account.created event, as the
// connectors record it.
type createdData struct {
	Login  string `json:"login"`
	Status string `json:"status"`
	Source string `json:"source"`
}

// candidate is what duplicate detection sees of the record.
func (r *record) candidate() identity.Candidate {
	return identity.Candidate{Account: r.account, Emails: []identity.Email{r.email}}
}

// population is n generated accounts and the near-duplicate pairs planted
// among them, as indexes into records, the original first.
type population struct {
	records []record
	planted [][2]int
}

// Sources of the generated accounts: the originals come from the campus
// directory, the near-duplicates from a CSV import.
const (
	sourceOriginal  = "ldap:campus"
	sourceDuplicate = "csv:ars-occitanie"
)

// generate returns n accounts, always the same ones for the same n: people
// with French names (given names from a list of 230 drawn favouring the
// first ones, family names half from 254 common ones drawn the same way and
// half uniformly from a made-up tail of 70,200), a birth date spread over 60
// years, one verified primary address built from the names and a number at
// an institutional domain, and, after about 2% of them, a second account of
// the same person written another way (case, accents, hyphens) with a
// personal address at a webmail domain and, one time in seven, no birth
// date.
func generate(n int) (*population, error) {
	var seed [32]byte
	copy(seed[:], "canonid dupdetect population")
	src := rand.NewChaCha8(seed)
	r := rand.New(src)
	nm := newNames()
	taken := make(map[string]bool, n)
	pop := &population{records: make([]record, 0, n)}
	add := func(p person, given, family, birth, address, source string) error {
		id, err := uuid.NewRandomFromReader(src)
		if err != nil {
			return err
		}
		i := len(pop.records)
		login := fmt.Sprintf("%s.%s.%07d", asciiLocal(p.given, "-"), asciiLocal(p.family, ""), i)
		pop.records = append(pop.records, record{
			account: identity.Account{
				ID: id.String(), Status: identity.StatusActive, Login: login,
				GivenName: given, FamilyName: family, DisplayName: given + " " + family, BirthDate: birth,
			},
			email:   identity.Email{Address: address, AccountID: id.String(), Verified: true, Primary: true, Source: source},
			created: createdData{Login: login, Status: string(identity.StatusActive), Source: source},
		})
		return nil
	}
	for len(pop.records) < n {
		p := newPerson(r, nm)
		addr := takeAddress(r, taken, asciiLocal(p.given, "-")+"."+asciiLocal(p.family, ""), nm.institutions[r.IntN(len(nm.institutions))])
		if err := add(p, p.given, p.family, p.birth, addr, sourceOriginal); err != nil {
			return nil, err
		}
		if r.IntN(duplicateEvery) != 0 || len(pop.records) >= n {
			continue
		}
		orig := len(pop.records) - 1
		given, family, birth := nearDuplicate(r, p)
		local := asciiLocal(p.given, "-") + "." + asciiLocal(p.family, "")
		if r.IntN(3) == 0 {
			// The address of the original account, local part and
			// number, at a webmail.
			local, _, _ = strings.Cut(pop.records[orig].email.Address, "@")
		}
		addr = takeAddress(r, taken, local, nm.personal[r.IntN(len(nm.personal))])
		if err := add(p, given, family, birth, addr, sourceDuplicate); err != nil {
			return nil, err
		}
		pop.planted = append(pop.planted, [2]int{orig, len(pop.records) - 1})
	}
	return pop, nil
}

// newPerson draws a person: one given name in ten is compound, one family
// name in fifteen is double-barrelled.
func newPerson(r *rand.Rand, nm names) person {
	family := func() string {
		if r.Float64() < tailFamilyShare {
			return nm.tail[r.IntN(len(nm.tail))]
		}
		return nm.common[skewed(r, len(nm.common))]
	}
	p := person{given: nm.given[skewed(r, len(nm.given))], family: family()}
	if r.IntN(10) == 0 {
		p.given += "-" + nm.given[r.IntN(len(nm.given))]
	}
	if r.IntN(15) == 0 {
		p.family += "-" + family()
	}
	p.birth = fmt.Sprintf("%04d-%02d-%02d", firstBirthYear+r.IntN(birthYears), 1+r.IntN(12), 1+r.IntN(28))
	return p
}

// takeAddress returns local<number>@domain for a number from 1 to 99, or
// higher, that no one holds yet, and marks it taken.
func takeAddress(r *rand.Rand, taken map[string]bool, local, domain string) string {
	if i := strings.LastIndexFunc(local, func(c rune) bool { return c < '0' || c > '9' }); i < len(local)-1 {
		// Already numbered (the original's local part): keep it if free.
		if addr := local + "@" + domain; !taken[addr] {
			taken[addr] = true
			return addr
		}
		local = local[:i+1]
	}
	for num := 1 + r.IntN(99); ; num += 100 {
		if addr := fmt.Sprintf("%s%d@%s", local, num, domain); !taken[addr] {
			taken[addr] = true
			return addr
		}
	}
}

// nearDuplicate writes p as another source would: the family name in upper
// case without accents, in title case, or with its hyphens as spaces; the
// given name in upper case, without accents or with its hyphens as spaces;
// and one time in noBirthEvery without a birth date.
func nearDuplicate(r *rand.Rand, p person) (given, family, birth string) {
	given, family, birth = p.given, p.family, p.birth
	switch r.IntN(4) {
	case 0:
		family = strings.ToUpper(withoutAccents(family))
	case 1:
		family = titleCase(family)
	case 2:
		family = strings.ReplaceAll(family, "-", " ")
	}
	switch r.IntN(4) {
	case 0:
		given = strings.ToUpper(given)
	case 1:
		given = withoutAccents(given)
	case 2:
		given = strings.ReplaceAll(given, "-", " ")
	}
	if r.IntN(noBirthEvery) == 0 {
		birth = ""
	}
	return given, family, birth
}

// withoutAccents drops the accents of the letters the name lists use.
func withoutAccents(s string) string {
	return strings.NewReplacer("é", "e", "è", "e", "ê", "e", "ë", "e", "à", "a", "â", "a", "ï", "i", "î", "i",
		"ô", "o", "ö", "o", "ù", "u", "û", "u", "ü", "u", "ç", "c",
		"É", "E", "È", "E", "Ê", "E", "Ë", "E", "À", "A", "Â", "A", "Ï", "I", "Î", "I",
		"Ô", "O", "Ö", "O", "Ù", "U", "Û", "U", "Ü", "U", "Ç", "C").Replace(s)
}

// titleCase writes every word of s with a capital initial: "LE GOFF-HÉLIAS"
// gives "Le Goff-Hélias".
func titleCase(s string) string {
	b := []rune(strings.ToLower(s))
	start := true
	for i, c := range b {
		if start {
			b[i] = []rune(strings.ToUpper(string(c)))[0]
		}
		start = c == ' ' || c == '-' || c == '\''
	}
	return string(b)
}

// asciiLocal turns a name into the plain ASCII of an address's local part:
// folded, its spaces replaced by sep ("Jean-Pierre" gives "jean-pierre"
// with sep "-", "LE GOFF" gives "legoff" with sep "").
func asciiLocal(name, sep string) string {
	return strings.ReplaceAll(identity.Fold(name), " ", sep)
}

// expectation is what a full run over the population should find, computed
// from the generated accounts alone with the pure functions of package
// identity, before anything is written.
type expectation struct {
	Keys         int // blocking keys, the rows of blocking_keys
	DistinctKeys int
	Blocks       int // keys held by 2 to identity.DefaultMaxBlock accounts
	Oversized    int // keys held by more: skipped by the run
	LargestKept  int // accounts in the largest block kept
	// Compared counts the accounts that hold a key of a kept block: those
	// the full run reads to score their pairs.
	Compared      int
	Planted       int
	PlantedNoDate int // planted pairs whose duplicate has no birth date
	// Reachable counts the planted pairs that share a key held by at most
	// identity.DefaultMaxBlock accounts: the run scores them.
	Reachable int
	// Suggestible counts the planted pairs that identity.ScorePair scores
	// at or above the threshold.
	Suggestible int
	// Expected counts the planted pairs both reachable and suggestible:
	// those the run must suggest.
	Expected int
	// expected holds their identity.PairKey.
	expected map[string]bool
	// planted maps the identity.PairKey of every planted pair to true.
	planted map[string]bool
}

// expect computes the expectation of pop. Its key counts hold every key of
// the population in memory, which is why setup drops them before the clock
// starts.
func expect(pop *population) expectation {
	counts := make(map[string]int32, 3*len(pop.records))
	var e expectation
	for i := range pop.records {
		for _, k := range identity.BlockingKeys(pop.records[i].candidate()) {
			counts[k.String()]++
			e.Keys++
		}
	}
	e.DistinctKeys = len(counts)
	for _, c := range counts {
		switch {
		case c > identity.DefaultMaxBlock:
			e.Oversized++
		case c >= 2:
			e.Blocks++
			e.LargestKept = max(e.LargestKept, int(c))
		}
	}
	for i := range pop.records {
		for _, k := range identity.BlockingKeys(pop.records[i].candidate()) {
			if c := counts[k.String()]; c >= 2 && c <= identity.DefaultMaxBlock {
				e.Compared++
				break
			}
		}
	}
	e.Planted = len(pop.planted)
	e.expected = map[string]bool{}
	e.planted = make(map[string]bool, len(pop.planted))
	for _, p := range pop.planted {
		a, b := pop.records[p[0]].candidate(), pop.records[p[1]].candidate()
		key := identity.PairKey(a.Account.ID, b.Account.ID)
		e.planted[key] = true
		if b.Account.BirthDate == "" {
			e.PlantedNoDate++
		}
		reachable := false
		bKeys := identity.BlockingKeys(b)
		for _, k := range identity.BlockingKeys(a) {
			for _, l := range bKeys {
				if k == l && counts[k.String()] <= identity.DefaultMaxBlock {
					reachable = true
				}
			}
		}
		suggestible := identity.Suggest(identity.ScorePair(a, b))
		if reachable {
			e.Reachable++
		}
		if suggestible {
			e.Suggestible++
		}
		if reachable && suggestible {
			e.Expected++
			e.expected[key] = true
		}
	}
	return e
}
