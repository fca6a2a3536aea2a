package identity

import (
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestFold(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"spaces only", "  \t ", ""},
		{"ascii upper", "MARTIN", "martin"},
		{"mixed case", "Camille MARTIN", "camille martin"},
		{"brief example", "Élodie-Marie  D'ARC", "elodie marie d arc"},
		{"nfc accents", "H\u00e9l\u00e8ne", "helene"},
		{"nfd accents", "He\u0301le\u0300ne", "helene"},
		{"cedilla", "François", "francois"},
		{"diaeresis", "Maëlle Noël", "maelle noel"},
		{"upper accents", "ÉMILE ZOLA", "emile zola"},
		{"eszett", "Strauß", "strauss"},
		{"capital eszett", "STRAU\u1e9e", "strauss"},
		{"oe ligature", "Lœtitia Œuvrard", "loetitia oeuvrard"},
		{"ae ligature", "Lætitia CÆSAR", "laetitia caesar"},
		{"o stroke", "Søren Ø", "soren o"},
		{"l stroke", "Łukasz Wałęsa", "lukasz walesa"},
		{"fi ligature", "ﬁlion", "filion"},
		{"full width", "ＭＡＲＴＩＮ", "martin"},
		{"hyphens", "Jean-Pierre", "jean pierre"},
		{"non-breaking hyphen", "Jean\u2011Pierre", "jean pierre"},
		{"en dash", "Jean – Pierre", "jean pierre"},
		{"apostrophe", "D'Arc", "d arc"},
		{"typographic apostrophe", "D’Arc", "d arc"},
		{"underscore and dots", "cam.martin_97", "cam martin 97"},
		{"double spaces", "Le   Goff", "le goff"},
		{"leading trailing", "  -Le Goff.  ", "le goff"},
		{"tabs and newlines", "Le\tGoff\n", "le goff"},
		{"no-break space", "Le\u00a0Goff", "le goff"},
		{"soft hyphen dropped", "Jean\u00adPierre", "jeanpierre"},
		{"control dropped", "Ma\x00rtin", "martin"},
		{"digits kept", "cam.martin97", "cam martin97"},
		{"plus kept", "a+b", "a+b"},
		{"comma", "MARTIN, Camille", "martin camille"},
		{"turkish dotted I", "İlker", "ilker"},
		{"dotless i", "Yıldız", "yildiz"},
		{"thorn and eth", "Þórður", "thordur"},
		{"d stroke", "Đorđe", "dorde"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fold(tt.in); got != tt.want {
				t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := Fold(Fold(tt.in)); got != tt.want {
				t.Errorf("Fold is not idempotent on %q: %q", tt.in, got)
			}
		})
	}
}

func TestFoldCompact(t *testing.T) {
	for _, in := range []string{"Le Goff", "LE-GOFF", "Legoff", "le_goff", "Le’Goff"} {
		if got := foldCompact(in); got != "legoff" {
			t.Errorf("foldCompact(%q) = %q, want %q", in, got, "legoff")
		}
	}
}

// foldReference is Fold by the book: norm.NFKD.String, then the per-rune
// rules.
func foldReference(s string) string {
	f := folder{spaces: true}
	var dst []byte
	for _, r := range norm.NFKD.String(s) {
		dst = f.add(dst, r)
	}
	return string(dst)
}

// TestFoldMatchesNFKD checks, for every code point, that the table-driven
// decomposition of Fold gives what norm.NFKD.String would.
func TestFoldMatchesNFKD(t *testing.T) {
	failures := 0
	for r := rune(0); r <= utf8.MaxRune && failures < 10; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := "a" + string(r) + "b"
		if got, want := Fold(s), foldReference(s); got != want {
			t.Errorf("Fold(%q) = %q, NFKD gives %q", s, got, want)
			failures++
		}
	}
	for _, s := range []string{
		"Léà̧", "ẛ̣", "한국어 이름", "ﾊﾝｶｸ", "㍿ ㈱", "Ǆemal Ǉubić", "x́ͅy",
	} {
		if got, want := Fold(s), foldReference(s); got != want {
			t.Errorf("Fold(%q) = %q, NFKD gives %q", s, got, want)
		}
	}
}

func TestFoldAllocations(t *testing.T) {
	var buf [64]byte
	for _, s := range []string{"Camille MARTIN", "Élodie-Marie  D'ARC", "Łukasz Strauß"} {
		if n := testing.AllocsPerRun(100, func() { appendFold(buf[:0], s, true) }); n != 0 {
			t.Errorf("appendFold(%q) allocates %v times", s, n)
		}
	}
}
