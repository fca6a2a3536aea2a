package identity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// docs/benchmarks.md records
//
//	go test -run '^$' -bench FullRun -benchtime 1x ./identity/

// BenchmarkFullRun is the full duplicate run over 1,000,000 generated
// accounts.
func BenchmarkFullRun(b *testing.B) { benchmarkFullRun(b, 1_000_000) }

// BenchmarkFullRun100k is the full duplicate run over 100,000 generated
// accounts.
func BenchmarkFullRun100k(b *testing.B) { benchmarkFullRun(b, 100_000) }

// benchmarkFullRun times the full duplicate run over n generated accounts,
// as `canonid duplicates` does it minus the database: blocking keys for every
// account, the key → ids blocks, Pairs, a score per pair. Besides time and
// memory it reports the counts (keys, blocks, pairs, suggestions), the share
// of planted near-duplicates suggested (recall), and the suggestions that
// pair two different people (strangers).
func benchmarkFullRun(b *testing.B, n int) {
	pop := generatePopulation(n)
	// The real run reads the two accounts of a pair from the store; here the
	// id says where the candidate is.
	byID := func(id string) Candidate {
		i, err := strconv.Atoi(strings.TrimPrefix(id, benchIDPrefix))
		if err != nil {
			b.Fatal(err)
		}
		return pop.candidates[i]
	}
	runtime.GC() // the generator's garbage is not the run's
	b.ReportAllocs()
	var keys, blockCount, pairCount int
	var suggested [][2]string
	for b.Loop() {
		blocks := make(map[string][]string, 4*n)
		keys = 0
		for _, c := range pop.candidates {
			for _, k := range BlockingKeys(c) {
				s := k.String()
				blocks[s] = append(blocks[s], c.Account.ID)
				keys++
			}
		}
		blockCount = len(blocks)
		pairs := Pairs(blocks, DefaultMaxBlock)
		clear(blocks)
		pairCount = len(pairs)
		suggested = suggested[:0]
		for _, p := range pairs {
			if Suggest(ScorePair(byID(p[0]), byID(p[1]))) {
				suggested = append(suggested, p)
			}
		}
	}
	b.StopTimer()

	found := 0
	isSuggested := make(map[string]bool, len(suggested))
	for _, p := range suggested {
		isSuggested[PairKey(p[0], p[1])] = true
	}
	for _, p := range pop.planted {
		if isSuggested[PairKey(p[0], p[1])] {
			found++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/account")
	b.ReportMetric(float64(keys), "keys")
	b.ReportMetric(float64(blockCount), "blocks")
	b.ReportMetric(float64(pairCount), "pairs")
	b.ReportMetric(float64(len(suggested)), "suggestions")
	b.ReportMetric(float64(len(pop.planted)), "planted")
	b.ReportMetric(float64(found)/float64(max(len(pop.planted), 1)), "recall")
	// Every generated person is someone else: a suggestion that is not a
	// planted pair puts two different people together.
	b.ReportMetric(float64(len(suggested)-found), "strangers")
}

// benchIDPrefix starts the ids of generated accounts; the rest is their
// index.
const benchIDPrefix = "acc-"

// population is a generated set of accounts and the near-duplicate pairs
// planted in it.
type population struct {
	candidates []Candidate
	planted    [][2]string
}

// Name material for generatePopulation. Family names are the most common
// French ones, then made-up ones from syllables for a long tail.
const (
	benchGiven = `Camille Léa Manon Chloé Emma Inès Jade Louise Zoé Lina Léna Sarah Anaïs Clara
		Juliette Lucie Mathilde Eva Maëlle Océane Hélène Élodie Julie Marie Sophie Nathalie Isabelle Sylvie
		Céline Valérie Sandrine Stéphanie Aurélie Émilie Laetitia Virginie Véronique Françoise Christine Agnès
		Béatrice Noémie Margaux Pauline Justine Mélanie Solène Capucine Apolline Agathe Romane Clémence
		Lucas Hugo Louis Nathan Gabriel Jules Léo Raphaël Arthur Tom Théo Noah Ethan Mathis Enzo Clément
		Maxime Thomas Nicolas Julien Alexandre Antoine Quentin Romain Kevin Florian Jérémy Sébastien Franck
		Frédéric Stéphane Laurent Olivier Christophe Philippe Pierre Jean Jacques Michel Bernard Alain
		Patrick Thierry Pascal Éric Hervé Gérard Benoît François Jérôme Grégoire Loïc Yannick Gaël Noël
		Adrien Baptiste Bastien Cédric Damien Dylan Fabien Guillaume Lilian Matthieu Mickaël Morgan`
	benchFamily = `MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT
		SIMON MICHEL LEFEBVRE LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE
		ROUSSEAU VINCENT MULLER LEFÈVRE FAURE ANDRÉ MERCIER BLANC GUÉRIN BOYER GARNIER CHEVALIER FRANÇOIS
		LEGRAND GAUTHIER GARCIA PERRIN ROBIN CLÉMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON
		MARCHAND DUVAL DENIS DUMONT MARIE LEMAIRE NOËL MEYER DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY
		RIVIÈRE LUCAS BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GÉRARD ROCHE RENARD SCHMITT ROY LEROUX COLIN
		VIDAL CARON PICARD ROGER FABRE AUBERT LEMOINE RENAUD DUMAS LACROIX OLIVIER PHILIPPE BOURGEOIS
		PIERRE BENOÎT REY LECLERC PAYET ROLLAND LECLERCQ GUILLAUME LECOMTE LOPEZ JEAN DUPUY GUILLOT HUBERT
		BERGER CARPENTIER SANCHEZ DUPUIS MOULIN LOUIS DESCHAMPS HUET VASSEUR PEREZ BOUCHER FLEURY ROYER
		KLEIN JACQUET ADAM PARIS POIRIER MARTY AUBRY GUYOT CARRÉ CHARLES RENAULT CHARPENTIER MÉNARD MAILLARD
		BARON BERTIN BAILLY HERVÉ SCHNEIDER FERNANDEZ LE_GALL COLLET LÉGER BOUVIER JULIEN PRÉVOST MILLET
		PERROT DANIEL LE_ROUX COUSIN GERMAIN BRETON BESSON LANGLOIS RÉMY LE_GOFF PELLETIER LÉVÊQUE PERRIER
		LEBLANC BARRÉ LEBRUN MARCHAL WEBER MALLET HAMON BOULANGER JACOB MONNIER MICHAUD RODRIGUEZ GUICHARD
		GILLET ÉTIENNE GRONDIN POULAIN TESSIER CHEVALLIER COLLIN CHAUVIN DA_SILVA BOUCHET GAY LEMAÎTRE
		BENARD MARÉCHAL HUMBERT REYNAUD ANTOINE HOARAU PERRET BARTHÉLEMY CORDIER PICHON LEJEUNE GILBERT
		LAMY DELAUNAY PASQUIER CARLIER LAPORTE D'ARC DE_LA_FONTAINE DU_PONT SAINT-ÉTIENNE`
	benchSyllableStart = `Bel Beau Bon Bou Char Cha Chau Cour Dau Del Fer Fon Gal Gar Gau Gil Jou Lam
		Lar Lau Mal Mar Mau Mon Mou Pel Per Pou Ram Rou Sau Ser Tal Tar Tou Val Var Vau Vil Bré`
	benchSyllableEnd = `ard bert bois champ chard court det dier fort gnac hac lac lard let lier lin
		mont nac net nier ot quet rac rand ret rier rot ssac ssier tier ton vel ville zac zière zon çon nès ès`
	benchDomains = `univ-test.fr univ-sud.fr etu.univ-test.fr mail.example laposte.example
		orange.example free.example gmail.example ode.example sfr.example`
)

// benchNames is the name material of generatePopulation, split into words.
type benchNames struct {
	given, families, domains []string
}

// newBenchNames splits the name constants. Family names are written as a
// source would (upper case, accents, particles), the common ones first.
func newBenchNames() benchNames {
	starts, ends := strings.Fields(benchSyllableStart), strings.Fields(benchSyllableEnd)
	var families []string
	for _, f := range strings.Fields(benchFamily) {
		families = append(families, strings.ReplaceAll(f, "_", " "))
	}
	for _, particle := range []string{"", "LE ", "DE ", "DU "} {
		for _, s := range starts {
			for _, e := range ends {
				families = append(families, strings.ToUpper(particle+s+e))
			}
		}
	}
	return benchNames{given: strings.Fields(benchGiven), families: families, domains: strings.Fields(benchDomains)}
}

// skewed draws an index in [0, n) favouring the first ones, like name
// frequencies do: the first tenth of the list gets about a third of the
// draws.
func skewed(r *rand.Rand, n int) int {
	return min(int(float64(n)*math.Pow(r.Float64(), 2)), n-1)
}

// addressBook hands out addresses, each to one person only, as mail
// providers do: a taken address gets a number.
type addressBook map[string]bool

// take returns local@domain, or local<n>@domain if that is taken.
func (ab addressBook) take(local, domain string) string {
	addr := local + "@" + domain
	for n := 2; ab[addr]; n++ {
		addr = local + fmt.Sprint(n) + "@" + domain
	}
	ab[addr] = true
	return addr
}

// person is the truth behind a generated account.
type person struct {
	given, family, birth, ine string
	birthYear                 int
}

// generatePopulation returns n accounts, always the same ones: people with
// French-ish names drawn from benchNames, a birth date for 90% of them, one
// or two addresses, an ine for 30%, and, for about 2% of them, a second
// account of the same person written another way (case, accents, hyphens),
// often with another address, sometimes without a birth date or with a
// mistyped one. A few use a role address.
func generatePopulation(n int) population {
	r := rand.New(rand.NewPCG(20240917, 1))
	names := newBenchNames()
	ab := addressBook{}
	pop := population{candidates: make([]Candidate, 0, n)}
	id := func() string { return fmt.Sprintf("%s%07d", benchIDPrefix, len(pop.candidates)) }
	for len(pop.candidates) < n {
		p := newPerson(r, names, len(pop.candidates))
		c := Candidate{Account: Account{ID: id(), Status: StatusActive,
			GivenName: p.given, FamilyName: p.family, BirthDate: p.birth}}
		if p.ine != "" {
			c.Account.Attributes = map[string][]string{FieldINE: {p.ine}}
		}
		c.Emails = append(c.Emails, Email{Address: personalAddress(r, names, ab, p), Verified: r.IntN(10) > 0, Primary: true})
		if r.IntN(10) == 0 {
			c.Emails = append(c.Emails, Email{Address: personalAddress(r, names, ab, p), Verified: r.IntN(2) == 0})
		}
		pop.candidates = append(pop.candidates, c)
		if r.IntN(50) == 0 && len(pop.candidates) < n {
			d := nearDuplicate(r, names, ab, p, c)
			d.Account.ID = id()
			pop.candidates = append(pop.candidates, d)
			pop.planted = append(pop.planted, [2]string{c.Account.ID, d.Account.ID})
		}
	}
	return pop
}

// newPerson draws a person; i makes the ine unique.
func newPerson(r *rand.Rand, names benchNames, i int) person {
	p := person{given: names.given[skewed(r, len(names.given))], family: names.families[skewed(r, len(names.families))]}
	if r.IntN(10) == 0 {
		p.given += "-" + names.given[r.IntN(len(names.given))]
	}
	if r.IntN(15) == 0 {
		p.family += "-" + names.families[skewed(r, len(names.families))]
	}
	p.birthYear = 1950 + r.IntN(58)
	if r.IntN(10) > 0 {
		p.birth = fmt.Sprintf("%04d-%02d-%02d", p.birthYear, 1+r.IntN(12), 1+r.IntN(28))
	}
	if r.IntN(10) < 3 {
		// 104729 is prime, so i → i·104729 mod 10¹⁰ never repeats.
		p.ine = fmt.Sprintf("%010d%c", uint64(i)*104729%10_000_000_000, 'A'+i%26)
	}
	return p
}

// personalAddress draws an address for p, most often built from the name,
// and not given to anyone else.
func personalAddress(r *rand.Rand, names benchNames, ab addressBook, p person) string {
	given := strings.ReplaceAll(Fold(p.given), " ", "-")
	family := strings.ReplaceAll(Fold(p.family), " ", "")
	domain := names.domains[r.IntN(len(names.domains))]
	var local string
	switch r.IntN(20) {
	case 0:
		return ab.take("contact", "cabinet-"+family+".example") // a role address
	case 1, 2, 3:
		local = given[:1] + "." + family
	case 4, 5, 6:
		local = given + "." + family + fmt.Sprintf("%02d", p.birthYear%100)
	case 7, 8:
		local = given + family + fmt.Sprint(r.IntN(1000))
	case 9:
		local = given[:min(3, len(given))] + "." + family + fmt.Sprintf("%02d", p.birthYear%100)
	default:
		local = given + "." + family
	}
	return ab.take(local, domain)
}

// nearDuplicate returns another account of the person behind c, as another
// source would have written it.
func nearDuplicate(r *rand.Rand, names benchNames, ab addressBook, p person, c Candidate) Candidate {
	d := Candidate{Account: Account{Status: StatusActive, GivenName: p.given, FamilyName: p.family, BirthDate: p.birth}}
	switch r.IntN(4) {
	case 0:
		d.Account.FamilyName = strings.ToUpper(Fold(p.family)) // no accents
	case 1:
		d.Account.FamilyName = titleCase(p.family)
	case 2:
		d.Account.FamilyName = strings.ReplaceAll(p.family, "-", " ")
	}
	switch r.IntN(4) {
	case 0:
		d.Account.GivenName = strings.ToUpper(p.given)
	case 1:
		d.Account.GivenName = titleCase(Fold(p.given)) // no accents
	case 2:
		d.Account.GivenName = strings.ReplaceAll(p.given, "-", " ")
	}
	switch k := r.IntN(20); {
	case k < 2:
		d.Account.BirthDate = ""
	case k < 3 && p.birth != "":
		d.Account.BirthDate = p.birth[:8] + fmt.Sprintf("%02d", 1+(int(p.birth[9]-'0')+1)%28) // mistyped day
	}
	if p.ine != "" && r.IntN(2) == 0 {
		d.Account.Attributes = map[string][]string{FieldINE: {strings.ToLower(p.ine)}}
	}
	switch k := r.IntN(10); {
	case k < 6: // another personal address
		d.Emails = []Email{{Address: personalAddress(r, names, ab, p), Verified: true, Primary: true}}
	case k < 9: // the same local part elsewhere
		local, _, _ := strings.Cut(c.Emails[0].Address, "@")
		d.Emails = []Email{{Address: ab.take(local, names.domains[r.IntN(len(names.domains))]), Verified: true, Primary: true}}
	default: // the same address, pending on the new account
		d.Emails = []Email{{Address: c.Emails[0].Address, Primary: true}}
	}
	return d
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
