package identity

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Duplicate detection runs in two steps. Blocking finds the candidate pairs
// cheaply: every account gets a few blocking keys (BlockingKeys), the store
// keeps one row per (key, account), and accounts that share a key form a
// block (Pairs). Scoring then looks at each candidate pair in full
// (ScorePair) and explains its score by the fields that matched; pairs at or
// above DuplicateThreshold are suggested to an administrator, unless a
// "not a duplicate" decision was recorded under their PairKey.
//
// The same functions serve the incremental check, on every account write
// (the keys of the written account, the other accounts holding one of them
// in a block of at most DefaultMaxBlock, a score per pair), and the full run
// of `canonid duplicates`. All of them are pure and safe for concurrent use:
// the pairs of a full run can be scored in parallel.

// Candidate is what duplicate detection looks at for one account: the account
// (names, birth date, Attributes such as ine or supann_ref_id) and its e-mail
// addresses.
type Candidate struct {
	Account Account
	Emails  []Email
}

// KeyKind names a kind of blocking key.
type KeyKind string

// Blocking key kinds.
const (
	// KeyNameBirth is the folded family name without spaces, "|", the birth
	// date: "martin|1997-03-14".
	KeyNameBirth KeyKind = "name_birth"
	// KeyEmailLocal is the folded local part of an address, without its
	// "+tag": "cam martin97".
	KeyEmailLocal KeyKind = "email_local"
	// KeyNationalID is a national or institutional identifier, as
	// "<attribute>=<value>": "ine=0123456789A".
	KeyNationalID KeyKind = "national_id"
	// KeyFullName is the words of the folded given and family names, sorted:
	// "cavel franck" for both "FRANCK CAVEL" and "Cavel Franck".
	KeyFullName KeyKind = "full_name"
)

// Attributes whose values identify a person, used for KeyNationalID keys and
// scored by ScorePair. FieldINE is the national student number.
const (
	attrSupannRefID = "supann_ref_id"
	attrSupannEtuID = "supann_etu_id"
	attrSupannEmpID = "supann_emp_id"
)

// nationalIDAttributes lists, in scoring order, the attributes that carry
// identifiers of a person.
func nationalIDAttributes() [4]string {
	return [4]string{FieldINE, attrSupannRefID, attrSupannEtuID, attrSupannEmpID}
}

// BlockingKey is one blocking key of an account. Accounts that share a key
// are compared.
type BlockingKey struct {
	Kind  KeyKind
	Value string
}

// String returns the stored form of the key, kind ":" value, e.g.
// "name_birth:martin|1997-03-14".
func (k BlockingKey) String() string { return string(k.Kind) + ":" + k.Value }

// minEmailLocal is the shortest local part, in characters once folded and
// spaces aside, that makes a blocking key: shorter ones ("jb", "kim") are
// shared by too many unrelated people.
const minEmailLocal = 4

