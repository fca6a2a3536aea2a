package authn

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/canonid/canonid/identity"
)

// Password policy bounds, for forms (minlength) and messages.
const (
	// MinPasswordChars is the least number of characters (Unicode code
	// points, so "é" counts once) of a new password.
	MinPasswordChars = 12
	// MaxPasswordBytes bounds a new password in bytes of UTF-8.
	MaxPasswordBytes = 256
)

// ErrPolicy is matched (errors.Is) by every *PolicyError.
var ErrPolicy = errors.New("password refused by the policy")

// PolicyRule names the rule a refused password breaks, for pages that show
// their own (translated) message.
type PolicyRule string

// Policy rules.
const (
	RuleInvalidText PolicyRule = "invalid_text" // not valid UTF-8
	RuleTooLong     PolicyRule = "too_long"     // more than MaxPasswordBytes bytes
	RuleTooShort    PolicyRule = "too_short"    // fewer than MinPasswordChars characters
	RuleRepeated    PolicyRule = "repeated"     // one character repeated
	RuleCommon      PolicyRule = "common"       // a common password, give or take digits and symbols
	RuleClasses     PolicyRule = "classes"      // fewer kinds of characters than the policy asks
)

// PolicyError says why a new password is refused. Its message is meant for
// the person who chose the password.
type PolicyError struct {
	Rule PolicyRule
	// Need is the policy's bound the password missed: the least number
	// of characters (RuleTooShort) or of kinds of characters
	// (RuleClasses).
	Need int
}

func (e *PolicyError) Error() string {
	switch e.Rule {
	case RuleInvalidText:
		return "the password contains characters that cannot be read; type it again"
	case RuleTooLong:
		return fmt.Sprintf("the password is too long: at most %d bytes (fewer characters if it has accented letters or symbols)", MaxPasswordBytes)
	case RuleTooShort:
		return fmt.Sprintf("the password is too short: at least %d characters", max(e.Need, MinPasswordChars))
	case RuleClasses:
		return fmt.Sprintf("the password must mix at least %d kinds of characters among lower-case letters, capitals, digits and symbols", e.Need)
	case RuleRepeated:
		return "the password must not be a single character repeated"
	case RuleCommon:
		return "the password is too common (a usual word or keyboard sequence with digits or symbols added): choose several words of your own"
	}
	return "the password is refused: " + string(e.Rule)
}

// Is makes errors.Is(err, ErrPolicy) hold.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicy }

// Policy is a deployment's password policy, on top of the fixed rules:
// valid UTF-8, at most MaxPasswordBytes bytes, not one character repeated,
// not common.
type Policy struct {
	// MinLength is the least number of characters; at least
	// MinPasswordChars (the default).
	MinLength int `yaml:"min_length"`
	// MinClasses is how many kinds of characters (lower-case letters,
	// capitals, digits, symbols and spaces) a password must mix, 0 to 4.
	// Default 0: length beats composition (NIST SP 800-63B).
	MinClasses int `yaml:"min_classes"`
}

// Validate reports every problem of p at once, each prefixed with its key.
func (p Policy) Validate() error {
	var errs []error
	if p.MinLength != 0 && (p.MinLength < MinPasswordChars || p.MinLength > 128) {
		errs = append(errs, fmt.Errorf("min_length: must be between %d and 128, got %d", MinPasswordChars, p.MinLength))
	}
	if p.MinClasses < 0 || p.MinClasses > 4 {
		errs = append(errs, fmt.Errorf("min_classes: must be between 0 and 4, got %d", p.MinClasses))
	}
	return errors.Join(errs...)
}

// CheckPolicy checks a new password against the default policy: valid
// UTF-8, at most MaxPasswordBytes bytes, at least MinPasswordChars
// characters, not one character repeated, not common: its letters (folded,
// digits and symbols removed) are neither nothing nor a word of the bundled
// list (common.txt). It returns a *PolicyError for the first rule broken,
// in that order. Passwords are stored as typed (no trimming, no Unicode
// normalisation).
func CheckPolicy(pw string) error { return Policy{}.Check(pw) }

// Check checks a new password against p, as CheckPolicy does, with p's
// length and the kinds of characters it asks.
func (p Policy) Check(pw string) error {
	minLen := max(p.MinLength, MinPasswordChars)
	switch {
	case !utf8.ValidString(pw):
		return &PolicyError{Rule: RuleInvalidText}
	case len(pw) > MaxPasswordBytes:
		return &PolicyError{Rule: RuleTooLong}
	case utf8.RuneCountInString(pw) < minLen:
		return &PolicyError{Rule: RuleTooShort, Need: minLen}
	case repeated(pw):
		return &PolicyError{Rule: RuleRepeated}
	case common(pw):
		return &PolicyError{Rule: RuleCommon}
	case classes(pw) < p.MinClasses:
		return &PolicyError{Rule: RuleClasses, Need: p.MinClasses}
	}
	return nil
}

// classes counts the kinds of characters in pw: lower-case letters,
// capitals, digits, anything else.
func classes(pw string) int {
	var lower, upper, digit, other int
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			other = 1
		}
	}
	return lower + upper + digit + other
}

//go:embed common.txt
var commonText string

// commonWords is the bundled list, by word.
var commonWords = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonText, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}()

// common reports whether pw is digits and symbols only, or a listed word
// with digits and symbols added ("Azerty2026!", "mot de passe 12").
func common(pw string) bool {
	var b strings.Builder
	for _, r := range identity.Fold(pw) {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	letters := b.String()
	return letters == "" || commonWords[letters] || repeated(letters)
}

// repeated reports whether s is one character, repeated.
func repeated(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range s {
		if r != first {
			return false
		}
	}
	return true
}
