package slapdtest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

var (
	givenNames = []string{
		"Alice", "Arthur", "Camille", "Chloe", "Clement", "Emma", "Enzo", "Gabriel", "Hugo", "Ines",
		"Jade", "Jules", "Julie", "Lea", "Lena", "Louis", "Lucas", "Manon", "Mathis", "Nathan",
		"Noah", "Oceane", "Paul", "Raphael", "Sarah", "Theo", "Thomas", "Yanis", "Zoe", "Maxime",
	}
	familyNames = []string{
		"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
		"Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
		"Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefevre", "Faure", "Andre",
	}
	mailDomains = []string{"gmail.example", "laposte.example", "free.example", "orange.example", "outlook.example"}
	entities    = []string{"UFR-MED", "UFR-SCI", "UFR-DEG", "UFR-LET", "IUT-MTP", "DRH", "DSI", "BU"}
)

// generatedPasswordHash is the {SSHA} hash of "generated-pw", the password of
// every generated person.
const generatedPasswordHash = "{SSHA}WGi1WAewjbQISfHHzQe6R7TOoI2XhK9W"

// GeneratedPassword is the password of every person GenerateSupann writes.
const GeneratedPassword = "generated-pw"

// GenerateSupann writes an LDIF of n SupAnn / eduPerson people under
// BaseDN, loadable by slapadd (Options.LDIF) after BaseLDIF, which it does
// not repeat. The same n and seed always give the same text.
//
// About three people in four are students (supannEtuId, supannCodeINE,
// {APOGEE} supannRefId), the rest staff, faculty or affiliates
// (supannEmpId, {SIHAM} supannRefId); most have a personal mail; birth
// dates are in the SupAnn (AAAA-MM-JJ) or SCHAC (YYYYMMDD) format. Each
// entry carries an explicit random (version 4) entryUUID, as entries that
// were created over years or migrated from another directory do; slapadd
// would otherwise stamp time-based UUIDs that all share a prefix.
// Every person's password is GeneratedPassword.
func GenerateSupann(w io.Writer, n int, seed int64) error {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x63616e6f6e6964))
	bw := bufio.NewWriterSize(w, 1<<16)
	for i := range n {
		given := givenNames[rng.IntN(len(givenNames))]
		family := familyNames[rng.IntN(len(familyNames))]
		uid := fmt.Sprintf("%c%s%d", strings.ToLower(given)[0], strings.ToLower(family), i)
		first, last := strings.ToLower(given), strings.ToLower(family)

		var u [16]byte
		for j := range u {
			u[j] = byte(rng.Uint32())
		}
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant

		fmt.Fprintf(bw, "dn: uid=%s,%s\n", uid, BaseDN)
		bw.WriteString("objectClass: inetOrgPerson\nobjectClass: eduPerson\nobjectClass: supannPerson\n")
		schac := rng.IntN(10) < 3
		if schac {
			bw.WriteString("objectClass: schacPersonalCharacteristics\n")
		}
		fmt.Fprintf(bw, "entryUUID: %x-%x-%x-%x-%x\n", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
		fmt.Fprintf(bw, "uid: %s\ncn: %s %s\nsn: %s\ngivenName: %s\ndisplayName: %s %s\n",
			uid, given, family, family, given, given, family)
		fmt.Fprintf(bw, "mail: %s.%s%d@univ-test.fr\n", first, last, i)
		if rng.IntN(10) < 7 {
			fmt.Fprintf(bw, "supannMailPerso: %s.%s%d@%s\n", first, last, rng.IntN(100), mailDomains[rng.IntN(len(mailDomains))])
		}
		if rng.IntN(2) == 0 {
			bw.WriteString("supannCivilite: Mme\n")
		} else {
			bw.WriteString("supannCivilite: M.\n")
		}
		year := 1950 + rng.IntN(56)
		month, day := 1+rng.IntN(12), 1+rng.IntN(28)
		if schac {
			fmt.Fprintf(bw, "schacDateOfBirth: %04d%02d%02d\n", year, month, day)
		} else {
			fmt.Fprintf(bw, "supannOIDCDateDeNaissance: %04d-%02d-%02d\n", year, month, day)
		}
		switch r := rng.IntN(100); {
		case r < 75:
			etu := 21000000 + i
			fmt.Fprintf(bw, "supannEtuId: %d\nsupannCodeINE: %010d%c\nsupannRefId: {APOGEE}%d\n",
				etu, rng.Int64N(1e10), 'A'+rune(rng.IntN(26)), etu)
			fmt.Fprintf(bw, "supannEtuAnneeInscription: %d\n", 2019+rng.IntN(6))
			bw.WriteString("eduPersonAffiliation: student\neduPersonAffiliation: member\neduPersonPrimaryAffiliation: student\n")
		case r < 90:
			emp := 100000 + i
			fmt.Fprintf(bw, "supannEmpId: %d\nsupannRefId: {SIHAM}UM%07d\n", emp, emp)
			bw.WriteString("eduPersonAffiliation: employee\neduPersonAffiliation: staff\neduPersonAffiliation: member\neduPersonPrimaryAffiliation: staff\n")
			fmt.Fprintf(bw, "telephoneNumber: +33 4 67 %02d %02d %02d\n", rng.IntN(100), rng.IntN(100), rng.IntN(100))
		case r < 97:
			emp := 100000 + i
			fmt.Fprintf(bw, "supannEmpId: %d\nsupannRefId: {SIHAM}UM%07d\n", emp, emp)
			bw.WriteString("eduPersonAffiliation: faculty\neduPersonAffiliation: employee\neduPersonAffiliation: researcher\neduPersonAffiliation: member\neduPersonPrimaryAffiliation: faculty\n")
			fmt.Fprintf(bw, "telephoneNumber: +33 4 67 %02d %02d %02d\n", rng.IntN(100), rng.IntN(100), rng.IntN(100))
		default:
			fmt.Fprintf(bw, "supannRefId: {INVITE}%06d\n", i)
			bw.WriteString("eduPersonAffiliation: affiliate\neduPersonPrimaryAffiliation: affiliate\n")
		}
		fmt.Fprintf(bw, "supannEntiteAffectationPrincipale: %s\n", entities[rng.IntN(len(entities))])
		fmt.Fprintf(bw, "eduPersonPrincipalName: %s@univ-test.fr\nsupannEtablissement: {UAI}0341087X\n", uid)
		if rng.IntN(20) == 0 {
			bw.WriteString("supannListeRouge: TRUE\n")
		} else {
			bw.WriteString("supannListeRouge: FALSE\n")
		}
		if _, err := fmt.Fprintf(bw, "userPassword: %s\n\n", generatedPasswordHash); err != nil {
			return fmt.Errorf("slapdtest: generate: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("slapdtest: generate: %w", err)
	}
	return nil
}