// BlockingKeys returns the blocking keys of a candidate, deduplicated and
// sorted by kind then value. A merged account has none: it is no longer a
// candidate.
//
//   - name_birth: the folded family name with its spaces removed, "|", the
//     birth date; only when both are set. "MARTIN" born 1997-03-14 gives
//     "martin|1997-03-14"; "Le Goff" and "LEGOFF" meet.
//   - full_name: the words of the folded given and family names, sorted and
//     joined by a space; only when both names are set. "FRANCK CAVEL",
//     "Franck Cavel" and given "Cavel" family "Franck" all give
//     "cavel franck", whatever their birth dates.
//   - email_local: for every address, the local part without its "+tag",
//     folded ("camille.martin+lms" gives "camille martin"); only when it
//     holds at least 4 characters besides spaces and is not a role address
//     (contact, admin, info, noreply, secretariat, accueil, ...: see
//     isRoleLocal).
//   - national_id: for the attributes ine, supann_ref_id, supann_etu_id and
//     supann_emp_id, every value as "<attribute>=<value trimmed and
//     upper-cased>", e.g. "ine=0123456789A".
func BlockingKeys(c Candidate) []BlockingKey {
	a := c.Account
	if a.Status == StatusMerged {
		return nil
	}
	keys := make([]BlockingKey, 0, 2+len(c.Emails))
	var buf [128]byte
	family := appendFold(buf[:0], a.FamilyName, false)
	if birth := strings.TrimSpace(a.BirthDate); len(family) > 0 && birth != "" {
		v := append(append(family, '|'), birth...)
		keys = append(keys, BlockingKey{KeyNameBirth, string(v)})
	}
	if len(family) > 0 {
		var nameBuf, joinBuf [128]byte
		var spanBuf [16]span
		if given := appendFold(nameBuf[:0], a.GivenName, true); len(given) > 0 {
			names := appendFold(append(given, ' '), a.FamilyName, true)
			words := wordSpans(names, spanBuf[:0])
			slices.SortFunc(words, func(x, y span) int { return bytes.Compare(x.of(names), y.of(names)) })
			v := joinBuf[:0]
			for i, w := range words {
				if i > 0 {
					v = append(v, ' ')
				}
				v = append(v, w.of(names)...)
			}
			keys = append(keys, BlockingKey{KeyFullName, string(v)})
		}
	}
	for _, e := range c.Emails {
		if local, ok := appendEmailLocalKey(buf[:0], e.Address); ok {
			keys = append(keys, BlockingKey{KeyEmailLocal, string(local)})
		}
	}
	for _, attr := range nationalIDAttributes() {
		for _, v := range a.Attributes[attr] {
			if v = nationalIDValue(v); v != "" {
				keys = append(keys, BlockingKey{KeyNationalID, attr + "=" + v})
			}
		}
	}
	slices.SortFunc(keys, compareKeys)
	return slices.Compact(keys)
}

// span is where a word lies in a folded name: b[start:end].
type span struct{ start, end int }

// of returns the word of b at s.
func (s span) of(b []byte) []byte { return b[s.start:s.end] }

// wordSpans appends to spans where the space-separated words of b lie.
func wordSpans(b []byte, spans []span) []span {
	start := -1
	for i, c := range b {
		switch {
		case c == ' ' && start >= 0:
			spans = append(spans, span{start, i})
			start = -1
		case c != ' ' && start < 0:
			start = i
		}
	}
	if start >= 0 {
		spans = append(spans, span{start, len(b)})
	}
	return spans
}

// compareKeys orders blocking keys by kind, then value.
func compareKeys(x, y BlockingKey) int {
	if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
		return c
	}
	return cmp.Compare(x.Value, y.Value)
}

// emailLocal returns the local part of an address without its "+tag", and
// false when the address has no "@".
func emailLocal(address string) (string, bool) {
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return "", false
	}
	local := address[:at]
	if plus := strings.IndexByte(local, '+'); plus >= 0 {
		local = local[:plus]
	}
	return local, true
}

// appendEmailLocalKey appends to dst the email_local key value of an
// address, and returns false when the address makes no such key: no "@", a
// local part too short once folded, or a role address.
func appendEmailLocalKey(dst []byte, address string) ([]byte, bool) {
	local, ok := emailLocal(address)
	if !ok {
		return dst, false
	}
	start := len(dst)
	dst = appendFold(dst, local, true)
	folded := dst[start:]
	letters := utf8.RuneCount(folded) - bytes.Count(folded, []byte{' '})
	if letters < minEmailLocal || isRoleLocal(folded) {
		return dst[:start], false
	}
	return dst, true
}

// isRoleLocal reports whether a folded local part names a function rather
// than a person: the whole of it without spaces ("no-reply", "noreply") or
// its first word ("secretariat.medecine", "contact-cpts") is a role word.
func isRoleLocal(folded []byte) bool {
	first, _, _ := bytes.Cut(folded, []byte{' '})
	if isRoleWord(first) {
		return true
	}
	var buf [64]byte
	compact := buf[:0]
	for _, c := range folded {
		if c != ' ' {
			compact = append(compact, c)
		}
	}
	return isRoleWord(compact)
}

