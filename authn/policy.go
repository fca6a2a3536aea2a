package authn

import (
	"errors"
	"fmt"
	"unicode/utf8"
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
	}
	return "the password is refused: " + string(e.Rule)
}

// Is makes errors.Is(err, ErrPolicy) hold.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicy }

// CheckPolicy checks a new password: valid UTF-8, at most MaxPasswordBytes
// bytes, at least MinPasswordChars characters, not one character repeated.
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
	}
	return nil
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
