package mergekey

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// A merge key is 20 characters of Crockford's base32 (100 random bits),
// shown in groups of 4 separated by dashes: "7K3M-Q9TD-2WXA-HB4E-0RPZ". It
// is typed by hand, so input is forgiving: case, dashes and spaces do not
// matter, and the letters Crockford reads as digits (O as 0, I and L as 1)
// are read so. Only the SHA-256 of the normalised 20 characters is stored.
const (
	// alphabet is Crockford's base32: no I, L, O or U.
	alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	// keyChars is the length of a key without its dashes.
	keyChars = 20
	// groupSize is how many characters a group shows.
	groupSize = 4
	// maxKeyInput bounds what normaliseKey reads: a pasted key with
	// generous whitespace fits, a megabyte does not.
	maxKeyInput = 128
)

// newKey returns a fresh key, normalised (no dashes). crypto/rand.Read never
// fails (it crashes the program when the system has no randomness).
func newKey() string {
	var b [keyChars]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		// 256 is a multiple of 32: each character is uniform, 5 bits.
		b[i] = alphabet[b[i]&31]
	}
	return string(b[:])
}

// formatKey shows a normalised key in groups: XXXX-XXXX-XXXX-XXXX-XXXX.
func formatKey(k string) string {
	var sb strings.Builder
	for i := 0; i < len(k); i += groupSize {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(k[i:min(i+groupSize, len(k))])
	}
	return sb.String()
}

// normaliseKey reads a key as typed or pasted: it drops spaces, tabs,
// line breaks and dashes, upper-cases, reads O as 0 and I, L as 1. It
// reports false when what remains is not 20 base32 characters.
func normaliseKey(s string) (string, bool) {
	if len(s) > maxKeyInput {
		return "", false
	}
	out := make([]byte, 0, keyChars)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(alphabet, c) < 0 {
			return "", false
		}
		out = append(out, c)
	}
	if len(out) != keyChars {
		return "", false
	}
	return string(out), true
}

// keyHash is what the store keeps of a normalised key.
func keyHash(k string) []byte {
	sum := sha256.Sum256([]byte(k))
	return sum[:]
}