// isRoleWord reports whether w is a role word of isRoleLocal.
func isRoleWord(w []byte) bool {
	switch string(w) {
	case "abuse", "accueil", "admin", "administrateur", "administration", "administratif",
		"bonjour", "bureau", "comptabilite", "compta", "contact", "contacts", "courrier",
		"direction", "donotreply", "ecole", "equipe", "facturation", "hello", "helpdesk",
		"hostmaster", "info", "infos", "information", "informations", "inscription",
		"inscriptions", "mailer", "mairie", "noreply", "nepasrepondre", "office",
		"postmaster", "reception", "rh", "root", "sales", "scolarite", "secretariat",
		"secretariats", "service", "support", "team", "test", "webmaster":
		return true
	}
	return false
}

// nationalIDValue returns the stored form of an identifier: trimmed and
// upper-cased.
func nationalIDValue(v string) string {
	return strings.ToUpper(strings.TrimSpace(v))
}

// DuplicateThreshold is the score at or above which a pair of accounts is
// suggested as a duplicate.
const DuplicateThreshold = 0.6

// DefaultMaxBlock is the largest block Pairs expands by default, and the
// largest block the incremental check should compare an account with.
const DefaultMaxBlock = 50

// Match is one piece of evidence in a Score: the field compared and the
// values that matched (or conflicted), for a person to read. See ScorePair
// for the fields.
type Match struct {
	Field  string
	Detail string
}

// Conflict reports whether the match is evidence against a duplicate (its
// field ends in "_conflict").
func (m Match) Conflict() bool { return strings.HasSuffix(m.Field, "_conflict") }

// Match fields that are not attribute names. National identifiers match
// under their attribute name ("ine", "supann_ref_id", ...) and conflict under
// that name plus MatchConflictSuffix ("ine_conflict").
const (
	MatchFamilyName        = "family_name"
	MatchGivenName         = "given_name"
	MatchGivenNameCompat   = "given_name_compatible"
	MatchGivenNameConflict = "given_name_conflict"
	MatchBirthDate         = "birth_date"
	MatchBirthDateConflict = "birth_date_conflict"
	MatchEmail             = "email"
	MatchEmailLocal        = "email_local"
	MatchConflictSuffix    = "_conflict"
)

// Score is how likely two accounts belong to one person, in [0, 1], with the
// matches that explain it, in the order ScorePair weighs them.
type Score struct {
	Value   float64
	Matches []Match
}

// Suggest reports whether a score is high enough to list the pair as a
// duplicate: at least DuplicateThreshold.
func Suggest(score Score) bool { return score.Value >= DuplicateThreshold }

// Weights of ScorePair, in hundredths, so that scores add up exactly.
const (
	weightNationalID    = 95  // floor when a national identifier matches
	capNationalConflict = 30  // ceiling when one differs
	weightFamilyName    = 35  // folded family names equal
	weightGivenName     = 20  // folded given names equal
	weightGivenCompat   = 10  // an initial or the first words of the other
	weightGivenConflict = -20 // both set and neither of the above
	weightBirthDate     = 30  // birth dates equal
	weightBirthConflict = -30 // both set and different
	weightEmailLocal    = 25  // a shared verified local part, not just the names
	weightEmail         = 50  // the same address
	scoreMax            = 100
)

