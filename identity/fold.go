package identity

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fold returns the form of a name (or of an e-mail local part) under which
// spellings of the same name compare equal, for duplicate detection:
//
//   - compatibility decomposition (NFKD), so that "é" becomes "e" plus a
//     combining accent, ligatures such as "ﬁ" become "fi" and full-width
//     letters become ASCII;
//   - combining marks (Unicode category Mn) and invisible format characters
//     (Cf, e.g. the soft hyphen) are dropped, as are control characters;
//   - letters are lower-cased, and the letters that NFKD does not decompose
//     are spelled out: ß → ss, œ → oe, æ → ae, ø → o, ł → l, đ and ð → d,
//     þ → th, ı → i;
//   - hyphens and dashes, apostrophes (' ’ ‘ ʼ `), underscores, dots, any
//     other punctuation and any white space become a single space;
//   - leading and trailing spaces are trimmed.
//
// Digits and symbols (such as "+") are kept. For example
// Fold("Élodie-Marie  D'ARC") is "elodie marie d arc", and the NFC and NFD
// spellings of a name fold alike.
func Fold(s string) string {
	var buf [64]byte
	return string(appendFold(buf[:0], s, true))
}

// appendFold appends Fold(s) to dst; without spaces, it drops the spaces
// between words too ("le goff" becomes "legoff"). It allocates only when dst
// is too small.
func appendFold(dst []byte, s string, spaces bool) []byte {
	f := folder{start: len(dst), spaces: spaces}
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			dst = f.add(dst, rune(s[i]))
		}
		return dst
	}
	for i := 0; i < len(s); {
		// The decomposition tables give each rune's full NFKD
		// decomposition without allocating, unlike norm.NFKD.String. The
		// canonical reordering NFKD would add only moves combining marks,
		// which Fold drops.
		p := norm.NFKD.PropertiesString(s[i:])
		size := max(p.Size(), 1)
		if d := p.Decomposition(); d != nil {
			for _, r := range string(d) {
				dst = f.add(dst, r)
			}
		} else if r, n := utf8.DecodeRuneInString(s[i:]); isHangulSyllable(r) {
			dst = f.addHangul(dst, r)
			size = n
		} else {
			dst = f.add(dst, r)
			size = n
		}
		i += size
	}
	return dst
}

// folder is the state of appendFold between runes. It holds no pointer, so
// that the buffer appendFold appends to can stay on its caller's stack.
type folder struct {
	start        int  // len(dst) before the first rune
	spaces       bool // keep one space between words
	pendingSpace bool
}

// add appends to dst the fold of r, a rune of the NFKD form.
func (f *folder) add(dst []byte, r rune) []byte {
	switch {
	case isFoldSeparator(r):
		f.pendingSpace = f.spaces && len(dst) > f.start
		return dst
	case r < utf8.RuneSelf:
		if r < 0x20 || r == 0x7f {
			return dst // control
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
	case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Cf, r), unicode.IsControl(r):
		return dst
	default:
		r = unicode.ToLower(r)
	}
	if f.pendingSpace {
		dst = append(dst, ' ')
		f.pendingSpace = false
	}
	if rep := foldLetter(r); rep != "" {
		return append(dst, rep...)
	}
	return utf8.AppendRune(dst, r)
}

// Hangul syllables decompose by arithmetic (Unicode, section 3.12), not by
// table.
const (
	hangulBase   = 0xac00
	hangulCount  = 11172
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11a7
	hangulTCount = 28
	hangulNCount = 588
)

// isHangulSyllable reports whether r is a precomposed Hangul syllable.
func isHangulSyllable(r rune) bool { return hangulBase <= r && r < hangulBase+hangulCount }

// addHangul appends to dst the jamo of a Hangul syllable.
func (f *folder) addHangul(dst []byte, r rune) []byte {
	i := r - hangulBase
	dst = f.add(dst, hangulLBase+i/hangulNCount)
	dst = f.add(dst, hangulVBase+i%hangulNCount/hangulTCount)
	if t := i % hangulTCount; t != 0 {
		dst = f.add(dst, hangulTBase+t)
	}
	return dst
}

// isASCII reports whether s is plain ASCII, which needs no normalisation.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isFoldSeparator reports whether Fold turns r into a space.
func isFoldSeparator(r rune) bool {
	if r < utf8.RuneSelf {
		switch r {
		case ' ', '\t', '\n', '\v', '\f', '\r',
			'-', '\'', '`', '_', '.', ',', ';', ':', '!', '?', '"', '(', ')', '[', ']', '{', '}', '/', '\\', '&', '*', '#', '%', '@':
			return true
		}
		return false
	}
	switch r {
	case '’', '‘', 'ʼ', 'ʻ', '´', '′':
		return true
	}
	return unicode.IsSpace(r) || unicode.IsPunct(r)
}

// foldLetter spells out, in lower case, the letters that NFKD leaves whole;
// it returns "" for every other rune.
func foldLetter(r rune) string {
	if r < 0xdf {
		return ""
	}
	switch r {
	case 'ß':
		return "ss"
	case 'œ':
		return "oe"
	case 'æ':
		return "ae"
	case 'ø':
		return "o"
	case 'ł':
		return "l"
	case 'đ', 'ð':
		return "d"
	case 'þ':
		return "th"
	case 'ı':
		return "i"
	}
	return ""
}

// foldCompact is Fold without the spaces: "Le Goff", "LE-GOFF" and "Legoff"
// all give "legoff".
func foldCompact(s string) string {
	var buf [64]byte
	return string(appendFold(buf[:0], s, false))
}
