package authn_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/canonid/canonid/authn"
)

// phc builds a PHC string the way another argon2id implementation would.
func phc(pw string, m, t uint32, p uint8, salt []byte, keyLen uint32) string {
	key := argon2.IDKey([]byte(pw), salt, t, m, p, keyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestHashAndCheck(t *testing.T) {
	const pw = "correct horse battery staple"
	h, err := authn.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	// 16-byte salt: 22 base64 characters; 32-byte key: 43.
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Fatalf("hash %q is not the expected PHC string", h)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{pw, true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{pw + " ", false},
		{"", false},
	} {
		ok, err := authn.CheckPassword(h, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	if authn.NeedsRehash(h) {
		t.Error("a new hash needs a rehash")
	}
	h2, err := authn.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

// TestCheckOtherParameters checks hashes made elsewhere with other valid
// parameters: they are checked with their own parameters.
func TestCheckOtherParameters(t *testing.T) {
	for _, h := range []string{
		phc("s3cret-pass-phrase", 4096, 3, 2, []byte("8-bytes!"), 16),
		phc("s3cret-pass-phrase", 1024, 1, 1, []byte("a salt of twenty-four b."), 32),
		phc("s3cret-pass-phrase", 64, 1, 8, []byte("a salt of some length"), 64),
	} {
		ok, err := authn.CheckPassword(h, "s3cret-pass-phrase")
		if err != nil || !ok {
			t.Errorf("CheckPassword(%s) = %v, %v", h, ok, err)
		}
		if ok, err := authn.CheckPassword(h, "s3cret-pass-phrasE"); err != nil || ok {
			t.Errorf("CheckPassword(%s, wrong) = %v, %v", h, ok, err)
		}
	}
}

// shaped returns a well-formed PHC string with these parameters and a
// zero salt and key: enough for what only parses.
func shaped(m, t, p, saltLen, keyLen int) string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(make([]byte, saltLen)), base64.RawStdEncoding.EncodeToString(make([]byte, keyLen)))
}

func TestNeedsRehash(t *testing.T) {
	for _, tc := range []struct {
		name string
		phc  string
		want bool
	}{
		{"current", shaped(19456, 2, 1, 16, 32), false},
		{"more lanes, same work", shaped(19456, 2, 4, 16, 32), false},
		{"stronger", shaped(65536, 3, 1, 16, 32), false},
		{"OWASP m=46MiB t=1", shaped(47104, 1, 1, 16, 32), false},
		{"less memory", shaped(12288, 3, 1, 16, 32), true},
		{"fewer passes", shaped(19456, 1, 1, 16, 32), true},
		{"short key", shaped(19456, 2, 1, 16, 16), true},
		{"short salt", shaped(19456, 2, 1, 8, 32), true},
		{"malformed", "$argon2id$v=19$m=19456,t=2,p=1$bad", true},
		{"empty", "", true},
	} {
		if got := authn.NeedsRehash(tc.phc); got != tc.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCheckMalformed feeds CheckPassword broken and hostile strings: each is
// refused with ErrMalformedHash before any costly work (a hostile memory or
// time parameter would make this test run out of memory or time).
func TestCheckMalformed(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("sixteen-byte-slt"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	for _, tc := range []struct {
		name, phc, reason string
	}{
		{"empty", "", "want $argon2id"},
		{"plain text", "hunter2", "want $argon2id"},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "want $argon2id"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, `algorithm "argon2i"`},
		{"old version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, `version "v=16"`},
		{"no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, "want $argon2id"},
		{"extra field", with("m=19456,t=2,p=1") + "$x", "want $argon2id"},
		{"leading text", "x" + with("m=19456,t=2,p=1"), "want $argon2id"},
		{"parameters out of order", with("t=2,m=19456,p=1"), "in that order"},
		{"missing parameter", with("m=19456,t=2"), "want m=…,t=…,p=…"},
		{"extra parameter", with("m=19456,t=2,p=1,keyid=x"), "want m=…,t=…,p=…"},
		{"not a number", with("m=lots,t=2,p=1"), `m="lots"`},
		{"negative", with("m=19456,t=-2,p=1"), `t="-2"`},
		{"overflow", with("m=4294967296,t=2,p=1"), "below 2^32"},
		{"zero passes", with("m=19456,t=0,p=1"), "t=0"},
		{"zero lanes", with("m=19456,t=2,p=0"), "p=0"},
		{"too little memory for the lanes", with("m=16,t=1,p=4"), "m=16 KiB"},
		{"hostile memory 4 TiB", with("m=4294967295,t=1,p=1"), "m=4294967295 KiB"},
		{"hostile memory 1 GiB", with("m=1048576,t=1,p=1"), "m=1048576 KiB"},
		{"hostile passes", with("m=19456,t=4294967295,p=1"), "t=4294967295"},
		{"hostile lanes", with("m=65536,t=1,p=255"), "p=255"},
		{"salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$***$" + key, "salt is not"},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, "salt is not"},
		{"salt too short", "$argon2id$v=19$m=19456,t=2,p=1$" + base64.RawStdEncoding.EncodeToString([]byte("1234567")) + "$" + key, "salt of 7 bytes"},
		{"key too short", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 8)), "key of 8 bytes"},
		{"key too long", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 65)), "key of 65 bytes"},
		{"huge string", with("m=19456,t=2,p=1") + strings.Repeat("A", 1<<20), "characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := authn.CheckPassword(tc.phc, "whatever password")
			if ok || !errors.Is(err, authn.ErrMalformedHash) {
				t.Fatalf("CheckPassword = %v, %v; want ErrMalformedHash", ok, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
		})
	}
}

func TestCheckPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		rule authn.PolicyRule // "" when accepted
	}{
		{"correct horse battery staple", ""},
		{"abcdefghijkm", ""},                     // 12 characters
		{"abcdefghijkl", authn.RuleCommon},       // a keyboard-order sequence
		{"Azerty2026!!", authn.RuleCommon},       // a listed word with digits and symbols
		{"Mot de passe 12", authn.RuleCommon},    // spaces and case do not help
		{"MOTDEPASSE-2026", authn.RuleCommon},    //
		{"123456789012", authn.RuleCommon},       // no letters
		{"1234567890a!", authn.RuleCommon},       // one letter
		{"Soleil de Marseille 13", ""},           // several words
		{"éléphantsàé", authn.RuleTooShort},      // 11 characters, 16 bytes
		{"éléphantsàéé", ""},                     // 12 characters, counted in runes
		{"短いパスワードですけれども", ""},                    // 13 characters, 39 bytes
		{"abcdefghijk", authn.RuleTooShort},      // 11
		{"", authn.RuleTooShort},                 //
		{"aaaaaaaaaaaaaaaa", authn.RuleRepeated}, //
		{"éééééééééééé", authn.RuleRepeated},     //
		{"            ", authn.RuleRepeated},     // 12 spaces
		{"aaaaaaaaaaaaaaab", ""},                 //
		{strings.Repeat("ab", 128), ""},          // 256 bytes
		{strings.Repeat("ab", 128) + "c", authn.RuleTooLong},
		{strings.Repeat("é", 129), authn.RuleTooLong}, // 129 characters, 258 bytes
		{"valid prefix \xff\xfe then", authn.RuleInvalidText},
	} {
		err := authn.CheckPolicy(tc.pw)
		if tc.rule == "" {
			if err != nil {
				t.Errorf("CheckPolicy(%q) = %v, want nil", tc.pw, err)
			}
			continue
		}
		var pe *authn.PolicyError
		if !errors.As(err, &pe) || pe.Rule != tc.rule || !errors.Is(err, authn.ErrPolicy) {
			t.Errorf("CheckPolicy(%q) = %v, want rule %s", tc.pw, err, tc.rule)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "the password ") {
			t.Errorf("message %q is not fit for a user", msg)
		}
	}
}

// TestPolicy: a deployment's length and kinds of characters come on top of
// the fixed rules.
func TestPolicy(t *testing.T) {
	p := authn.Policy{MinLength: 14, MinClasses: 3}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pw   string
		rule authn.PolicyRule
		need int
	}{
		{"Soleil de Marseille 13", "", 0},             // lower, upper, digit, space: 4
		{"soleil de marseille", authn.RuleClasses, 3}, // lower and spaces: 2
		{"Short Pass 1", authn.RuleTooShort, 14},
		{"Mot-De-Passe-2026", authn.RuleCommon, 0},
	} {
		err := p.Check(c.pw)
		var pe *authn.PolicyError
		switch {
		case c.rule == "" && err != nil:
			t.Errorf("%q: %v", c.pw, err)
		case c.rule != "" && (!errors.As(err, &pe) || pe.Rule != c.rule || pe.Need != c.need):
			t.Errorf("%q: %v, want rule %s need %d", c.pw, err, c.rule, c.need)
		}
	}
	for _, bad := range []authn.Policy{{MinLength: 8}, {MinClasses: 5}, {MinClasses: -1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validates", bad)
		}
	}
}