// ScorePair scores how likely a and b are one person, and says why. The
// score is symmetric, and adds, in hundredths:
//
//   - national identifiers (ine, supann_ref_id, supann_etu_id,
//     supann_emp_id): a value held by both sides makes the score at least
//     0.95 by itself (Match "ine", or the attribute's name). When both sides
//     hold an ine, or a supann_ref_id under the same "{LABEL}" prefix, and
//     none of them is shared, the score is capped at 0.3 (Match
//     "ine_conflict"): two national student numbers mean two people.
//     supann_etu_id and supann_emp_id only ever match, since each
//     institution numbers its own students and staff;
//   - family names equal once folded, spaces removed: +0.35
//     ("family_name");
//   - given names equal once folded: +0.2 ("given_name"); or one being
//     initials ("J.", "J.-P.") or the first words of the other ("Jean" and
//     "Jean-Pierre"): +0.1 ("given_name_compatible"); or, both being set,
//     neither: −0.2 ("given_name_conflict"), so that twins, and people who
//     share a family name and a birthday (0.65 together), are not
//     suggested;
//   - birth dates equal: +0.3 ("birth_date"); both set and different: −0.3
//     ("birth_date_conflict");
//   - the same address on both sides, verified on at least one: +0.5
//     ("email");
//   - otherwise the same local part (without "+tag", folded, not a role
//     address, see BlockingKeys) on two verified addresses: +0.25
//     ("email_local"), unless it is made of the names only, digits aside
//     ("camille.martin", "c.martin2", "martin.camille"): every Camille
//     Martin may own camille.martin or camille.martin2 at some provider, so
//     it tells nothing the names do not.
//
// The sum is then bounded to [0, 1]. Matches list the evidence in that
// order, conflicts included; for a name matched despite a different spelling
// the Detail shows both spellings, "Franck / FRANCK".
func ScorePair(a, b Candidate) Score {
	var (
		points  int
		matches []Match
	)
	add := func(w int, field, detail string) {
		points += w
		if matches == nil {
			matches = make([]Match, 0, 4)
		}
		matches = append(matches, Match{Field: field, Detail: detail})
	}

	idMatch, idConflict := false, false
	if len(a.Account.Attributes) > 0 && len(b.Account.Attributes) > 0 {
		for _, attr := range nationalIDAttributes() {
			av, bv := nationalIDs(a.Account, attr), nationalIDs(b.Account, attr)
			if len(av) == 0 || len(bv) == 0 {
				continue
			}
			shared := false
			for _, v := range av {
				if slices.Contains(bv, v) {
					add(0, attr, v)
					shared = true
				}
			}
			if shared {
				idMatch = true
				continue
			}
			if nationalIDsConflict(attr, av, bv) {
				idConflict = true
				add(0, attr+MatchConflictSuffix, strings.Join(av, ", ")+" / "+strings.Join(bv, ", "))
			}
		}
	}

	var abuf, bbuf [128]byte
	af, bf := appendFold(abuf[:0], a.Account.FamilyName, false), appendFold(bbuf[:0], b.Account.FamilyName, false)
	if len(af) > 0 && bytes.Equal(af, bf) {
		add(weightFamilyName, MatchFamilyName, spellings(a.Account.FamilyName, b.Account.FamilyName))
	}

	ag, bg := appendFold(abuf[:0], a.Account.GivenName, true), appendFold(bbuf[:0], b.Account.GivenName, true)
	switch {
	case len(ag) == 0 || len(bg) == 0:
	case equalWithoutSpaces(ag, bg):
		add(weightGivenName, MatchGivenName, spellings(a.Account.GivenName, b.Account.GivenName))
	case givenNamesCompatible(ag, bg):
		add(weightGivenCompat, MatchGivenNameCompat, spellings(a.Account.GivenName, b.Account.GivenName))
	default:
		add(weightGivenConflict, MatchGivenNameConflict, spellings(a.Account.GivenName, b.Account.GivenName))
	}

	ab, bb := strings.TrimSpace(a.Account.BirthDate), strings.TrimSpace(b.Account.BirthDate)
	switch {
	case ab == "" || bb == "":
	case ab == bb:
		add(weightBirthDate, MatchBirthDate, ab)
	default:
		add(weightBirthConflict, MatchBirthDateConflict, ab+" / "+bb)
	}

	if addr, ok := sharedAddress(a.Emails, b.Emails); ok {
		add(weightEmail, MatchEmail, addr)
	} else if local, ok := sharedVerifiedLocal(a, b); ok {
		add(weightEmailLocal, MatchEmailLocal, local)
	}

	if idMatch {
		points = max(points+weightNationalID, weightNationalID)
	}
	if idConflict {
		points = min(points, capNationalConflict)
	}
	points = min(max(points, 0), scoreMax)
	return Score{Value: float64(points) / scoreMax, Matches: matches}
}

