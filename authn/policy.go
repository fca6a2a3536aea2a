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
)

// PolicyError says why a new password is refused. Its message is meant for
// the person who chose the password.
type PolicyError struct {
	Rule PolicyRule
}

func (e *PolicyError) Error() string {
	switch e.Rule {
	case RuleInvalidText:
		return "the password contains characters that cannot be read; type it again"
	case RuleTooLong:
		return fmt.Sprintf("the password is too long: at most %d bytes (fewer characters if it has accented letters or symbols)", MaxPasswordBytes)
	case RuleTooShort:
		return fmt.Sprintf("the password is too short: at least %d characters", MinPasswordChars)
	case RuleRepeated:
		return "the password must not be a single character repeated"
	case RuleCommon:
		return "the password is too common (a usual word or keyboard sequence with digits or symbols added): choose several words of your own"
	}
	return "the password is refused: " + string(e.Rule)
}

// Is makes errors.Is(err, ErrPolicy) hold.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicy }

// CheckPolicy checks a new password: valid UTF-8, at most MaxPasswordBytes
// bytes, at least MinPasswordChars characters, not one character repeated,
// not common: its letters (folded, digits and symbols removed) are neither
// nothing nor a word of the bundled list (common.txt).
// It returns a *PolicyError for the first rule broken, in that order.
// Passwords are stored as typed (no trimming, no Unicode normalisation).
func CheckPolicy(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return &PolicyError{Rule: RuleInvalidText}
	case len(pw) > MaxPasswordBytes:
		return &PolicyError{Rule: RuleTooLong}
	case utf8.RuneCountInString(pw) < MinPasswordChars:
		return &PolicyError{Rule: RuleTooShort}
	case repeated(pw):
		return &PolicyError{Rule: RuleRepeated}
	case common(pw):
		return &PolicyError{Rule: RuleCommon}
	}
	return nil
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