// nationalIDs returns the distinct identifiers of an account under attr, in
// their stored form, sorted.
func nationalIDs(a Account, attr string) []string {
	raw := a.Attributes[attr]
	if len(raw) == 0 {
		return nil
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		if v = nationalIDValue(v); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nationalIDsConflict reports whether two disjoint sets of identifiers under
// attr prove two different people: always for ine, for supann_ref_id when
// two values carry the same "{LABEL}" prefix, never for the
// institution-scoped supann_etu_id and supann_emp_id.
func nationalIDsConflict(attr string, av, bv []string) bool {
	switch attr {
	case FieldINE:
		return true
	case attrSupannRefID:
		for _, x := range av {
			for _, y := range bv {
				if refIDLabel(x) == refIDLabel(y) {
					return true
				}
			}
		}
	}
	return false
}

// refIDLabel returns the "{LABEL}" prefix of a supannRefId value, or "".
func refIDLabel(v string) string {
	if strings.HasPrefix(v, "{") {
		if end := strings.IndexByte(v, '}'); end > 0 {
			return v[:end+1]
		}
	}
	return ""
}

// spellings returns the trimmed value of a, or "a / b" when b is spelled
// differently.
func spellings(a, b string) string {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == b {
		return a
	}
	return a + " / " + b
}

// equalWithoutSpaces reports whether a and b are equal once their spaces
// are removed.
func equalWithoutSpaces(a, b []byte) bool {
	i, j := 0, 0
	for {
		for i < len(a) && a[i] == ' ' {
			i++
		}
		for j < len(b) && b[j] == ' ' {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if a[i] != b[j] {
			return false
		}
		i++
		j++
	}
}

// givenNamesCompatible reports whether two folded, different given names
// may name the same person: one is made of initials of the other's first
// words ("j p" and "jean pierre"), or its words are the first words of the
// other ("jean" and "jean pierre").
func givenNamesCompatible(a, b []byte) bool {
	var abuf, bbuf [8]span
	aw, bw := wordSpans(a, abuf[:0]), wordSpans(b, bbuf[:0])
	return shortFormOf(a, aw, b, bw) || shortFormOf(b, bw, a, aw)
}

// shortFormOf reports whether the words of a given name, short, are the
// initials or the first words of the words of long.
func shortFormOf(short []byte, shortWords []span, long []byte, longWords []span) bool {
	if len(shortWords) == 0 || len(shortWords) > len(longWords) {
		return false
	}
	initials, prefix := true, true
	for i, sw := range shortWords {
		w, l := sw.of(short), longWords[i].of(long)
		if utf8.RuneCount(w) != 1 || !bytes.HasPrefix(l, w) {
			initials = false
		}
		if !bytes.Equal(w, l) {
			prefix = false
		}
	}
	return initials || prefix
}

// sharedAddress returns an address present on both sides and verified on at
// least one, the smallest if several.
func sharedAddress(a, b []Email) (string, bool) {
	found, best := false, ""
	for _, x := range a {
		if strings.TrimSpace(x.Address) == "" {
			continue
		}
		for _, y := range b {
			if !(x.Verified || y.Verified) || !sameAddress(x.Address, y.Address) {
				continue
			}
			if addr := NormalizeEmail(x.Address); !found || addr < best {
				found, best = true, addr
			}
		}
	}
	return best, found
}

// sameAddress reports whether two addresses are equal once normalised (see
// NormalizeEmail), without allocating for ASCII ones.
func sameAddress(x, y string) bool {
	if x == y {
		return true
	}
	x, y = strings.TrimSpace(x), strings.TrimSpace(y)
	if isASCII(x) && isASCII(y) {
		return strings.EqualFold(x, y)
	}
	return NormalizeEmail(x) == NormalizeEmail(y)
}

// sharedVerifiedLocal returns the local part (as written on a's side,
// without its "+tag") of two verified addresses whose email_local keys are
// equal and not made of the names of a or b only, the smallest if several.
func sharedVerifiedLocal(a, b Candidate) (string, bool) {
	found, best := false, ""
	var xbuf, ybuf [128]byte
	for _, x := range a.Emails {
		if !x.Verified {
			continue
		}
		xk, ok := appendEmailLocalKey(xbuf[:0], x.Address)
		if !ok {
			continue
		}
		for _, y := range b.Emails {
			if !y.Verified {
				continue
			}
			if yk, ok := appendEmailLocalKey(ybuf[:0], y.Address); !ok || !bytes.Equal(xk, yk) {
				continue
			}
			compact := strings.ReplaceAll(string(xk), " ", "")
			if namesOnly(compact, a.Account) || namesOnly(compact, b.Account) {
				continue
			}
			local, _ := emailLocal(x.Address)
			if !found || local < best {
				found, best = true, local
			}
		}
	}
	return best, found
}

// namesOnly reports whether a folded local part without spaces is made of
// the names of acc only, perhaps followed by digits: the family name or the
// given name alone, or one after the other, the given name whole, by its
// first word, or by initials ("camillemartin", "cmartin2", "martinc",
// "jpmartin"). Providers number a taken address (camille.martin2), so
// namesakes end up with the same local part at different providers.
func namesOnly(local string, acc Account) bool {
	local = strings.TrimRight(local, "0123456789")
	if local == "" {
		return false
	}
	family := foldCompact(acc.FamilyName)
	words := strings.Fields(Fold(acc.GivenName))
	var whole, first, initial, initials string
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		if i == 0 {
			first, initial = w, string(r)
		}
		whole += w
		initials += string(r)
	}
	for _, given := range []string{whole, first, initial, initials} {
		switch {
		case given == "":
		case local == given, local == given+family, local == family+given:
			return true
		}
	}
	return family != "" && local == family
}

// PairKey returns the key of an unordered pair of account ids, "a|b" with
// the smaller id first: the key under which a "not a duplicate" decision is
// remembered.
func PairKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "|" + b
}

// Pairs expands blocks (blocking key → ids of the accounts holding it, e.g.
// from a GROUP BY over the stored keys) into the candidate pairs to score:
// every two distinct accounts of a block, each pair once whatever the number
// of keys it shares, with the smaller id first, sorted.
//
// Blocks of more than maxBlock distinct accounts are skipped: a key held by
// that many accounts (full_name "camille martin", name_birth
// "martin|2000-01-01" in a large population, a common e-mail local part) is
// too common to tell anything, and expanding it would cost n²/2 scores.
// Pairs in such a block still meet through their other keys. A maxBlock of
// zero or less means DefaultMaxBlock.
//
// Blocks of one account give no pair: the caller may leave them out, and
// the oversized ones, when it reads the blocks (HAVING count(*) BETWEEN 2
// AND maxBlock), and so hold only the blocks that matter in memory.
func Pairs(blocks map[string][]string, maxBlock int) [][2]string {
	if maxBlock <= 0 {
		maxBlock = DefaultMaxBlock
	}
	// The pairs, counted to allocate once; blocks with repeated ids give
	// fewer, oversized ones with repeated ids a few more.
	capacity := 0
	for _, block := range blocks {
		if n := len(block); n >= 2 && n <= maxBlock {
			capacity += n * (n - 1) / 2
		}
	}
	pairs := make([][2]string, 0, capacity)
	var ids []string
	for _, block := range blocks {
		if len(block) < 2 {
			continue
		}
		ids = append(ids[:0], block...)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if len(ids) < 2 || len(ids) > maxBlock {
			continue
		}
		for i, x := range ids {
			for _, y := range ids[i+1:] {
				pairs = append(pairs, [2]string{x, y})
			}
		}
	}
	slices.SortFunc(pairs, func(p, q [2]string) int {
		if c := strings.Compare(p[0], q[0]); c != 0 {
			return c
		}
		return strings.Compare(p[1], q[1])
	})
	return slices.Compact(pairs)
}
